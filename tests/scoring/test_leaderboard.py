"""The SQLite leaderboard: ranking, tie-break, limits, duplicates, failures, crashes, concurrency."""

from __future__ import annotations

import multiprocessing
import sqlite3
import subprocess
import sys
import textwrap
import threading
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from kit.charts import MASK, combined_score
from scoring import Leaderboard, ScoringError, find_reference, score_submission
from scoring.leaderboard import SCHEMA, check_team_name
from tests.scoring.builders import (
    make_dataset,
    submission_arrays,
    write_rounding_case,
    write_submission,
)

T0 = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def setup(tmp_path):
    refs, preds = make_dataset(tmp_path / "data", "torchgeo", n_scenes=2, shape=(6, 5))
    return tmp_path, find_reference(tmp_path / "data"), refs, preds


def variant(path: Path, refs, preds, flip_seed: int, perfect: bool = False) -> Path:
    """A submission file: the reference itself (perfect) or a seeded noisy prediction."""
    rng = np.random.default_rng(flip_seed)
    out = {}
    for scene, charts in preds.items():
        out[scene] = {}
        for chart, values in charts.items():
            ref = refs[scene][chart]
            base = np.where(ref == MASK, 0, ref) if perfect else values
            noisy = base.copy()
            if not perfect:
                noisy[rng.random(base.shape) < 0.2] = 0
            out[scene][chart] = noisy.astype(np.uint8)
    return write_submission(path, submission_arrays(out))


def count(db: Path, where: str = "1") -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute(f"SELECT COUNT(*) FROM submissions WHERE {where}").fetchone()[0]


def test_ranking_best_per_team_and_scores_per_split(setup):
    tmp, ref, refs, preds = setup
    board = Leaderboard(tmp / "lb.sqlite")
    perfect = variant(tmp / "perfect.nc", refs, preds, 0, perfect=True)
    noisy = variant(tmp / "noisy.nc", refs, preds, 1)
    r1 = board.submit(noisy, "ice-breakers", ref, now=T0)
    r2 = board.submit(perfect, "ice-breakers", ref, now=T0 + timedelta(minutes=1))
    r3 = board.submit(noisy, "floe riders", ref, now=T0 + timedelta(minutes=2))
    assert (r1.status, r2.status, r3.status) == ("scored", "scored", "scored")
    for split in ("public", "private", "all"):
        standings = board.standings(split)
        assert [s.team for s in standings] == ["ice-breakers", "floe riders"]
        assert standings[0].submission_id == r2.submission_id and standings[0].submissions == 2
        assert standings[0].scores["combined"] == pytest.approx(100.0)
    expected = score_submission(noisy, ref, split="private")
    assert r1.scores["private"]["SOD"] == pytest.approx(expected.charts["SOD"], abs=0)
    assert board.report(r1.submission_id)["charts"]["SIC"] == pytest.approx(
        score_submission(noisy, ref).charts["SIC"]
    )


def test_equal_scores_earlier_submission_wins(setup):
    tmp, ref, refs, preds = setup
    board = Leaderboard(tmp / "lb.sqlite")
    a = variant(tmp / "a.nc", refs, preds, 5)
    b = variant(tmp / "b.nc", refs, preds, 5)
    with open(b, "ab") as f:
        f.write(b"\0")  # same content, different bytes: not a duplicate
    board.submit(a, "late team", ref, now=T0 + timedelta(hours=1))
    board.submit(b, "early team", ref, now=T0)
    assert [s.team for s in board.standings()] == ["early team", "late team"]
    # Within a team, the earlier of equal submissions is the one ranked.
    r = board.submit(a, "early team", ref, now=T0 + timedelta(hours=2))
    assert board.standings()[0].submission_id != r.submission_id


def test_ranking_uses_the_challenges_combined_figure(tmp_path):
    """A database as written before the challenge figure existed (only unrounded scores) ranks
    by the challenge's combined figure, which reverses the order of rounding the unrounded one.

    A: SIC 100, SOD 68.5714285714 (24/35, see `rounding_order_case`), FLOE 100
       unrounded 87.4285714 -> 87.429; challenge (200 + 137.142 + 100) / 5 = 87.4284 -> 87.428
    B: SIC = SOD = 84.2855001, FLOE 100
       unrounded (4 * 84.2855001 + 100) / 5 = 87.4284001 -> 87.428;
       challenge (4 * 84.286 + 100) / 5 = 437.144 / 5 = 87.4288 -> 87.429
    """
    db = tmp_path / "old.sqlite"
    a = {"SIC": 100.0, "SOD": 100 * 24 / 35, "FLOE": 100.0}
    b = {"SIC": 84.2855001, "SOD": 84.2855001, "FLOE": 100.0}
    with sqlite3.connect(db) as conn:
        conn.executescript(SCHEMA)
        for sid, (team, charts) in enumerate([("A", a), ("B", b)], start=1):
            conn.execute("INSERT INTO teams VALUES (?, ?, ?)", (sid, team, T0.isoformat()))
            conn.execute(
                "INSERT INTO submissions (id, team_id, file_name, file_hash, file_size, "
                "submitted_at, status) VALUES (?, ?, 'x.nc', ?, 1, ?, 'scored')",
                (sid, sid, str(sid), (T0 + timedelta(minutes=sid)).isoformat()),
            )
            scores = {**charts, "combined": combined_score(charts)}
            conn.executemany(
                "INSERT INTO scores VALUES (?, 'public', ?, ?)",
                [(sid, key, value) for key, value in scores.items()],
            )
    assert round(combined_score(a), 3) == 87.429 and round(combined_score(b), 3) == 87.428
    standings = Leaderboard(db).standings("public")
    assert [s.team for s in standings] == ["B", "A"]
    assert [s.scores_rounded["combined"] for s in standings] == [87.429, 87.428]
    assert standings[1].scores_rounded["SOD"] == 68.571
    assert standings[1].scores["SOD"] == 100 * 24 / 35  # the stored unrounded score
    assert Leaderboard(db).standings("private") == []


def test_submission_result_carries_the_challenges_figures(tmp_path):
    reference, sub = write_rounding_case(tmp_path)
    result = Leaderboard(tmp_path / "lb.sqlite").submit(sub, "team", reference, now=T0)
    assert result.scores_rounded["all"] == {"SIC": 100.0, "SOD": 68.571, "FLOE": 100.0, "combined": 87.428}  # fmt: skip
    assert round(result.scores["all"]["combined"], 3) == 87.429
    assert result.scores_rounded["private"]["combined"] is None  # one scene: all public


def test_duplicate_is_recorded_not_counted(setup):
    tmp, ref, refs, preds = setup
    board = Leaderboard(tmp / "lb.sqlite", daily_limit=1)
    sub = variant(tmp / "a.nc", refs, preds, 1)
    first = board.submit(sub, "team", ref, now=T0)
    again = board.submit(sub, "team", ref, now=T0 + timedelta(minutes=5))
    assert again.status == "duplicate" and again.duplicate_of == first.submission_id
    assert board.standings()[0].submissions == 1
    assert count(tmp / "lb.sqlite", "status = 'duplicate'") == 1
    # Another team may submit the same file.
    assert board.submit(sub, "other", ref, now=T0).status == "scored"


def test_daily_limit_per_team_and_utc_day(setup):
    tmp, ref, refs, preds = setup
    board = Leaderboard(tmp / "lb.sqlite", daily_limit=2)
    files = [variant(tmp / f"s{i}.nc", refs, preds, i) for i in range(4)]
    board.submit(files[0], "team", ref, now=T0)
    board.submit(files[1], "team", ref, now=T0 + timedelta(hours=1))
    with pytest.raises(ScoringError, match="daily limit of 2"):
        board.submit(files[2], "team", ref, now=T0 + timedelta(hours=2))
    assert count(tmp / "lb.sqlite") == 2
    assert board.submit(files[2], "team", ref, now=T0 + timedelta(days=1)).status == "scored"
    assert board.submit(files[3], "other", ref, now=T0).status == "scored"


def test_failed_submission_is_recorded_without_scores(setup):
    tmp, ref, refs, preds = setup
    board = Leaderboard(tmp / "lb.sqlite")
    bad = tmp / "bad.nc"
    bad.write_text("not netcdf")
    with pytest.raises(ScoringError, match="not a readable netCDF"):
        board.submit(bad, "team", ref, now=T0)
    [row] = board.submissions()
    assert row["status"] == "failed" and "not a readable netCDF" in row["reason"]
    assert board.standings() == []
    with sqlite3.connect(tmp / "lb.sqlite") as conn:
        assert conn.execute("SELECT COUNT(*) FROM scores").fetchone()[0] == 0


def test_out_of_class_values_are_scored_unless_strict(setup):
    tmp, ref, refs, preds = setup
    board = Leaderboard(tmp / "lb.sqlite")
    arrays = submission_arrays(preds)
    name = next(iter(arrays))
    arrays[name] = np.full(arrays[name].shape, 11, dtype=np.uint8)  # SIC 11: not a class
    sub = write_submission(tmp / "oc.nc", arrays)
    with pytest.raises(ScoringError, match=f"{name} has 30 pixels with values outside the SIC"):
        board.submit(sub, "team", ref, now=T0, strict=True)
    result = board.submit(sub, "team", ref, now=T0 + timedelta(minutes=1))
    assert result.status == "scored"
    assert [row["status"] for row in board.submissions()] == ["failed", "scored"]
    assert any("scored as wrong" in w for w in board.report(result.submission_id)["warnings"])


@pytest.mark.parametrize("name", ["", " padded", "x" * 65, "tab\tname", "new\nline"])
def test_team_names_are_validated(name):
    with pytest.raises(ScoringError, match="team name"):
        check_team_name(name)


def test_team_names_are_plain_data_in_sql(setup):
    tmp, ref, refs, preds = setup
    board = Leaderboard(tmp / "lb.sqlite")
    name = "x'); DROP TABLE teams; --"
    board.submit(variant(tmp / "a.nc", refs, preds, 1), name, ref, now=T0)
    assert board.standings()[0].team == name


def test_split_is_fixed_when_the_leaderboard_is_created(setup, tmp_path):
    tmp, ref, refs, preds = setup
    board = Leaderboard(tmp / "lb.sqlite")
    scenes = sorted(refs)
    split_file = tmp / "split.csv"
    split_file.write_text(f"scene_id,split\n{scenes[0]},private\n{scenes[1]},public\n")
    sub = variant(tmp / "a.nc", refs, preds, 1)
    r = board.submit(sub, "team", ref, split_file=split_file, now=T0)
    assert r.scores["public"]["SIC"] == pytest.approx(
        score_submission(sub, ref, split="public", split_file=split_file).charts["SIC"]
    )
    split_file.write_text(f"scene_id,split\n{scenes[0]},public\n{scenes[1]},private\n")
    with pytest.raises(ScoringError, match="differs from the split stored"):
        board.submit(variant(tmp / "b.nc", refs, preds, 2), "team", ref, split_file=split_file)
    other_refs, _ = make_dataset(tmp_path / "other", "flat", n_scenes=3, shape=(6, 5))
    with pytest.raises(ScoringError, match="reference scenes differ"):
        board.submit(sub, "team", tmp_path / "other")


def test_crash_while_recording_leaves_no_half_written_row(setup):
    tmp, _, refs, preds = setup
    sub = variant(tmp / "a.nc", refs, preds, 1)
    db = tmp / "lb.sqlite"
    script = textwrap.dedent(
        f"""
        import os
        from scoring import leaderboard
        def crash(*args, **kwargs):
            os._exit(3)  # the process dies after the submission row, before the scores
        leaderboard.Leaderboard._insert_scores = staticmethod(crash)
        leaderboard.Leaderboard({str(db)!r}).submit({str(sub)!r}, "team", {str(tmp / "data")!r})
        """
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).parents[2])
    assert result.returncode == 3
    assert count(db) == 0
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT COUNT(*) FROM scores").fetchone()[0] == 0
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def _submit_many(db: str, team: str, files: list[str], reference: str) -> list[str]:
    board = Leaderboard(db, daily_limit=1000)
    ref = find_reference(reference)
    return [board.submit(f, team, ref).status for f in files]


def test_eight_processes_submitting_at_once_lose_and_corrupt_nothing(setup):
    tmp, _, refs, preds = setup
    files = [str(variant(tmp / f"s{i}.nc", refs, preds, i)) for i in range(25)]
    db = str(tmp / "lb.sqlite")
    teams = [f"team {i}" for i in range(8)]
    with multiprocessing.get_context("fork").Pool(8) as pool:
        results = pool.starmap(_submit_many, [(db, t, files, str(tmp / "data")) for t in teams])
    assert all(status == "scored" for statuses in results for status in statuses)
    assert count(Path(db)) == 200
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT COUNT(*) FROM scores").fetchone()[0] == 200 * 3 * 4
    standings = Leaderboard(db).standings()
    assert sorted(s.team for s in standings) == teams
    assert {s.submissions for s in standings} == {25}
    assert len({s.scores["combined"] for s in standings}) == 1  # same files, same best


def test_same_file_from_eight_processes_is_scored_once(setup):
    tmp, _, refs, preds = setup
    file = str(variant(tmp / "s.nc", refs, preds, 1))
    db = str(tmp / "lb.sqlite")
    with multiprocessing.get_context("fork").Pool(8) as pool:
        results = pool.starmap(_submit_many, [(db, "team", [file], str(tmp / "data"))] * 8)
    statuses = sorted(s for r in results for s in r)
    assert statuses == ["duplicate"] * 7 + ["scored"]
    assert count(Path(db), "status = 'scored'") == 1


def test_show_requires_an_existing_database(tmp_path):
    with pytest.raises(ScoringError, match="no such file"):
        Leaderboard(tmp_path / "none.sqlite").standings()


def test_wal_switch_waits_for_a_writer_instead_of_failing(tmp_path):
    """SQLite refuses a journal-mode switch at once ("locked", no busy wait) while another
    connection holds the write lock; several submitters creating one file race exactly so.
    The switch must wait for the writer and then succeed."""
    db = tmp_path / "lb.sqlite"
    with closing(sqlite3.connect(db, isolation_level=None)) as conn:
        conn.execute("CREATE TABLE t (x)")
    writer = sqlite3.connect(db, isolation_level=None, timeout=60, check_same_thread=False)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO t VALUES (1)")
    with closing(sqlite3.connect(db, isolation_level=None, timeout=60)) as conn:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            conn.execute("PRAGMA journal_mode = WAL")  # what SQLite does on its own
        release = threading.Timer(0.3, lambda: (writer.execute("COMMIT"), writer.close()))
        release.start()
        Leaderboard(db)._switch_to_wal(conn)
        release.join()
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT x FROM t").fetchall() == [(1,)]  # the writer's row kept
