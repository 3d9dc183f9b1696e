"""An embedded leaderboard: teams, submissions and scores in one SQLite file (WAL mode).

`Leaderboard(db).submit(path, team, reference)` hashes the file, scores it outside any database
lock, then records it in one short `BEGIN IMMEDIATE` transaction that re-checks the duplicate
and the daily limit, so concurrent submitters never double-count and a crash leaves either the
whole record or nothing. Rules:

- A team's second upload of a byte-identical file is recorded as a duplicate of the first
  scored one and not scored again.
- At most `daily_limit` scored submissions per team per UTC day; duplicates and failed
  submissions do not count.
- A submission that fails validation, or crashes the scorer, is recorded as failed with a
  one-line reason (`errors.failure_reason`), without scores, and the error is raised again for
  the caller.
- Ranking: each team's best submission by the challenge's combined figure (the weighted mean of
  the chart scores rounded to `SCORE_DECIMALS`, rounded again: `report.challenge_combined`); on
  equal figures the earlier submission wins (then the lower submission id). The figure is
  computed from the stored unrounded chart scores when the standings are read, so databases
  written before it existed rank the same way.
- Each scored submission's per-scene confusion matrices are stored (`COUNTS_SCHEMA`), so that
  `standings(split, ci=Bootstrap(...))` adds bootstrap intervals over any split's scenes
  without rescoring; a schema 1 file gains the table on its first write.
- The public/private split of the test scenes is stored on first use (from a split file or
  the default seeded split) and every later submission must be scored on the same scenes.

The file is the kit's only if stamped with `APPLICATION_ID` (`PRAGMA application_id`, schema
version in `PRAGMA user_version`) or laid out exactly as the kit's leaderboards were before
the stamp (stamped on their first write). Any other file is refused before anything in it
changes (no tables, no WAL conversion); a missing file is created. Reading (`standings`,
`submissions`, `report`) opens the file read-only, and immutable where its folder is not
writable, so a read-only copy can be shown; only writing converts it to WAL.

All SQL is parameterised; team names are checked by `check_team_name` (`scoring.leaderboard.team_names`)
and one team is every name with the same `team_key` (NFKC + casefold, computed when read).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sqlite3
import time
import urllib.parse
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

import numpy as np

from kit.charts import CHARTS, N_CLASSES
from scoring.errors import ScoringError, failure_reason
from scoring.files.reference import Reference, find_reference
from scoring.files.storage import check_regular_file
from scoring.leaderboard.team_names import check_team_name, team_key
from scoring.metrics.challenge import ChartCounts, ScoreAccumulator
from scoring.metrics.report import Report, published_scores
from scoring.scorer import score_all_scenes
from scoring.splits import ALL, SPLITS, resolve_split, scenes_of
from scoring.statistics import Bootstrap, bootstrap_intervals, intervals_dict, paired_bootstrap

DEFAULT_DAILY_LIMIT = 5
#: Highest daily limit accepted: more scored submissions a day is no limit at all, and a
#: mistyped larger number should not pass silently.
MAX_DAILY_LIMIT = 1000
#: `PRAGMA application_id` of the kit's leaderboard files ("AICE").
APPLICATION_ID = 0x41494345
#: `PRAGMA user_version`: the layout of `SCHEMA` (1) plus `COUNTS_SCHEMA` (2). A version 1
#: file gains the counts table on its first write; its earlier submissions have no intervals.
SCHEMA_VERSION = 2
#: Score columns stored per split: the charts and the combined score.
SCORE_KEYS: tuple[str, ...] = (*CHARTS, "combined")
#: Splits whose scores are stored for every submission.
STORED_SPLITS: tuple[str, ...] = (*SPLITS, ALL)
#: Default `rank_confidence` of shared ranks: a team shares the rank above unless the team
#: above scores higher in at least 95 % of the paired resamples (a one-sided 95 % test).
DEFAULT_RANK_CONFIDENCE = 0.95

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


@dataclass
class SubmissionResult:
    """What happened to one submission: its id, status and (if scored) scores per split.

    `scores`: split -> chart/"combined" -> unrounded score; `scores_rounded`: the challenge's
    figures (`report.published_scores`), as the leaderboard shows and ranks them.
    """

    submission_id: int
    team: str
    status: str
    file_name: str
    submitted_at: str
    scores: dict[str, dict[str, float | None]] = field(default_factory=dict)
    duplicate_of: int | None = None
    reason: str | None = None
    scores_rounded: dict[str, dict[str, float | None]] = field(default_factory=dict)


@dataclass
class Standing:
    """One row of the leaderboard: a team's best submission on a split.

    `scores`: unrounded, as stored; `scores_rounded`: the challenge's figures, which rank it
    (computed from `scores` when not given).
    """

    rank: int
    team: str
    submission_id: int
    file_name: str
    submitted_at: str
    scores: dict[str, float | None]
    submissions: int
    scores_rounded: dict[str, float | None] = field(default_factory=dict)
    #: With ``standings(..., ci=...)``: the bootstrap settings and an interval per score
    #: (`scoring.statistics.intervals_dict`); None when not asked for or when the submission
    #: was scored before the leaderboard stored per-scene counts.
    intervals: dict | None = None
    #: With ``standings(..., rank_confidence=...)``: the rank shown, "2=" for a rank shared
    #: with another team (the first rank of the group), else the rank itself ("3").
    rank_shown: str | None = None
    #: With ``standings(..., rank_confidence=...)``: the paired bootstrap of this team's best
    #: submission against that of the team ranked directly above (`compare_with_above`);
    #: None for the first team.
    above: dict | None = None

    def __post_init__(self) -> None:
        if not self.scores_rounded:
            self.scores_rounded = _published(self.scores)


def check_daily_limit(limit: int) -> int:
    """`limit` if it is a whole number from 1 to `MAX_DAILY_LIMIT`; else ScoringError."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_DAILY_LIMIT:
        raise ScoringError(
            f"daily limit {limit!r}: must be a whole number from 1 to {MAX_DAILY_LIMIT}"
        )
    return limit


def file_digest(path: str | os.PathLike) -> tuple[str, int]:
    """SHA-256 hex digest and size of a file, read in 1 MiB pieces."""
    check_regular_file(path, "submission")  # a FIFO would block, a device never end
    digest = hashlib.sha256()
    size = 0
    try:
        with open(path, "rb") as f:
            while piece := f.read(1 << 20):
                digest.update(piece)
                size += len(piece)
    except OSError as exc:
        raise ScoringError(f"submission {path}: cannot be read ({exc.strerror})") from None
    return digest.hexdigest(), size


class Leaderboard:
    """A leaderboard stored in the SQLite file `db` (created on first submission).

    Teams submit files; each is scored once and recorded with its scores, the daily limit and
    duplicates are enforced in one transaction, and `standings` ranks each team's best
    submission (see the module docstring for the rules).

    Parameters
    ----------
    db : str or os.PathLike
        The SQLite file; a foreign SQLite file is refused before anything in it changes.
    daily_limit : int
        Scored submissions per team per UTC day, 1 to `MAX_DAILY_LIMIT`.
    timeout : float
        Seconds to wait for another writer's lock.

    Raises
    ------
    ScoringError
        If `daily_limit` is not a whole number in range (raised by `check_daily_limit`).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from scoring import write_submission
    >>> tmp = tempfile.TemporaryDirectory()
    >>> sic = np.arange(16, dtype=np.uint8).reshape(4, 4) % 11  # one 4 x 4 scene
    >>> scene = {"20180124T194759_dmi": {"SIC": sic, "SOD": sic // 2, "FLOE": sic // 2}}
    >>> reference = write_submission(Path(tmp.name, "reference.nc"), scene)
    >>> board = Leaderboard(Path(tmp.name, "leaderboard.sqlite"))
    >>> board.submit(reference, "Polar Bears", reference).status
    'scored'
    >>> board.submit(reference, "polar bears", reference).status  # same team, same file
    'duplicate'
    >>> [(s.rank, s.team, s.scores_rounded["combined"]) for s in board.standings("all")]
    [(1, 'Polar Bears', 100.0)]
    >>> Leaderboard("leaderboard.sqlite", daily_limit=0)
    Traceback (most recent call last):
    ...
    scoring.errors.ScoringError: daily limit 0: must be a whole number from 1 to 1000
    >>> tmp.cleanup()
    """

    def __init__(
        self, db: str | os.PathLike, *, daily_limit: int = DEFAULT_DAILY_LIMIT, timeout: float = 60
    ):
        self.db = Path(db)
        self.daily_limit = check_daily_limit(daily_limit)
        self.timeout = timeout

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
                for statement in filter(str.strip, SCHEMA.split(";")):
                    conn.execute(statement)  # not executescript: it would commit first
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if kind != "kit" or version < SCHEMA_VERSION:
                conn.execute(COUNTS_SCHEMA)  # the one change from version 1
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

    # ---------------------------------------------------------------- submitting

    def submit(
        self,
        submission: str | os.PathLike,
        team: str,
        reference: str | os.PathLike | Reference,
        *,
        split_file: str | os.PathLike | None = None,
        now: datetime | None = None,
        progress: bool = False,
        strict: bool = False,
    ) -> SubmissionResult:
        """Score `submission` for `team` and record it (see the module docstring for rules).

        `strict`: a submission with predicted values outside a chart's classes fails instead of
        having them scored as wrong (`score_submission`).
        """
        team = check_team_name(team)
        now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
        file_hash, file_size = file_digest(submission)
        if not isinstance(reference, Reference):
            reference = find_reference(reference)
        entry = {
            "file_name": os.path.basename(os.fspath(submission)),
            "file_hash": file_hash,
            "file_size": file_size,
            "submitted_at": now.isoformat(timespec="microseconds"),
        }
        with self._connect(create=True) as conn:
            with self._transaction(conn):
                split = self._ensure_split(conn, reference.scene_ids, split_file)
                duplicate = self._precheck(conn, team, file_hash, now)
            if duplicate is None:
                try:
                    scored = score_all_scenes(
                        submission, reference, progress=progress, strict=strict
                    )
                except Exception as exc:  # invalid, or a crash: recorded either way
                    with self._transaction(conn):
                        team_id = self._team_id(conn, team, entry["submitted_at"])
                        self._insert(conn, team_id, entry, "failed", reason=failure_reason(exc))
                    raise
                reports = {
                    name: scored.report(scenes_of(split, name), name) for name in STORED_SPLITS
                }
            with self._transaction(conn):
                team_id = self._team_id(conn, team, entry["submitted_at"])
                original = self._scored_with_hash(conn, team_id, file_hash)
                if original is not None:
                    sid = self._insert(conn, team_id, entry, "duplicate", duplicate_of=original)
                    return SubmissionResult(
                        sid, team, "duplicate", entry["file_name"], entry["submitted_at"],
                        duplicate_of=original,
                    )  # fmt: skip
                self._check_daily_limit(conn, team_id, team, now)
                sid = self._insert(
                    conn, team_id, entry, "scored", report=reports[ALL].to_json(indent=None)
                )
                self._insert_scores(conn, sid, reports)
                self._insert_counts(conn, sid, scored.accumulator)
        scores = {name: _score_row(report) for name, report in reports.items()}
        published = {name: _published(row) for name, row in scores.items()}
        return SubmissionResult(
            sid, team, "scored", entry["file_name"], entry["submitted_at"],
            scores=scores, scores_rounded=published,
        )  # fmt: skip

    def _ensure_split(
        self, conn: sqlite3.Connection, scene_ids: list[str], split_file
    ) -> dict[str, str]:
        stored = dict(conn.execute("SELECT scene_id, split FROM scenes").fetchall())
        if not stored:
            split = resolve_split(scene_ids, split_file)
            conn.executemany("INSERT INTO scenes (scene_id, split) VALUES (?, ?)", split.items())
            return split
        if set(stored) != set(scene_ids):
            raise ScoringError(
                f"reference scenes differ from the {len(stored)} test scenes this leaderboard "
                f"{self.db} was created with"
            )
        if split_file is not None and resolve_split(scene_ids, split_file) != stored:
            raise ScoringError(
                f"split file {split_file}: differs from the split stored in {self.db}"
            )
        return stored

    def _precheck(self, conn, team: str, file_hash: str, now: datetime) -> int | None:
        """Before scoring: the original id if this is a duplicate; raise if over the limit."""
        team_id = self._find_team(conn, team)
        if team_id is None:
            return None
        original = self._scored_with_hash(conn, team_id, file_hash)
        if original is None:
            self._check_daily_limit(conn, team_id, team, now)
        return original

    @staticmethod
    def _find_team(conn: sqlite3.Connection, team: str) -> int | None:
        """The id of the first team whose name has `team`'s `team_key`, or None."""
        key = team_key(team)
        for team_id, name in conn.execute("SELECT id, name FROM teams ORDER BY id"):
            if team_key(name) == key:
                return team_id
        return None

    @classmethod
    def _team_id(cls, conn: sqlite3.Connection, team: str, created_at: str) -> int:
        """The id of `team`'s team, added if it has none (inside a write transaction)."""
        team_id = cls._find_team(conn, team)
        if team_id is None:
            insert = "INSERT INTO teams (name, created_at) VALUES (?, ?)"
            team_id = conn.execute(insert, (team, created_at)).lastrowid
        return team_id

    @staticmethod
    def _scored_with_hash(conn: sqlite3.Connection, team_id: int, file_hash: str) -> int | None:
        row = conn.execute(
            "SELECT id FROM submissions WHERE team_id = ? AND file_hash = ? AND status = 'scored' "
            "ORDER BY id LIMIT 1",
            (team_id, file_hash),
        ).fetchone()
        return None if row is None else row[0]

    def _check_daily_limit(self, conn, team_id: int, team: str, now: datetime) -> None:
        day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        (count,) = conn.execute(
            "SELECT COUNT(*) FROM submissions WHERE team_id = ? AND status = 'scored' "
            "AND submitted_at >= ?",
            (team_id, day_start.isoformat(timespec="microseconds")),
        ).fetchone()
        if count >= self.daily_limit:
            raise ScoringError(
                f"team {team!r} has reached the daily limit of {self.daily_limit} scored "
                f"submissions (UTC day {day_start.date()})"
            )

    @staticmethod
    def _insert(conn, team_id: int, entry: dict, status: str, *, reason=None, duplicate_of=None,
                report=None) -> int:  # fmt: skip
        cursor = conn.execute(
            "INSERT INTO submissions (team_id, file_name, file_hash, file_size, submitted_at, "
            "status, reason, duplicate_of, report_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                team_id,
                entry["file_name"],
                entry["file_hash"],
                entry["file_size"],
                entry["submitted_at"],
                status,
                reason,
                duplicate_of,
                report,
            ),
        )
        return cursor.lastrowid

    @staticmethod
    def _insert_scores(conn, submission_id: int, reports: dict[str, Report]) -> None:
        conn.executemany(
            "INSERT INTO scores (submission_id, split, chart, score) VALUES (?, ?, ?, ?)",
            [
                (submission_id, name, key, value)
                for name, report in reports.items()
                for key, value in _score_row(report).items()
            ],
        )

    @staticmethod
    def _insert_counts(conn, submission_id: int, accumulator: ScoreAccumulator) -> None:
        scenes = accumulator.scenes
        rows = []
        for chart in CHARTS:
            empty = ChartCounts.empty(chart)
            counts = [accumulator.scene_counts(scene, chart) or empty for scene in scenes]
            confusion = np.stack([c.confusion for c in counts]).astype("<i8")
            squared = [[int(v) for v in c.out_squared_error] for c in counts]
            rows.append((submission_id, chart, json.dumps(scenes),
                         zlib.compress(confusion.tobytes()), json.dumps(squared)))  # fmt: skip
        conn.executemany(
            "INSERT INTO scene_counts (submission_id, chart, scenes, confusion, out_squared) "
            "VALUES (?, ?, ?, ?, ?)",
            rows,
        )

    # ---------------------------------------------------------------- reading

    def standings(
        self,
        split: str = "public",
        ci: Bootstrap | None = None,
        rank_confidence: float | None = None,
    ) -> list[Standing]:
        """Ranked best submission of every team on `split` ("public", "private" or "all").

        Ranked by the challenge's combined figure, computed here from the stored chart scores
        (numpy rounding cannot run in SQL); undefined scores rank last.

        Parameters
        ----------
        split : str
            "public", "private" or "all".
        ci : Bootstrap, optional
            Add to each standing's `intervals` percentile bootstrap intervals over the split's
            scenes (sorted by id, as `score_submission(..., split=...)` orders them), computed
            from the stored per-scene counts; the ranking is unchanged.
        rank_confidence : float, optional
            Between 0 and 1; needs `ci` (its resamples and seed). Add shared ranks: each team's
            best submission is compared with that of the team ranked directly above by a
            paired bootstrap over the split's scenes (`compare_with_above`), and shares its
            rank when the team above scores higher (combined) in fewer than `rank_confidence`
            of the resamples. Fills `rank_shown` ("2=") and `above`; `rank` stays the
            challenge's.

        Returns
        -------
        list of Standing
            In ranking order.

        Raises
        ------
        ScoringError
            For an unknown split, or a `rank_confidence` out of range or without `ci`.
        """
        if split not in STORED_SPLITS:
            raise ScoringError(f"unknown split {split!r}; expected public, private or all")
        if rank_confidence is not None:
            check_rank_confidence(rank_confidence)
            if ci is None:
                raise ScoringError("rank_confidence needs ci (the resamples and seed)")
        standings = self._standings(split)
        if ci is not None and standings:
            with self._connect() as conn:
                stored_split = dict(conn.execute("SELECT scene_id, split FROM scenes").fetchall())
                scenes = scenes_of(stored_split, split)
                counts = {s.submission_id: _stored_counts(conn, s.submission_id) for s in standings}
            for standing in standings:
                accumulator = counts[standing.submission_id]
                if accumulator is None:
                    continue  # scored before per-scene counts were stored
                intervals = bootstrap_intervals(accumulator, scenes, ci)
                standing.intervals = intervals_dict(intervals, ci)
            if rank_confidence is not None:
                _share_ranks(standings, counts, scenes, ci, rank_confidence)
        return standings

    def _standings(self, split: str) -> list[Standing]:
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT s.id, s.team_id, t.name, s.file_name, s.submitted_at FROM submissions s "
                "JOIN teams t ON t.id = s.team_id WHERE s.status = 'scored'"
            ).fetchall()
            scores: dict[int, dict[str, float | None]] = {}
            for sid, chart, score in conn.execute(
                "SELECT submission_id, chart, score FROM scores WHERE split = ?", (split,)
            ):
                scores.setdefault(sid, {})[chart] = score
        return _rank(rows, scores)

    def submissions(self) -> list[dict]:
        """Every recorded submission (all statuses), oldest first, without scores."""
        with self._connect() as conn:
            conn.row_factory = sqlite3.Row
            rows = conn.execute(
                "SELECT s.id, t.name AS team, s.file_name, s.file_hash, s.file_size, "
                "s.submitted_at, s.status, s.reason, s.duplicate_of "
                "FROM submissions s JOIN teams t ON t.id = s.team_id ORDER BY s.id"
            ).fetchall()
        return [dict(row) for row in rows]

    def report(self, submission_id: int) -> dict | None:
        """The stored JSON report (all scenes) of a scored submission, or None."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT report_json FROM submissions WHERE id = ?", (submission_id,)
            ).fetchone()
        return None if row is None or row[0] is None else json.loads(row[0])


def check_rank_confidence(value: float) -> float:
    """`value` if it is a number strictly between 0 and 1, else ScoringError.

    Examples
    --------
    >>> check_rank_confidence(0.9)
    0.9
    >>> check_rank_confidence(95)
    Traceback (most recent call last):
    ...
    scoring.errors.ScoringError: rank confidence must lie between 0 and 1 (e.g. 0.95), got 95
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise ScoringError(f"rank confidence must be a number, got {value!r}")
    if not 0 < value < 1:  # also refuses NaN
        raise ScoringError(f"rank confidence must lie between 0 and 1 (e.g. 0.95), got {value:g}")
    return value


def compare_with_above(
    upper: ScoreAccumulator | None,
    lower: ScoreAccumulator | None,
    scenes: list[str],
    settings: Bootstrap,
    rank_confidence: float,
) -> dict:
    """Whether a team shares the rank of the team ranked directly above it.

    A paired bootstrap (`scoring.statistics.paired_bootstrap`, A = the upper team's best
    submission, B = the lower's) over `scenes`; the rank is shared when A's combined score is
    higher in fewer than `rank_confidence` of the resamples (ties and undefined resamples do
    not count as higher). Not shared, with the reason, when either lacks stored counts or the
    scenes.

    Parameters
    ----------
    upper, lower : ScoreAccumulator or None
        The stored per-scene counts of the two submissions (None: none stored).
    scenes : list of str
        The split's scenes.
    settings : Bootstrap
        Resamples and seed of the comparison (its confidence sets the interval).
    rank_confidence : float
        The share of resamples the upper team must win for the ranks to differ.

    Returns
    -------
    dict
        "shared" (bool), "upper_better" (share of resamples the upper team won, or None),
        "difference" (upper - lower combined score on `scenes`, unrounded, or None),
        "interval" ([low, high] of that difference at ``settings.confidence``, or None) and
        "reason" (why the rank cannot be shared, else None).
    """
    result = {"shared": False, "upper_better": None, "difference": None, "interval": None,
              "reason": None}  # fmt: skip
    if upper is None or lower is None:
        which = "the team above" if upper is None else "this team"
        result["reason"] = f"no stored per-scene counts for {which}"
        return result
    try:
        comparison = paired_bootstrap(upper, lower, scenes, settings)
    except ScoringError as exc:
        result["reason"] = str(exc)
        return result
    better = comparison.a_better["combined"]
    if math.isnan(better):
        result["reason"] = "combined score undefined on every resample"
        return result
    interval = comparison.interval["combined"]
    difference = comparison.difference["combined"]
    result.update(
        shared=better < rank_confidence,
        upper_better=better,
        difference=None if math.isnan(difference) else difference,
        interval=[interval.low, interval.high],
    )
    return result


def _share_ranks(
    standings: list[Standing],
    counts: dict[int, ScoreAccumulator | None],
    scenes: list[str],
    settings: Bootstrap,
    rank_confidence: float,
) -> None:
    """Fill `rank_shown` and `above` of standings in ranking order: a team not
    distinguishable from the one above joins its group, and every member of a group of two or
    more shows the group's first rank followed by "="."""
    group_start = []
    for i, standing in enumerate(standings):
        if i == 0:
            group_start.append(0)
            continue
        above = standings[i - 1]
        standing.above = {
            "team": above.team,
            "submission_id": above.submission_id,
            "rank_confidence": rank_confidence,
            **compare_with_above(
                counts[above.submission_id], counts[standing.submission_id], scenes, settings,
                rank_confidence,
            ),
        }  # fmt: skip
        group_start.append(group_start[-1] if standing.above["shared"] else i)
    sizes = Counter(group_start)
    for standing, start in zip(standings, group_start):
        first = standings[start].rank
        standing.rank_shown = f"{first}=" if sizes[start] > 1 else str(first)


def _stored_counts(conn: sqlite3.Connection, submission_id: int) -> ScoreAccumulator | None:
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


def _rank(rows: list[tuple], scores: dict[int, dict[str, float | None]]) -> list[Standing]:
    """Standings from scored submissions (id, team id, team, file, time) and their scores."""
    entries = []
    for sid, team_id, team, file_name, submitted_at in rows:
        if sid not in scores:
            continue  # no scores for this split
        stored = {key: scores[sid].get(key) for key in SCORE_KEYS}
        entries.append((team_id, Standing(0, team, sid, file_name, submitted_at, stored, 0)))
    entries.sort(key=lambda entry: _rank_key(entry[1]))
    counts = Counter(team_id for team_id, _ in entries)
    best: dict[int, Standing] = {}
    for team_id, standing in entries:
        best.setdefault(team_id, standing)  # a team's first in ranking order is its best
    for rank, (team_id, standing) in enumerate(best.items(), start=1):
        standing.rank, standing.submissions = rank, counts[team_id]
    return list(best.values())


def _rank_key(standing: Standing) -> tuple:
    """Higher challenge figure first (undefined last), then earlier, then lower id."""
    combined = standing.scores_rounded["combined"]
    return (combined is None, -(combined or 0.0), standing.submitted_at, standing.submission_id)


def _published(row: dict[str, float | None]) -> dict[str, float | None]:
    """The challenge's figures of a row of unrounded scores (None where undefined)."""
    charts = {c: math.nan if row.get(c) is None else row[c] for c in CHARTS}
    return {key: None if math.isnan(v) else v for key, v in published_scores(charts).items()}


def _score_row(report: Report) -> dict[str, float | None]:
    values = {**report.charts, "combined": report.combined}
    return {
        key: None if isinstance(values[key], float) and math.isnan(values[key]) else values[key]
        for key in SCORE_KEYS
    }
