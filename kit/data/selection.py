"""Which scenes to use: the training/validation split and the scenes to predict.

Both take plain values (a folder, or for the split a `discover()` table, scene ids, a fraction,
a seed), so the notebooks, the benchmarks and `kit.experiment` choose scenes the same way. For
the split (`resolve_data_dir`) the names `demo` and `demo-quick` stand for the synthetic demo
datasets, generated on first use; `prediction_scenes` takes a folder only.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from kit.data.layouts import discover
from kit.errors import KitError

#: Dataset names that stand for the synthetic demo sets (value: the quick CI-sized set or not).
DEMO_DATA = {"demo": False, "demo-quick": True}


def resolve_data_dir(data_dir: str | os.PathLike) -> Path:
    """The dataset folder a `train.data_dir` value names.

    Parameters
    ----------
    data_dir : str or path-like
        A dataset folder, or `demo` / `demo-quick` (when no folder of that name exists) for the
        synthetic demo datasets.

    Returns
    -------
    Path
        The folder; the demo sets are generated on first use.

    Examples
    --------
    >>> resolve_data_dir("data/demo/train") == Path("data/demo/train")
    True

    Not run here, as it writes the quick demo set under ``~/.cache/autoice`` on first use:

    >>> resolve_data_dir("demo-quick").name  # doctest: +SKIP
    'synthetic-v...-s0-train6-test2-400x400-standard'
    """
    if data_dir in DEMO_DATA and not Path(data_dir).exists():
        from kit.data.synthetic import demo_dataset

        return demo_dataset(quick=DEMO_DATA[data_dir])
    return Path(data_dir)


def split_scenes(
    scenes: str | os.PathLike | pd.DataFrame,
    val_scenes: Sequence[str] = (),
    val_fraction: float = 0.1,
    seed: int = 0,
    setting: str = "train.val_scenes",
    val_count: int | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training and validation scenes from a dataset's training split.

    Parameters
    ----------
    scenes : str, path-like or DataFrame
        A dataset folder (or a demo name, see `resolve_data_dir`), or its `discover()` table.
    val_scenes : sequence of str
        Ids of the validation scenes; when empty, `val_count` or a `val_fraction` of the
        training scenes is drawn at random instead (seeded).
    val_fraction : float
        Share of the training scenes drawn for validation, rounded; at least one when above 0,
        but never all of them (a split of a single scene has no validation scene).
    seed : int
        Seed of that draw.
    setting : str
        The setting that `val_scenes` came from, named by the errors about it.
    val_count : int, optional
        Number of validation scenes to draw (MMSeaIce draws 20), used instead of
        `val_fraction` when given; a dataset with no more training scenes than that keeps one
        for training (with a warning).

    Returns
    -------
    training, validation : DataFrame
        `discover()` rows of the training split, re-indexed from 0.

    Raises
    ------
    KitError
        When the folder does not exist or holds no scenes, it has no training scenes, a
        validation id is not a training scene, or every training scene would be validating.

    Examples
    --------
    Only file names are read, so empty files stand in for scenes here:

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     for day in ("0124", "0125", "0126", "0127"):
    ...         Path(tmp, f"2018{day}T194759_dmi_prep.nc").touch()
    ...     training, validation = split_scenes(tmp, val_fraction=0.25, seed=1)
    ...     by_id = split_scenes(tmp, val_scenes=["20180125T194759_dmi"])
    ...     table = discover(tmp)
    ...     split_scenes(tmp, val_scenes=["20990101T000000_dmi"])
    Traceback (most recent call last):
    ...
    kit.errors.KitError: train.val_scenes: not among the training scenes: 20990101T000000_dmi
    >>> len(training), len(validation)
    (3, 1)
    >>> [len(part) for part in split_scenes(table, val_count=2)]
    [2, 2]
    >>> by_id[1].scene_id.tolist()
    ['20180125T194759_dmi']

    A single training scene is never drawn for validation:

    >>> one = pd.DataFrame({"scene_id": ["20180124T194759_dmi"], "split": ["train"]})
    >>> [len(part) for part in split_scenes(one, val_fraction=0.5)]
    [1, 0]
    """
    val_scenes = list(val_scenes)
    if isinstance(scenes, pd.DataFrame):
        table, name = scenes, "scene table"
    else:
        table, name = discover(resolve_data_dir(scenes)), str(scenes)
    table = table[table["split"] == "train"].reset_index(drop=True)
    if table.empty:
        raise KitError(f"{name}: no training scenes (only a test split was found)")
    if val_scenes:
        unknown = [s for s in val_scenes if s not in set(table["scene_id"])]
        if unknown:
            raise KitError(f"{setting}: not among the training scenes: {', '.join(unknown)}")
        is_val = table["scene_id"].isin(val_scenes)
    else:
        n_val = _validation_count(len(table), val_fraction, val_count, name)
        picked = np.random.default_rng(seed).permutation(len(table))[:n_val]
        is_val = table.index.isin(picked)
    training, validation = table[~is_val], table[is_val]
    if training.empty:
        raise KitError(f"{setting}: every training scene is a validation scene")
    return training.reset_index(drop=True), validation.reset_index(drop=True)


def _validation_count(n_scenes: int, val_fraction: float, val_count: int | None, name: str) -> int:
    """How many of `n_scenes` training scenes to draw for validation (never all of them)."""
    if val_count is None:
        n_val = round(val_fraction * n_scenes)
        return min(max(n_val, 1 if val_fraction > 0 else 0), n_scenes - 1)
    if val_count < 0:
        raise KitError(f"train.val_count must be >= 0, got {val_count}")
    if val_count > n_scenes - 1:
        warnings.warn(
            f"train.val_count {val_count}: {name} has only {n_scenes} training scene(s); "
            f"validating on {n_scenes - 1}, training on 1",
            stacklevel=3,
        )
    return min(val_count, n_scenes - 1)


def prediction_scenes(data_dir: str | os.PathLike) -> pd.DataFrame:
    """The scenes to predict in a folder: its test split if it has one, else all its scenes.

    Parameters
    ----------
    data_dir : str or path-like
        A dataset folder in any layout `discover()` reads.

    Returns
    -------
    DataFrame
        `discover()` rows, re-indexed from 0.

    Raises
    ------
    KitError
        When the folder does not exist or holds no scenes (from `discover()`).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     Path(tmp, "test").mkdir()
    ...     Path(tmp, "20180124T194759_dmi_prep.nc").touch()
    ...     Path(tmp, "test", "20210430T205436_cis_prep.nc").touch()
    ...     with_test = prediction_scenes(tmp)
    ...     Path(tmp, "test", "20210430T205436_cis_prep.nc").unlink()
    ...     without_test = prediction_scenes(tmp)
    >>> with_test[["scene_id", "split"]]
                  scene_id split
    0  20210430T205436_cis  test
    >>> without_test[["scene_id", "split"]]
                  scene_id  split
    0  20180124T194759_dmi  train
    """
    table = discover(data_dir)
    test = table[table["split"] == "test"]
    return (test if len(test) else table).reset_index(drop=True)
