"""The cached demo set: generated once into a cache folder and reused (`demo_dataset`)."""

from __future__ import annotations

import fcntl
import os
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from kit.data.synthetic.config import (
    CACHE_ENV,
    DEMO_CONFIG,
    GENERATOR_VERSION,
    METADATA_FILE,
    QUICK_CONFIG,
    SynthConfig,
)
from kit.data.synthetic.writer import write_dataset

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
