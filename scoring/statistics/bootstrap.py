"""Error bars for the challenge scores: bootstrap intervals over scenes and paired comparisons.

With 20 test scenes, the score depends on which scenes were chosen as much as on the model.
A percentile bootstrap over scenes shows how much: draw as many scenes as there are, with
replacement, pool their pixels, score, and repeat; the middle `confidence` share of those
scores is the interval. Pixels within a scene are strongly correlated (one ice chart polygon
covers thousands of them), so scenes, never pixels, are resampled; with few scenes the
interval is itself rough, and it says nothing about scenes unlike the test set.

Nothing is reread: pooling the pixels of resampled scenes is summing their confusion matrices
(`ScoreAccumulator` keeps one per scene and chart), and all resamples at once are one matrix
product, resample-by-scene counts @ scene-by-cell matrices. Resamples are drawn as
``numpy.random.default_rng(seed).integers(0, n_scenes, size=(resamples, n_scenes))`` over the
scenes in the report's order, so a plain loop over those indices gives the same numbers.

Examples
--------
>>> import numpy as np
>>> from scoring.metrics import ScoreAccumulator
>>> rng = np.random.default_rng(0)
>>> acc = ScoreAccumulator()
>>> for i, scene in enumerate(["20180124T194759_dmi", "20190430T101830_cis",
...                            "20210506T075557_dmi"]):
...     for chart, n in {"SIC": 11, "SOD": 6, "FLOE": 7}.items():
...         ref = rng.integers(0, n, (8, 8))
...         pred = np.where(rng.random((8, 8)) < 0.3 + 0.2 * i, rng.integers(0, n, (8, 8)), ref)
...         acc.update(scene, chart, pred, ref)
>>> boot = bootstrap_intervals(acc, acc.scenes, Bootstrap(resamples=500, seed=1))
>>> low, high = boot["combined"].low, boot["combined"].high
>>> bool(low < acc.report().combined < high)
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from kit.charts import (
    CHARTS,
    MASK,
    METRICS,
    N_CLASSES,
    combined_score,
)
from scoring.errors import ScoringError
from scoring.metrics.challenge import (
    ChartCounts,
    ScoreAccumulator,
)
from scoring.metrics.report import SCORES

#: Default number of bootstrap resamples, confidence level and seed.
DEFAULT_RESAMPLES = 2000
DEFAULT_CONFIDENCE = 0.95
DEFAULT_SEED = 0
#: Allowed range of the number of resamples.
MIN_RESAMPLES, MAX_RESAMPLES = 1, 1_000_000
#: Scene ids spelled out in an error before "... (N more)".
LISTED_SCENES = 10


@dataclass(frozen=True)
class Bootstrap:
    """Settings of a bootstrap over scenes: resamples, confidence level (0-1) and seed.

    Parameters
    ----------
    resamples : int
        Resamples of the scenes, `MIN_RESAMPLES` to `MAX_RESAMPLES` (default 2000).
    confidence : float
        The share of the resampled scores an interval holds, between 0 and 1 (default 0.95).
    seed : int
        Seed of `numpy.random.default_rng` drawing the resamples, 0 or more (default 0).

    Raises
    ------
    ScoringError
        For a value of the wrong type or out of range, naming it.

    Examples
    --------
    >>> Bootstrap()
    Bootstrap(resamples=2000, confidence=0.95, seed=0)
    >>> Bootstrap(confidence=95)
    Traceback (most recent call last):
    ...
    scoring.errors.ScoringError: confidence must lie between 0 and 1 (e.g. 0.95), got 95
    """

    resamples: int = DEFAULT_RESAMPLES
    confidence: float = DEFAULT_CONFIDENCE
    seed: int = DEFAULT_SEED

    def __post_init__(self) -> None:
        resamples = self.resamples
        if isinstance(resamples, bool) or not isinstance(resamples, (int, np.integer)):
            raise ScoringError(f"resamples must be a whole number, got {resamples!r}")
        if not MIN_RESAMPLES <= resamples <= MAX_RESAMPLES:
            raise ScoringError(
                f"resamples must lie between {MIN_RESAMPLES} and {MAX_RESAMPLES}, got {resamples}"
            )
        confidence = self.confidence
        if isinstance(confidence, bool) or not isinstance(confidence, (int, float, np.number)):
            raise ScoringError(f"confidence must be a number, got {confidence!r}")
        if not 0 < confidence < 1:  # also refuses NaN
            raise ScoringError(
                f"confidence must lie between 0 and 1 (e.g. 0.95), got {confidence:g}"
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)):
            raise ScoringError(f"seed must be a whole number, got {self.seed!r}")
        if self.seed < 0:
            raise ScoringError(f"seed must be 0 or more, got {self.seed}")


@dataclass
class Interval:
    """A percentile bootstrap interval, in percent; `undefined`: resamples where the score was
    undefined (e.g. no valid pixel), left out of the percentiles. NaN bounds if all were."""

    low: float
    high: float
    undefined: int = 0


def resample_counts(n_scenes: int, resamples: int, seed: int | Sequence[int]) -> np.ndarray:
    """How often each scene is drawn in each resample: int64 ``[resamples, n_scenes]``.

    `seed` is anything `numpy.random.default_rng` takes (an int, or a sequence of ints for an
    independent stream, as `paired_bootstrap_runs` draws runs).

    Draws ``default_rng(seed).integers(0, n_scenes, size=(resamples, n_scenes))`` and counts
    each row, so that row r pools the scenes of the r-th row of indices.

    Examples
    --------
    >>> resample_counts(3, 2, seed=0)
    array([[0, 2, 1],
           [3, 0, 0]])
    >>> np.random.default_rng(0).integers(0, 3, size=(2, 3))  # the scenes drawn
    array([[2, 1, 1],
           [0, 0, 0]])
    """
    if n_scenes < 1:
        raise ScoringError("no scenes to resample")
    indices = np.random.default_rng(seed).integers(0, n_scenes, size=(resamples, n_scenes))
    offsets = n_scenes * np.arange(resamples)[:, None]
    flat = np.bincount((indices + offsets).ravel(), minlength=resamples * n_scenes)
    return flat.reshape(resamples, n_scenes).astype(np.int64)


def stacked_counts(
    accumulator: ScoreAccumulator, chart: str, scenes: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """The per-scene confusion matrices of `chart`, stacked ``[n_scenes, n, n + 2]`` (float64:
    exact for counts below 2**53), and each scene's out-of-class squared error ``[n_scenes]``.

    A scene without counts for the chart (no valid pixel) contributes zeros.
    """
    empty = ChartCounts.empty(chart)
    counts = [accumulator.scene_counts(scene, chart) or empty for scene in scenes]
    confusion = np.stack([c.confusion for c in counts]).astype(np.float64)
    squared = np.array([float(sum(c.out_squared_error)) for c in counts])
    return confusion, squared


def batch_scores(confusion: np.ndarray, out_squared: np.ndarray, chart: str) -> np.ndarray:
    """The chart score in percent of each of many pooled confusion matrices at once.

    `confusion` is ``[m, n, n + 2]`` (`ChartCounts.confusion` of m pools), `out_squared` the
    pools' out-of-class squared errors ``[m]`` (ignored by F1). The same semantics as
    `scoring.metrics.chart_score` (NaN when undefined), in floating point: equal to it within
    1e-12 relative.
    """
    n = N_CLASSES[chart]
    support = confusion.sum(axis=2)  # [m, n]
    total = support.sum(axis=1)
    if METRICS[chart] == "f1":
        tp = confusion[:, np.arange(n), np.arange(n)]
        predicted = confusion[:, :, :n].sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            f1 = np.where(support > 0, 2 * tp / (support + predicted), 0.0)
            score = (support * f1).sum(axis=1) / total
        return 100.0 * np.where(total > 0, score, np.nan)
    classes = np.arange(n, dtype=np.float64)
    values = np.array([*range(n), MASK], dtype=np.float64)
    known = np.delete(confusion, n, axis=2)  # columns of one predicted value each
    squared_error = (known * (classes[:, None] - values[None, :]) ** 2).sum(axis=(1, 2))
    squared_error = squared_error + out_squared
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (support @ classes) / total
        spread = (support * (classes[None, :] - mean[:, None]) ** 2).sum(axis=1)
        score = 1.0 - squared_error / spread
    constant = (support > 0).sum(axis=1) <= 1
    score = np.where(constant, np.where(squared_error == 0, 1.0, 0.0), score)
    return 100.0 * np.where(total >= 2, score, np.nan)


def bootstrap_scores(
    accumulator: ScoreAccumulator, scenes: Sequence[str], settings: Bootstrap = Bootstrap()
) -> dict[str, np.ndarray]:
    """Each chart's and the combined score in percent on every resample of `scenes`.

    Returns ``{"SIC": [resamples], "SOD": ..., "FLOE": ..., "combined": ...}``; see the module
    docstring for how resamples are drawn.
    """
    scenes = list(scenes)
    weights = resample_counts(len(scenes), settings.resamples, settings.seed).astype(np.float64)
    return scores_on(accumulator, scenes, weights)


def scores_on(
    accumulator: ScoreAccumulator, scenes: list[str], weights: np.ndarray
) -> dict[str, np.ndarray]:
    """Scores of each chart and the combined score, one per row of `weights` (resample-by-scene
    counts over `scenes`)."""
    scores = {}
    for chart in CHARTS:
        confusion, squared = stacked_counts(accumulator, chart, scenes)
        pooled = (weights @ confusion.reshape(len(scenes), -1)).reshape(-1, *confusion.shape[1:])
        scores[chart] = batch_scores(pooled, weights @ squared, chart)
    scores["combined"] = combined_score(scores)
    return scores


def percentile_interval(samples: np.ndarray, confidence: float) -> Interval:
    """The central `confidence` share of the defined `samples` (numpy's linear percentiles).

    Examples
    --------
    >>> percentile_interval(np.array([1.0, 2.0, 3.0, np.nan, 4.0, 5.0]), 0.5)
    Interval(low=2.0, high=4.0, undefined=1)
    """
    defined = samples[~np.isnan(samples)]
    undefined = int(samples.size - defined.size)
    if not defined.size:
        return Interval(math.nan, math.nan, undefined)
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(defined, [tail, 100 - tail])
    return Interval(float(low), float(high), undefined)


def bootstrap_intervals(
    accumulator: ScoreAccumulator, scenes: Sequence[str], settings: Bootstrap = Bootstrap()
) -> dict[str, Interval]:
    """Percentile bootstrap interval of each chart's and the combined score over `scenes`.

    Parameters
    ----------
    accumulator : ScoreAccumulator
        Holds a confusion matrix per scene and chart (a `ScoredSubmission.accumulator`).
    scenes : sequence of str
        The scenes scored, in the report's order (the order fixes which scene each drawn index
        means).
    settings : Bootstrap
        Resamples, confidence level and seed.

    Returns
    -------
    dict of str to Interval
        Keys "SIC", "SOD", "FLOE" and "combined"; bounds in percent.

    Examples
    --------
    One scene: every resample is that scene, so the interval is the score itself.

    >>> acc = ScoreAccumulator()
    >>> for chart in CHARTS:
    ...     acc.update("20180124T194759_dmi", chart, np.array([0, 1, 1, 0]),
    ...                np.array([0, 1, 0, 0]))
    >>> boot = bootstrap_intervals(acc, acc.scenes, Bootstrap(resamples=10))
    >>> round(boot["SOD"].low, 3), round(boot["SOD"].high, 3), round(acc.report().charts["SOD"], 3)
    (76.667, 76.667, 76.667)
    """
    scores = bootstrap_scores(accumulator, scenes, settings)
    return {name: percentile_interval(scores[name], settings.confidence) for name in SCORES}


def intervals_dict(intervals: Mapping[str, Interval], settings: Bootstrap) -> dict:
    """JSON-ready intervals with their settings (`Report.intervals`)."""
    return {
        "method": "percentile bootstrap over scenes",
        **asdict(settings),
        **{name: asdict(interval) for name, interval in intervals.items()},
    }


# ------------------------------------------------------------------------------------------


def listing(values: Sequence[str]) -> str:
    """`values` joined by commas, the first `LISTED_SCENES` of them, then "... (N more)"."""
    shown = ", ".join(values[:LISTED_SCENES])
    more = len(values) - LISTED_SCENES
    return shown + (f" ... ({more} more)" if more > 0 else "")
