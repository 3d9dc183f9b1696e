"""TorchGeo's own test fixture of the AI4Arctic dataset (`tests/data/ai4arctic_sea_ice` in
microsoft/torchgeo) loads through `PatchDataset`.

The fixture is rebuilt here, with the kit's own writer, in the layout TorchGeo's generator gives
it: `metadata.csv` (TorchGeo's six columns), 3 training scenes in `train/` carrying their charts
and 2 test scenes in `test/` with a `_prep_reference.nc` each (a copy of the inputs plus the
charts); 12 x 9 SAR pixels, a 2 km grid of 5 x 6 cells (not one cell per 25 pixels), 4 x 3 lat/lon
tie points stored (sample, line), physical values without any `variable_fill_value` attribute,
no incidence angle, 2 of the 6 ERA5 and 4 of the 14 AMSR2 channels, and a `distance_map` of
zone ids 0-10 with TorchGeo's `long_name` / `zonal_range_description` attributes.

Before issue 22 the kit refused every one of these scenes, even for SAR-only training, because
it checked the 2 km grid's size whatever the configured variables.
"""

from __future__ import annotations

import warnings
from datetime import datetime

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from kit import charts
from kit.data.config import DataConfig
from kit.data.layouts import LAYOUT_TORCHGEO, discover
from kit.data.patches import PatchDataset
from kit.data.synthetic import write_netcdf_atomic

SAR_SHAPE = (12, 9)  # sar_lines, sar_samples
GRID_2KM_SHAPE = (5, 6)  # 2km_grid_lines, 2km_grid_samples
TIE_POINTS = (4, 3)  # sar_line_2dgrid_points, sar_sample_2dgrid_points
#: The fixture's 2 km channels: two ERA5 winds and AMSR2 6.9 / 7.3 GHz, h and v.
ERA5 = ("u10m_rotated", "v10m_rotated")
AMSR2 = tuple(f"btemp_{freq}{pol}" for freq in ("6_9", "7_3") for pol in "hv")
SAR_ONLY = charts.SAR_VARIABLES
#: TorchGeo's metadata columns.
METADATA_COLUMNS = ("input_path", "reference_path", "date", "ice_service", "split", "region_id")
#: (split, acquisition, service) of the five scenes: services alternate from dmi in each split.
SCENES = [("train", datetime(2021, 1, 1 + i), "dmi" if i % 2 == 0 else "cis") for i in range(3)] + [
    ("test", datetime(2021, 1, 4 + i), "dmi" if i % 2 == 0 else "cis") for i in range(2)
]
REGION = {"dmi": "North_RIC", "cis": "SGRDIFOXE"}
#: The zone table TorchGeo's fixture attaches to `distance_map`.
ZONES = "\ndist_id; dist_range_km\n0; land\n1; 0 -> 0.5\n2; 0.5 -> 1\n3; 1 -> 2\n4; 2 -> 4\n" + (
    "5; 4 -> 8\n6; 8 -> 16\n7; 16 -> 32\n8; 32 -> 64\n9; 64 -> 128\n10; >128"
)


def fixture_scene(rng: np.random.Generator, name: str, service: str, with_charts: bool):
    """One scene file's content as TorchGeo's generator lays it out."""
    sar, km, tie = charts.SAR_DIMS, charts.GRID_2KM_DIMS, charts.GEO_GRID_FILE_DIMS
    data = {
        "nersc_sar_primary": (sar, rng.normal(-20, 5, SAR_SHAPE).astype(np.float32)),
        "nersc_sar_secondary": (sar, rng.normal(-25, 5, SAR_SHAPE).astype(np.float32)),
        charts.LATITUDE: (tie, rng.uniform(60, 80, TIE_POINTS[::-1])),
        charts.LONGITUDE: (tie, rng.uniform(-60, 0, TIE_POINTS[::-1])),
        **{v: (km, rng.normal(0, 5, GRID_2KM_SHAPE).astype(np.float32)) for v in ERA5},
        **{v: (km, rng.normal(250, 20, GRID_2KM_SHAPE).astype(np.float32)) for v in AMSR2},
        "distance_map": (
            sar,
            rng.uniform(0, 10, SAR_SHAPE).astype(np.float32),
            {
                "long_name": "Distance to land zones numbered with ids ranging from 0 to N",
                "zonal_range_description": ZONES,
            },
        ),
    }
    if with_charts:
        for chart in ("SOD", "SIC", "FLOE"):
            data[chart] = (sar, rng.integers(0, charts.N_CLASSES[chart], SAR_SHAPE, np.uint8))
    attrs = {
        "scene_id": name,
        "original_id": f"S1A_EW_GRDM_1SDH_{name}",
        "ice_service": service,
        "flip": 0,
        "pixel_spacing": 80,
    }
    return xr.Dataset(data, attrs=attrs)


@pytest.fixture(scope="module")
def torchgeo_root(tmp_path_factory):
    """TorchGeo's fixture layout, written with the kit's writer (seeded)."""
    root = tmp_path_factory.mktemp("torchgeo_ai4arctic")
    rng = np.random.default_rng(22)
    rows = []
    for split, when, service in SCENES:
        stem = f"{split}/{when:%Y%m%dT%H%M%S}_{service}"
        input_path = stem + charts.PREP_SUFFIX
        reference_path = stem + charts.REFERENCE_SUFFIX if split == "test" else None
        name = input_path.split("/")[1]
        write_netcdf_atomic(fixture_scene(rng, name, service, split == "train"), root / input_path)
        if reference_path:  # inputs again, with the charts
            write_netcdf_atomic(fixture_scene(rng, name, service, True), root / reference_path)
        rows.append(
            {
                "input_path": input_path,
                "reference_path": reference_path,
                "date": when,
                "ice_service": service,
                "split": split,
                "region_id": REGION[service],
            }  # fmt: skip
        )
    pd.DataFrame(rows, columns=list(METADATA_COLUMNS)).to_csv(root / "metadata.csv", index=False)
    return root


def config(tmp_path, variables, **changes) -> DataConfig:
    options = dict(variables=variables, patch_size=16, batch_size=4, epoch_len=2, seed=5)
    return DataConfig(cache_dir=str(tmp_path / "cache"), **{**options, **changes})


def load(cfg: DataConfig, scenes) -> tuple[PatchDataset, list[str]]:
    """The PatchDataset and the messages of the warnings its construction gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dataset = PatchDataset(cfg, scenes, progress=False)
    return dataset, [str(w.message) for w in caught]


def grid_warnings(messages: list[str]) -> list[str]:
    return [m for m in messages if "2 km grid" in m]


def test_the_layout_is_discovered_with_its_splits_and_reference_files(torchgeo_root):
    table = discover(torchgeo_root)
    assert set(table.layout) == {LAYOUT_TORCHGEO}
    assert table.split.value_counts().to_dict() == {"train": 3, "test": 2}
    test = table[table.split == "test"]
    assert all(str(p).endswith(charts.REFERENCE_SUFFIX) for p in test.reference_path)
    assert table[table.split == "train"].reference_path.isna().all()
    meta = pd.read_csv(torchgeo_root / "metadata.csv")
    assert tuple(meta.columns) == METADATA_COLUMNS


def test_sar_only_training_loads_without_any_2km_check(torchgeo_root, tmp_path):
    table = discover(torchgeo_root)
    train = table[table.split == "train"]
    dataset, messages = load(config(tmp_path, SAR_ONLY), train)
    assert grid_warnings(messages) == []
    # No fill-value attribute: the convention is decided from the values, once per file.
    decided = [m for m in messages if "decided from the values" in m]
    assert len(decided) == 3 and all("'physical'" in m for m in decided)
    assert len(dataset.scenes) == 3
    assert all(s.shape == SAR_SHAPE for s in dataset.scenes)
    dataset.set_epoch(0)
    batches = list(dataset.loader())
    assert len(batches) == 2
    for x, y in batches:
        assert tuple(x.shape) == (4, 2, 16, 16) and torch_finite(x)
        assert set(y) == set(charts.CHARTS)
        # The 12 x 9 scene is padded into the 16 x 16 patch: 108 labelled pixels per patch.
        assert ((y["SOD"] != charts.MASK).sum(dim=(1, 2)) == 12 * 9).all()
    # Inputs standardised once from physical dB: the fixture's N(-20, 5) HH is about
    # (-20 + 14.5) / 5.66 = -0.97 on average.
    hh = np.concatenate([np.asarray(s.x[0], np.float32).ravel() for s in dataset.scenes])
    assert -1.4 < hh.mean() < -0.55


def test_a_2km_variable_regrids_the_grid_by_extent_with_one_warning_per_file(
    torchgeo_root, tmp_path
):
    table = discover(torchgeo_root)
    train = table[table.split == "train"]
    variables = (*SAR_ONLY, "btemp_6_9h", "u10m_rotated")
    dataset, messages = load(config(tmp_path, variables), train)
    warned = grid_warnings(messages)
    assert len(warned) == 3  # one per file, not per variable (two here) nor per patch
    for path in train.path:
        naming = [m for m in warned if m.startswith(f"{path}: ")]
        assert len(naming) == 1, (path, warned)
        assert "5 x 6 cells" in naming[0] and "by extent" in naming[0]
    # Each 2 km cell spans 12 / 5 = 2.4 lines and 9 / 6 = 1.5 samples of the scene: the
    # cached channel is the bilinear interpolation between cell centres at those spacings.
    scene = dataset.scenes[0]
    with xr.open_dataset(scene.path) as ds:
        cells = ds["btemp_6_9h"].values.astype(np.float64)
    mean, std = charts.GLOBAL_MEAN_STD["btemp_6_9h"]
    z = (cells - mean) / std
    expected = interpolate_at_centres(z, SAR_SHAPE)
    cached = np.asarray(scene.x[2], dtype=np.float64)
    assert cached.shape == SAR_SHAPE
    assert np.allclose(cached, expected, rtol=2**-9, atol=2**-9)  # float16 cache
    # The 25-pixel rule would have put the whole scene inside the first cell's half.
    assert not np.allclose(cached, z[0, 0], atol=0.05)
    dataset.set_epoch(0)
    x, _ = next(iter(dataset.loader()))
    assert tuple(x.shape) == (4, 4, 16, 16) and torch_finite(x)
    # Built once, the cache is reused: no second warning.
    _, again = load(config(tmp_path, variables), train)
    assert grid_warnings(again) == []


def test_the_test_scenes_load_with_their_reference_charts(torchgeo_root, tmp_path):
    table = discover(torchgeo_root)
    test = table[table.split == "test"]
    dataset, messages = load(config(tmp_path, SAR_ONLY), test)
    assert grid_warnings(messages) == []
    assert [s.chart_names for s in dataset.scenes] == [charts.CHARTS] * 2
    with xr.open_dataset(test.reference_path.iloc[0]) as reference:
        sod = reference["SOD"].values
    assert np.array_equal(dataset.scenes[0].charts[charts.CHARTS.index("SOD")], sod)


def interpolate_at_centres(cells: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear interpolation of a grid of cells covering `shape` pixels, at the pixel centres
    (edge values beyond the outer cell centres), one axis at a time with np.interp."""
    (n_rows, n_cols), (h, w) = cells.shape, shape
    row_centres = (np.arange(n_rows) + 0.5) * h / n_rows - 0.5
    col_centres = (np.arange(n_cols) + 0.5) * w / n_cols - 0.5
    rows = np.stack([np.interp(np.arange(h), row_centres, cells[:, j]) for j in range(n_cols)], 1)
    return np.stack([np.interp(np.arange(w), col_centres, rows[i]) for i in range(h)])


def torch_finite(x) -> bool:
    return bool(x.isfinite().all())
