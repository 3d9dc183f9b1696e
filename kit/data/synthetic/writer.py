"""Writing a synthetic set: one scene per worker process, atomic netCDF files and
`metadata.csv` last (`write_dataset`), after checking it fits (`check_fits`)."""

from __future__ import annotations

import math
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd
import xarray as xr
from tqdm.auto import tqdm

from kit import charts, resources
from kit.atomic import atomic_path
from kit.data.synthetic import formats
from kit.data.synthetic.config import (
    METADATA_COLUMNS,
    METADATA_FILE,
    RAW_FOLDER,
    SCENE_DISK_PER_PIXEL,
    SCENE_MEMORY_PER_PIXEL,
    SynthConfig,
)
from kit.data.synthetic.plan import plan_scenes
from kit.data.synthetic.scene import generate_scene
from kit.data.synthetic.spec import SceneSpec

# Writing
# ---------------------------------------------------------------------------------------------


#: Speckled SAR hardly compresses (zlib level 1 saves ~20 % and costs most of the write time).
_UNCOMPRESSED = set(charts.SAR_VARIABLES)


def _encoding(ds: xr.Dataset) -> dict:
    """zlib level 1 except for SAR; charts stay plain uint8 (no _FillValue -> no float cast)."""
    enc = {}
    for name, var in ds.data_vars.items():
        enc[name] = {} if name in _UNCOMPRESSED else {"zlib": True, "complevel": 1}
        if var.dtype.kind in "ui":
            enc[name]["_FillValue"] = None
        if var.dtype == object:
            enc[name] = {"dtype": str}
    return enc


def write_netcdf_atomic(ds: xr.Dataset, path: Path) -> None:
    """Write `ds` to `path` through `kit.atomic.atomic_path` (no half files, folders created)."""
    with atomic_path(path) as temporary:
        ds.to_netcdf(temporary, engine="netcdf4", encoding=_encoding(ds))


def _write_scene(task: tuple[str, SceneSpec, str, str, bool]) -> dict:
    """Generate and write one scene (runs in a worker process); returns its metadata row."""
    import cv2

    cv2.setNumThreads(1)
    split, spec, out, convention, also_raw = task
    out = Path(out)
    scene = generate_scene(spec)
    labelled = split == "train"
    reference_path = ""
    if not labelled:  # test charts kept apart, as in the Hugging Face / TorchGeo mirror
        reference_path = f"{split}/{spec.scene_id}{charts.REFERENCE_SUFFIX}"
        reference = xr.Dataset(formats.chart_variables(scene), attrs=scene.inputs.attrs)
        write_netcdf_atomic(reference, out / reference_path)
    if convention == "raw":
        input_path = f"{split}/{spec.original_id}"
        write_netcdf_atomic(formats.raw(scene, labelled), out / input_path)
    else:
        input_path = f"{split}/{spec.scene_id}{charts.PREP_SUFFIX}"
        write_netcdf_atomic(formats.ready_to_train(scene, convention, labelled), out / input_path)
    if also_raw:
        write_netcdf_atomic(formats.raw(scene, True), out / RAW_FOLDER / spec.original_id)
    return {
        "input_path": input_path,
        "reference_path": reference_path,
        "date": spec.acquisition.strftime("%Y-%m-%d"),
        "ice_service": spec.ice_service,
        "split": split,
        "region_id": spec.region,
        "scene_id": spec.scene_id,
        "original_id": spec.original_id,
        "acquisition": spec.acquisition.isoformat(),
        "latitude": round(spec.latitude, 4),
        "longitude": round(spec.longitude, 4),
        "height": spec.shape[0],
        "width": spec.shape[1],
        "convention": convention,
    }


def write_dataset(
    out: str | os.PathLike, config: SynthConfig, workers: int | None = None, progress: bool = True
) -> pd.DataFrame:
    """Generate the dataset described by `config` into `out`; returns the metadata table.

    Scenes are written by `workers` processes (default: up to the CPU count); metadata.csv is
    written last, so its presence means the set is complete.
    """
    out = Path(out)
    check_fits(out, config)
    out.mkdir(parents=True, exist_ok=True)
    tasks = [
        (split, spec, str(out), config.convention, config.raw)
        for split, spec in plan_scenes(config)
    ]
    fit = resources.memory_bytes() // _scene_memory(config)  # scenes generated at once
    workers = max(1, min(workers or os.cpu_count() or 1, len(tasks), fit))
    bar = tqdm(total=len(tasks), desc="synthetic scenes", unit="scene", disable=not progress)
    rows = []
    if workers == 1:
        for task in tasks:
            rows.append(_write_scene(task))
            bar.update()
    else:
        # Not forked from this process: a fork after OpenCV has started its threads can hang
        # the child in cv2.setNumThreads (seen under pytest); forkserver children start clean.
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            for row in pool.map(_write_scene, tasks):
                rows.append(row)
                bar.update()
    bar.close()
    table = pd.DataFrame(rows, columns=list(METADATA_COLUMNS))
    with atomic_path(out / METADATA_FILE) as temporary:
        table.to_csv(temporary, index=False)
    return table


def _scene_memory(config: SynthConfig) -> int:
    return config.size[0] * config.size[1] * SCENE_MEMORY_PER_PIXEL


def check_fits(out: Path, config: SynthConfig) -> None:
    """Refuse, before any scene is planned, a set that cannot be made here: one scene must fit
    in memory and all of them on the disk of `out` (lower bounds, see the *_PER_PIXEL limits)."""
    h, w = config.size
    side = math.isqrt(resources.memory_bytes() // SCENE_MEMORY_PER_PIXEL)
    resources.require_memory(
        _scene_memory(config), f"--size {h} {w}: one scene", f"largest square scene: {side} px"
    )
    n = config.n_train + config.n_test
    per_scene = h * w * SCENE_DISK_PER_PIXEL
    resources.require_disk(
        n * per_scene,
        out,
        f"--train {config.n_train} --test {config.n_test}: a set of {n} scenes of {h} x {w} px",
        f"room for {resources.free_disk_bytes(out) // per_scene} scenes of this size",
    )
