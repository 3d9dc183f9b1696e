"""Synthetic AutoICE dataset in the real ready-to-train format (TorchGeo / Hugging Face layout).

`write_dataset(out, SynthConfig(...))` writes

    out/metadata.csv                        one row per scene (TorchGeo's columns, then ours)
    out/train/<scene>_prep.nc               24 inputs + lat/lon + SIC/SOD/FLOE (29 variables)
    out/test/<scene>_prep.nc                24 inputs + lat/lon, no charts
    out/test/<scene>_prep_reference.nc      SIC/SOD/FLOE only (scoring; never read as input)
    out/raw/<original raw name>.nc          with raw=True: raw-release copies (40 m, polygons)

The inputs are written in `config.convention` (`kit.data.formats`): ready-to-train `standard` by
default (z-scores, 0 = no data, exactly like the real release), `minmax`, `physical`, or `raw`
(the raw-release layout, named by the original raw file name, in `train/` and `test/`).

Scenes are independent and each is determined by (seed, index), so a set is reproducible
file for file. Each scene is planned from a real training scene of `data_manifest.csv`: its
month, ice service and chart region, and its per-scene class shares, which drive the egg codes
(so old ice, new ice and open water follow the real calendar and regions, and the month and
lat/lon inputs carry information as on the real data). `demo_dataset()` generates the default demo set once into a cache folder and
reuses it. The physics of a scene lives in `kit.data.synthetic_scene`.
"""

from __future__ import annotations

import fcntl
import functools
import math
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from tqdm.auto import tqdm

from kit import charts, resources
from kit.atomic import atomic_path
from kit.config import check_seed
from kit.data import formats
from kit.data.manifest import load_manifest
from kit.data.synthetic_scene import REGIONS, SceneSpec, generate_scene
from kit.errors import KitError

#: Bump when the generator changes so cached demo sets are regenerated.
GENERATOR_VERSION = 4
METADATA_FILE = "metadata.csv"
CACHE_ENV = "AUTOICE_CACHE"
#: TorchGeo's columns first (`input_path, reference_path, date, ice_service, split, region_id`),
#: then the kit's own.
METADATA_COLUMNS = (
    "input_path", "reference_path", "date", "ice_service", "split", "region_id",
    "scene_id", "original_id", "acquisition", "latitude", "longitude", "height", "width",
    "convention",
)  # fmt: skip
#: Folder of the extra raw-release copies written with `raw=True`.
RAW_FOLDER = "raw"
#: Acquisition times are drawn to the second within the source scene's month over four years
#: from FIRST_YEAR (about 4 x 365 x 86400 ids per service in all).
ACQUISITION_SECONDS = 4 * 365 * 86400
FIRST_YEAR = 2018
#: Most scenes in a set: half the distinct scene ids (2 services x ACQUISITION_SECONDS), so that
#: drawing a new unique id takes two tries at most on average and never loops for ever.
MAX_SCENES = ACQUISITION_SECONDS
#: Peak memory of generating and writing one scene, per SAR pixel: measured 101 to 116 bytes
#: (standard, raw, with raw copies), so 100 is a lower bound.
SCENE_MEMORY_PER_PIXEL = 100
#: Disk of one scene per SAR pixel: its two float32 SAR variables are stored uncompressed, so
#: 8 bytes is a lower bound (measured 10 to 46 bytes).
SCENE_DISK_PER_PIXEL = 8


@dataclass(frozen=True)
class SynthConfig:
    """What to generate: scene counts, SAR grid size (lines, samples), seed, the file
    convention (`standard` ready-to-train by default, `minmax`, `physical` or `raw`), and
    whether to also write raw-release copies into `raw/`."""

    n_train: int = 24
    n_test: int = 20
    size: tuple[int, int] = (1000, 1000)
    seed: int = 0
    raw: bool = False
    convention: str = "standard"

    def __post_init__(self) -> None:
        if self.convention not in formats.WRITE_CONVENTIONS:
            raise KitError(
                f"--convention {self.convention}: unknown; allowed: "
                f"{', '.join(formats.WRITE_CONVENTIONS)}"
            )
        if self.n_train < 0 or self.n_test < 0 or self.n_train + self.n_test == 0:
            raise KitError(
                f"--train {self.n_train} --test {self.n_test}: need at least one scene, "
                "and no negative count"
            )
        if self.n_train + self.n_test > MAX_SCENES:
            raise KitError(
                f"--train {self.n_train} --test {self.n_test}: at most {MAX_SCENES} scenes "
                "(distinct synthetic scene ids)"
            )
        if min(self.size) < 50:
            raise KitError(f"--size {self.size[0]} {self.size[1]}: scenes need >= 50 pixels a side")
        check_seed(f"--seed {self.seed}:", self.seed)


#: The demo set (notebooks, `autoice demo`) and a small quick one (tests, smoke runs).
DEMO_CONFIG = SynthConfig()
QUICK_CONFIG = SynthConfig(n_train=6, n_test=2, size=(400, 400))


# ---------------------------------------------------------------------------------------------
# Scene names
# ---------------------------------------------------------------------------------------------


def _orbit(platform: str, when: datetime) -> int:
    """Approximate absolute orbit number (175 orbits per 12-day cycle since launch)."""
    launch = datetime(2014, 4, 3) if platform == "S1A" else datetime(2016, 4, 25)
    return int((when - launch).total_seconds() / 86400.0 * 175 / 12)


def _original_id(
    rng: np.random.Generator, service: str, region: str, start: datetime
) -> tuple[str, str]:
    """(raw file name, platform) in the style of the AI4Arctic raw release."""
    platform = "S1A" if rng.random() < 0.5 else "S1B"
    stop = start + timedelta(seconds=int(rng.integers(40, 62)))
    fmt = "%Y%m%dT%H%M%S"
    orbit = _orbit(platform, start)
    datatake = int(rng.integers(0x010000, 0x04FFFF))
    crc = int(rng.integers(0, 0xFFFF))
    chart_time = start + timedelta(minutes=int(rng.integers(-40, 40)))
    if service == "dmi":
        chart = f"dmi_{chart_time:%Y%m%d%H%M}_{region}_RIC"
    else:
        chart = f"cis_{region}_{chart_time:%Y%m%dT%H%M}Z_pl_a"
    name = (
        f"{platform}_EW_GRDM_1SDH_{start.strftime(fmt)}_{stop.strftime(fmt)}_"
        f"{orbit:06d}_{datatake:06X}_{crc:04X}_icechart_{chart}.nc"
    )
    return name, platform


@functools.cache
def source_scenes() -> pd.DataFrame:
    """The real training scenes with class counts (data_manifest.csv), one row each: scene_id,
    ice_service, month, chart_source and the pixel share of every class per chart."""
    table = load_manifest()
    table = table[(table.split == "train") & (table.duplicate_of == "") & (table.SIC_0 != "")]
    out = table[["scene_id", "ice_service", "chart_source"]].reset_index(drop=True)
    out["month"] = table.acquisition_start.str[5:7].astype(int).to_numpy()
    for chart in charts.CHARTS:
        columns = [f"{chart}_{k}" for k in range(charts.N_CLASSES[chart])]
        counts = table[columns].astype(float).to_numpy()
        shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
        out[columns] = shares
    if out.empty:
        raise KitError("data_manifest.csv: no training scene with class counts to plan from")
    return out


def _shares(row: pd.Series) -> dict[str, tuple[float, ...]]:
    return {
        c: tuple(float(row[f"{c}_{k}"]) for k in range(charts.N_CLASSES[c])) for c in charts.CHARTS
    }


def _start_in_month(rng: np.random.Generator, month: int) -> datetime:
    """A random second of `month` in one of the four years from FIRST_YEAR."""
    first = datetime(FIRST_YEAR + int(rng.integers(0, 4)), month, 1)
    following = datetime(first.year + month // 12, month % 12 + 1, 1)
    return first + timedelta(seconds=int(rng.integers(0, (following - first).total_seconds())))


def plan_scenes(config: SynthConfig) -> list[tuple[str, SceneSpec]]:
    """(split, spec) for every scene: each drawn from a real training scene (its month, service,
    region and class shares), with a unique plausible name, place and seed per (seed, index)."""
    sources = source_scenes()
    plans, used = [], set()
    splits = ["train"] * config.n_train + ["test"] * config.n_test
    for index, split in enumerate(splits):
        rng = np.random.default_rng([config.seed, index, GENERATOR_VERSION])
        row = sources.iloc[int(rng.integers(len(sources)))]
        service = str(row.ice_service)
        while True:
            start = _start_in_month(rng, int(row.month))
            scene_id = f"{start:%Y%m%dT%H%M%S}_{service}"
            if scene_id not in used:
                used.add(scene_id)
                break
        region = str(row.chart_source)
        if region not in REGIONS[service]:
            region = str(rng.choice(sorted(REGIONS[service])))
        lat, lon = REGIONS[service][region]
        original_id, _ = _original_id(rng, service, region, start)
        spec = SceneSpec(
            scene_id=scene_id,
            original_id=original_id,
            ice_service=service,
            region=region,
            acquisition=start,
            latitude=float(np.clip(lat + rng.normal(0, 1.0), 45.0, 84.0)),
            longitude=float(lon + rng.normal(0, 2.0)),
            heading=float(rng.choice([-1, 1]) * rng.uniform(150, 200)),
            seed=int(np.random.SeedSequence([config.seed, index]).generate_state(1)[0]),
            shape=(int(config.size[0]), int(config.size[1])),
            class_shares=_shares(row),
            source_scene=str(row.scene_id),
        )
        plans.append((split, spec))
    return plans


# ---------------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------------
# Cached demo set
# ---------------------------------------------------------------------------------------------


def cache_dir() -> Path:
    """Folder for generated datasets: $AUTOICE_CACHE, else ~/.cache/autoice."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "autoice")


def dataset_key(config: SynthConfig) -> str:
    """Folder name that identifies a generated set by its parameters and generator version."""
    raw = "-raw" if config.raw else ""
    h, w = config.size
    return (
        f"synthetic-v{GENERATOR_VERSION}-s{config.seed}-train{config.n_train}"
        f"-test{config.n_test}-{h}x{w}-{config.convention}{raw}"
    )


def is_complete(root: str | os.PathLike) -> bool:
    """True if `root` holds a metadata.csv whose every listed file exists."""
    root = Path(root)
    meta = root / METADATA_FILE
    if not meta.is_file():
        return False
    table = pd.read_csv(meta, keep_default_na=False)
    files = list(table["input_path"]) + [p for p in table["reference_path"] if p]
    return all((root / f).is_file() for f in files)


def ensure_dataset(config: SynthConfig, root: str | os.PathLike | None = None) -> Path:
    """The folder of the set `config` under `root` (default cache), generated if not complete.

    A lock file makes concurrent callers (parallel tests, notebooks) wait for one generator.
    """
    base = Path(root) if root is not None else cache_dir()
    target = base / dataset_key(config)
    if is_complete(target):
        return target
    base.mkdir(parents=True, exist_ok=True)
    with open(base / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not is_complete(target):
            write_dataset(target, config)
    return target


def demo_dataset(root: str | os.PathLike | None = None, quick: bool = False) -> Path:
    """Path of the synthetic demo dataset, generated on first use and reused afterwards.

    Tutorials, the demo and tests run without the 250+ GB real dataset on this set, in its
    TorchGeo layout and `standard` convention. Concurrent callers wait for one generator.

    Parameters
    ----------
    root : str or os.PathLike, optional
        Folder that holds generated sets; default ``$AUTOICE_CACHE`` or ``~/.cache/autoice``.
    quick : bool
        The small set (6 train + 2 test scenes of 400 x 400) for tests and smoke runs instead
        of the demo set (24 + 20 scenes of 1000 x 1000: 20 test scenes, as in the AutoICE test
        set, so that a paired bootstrap over scenes can rank two models).

    Returns
    -------
    pathlib.Path
        The dataset folder under `root`, named by its parameters and generator version, so a
        changed generator makes a new set.

    Examples
    --------
    >>> import tempfile
    >>> from kit.data import discover
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = demo_dataset(tmp, quick=True)
    ...     table = discover(path)
    ...     again = demo_dataset(tmp, quick=True)  # complete: reused, not generated again
    >>> path.name, again == path
    ('synthetic-v...-s0-train6-test2-400x400-standard', True)
    >>> table.split.value_counts().to_dict()
    {'train': 6, 'test': 2}
    """
    return ensure_dataset(QUICK_CONFIG if quick else DEMO_CONFIG, root)


def config_summary(config: SynthConfig) -> dict:
    """The config as plain values (for printing and benchmark records)."""
    return asdict(config)
