"""Ranking a leaderboard: a team's best submission by the challenge's combined figure
(`Standing`, `rank_standings`), and ranks shared with the team above unless it scores higher
in enough paired bootstrap resamples (`compare_with_above`, `share_ranks`)."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from kit.charts import CHARTS
from scoring.errors import ScoringError
from scoring.metrics.challenge import ScoreAccumulator
from scoring.metrics.report import published_scores
from scoring.statistics import Bootstrap, paired_bootstrap

#: Score columns stored per split: the charts and the combined score.
SCORE_KEYS: tuple[str, ...] = (*CHARTS, "combined")
#: Default `rank_confidence` of shared ranks: a team shares the rank above unless the team
#: above scores higher in at least 95 % of the paired resamples (a one-sided 95 % test).
DEFAULT_RANK_CONFIDENCE = 0.95


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
    #: The submission's calibration columns on the split (`CALIBRATION_KEYS` -> value, None
    #: where undefined), or None when it came without an uncertainty file. Never ranks.
    calibration: dict | None = None

    def __post_init__(self) -> None:
        if not self.scores_rounded:
            self.scores_rounded = published_figures(self.scores)


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


def share_ranks(
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


def rank_standings(rows: list[tuple], scores: dict[int, dict[str, float | None]]) -> list[Standing]:
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


def published_figures(row: dict[str, float | None]) -> dict[str, float | None]:
    """The challenge's figures of a row of unrounded scores (None where undefined)."""
    charts = {c: math.nan if row.get(c) is None else row[c] for c in CHARTS}
    return {key: None if math.isnan(v) else v for key, v in published_scores(charts).items()}
