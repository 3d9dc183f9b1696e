"""Which scenes to use: the training/validation split and the scenes to predict.

Both take plain values (a folder or a `discover()` table, scene ids, a fraction, a seed), so the
notebooks, the benchmarks and `kit.experiment` choose scenes the same way. The names `demo` and
`demo-quick` stand for the synthetic demo datasets, generated on first use.
"""

from __future__ import annotations

import os
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
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training and validation scenes from a dataset's training split.

    Parameters
    ----------
    scenes : str, path-like or DataFrame
        A dataset folder (or a demo name, see `resolve_data_dir`), or its `discover()` table.
    val_scenes : sequence of str
        Ids of the validation scenes; when empty, a seeded `val_fraction` is drawn instead.
    val_fraction : float
        Share of the training scenes drawn for validation (at least one when above 0, never
        all of them).
    seed : int
        Seed of that draw.
    setting : str
        The setting that `val_scenes` came from, named by the errors about it.

    Returns
    -------
    training, validation : DataFrame
        `discover()` rows of the training split, re-indexed from 0.

    Raises
    ------
    KitError
        When the folder does not exist or holds no scenes, it has no training scenes, a
        validation id is not a training scene, or every training scene would be validating.
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
        n_val = round(val_fraction * len(table))
        n_val = min(max(n_val, 1 if val_fraction > 0 else 0), len(table) - 1)
        picked = np.random.default_rng(seed).permutation(len(table))[:n_val]
        is_val = table.index.isin(picked)
    training, validation = table[~is_val], table[is_val]
    if training.empty:
        raise KitError(f"{setting}: every training scene is a validation scene")
    return training.reset_index(drop=True), validation.reset_index(drop=True)


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
    """
    table = discover(data_dir)
    test = table[table["split"] == "test"]
    return (test if len(test) else table).reset_index(drop=True)
