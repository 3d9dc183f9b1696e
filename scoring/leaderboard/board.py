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
- A submission may come with its uncertainty file (`submit(..., uncertainty=FILE)`, issue 24):
  the file is checked and read with the submission, and per split its calibration figures
  (`CALIBRATION_KEYS`: ECE per chart, SIC interval coverage and width, on the split's scenes)
  are stored (`CALIBRATION_SCHEMA`) and shown as extra columns; they never rank. A bad
  uncertainty file records nothing at all (neither the submission nor its team, so no daily
  slot either): its storage and variables are checked before the database is touched, and
  when its values fail while scoring, the submission is scored alone to tell whose fault it
  is: recorded as failed only when the submission fails on its own. A submission's identity is
  the pair of files: the same submission with another uncertainty file (or with one where it
  had none) is a new submission, scored and counted again.

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
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from kit.charts import CHARTS
from scoring.errors import ScoringError, failure_reason
from scoring.files.reference import Reference, find_reference
from scoring.files.storage import check_regular_file
from scoring.files.uncertainty import UNCERTAINTY_ROLE, check_uncertainty_file
from scoring.leaderboard.calibration_columns import calibration_figures
from scoring.leaderboard.database import LeaderboardFile, stored_calibration, stored_counts
from scoring.leaderboard.ranking import (
    SCORE_KEYS,
    Standing,
    check_rank_confidence,
    published_figures,
    rank_standings,
    share_ranks,
)
from scoring.leaderboard.team_names import check_team_name, team_key
from scoring.metrics.challenge import ChartCounts, ScoreAccumulator
from scoring.metrics.report import Report
from scoring.scorer import ScoredSubmission, score_all_scenes
from scoring.splits import ALL, SPLITS, resolve_split, scenes_of
from scoring.statistics import Bootstrap, bootstrap_intervals, intervals_dict

DEFAULT_DAILY_LIMIT = 5
#: Highest daily limit accepted: more scored submissions a day is no limit at all, and a
#: mistyped larger number should not pass silently.
MAX_DAILY_LIMIT = 1000
#: Splits whose scores are stored for every submission.
STORED_SPLITS: tuple[str, ...] = (*SPLITS, ALL)


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
    #: With an uncertainty file: split -> `CALIBRATION_KEYS` figure -> value; else empty.
    calibration: dict[str, dict[str, float | None]] = field(default_factory=dict)


def check_daily_limit(limit: int) -> int:
    """`limit` if it is a whole number from 1 to `MAX_DAILY_LIMIT`; else ScoringError."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_DAILY_LIMIT:
        raise ScoringError(
            f"daily limit {limit!r}: must be a whole number from 1 to {MAX_DAILY_LIMIT}"
        )
    return limit


def file_digest(path: str | os.PathLike, role: str = "submission") -> tuple[str, int]:
    """SHA-256 hex digest and size of a file, read in 1 MiB pieces; errors name it `role`."""
    check_regular_file(path, role)  # a FIFO would block, a device never end
    digest = hashlib.sha256()
    size = 0
    try:
        with open(path, "rb") as f:
            while piece := f.read(1 << 20):
                digest.update(piece)
                size += len(piece)
    except OSError as exc:
        raise ScoringError(f"{role} {path}: cannot be read ({exc.strerror})") from None
    return digest.hexdigest(), size


class Leaderboard(LeaderboardFile):
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
        uncertainty: str | os.PathLike | None = None,
    ) -> SubmissionResult:
        """Score `submission` for `team` and record it (see the module docstring for rules).

        `strict`: a submission with predicted values outside a chart's classes fails instead of
        having them scored as wrong (`score_submission`). `uncertainty`: the uncertainty file
        written beside the submission (`autoice predict --uncertainty`); its calibration is
        stored per split and shown as extra columns. A bad one raises `ScoringError` and
        records nothing.
        """
        team = check_team_name(team)
        now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
        file_hash, file_size = file_digest(submission)
        uncertainty_entry = None if uncertainty is None else _file_entry(uncertainty)
        if not isinstance(reference, Reference):
            reference = find_reference(reference)
        if uncertainty is not None:  # its storage and variables, before the database
            check_uncertainty_file(uncertainty, reference)
        entry = {
            "file_name": os.path.basename(os.fspath(submission)),
            "file_hash": file_hash,
            "file_size": file_size,
            "submitted_at": now.isoformat(timespec="microseconds"),
            "uncertainty": uncertainty_entry,
        }
        with self._connect(create=True) as conn:
            with self._transaction(conn):
                split = self._ensure_split(conn, reference.scene_ids, split_file)
                duplicate = self._precheck(conn, team, entry, now)
            if duplicate is None:
                scored = self._score(conn, submission, reference, team, entry, progress, strict,
                                     uncertainty)  # fmt: skip
                reports = {
                    name: scored.report(scenes_of(split, name), name) for name in STORED_SPLITS
                }
            with self._transaction(conn):
                team_id = self._team_id(conn, team, entry["submitted_at"])
                original = self._scored_with_hash(conn, team_id, entry)
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
                calibration = {}
                if uncertainty is not None:
                    calibration = {n: calibration_figures(r) for n, r in reports.items()}
                    self._insert_calibration(conn, sid, calibration)
        scores = {name: _score_row(report) for name, report in reports.items()}
        published = {name: published_figures(row) for name, row in scores.items()}
        return SubmissionResult(
            sid, team, "scored", entry["file_name"], entry["submitted_at"],
            scores=scores, scores_rounded=published, calibration=calibration,
        )  # fmt: skip

    def _score(self, conn, submission, reference: Reference, team: str, entry: dict,
               progress: bool, strict: bool, uncertainty) -> ScoredSubmission:  # fmt: skip
        """Score all scenes (with the uncertainty file if any). A failure is recorded when the
        submission is at fault; one of the uncertainty file's alone records nothing."""
        try:
            scored = score_all_scenes(
                submission, reference, progress=progress, strict=strict, uncertainty=uncertainty
            )
        except Exception as exc:  # invalid, or a crash
            failure = exc
            if uncertainty is not None:
                try:  # whose fault: the submission's own, or only the uncertainty file's?
                    score_all_scenes(submission, reference, strict=strict)
                except Exception as own:
                    failure = own
                else:
                    raise  # the uncertainty file's: nothing recorded
            with self._transaction(conn):
                team_id = self._team_id(conn, team, entry["submitted_at"])
                self._insert(conn, team_id, entry, "failed", reason=failure_reason(failure))
            if failure is exc:
                raise
            raise failure from None
        if uncertainty is not None:  # the reports name the file as uploaded, not where it lies
            scored.uncertainty_files = {"uncertainty": entry["uncertainty"]["file_name"],
                                        "probabilities": None}  # fmt: skip
        return scored

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

    def _precheck(self, conn, team: str, entry: dict, now: datetime) -> int | None:
        """Before scoring: the original id if this is a duplicate; raise if over the limit."""
        team_id = self._find_team(conn, team)
        if team_id is None:
            return None
        original = self._scored_with_hash(conn, team_id, entry)
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
    def _scored_with_hash(conn: sqlite3.Connection, team_id: int, entry: dict) -> int | None:
        """The team's first scored submission of the same file with the same uncertainty file
        (or none, like this one), or None."""
        uncertainty = entry.get("uncertainty")
        row = conn.execute(
            "SELECT s.id FROM submissions s LEFT JOIN uncertainty_files u "
            "ON u.submission_id = s.id WHERE s.team_id = ? AND s.file_hash = ? "
            "AND s.status = 'scored' AND u.file_hash IS ? ORDER BY s.id LIMIT 1",
            (
                team_id,
                entry["file_hash"],
                None if uncertainty is None else uncertainty["file_hash"],
            ),
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
        uncertainty = entry.get("uncertainty")
        if uncertainty is not None:
            conn.execute(
                "INSERT INTO uncertainty_files (submission_id, file_name, file_hash, file_size) "
                "VALUES (?, ?, ?, ?)",
                (cursor.lastrowid, uncertainty["file_name"], uncertainty["file_hash"],
                 uncertainty["file_size"]),
            )  # fmt: skip
        return cursor.lastrowid

    @staticmethod
    def _insert_calibration(conn, submission_id: int, figures: dict[str, dict]) -> None:
        conn.executemany(
            "INSERT INTO calibration (submission_id, split, figure, value) VALUES (?, ?, ?, ?)",
            [
                (submission_id, name, key, value)
                for name, row in figures.items()
                for key, value in row.items()
            ],
        )

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
                counts = {s.submission_id: stored_counts(conn, s.submission_id) for s in standings}
            for standing in standings:
                accumulator = counts[standing.submission_id]
                if accumulator is None:
                    continue  # scored before per-scene counts were stored
                intervals = bootstrap_intervals(accumulator, scenes, ci)
                standing.intervals = intervals_dict(intervals, ci)
            if rank_confidence is not None:
                share_ranks(standings, counts, scenes, ci, rank_confidence)
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
            calibration = stored_calibration(conn, split)
        standings = rank_standings(rows, scores)
        for standing in standings:  # shown beside the scores, after the ranking
            standing.calibration = calibration.get(standing.submission_id)
        return standings

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


def _file_entry(path: str | os.PathLike) -> dict:
    """Name, SHA-256 digest and size of an uploaded file."""
    file_hash, file_size = file_digest(path, UNCERTAINTY_ROLE)
    return {"file_name": os.path.basename(os.fspath(path)), "file_hash": file_hash,
            "file_size": file_size}  # fmt: skip


def _score_row(report: Report) -> dict[str, float | None]:
    values = {**report.charts, "combined": report.combined}
    return {
        key: None if isinstance(values[key], float) and math.isnan(values[key]) else values[key]
        for key in SCORE_KEYS
    }
