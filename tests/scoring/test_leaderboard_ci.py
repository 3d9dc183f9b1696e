"""The leaderboard stores each scored submission's per-scene counts (compactly) and adds
bootstrap interval columns from them: equal to `score_submission(..., split=, ci=)`, absent
for submissions scored before a version 1 file was migrated."""

from __future__ import annotations

import csv
import io
import json
import sqlite3

import pytest

from kit.cli import main
from scoring import Leaderboard, score_submission
from scoring.leaderboard import SCHEMA_VERSION
from scoring.leaderboard.export import export
from scoring.statistics import SCORES, Bootstrap

SETTINGS = Bootstrap(resamples=60, seed=3)
TOL = 1e-9


@pytest.mark.parametrize("split", ["public", "all"])
def test_standings_intervals_equal_scoring_the_split_with_ci(two_submissions, tmp_path, split):
    tmp, a, b, _, _ = two_submissions
    board = Leaderboard(tmp_path / "board.sqlite")
    board.submit(a, "Team A", tmp / "data")
    board.submit(b, "Team B", tmp / "data")
    standings = board.standings(split, ci=SETTINGS)
    assert [s.team for s in standings] == [s.team for s in board.standings(split)]
    for standing, path in zip(standings, (a, b)):
        expected = score_submission(path, tmp / "data", split=split, ci=SETTINGS, workers=1)
        for name in SCORES:
            assert standing.intervals[name]["low"] == pytest.approx(
                expected.intervals[name]["low"], abs=TOL
            )
            assert standing.intervals[name]["high"] == pytest.approx(
                expected.intervals[name]["high"], abs=TOL
            )
        assert standing.intervals["resamples"] == 60 and standing.intervals["seed"] == 3
    assert all(s.intervals is None for s in board.standings(split))  # default: the challenge's


def test_a_version_1_file_is_migrated_and_old_submissions_have_no_interval(
    two_submissions, tmp_path
):
    tmp, a, b, _, _ = two_submissions
    db = tmp_path / "board.sqlite"
    Leaderboard(db).submit(a, "Team A", tmp / "data")
    with sqlite3.connect(db) as conn:  # what the kit wrote before it stored counts
        conn.execute("DROP TABLE scene_counts")
        conn.execute("PRAGMA user_version = 1")
    board = Leaderboard(db)
    (old,) = board.standings("all", ci=SETTINGS)  # read-only: no table, no interval
    assert old.intervals is None and old.scores["combined"] is not None
    board.submit(b, "Team B", tmp / "data")  # the first write adds the table
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        rows = conn.execute("SELECT chart, length(confusion) FROM scene_counts").fetchall()
    assert sorted(chart for chart, _ in rows) == ["FLOE", "SIC", "SOD"]
    assert max(size for _, size in rows) < 3 * 11 * 13 * 8  # compressed int64 matrices
    by_team = {s.team: s for s in board.standings("all", ci=SETTINGS)}
    assert by_team["Team A"].intervals is None and by_team["Team B"].intervals is not None
    table = export(list(by_team.values()), "md", "all")
    row_a = next(line for line in table.splitlines() if "Team A" in line)
    assert "| - | - | - | - |" in row_a and "combined 95 % interval" in table


def test_cli_show_and_export_add_interval_columns(two_submissions, tmp_path, capsys):
    tmp, a, b, _, _ = two_submissions
    db = str(tmp_path / "board.sqlite")
    for path, team in ((a, "Team A"), (b, "Team B")):
        assert main(["leaderboard", "submit", str(path), "--team", team, "--reference", str(tmp / "data"), "--db", db]) == 0  # fmt: skip
    capsys.readouterr()
    ci = ["--db", db, "--split", "all", "--ci", "--resamples", "60", "--seed", "3"]
    assert main(["leaderboard", "show", *ci]) == 0
    shown = capsys.readouterr().out
    standings = Leaderboard(db).standings("all", ci=SETTINGS)
    top = standings[0].intervals["combined"]
    assert rf"\[{top['low']:.3f}, {top['high']:.3f}\]" in shown  # Markdown-escaped brackets
    assert "95 % percentile bootstrap" in shown and "60 resamples, seed 3" in shown
    assert main(["leaderboard", "export", *ci, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["team"] for r in rows] == [s.team for s in standings]
    assert float(rows[0]["combined_low"]) == pytest.approx(top["low"], abs=5e-4)
    assert float(rows[0]["SIC_high"]) == pytest.approx(standings[0].intervals["SIC"]["high"], abs=5e-4)  # fmt: skip
    out = tmp_path / "board.json"
    assert main(["leaderboard", "export", *ci, "--format", "json", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["intervals"]["resamples"] == 60
    assert data["standings"][0]["intervals"]["combined"]["low"] == pytest.approx(top["low"])
    assert main(["leaderboard", "export", "--db", db, "--format", "html", "--ci", "--out", str(tmp_path / "b.html")]) == 0  # fmt: skip
    assert "combined 95 % interval" in (tmp_path / "b.html").read_text()
    assert main(["leaderboard", "show", "--db", db]) == 0
    assert "interval" not in capsys.readouterr().out  # the challenge's table by default


def test_cli_leaderboard_seed_without_ci_is_one_line_exit_2(tmp_path, capsys):
    assert main(["leaderboard", "show", "--db", str(tmp_path / "x.sqlite"), "--seed", "3"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.endswith("--resamples, --confidence and --seed need --ci")
