"""Median-frequency class weights (AI4SeaIce, eq. 1-2) from scenes or from the data manifest.

frequency_c = n_c / sum_k n_k  (eq. 1),   weight_c = median_k(frequency_k) / frequency_c  (eq. 2)

`n_c` counts the labelled pixels of class c (MASK excluded). Classes absent from the data get
weight 0 and are left out of the median (a loss cannot learn them anyway).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from kit import charts
from kit.data.scene import read_scene_charts
from kit.data.sources import scene_sources
from kit.errors import KitError

#: AI4SeaIce's published SIC weights for classes 0-10 (its own data release), for comparison.
AI4SEAICE_SIC_WEIGHTS: tuple[float, ...] = (
    0.039, 1.413, 0.907, 0.925, 1.089, 1.401, 1.233, 1.154, 0.702, 0.369, 0.099,
)  # fmt: skip


def median_frequency_weights(counts) -> np.ndarray:
    """Weights (float64) from per-class pixel counts."""
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 1 or np.any(counts < 0):
        raise KitError(f"class counts must be a 1-D array of non-negative numbers, got {counts}")
    present = counts > 0
    if not present.any():
        raise KitError("class counts are all zero: no labelled pixel")
    frequency = counts / counts.sum()
    weights = np.zeros_like(frequency)
    weights[present] = np.median(frequency[present]) / frequency[present]
    return weights


def count_classes(scenes, chart_names=charts.CHARTS) -> dict[str, np.ndarray]:
    """Pixel count per class and chart over scenes, at 80 m, for class weights or statistics.

    Parameters
    ----------
    scenes : table or sequence of paths
        A `discover()` table (test scenes read their `_prep_reference.nc` charts) or scene
        file paths.
    chart_names : sequence of str
        The charts to count (default SIC, SOD, FLOE).

    Returns
    -------
    dict of str to numpy.ndarray
        Per chart, int64 counts of its classes 0 .. N-1; MASK (255) pixels are not counted.

    Raises
    ------
    KitError
        If a scene cannot be read or its charts do not match its grid.

    Examples
    --------
    >>> import tempfile
    >>> from kit.data import discover
    >>> from kit.data.synthetic import SynthConfig, write_dataset
    >>> tmp = tempfile.TemporaryDirectory()
    >>> config = SynthConfig(n_train=1, n_test=0, size=(100, 100))
    >>> _ = write_dataset(tmp.name, config, workers=1, progress=False)
    >>> counts = count_classes(discover(tmp.name))
    >>> {chart: len(n) for chart, n in counts.items()}
    {'SIC': 11, 'SOD': 6, 'FLOE': 7}
    >>> 0 < int(counts["SIC"].sum()) <= 100 * 100  # land and no data carry no label
    True
    >>> tmp.cleanup()
    """
    totals = {c: np.zeros(charts.N_CLASSES[c], dtype=np.int64) for c in chart_names}
    for path, reference in scene_sources(scenes):
        found = read_scene_charts(path, reference, chart_names)
        for chart, values in found.items():
            counts = np.bincount(values.ravel(), minlength=256)
            totals[chart] += counts[: charts.N_CLASSES[chart]]
    return totals


def manifest_counts(
    manifest: str | os.PathLike, chart_names=charts.CHARTS, split: str | None = "train"
) -> dict[str, np.ndarray]:
    """Per-class pixel counts summed over the rows of `data_manifest.csv` (columns SIC_0 ...).

    Class weights of the real dataset without reading its 250+ GB: the manifest holds every
    training scene's class counts.

    Parameters
    ----------
    manifest : str or os.PathLike
        A CSV with one row per scene and a column ``<chart>_<class>`` per class.
    chart_names : sequence of str
        The charts to sum (default SIC, SOD, FLOE).
    split : str or None
        Keep only the rows of this split when the manifest has a ``split`` column (default
        ``train``); None sums every row.

    Returns
    -------
    dict of str to numpy.ndarray
        Per chart, int64 counts of its classes 0 .. N-1 (empty cells count 0).

    Raises
    ------
    KitError
        If the file is missing or lacks a class count column.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> columns = {"split": ["train", "train", "test"]}
    >>> columns.update({f"SOD_{k}": [10 * k, 10, 99] for k in range(6)})
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = Path(tmp, "manifest.csv")
    ...     pd.DataFrame(columns).to_csv(path, index=False)
    ...     counts = manifest_counts(path, chart_names=("SOD",))
    >>> counts["SOD"].tolist()
    [10, 20, 30, 40, 50, 60]
    >>> manifest_counts(path)
    Traceback (most recent call last):
    ...
    kit.errors.KitError: .../manifest.csv: no such manifest
    """
    path = Path(manifest)
    if not path.is_file():
        raise KitError(f"{path}: no such manifest")
    table = pd.read_csv(path)
    if split is not None and "split" in table.columns:
        table = table[table["split"] == split]
    totals = {}
    for chart in chart_names:
        columns = [f"{chart}_{k}" for k in range(charts.N_CLASSES[chart])]
        missing = [c for c in columns if c not in table.columns]
        if missing:
            raise KitError(f"{path}: no class count column(s) {', '.join(missing)}")
        totals[chart] = table[columns].fillna(0).to_numpy(dtype=np.int64).sum(axis=0)
    return totals


def class_weights(counts: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Median-frequency weights per chart from per-chart class counts (AI4SeaIce eq. 1-2).

    Rare classes weigh more in the loss, so a model does not learn only open water.

    Parameters
    ----------
    counts : dict of str to array_like
        Per chart, pixel counts per class (`count_classes`, `manifest_counts`).

    Returns
    -------
    dict of str to numpy.ndarray
        Per chart, float64 weights median(frequency) / frequency; 0 for absent classes, which
        are also left out of the median.

    Raises
    ------
    KitError
        If a chart's counts are not a 1-D array of non-negative numbers, or all zero.

    Examples
    --------
    >>> weights = class_weights({"SOD": [70, 0, 10, 20, 0, 0]})
    >>> weights["SOD"].round(3).tolist()
    [0.286, 0.0, 2.0, 1.0, 0.0, 0.0]
    >>> class_weights({"SOD": [0, 0, 0, 0, 0, 0]})
    Traceback (most recent call last):
    ...
    kit.errors.KitError: class counts are all zero: no labelled pixel
    """
    return {chart: median_frequency_weights(values) for chart, values in counts.items()}
