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
    """Pixel count per class and chart over scenes (paths or a `discover()` table), at 80 m."""
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

    `split` keeps only the rows of that split when the manifest has a `split` column.
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
    """Median-frequency weights per chart from per-chart class counts."""
    return {chart: median_frequency_weights(values) for chart, values in counts.items()}
