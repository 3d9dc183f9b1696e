"""Shared ranks: a team shares the rank of the team ranked directly above when a paired
bootstrap of their best submissions (stored per-scene counts) cannot tell them apart; checked
against `paired_bootstrap` on accumulators built straight from the arrays."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from kit.charts import CHARTS
from kit.cli import main
from scoring import Leaderboard
from scoring.leaderboard.export import export
from scoring.metrics import ScoreAccumulator
from scoring.statistics import Bootstrap, paired_bootstrap
from tests.scoring.builders import submission_arrays, write_submission

SETTINGS = Bootstrap(resamples=200, seed=5)


@pytest.fixture
def three_teams(two_submissions, tmp_path):
    """A leaderboard ("all" split) of a good team and two nearly identical worse ones (the
    third's prediction differs from the second's in one pixel), and each team's accumulator
    built from its arrays."""
    tmp, a, b, scenes_a, scenes_b = two_submissions
    scenes_c = {s: {c: (pred.copy(), ref) for c, (pred, ref) in charts.items()}
                for s, charts in scenes_b.items()}  # fmt: skip
    first = sorted(scenes_c)[0]
    pred, ref = scenes_c[first]["SOD"]
    wrong = np.flatnonzero((pred != ref).ravel() & (ref.ravel() != 255))[0]
    pred.ravel()[wrong] = ref.ravel()[wrong]  # one more pixel right than team B
    c = write_submission(
        tmp / "c.nc", submission_arrays({s: {ch: p for ch, (p, _) in v.items()} for s, v in scenes_c.items()})
    )  # fmt: skip
    db = tmp_path / "board.sqlite"
    board = Leaderboard(db)
    for path, team in ((a, "Team A"), (b, "Team B"), (c, "Team C")):
        board.submit(path, team, tmp / "data")
    accumulators = {}
    for team, scenes in (("Team A", scenes_a), ("Team B", scenes_b), ("Team C", scenes_c)):
        acc = ScoreAccumulator()
        for scene, charts in scenes.items():
            for chart in CHARTS:
                acc.update(scene, chart, *charts[chart])
        accumulators[team] = acc
    return db, accumulators


def test_shared_ranks_match_a_direct_paired_bootstrap(three_teams):
    db, accumulators = three_teams
    standings = Leaderboard(db).standings("all", ci=SETTINGS, rank_confidence=0.95)
    teams = [s.team for s in standings]
    assert teams[0] == "Team A" and set(teams[1:]) == {"Team B", "Team C"}
    assert [s.rank for s in standings] == [1, 2, 3]  # the challenge's ranks are kept
    assert [s.rank_shown for s in standings] == ["1", "2=", "2="]
    scenes = sorted(accumulators["Team A"].scenes)
    assert standings[0].above is None
    for upper, lower in zip(standings, standings[1:]):
        direct = paired_bootstrap(
            accumulators[upper.team], accumulators[lower.team], scenes, SETTINGS
        )
        better = direct.a_better["combined"]
        assert lower.above["team"] == upper.team and lower.above["reason"] is None
        assert lower.above["upper_better"] == better  # same seed, same resamples: exact
        assert lower.above["difference"] == pytest.approx(direct.difference["combined"], abs=1e-9)
        assert lower.above["shared"] == (better < 0.95)
    # the plain computation: the share of the same resamples where the upper team is higher
    upper, lower = (accumulators[t] for t in teams[1:])
    idx = np.random.default_rng(SETTINGS.seed).integers(
        0, len(scenes), (SETTINGS.resamples, len(scenes))
    )
    wins = [upper.report([scenes[i] for i in row]).combined
            > lower.report([scenes[i] for i in row]).combined for row in idx]  # fmt: skip
    assert standings[2].above["upper_better"] == pytest.approx(np.mean(wins), abs=1e-12)
    assert 0 < standings[2].above["upper_better"] < 0.95 <= standings[1].above["upper_better"]


def test_a_lower_rank_confidence_separates_more(three_teams):
    db, _ = three_teams
    board = Leaderboard(db)
    share = board.standings("all", ci=SETTINGS, rank_confidence=0.95)[2].above["upper_better"]
    strict = board.standings("all", ci=SETTINGS, rank_confidence=share / 2)
    assert [s.rank_shown for s in strict] == ["1", "2", "3"]


def test_a_submission_without_counts_is_not_compared(three_teams):
    import sqlite3

    db, _ = three_teams
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM scene_counts WHERE submission_id = 3")
    standings = Leaderboard(db).standings("all", ci=SETTINGS, rank_confidence=0.95)
    (third,) = [s for s in standings if s.submission_id == 3]
    assert third.above is None or third.above["reason"] is not None
    assert all(s.rank_shown.rstrip("=") == str(s.rank) for s in standings)
    table = export(standings, "md", "all")
    assert "not compared: no stored per-scene counts for" in table


def test_cli_shared_ranks_in_every_format(three_teams, tmp_path, capsys):
    db, _ = three_teams
    opts = ["--db", str(db), "--split", "all", "--ci", "--resamples", "200", "--seed", "5"]
    standings = Leaderboard(db).standings("all", ci=SETTINGS, rank_confidence=0.95)
    assert main(["leaderboard", "show", *opts, "--shared-ranks"]) == 0
    shown = capsys.readouterr().out
    rows = [line for line in shown.splitlines() if line.startswith("| 2= |")]
    assert len(rows) == 2 and "| 1 | Team A |" in shown
    assert "fewer than 95 % of the resamples" in shown
    assert main(["leaderboard", "export", *opts, "--shared-ranks", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["rank"], r["shared_rank"]) for r in rows] == [("1", "1"), ("2", "2="), ("3", "2=")]
    assert float(rows[2]["above_better"]) == pytest.approx(
        standings[2].above["upper_better"], abs=5e-5
    )
    assert main(["leaderboard", "export", *opts, "--shared-ranks", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [s["shared_rank"] for s in data["standings"]] == ["1", "2=", "2="]
    assert data["shared_ranks"]["rank_confidence"] == 0.95
    out = tmp_path / "b.html"
    assert main(["leaderboard", "export", *opts, "--shared-ranks", "--rank-confidence", "0.9", "--format", "html", "--out", str(out)]) == 0  # fmt: skip
    page = out.read_text()
    assert "<td>2=</td>" in page and "fewer than 90 % of the resamples" in page


def test_default_output_is_unchanged(three_teams, capsys):
    db, _ = three_teams
    standings = Leaderboard(db).standings("all")
    assert all(s.rank_shown is None and s.above is None for s in standings)
    for fmt in ("md", "csv", "json"):
        assert main(["leaderboard", "export", "--db", str(db), "--split", "all", "--format", fmt]) == 0  # fmt: skip
        assert capsys.readouterr().out == export(standings, fmt, "all")
    text = export(standings, "csv", "all")
    assert "shared" not in text and "2=" not in text and "above" not in text


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--ci", "--shared-ranks", "--rank-confidence", "1.5"],
         "--rank-confidence: rank confidence must lie between 0 and 1 (e.g. 0.95), got 1.5"),
        (["--ci", "--shared-ranks", "--rank-confidence", "x"],
         "--rank-confidence: expected a number, got 'x'"),
        (["--ci", "--rank-confidence", "0.9"], "--rank-confidence needs --shared-ranks"),
        (["--shared-ranks"], "--shared-ranks needs --ci (its resamples and seed)"),
    ],
)  # fmt: skip
def test_cli_bad_rank_confidence_is_one_line_exit_2(tmp_path, capsys, extra, message):
    assert main(["leaderboard", "show", "--db", str(tmp_path / "x.sqlite"), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.endswith(message)
