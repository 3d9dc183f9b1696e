"""The SQLite file of a leaderboard: its schema (`SCHEMA`, `COUNTS_SCHEMA`, stamped with
`APPLICATION_ID` and `SCHEMA_VERSION`), the connections that identify a file before anything
writes to it, WAL and transactions (`LeaderboardFile`, which `Leaderboard` extends), the
stored per-scene counts (`stored_counts`) and calibration figures (`CALIBRATION_SCHEMA`,
`stored_calibration`). See `scoring.leaderboard.board` for the rules."""

from __future__ import annotations

import json
import os
import sqlite3
import time
import urllib.parse
import zlib
from collections.abc import Iterator
from contextlib import closing, contextmanager
from functools import lru_cache
from pathlib import Path

import numpy as np

from kit.charts import N_CLASSES
from scoring.errors import ScoringError
from scoring.leaderboard.calibration_columns import CALIBRATION_KEYS
from scoring.metrics.challenge import ChartCounts, ScoreAccumulator

#: `PRAGMA application_id` of the kit's leaderboard files ("AICE").
APPLICATION_ID = 0x41494345
#: `PRAGMA user_version`: the layout of `SCHEMA` (1) plus `COUNTS_SCHEMA` (2) plus
#: `CALIBRATION_SCHEMA` (3). An older file gains the missing tables on its first write, in one
#: transaction, and keeps every row: its earlier submissions have no intervals (version 1) and
#: no uncertainty file (versions 1 and 2).
SCHEMA_VERSION = 3

SCHEMA = """
CREATE TABLE IF NOT EXISTS teams (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS scenes (
    scene_id TEXT PRIMARY KEY,
    split TEXT NOT NULL CHECK (split IN ('public', 'private'))
);
CREATE TABLE IF NOT EXISTS submissions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    team_id INTEGER NOT NULL REFERENCES teams(id),
    file_name TEXT NOT NULL,
    file_hash TEXT NOT NULL,
    file_size INTEGER NOT NULL,
    submitted_at TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('scored', 'failed', 'duplicate')),
    reason TEXT,
    duplicate_of INTEGER REFERENCES submissions(id),
    report_json TEXT
);
CREATE INDEX IF NOT EXISTS submissions_by_team ON submissions (team_id, status, submitted_at);
CREATE TABLE IF NOT EXISTS scores (
    submission_id INTEGER NOT NULL REFERENCES submissions(id),
    split TEXT NOT NULL,
    chart TEXT NOT NULL,
    score REAL,
    PRIMARY KEY (submission_id, split, chart)
);
"""
#: Per scored submission and chart, the per-scene counts that intervals are computed from:
#: `scenes` a JSON list of scene ids, `confusion` the stacked `ChartCounts.confusion` of those
#: scenes (zlib-compressed little-endian int64, [scenes, n, n + 2]), `out_squared` a JSON list
#: per scene of `ChartCounts.out_squared_error` (exact integers).
COUNTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS scene_counts (
    submission_id INTEGER NOT NULL REFERENCES submissions(id),
    chart TEXT NOT NULL,
    scenes TEXT NOT NULL,
    confusion BLOB NOT NULL,
    out_squared TEXT NOT NULL,
    PRIMARY KEY (submission_id, chart)
)
"""
#: The uncertainty file a submission came with (issue 24; also for a duplicate, whose identity
#: is the pair of files), and per scored submission, split and `CALIBRATION_KEYS` figure its
#: calibration on that split's scenes, as the scores are stored (NULL: undefined). Figures per
#: split, not per-scene counts: the calibration's counts are 101 confidence levels deep (100
#: times a chart's confusion matrix per scene), and the columns need only these few numbers.
CALIBRATION_SCHEMA = """
CREATE TABLE IF NOT EXISTS uncertainty_files (
    submission_id INTEGER PRIMARY KEY REFERENCES submissions(id),
    file_name TEXT NOT NULL,
    file_hash TEXT NOT NULL,
    file_size INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS calibration (
    submission_id INTEGER NOT NULL REFERENCES submissions(id),
    split TEXT NOT NULL,
    figure TEXT NOT NULL,
    value REAL,
    PRIMARY KEY (submission_id, split, figure)
)
"""


class LeaderboardFile:
    """The file side of a leaderboard: connections to the SQLite file `self.db` (waiting
    `self.timeout` seconds for another writer's lock), identified before anything writes to
    it, created with the kit's schema, switched to WAL, and transactions. `Leaderboard`
    sets `db` and `timeout` and adds submitting and reading."""

    db: Path
    timeout: float

    # ---------------------------------------------------------------- connections

    @contextmanager
    def _connect(self, create: bool = False) -> Iterator[sqlite3.Connection]:
        """A connection to write (`create`: the file and tables made if missing) or read only.

        An existing file is identified first through a read-only connection, so that a foreign
        one is refused before it is opened for writing.
        """
        exists = self.db.is_file()
        if not create and not exists:
            raise ScoringError(f"leaderboard database {self.db}: no such file")
        if exists and self._identify() == "empty" and not create:
            raise ScoringError(f"leaderboard database {self.db}: empty, nothing recorded yet")
        with self._open(None if create else self._uri(immutable=self._frozen())) as conn:
            if create:
                self._prepare(conn)
            yield conn

    @contextmanager
    def _open(self, uri: str | None) -> Iterator[sqlite3.Connection]:
        """A connection to `uri` (read-write to `db` if None); SQLite errors as ScoringError."""
        target = self.db if uri is None else uri
        try:
            conn = sqlite3.connect(
                target, timeout=self.timeout, isolation_level=None, uri=uri is not None
            )
        except sqlite3.Error as exc:
            raise ScoringError(f"leaderboard database {self.db}: cannot open ({exc})") from None
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            yield conn
        except sqlite3.DatabaseError as exc:
            raise ScoringError(f"leaderboard database {self.db}: {exc}") from None
        finally:
            conn.close()

    def _identify(self) -> str:
        """`_kind` of the existing file, read without changing it or adding files next to it:
        immutable for a WAL file nobody has open (no -wal file), else read-only with locks."""
        try:
            with open(self.db, "rb") as f:
                header = f.read(100)
        except OSError as exc:
            message = f"leaderboard database {self.db}: cannot be read ({exc.strerror})"
            raise ScoringError(message) from None
        is_sqlite = header[:16] == b"SQLite format 3\0"
        if is_sqlite and len(header) == 100:
            # The kit's stamp is in the file header (application id at byte 68, user version at
            # 60): read it directly, so a file others are writing to is never read unlocked.
            app_id, version = (int.from_bytes(header[i : i + 4], "big") for i in (68, 60))
            if app_id == APPLICATION_ID and version <= SCHEMA_VERSION:
                return "kit"
        wal_mode = is_sqlite and header[18:20] == b"\2\2"
        with self._open(self._uri(immutable=wal_mode and not self._wal().exists())) as conn:
            conn.execute("BEGIN")  # one snapshot: a creator may commit between the queries
            try:
                return self._kind(conn)
            finally:
                conn.execute("ROLLBACK")

    def _uri(self, immutable: bool) -> str:
        """A read-only URI of `db`; `immutable`: without locks or -wal/-shm files."""
        flags = "mode=ro&immutable=1" if immutable else "mode=ro"
        return f"file:{urllib.parse.quote(str(self.db.resolve()))}?{flags}"

    def _wal(self) -> Path:
        return self.db.with_name(self.db.name + "-wal")

    def _frozen(self) -> bool:
        """Read immutable: the folder is not writable (SQLite could not make its -shm file) and
        no write-ahead log holds data that an immutable read would skip."""
        wal = self._wal()
        has_log = wal.exists() and wal.stat().st_size > 0
        return not os.access(self.db.resolve().parent, os.W_OK) and not has_log

    def _prepare(self, conn: sqlite3.Connection) -> None:
        """Check the file is the kit's before changing it; create or stamp it; then WAL."""
        with self._transaction(conn):
            kind = self._kind(conn)
            if kind == "empty":
                for statement in _statements(SCHEMA):
                    conn.execute(statement)  # not executescript: it would commit first
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if kind != "kit" or version < SCHEMA_VERSION:
                # The changes since version 1, each table only if missing (CREATE ... IF NOT
                # EXISTS): the counts (version 2), the uncertainty files and calibration (3).
                for statement in _statements(COUNTS_SCHEMA + ";" + CALIBRATION_SCHEMA):
                    conn.execute(statement)
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        self._switch_to_wal(conn)

    def _switch_to_wal(self, conn: sqlite3.Connection) -> None:
        """WAL is a property of the file: switch once, by whichever connection gets there first.

        Switching needs the file to itself. A connection that asks while another holds the write
        lock gets "locked" at once, without SQLite's busy wait (waiting could deadlock), so the
        switch is retried, with growing pauses, until it is done or `timeout` runs out.
        """
        deadline = time.monotonic() + self.timeout
        pause = 0.005
        while conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            try:
                conn.execute("PRAGMA journal_mode = WAL")
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                    raise
                time.sleep(pause)
                pause = min(pause * 2, 0.5)

    def _kind(self, conn: sqlite3.Connection) -> str:
        """What the file is: "kit", "legacy" (the kit's tables, not stamped yet) or "empty";
        ScoringError for any other file."""
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if app_id == APPLICATION_ID and version <= SCHEMA_VERSION:
            return "kit"
        if app_id == APPLICATION_ID:
            raise ScoringError(
                f"leaderboard database {self.db}: schema version {version} is newer than this "
                f"kit's ({SCHEMA_VERSION}); update AutoICE Kit"
            )
        tables = _tables(conn)
        if app_id == version == 0:
            if tables == _kit_tables():
                return "legacy"
            if conn.execute("SELECT 1 FROM sqlite_master").fetchone() is None:
                return "empty"  # no tables, indexes, views or triggers
        raise ScoringError(
            f"leaderboard database {self.db}: not an AutoICE Kit leaderboard (application id "
            f"{app_id:#x}, user version {version}, {len(tables)} tables); left unchanged, give "
            "a new file name to start a leaderboard"
        )

    @staticmethod
    @contextmanager
    def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
        """A write transaction: it takes the write lock at once and commits all or nothing."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


def stored_counts(conn: sqlite3.Connection, submission_id: int) -> ScoreAccumulator | None:
    """The per-scene counts stored for a submission, or None if there are none (a version 1
    file, or a submission scored before the counts were stored)."""
    if "scene_counts" not in _tables(conn):
        return None
    rows = conn.execute(
        "SELECT chart, scenes, confusion, out_squared FROM scene_counts WHERE submission_id = ?",
        (submission_id,),
    ).fetchall()
    if not rows:
        return None
    accumulator = ScoreAccumulator()
    for chart, scenes_json, blob, squared_json in rows:
        scenes, squared = json.loads(scenes_json), json.loads(squared_json)
        n = N_CLASSES[chart]
        confusion = np.frombuffer(zlib.decompress(blob), dtype="<i8").reshape(len(scenes), n, n + 2)
        for scene, matrix, errors in zip(scenes, confusion, squared):
            counts = ChartCounts(matrix.astype(np.int64), tuple(int(v) for v in errors))
            accumulator.add_counts(scene, chart, counts)
    return accumulator


def stored_calibration(conn: sqlite3.Connection, split: str) -> dict[int, dict[str, float | None]]:
    """Submission id -> `CALIBRATION_KEYS` figure -> value on `split`, for every submission
    scored with an uncertainty file; empty for a file older than the calibration table."""
    if "calibration" not in _tables(conn):
        return {}
    found: dict[int, dict[str, float | None]] = {}
    for sid, figure, value in conn.execute(
        "SELECT submission_id, figure, value FROM calibration WHERE split = ?", (split,)
    ):
        found.setdefault(sid, {})[figure] = value
    return {
        sid: {key: figures.get(key) for key in CALIBRATION_KEYS} for sid, figures in found.items()
    }


def _statements(script: str) -> list[str]:
    """The statements of a schema script (no semicolons inside them)."""
    return [statement for statement in script.split(";") if statement.strip()]


def _tables(conn: sqlite3.Connection) -> dict[str, list[str]]:
    """Table name -> column names, of every table in the file."""
    names = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {
        name: [column[1] for column in conn.execute("SELECT * FROM pragma_table_info(?)", (name,))]
        for name in names
    }


@lru_cache(maxsize=1)
def _kit_tables() -> dict[str, list[str]]:
    """The tables of a kit leaderboard (`SCHEMA`), as `_tables` lists them."""
    with closing(sqlite3.connect(":memory:")) as conn:
        conn.executescript(SCHEMA)
        return _tables(conn)
