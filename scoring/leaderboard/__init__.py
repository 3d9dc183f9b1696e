"""The leaderboard: submissions and scores in one SQLite file (`board`: `Leaderboard`; `database`:
the file, its schema and connections), the ranking (`ranking`), team names (`team_names`) and
the exported tables and pages (`export`), and the calibration columns of submissions sent with
an uncertainty file (`calibration_columns`). Every public name but `export`'s is importable from
here.

Examples
--------
>>> from scoring.leaderboard import SCORE_KEYS, team_key
>>> SCORE_KEYS
('SIC', 'SOD', 'FLOE', 'combined')
>>> team_key("Ice Team") == team_key("ICE TEAM")
True
"""

from __future__ import annotations

from scoring.leaderboard.board import (
    DEFAULT_DAILY_LIMIT,
    MAX_DAILY_LIMIT,
    STORED_SPLITS,
    Leaderboard,
    SubmissionResult,
    check_daily_limit,
    file_digest,
)
from scoring.leaderboard.calibration_columns import CALIBRATION_KEYS, calibration_figures
from scoring.leaderboard.database import (
    APPLICATION_ID,
    CALIBRATION_SCHEMA,
    COUNTS_SCHEMA,
    SCHEMA,
    SCHEMA_VERSION,
    LeaderboardFile,
)
from scoring.leaderboard.ranking import (
    DEFAULT_RANK_CONFIDENCE,
    SCORE_KEYS,
    Standing,
    check_rank_confidence,
    compare_with_above,
)
from scoring.leaderboard.team_names import (
    check_team_name,
    team_key,
)

__all__ = [
    "APPLICATION_ID",
    "CALIBRATION_KEYS",
    "CALIBRATION_SCHEMA",
    "COUNTS_SCHEMA",
    "DEFAULT_DAILY_LIMIT",
    "DEFAULT_RANK_CONFIDENCE",
    "LeaderboardFile",
    "Leaderboard",
    "MAX_DAILY_LIMIT",
    "SCHEMA",
    "SCHEMA_VERSION",
    "SCORE_KEYS",
    "STORED_SPLITS",
    "Standing",
    "SubmissionResult",
    "check_daily_limit",
    "check_rank_confidence",
    "calibration_figures",
    "check_team_name",
    "compare_with_above",
    "file_digest",
    "team_key",
]
