"""The score statistics a `Report` can carry, registered by name in `SCORE_STATISTICS`.

A score statistic is something computed from the per-scene counts of a scored submission
beyond the challenge's scores: bootstrap intervals (``intervals``, `autoice score --ci`) and
breakdowns by group of scenes (``breakdowns``, ``--by``) are the two the scorer ships. Each one
is a `ScoreStatistic` registered with `register_statistic`, next to its code; everything that
lists statistics reads this registry:

- `scoring.scorer.add_statistics` checks every requested statistic, then computes them in
  registration order into `Report.statistics` (the JSON report has each under its name);
- `Report.table` prints the text block of each statistic that has one;
- `autoice score` takes each statistic's command-line options (`add_arguments`) and turns
  them into a request (`from_args`);
- `scoring.plots.report_figure` draws the statistics that have a picture.

Adding a statistic is one module with its functions and one `register_statistic` call (see
CONTRIBUTING.md); its picture, if it has one, is a panel function in `scoring.plots`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from kit.registry import Registry


@dataclass(frozen=True)
class ScoreStatistic:
    """One statistic a scored report can carry.

    Parameters
    ----------
    name : str
        Its key in `Report.statistics` and in the JSON report (e.g. ``"intervals"``).
    summary : str
        One line saying what it adds, for listings and error messages.
    options : str
        The command-line options that ask for it (e.g. ``"--ci"``), for messages.
    compute : callable
        ``compute(accumulator, scenes, request) -> result``: the result (JSON-ready: dicts,
        lists, numbers, strings; NaN becomes null) from a `ScoreAccumulator` holding every
        scene, the scene ids the report covers, and the caller's request (its settings).
    check : callable, optional
        ``check(scenes, request) -> None``: raises `ScoringError` for a request that cannot be
        met, before any statistic is computed (so a bad key costs no resampling).
    table : callable, optional
        ``table(result) -> str``: a text block printed below the scores by `Report.table`.
    add_arguments : callable, optional
        ``add_arguments(parser)``: adds its options to `autoice score`.
    from_args : callable, optional
        ``from_args(args) -> request or None``: the request the parsed options make (None:
        not asked for); raises `ScoringError` naming an option given a bad value.

    Examples
    --------
    >>> share = ScoreStatistic(
    ...     "share", "share of the scenes scored", "--share",
    ...     compute=lambda accumulator, scenes, request: len(scenes) / request,
    ... )
    >>> share.compute(None, ["a", "b"], 4)
    0.5
    """

    name: str
    summary: str
    options: str
    compute: Callable[[Any, Sequence[str], Any], Any]
    check: Callable[[Sequence[str], Any], None] | None = None
    table: Callable[[Any], str] | None = None
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None
    from_args: Callable[[argparse.Namespace], Any] | None = None


#: Every score statistic by name, in registration order (the order they are computed, printed
#: and written in the JSON report).
SCORE_STATISTICS: Registry[ScoreStatistic] = Registry("score statistic")


def register_statistic(statistic: ScoreStatistic) -> ScoreStatistic:
    """Register `statistic` under its name and return it.

    Parameters
    ----------
    statistic : ScoreStatistic
        The statistic; its name must be new.

    Returns
    -------
    ScoreStatistic
        `statistic`.

    Raises
    ------
    KitError
        If the name is empty or already registered.

    Examples
    --------
    >>> with SCORE_STATISTICS.restored():
    ...     _ = register_statistic(ScoreStatistic(
    ...         "scene_count", "number of scenes", "--scene-count",
    ...         compute=lambda accumulator, scenes, request: len(scenes)))
    ...     "scene_count" in SCORE_STATISTICS
    True
    >>> "scene_count" in SCORE_STATISTICS
    False
    """
    return SCORE_STATISTICS.add(statistic.name, statistic)
