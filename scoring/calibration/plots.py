"""Pictures of calibration (issue 24): reliability diagrams and risk-coverage curves.

- `reliability_diagram`: per chart, the accuracy of each confidence bin as a bar against the
  diagonal (perfect calibration), with each bin's share of the pixels below; several tables
  (e.g. before and after calibration) side by side in each bin;
- `risk_coverage_plot`: per chart, the risk (share of wrong pixels) of the most confident
  pixels against their share, with the selective figures (50/80/90 %) marked;
- `calibration_figure`: both, as `autoice score --uncertainty ... --png` draws them.

Each accepts a `Report` scored with an uncertainty file, its JSON dictionary, or the
calibration dictionary itself (`scoring.calibration.calibration_statistics`), and returns a
bare `matplotlib.figure.Figure` (Agg; `scoring.plots.save_png` writes it). Empty bins are left
empty, never drawn as 0. `scoring.plots` re-exports these names; only this module and
`scoring.plots` import matplotlib.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, is_dataclass

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure, SubFigure

from kit.charts import CHARTS, METRICS
from scoring.errors import ScoringError
from scoring.metrics.formatting import plain_label

#: Colour of the diagonal and of the "all pixels" risk line.
REFERENCE_COLOUR = "0.35"
#: Points drawn per confidence level of the risk-coverage curve (exact between its ends).
CURVE_SAMPLES = 12


def calibration_of(value) -> dict:
    """The calibration dictionary of a report (`Report.calibration`), of its JSON dictionary,
    or `value` itself when it is one; ScoringError if there is none.

    Examples
    --------
    >>> calibration_of({"charts": {}, "combined": 1.0})
    Traceback (most recent call last):
    ...
    scoring.errors.ScoringError: report: no calibration to draw (score with an uncertainty file: --uncertainty FILE)
    """
    if is_dataclass(value) and not isinstance(value, type):
        value = value.to_dict() if hasattr(value, "to_dict") else asdict(value)
    if isinstance(value, Mapping):
        if "calibration" in value:
            value = value["calibration"]
        charts = value.get("charts") if isinstance(value, Mapping) else None
        if (
            isinstance(charts, Mapping)
            and charts
            and all(isinstance(c, Mapping) and "reliability" in c for c in charts.values())
        ):
            return dict(value)
    raise ScoringError(
        "report: no calibration to draw (score with an uncertainty file: --uncertainty FILE)"
    )


def _named(tables) -> dict[str, dict]:
    """label -> calibration dictionary, from one report/calibration or a mapping of them."""
    try:
        return {"": calibration_of(tables)}
    except ScoringError:
        if not isinstance(tables, Mapping) or not tables:
            raise
    return {str(label): calibration_of(value) for label, value in tables.items()}


def reliability_diagram(tables, *, figure: Figure | SubFigure | None = None):
    """Reliability diagrams, one panel per chart: per confidence bin, a bar of its accuracy
    against the diagonal, and below it the bin's share of the pixels.

    Parameters
    ----------
    tables : Report, dict, or mapping of str to Report or dict
        One scored calibration, or label -> calibration (e.g. ``{"before calibration": a,
        "after calibration": b}``), drawn side by side in each bin, in the mapping's order.
    figure : Figure or SubFigure, optional
        Where to draw (default: a new `Figure`).

    Returns
    -------
    Figure or SubFigure
        Six Axes: the three reliability panels (titled "SIC", "SOD", "FLOE"), then the three
        pixel-share panels below them. Each bar's label gives the table's label and its ECE.

    Examples
    --------
    >>> empty = {"pixels": 0, "mean_confidence": None, "accuracy": None}
    >>> table = [{**empty, "low": b / 10, "high": (b + 1) / 10} for b in range(10)]
    >>> table[9] = {"low": 0.9, "high": 1.0, "pixels": 40, "mean_confidence": 0.97,
    ...             "accuracy": 0.8}
    >>> chart = {"ece": 0.17, "n_pixels": 40, "reliability": table}
    >>> fig = reliability_diagram({"charts": {c: chart for c in CHARTS}})
    >>> [ax.get_title() for ax in fig.axes[:3]]
    ['SIC', 'SOD', 'FLOE']
    >>> [round(float(p.get_height()), 2) for p in fig.axes[0].patches]  # the non-empty bin
    [0.8]
    """
    named = _named(tables)
    if figure is None:
        figure = Figure(figsize=(11.0, 4.6), layout="constrained")
    axes = figure.subplots(2, len(CHARTS), height_ratios=[3, 1], sharex=True, squeeze=False)
    colours = colormaps["tab10"].colors
    width = 0.1 / len(named)
    for column, chart in enumerate(CHARTS):
        top, bottom = axes[0, column], axes[1, column]
        highest = 1.0
        top.plot([0, 1], [0, 1], linestyle="--", color=REFERENCE_COLOUR, linewidth=1)
        for i, (label, calibration) in enumerate(named.items()):
            figures = calibration["charts"][chart]
            rows = figures["reliability"]
            total = sum(r["pixels"] for r in rows) or 1
            offset = (i + 0.5) * width
            shown = [r for r in rows if r["pixels"]]
            name = (
                f"{plain_label(label) + ': ' if label else ''}ECE {_fraction(figures.get('ece'))}"
            )
            top.bar([r["low"] + offset for r in shown], [r["accuracy"] for r in shown],
                    width=width * 0.92, color=colours[i % len(colours)], alpha=0.85,
                    label=name)  # fmt: skip
            top.plot([r["low"] + offset for r in shown], [r["mean_confidence"] for r in shown],
                     linestyle="none", marker="_", markersize=9, color="black")  # fmt: skip
            shares = [100 * r["pixels"] / total for r in shown]
            bars = bottom.bar([r["low"] + offset for r in shown], shares, width=width * 0.92,
                              color=colours[i % len(colours)], alpha=0.85)  # fmt: skip
            if len(named) == 1:
                bottom.bar_label(bars, [_count(r["pixels"]) for r in shown], fontsize=6.5,
                                 padding=2, rotation=90)  # fmt: skip
            highest = max([highest, *shares])
        top.set_xlim(0, 1)
        top.set_ylim(0, 1.02)
        top.set_title(chart)
        top.set_ylabel("accuracy")
        top.legend(loc="upper left", fontsize=8)
        top.grid(alpha=0.3)
        bottom.set_xlabel("confidence")
        bottom.set_ylabel("pixels (%)")
        bottom.set_ylim(0, highest * (2.3 if len(named) == 1 else 1.15))
    figure.suptitle(
        "Reliability: accuracy per confidence bin (bars; dash: the bin's mean confidence) "
        "against the diagonal", fontsize="medium",
    )  # fmt: skip
    return figure


def risk_coverage_plot(tables, *, figure: Figure | SubFigure | None = None):
    """Risk-coverage curves, one panel per chart: the share of wrong pixels among the most
    confident pixels against their share of all pixels (ties counted at their level's error
    rate, `scoring.calibration.selective`), the selective figures marked.

    Parameters
    ----------
    tables : Report, dict, or mapping of str to Report or dict
        As in `reliability_diagram`.
    figure : Figure or SubFigure, optional
        Where to draw (default: a new `Figure`).

    Returns
    -------
    Figure or SubFigure
        Three Axes titled "SIC", "SOD", "FLOE"; in each, one curve per table labelled with its
        AURC, and the points of the most confident 50/80/90 % (coverage reached, risk).

    Examples
    --------
    >>> chart = {"aurc": 0.05, "accuracy": 0.8, "risk_coverage": [
    ...     {"confidence": 100, "coverage": 0.5, "risk": 0.0},
    ...     {"confidence": 60, "coverage": 1.0, "risk": 0.2}],
    ...     "selective": {"50": {"coverage": 0.5, "accuracy": 1.0}}}
    >>> fig = risk_coverage_plot({"charts": {c: {**chart, "reliability": []} for c in CHARTS}})
    >>> line = fig.axes[0].lines[0]
    >>> line.get_label(), round(float(line.get_ydata()[-1]), 3)
    ('AURC 0.0500', 0.2)
    """
    named = _named(tables)
    if figure is None:
        figure = Figure(figsize=(11.0, 3.4), layout="constrained")
    axes = figure.subplots(1, len(CHARTS), squeeze=False)[0]
    colours = colormaps["tab10"].colors
    for ax, chart in zip(axes, CHARTS):
        for i, (label, calibration) in enumerate(named.items()):
            figures = calibration["charts"][chart]
            coverage, risk = _curve(figures.get("risk_coverage") or [])
            colour = colours[i % len(colours)]
            name = (
                f"{plain_label(label) + ': ' if label else ''}AURC {_fraction(figures.get('aurc'))}"
            )
            ax.plot(coverage, risk, color=colour, label=name)
            for key, point in (figures.get("selective") or {}).items():
                if point.get("accuracy") is None:
                    continue
                ax.plot([point["coverage"]], [1 - point["accuracy"]], marker="o", color=colour,
                        markersize=4)  # fmt: skip
                ax.annotate(f"{key} %", (point["coverage"], 1 - point["accuracy"]),
                            textcoords="offset points", xytext=(2, 4), fontsize=7)  # fmt: skip
            accuracy = figures.get("accuracy")
            if accuracy is not None and len(named) == 1:
                ax.axhline(1 - accuracy, color=REFERENCE_COLOUR, linestyle=":", linewidth=1)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, max(ax.get_ylim()[1] * 1.15, 0.01))
        ax.set_title(chart)
        ax.set_xlabel("coverage (most confident share)")
        ax.set_ylabel("risk (share wrong)")
        ax.legend(loc="upper left", fontsize=8)
        ax.grid(alpha=0.3)
    return figure


def calibration_figure(report, *, figure: Figure | SubFigure | None = None):
    """The reliability diagrams above the risk-coverage curves of a scored calibration.

    Examples
    --------
    >>> calibration_figure({"charts": {}, "combined": 1.0})
    Traceback (most recent call last):
    ...
    scoring.errors.ScoringError: report: no calibration to draw (score with an uncertainty file: --uncertainty FILE)
    """
    named = _named(report)
    if figure is None:
        figure = Figure(figsize=(11.0, 8.2), layout="constrained")
    top, bottom = figure.subfigures(2, 1, height_ratios=[4.6, 3.4])
    reliability_diagram(named, figure=top)
    risk_coverage_plot(named, figure=bottom)
    return figure


def calibration_summary_lines(calibration: Mapping) -> list[str]:
    """One line per chart: ECE, AURC and the score of the most confident 50 % (for titles).

    Examples
    --------
    >>> calibration_summary_lines({"charts": {"SOD": {"ece": 0.05, "aurc": 0.1,
    ...     "selective": {"50": {"score": 91.0}}}}})
    ['SOD: ECE 0.0500, AURC 0.1000, F1 of the most confident 50 %: 91.000']
    """
    lines = []
    for chart, figures in calibration["charts"].items():
        metric = "R²" if METRICS[chart] == "r2" else "F1"
        score = (figures.get("selective") or {}).get("50", {}).get("score")
        lines.append(
            f"{chart}: ECE {_fraction(figures.get('ece'))}, AURC {_fraction(figures.get('aurc'))}"
            f", {metric} of the most confident 50 %: "
            f"{'undefined' if score is None else f'{score:.3f}'}"
        )
    return lines


def _curve(points: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """The exact curve through the level points: between two levels the expected errors grow
    linearly with the pixels kept, so risk = errors / kept is sampled, not drawn straight."""
    if not points:
        return np.array([]), np.array([])
    coverage, risk = [0.0], [points[0]["risk"]]
    kept, errors = 0.0, 0.0
    for point in points:
        end, end_errors = point["coverage"], point["coverage"] * point["risk"]
        rate = (end_errors - errors) / (end - kept) if end > kept else 0.0
        for m in np.linspace(kept, end, CURVE_SAMPLES)[1:]:
            coverage.append(float(m))
            risk.append(float((errors + (m - kept) * rate) / m) if m > 0 else rate)
        kept, errors = end, end_errors
    return np.array(coverage), np.array(risk)


def _fraction(value) -> str:
    return "undefined" if value is None or math.isnan(float(value)) else f"{float(value):.4f}"


def _count(pixels: int) -> str:
    for size, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if pixels >= size:
            return f"{pixels / size:.3g}{unit}"
    return str(pixels)


__all__ = [
    "calibration_figure",
    "calibration_of",
    "calibration_summary_lines",
    "reliability_diagram",
    "risk_coverage_plot",
]
