"""Uncertainty and probabilities files for the calibration tests, written directly with netCDF4
as `scoring.files.writer` writes submissions (uint8, dims `<name>_dim0/1`, zlib, no
_FillValue), and a seeded case built on `builders.make_dataset`."""

from __future__ import annotations

from pathlib import Path

import netCDF4
import numpy as np

from kit.charts import (
    CHARTS,
    MASK,
    N_CLASSES,
    PERCENT_MAX,
    confidence_variable,
    probability_variable,
    sic_interval_variables,
)
from tests.scoring.builders import make_dataset, submission_arrays, write_submission


def write_uint8_file(path: Path, variables: dict[str, np.ndarray], dtype="u1") -> Path:
    """One 2-D variable per name, like a submission."""
    with netCDF4.Dataset(path, "w", format="NETCDF4") as ds:
        for name, values in variables.items():
            dims = (f"{name}_dim0", f"{name}_dim1")[: np.ndim(values)]
            for dim, size in zip(dims, np.shape(values), strict=True):
                ds.createDimension(dim, size)
            v = ds.createVariable(name, dtype, dims, zlib=True, complevel=1, fill_value=False)
            v[:] = np.asarray(values)
    return path


def uncertainty_maps(rng, preds: dict, levels=None) -> dict[str, dict[str, np.ndarray]]:
    """Per scene: confidence per chart (random levels, or drawn from `levels`), 255 where the
    prediction is 255; SIC low/high around the submitted class."""
    maps = {}
    for scene, charts in preds.items():
        out = {}
        for chart, pred in charts.items():
            if levels is None:
                conf = rng.integers(0, PERCENT_MAX + 1, pred.shape)
            else:
                conf = rng.choice(np.asarray(levels), pred.shape)
            out[chart] = np.where(pred == MASK, MASK, conf).astype(np.uint8)
        sic = charts["SIC"].astype(int)
        low = np.clip(sic - rng.integers(0, 3, sic.shape), 0, 10)
        high = np.clip(sic + rng.integers(0, 3, sic.shape), 0, 10)
        out["low"] = np.where(sic == MASK, MASK, low).astype(np.uint8)
        out["high"] = np.where(sic == MASK, MASK, high).astype(np.uint8)
        maps[scene] = out
    return maps


def uncertainty_variables(maps: dict) -> dict[str, np.ndarray]:
    variables = {}
    for scene, out in maps.items():
        for chart in CHARTS:
            variables[confidence_variable(scene, chart)] = out[chart]
        low_name, high_name = sic_interval_variables(scene)
        variables[low_name], variables[high_name] = out["low"], out["high"]
    return variables


def probability_maps(rng, preds: dict, charts=CHARTS) -> dict[str, dict[str, np.ndarray]]:
    """Per scene and chart: [K, H, W] percentages (rounded Dirichlet draws), 255 where the
    prediction is 255."""
    maps = {}
    for scene, by_chart in preds.items():
        maps[scene] = {}
        for chart in charts:
            pred = by_chart[chart]
            k = N_CLASSES[chart]
            p = rng.dirichlet(np.full(k, 0.5), pred.shape)  # [H, W, K]
            percent = np.rint(100 * np.moveaxis(p, -1, 0)).astype(np.uint8)
            maps[scene][chart] = np.where(pred[None] == MASK, MASK, percent).astype(np.uint8)
    return maps


def probability_variables(maps: dict) -> dict[str, np.ndarray]:
    return {
        probability_variable(scene, chart, k): values[k]
        for scene, by_chart in maps.items()
        for chart, values in by_chart.items()
        for k in range(len(values))
    }


def calibration_case(tmp_path: Path, *, n_scenes=3, seed=5, shape=(12, 9), levels=None,
                     no_prediction=0.05, probabilities=True):  # fmt: skip
    """A dataset, its submission (some scored pixels left at 255), an uncertainty file and a
    probabilities file. Returns a dict of paths and of the arrays written."""
    refs, preds = make_dataset(tmp_path / "data", "torchgeo", n_scenes=n_scenes, seed=seed,
                               shape=shape)  # fmt: skip
    rng = np.random.default_rng(seed + 100)
    for charts in preds.values():
        for pred in charts.values():
            pred[rng.random(pred.shape) < no_prediction] = MASK
    sub = write_submission(tmp_path / "upload_package.nc", submission_arrays(preds))
    maps = uncertainty_maps(rng, preds, levels)
    unc = write_uint8_file(tmp_path / "uncertainty.nc", uncertainty_variables(maps))
    case = {"root": tmp_path / "data", "sub": sub, "unc": unc, "refs": refs, "preds": preds,
            "maps": maps, "probs": None, "prob_maps": None}  # fmt: skip
    if probabilities:
        prob_maps = probability_maps(rng, preds)
        case["prob_maps"] = prob_maps
        case["probs"] = write_uint8_file(
            tmp_path / "probabilities.nc", probability_variables(prob_maps)
        )
    return case
