"""Pictures of the score statistics: forest plots of intervals, paired differences, breakdowns.

- `forest_plot`: each chart's and the combined score of one or several submissions, with their
  bootstrap intervals over scenes (`score_submission(..., ci=...)`), one panel per score;
- `difference_plot`: a paired comparison (`compare_submissions`): A - B per score with its
  paired bootstrap interval, a line at 0 and the share of resamples in which A scored higher;
- `breakdown_heatmap`: the scores per group of scenes (`score_submission(..., by=[...])`), a
  heat map of scores x groups per grouping key, each cell labelled with its score;
- `report_figure`: what `autoice score --png` draws (the forest plot and/or the heat maps, and
  with an uncertainty file the calibration pictures);
- `reliability_diagram`, `risk_coverage_plot`, `calibration_figure`: calibration (issue 24),
  defined in `scoring.calibration.plots` and importable from here.

Each returns a bare `matplotlib.figure.Figure` (drawn with Agg, so a notebook's backend is
left alone; show one with ``display(fig)``), and accepts a `Report` or `Comparison` or the
dictionaries of their JSON files. Undefined scores are drawn as such (no marker, a grey cell
reading "undefined"), never as 0. This is the only scoring module that imports matplotlib:
the scorer itself does not need it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, is_dataclass

import cmocean
import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure, SubFigure

from kit.atomic import atomic_path
from kit.charts import CHARTS, METRICS
from scoring.calibration.plots import (
    calibration_figure,
    reliability_diagram,
    risk_coverage_plot,
)
from scoring.errors import ScoringError
from scoring.metrics.formatting import UNDEFINED, format_percent, format_score, plain_label
from scoring.metrics.report import SCORES

#: Panel titles of the scores.
SCORE_TITLES = {
    **{c: f"{c} ({'R²' if METRICS[c] == 'r2' else 'F1'})" for c in CHARTS},
    "combined": "combined",
}
#: Colour of cells and labels of undefined scores, and of a difference whose interval holds 0.
UNDEFINED_COLOUR = "#d9d9d9"
UNDECIDED_COLOUR = "0.45"
#: Colour map of the breakdown heat maps (scores 0-100 %).
HEATMAP_MAP = cmocean.cm.dense
#: Resolution of the PNG files written by `save_png`.
PNG_DPI = 110


def forest_plot(reports, *, figure: Figure | SubFigure | None = None) -> Figure | SubFigure:
    """A forest plot: each chart's and the combined score of one or several submissions with
    their bootstrap intervals over scenes, one panel per score, one row per submission.

    Parameters
    ----------
    reports : Report, dict, or mapping of str to Report or dict
        One scored submission, or submission name -> scored submission, each scored with
        intervals (`score_submission(..., ci=...)`, or the dictionary of its JSON report).
        Rows run top to bottom in the mapping's order.
    figure : Figure or SubFigure, optional
        Where to draw (default: a new `Figure`).

    Returns
    -------
    Figure or SubFigure
        Four Axes, titled "SIC (R²)", "SOD (F1)", "FLOE (F1)" and "combined"; in each, one
        errorbar per submission (the unrounded score, the interval as the bar), labelled with
        the submission's name.

    Raises
    ------
    ScoringError
        If a report has no intervals, or the reports' confidence levels differ.

    Examples
    --------
    >>> report = {"charts": {"SIC": 40.0, "SOD": 75.0, "FLOE": 73.8}, "combined": 60.7,
    ...           "scenes": ["s1", "s2", "s3"],
    ...           "intervals": {"resamples": 2000, "confidence": 0.95, "seed": 0,
    ...                         "SIC": {"low": 39.2, "high": 40.4},
    ...                         "SOD": {"low": 74.8, "high": 75.2},
    ...                         "FLOE": {"low": 73.6, "high": 74.0},
    ...                         "combined": {"low": 60.5, "high": 60.9}}}
    >>> fig = forest_plot({"model A": report})
    >>> [ax.get_title() for ax in fig.axes]
    ['SIC (R²)', 'SOD (F1)', 'FLOE (F1)', 'combined']
    >>> bar = fig.axes[3].containers[0]
    >>> bar.get_label(), bar.lines[0].get_xdata().tolist()
    ('model A', [60.7])
    """
    if _is_report(reports):
        reports = {"submission": reports}
    if not isinstance(reports, Mapping) or not reports:
        raise ScoringError("reports: expected a report or a non-empty mapping name -> report")
    rows = {str(name): _report_scores(report, name) for name, report in reports.items()}
    confidences = {row["settings"]["confidence"] for row in rows.values()}
    if len(confidences) > 1:
        raise ScoringError(
            "reports: intervals at different confidence levels "
            f"({', '.join(f'{c:g}' for c in sorted(confidences))}) cannot share a forest plot"
        )
    settings = next(iter(rows.values()))["settings"]
    n_rows = len(rows)
    if figure is None:
        figure = Figure(figsize=(11.0, 1.6 + 0.45 * n_rows), layout="constrained")
    axes = figure.subplots(1, len(SCORES), sharey=True)
    colours = colormaps["tab10"].colors
    positions = np.arange(n_rows)[::-1]
    for ax, name in zip(axes, SCORES):
        for i, (label, row) in enumerate(rows.items()):
            score, (low, high) = row["scores"][name], row["intervals"][name]
            xerr = None if math.isnan(low) or math.isnan(score) else [[score - low], [high - score]]
            ax.errorbar(
                [score], [positions[i]], xerr=xerr, fmt="o", color=colours[i % len(colours)],
                capsize=3, markersize=5, label=plain_label(label),
            )  # fmt: skip
            if math.isnan(score):
                ax.text(0.5, positions[i], UNDEFINED, transform=ax.get_yaxis_transform(),
                        ha="center", va="center", color=UNDECIDED_COLOUR, fontsize=8)  # fmt: skip
        ax.set_title(SCORE_TITLES[name])
        ax.set_xlabel("score (%)")
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(positions, [plain_label(label) for label in rows])
    axes[0].set_ylim(-0.6, n_rows - 0.4)
    counts = sorted({row["n_scenes"] for row in rows.values()})
    figure.suptitle(
        f"Scores with {format_percent(settings['confidence'])} percentile bootstrap intervals over "
        f"{'/'.join(map(str, counts))} scenes ({settings['resamples']} resamples, seed "
        f"{settings['seed']})",
        fontsize="medium",
    )
    return figure


def difference_plot(comparison, *, figure: Figure | SubFigure | None = None):
    """A paired comparison as a picture: A - B per score with its paired bootstrap interval.

    A vertical line marks no difference; an interval wholly above 0 is drawn in the colour of
    "A better", wholly below 0 in that of "B better", and one holding 0 in grey. Right of the
    panel, the share of resamples in which A scored higher.

    Parameters
    ----------
    comparison : Comparison or dict
        A `compare_submissions` / `paired_bootstrap` result, or its JSON dictionary.
    figure : Figure or SubFigure, optional
        Where to draw (default: a new `Figure`).

    Returns
    -------
    Figure or SubFigure
        One Axes with one errorbar per score, rows "SIC", "SOD", "FLOE", "combined" from the
        top, labelled with the score's name.

    Raises
    ------
    ScoringError
        If `comparison` is neither a `Comparison` nor its JSON dictionary.

    Examples
    --------
    >>> from scoring.statistics import Bootstrap, Comparison, Interval
    >>> settings = Bootstrap(resamples=100)
    >>> comparison = Comparison(
    ...     scenes=["s1", "s2"], settings=settings,
    ...     a={"SIC": 60.0, "SOD": 70.0, "FLOE": 50.0, "combined": 62.0},
    ...     b={"SIC": 55.0, "SOD": 71.0, "FLOE": 50.0, "combined": 60.4},
    ...     difference={"SIC": 5.0, "SOD": -1.0, "FLOE": 0.0, "combined": 1.6},
    ...     interval={k: Interval(v - 2, v + 2) for k, v in
    ...               {"SIC": 5.0, "SOD": -1.0, "FLOE": 0.0, "combined": 1.6}.items()},
    ...     a_better={"SIC": 1.0, "SOD": 0.3, "FLOE": 0.5, "combined": 0.9},
    ...     ties={"SIC": 0.0, "SOD": 0.0, "FLOE": 0.0, "combined": 0.0})
    >>> fig = difference_plot(comparison)
    >>> [label.get_text() for label in fig.axes[0].get_yticklabels()]
    ['SIC', 'SOD', 'FLOE', 'combined']
    >>> fig.axes[0].texts[0].get_text()
    'A > B: 100.0 %'
    """
    data = _as_dict(comparison)
    try:
        names = [str(n) for n in data.get("names", ("A", "B"))]
        settings = data["settings"]
        difference = {k: _number(data["difference"][k]) for k in SCORES}
        interval = {k: _bounds(data["interval"][k]) for k in SCORES}
        better = {k: _number(data["a_better"][k]) for k in SCORES}
        n_scenes = len(data["scenes"])
    except (KeyError, TypeError):
        raise ScoringError("comparison: expected a Comparison or its JSON dictionary") from None
    if figure is None:
        figure = Figure(figsize=(8.5, 3.6), layout="constrained")
    ax = figure.subplots()
    balance = cmocean.cm.balance
    positions = np.arange(len(SCORES))[::-1]
    ax.axvline(0.0, color="0.3", linewidth=1, linestyle="--")
    for y, name in zip(positions, SCORES):
        value, (low, high) = difference[name], interval[name]
        if math.isnan(low) or math.isnan(value):
            colour, xerr = UNDECIDED_COLOUR, None
        else:
            colour = balance(0.85) if low > 0 else balance(0.15) if high < 0 else UNDECIDED_COLOUR
            xerr = [[value - low], [high - value]]
        ax.errorbar([value], [y], xerr=xerr, fmt="o", color=colour, capsize=4, label=name)
        share = UNDEFINED if math.isnan(better[name]) else f"{100 * better[name]:.1f} %"
        ax.text(1.02, y, f"A > B: {share}", transform=ax.get_yaxis_transform(), va="center",
                fontsize=9)  # fmt: skip
    ax.set_yticks(positions, list(SCORES))
    ax.set_ylim(-0.6, len(SCORES) - 0.4)
    ax.set_xlabel("A - B (percentage points)")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(
        f"A = {plain_label(names[0])}\nB = {plain_label(names[1])}\n"
        f"{format_percent(settings['confidence'])} paired percentile bootstrap over {n_scenes} scenes "
        f"({settings['resamples']} resamples, seed {settings['seed']})",
        fontsize="medium",
    )
    return figure


def breakdown_heatmap(breakdowns, *, figure: Figure | SubFigure | None = None):
    """The scores per group of scenes as heat maps: per grouping key, one panel of scores
    (rows SIC, SOD, FLOE, combined) x groups, each cell labelled with its score.

    Parameters
    ----------
    breakdowns : Report or mapping
        A report scored with ``by=[...]`` (its `breakdowns`), or grouping key -> group label ->
        group, as in `Report.breakdowns` and the JSON report.
    figure : Figure or SubFigure, optional
        Where to draw (default: a new `Figure`).

    Returns
    -------
    Figure or SubFigure
        One Axes per grouping key, titled "by KEY", its columns labelled "LABEL\\nN scenes",
        and a colour bar of the score (0-100 %; negative R² scores take the colour of 0, and
        the bar then has an arrow below). Undefined scores are grey cells.

    Raises
    ------
    ScoringError
        If there is no breakdown.

    Examples
    --------
    >>> group = lambda sic, combined, n: {"n_scenes": n, "combined": combined, "charts": {
    ...     "SIC": {"score": sic}, "SOD": {"score": 70.0}, "FLOE": {"score": 40.0}}}
    >>> fig = breakdown_heatmap({"service": {"cis": group(40.0, 52.0, 1), "dmi": group(None, None, 2)}})
    >>> ax = fig.axes[0]
    >>> ax.get_title(), [t.get_text() for t in ax.get_xticklabels()]
    ('by service', ['cis\\n1 scenes', 'dmi\\n2 scenes'])
    >>> [t.get_text() for t in ax.texts][:2]
    ['40.000', 'undefined']
    """
    if _is_report(breakdowns):
        breakdowns = _as_dict(breakdowns).get("breakdowns") or {}
    if not isinstance(breakdowns, Mapping) or not breakdowns:
        raise ScoringError("breakdowns: no breakdown to draw (score with by=[...] or --by KEY)")
    n_groups = [len(groups) for groups in breakdowns.values()]
    if figure is None:
        width = sum(1.1 * n + 1.6 for n in n_groups) + 1.2
        figure = Figure(figsize=(max(5.0, width), 3.6), layout="constrained")
    axes = figure.subplots(1, len(breakdowns), squeeze=False, width_ratios=n_groups)[0]
    cmap = HEATMAP_MAP.with_extremes(bad=UNDEFINED_COLOUR)
    image, below = None, False
    for ax, (key, groups) in zip(axes, breakdowns.items()):
        values = np.array(
            [[_group_score(group, name) for group in groups.values()] for name in SCORES]
        )
        below = below or bool(np.nanmin(values, initial=0.0) < 0)
        image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=0.0, vmax=100.0,
                          aspect="auto")  # fmt: skip
        for (row, col), value in np.ndenumerate(values):
            text = format_score(value)
            dark = not math.isnan(value) and value > 55.0
            ax.text(col, row, text, ha="center", va="center", fontsize=8,
                    color="white" if dark else "black")  # fmt: skip
        labels = [f"{plain_label(label)}\n{g['n_scenes']} scenes" for label, g in groups.items()]
        ax.set_xticks(range(len(groups)), labels, fontsize=8)
        ax.set_yticks(range(len(SCORES)), list(SCORES))
        ax.set_title(f"by {plain_label(key)}")
    # an R2 below 0 (worse than predicting the mean) takes the colour of 0: the bar says so
    figure.colorbar(
        image, ax=list(axes), shrink=0.9, label="score (%)", extend="min" if below else "neither"
    )
    return figure


def report_figure(report) -> Figure:
    """What `autoice score --png` draws for a report: its forest plot (with intervals) above
    the heat maps of its breakdowns (with breakdowns), above its reliability diagrams and
    risk-coverage curves (scored with an uncertainty file).

    Parameters
    ----------
    report : Report or dict
        Scored with ``ci=...`` and/or ``by=[...]``.

    Returns
    -------
    Figure

    Raises
    ------
    ScoringError
        If the report has no intervals, breakdowns nor calibration.

    Examples
    --------
    >>> group = {"n_scenes": 1, "combined": 50.0, "charts": {c: {"score": 50.0} for c in CHARTS}}
    >>> fig = report_figure({"charts": {}, "combined": 50.0, "intervals": None,
    ...                      "breakdowns": {"season": {"DJF": group}}})
    >>> [ax.get_title() for ax in fig.axes]
    ['by season', '']
    """
    data = _as_dict(report)
    parts = [(name, panel) for name, panel in STATISTIC_PANELS.items() if data.get(name)]
    if not parts:
        names = " or ".join(STATISTIC_PANELS)
        raise ScoringError(f"report: no {names} to draw (score with --ci or --by)")
    heights = [panel.height for _, panel in parts]
    figure = Figure(figsize=(11.0, sum(heights)), layout="constrained")
    panels = figure.subfigures(len(parts), 1, height_ratios=heights, squeeze=False)[:, 0]
    for subfigure, (_, panel) in zip(panels, parts):
        panel.draw(data, subfigure)
    return figure


@dataclass(frozen=True)
class StatisticPanel:
    """How `report_figure` draws a score statistic: its height (inches) and
    ``draw(report_data, subfigure)``."""

    height: float
    draw: Callable[[Mapping, SubFigure], object]


#: Score statistic name (`scoring.registry`) -> its panel in `report_figure`, top to bottom.
#: A statistic with a picture adds its entry here.
STATISTIC_PANELS: dict[str, StatisticPanel] = {
    "intervals": StatisticPanel(
        2.05, lambda data, panel: forest_plot({_submission_name(data): data}, figure=panel)
    ),
    "breakdowns": StatisticPanel(
        3.4, lambda data, panel: breakdown_heatmap(data["breakdowns"], figure=panel)
    ),
    "calibration": StatisticPanel(
        8.2, lambda data, panel: calibration_figure(data["calibration"], figure=panel)
    ),
}


def save_png(figure: Figure, path: str | os.PathLike, dpi: int = PNG_DPI) -> None:
    """Write `figure` as a PNG file at `path`, atomically (a reader never sees half a file).

    Parameters
    ----------
    figure : Figure
        What to write (e.g. from `forest_plot`).
    path : str or os.PathLike
        The PNG file; its folder must exist.
    dpi : int
        Resolution, dots per inch.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     save_png(Figure(figsize=(1, 1)), Path(folder) / "empty.png")
    ...     (Path(folder) / "empty.png").read_bytes()[:4]
    b'\\x89PNG'
    """
    with atomic_path(path, make_folder=False, keep_suffix=True) as temporary:
        figure.savefig(temporary, format="png", dpi=dpi)


# ------------------------------------------------------------------------------------------


def _is_report(value) -> bool:
    return (is_dataclass(value) and hasattr(value, "per_scene")) or (
        isinstance(value, Mapping) and "combined" in value and "charts" in value
    )


def _as_dict(value) -> dict:
    if is_dataclass(value) and not isinstance(value, type):
        return value.to_dict() if hasattr(value, "to_dict") else asdict(value)
    if isinstance(value, Mapping):
        return dict(value)
    raise ScoringError(f"expected a report, comparison or their JSON dictionary, got {value!r}")


def _report_scores(report, name) -> dict:
    if not _is_report(report):
        raise ScoringError(f"reports: {name!r} is not a report")
    data = _as_dict(report)
    intervals = data.get("intervals")
    if not intervals:
        raise ScoringError(f"reports: {name!r} has no intervals (score it with ci=True, or --ci)")
    scores = {c: _number(data["charts"].get(c)) for c in CHARTS}
    scores["combined"] = _number(data["combined"])
    return {
        "scores": scores,
        "intervals": {k: _bounds(intervals[k]) for k in SCORES},
        "settings": {k: intervals[k] for k in ("resamples", "confidence", "seed")},
        "n_scenes": len(data.get("scenes") or []),
    }


def _group_score(group: Mapping, name: str) -> float:
    if name == "combined":
        return _number(group.get("combined"))
    return _number(group["charts"][name]["score"])


def _submission_name(data: Mapping) -> str:
    split = data.get("split")
    return f"{split} split" if split else "all scenes"


def _bounds(interval) -> tuple[float, float]:
    if not isinstance(interval, Mapping):
        interval = asdict(interval)
    return _number(interval["low"]), _number(interval["high"])


def _number(value) -> float:
    return math.nan if value is None else float(value)


__all__ = [
    "breakdown_heatmap",
    "calibration_figure",
    "difference_plot",
    "forest_plot",
    "reliability_diagram",
    "report_figure",
    "risk_coverage_plot",
    "save_png",
]
