"""Small netCDF reference scenes and submissions for the scorer's tests (seeded, tiny)."""

from __future__ import annotations

from pathlib import Path

import netCDF4
import numpy as np

from kit.charts import CHARTS, MASK, N_CLASSES, PREP_SUFFIX, REFERENCE_SUFFIX, SAR_DIMS
from kit.charts import submission_variable as var_name

SCENES = ("20180124T194759_dmi", "20190430T101830_cis", "20210506T075557_dmi")
#: Training scenes of the "dtu_release" layout (never reference scenes there).
TRAINING_SCENES = ("20180326T184246_dmi", "20200424T101936_cis")


def random_charts(rng: np.random.Generator, shape=(12, 9), mask_share=0.2) -> dict[str, np.ndarray]:
    """Random valid charts (uint8 classes, about `mask_share` of pixels MASK)."""
    charts = {}
    for chart in CHARTS:
        values = rng.integers(0, N_CLASSES[chart], size=shape).astype(np.uint8)
        values[rng.random(shape) < mask_share] = MASK
        charts[chart] = values
    return charts


def noisy_prediction(rng: np.random.Generator, charts: dict[str, np.ndarray], flip=0.3):
    """A prediction equal to the reference except a `flip` share of random classes."""
    pred = {}
    for chart, ref in charts.items():
        values = np.where(ref == MASK, 0, ref).astype(np.uint8)
        flips = rng.random(ref.shape) < flip
        values[flips] = rng.integers(0, N_CLASSES[chart], size=int(flips.sum()))
        pred[chart] = values
    return pred


def write_scene(path: Path, charts: dict[str, np.ndarray], with_input: bool = True) -> Path:
    """A ready-to-train-like scene file: SIC/SOD/FLOE on (sar_lines, sar_samples)."""
    shape = next(iter(charts.values())).shape
    with netCDF4.Dataset(path, "w") as ds:
        for dim, size in zip(SAR_DIMS, shape, strict=True):
            ds.createDimension(dim, size)
        if with_input:
            sar = ds.createVariable("nersc_sar_primary", "f4", SAR_DIMS)
            sar[:] = np.zeros(shape, dtype=np.float32)
        for chart, values in charts.items():
            v = ds.createVariable(chart, "u1", SAR_DIMS, zlib=True, fill_value=MASK)
            v[:] = values
    return path


def write_submission(
    path: Path, variables: dict[str, np.ndarray], chunk_rows=None, format="NETCDF4"
) -> Path:
    """A submission netCDF with one 2-D variable per name (dtype kept); `format` as netCDF4's
    (netCDF-3 formats store no chunks and ignore the compression)."""
    with netCDF4.Dataset(path, "w", format=format) as ds:
        for name, values in variables.items():
            dims = (f"{name}_y", f"{name}_x")[: values.ndim]
            for dim, size in zip(dims, values.shape, strict=True):
                ds.createDimension(dim, size)
            chunks = (
                None if chunk_rows is None else [min(chunk_rows, values.shape[0]), values.shape[1]]
            )
            v = ds.createVariable(name, values.dtype, dims, zlib=True, chunksizes=chunks)
            v[:] = values
    return path


def make_dataset(root: Path, layout: str = "torchgeo", n_scenes: int = 3, seed: int = 0,
                 shape=(12, 9)) -> tuple[dict, dict]:  # fmt: skip
    """Reference scenes in `layout` under `root`: "torchgeo" (`train/` + `test/` with
    `_prep_reference.nc`), "dtu" (`test/`), "dtu_release" (training scenes with charts in `root`,
    the test scenes with charts in `test_data/`) or "flat" (the scenes in `root`).

    Returns (reference charts, prediction charts): scene id -> chart -> array.
    """
    rng = np.random.default_rng(seed)
    refs, preds = {}, {}
    root.mkdir(parents=True, exist_ok=True)
    for scene in SCENES[:n_scenes]:
        refs[scene] = random_charts(rng, shape)
        preds[scene] = noisy_prediction(rng, refs[scene])
    if layout == "torchgeo":
        (root / "train").mkdir(exist_ok=True)
        (root / "test").mkdir(exist_ok=True)
        (root / "metadata.csv").write_text("scene_id,split\n")
        train = random_charts(rng, shape)
        write_scene(root / "train" / f"20200101T000000_dmi{PREP_SUFFIX}", train)
        for scene, charts in refs.items():
            _write_input_only(root / "test" / f"{scene}{PREP_SUFFIX}", shape)
            write_scene(root / "test" / f"{scene}{REFERENCE_SUFFIX}", charts, with_input=False)
    elif layout == "dtu":
        (root / "test").mkdir(exist_ok=True)
        for scene, charts in refs.items():
            write_scene(root / "test" / f"{scene}{PREP_SUFFIX}", charts)
    elif layout == "dtu_release":
        (root / "test_data").mkdir(exist_ok=True)
        for scene in TRAINING_SCENES:
            write_scene(root / f"{scene}{PREP_SUFFIX}", random_charts(rng, shape))
        for scene, charts in refs.items():
            write_scene(root / "test_data" / f"{scene}{PREP_SUFFIX}", charts)
    elif layout == "flat":
        for scene, charts in refs.items():
            write_scene(root / f"{scene}{PREP_SUFFIX}", charts)
    else:
        raise ValueError(layout)
    return refs, preds


def _write_input_only(path: Path, shape) -> None:
    with netCDF4.Dataset(path, "w") as ds:
        for dim, size in zip(SAR_DIMS, shape, strict=True):
            ds.createDimension(dim, size)
        ds.createVariable("nersc_sar_primary", "f4", SAR_DIMS)[:] = np.zeros(shape, np.float32)


def submission_arrays(preds: dict) -> dict[str, np.ndarray]:
    """Scene -> chart -> array as submission variables."""
    return {var_name(s, c): a for s, charts in preds.items() for c, a in charts.items()}


def rounding_order_case() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(reference, prediction) charts of one 1 x 5 scene whose combined score, computed the
    challenge's way (from the ROUNDED chart scores), is 87.428, while rounding the unrounded
    combined score gives 87.429.

    SIC and FLOE are predicted perfectly: 100 each. SOD reference 0 0 0 0 1, prediction 0 0 0 1 2:
      class 0: support 4, predicted 3, 3 right: F1 = 2 * 3 / (4 + 3) = 6/7
      class 1: support 1, predicted 1, 0 right: F1 = 0
      class 2: only predicted, support 0: weight 0
      weighted F1 = (4 * 6/7 + 1 * 0) / 5 = 24/35 = 0.685714285714...  ->  SOD 68.5714285714...
    rounded charts: SIC 100.0, SOD 68.571, FLOE 100.0
    challenge: (2 * 100 + 2 * 68.571 + 1 * 100) / 5 = 437.142 / 5 = 87.4284        -> 87.428
    unrounded: (2 * 100 + 2 * 68.5714285714 + 1 * 100) / 5 = 87.42857142857...     -> 87.429
    """
    row = np.array([[0, 5, 10, 10, 2]], dtype=np.uint8)
    ref = {"SIC": row, "SOD": np.array([[0, 0, 0, 0, 1]], np.uint8), "FLOE": row % 7}
    pred = {**ref, "SOD": np.array([[0, 0, 0, 1, 2]], np.uint8)}
    return ref, pred


def write_rounding_case(folder: Path) -> tuple[Path, Path]:
    """`rounding_order_case` as files: (reference folder, submission) under `folder`."""
    ref, pred = rounding_order_case()
    (folder / "reference").mkdir(parents=True)
    write_scene(folder / "reference" / f"{SCENES[0]}{PREP_SUFFIX}", ref)
    sub = write_submission(folder / "upload_package.nc", submission_arrays({SCENES[0]: pred}))
    return folder / "reference", sub


def out_of_class_case() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(reference, prediction) 4 x 4 charts of one scene with predicted values outside the
    classes, scored as wrong predictions (uint8; see `OUT_OF_CLASS_SCORES`).

    SIC reference          prediction            14 valid pixels, mean 5
      0   0   0   0         0   0   0  11        total: 4 * (0-5)^2 + 4 * (10-5)^2 = 200
     10  10  10  10        10  10  10  10        errors: (0-11)^2 + (5-12)^2 = 121 + 49 = 170
    255 255   5   5       200   3   5   5        R2 = 1 - 170 / 200 = 0.15
      5   5   5   5         5   5   5  12        200 (out of class) is not scored: reference 255

    FLOE reference         prediction
      0   0   0   0         0   0   0   7        class 0: support 4, predicted 3, right 3: F1 6/7
      1   1   1   1         1   1   7   7        class 1: support 4, predicted 3, right 2: F1 4/7
    255 255   2   2         7   7   2   2        class 2: support 6, predicted 5, right 5: F1 10/11
      2   2   2   2         2   2   1   2        7: never true (support 0, weight 0)
    weighted F1 = (4 * 6/7 + 4 * 4/7 + 6 * 10/11) / 14 = (40/7 + 60/11) / 14 = 430/539

    SOD: reference as FLOE's, predicted perfectly (0 where the reference is 255): 100.
    """
    sic = np.array([[0, 0, 0, 0], [10, 10, 10, 10], [255, 255, 5, 5], [5, 5, 5, 5]], np.uint8)
    floe = np.array([[0, 0, 0, 0], [1, 1, 1, 1], [255, 255, 2, 2], [2, 2, 2, 2]], np.uint8)
    ref = {"SIC": sic, "SOD": floe, "FLOE": floe}
    pred = {
        "SIC": np.array([[0, 0, 0, 11], [10, 10, 10, 10], [200, 3, 5, 5], [5, 5, 5, 12]], np.uint8),
        "SOD": np.where(floe == MASK, 0, floe).astype(np.uint8),
        "FLOE": np.array([[0, 0, 0, 7], [1, 1, 7, 7], [7, 7, 2, 2], [2, 2, 1, 2]], np.uint8),
    }
    return ref, pred


#: The scores of `out_of_class_case`, in percent.
OUT_OF_CLASS_SCORES = {"SIC": 15.0, "SOD": 100.0, "FLOE": 100 * 430 / 539}
