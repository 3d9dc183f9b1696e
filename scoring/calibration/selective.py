"""Selective prediction: the risk-coverage curve, its area (AURC), and the accuracy and the
chart's challenge score of the most confident pixels.

Pixels are sorted by confidence, most confident first. Confidence is a whole percentage, so
many pixels share a level, and their order within it is arbitrary; the figures here never
depend on it:

- **the curve** keeps the most confident share c of the pixels, the pixels of the last level
  taken in part counting at that level's error rate (the expected value over every order of its
  pixels: "ties split proportionally"). Its points are reported at each level's end (coverage
  = share of pixels at that confidence or more, risk = share of them wrong); between two points
  the expected number of errors grows linearly, so risk(c) is exact everywhere;
- **AURC** is the area under that curve over coverage 0-1, integrated exactly: within a level
  whose pixels run from a to b (counts) with E_a errors before it and error rate r,
  risk = (E_a + (i - a) r) / i, whose integral is (E_a - a r) ln(b / a) + r (b - a);
- **the most confident q** (q = 50, 80, 90 %) are whole levels: every pixel with confidence t
  or more, t the highest level that keeps at least a share q (so the coverage reached, which
  is reported, can exceed q where a level is large: with every pixel at 100 %, it is 100 %).
  The accuracy and the challenge score (R2 for SIC, weighted F1 for SOD and FLOE, exactly as
  `scoring.metrics` computes them) are those of these pixels.
"""

from __future__ import annotations

import math

import numpy as np

from kit.charts import N_CLASSES
from scoring.calibration.counts import LEVELS, LevelCounts
from scoring.metrics.challenge import chart_score
from scoring.statistics.bootstrap import batch_scores

#: Coverages of the selective figures.
COVERAGES: tuple[float, ...] = (0.5, 0.8, 0.9)


def coverage_key(coverage: float) -> str:
    """The report's key of a coverage: "50" for 0.5.

    >>> [coverage_key(q) for q in COVERAGES]
    ['50', '80', '90']
    """
    return f"{round(100 * coverage):d}"


def risk_coverage_curve(totals: np.ndarray, correct: np.ndarray) -> list[dict]:
    """The curve's points, one per level holding pixels, most confident first: the level
    (confidence in percent), the coverage and the risk (share wrong) of the pixels at that
    level or above.

    Examples
    --------
    >>> totals, correct = np.zeros(101, int), np.zeros(101, int)
    >>> totals[[100, 50]], correct[[100, 50]] = [3, 1], [3, 0]
    >>> risk_coverage_curve(totals, correct)
    [{'confidence': 100, 'coverage': 0.75, 'risk': 0.0}, {'confidence': 50, 'coverage': 1.0, 'risk': 0.25}]
    """
    totals, correct = np.asarray(totals), np.asarray(correct)
    total = int(totals.sum())
    points, kept, right = [], 0, 0
    for level in range(LEVELS - 1, -1, -1):
        if totals[level]:
            kept += int(totals[level])
            right += int(correct[level])
            points.append(
                {"confidence": level, "coverage": kept / total, "risk": 1.0 - right / kept}
            )
    return points


def area_under_risk_coverage(totals: np.ndarray, correct: np.ndarray) -> np.ndarray:
    """AURC (fraction) of one pool ([LEVELS] counts) or many ([m, LEVELS]); NaN with no pixel.

    Examples
    --------
    Two levels of 2 pixels: at 90 % both right, at 40 % both wrong. Risk is 0 up to coverage
    1/2, then (i - 2) / i for i = 2..4 pixels kept: area = (1/4) * (2 - 2 ln 2).

    >>> totals, correct = np.zeros(101), np.zeros(101)
    >>> totals[[90, 40]], correct[90] = 2, 2
    >>> round(float(area_under_risk_coverage(totals, correct)), 6), round((2 - 2 * math.log(2)) / 4, 6)
    (0.153426, 0.153426)
    """
    totals = np.asarray(totals, dtype=np.float64)[..., ::-1]  # most confident first
    errors = totals - np.asarray(correct, dtype=np.float64)[..., ::-1]
    after = np.cumsum(totals, axis=-1)
    before = after - totals
    errors_before = np.cumsum(errors, axis=-1) - errors
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(totals > 0, errors / totals, 0.0)
        base = errors_before - before * rate  # 0 for the first level holding pixels
        log = np.where((before > 0) & (totals > 0), np.log(after / before), 0.0)
        area = (base * log + rate * totals).sum(axis=-1) / after[..., -1]
    return np.where(after[..., -1] > 0, area, np.nan)


def selective_threshold(totals: np.ndarray, coverage: float) -> int:
    """The highest level t such that the pixels at t or more are at least a share `coverage`
    of all (0 when there is no pixel).

    Examples
    --------
    >>> totals = np.zeros(101, int)
    >>> totals[[100, 80, 30]] = [5, 3, 2]
    >>> [selective_threshold(totals, q) for q in (0.5, 0.8, 0.9)]
    [100, 80, 30]
    """
    kept = np.cumsum(np.asarray(totals)[::-1])[::-1]  # pixels at each level or above
    if kept[0] == 0:
        return 0
    return int(np.flatnonzero(kept >= coverage * kept[0])[-1])


def selective_figures(levels: LevelCounts, chart: str, coverage: float) -> dict:
    """Threshold, coverage reached, pixels, accuracy (fraction) and the chart's challenge
    score (percent) of the most confident share `coverage` of one pool.

    Examples
    --------
    >>> levels = LevelCounts.empty("SOD")
    >>> levels.confusion[100, 1, 1] = 6   # six right at 100 %
    >>> levels.confusion[20, 1, 2] = 4    # four wrong at 20 %
    >>> selective_figures(levels, "SOD", 0.5)
    {'threshold': 100, 'coverage': 0.6, 'pixels': 6, 'accuracy': 1.0, 'score': 100.0}
    """
    totals, correct = levels.totals(), levels.correct()
    total = int(totals.sum())
    threshold = selective_threshold(totals, coverage)
    pixels = int(totals[threshold:].sum())
    score = chart_score(levels.chart_counts(threshold), chart)
    return {
        "threshold": threshold,
        "coverage": pixels / total if total else math.nan,
        "pixels": pixels,
        "accuracy": int(correct[threshold:].sum()) / pixels if pixels else math.nan,
        "score": 100.0 * score,
    }


def batch_selective(
    confusion: np.ndarray, out_squared: np.ndarray, chart: str, coverage: float
) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy (fraction) and challenge score (percent) of the most confident share
    `coverage` of each of m pools at once: `confusion` [m, LEVELS, n, n + 2] and
    `out_squared` [m, LEVELS] (float64). The same as `selective_figures`, within 1e-12.
    """
    n = N_CLASSES[chart]
    kept = confusion[:, ::-1].cumsum(axis=1)[:, ::-1]  # [m, LEVELS, n, n + 2]: level or above
    squared = out_squared[:, ::-1].cumsum(axis=1)[:, ::-1]
    totals = kept.sum(axis=(2, 3))  # [m, LEVELS]
    threshold = np.maximum((totals >= coverage * totals[:, :1]).sum(axis=1) - 1, 0)
    rows = np.arange(len(confusion))
    chosen = kept[rows, threshold]
    right = np.trace(chosen[:, :, :n], axis1=1, axis2=2)
    pixels = chosen.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.where(pixels > 0, right / pixels, np.nan)
    return accuracy, batch_scores(chosen, squared[rows, threshold], chart)
