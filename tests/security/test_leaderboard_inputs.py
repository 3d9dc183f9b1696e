"""Hostile and careless leaderboard input: foreign database files, read-only copies, team names
that hide, impersonate or overflow, and out-of-range numbers, through the real CLI."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from kit.cli import main
from scoring import Leaderboard, ScoringError
from scoring.leaderboard import APPLICATION_ID, check_team_name
from tests.scoring.builders import make_dataset, submission_arrays, write_submission

REPO = Path(__file__).parents[2]
T0 = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)

#: The tables of the kit's leaderboards before they were stamped with an application id.
UNSTAMPED_SCHEMA = """
CREATE TABLE teams (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    created_at TEXT NOT NULL);
CREATE TABLE scenes (scene_id TEXT PRIMARY KEY,
    split TEXT NOT NULL CHECK (split IN ('public', 'private')));
CREATE TABLE submissions (id INTEGER PRIMARY KEY AUTOINCREMENT,
    team_id INTEGER NOT NULL REFERENCES teams(id), file_name TEXT NOT NULL,
    file_hash TEXT NOT NULL, file_size INTEGER NOT NULL, submitted_at TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('scored', 'failed', 'duplicate')), reason TEXT,
    duplicate_of INTEGER REFERENCES submissions(id), report_json TEXT);
CREATE INDEX submissions_by_team ON submissions (team_id, status, submitted_at);
CREATE TABLE scores (submission_id INTEGER NOT NULL REFERENCES submissions(id),
    split TEXT NOT NULL, chart TEXT NOT NULL, score REAL,
    PRIMARY KEY (submission_id, split, chart));
"""


@pytest.fixture
def files(tmp_path):
    """(tmp folder, reference folder, two different submissions)."""
    _, preds = make_dataset(tmp_path / "data", "torchgeo", n_scenes=2, shape=(6, 5))
    arrays = submission_arrays(preds)
    first = write_submission(tmp_path / "first.nc", arrays)
    second = write_submission(tmp_path / "second.nc", arrays, chunk_rows=2)  # other bytes
    return tmp_path, tmp_path / "data", first, second


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def journals(db: Path) -> list[str]:
    """The SQLite side files of `db` that exist."""
    return [p.name for p in db.parent.glob(db.name + "-*")]


def one_error(capsys, command: str = "leaderboard") -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"autoice {command}: error: ") and "\n" not in err, err
    return err


def submit(sub: Path, team: str, reference: Path, db: Path, *more: str) -> int:
    return main(["leaderboard", "submit", str(sub), "--team", team, "--reference", str(reference),
                 "--db", str(db), *more])  # fmt: skip


# ---------------------------------------------------------------- database files


def _own_table(db: Path, wal: bool = False) -> None:
    with sqlite3.connect(db) as conn:
        if wal:
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE notes (body TEXT)")
        conn.execute("INSERT INTO notes VALUES ('mine')")
    conn.close()


def _other_application(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA application_id = 1196444487")  # GeoPackage, no tables yet
    conn.close()


def _kit_tables_and_one_more(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        conn.executescript(UNSTAMPED_SCHEMA + "CREATE TABLE extra (x);")
    conn.close()


@pytest.mark.parametrize(
    "make",
    [_own_table, lambda db: _own_table(db, wal=True), _other_application, _kit_tables_and_one_more],
    ids=["own-table", "own-table-wal", "other-application", "kit-tables-and-one-more"],
)
def test_a_foreign_database_is_refused_and_left_byte_identical(files, capsys, make):
    tmp, reference, sub, _ = files
    db = tmp / "theirs.sqlite"
    make(db)
    before = digest(db)
    assert submit(sub, "team", reference, db) == 2
    err = one_error(capsys)
    assert f"leaderboard database {db}: not an AutoICE Kit leaderboard" in err
    assert main(["leaderboard", "show", "--db", str(db)]) == 2
    assert f"{db}: not an AutoICE Kit leaderboard" in one_error(capsys)
    assert digest(db) == before and journals(db) == []


def test_a_kit_database_from_before_the_stamp_is_ranked_then_stamped(files, capsys):
    """Recognised by its exact tables; reading leaves it as it is, the first write stamps it.
    Its team "ÄRKTIS" is the team "ärktis" (identity computed from the stored name)."""
    tmp, reference, sub, _ = files
    db = tmp / "old.sqlite"
    with sqlite3.connect(db) as conn:
        conn.executescript(UNSTAMPED_SCHEMA)
        conn.execute("INSERT INTO teams VALUES (1, 'ÄRKTIS', ?)", (T0.isoformat(),))
        conn.execute(
            "INSERT INTO submissions (team_id, file_name, file_hash, file_size, submitted_at, "
            "status) VALUES (1, 'old.nc', 'x', 1, ?, 'scored')",
            (T0.isoformat(),),
        )
        conn.executemany(
            "INSERT INTO scores VALUES (1, 'public', ?, 50.0)",
            [(key,) for key in ("SIC", "SOD", "FLOE", "combined")],
        )
    conn.close()
    before = digest(db)
    assert main(["leaderboard", "show", "--db", str(db)]) == 0
    assert "| 1 | ÄRKTIS | 50.000 | 50.000 | 50.000 | 50.000 | 1 |" in capsys.readouterr().out
    assert digest(db) == before and journals(db) == []
    assert submit(sub, "ärktis", reference, db) == 0
    capsys.readouterr()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    [standing] = Leaderboard(db).standings()
    assert (standing.team, standing.submissions) == ("ÄRKTIS", 2)


def _run_without_write_access(folder: Path, argv: list[str], monkeypatch, capsys):
    """Run the CLI where `folder` (mode 0555) cannot be written: directly for a normal user,
    as root without CAP_DAC_OVERRIDE (capsh), else with `os.access` reporting it read-only.
    Returns (exit status, stdout)."""
    folder.chmod(0o555)
    if os.geteuid() != 0:
        return main(argv), capsys.readouterr().out
    capsh = shutil.which("capsh")
    if capsh is None:
        monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != folder.resolve())
        return main(argv), capsys.readouterr().out
    command = [sys.executable, "-c", "import sys; from kit.cli import main; sys.exit(main())"]
    result = subprocess.run(
        [capsh, "--drop=cap_dac_override", "--", "-c", 'exec "$@"', "sh", *command, *argv],
        cwd=REPO, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert result.stderr == "", result.stderr
    return result.returncode, result.stdout


def test_show_reads_a_wal_database_in_a_read_only_folder(files, monkeypatch, capsys):
    tmp, reference, sub, _ = files
    db = tmp / "board" / "lb.sqlite"
    db.parent.mkdir()
    assert submit(sub, "Polar Bears", reference, db) == 0
    capsys.readouterr()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    before, listing = digest(db), sorted(p.name for p in db.parent.iterdir())
    try:
        status, out = _run_without_write_access(
            db.parent, ["leaderboard", "show", "--db", str(db)], monkeypatch, capsys
        )
    finally:
        db.parent.chmod(0o755)
    assert status == 0 and "| 1 | Polar Bears |" in out
    assert digest(db) == before and sorted(p.name for p in db.parent.iterdir()) == listing


# ---------------------------------------------------------------- team names

#: (name, stored form; None: the name itself)
ACCEPTED = [
    ("👩\u200d🔬 lab", None),  # ZWJ sequence: one character
    ("👩\u200d🔬" * 20, None),  # 20 characters, 40 columns, 60 code points
    ("❤\ufe0f\u200d🔥 fire", None),  # variation selector, then ZWJ
    ("🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f", None),  # tag flag
    ("می\u200cخواهیم", None),  # Persian: ZWNJ between letters
    ("ＡＲＫＴＩＳ", "ARKTIS"),  # NFKC: full-width letters
    ("ﬁnn", "finn"),  # NFKC: ligature
    ("e\u0301quipe", "équipe"),  # NFKC: composed
]

REFUSED = [
    ("\u2800", "U+2800 BRAILLE PATTERN BLANK is blank-looking"),
    ("team\u3164", "U+3164 HANGUL FILLER is blank-looking"),
    ("\u115f\u1160", "U+115F HANGUL CHOSEONG FILLER is blank-looking"),
    ("\uffa0ice", "U+FFA0 HALFWIDTH HANGUL FILLER is blank-looking"),
    ("ice\u3000team", "U+3000 IDEOGRAPHIC SPACE is blank-looking"),
    ("ice\u2003team", "U+2003 EM SPACE is blank-looking"),
    ("ice\u00a0team", "U+00A0 NO-BREAK SPACE is blank-looking"),
    ("ice  team", "only single spaces between words"),
    ("ice team ", "only single spaces between words"),
    ("ice\u200bteam", "U+200B ZERO WIDTH SPACE is an invisible formatting character"),
    ("\u202eevil", "U+202E RIGHT-TO-LEFT OVERRIDE is an invisible formatting character"),
    ("tab\tname", "U+0009 is a control character"),
    ("a\u2028b", "U+2028 LINE SEPARATOR is a line or paragraph separator"),
    ("\ue000", "U+E000 is a private-use character"),
    ("x\U000e0041", "has invisible tag characters outside an emoji flag"),
    ("x\udcff", "U+DCFF is a lone surrogate"),
    ("x\U0010fffd", "is a private-use character"),
    ("x\U000e0fff", "not assigned in Unicode"),
    ("ice\u200d", "joiner or variation selector out of place"),
    ("ice\ufe0f\ufe0f", "joiner or variation selector out of place"),
    ("\u0301\u0302\u0303", "combining mark without a base character"),
    ("z\u0300\u0301\u0302\u0303\u0304\u0305", "has 6 combining marks; at most 3"),
    ("\u00a8", "combining mark on a space"),  # NFKC: space + U+0308
    ("👩" + "\u200d👩" * 10, "has 21 code points; at most 10"),
    ("x" * 41, "41 characters; at most 40"),
    ("中" * 21, "42 columns wide; at most 40"),
]


@pytest.mark.parametrize(("name", "stored"), ACCEPTED)
def test_accepted_team_names_are_stored_in_nfkc(name, stored):
    assert check_team_name(name) == (name if stored is None else stored)


@pytest.mark.parametrize(("name", "reason"), REFUSED)
def test_refused_team_names_say_why(name, reason):
    with pytest.raises(ScoringError, match="^team name ") as refused:
        check_team_name(name)
    assert reason in str(refused.value)


def test_one_team_across_case_and_nfkc_forms_shares_duplicates_and_daily_limit(files):
    tmp, reference, first, second = files
    third = tmp / "third.nc"
    third.write_bytes(first.read_bytes() + b"\0")  # same content, another file
    board = Leaderboard(tmp / "lb.sqlite", daily_limit=2)
    assert board.submit(first, "ÄRKTIS", reference, now=T0).status == "scored"
    again = board.submit(first, "ärktis", reference, now=T0 + timedelta(minutes=1))
    assert again.status == "duplicate"
    later = T0 + timedelta(minutes=2)
    assert board.submit(second, "A\u0308rktis", reference, now=later).status == "scored"
    with pytest.raises(ScoringError, match="daily limit of 2"):
        board.submit(third, "Ａ\u0308ＲＫＴＩＳ", reference, now=later)  # full-width
    [standing] = board.standings()
    assert (standing.team, standing.submissions) == ("ÄRKTIS", 2)


def test_a_refused_name_is_shortened_and_escaped_in_one_line(files, capsys):
    tmp, reference, sub, _ = files
    db = tmp / "lb.sqlite"
    assert submit(sub, "x" * 10_000, reference, db) == 2
    err = one_error(capsys)
    assert "'" + "x" * 40 + "'… (10000 code points)" in err and "x" * 41 not in err
    assert len(err) < 200
    assert submit(sub, "ice\u2800team", reference, db) == 2
    err = one_error(capsys)
    assert "'ice\\u2800team'" in err and "\u2800" not in err
    assert not db.exists()


# ---------------------------------------------------------------- numbers


@pytest.mark.parametrize("limit", ["-3", "0", "1001"])
def test_bundle_and_submit_refuse_a_daily_limit_out_of_range(files, capsys, limit):
    tmp, reference, sub, _ = files
    out = tmp / "bundle.zip"
    bundle = ["leaderboard", "bundle", "--reference", str(reference), "--out", str(out)]
    assert main([*bundle, "--daily-limit", limit]) == 2
    assert f"daily limit {limit}: must be a whole number from 1 to 1000" in one_error(capsys)
    assert not out.exists()
    assert submit(sub, "team", reference, tmp / "lb.sqlite", "--daily-limit", limit) == 2
    assert f"daily limit {limit}: must be a whole number from 1 to 1000" in one_error(capsys)


def test_bundle_writes_the_daily_limit_given(files, capsys):
    tmp, reference, _, _ = files
    out = tmp / "bundle.zip"
    args = ["leaderboard", "bundle", "--reference", str(reference), "--out", str(out)]
    assert main([*args, "--daily-limit", "1"]) == 0
    with zipfile.ZipFile(out) as bundle:
        config = yaml.safe_load(bundle.read("competition.yaml"))
    assert config["phases"][0]["max_submissions_per_day"] == 1


def test_the_codabench_scoring_program_needs_no_wcwidth():
    """Team names need wcwidth; the scoring program shipped to Codabench imports the
    leaderboard's constants only, so it must import without it."""
    script = textwrap.dedent(
        """
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "wcwidth":
                    raise ImportError("wcwidth is blocked")
        sys.meta_path.insert(0, Block())
        import scoring.codabench
        from scoring.leaderboard import team_key
        assert team_key("ÄRKTIS") == "ärktis"
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
