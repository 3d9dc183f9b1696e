"""Leaderboard standings as Markdown, CSV, JSON or one self-contained HTML page.

Scores are shown as the challenge published them (`Standing.scores_rounded`: chart scores
rounded to 3 decimals, the combined score from those); JSON also carries the unrounded ones.
Markdown and HTML name each score's metric ("SIC R²", "SOD F1", ...) and show submission
times to the second in UTC; CSV and JSON keep the plain keys and full timestamps.

With any submission shown that came with an uncertainty file, the calibration columns
(`scoring.leaderboard.calibration_columns`: ECE per chart, SIC 90 % interval coverage and
width) follow the scores and their intervals, empty ("-" for people, "" in CSV, null in JSON)
for submissions without one; the rows keep the challenge's order.

Team and file names come from participants, so every format escapes them: HTML entities (and a
Content-Security-Policy that allows no script at all), Markdown table syntax, and CSV cells that
a spreadsheet would run as a formula.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
from datetime import datetime, timezone

from kit.charts import CHARTS, METRIC_NAMES, METRICS
from scoring.leaderboard.calibration_columns import (
    CALIBRATION_KEYS,
    calibration_label,
    calibration_note,
)
from scoring.leaderboard.ranking import SCORE_KEYS, Standing
from scoring.metrics.formatting import format_fraction, format_percent, format_score

FORMATS: tuple[str, ...] = ("md", "csv", "html", "json")
COLUMNS: tuple[str, ...] = ("rank", "team", *SCORE_KEYS, "submissions", "submitted_at", "file")


def export(
    standings: list[Standing], fmt: str, split: str, title: str = "AutoICE leaderboard"
) -> str:
    """The standings in format `fmt` ("md", "csv", "html" or "json")."""
    writers = {"md": to_markdown, "csv": to_csv, "json": to_json, "html": to_html}
    if fmt not in writers:
        raise ValueError(f"unknown export format {fmt!r}; expected one of {', '.join(FORMATS)}")
    return writers[fmt](standings, split, title)


def _cells(
    standing: Standing,
    readable: bool = False,
    ci: dict | None = None,
    shared: float | None = None,
    calibration: bool = False,
) -> list[str]:
    """Table cells in `COLUMNS` order; `readable`: the time to the second, in UTC. With `ci`
    (the settings of the standings' intervals), the interval columns follow the scores: one
    "[low, high]" cell per score if `readable`, else a low and a high cell; "-" where the
    submission has no interval. With `calibration`, the `CALIBRATION_KEYS` cells follow
    (fractions to 4 decimals, width to 2; "-" if `readable`, else empty, where the
    submission has none). With `shared` (the rank confidence of shared ranks), the rank
    cell shows the shared rank ("2=") if `readable`, else a shared_rank cell follows it; and
    the comparison with the team above follows the intervals and calibration."""
    scores = [_score_text(standing.scores_rounded[key]) for key in SCORE_KEYS]
    if ci is not None:
        for key in SCORE_KEYS:
            bounds = (standing.intervals or {}).get(key) or {}
            low, high = bounds.get("low"), bounds.get("high")
            if readable:
                scores.append("-" if low is None else f"[{_score_text(low)}, {_score_text(high)}]")
            else:
                scores += [_score_text(low), _score_text(high)]
    if calibration:
        figures = standing.calibration or {}
        missing = "-" if readable else ""
        scores += [
            format_fraction(figures.get(key), 2 if key == "SIC_width" else 4, missing=missing)
            for key in CALIBRATION_KEYS
        ]
    rank = [str(standing.rank)]
    if shared is not None:
        shown = standing.rank_shown or str(standing.rank)
        rank = [shown] if readable else [*rank, shown]
        scores += _above_cells(standing.above, readable)
    when = time_text(standing.submitted_at) if readable else standing.submitted_at
    return [*rank, standing.team, *scores, str(standing.submissions), when,
            standing.file_name]  # fmt: skip


def _above_cells(above: dict | None, readable: bool) -> list[str]:
    """The comparison with the team above: one cell for people ("above by +0.412, higher in
    61.0 % of resamples", or why there is none), else difference, share and reason cells."""
    if above is None:
        return ["-"] if readable else ["", "", ""]
    difference, better, reason = above["difference"], above["upper_better"], above["reason"]
    if readable:
        if reason is not None:
            return [f"not compared: {reason}"]
        return [f"above by {_signed(difference)}, higher in {100 * better:.1f} % of resamples"]
    return [
        format_score(difference, missing=""),
        "" if better is None else f"{better:.4f}",
        reason or "",
    ]


def _signed(value: float | None) -> str:
    return format_score(value, sign=True, missing="-")


def rank_confidence_of(standings: list[Standing]) -> float | None:
    """The rank confidence of the standings' shared ranks, or None when they have none."""
    for standing in standings:
        if standing.above is not None:
            return standing.above["rank_confidence"]
    return None


def interval_settings(standings: list[Standing]) -> dict | None:
    """The bootstrap settings of the standings' intervals (resamples, confidence, seed), or
    None when no standing has intervals."""
    for standing in standings:
        if standing.intervals:
            return {k: standing.intervals[k] for k in ("resamples", "confidence", "seed")}
    return None


def has_calibration(standings: list[Standing]) -> bool:
    """Whether any standing came with an uncertainty file (the calibration columns show)."""
    return any(s.calibration is not None for s in standings)


def _columns(
    ci: dict | None, readable: bool, shared: float | None = None, calibration: bool = False
) -> list[str]:
    """Column headers: `COLUMNS`, with the interval columns after the scores when `ci`, the
    calibration columns after them when `calibration`, and the shared rank and comparison
    with the team above when `shared`."""
    labels = [column_label(c) if readable else c for c in COLUMNS]
    at = COLUMNS.index(SCORE_KEYS[-1]) + 1
    extra = []
    if ci is not None:
        if readable:
            extra = [f"{key} {format_percent(ci['confidence'])} interval" for key in SCORE_KEYS]
        else:
            extra = [f"{key}_{end}" for key in SCORE_KEYS for end in ("low", "high")]
    if calibration:
        extra += [calibration_label(k) if readable else k for k in CALIBRATION_KEYS]
    if shared is not None:
        if readable:
            extra.append("combined vs team above")
        else:
            extra += ["above_difference", "above_better", "not_compared"]
            labels = [labels[0], "shared_rank", *labels[1:]]
            at += 1
    return [*labels[:at], *extra, *labels[at:]]


def _shared_note(ci: dict, rank_confidence: float) -> str:
    return (
        f'Shared ranks ("2="): each team\'s best submission is compared with that of the team '
        f"ranked directly above by a paired bootstrap over the split's scenes "
        f"({ci['resamples']} resamples, seed {ci['seed']}); a team shares the rank above when "
        f"the team above has the higher combined score in fewer than "
        f"{format_percent(rank_confidence)} of the resamples (a one-sided "
        f"{format_percent(rank_confidence)} test), and teams so linked show the first rank of the "
        "group. Differences: combined score of the team above minus this team's, unrounded. The "
        "order is the challenge's."
    )


def _ci_note(ci: dict) -> str:
    return (
        f"Intervals: {format_percent(ci['confidence'])} percentile bootstrap over the split's scenes "
        f"({ci['resamples']} resamples, seed {ci['seed']}), from each submission's stored "
        "per-scene counts; they show how much a score depends on the choice of test scenes. "
        "The ranking is the challenge's."
    )


def column_label(column: str) -> str:
    """A column's header for people: chart scores name their metric (`SIC R²`)."""
    if column in CHARTS:
        return f"{column} {METRIC_NAMES[METRICS[column]]}"
    return {"submitted_at": "submitted (UTC)"}.get(column, column)


def time_text(stamp: str) -> str:
    """An ISO timestamp as `2026-11-21 09:00:05` (UTC, to the second); unparsable text as is."""
    try:
        when = datetime.fromisoformat(stamp)
    except (TypeError, ValueError):
        return stamp
    if when.tzinfo is not None:
        when = when.astimezone(timezone.utc)
    return when.strftime("%Y-%m-%d %H:%M:%S")


def _score_text(score: float | None) -> str:
    return format_score(score, missing="-")


def to_markdown(standings: list[Standing], split: str, title: str = "AutoICE leaderboard") -> str:
    """A Markdown table; `|`, backslashes, markup characters and newlines in names are escaped."""
    ci, shared = interval_settings(standings), rank_confidence_of(standings)
    calibration = has_calibration(standings)
    columns = _columns(ci, readable=True, shared=shared, calibration=calibration)
    header = " | ".join(columns)
    lines = [f"# {_md_escape(title)} ({split} split)", "", f"| {header} |"]
    lines.append("|" + "---|" * len(columns))
    for standing in standings:
        cells = _cells(standing, readable=True, ci=ci, shared=shared, calibration=calibration)
        lines.append("| " + " | ".join(_md_escape(c) for c in cells) + " |")
    if ci is not None:
        lines += ["", _ci_note(ci)]
    if calibration:
        lines += ["", calibration_note()]
    if shared is not None:
        lines += ["", _md_escape(_shared_note(ci, shared))]
    return "\n".join(lines) + "\n"


def _md_escape(text: str) -> str:
    text = html.escape(text, quote=False)  # no raw HTML through Markdown renderers
    for char in "\\|*_`[]#":
        text = text.replace(char, "\\" + char)
    return " ".join(text.split())


def to_csv(standings: list[Standing], split: str, title: str = "") -> str:
    """CSV with a header row; cells starting with = + - @ are prefixed with ' (no formulas)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    ci, shared = interval_settings(standings), rank_confidence_of(standings)
    calibration = has_calibration(standings)
    writer.writerow(
        ["split", *_columns(ci, readable=False, shared=shared, calibration=calibration)]
    )
    team = 1 if shared is None else 2
    for standing in standings:
        cells = _cells(standing, ci=ci, shared=shared, calibration=calibration)
        cells[team] = _csv_safe(cells[team])
        if shared is not None:
            cells[-4] = _csv_safe(cells[-4])  # not_compared: may quote a scene id
        cells[-1] = _csv_safe(cells[-1])
        writer.writerow([split, *cells])
    return out.getvalue()


def _csv_safe(text: str) -> str:
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_json(standings: list[Standing], split: str, title: str = "") -> str:
    """JSON: {"split": ..., "standings": [{rank, team, scores, scores_unrounded, ...}]}; with
    calibration, every row has "calibration" (`CALIBRATION_KEYS` -> value, or null)."""
    calibration = has_calibration(standings)
    rows = [
        {
            "rank": s.rank,
            "team": s.team,
            "scores": s.scores_rounded,
            "scores_unrounded": s.scores,
            "submissions": s.submissions,
            "submission_id": s.submission_id,
            "submitted_at": s.submitted_at,
            "file": s.file_name,
            **({"intervals": s.intervals} if s.intervals is not None else {}),
            **({"shared_rank": s.rank_shown, "above": s.above} if s.rank_shown is not None else {}),
            **({"calibration": s.calibration} if calibration else {}),
        }
        for s in standings
    ]
    data = {"split": split, "standings": rows}
    if calibration:
        data["calibration"] = {"keys": list(CALIBRATION_KEYS), "note": calibration_note()}
    ci = interval_settings(standings)
    if ci is not None:
        data["intervals"] = {"method": "percentile bootstrap over scenes", **ci}
    shared = rank_confidence_of(standings)
    if shared is not None:
        data["shared_ranks"] = {"rank_confidence": shared, "rule": _shared_note(ci, shared)}
    return json.dumps(data, indent=2, allow_nan=False) + "\n"


#: The page's style sheet (inline: the page loads nothing and runs no script).
_PAGE_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; }
h1 { font-weight: 600; margin-bottom: 0.2em; }
p.note { color: #555; margin-top: 0; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.95em; }
caption { caption-side: bottom; text-align: left; color: #555; padding-top: 0.5em; }
th, td { padding: 0.35em 0.8em; text-align: left; border-bottom: 1px solid #ddd; }
th { background: #0b3d91; color: #fff; font-weight: 600; white-space: nowrap; }
tbody tr:nth-child(even) { background: #f3f6fb; }
tbody tr:first-child { font-weight: 600; }
td:nth-child(n+3):nth-child(-n+8) { text-align: right; font-variant-numeric: tabular-nums; }
td:nth-child(6) { background: #fff7d6; }
td { overflow-wrap: anywhere; max-width: 20em; }
img { max-width: 100%; }
"""


def to_html(standings: list[Standing], split: str, title: str = "AutoICE leaderboard") -> str:
    """One self-contained HTML page: a styled, escaped table and an embedded bar chart."""
    esc = html.escape
    ci, shared = interval_settings(standings), rank_confidence_of(standings)
    calibration = has_calibration(standings)
    columns = _columns(ci, readable=True, shared=shared, calibration=calibration)
    header = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = "\n".join(
        "<tr>"
        + "".join(
            f"<td>{esc(c)}</td>"
            for c in _cells(s, readable=True, ci=ci, shared=shared, calibration=calibration)
        )
        + "</tr>"
        for s in standings
    )
    chart = (
        f'<img alt="Scores per chart" src="data:image/png;base64,{bar_chart_png(standings, split)}">'
        if standings
        else "<p>No scored submissions yet.</p>"
    )
    caption = (
        "Scores in percent as the challenge rounds them: SIC R² of the concentration classes, "
        "SOD and FLOE support-weighted F1, combined = (2 SIC + 2 SOD + FLOE) / 5. "
        "Each team's best submission; times in UTC."
    )
    if ci is not None:
        caption += " " + _ci_note(ci)
    if shared is not None:
        caption += " " + _shared_note(ci, shared)
    if calibration:
        caption += " " + calibration_note()
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>{esc(title)} ({esc(split)})</title>
<style>{_PAGE_STYLE}</style>
</head>
<body>
<h1>{esc(title)}</h1>
<p class="note">{esc(split)} split</p>
<table>
<caption>{esc(caption)}</caption>
<thead><tr>{header}</tr></thead>
<tbody>
{body}
</tbody>
</table>
{chart}
</body>
</html>
"""


def bar_chart_png(standings: list[Standing], split: str) -> str:
    """Grouped bars of each team's chart and combined scores, as base64 PNG text."""
    import numpy as np
    from matplotlib import colormaps
    from matplotlib.figure import Figure  # draws with Agg, leaves pyplot's backend alone

    keys = (*CHARTS, "combined")
    teams = [s.team.replace("$", r"\$") for s in standings]  # no mathtext from team names
    x = np.arange(len(standings))
    width = 0.8 / len(keys)
    fig = Figure(figsize=(max(7.0, 1.2 * len(standings) + 3), 4), dpi=100)
    ax = fig.subplots()
    colours = colormaps["tab10"].colors
    for i, key in enumerate(keys):
        values = [np.nan if s.scores[key] is None else s.scores[key] for s in standings]
        ax.bar(x + (i - (len(keys) - 1) / 2) * width, values, width, label=column_label(key),
               color=colours[i])  # fmt: skip
    ax.set_xticks(x, teams, rotation=30, ha="right")
    ax.set_ylabel("score (%)")
    ax.set_title(f"Best submission per team, {split} split")
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")
