"""The SIC predictive interval: how often it holds the reference class, and how wide it is.

Coverage is the share of scored pixels (reference not 255) with an interval whose reference
SIC class lies in [low, high]; the interval claims `SIC_INTERVAL_PROBABILITY` (90 %), so a
calibrated interval covers about that share. Width is high - low in SIC classes (0: a single
class). Scored pixels the submission left at 255 have no interval: they are counted apart
(`no_interval`), not in the coverage.
"""

from __future__ import annotations

import math

import numpy as np

from kit.charts import SIC_INTERVAL_PROBABILITY
from scoring.calibration.counts import SIC_CLASSES, IntervalCounts

_CLASSES = np.arange(SIC_CLASSES)
#: [reference, low, high]: whether the interval holds the reference, and its width.
COVERED = (_CLASSES[None, :, None] <= _CLASSES[:, None, None]) & (
    _CLASSES[:, None, None] <= _CLASSES[None, None, :]
)
WIDTH = np.broadcast_to(_CLASSES[None, None, :] - _CLASSES[None, :, None], COVERED.shape)


def interval_sums(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixels, covered pixels and summed widths of one or many [..., 11, 11, 11] counts."""
    counts = np.asarray(counts)
    axes = (-3, -2, -1)
    return counts.sum(axis=axes), (counts * COVERED).sum(axis=axes), (counts * WIDTH).sum(axis=axes)


def interval_summary(interval: IntervalCounts) -> dict:
    """Coverage (fraction), mean width (classes), pixels, pixels without an interval, the
    interval's nominal probability, and the coverage per reference class.

    Examples
    --------
    >>> interval = IntervalCounts.empty()
    >>> interval.counts[5, 4, 6] = 3  # reference 5 in [4, 6]: covered, width 2
    >>> interval.counts[9, 6, 7] = 1  # reference 9 outside [6, 7]: width 1
    >>> summary = interval_summary(interval)
    >>> summary["coverage"], summary["mean_width"], summary["pixels"]
    (0.75, 1.75, 4)
    """
    pixels, covered, width = (int(x) for x in interval_sums(interval.counts))
    per_class = interval.counts.sum(axis=(1, 2))
    class_covered = (interval.counts * COVERED).sum(axis=(1, 2))
    return {
        "probability": SIC_INTERVAL_PROBABILITY,
        "coverage": covered / pixels if pixels else math.nan,
        "mean_width": width / pixels if pixels else math.nan,
        "pixels": pixels,
        "no_interval": int(interval.no_interval),
        "coverage_by_class": [
            int(c) / int(p) if p else None for c, p in zip(class_covered, per_class)
        ],
    }
