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

import csv
import io
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from kit.charts import (
    CHARTS,
    ICE_EDGE_SIC_CLASS,
    MANIFEST_FILE,
    MASK,
    METRICS,
    N_CLASSES,
    REGION_COLUMN,
    SCENE_ID_PATTERN,
    SEASONS,
    combined_score,
)
from scoring.errors import ScoringError
from scoring.formatting import UNDEFINED, format_interval, format_percent, format_score, nan_to_none
from scoring.metrics import ChartCounts, ScoreAccumulator, chart_score, class_scores, ratio
from scoring.report import SCORES

#: Default number of bootstrap resamples, confidence level and seed.
DEFAULT_RESAMPLES = 2000
DEFAULT_CONFIDENCE = 0.95
DEFAULT_SEED = 0
#: Allowed range of the number of resamples.
MIN_RESAMPLES, MAX_RESAMPLES = 1, 1_000_000
#: Grouping keys of `breakdown`; "region" is the manifest's chart source region.
GROUP_KEYS: tuple[str, ...] = ("service", "month", "season", "region")
#: Scene ids spelled out in an error before "... (N more)".
LISTED_SCENES = 10


@dataclass(frozen=True)
class Bootstrap:
    """Settings of a bootstrap over scenes: resamples, confidence level (0-1) and seed.

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
    return _scores_on(accumulator, scenes, weights)


def _scores_on(
    accumulator: ScoreAccumulator, scenes: list[str], weights: np.ndarray
) -> dict[str, np.ndarray]:
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
# Paired comparison of two submissions on the same scenes
# ------------------------------------------------------------------------------------------


@dataclass
class Comparison:
    """Submission A against B on the same scenes: scores, differences A - B with a paired
    bootstrap interval, and the share of resamples in which A scored higher (ties apart).

    Every dictionary is keyed by "SIC", "SOD", "FLOE" and "combined"; scores in percent.
    """

    scenes: list[str]
    settings: Bootstrap
    a: dict[str, float]
    b: dict[str, float]
    difference: dict[str, float]
    interval: dict[str, Interval]
    a_better: dict[str, float]
    ties: dict[str, float]
    names: tuple[str, str] = ("A", "B")
    split: str | None = None
    #: Runs (e.g. training seeds) pooled per side, see `paired_bootstrap_runs`; (1, 1) for
    #: two single submissions.
    runs: tuple[int, int] = (1, 1)

    @classmethod
    def from_samples(
        cls,
        scenes: Sequence[str],
        settings: Bootstrap,
        points: tuple[Mapping[str, float], Mapping[str, float]],
        samples: tuple[Mapping[str, np.ndarray], Mapping[str, np.ndarray]],
        names: tuple[str, str] = ("A", "B"),
        split: str | None = None,
        runs: tuple[int, int] = (1, 1),
    ) -> Comparison:
        """The comparison from each side's point scores and its bootstrap samples (one value
        per resample, the same resamples on both sides): the interval of A - B and the shares
        of resamples in which A scored higher or the same (resamples with an undefined
        difference left out)."""
        point_a, point_b = points
        interval, better, ties = {}, {}, {}
        for name in SCORES:
            diff = samples[0][name] - samples[1][name]
            interval[name] = percentile_interval(diff, settings.confidence)
            defined = diff[~np.isnan(diff)]
            better[name] = float((defined > 0).mean()) if defined.size else math.nan
            ties[name] = float((defined == 0).mean()) if defined.size else math.nan
        return cls(
            scenes=list(scenes),
            settings=settings,
            a=dict(point_a),
            b=dict(point_b),
            difference={name: point_a[name] - point_b[name] for name in SCORES},
            interval=interval,
            a_better=better,
            ties=ties,
            names=names,
            split=split,
            runs=runs,
        )

    def verdicts(self) -> dict[str, str]:
        """Per score, what the interval of A - B says: "better" (A; the interval lies above
        0), "worse" (below 0), "not resolved" (it holds 0) or "undefined" (no bounds)."""
        return {name: verdict(self.interval[name]) for name in SCORES}

    def to_dict(self) -> dict:
        """JSON-ready dictionary; NaN becomes None."""
        data = asdict(self)
        data["names"] = list(self.names)
        data["runs"] = list(self.runs)
        data["verdicts"] = self.verdicts()
        return nan_to_none(data)

    def to_json(self, indent: int | None = 2) -> str:
        """The comparison as strict JSON."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def table(self) -> str:
        """Scores, difference, interval and P(A > B) per chart, as text."""
        a, b = self.names
        percent = format_percent(self.settings.confidence)
        where = f"{self.split} split" if self.split else "all scenes"
        over = "scenes"
        if self.runs != (1, 1):
            a = f"{a} (mean of {self.runs[0]} runs)"
            b = f"{b} (mean of {self.runs[1]} runs)"
            over = "scenes and runs"
        lines = [
            f"A = {a}",
            f"B = {b}",
            f"Paired comparison ({where}, {len(self.scenes)} scenes; {percent} paired percentile "
            f"bootstrap over {over}, {self.settings.resamples} resamples, seed "
            f"{self.settings.seed})",
            f"{'chart':<10}{'A':>9}{'B':>9}{'A - B':>9}  {percent + ' interval':<21}{'A > B':>7}",
        ]
        for name in SCORES:
            interval = self.interval[name]
            lines.append(
                f"{name:<10}{format_score(self.a[name]):>9}{format_score(self.b[name]):>9}"
                f"{format_score(self.difference[name], sign=True):>9}  "
                f"{format_interval(interval.low, interval.high, sign=True):<21}"
                f"{_fmt_share(self.a_better[name]):>7}"
            )
        return "\n".join(lines)


def paired_bootstrap(
    a: ScoreAccumulator,
    b: ScoreAccumulator,
    scenes: Sequence[str] | None = None,
    settings: Bootstrap = Bootstrap(),
    *,
    names: tuple[str, str] = ("A", "B"),
    split: str | None = None,
) -> Comparison:
    """Compare two submissions scored on the same scenes with a paired bootstrap.

    Each resample draws one set of scenes and scores both submissions on it, so the difference
    A - B varies only with the scenes drawn, not with two independent draws.

    Parameters
    ----------
    a, b : ScoreAccumulator
        The two submissions' per-scene counts.
    scenes : sequence of str, optional
        The scenes to compare on (default: A's scenes; both must hold the same scenes).
    settings : Bootstrap
        Resamples, confidence level and seed.
    names : tuple of str
        How A and B are called in the table.
    split : str, optional
        The split's name, for the table.

    Returns
    -------
    Comparison

    Raises
    ------
    ScoringError
        If A and B do not hold the same scenes (listed), or `scenes` names one they lack.

    Examples
    --------
    >>> rng = np.random.default_rng(3)
    >>> a, b = ScoreAccumulator(), ScoreAccumulator()
    >>> for i in range(4):
    ...     scene = f"2019010{i + 1}T000000_dmi"
    ...     for chart, n in N_CLASSES.items():
    ...         ref = rng.integers(0, n, 200)
    ...         a.update(scene, chart, np.where(rng.random(200) < 0.2, 0, ref), ref)
    ...         b.update(scene, chart, np.where(rng.random(200) < 0.5, 0, ref), ref)
    >>> result = paired_bootstrap(a, b, settings=Bootstrap(resamples=200))
    >>> result.difference["combined"] > 0, result.a_better["combined"]
    (True, 1.0)
    """
    if scenes is None:
        check_same_scenes(a.scenes, b.scenes, names)
        scenes = a.scenes
    scenes = list(scenes)
    held = set(a.scenes) & set(b.scenes)
    lacking = [s for s in scenes if s not in held]
    if lacking:
        raise ScoringError(f"no scores for scenes: {_listing(lacking)}")
    weights = resample_counts(len(scenes), settings.resamples, settings.seed).astype(np.float64)
    scores_a, scores_b = _scores_on(a, scenes, weights), _scores_on(b, scenes, weights)
    report_a, report_b = a.report(scenes), b.report(scenes)
    point_a = {**report_a.charts, "combined": report_a.combined}
    point_b = {**report_b.charts, "combined": report_b.combined}
    return Comparison.from_samples(
        scenes, settings, (point_a, point_b), (scores_a, scores_b), names, split
    )


def paired_bootstrap_runs(
    runs_a: Sequence[ScoreAccumulator],
    runs_b: Sequence[ScoreAccumulator],
    scenes: Sequence[str] | None = None,
    settings: Bootstrap = Bootstrap(),
    *,
    pair_runs: bool = False,
    names: tuple[str, str] = ("A", "B"),
    split: str | None = None,
) -> Comparison:
    """Compare two models, each trained several times (seeds), on the same scenes: a paired
    bootstrap over scenes and runs both.

    A model's score is the mean of its runs' scores (each run scored on the pooled pixels of
    the scenes, as the challenge scores it). Resample r draws one set of scenes, shared by
    every run of both models (the rows of `resample_counts`, as in `paired_bootstrap`), and,
    independently for each model, as many runs as it has, with replacement; the difference on
    that resample is the mean over A's drawn runs minus the mean over B's. So the interval
    holds the spread between scenes and between training runs. Runs are drawn as
    ``default_rng([seed, 1]).integers(0, len(runs_a), size=(resamples, len(runs_a)))`` for A
    and the same with ``[seed, 2]`` for B; with `pair_runs` (run i of A and of B share a seed,
    e.g. the same validation scenes) B's runs are A's draws. With one run each this is
    `paired_bootstrap` exactly. With few runs (3 seeds) the bootstrap under-states the spread
    between runs by a factor of about sqrt((k - 1) / k); the interval is a rough guide.

    Parameters
    ----------
    runs_a, runs_b : sequence of ScoreAccumulator
        Per-scene counts of every run of model A and of model B, on the same scenes.
    scenes : sequence of str, optional
        The scenes to compare on (default: the first run's scenes; all runs must hold them).
    settings : Bootstrap
        Resamples, confidence level and seed.
    pair_runs : bool
        Draw the same run indices for A and B (needs as many runs on each side).
    names : tuple of str
        How A and B are called in the table.
    split : str, optional
        The split's name, for the table.

    Returns
    -------
    Comparison
        `a` and `b` are the mean scores over runs, `runs` the number of runs per side.

    Raises
    ------
    ScoringError
        If a side has no run, runs hold different scenes (listed), or `pair_runs` is asked
        with unequal numbers of runs.

    Examples
    --------
    >>> rng = np.random.default_rng(5)
    >>> refs = {f"2019010{i + 1}T000000_dmi": {c: rng.integers(0, n, 300)
    ...         for c, n in N_CLASSES.items()} for i in range(5)}
    >>> def run(flip):
    ...     acc = ScoreAccumulator()
    ...     for scene, charts in refs.items():
    ...         for chart, ref in charts.items():
    ...             acc.update(scene, chart, np.where(rng.random(300) < flip, 0, ref), ref)
    ...     return acc
    >>> result = paired_bootstrap_runs([run(0.1), run(0.15), run(0.12)],
    ...                                [run(0.4), run(0.5)], settings=Bootstrap(resamples=200))
    >>> result.runs, result.verdicts()["combined"], result.interval["combined"].low > 0
    ((3, 2), 'better', True)
    """
    runs_a, runs_b = list(runs_a), list(runs_b)
    for side, runs in zip(names, (runs_a, runs_b)):
        if not runs:
            raise ScoringError(f"{side}: no runs to compare")
    if pair_runs and len(runs_a) != len(runs_b):
        raise ScoringError(
            f"pair_runs needs as many runs of {names[0]} as of {names[1]}, "
            f"got {len(runs_a)} and {len(runs_b)}"
        )
    first = runs_a[0]
    for side, runs in zip(names, (runs_a, runs_b)):
        for i, run in enumerate(runs):
            check_same_scenes(
                first.scenes, run.scenes, (f"{names[0]} run 1", f"{side} run {i + 1}")
            )
    scenes = list(first.scenes if scenes is None else scenes)
    lacking = [s for s in scenes if s not in set(first.scenes)]
    if lacking:
        raise ScoringError(f"no scores for scenes: {_listing(lacking)}")
    weights = resample_counts(len(scenes), settings.resamples, settings.seed).astype(np.float64)
    draws_a = resample_counts(len(runs_a), settings.resamples, [settings.seed, 1])
    draws_b = draws_a if pair_runs else resample_counts(
        len(runs_b), settings.resamples, [settings.seed, 2]
    )  # fmt: skip

    def side(runs: list[ScoreAccumulator], draws: np.ndarray) -> tuple[dict, dict]:
        per_run = [_scores_on(run, scenes, weights) for run in runs]  # each {name: [R]}
        reports = [run.report(scenes) for run in runs]
        point = {
            name: float(np.mean([r.combined if name == "combined" else r.charts[name]
                                 for r in reports]))
            for name in SCORES
        }  # fmt: skip
        samples = {}
        for name in SCORES:
            stacked = np.stack([scores[name] for scores in per_run], axis=1)  # [R, runs]
            mean = (draws * np.nan_to_num(stacked)).sum(axis=1) / len(runs)
            undefined = (np.isnan(stacked) & (draws > 0)).any(axis=1)  # a drawn run undefined
            samples[name] = np.where(undefined, np.nan, mean)
        return point, samples

    point_a, scores_a = side(runs_a, draws_a)
    point_b, scores_b = side(runs_b, draws_b)
    return Comparison.from_samples(
        scenes,
        settings,
        (point_a, point_b),
        (scores_a, scores_b),
        names,
        split,
        runs=(len(runs_a), len(runs_b)),
    )


def verdict(interval: Interval) -> str:
    """What a paired interval of A - B says about A.

    Parameters
    ----------
    interval : Interval
        A bootstrap interval of a difference A - B (`Comparison.interval`).

    Returns
    -------
    str
        "better" if the interval lies above 0, "worse" if below, "not resolved" if it holds
        0, "undefined" if it has no bounds.

    Examples
    --------
    >>> verdict(Interval(0.4, 3.1)), verdict(Interval(-6.5, 0.3)), verdict(Interval(-3, -1))
    ('better', 'not resolved', 'worse')
    """
    if math.isnan(interval.low) or math.isnan(interval.high):
        return UNDEFINED
    if interval.low > 0:
        return "better"
    if interval.high < 0:
        return "worse"
    return "not resolved"


def check_same_scenes(
    scenes_a: Iterable[str], scenes_b: Iterable[str], names: tuple[str, str] = ("A", "B")
) -> None:
    """ScoringError listing the scenes only one of two submissions holds, if any.

    Examples
    --------
    >>> check_same_scenes(["s1", "s2"], ["s2", "s1"])
    >>> check_same_scenes(["s1", "s2"], ["s2", "s3"])
    Traceback (most recent call last):
    ...
    scoring.errors.ScoringError: A and B cover different scenes (only in A: s1; only in B: s3)
    """
    set_a, set_b = set(scenes_a), set(scenes_b)
    if set_a == set_b:
        return
    only_a, only_b = sorted(set_a - set_b), sorted(set_b - set_a)
    raise ScoringError(
        f"{names[0]} and {names[1]} cover different scenes (only in {names[0]}: "
        f"{_listing(only_a) or 'none'}; only in {names[1]}: {_listing(only_b) or 'none'})"
    )


# ------------------------------------------------------------------------------------------
# Breakdowns: scores and detailed statistics per group of scenes
# ------------------------------------------------------------------------------------------


def default_manifest() -> Path:
    """The repository's `data_manifest.csv` (beside the `scoring` package)."""
    return Path(__file__).resolve().parents[1] / MANIFEST_FILE


def scene_groups(
    scenes: Sequence[str],
    key: str,
    *,
    groups_file: str | os.PathLike | None = None,
    manifest: str | os.PathLike | None = None,
) -> dict[str, str]:
    """Scene id -> group label for grouping `key`.

    - "service": "dmi" or "cis", from the scene id's suffix;
    - "month": "01"-"12", and "season": "DJF", "MAM", "JJA" or "SON", from the acquisition
      time the scene id starts with (``20180124T194759_dmi`` is January, DJF);
    - "region": the chart's source region, the `chart_source` column of `manifest` (default
      the repository's `data_manifest.csv`);
    - any other key: the column of that name in `groups_file`, a CSV with a `scene_id`
      column (a `region` column there takes precedence over the manifest).

    Raises ScoringError (one line) for an unknown key, or scenes the source does not cover
    (listed).

    Examples
    --------
    >>> scene_groups(["20180124T194759_dmi", "20190730T101830_cis"], "season")
    {'20180124T194759_dmi': 'DJF', '20190730T101830_cis': 'JJA'}
    >>> scene_groups(["20180124T194759_dmi"], "platform")
    Traceback (most recent call last):
    ...
    scoring.errors.ScoringError: unknown grouping key 'platform'; expected service, month, season or region (or a column of --groups FILE)
    """
    if groups_file is not None:
        table = _read_groups_file(groups_file)
        if key in table:
            return _covered(scenes, table[key], f"groups file {groups_file}", f"column {key}")
    if key in ("service", "month", "season"):
        labels, unknown = {}, []
        for scene in scenes:
            match = SCENE_ID_PATTERN.fullmatch(scene)
            if match is None:
                unknown.append(scene)
                continue
            month = int(match["time"][4:6])
            labels[scene] = {"service": match["service"], "month": f"{month:02d}"}.get(
                key, SEASONS.get(month, "")
            )
        if unknown:
            raise ScoringError(
                f"--by {key}: scene ids not of the form <YYYYmmddTHHMMSS>_<dmi|cis>: "
                f"{_listing(unknown)}"
            )
        return labels
    if key == "region":
        path = default_manifest() if manifest is None else Path(manifest)
        return _covered(scenes, _manifest_regions(path), f"manifest {path}", REGION_COLUMN)
    raise ScoringError(
        f"unknown grouping key {key!r}; expected {', '.join(GROUP_KEYS[:-1])} or "
        f"{GROUP_KEYS[-1]} (or a column of --groups FILE)"
    )


def _covered(scenes: Sequence[str], table: Mapping[str, str], source: str, column: str):
    missing = [s for s in scenes if not table.get(s)]
    if missing:
        raise ScoringError(f"{source}: no {column} for {len(missing)} scenes: {_listing(missing)}")
    return {s: table[s] for s in scenes}


def _read_groups_file(path: str | os.PathLike) -> dict[str, dict[str, str]]:
    """Column -> scene id -> label of a grouping CSV (`scene_id` plus label columns)."""
    rows, fields = _csv_rows(path, "groups file")
    if "scene_id" not in fields or len(fields) < 2:
        raise ScoringError(
            f"groups file {path}: needs a scene_id column and at least one group column"
        )
    table: dict[str, dict[str, str]] = {name: {} for name in fields if name != "scene_id"}
    for row in rows:
        scene = (row.get("scene_id") or "").strip()
        for name in table:
            if scene in table[name]:
                raise ScoringError(f"groups file {path}: scene {scene} is listed twice")
            table[name][scene] = (row.get(name) or "").strip()
    return table


def _manifest_regions(path: Path) -> dict[str, str]:
    rows, fields = _csv_rows(path, "manifest")
    if "scene_id" not in fields or REGION_COLUMN not in fields:
        raise ScoringError(f"manifest {path}: needs columns scene_id and {REGION_COLUMN}")
    return {row["scene_id"]: (row[REGION_COLUMN] or "").strip() for row in rows}


def _csv_rows(path: str | os.PathLike, what: str) -> tuple[list[dict], list[str]]:
    path = Path(path)
    if not path.is_file():
        raise ScoringError(f"{what} {path}: no such file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ScoringError(f"{what} {path}: not UTF-8 text (byte offset {exc.start})") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise ScoringError(f"{what} {path}: not valid CSV ({exc})") from None
    return rows, [name.strip() for name in reader.fieldnames or []]


def chart_statistics(counts: ChartCounts, chart: str) -> dict:
    """Detailed statistics of one chart's pooled counts (all ratios as fractions, None if 0/0).

    - every chart: the challenge score (percent), pixel count, overall accuracy and per class
      precision, recall, F1, IoU and support (out-of-class and no-prediction pixels are wrong);
    - SOD and FLOE: mean IoU over the classes present in the reference or the prediction;
    - SIC: per reference class the mean absolute error and bias (prediction - reference, in
      classes) over the pixels predicted with a SIC class (`excluded`: those predicted out of
      class or 255), and the ice-edge F1: SIC class 2 (20 %) and above as ice, 0-1 as water,
      the F1 of "ice" (a prediction out of class or 255 is not ice).

    Examples
    --------
    >>> acc = ScoreAccumulator()
    >>> acc.update("20180124T194759_dmi", "SIC", np.array([0, 1, 3, 10]), np.array([0, 2, 2, 10]))
    >>> stats = chart_statistics(acc.counts("SIC"), "SIC")
    >>> stats["ice_edge_f1"], stats["overall_accuracy"]
    (0.8, 0.5)
    >>> stats["classes"][2]["mae"], stats["classes"][2]["bias"]
    (1.0, 0.0)
    """
    confusion = counts.confusion
    n = N_CLASSES[chart]
    tp = np.diag(confusion[:, :n])
    support = confusion.sum(axis=1)
    total = int(support.sum())
    classes = [
        {**asdict(score), "iou": ratio(tp[k], score.support + score.predicted - tp[k])}
        for k, score in enumerate(class_scores(confusion, chart))
    ]
    stats = {
        "score": 100.0 * chart_score(counts, chart),
        "n_pixels": total,
        "overall_accuracy": ratio(tp.sum(), total),
    }
    if METRICS[chart] == "f1":
        ious = [c["iou"] for c in classes if c["iou"] is not None]
        stats["mean_iou"] = float(np.mean(ious)) if ious else None
    else:
        values = np.arange(n)
        for k, entry in enumerate(classes):
            scored = confusion[k, :n]
            pixels = int(scored.sum())
            errors = values - k
            entry["mae"] = ratio(int((scored * np.abs(errors)).sum()), pixels)
            entry["bias"] = ratio(int((scored * errors).sum()), pixels)
            entry["excluded"] = int(confusion[k, n:].sum())
        ice = slice(ICE_EDGE_SIC_CLASS, n)
        ice_tp = int(confusion[ice, ice].sum())
        ice_ref = int(support[ice].sum())
        ice_pred = int(confusion[:, ice].sum())
        stats["ice_edge_f1"] = ratio(2 * ice_tp, ice_ref + ice_pred)
    stats["classes"] = classes
    return stats


def breakdown(
    accumulator: ScoreAccumulator,
    scenes: Sequence[str],
    key: str,
    *,
    groups_file: str | os.PathLike | None = None,
    manifest: str | os.PathLike | None = None,
) -> dict[str, dict]:
    """Scores and statistics per group of `scenes` (`scene_groups`).

    Parameters
    ----------
    accumulator : ScoreAccumulator
        Holds a confusion matrix per scene and chart.
    scenes : sequence of str
        The scenes to group.
    key : str
        "service", "month", "season", "region", or a column of `groups_file`.
    groups_file, manifest : str or os.PathLike, optional
        Where group labels come from (see `scene_groups`).

    Returns
    -------
    dict
        Group label -> ``{"scenes": [...], "n_scenes", "combined", "charts": {chart:
        chart_statistics}}``, groups in sorted order; scores in percent.

    Raises
    ------
    ScoringError
        For an unknown key or scenes the source does not cover (from `scene_groups`).

    Examples
    --------
    >>> acc = ScoreAccumulator()
    >>> for scene, wrong in (("20180124T194759_dmi", 0), ("20180730T101830_cis", 1)):
    ...     for chart in CHARTS:
    ...         acc.update(scene, chart, np.array([0, 1, 1, wrong]), np.array([0, 1, 1, 0]))
    >>> groups = breakdown(acc, acc.scenes, "service")
    >>> list(groups), groups["dmi"]["combined"], groups["cis"]["charts"]["SOD"]["n_pixels"]
    (['cis', 'dmi'], 100.0, 4)
    """
    labels = scene_groups(scenes, key, groups_file=groups_file, manifest=manifest)
    result = {}
    for label in sorted(set(labels.values())):
        members = [s for s in scenes if labels[s] == label]
        charts = {c: chart_statistics(accumulator.counts(c, members), c) for c in CHARTS}
        scores = {c: charts[c]["score"] for c in CHARTS}
        combined = combined_score({c: np.float64(v) for c, v in scores.items()})
        result[label] = {
            "scenes": members,
            "n_scenes": len(members),
            "combined": float(combined),
            "charts": charts,
        }
    return result


def _nan(value) -> float:
    return math.nan if value is None else value


def _fmt_share(value: float) -> str:
    return UNDEFINED if math.isnan(value) else f"{value:.3f}"


def _listing(values: Sequence[str]) -> str:
    shown = ", ".join(values[:LISTED_SCENES])
    more = len(values) - LISTED_SCENES
    return shown + (f" ... ({more} more)" if more > 0 else "")


__all__ = [
    "Bootstrap",
    "Comparison",
    "Interval",
    "batch_scores",
    "bootstrap_intervals",
    "bootstrap_scores",
    "breakdown",
    "chart_statistics",
    "check_same_scenes",
    "paired_bootstrap",
    "percentile_interval",
    "resample_counts",
    "scene_groups",
]
