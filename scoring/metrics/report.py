"""The result of scoring: per-chart and combined scores with their breakdowns, as plain data.

A `Report` is what `scoring.score_submission` and `ScoreAccumulator.report` return. Scores are in
percent (x100), unrounded, with the figures the challenge published beside them: each chart
score rounded to `SCORE_DECIMALS` with numpy, and the combined score computed from those
ROUNDED chart scores and rounded again (`challenge_combined`), as the starter kit's
`compute_metrics` does. An undefined score (no valid reference pixel, or fewer than two for R2)
is NaN in Python and `null` in JSON.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from kit.charts import CHART_WEIGHTS, CHARTS, SCORE_DECIMALS
from scoring.metrics.formatting import format_interval, format_percent, format_score, nan_to_none
from scoring.registry import SCORE_STATISTICS

#: The score names of a report, its intervals and comparisons: the charts, then the combined score.
SCORES: tuple[str, ...] = (*CHARTS, "combined")


def rounded(score: float) -> float:
    """A score rounded as the challenge rounded it: `numpy.round(score, 3)`, which scales by
    1000 and rounds half to even on the binary result (not always Python's `round`). NaN stays
    NaN."""
    return float(np.round(score, SCORE_DECIMALS))


def challenge_combined(charts_rounded: Mapping[str, float]) -> float:
    """The combined score as the challenge published it, from the ROUNDED chart scores.

    The starter kit's `compute_combined_score`: (2 SIC + 2 SOD + 1 FLOE) / 5 of the chart scores
    already rounded by `rounded`, rounded again; it can differ by 0.001 from rounding the
    unrounded combined score. Summed in the kit's order, so the result is the same float. NaN if
    a chart score is NaN.
    """
    total, weights = 0.0, 0.0
    for chart in CHARTS:
        total += charts_rounded[chart] * CHART_WEIGHTS[chart]
        weights += CHART_WEIGHTS[chart]
    return rounded(total / weights)


def published_scores(charts: Mapping[str, float]) -> dict[str, float]:
    """The challenge's figures from unrounded chart scores: each chart `rounded`, and
    "combined" by `challenge_combined`."""
    charts_rounded = {chart: rounded(charts[chart]) for chart in CHARTS}
    return {**charts_rounded, "combined": challenge_combined(charts_rounded)}


@dataclass
class ClassScore:
    """Precision, recall and F1 of one class, with its reference and predicted pixel counts.

    A ratio is None when it is undefined (0/0): a class absent from the reference has no recall,
    a class never predicted has no precision.
    """

    value: int
    name: str
    support: int
    predicted: int
    precision: float | None
    recall: float | None
    f1: float | None


@dataclass
class ChartResult:
    """Score and breakdown of one chart over the scored scenes.

    `confusion[i][j]` counts the valid reference pixels of class i predicted as
    `confusion_columns[j]`: the classes, then "out of class" (any other value, scored as wrong),
    then the "no prediction" value 255. `no_prediction` and `out_of_class` sum those columns.
    """

    chart: str
    metric: str
    score: float
    score_rounded: float
    n_pixels: int
    no_prediction: int
    out_of_class: int
    classes: list[ClassScore]
    confusion: list[list[int]]
    confusion_columns: list[str]


@dataclass
class Report:
    """Scores of a submission (or of validation predictions) against reference charts.

    - `combined`: (2 SIC + 2 SOD + 1 FLOE) / 5 in percent, unrounded; `combined_rounded`: the
      challenge's figure, from the rounded chart scores (`challenge_combined`).
    - `charts`: chart name -> score in percent, unrounded; `charts_rounded`: numpy-rounded to
      3 decimals, as published.
    - `per_scene`: scene id -> {chart: score, "combined": score}, each scene scored alone.
    - `details`: chart name -> `ChartResult` (per-class scores and confusion matrix).
    - `warnings`: what was accepted but is worth knowing (extra variables, no-prediction pixels,
      out-of-class values per variable).
    - `scenes`: the scene ids the scores cover; `split`: the split name when one was chosen.
    - `statistics`: score statistic name -> its result, for each statistic asked for
      (`scoring.registry.SCORE_STATISTICS`; `scoring.scorer.add_statistics`). The JSON report
      has each result at its top level under the statistic's name. The two the scorer ships
      have properties: `intervals` (with ``ci``: the bootstrap settings and an interval per
      chart and "combined", else None) and `breakdowns` (grouping key -> group label -> scores
      of its scenes; empty unless asked for).
    """

    combined: float
    combined_rounded: float
    charts: dict[str, float]
    charts_rounded: dict[str, float]
    per_scene: dict[str, dict[str, float]]
    details: dict[str, ChartResult]
    warnings: list[str] = field(default_factory=list)
    scenes: list[str] = field(default_factory=list)
    split: str | None = None
    statistics: dict[str, Any] = field(default_factory=dict)

    @property
    def intervals(self) -> dict | None:
        """The bootstrap intervals (``ci``), or None when not asked for."""
        return self.statistics.get("intervals")

    @property
    def breakdowns(self) -> dict[str, dict]:
        """The breakdowns by grouping key (``by``); empty when not asked for."""
        return self.statistics.get("breakdowns", {})

    def to_dict(self) -> dict:
        """JSON-ready dictionary; NaN scores become None. Each statistic's result is a
        top-level entry under its name; ``intervals`` (None) and ``breakdowns`` (empty) are
        always there."""
        data = asdict(self)
        data.update({"intervals": None, "breakdowns": {}, **data.pop("statistics")})
        return nan_to_none(data)

    def to_json(self, indent: int | None = 2) -> str:
        """The report as JSON text (strict JSON: no NaN)."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def table(self) -> str:
        """Per-chart and combined scores as a small text table, warnings below."""
        title = f"Scores ({self.split} split" if self.split else "Scores (all scenes"
        head = f"{'chart':<10}{'metric':<8}{'score':>10}"
        title += f", {len(self.scenes)} scenes"
        ci = self.intervals
        if ci:
            head += f"  {format_percent(ci['confidence'])} interval"
            title += f"; bootstrap over scenes, {ci['resamples']} resamples, seed {ci['seed']}"
        lines = [f"{title})", head]
        rows = [(c, self.details[c].metric, self.details[c].score_rounded) for c in CHARTS]
        for name, metric, score in [*rows, ("combined", "", self.combined_rounded)]:
            line = f"{name:<10}{metric:<8}{format_score(score):>10}"
            if ci:
                line += "  " + format_interval(ci[name]["low"], ci[name]["high"])
            lines.append(line)
        for name, result in self.statistics.items():
            table = SCORE_STATISTICS[name].table
            if table is not None:
                lines += ["", table(result)]
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)
