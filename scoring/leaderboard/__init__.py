"""The leaderboard: submissions, scores and rankings in one SQLite file (`board`: `Leaderboard`),
team names (`team_names`) and the exported tables and pages (`export`). The public names of
`board` and `team_names` are importable from here.

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
    APPLICATION_ID,
    COUNTS_SCHEMA,
    DEFAULT_DAILY_LIMIT,
    DEFAULT_RANK_CONFIDENCE,
    MAX_DAILY_LIMIT,
    SCHEMA,
    SCHEMA_VERSION,
    SCORE_KEYS,
    STORED_SPLITS,
    Leaderboard,
    Standing,
    SubmissionResult,
    check_daily_limit,
    check_rank_confidence,
    compare_with_above,
    file_digest,
)
from scoring.leaderboard.team_names import (
    check_team_name,
    team_key,
)

__all__ = [
    "APPLICATION_ID",
    "COUNTS_SCHEMA",
    "DEFAULT_DAILY_LIMIT",
    "DEFAULT_RANK_CONFIDENCE",
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
    "check_team_name",
    "compare_with_above",
    "file_digest",
    "team_key",
]
