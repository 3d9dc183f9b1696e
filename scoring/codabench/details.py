"""The per-submission results page of the Codabench scoring program, `detailed_results.html`.

`detailed_page(report, ...)` turns a `Report` (scored with intervals, the breakdown by ice
service and, with an uncertainty file, calibration) into one self-contained HTML page: the
scores with their bootstrap intervals, the scores per ice service and per scene, and with an
uncertainty file its calibration (ECE, MCE, AURC per chart with intervals, the SIC interval's
coverage and width, ECE per ice service, the reliability tables) and the reliability diagram as
an inline base64 PNG.

The page runs no script and loads nothing (a Content-Security-Policy allowing only inline
styles and data: images), and every text that comes from the upload (file names, scene ids,
warnings) is escaped with `html.escape`. It shows only what `report` covers: the program hands
it the public split's report, so nothing about private scenes is on it. Drawing the diagram
needs matplotlib; without it the page says so and keeps the reliability tables (the numbers
the diagram draws).
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence

from kit.charts import CHARTS, METRIC_NAMES, METRICS, SIC_INTERVAL_PROBABILITY
from scoring.metrics.formatting import format_fraction, format_percent, format_score
from scoring.metrics.report import SCORES, Report

#: The page's style sheet (inline: the page loads nothing and runs no script).
PAGE_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
h1 { font-weight: 600; margin-bottom: 0.2em; }
h2 { font-weight: 600; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
p.note { color: #555; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.95em; }
th, td { padding: 0.3em 0.8em; text-align: right; border-bottom: 1px solid #ddd; }
th:first-child, td:first-child { text-align: left; }
th { background: #0b3d91; color: #fff; font-weight: 600; white-space: nowrap; }
tbody tr:nth-child(even) { background: #f3f6fb; }
td { font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
img { max-width: 100%; }
"""


def detailed_page(
    report: Report,
    *,
    submission_name: str,
    uncertainty_name: str | None = None,
    hidden_scenes: int = 0,
    title: str = "AutoICE submission: detailed results",
) -> str:
    """The results page of `report` (see the module docstring).

    Parameters
    ----------
    report : Report
        Scored over the scenes to show, with ``ci`` and ``by=("service",)``; with an
        uncertainty file, its ``calibration`` (with the same intervals and breakdowns).
    submission_name, uncertainty_name : str
        The uploaded files' names, shown escaped.
    hidden_scenes : int
        Scenes scored but not shown (the private split): only their number is said.
    title : str
        The page's title.

    Returns
    -------
    str
        The HTML page.

    Examples
    --------
    >>> from scoring.metrics.report import Report
    >>> report = Report(80.0, 80.0, {c: 80.0 for c in CHARTS}, {c: 80.0 for c in CHARTS}, {}, {},
    ...                 scenes=["20180124T194759_dmi"], split="public")
    >>> page = detailed_page(report, submission_name="<b>.nc")
    >>> "&lt;b&gt;.nc" in page, "<script" in page
    (True, False)
    """
    esc = html.escape
    scope = f"{len(report.scenes)} test scenes" + (
        f" of the {esc(report.split)} split" if report.split else ""
    )
    if hidden_scenes:
        scope += f"; the other {hidden_scenes} scenes are scored but not shown here"
    files = f"Submission <code>{esc(submission_name)}</code>"
    files += (
        f", uncertainty file <code>{esc(uncertainty_name)}</code>"
        if uncertainty_name
        else " (no uncertainty file: upload <code>uncertainty.nc</code> beside it for calibration)"
    )
    calibration = report.statistics.get("calibration")
    parts = [
        f"<h1>{esc(title)}</h1>",
        f'<p class="note">{files}. Scores over {scope}.</p>',
        "<h2>Scores</h2>",
        _scores_table(report),
        _interval_note(report.intervals),
        "<h2>Scores by ice service</h2>",
        _breakdown_table(report.breakdowns.get("service")),
        "<h2>Scores per scene</h2>",
        _scene_table(report),
    ]
    if calibration:
        parts += _calibration_parts(calibration)
    if report.warnings:
        items = "".join(f"<li>{esc(w)}</li>" for w in report.warnings)
        parts += ["<h2>Warnings</h2>", f"<ul>{items}</ul>"]
    body = "\n".join(parts)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>{esc(title)}</title>
<style>{PAGE_STYLE}</style>
</head>
<body>
{body}
</body>
</html>
"""


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """An HTML table; every cell escaped."""
    esc = html.escape
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "\n".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def _score_name(key: str) -> str:
    return f"{key} {METRIC_NAMES[METRICS[key]]}" if key in CHARTS else key


def _bounds(bounds: Mapping | None, text=format_score) -> str:
    """ "[low, high]" of an interval dictionary, "-" without one, "undefined" if undefined."""
    if not bounds:
        return "-"
    low, high = bounds.get("low"), bounds.get("high")
    if low is None or high is None:
        return "undefined"
    return f"[{text(low)}, {text(high)}]"


def _scores_table(report: Report) -> str:
    intervals = report.intervals or {}
    level = format_percent(intervals["confidence"]) if intervals else ""
    rows = []
    for key in SCORES:
        value = report.combined_rounded if key == "combined" else report.charts_rounded[key]
        rows.append([_score_name(key), format_score(value), _bounds(intervals.get(key))])
    return _table(["score", "value (%)", f"{level} interval".strip()], rows)


def _interval_note(intervals: Mapping | None) -> str:
    if not intervals:
        return ""
    return (
        f'<p class="note">Scores as the challenge rounds them. Intervals: '
        f"{format_percent(intervals['confidence'])} percentile bootstrap over the scenes "
        f"({intervals['resamples']} resamples, seed {intervals['seed']}), as "
        "<code>autoice score --ci</code> computes them: how much a score depends on the choice "
        "of test scenes.</p>"
    )


def _breakdown_table(groups: Mapping | None) -> str:
    if not groups:
        return '<p class="note">No breakdown.</p>'
    rows = [
        [label, str(group["n_scenes"])]
        + [format_score(group["charts"][c]["score"]) for c in CHARTS]
        + [format_score(group["combined"])]
        for label, group in groups.items()
    ]
    return _table(["ice service", "scenes", *(_score_name(k) for k in SCORES)], rows)


def _scene_table(report: Report) -> str:
    """Each shown scene scored alone (unrounded, as `Report.per_scene` holds them)."""
    rows = [
        [scene] + [format_score(report.per_scene.get(scene, {}).get(key)) for key in SCORES]
        for scene in report.scenes
    ]
    return _table(["scene", *(_score_name(k) for k in SCORES)], rows)


def _calibration_parts(calibration: Mapping) -> list[str]:
    level = format_percent(SIC_INTERVAL_PROBABILITY)
    intervals = calibration.get("intervals") or {}
    chart_bounds = intervals.get("charts", {})
    rows = []
    for chart in CHARTS:
        figures = calibration["charts"][chart]
        bounds = chart_bounds.get(chart, {})
        rows.append(
            [
                chart,
                format_fraction(figures["ece"]),
                _bounds(bounds.get("ece"), format_fraction),
                format_fraction(figures["mce"]),
                format_fraction(figures["aurc"]),
                format_fraction(figures["accuracy"]),
                format_fraction(figures["mean_confidence"]),
                str(figures["n_pixels"]),
            ]
        )
    interval = calibration["sic_interval"]
    interval_bounds = intervals.get("sic_interval", {})
    ci_level = format_percent(intervals["confidence"]) if intervals else ""
    parts = [
        "<h2>Calibration of the uncertainty file</h2>",
        _table(
            [
                "chart",
                "ECE",
                f"ECE {ci_level} interval".replace("  ", " "),
                "MCE",
                "AURC",
                "accuracy",
                "mean confidence",
                "pixels",
            ],
            rows,
        ),  # fmt: skip
        _table(
            [f"SIC {level} interval", "value", f"{ci_level} interval".strip()],
            [
                [
                    "coverage",
                    format_fraction(interval["coverage"]),
                    _bounds(interval_bounds.get("coverage"), format_fraction),
                ],
                [
                    "mean width (classes)",
                    format_fraction(interval["mean_width"], 2),
                    _bounds(interval_bounds.get("mean_width"), lambda v: format_fraction(v, 2)),
                ],
            ],
        ),  # fmt: skip
        '<p class="note">ECE: 10 equal-width bins of confidence, the pixel-weighted mean of '
        "|accuracy - mean confidence| (0 is perfect); MCE: the largest bin gap; AURC: area "
        "under the risk-coverage curve (lower is better). Coverage: share of SIC pixels whose "
        f"reference class lies in the submitted {level} interval ({level} is ideal).</p>",
    ]
    groups = (calibration.get("breakdowns") or {}).get("service")
    if groups:
        rows = [
            [label, str(group["n_scenes"])]
            + [format_fraction(group["charts"][c]["ece"]) for c in CHARTS]
            + [format_fraction(group["sic_interval"]["coverage"])]
            for label, group in groups.items()
        ]
        header = ["ice service", "scenes", *(f"ECE {c}" for c in CHARTS), f"SIC {level} coverage"]
        parts += ["<h3>By ice service</h3>", _table(header, rows)]
    parts += ["<h3>Reliability diagram</h3>", _diagram(calibration)]
    parts += ["<h3>Reliability tables</h3>", _reliability_table(calibration)]
    return parts


def _diagram(calibration: Mapping) -> str:
    """The reliability diagram as an inline PNG, or a note when matplotlib is missing."""
    try:
        from scoring.calibration.plots import reliability_diagram
    except ImportError:
        return (
            '<p class="note">The reliability diagram is not drawn: matplotlib is not installed '
            "where this page was made. The tables below hold its numbers.</p>"
        )
    figure = reliability_diagram(calibration)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="Reliability diagram per chart" src="data:image/png;base64,{data}">'


def _reliability_table(calibration: Mapping) -> str:
    """One row per confidence bin: per chart its pixels, mean confidence and accuracy."""
    header = ["confidence bin"]
    for chart in CHARTS:
        header += [f"{chart} pixels", f"{chart} confidence", f"{chart} accuracy"]
    tables = {c: calibration["charts"][c]["reliability"] for c in CHARTS}
    rows = []
    for b, first in enumerate(tables[CHARTS[0]]):
        row = [f"{first['low']:.1f}-{first['high']:.1f}"]
        for chart in CHARTS:
            cell = tables[chart][b]
            row += [str(cell["pixels"]), format_fraction(cell["mean_confidence"], 3, "-"),
                    format_fraction(cell["accuracy"], 3, "-")]  # fmt: skip
        rows.append(row)
    return _table(header, rows)
