"""Paired comparison of two submissions (or two sets of runs) on the same scenes: the paired
bootstrap of the differences, its verdict, and the check that both cover the same scenes."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from scoring.errors import ScoringError
from scoring.metrics.challenge import (
    ScoreAccumulator,
)
from scoring.metrics.formatting import (
    UNDEFINED,
    format_interval,
    format_percent,
    format_score,
    nan_to_none,
)
from scoring.metrics.report import SCORES
from scoring.statistics.bootstrap import (
    Bootstrap,
    Interval,
    listing,
    percentile_interval,
    resample_counts,
    scores_on,
)

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
    >>> from kit.charts import N_CLASSES
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
        raise ScoringError(f"no scores for scenes: {listing(lacking)}")
    weights = resample_counts(len(scenes), settings.resamples, settings.seed).astype(np.float64)
    scores_a, scores_b = scores_on(a, scenes, weights), scores_on(b, scenes, weights)
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
    >>> from kit.charts import N_CLASSES
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
        raise ScoringError(f"no scores for scenes: {listing(lacking)}")
    weights = resample_counts(len(scenes), settings.resamples, settings.seed).astype(np.float64)
    draws_a = resample_counts(len(runs_a), settings.resamples, [settings.seed, 1])
    draws_b = draws_a if pair_runs else resample_counts(
        len(runs_b), settings.resamples, [settings.seed, 2]
    )  # fmt: skip

    def side(runs: list[ScoreAccumulator], draws: np.ndarray) -> tuple[dict, dict]:
        per_run = [scores_on(run, scenes, weights) for run in runs]  # each {name: [R]}
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
        f"{listing(only_a) or 'none'}; only in {names[1]}: {listing(only_b) or 'none'})"
    )


# ------------------------------------------------------------------------------------------


def _fmt_share(value: float) -> str:
    return UNDEFINED if math.isnan(value) else f"{value:.3f}"
