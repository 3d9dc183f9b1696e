"""Leaderboard standings as Markdown, CSV, JSON or one self-contained HTML page.

Scores are shown as the challenge published them (`Standing.scores_rounded`: chart scores
rounded to 3 decimals, the combined score from those); JSON also carries the unrounded ones.

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

from kit.charts import CHARTS, SCORE_DECIMALS
from scoring.leaderboard import SCORE_KEYS, Standing

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


def _cells(standing: Standing) -> list[str]:
    scores = [_score_text(standing.scores_rounded[key]) for key in SCORE_KEYS]
    return [str(standing.rank), standing.team, *scores, str(standing.submissions),
            standing.submitted_at, standing.file_name]  # fmt: skip


def _score_text(score: float | None) -> str:
    return "-" if score is None else f"{score:.{SCORE_DECIMALS}f}"


def to_markdown(standings: list[Standing], split: str, title: str = "AutoICE leaderboard") -> str:
    """A Markdown table; `|`, backslashes, markup characters and newlines in names are escaped."""
    lines = [f"# {_md_escape(title)} ({split} split)", "", "| " + " | ".join(COLUMNS) + " |"]
    lines.append("|" + "---|" * len(COLUMNS))
    for standing in standings:
        lines.append("| " + " | ".join(_md_escape(c) for c in _cells(standing)) + " |")
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
    writer.writerow(["split", *COLUMNS])
    for standing in standings:
        cells = _cells(standing)
        cells[1] = _csv_safe(cells[1])
        cells[-1] = _csv_safe(cells[-1])
        writer.writerow([split, *cells])
    return out.getvalue()


def _csv_safe(text: str) -> str:
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_json(standings: list[Standing], split: str, title: str = "") -> str:
    """JSON: {"split": ..., "standings": [{rank, team, scores, scores_unrounded, ...}]}."""
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
        }
        for s in standings
    ]
    return json.dumps({"split": split, "standings": rows}, indent=2, allow_nan=False) + "\n"


def to_html(standings: list[Standing], split: str, title: str = "AutoICE leaderboard") -> str:
    """One self-contained HTML page: escaped table and an embedded per-chart bar chart."""
    esc = html.escape
    header = "".join(f"<th>{esc(c)}</th>" for c in COLUMNS)
    body = "\n".join(
        "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in _cells(s)) + "</tr>" for s in standings
    )
    chart = (
        f'<img alt="Scores per chart" src="data:image/png;base64,{bar_chart_png(standings, split)}">'
        if standings
        else "<p>No scored submissions yet.</p>"
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>{esc(title)} ({esc(split)})</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; }}
th, td {{ border: 1px solid #bbb; padding: 0.3em 0.6em; text-align: left; overflow: hidden; }}
img {{ max-width: 100%; }}
</style>
</head>
<body>
<h1>{esc(title)} ({esc(split)} split)</h1>
<table>
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
    fig = Figure(figsize=(max(6.0, 1.2 * len(standings) + 2), 4), dpi=100)
    ax = fig.subplots()
    colours = colormaps["tab10"].colors
    for i, key in enumerate(keys):
        values = [np.nan if s.scores[key] is None else s.scores[key] for s in standings]
        ax.bar(x + (i - (len(keys) - 1) / 2) * width, values, width, label=key, color=colours[i])
    ax.set_xticks(x, teams, rotation=30, ha="right")
    ax.set_ylabel("score (%)")
    ax.set_title(f"Best submission per team, {split} split")
    ax.legend(ncols=len(keys), fontsize="small")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")
