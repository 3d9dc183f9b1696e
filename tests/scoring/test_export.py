"""Leaderboard exports: content of each format and escaping of hostile names."""

from __future__ import annotations

import base64
import csv
import io
import json
import re

from scoring.leaderboard import Standing
from scoring.leaderboard.export import export

HOSTILE_TEAM = "<script>alert(1)</script>"
HOSTILE_FILE = '"><img src=x onerror=alert(2)>|=cmd.nc'


def standings() -> list[Standing]:
    scores = {"SIC": 80.12345, "SOD": 70.0, "FLOE": 60.5, "combined": 72.1}
    return [
        Standing(1, HOSTILE_TEAM, 7, HOSTILE_FILE, "2026-11-21T09:00:00+00:00", scores, 3),
        Standing(
            2, "=SUM(A1)", 8, "ok.nc", "2026-11-21T10:00:00+00:00", {**scores, "SIC": None}, 1
        ),
    ]


def test_html_is_self_contained_and_escapes_names():
    page = export(standings(), "html", "public")
    assert "<script" not in page.lower()
    assert page.count("<img") == 1  # only the embedded chart, not the file name's tag
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&quot;&gt;&lt;img src=x onerror=alert(2)&gt;" in page
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert not re.search(r"(src|href)=\"(?!data:)", page)  # nothing fetched from outside
    png = re.search(r'src="data:image/png;base64,([^"]+)"', page).group(1)
    assert base64.b64decode(png).startswith(b"\x89PNG")
    assert "80.123" in page and "<td>-</td>" in page


def test_markdown_escapes_table_syntax_and_html():
    text = export(standings(), "md", "private")
    rows = [line for line in text.splitlines() if line.startswith("| 1 ")]
    # 9 columns: 10 unescaped pipes; the "|" in the file name is escaped
    assert len(rows) == 1 and len(re.findall(r"(?<!\\)\|", rows[0])) == 10
    assert "\\|=cmd.nc" in rows[0]
    assert "<script>" not in text and "&lt;script&gt;" in text


def test_csv_neutralises_formulas():
    rows = list(csv.reader(io.StringIO(export(standings(), "csv", "public"))))
    assert rows[0][:3] == ["split", "rank", "team"]
    assert rows[1][2] == HOSTILE_TEAM and rows[2][2] == "'=SUM(A1)"
    assert rows[1][-1] == HOSTILE_FILE


def test_json_keeps_names_and_null_scores():
    data = json.loads(export(standings(), "json", "all"))
    assert data["split"] == "all"
    assert data["standings"][0]["team"] == HOSTILE_TEAM
    assert data["standings"][1]["scores"]["SIC"] is None


def test_empty_leaderboard_html():
    assert "No scored submissions yet" in export([], "html", "public")


def test_exports_show_the_challenges_figures():
    """SOD 24/35 (see `rounding_order_case`): the challenge's combined is 87.428, although the
    unrounded combined 87.42857 would round to 87.429."""
    scores = {"SIC": 100.0, "SOD": 100 * 24 / 35, "FLOE": 100.0, "combined": 87.42857142857142}
    standing = [Standing(1, "team", 1, "a.nc", "2026-11-21T09:00:00+00:00", scores, 1)]
    for fmt in ("md", "csv", "html"):
        text = export(standing, fmt, "public")
        assert "87.428" in text and "87.429" not in text and "68.571" in text
    row = json.loads(export(standing, "json", "public"))["standings"][0]
    assert row["scores"] == {"SIC": 100.0, "SOD": 68.571, "FLOE": 100.0, "combined": 87.428}
    assert row["scores_unrounded"] == scores


def test_markdown_and_html_headers_name_the_metrics_and_times_are_to_the_second():
    standing = standings()[0]
    standing.submitted_at = "2026-11-21T09:00:05.123456+00:00"
    for fmt in ("md", "html"):
        text = export([standing], fmt, "public")
        for header in ("SIC R²", "SOD F1", "FLOE F1", "combined", "submitted (UTC)"):
            assert header in text, (fmt, header)
        assert "2026-11-21 09:00:05" in text and ".123456" not in text
    assert "2026-11-21T09:00:05.123456+00:00" in export([standing], "csv", "public")


def test_time_text_converts_to_utc_and_keeps_unparsable_text():
    from scoring.leaderboard.export import time_text

    assert time_text("2026-11-21T10:00:05.9+01:00") == "2026-11-21 09:00:05"
    assert time_text("yesterday") == "yesterday"


def test_html_page_is_styled_without_scripts():
    page = export(standings(), "html", "public")
    assert "<style>" in page and "th {" in page and "<caption>" in page
    assert "<script" not in page.lower() and "javascript:" not in page.lower()
