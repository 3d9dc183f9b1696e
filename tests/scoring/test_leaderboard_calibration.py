"""The leaderboard with uncertainty files (issue 24): calibration columns equal to
`score_submission`'s figures on each split, empty without a file, the ranking unchanged, a bad
file records nothing (not even a daily slot), and older leaderboard files upgrade."""

from __future__ import annotations

import csv
import io
import json
import sqlite3

import numpy as np
import pytest

from kit.charts import CHARTS, MASK
from kit.cli import main
from scoring import Leaderboard, ScoringError, score_submission
from scoring.leaderboard import CALIBRATION_KEYS, SCHEMA_VERSION
from scoring.leaderboard.export import export
from tests.scoring.bad_uncertainty import BAD_KINDS, bad_uncertainty_file
from tests.scoring.builders import submission_arrays, write_submission
from tests.scoring.uncertainty_builders import calibration_case

SPLITS = ("public", "private", "all")


@pytest.fixture
def case(tmp_path):
    """Four scenes, a submission with its uncertainty file, and a better submission (the
    reference itself where it has a class) without one."""
    found = calibration_case(tmp_path, n_scenes=4, shape=(10, 8), probabilities=False)
    perfect = {
        scene: {c: np.where(r == MASK, 0, r).astype(np.uint8) for c, r in charts.items()}
        for scene, charts in found["refs"].items()
    }
    found["better"] = write_submission(tmp_path / "better.nc", submission_arrays(perfect))
    return found


def submit_args(case, db, team, sub, *more):
    return ["leaderboard", "submit", str(sub), "--team", team, "--reference", str(case["root"]),
            "--db", str(db), *more]  # fmt: skip


def test_columns_equal_score_submissions_calibration_on_each_split(case, tmp_path):
    board = Leaderboard(tmp_path / "board.sqlite")
    result = board.submit(case["sub"], "Doubters", case["root"], uncertainty=case["unc"])
    for split in SPLITS:
        expected = score_submission(
            case["sub"], case["root"], split=split, uncertainty=case["unc"], workers=1
        ).statistics["calibration"]
        (standing,) = board.standings(split)
        figures = standing.calibration
        assert result.calibration[split] == figures
        for chart in CHARTS:
            assert figures[f"ECE_{chart}"] == pytest.approx(expected["charts"][chart]["ece"])
        assert figures["SIC_coverage"] == pytest.approx(expected["sic_interval"]["coverage"])
        assert figures["SIC_width"] == pytest.approx(expected["sic_interval"]["mean_width"])
    public, private = (board.standings(s)[0].calibration for s in ("public", "private"))
    assert public != private  # each split's own scenes
    stored = board.report(result.submission_id)["calibration"]
    assert stored["files"]["uncertainty"] == "uncertainty.nc"  # the name, not the path


def test_ranking_unchanged_and_columns_empty_without_a_file(case, tmp_path):
    with_file, without = Leaderboard(tmp_path / "a.sqlite"), Leaderboard(tmp_path / "b.sqlite")
    with_file.submit(case["sub"], "Doubters", case["root"], uncertainty=case["unc"])
    with_file.submit(case["better"], "Sure Ones", case["root"])
    without.submit(case["sub"], "Doubters", case["root"])
    without.submit(case["better"], "Sure Ones", case["root"])
    for split in SPLITS:
        ranked = [(s.rank, s.team, s.scores) for s in with_file.standings(split)]
        assert ranked == [(s.rank, s.team, s.scores) for s in without.standings(split)]
        assert [team for _, team, _ in ranked] == ["Sure Ones", "Doubters"]
    sure, doubters = with_file.standings("public")
    assert sure.calibration is None and set(doubters.calibration) == set(CALIBRATION_KEYS)

    table = export(with_file.standings("public"), "md", "public")
    assert "ECE SIC | ECE SOD | ECE FLOE | SIC 90 % coverage | SIC interval width" in table
    sure_row = next(line for line in table.splitlines() if "Sure Ones" in line)
    assert "| - | - | - | - | - |" in sure_row
    doubters_row = next(line for line in table.splitlines() if "Doubters" in line)
    assert f"| {doubters.calibration['ECE_SOD']:.4f} |" in doubters_row
    assert "Not used for the ranking" in table

    rows = list(csv.DictReader(io.StringIO(export(with_file.standings("public"), "csv", "public"))))
    assert [r["team"] for r in rows] == ["Sure Ones", "Doubters"]
    assert rows[0]["SIC_coverage"] == "" and rows[0]["ECE_SIC"] == ""
    assert float(rows[1]["SIC_coverage"]) == pytest.approx(doubters.calibration["SIC_coverage"], abs=5e-5)  # fmt: skip
    data = json.loads(export(with_file.standings("public"), "json", "public"))
    assert data["standings"][0]["calibration"] is None
    assert data["standings"][1]["calibration"] == doubters.calibration
    page = export(with_file.standings("public"), "html", "public")
    assert "<th>SIC 90 % coverage</th>" in page and "<script" not in page

    plain = export(without.standings("public"), "csv", "public")  # unchanged without files
    assert "ECE" not in plain and "calibration" not in export(without.standings("public"), "json", "public")  # fmt: skip


def test_cli_submit_show_and_export_with_an_uncertainty_file(case, tmp_path, capsys):
    db = tmp_path / "board.sqlite"
    assert main(submit_args(case, db, "Doubters", case["sub"], "--uncertainty", str(case["unc"]))) == 0  # fmt: skip
    out = capsys.readouterr().out
    figures = Leaderboard(db).standings("public")[0].calibration
    assert f"calibration: ECE SIC {figures['ECE_SIC']:.4f}" in out and "(public split)" in out
    assert main(["leaderboard", "show", "--db", str(db), "--split", "private"]) == 0
    shown = capsys.readouterr().out
    private = Leaderboard(db).standings("private")[0].calibration
    assert f"| {private['SIC_coverage']:.4f} |" in shown


@pytest.mark.parametrize("kind", sorted(BAD_KINDS))
def test_bad_uncertainty_file_is_one_line_exit_2_and_records_nothing(case, tmp_path, capsys, kind):
    db = tmp_path / "board.sqlite"
    assert main(submit_args(case, db, "First", case["better"])) == 0  # the file exists
    before = db.read_bytes()
    bad = bad_uncertainty_file(case, kind, tmp_path / "bad.nc")
    capsys.readouterr()
    limit = ["--daily-limit", "1"]
    assert main(submit_args(case, db, "Doubters", case["sub"], "--uncertainty", str(bad), *limit)) == 2  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"uncertainty file {bad}" in err
    assert BAD_KINDS[kind] in err
    assert db.read_bytes() == before  # no submission, no team, nothing
    assert [s["team"] for s in Leaderboard(db).submissions()] == ["First"]
    # the team's one submission of the day is still free
    assert main(submit_args(case, db, "Doubters", case["sub"], "--uncertainty", str(case["unc"]), *limit)) == 0  # fmt: skip


def test_a_submission_at_fault_is_recorded_failed_even_with_a_good_uncertainty_file(case, tmp_path):
    preds = {s: {c: v.copy() for c, v in charts.items()} for s, charts in case["preds"].items()}
    scene = sorted(preds)[0]
    bad_sub = submission_arrays(preds)
    bad_sub[f"{scene}_SOD"] = bad_sub[f"{scene}_SOD"].astype(np.float32)
    bad_sub[f"{scene}_SOD"][0, 0] = np.nan  # the submission's own problem
    path = write_submission(tmp_path / "bad_sub.nc", bad_sub)
    board = Leaderboard(tmp_path / "board.sqlite")
    with pytest.raises(ScoringError, match="submission .*bad_sub.nc"):
        board.submit(path, "Doubters", case["root"], uncertainty=case["unc"])
    (record,) = board.submissions()
    assert record["status"] == "failed" and "bad_sub.nc" in record["reason"]


def test_a_submission_is_the_pair_of_files(case, tmp_path):
    board = Leaderboard(tmp_path / "board.sqlite")
    first = board.submit(case["sub"], "Doubters", case["root"], uncertainty=case["unc"])
    again = board.submit(case["sub"], "Doubters", case["root"], uncertainty=case["unc"])
    assert again.status == "duplicate" and again.duplicate_of == first.submission_id
    alone = board.submit(case["sub"], "Doubters", case["root"])  # without its file: new
    assert alone.status == "scored" and not alone.calibration
    assert board.submit(case["sub"], "Doubters", case["root"]).duplicate_of == alone.submission_id


@pytest.mark.parametrize("version", [1, 2])
def test_older_leaderboard_files_upgrade_and_keep_their_rows(case, tmp_path, version):
    db = tmp_path / "board.sqlite"
    Leaderboard(db).submit(case["better"], "Sure Ones", case["root"])
    with sqlite3.connect(db) as conn:  # what the kit wrote before uncertainty files
        conn.execute("DROP TABLE calibration")
        conn.execute("DROP TABLE uncertainty_files")
        if version == 1:
            conn.execute("DROP TABLE scene_counts")
        conn.execute(f"PRAGMA user_version = {version}")
    old = db.read_bytes()
    board = Leaderboard(db)
    (standing,) = board.standings("public")  # read-only: readable, unchanged, no columns
    assert standing.calibration is None and db.read_bytes() == old
    assert "ECE" not in export([standing], "md", "public")
    board.submit(case["sub"], "Doubters", case["root"], uncertainty=case["unc"])
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert {"scene_counts", "uncertainty_files", "calibration"} <= tables
    by_team = {s.team: s for s in board.standings("public")}
    assert by_team["Sure Ones"].scores == standing.scores and by_team["Sure Ones"].calibration is None  # fmt: skip
    assert by_team["Doubters"].calibration["ECE_FLOE"] is not None
    assert [s.team for s in board.standings("public")] == ["Sure Ones", "Doubters"]
