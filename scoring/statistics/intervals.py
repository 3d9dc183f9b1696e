"""The ``intervals`` score statistic: percentile bootstrap intervals over scenes for every
score (`autoice score --ci`), and the command-line options of any bootstrap.

The resampling itself is `scoring.statistics.bootstrap`; this module registers it as a score
statistic (`scoring.registry`) and turns ``--ci``, ``--resamples``, ``--confidence`` and
``--seed`` into `Bootstrap` settings for `autoice score`, `compare` and `leaderboard`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from scoring.errors import ScoringError
from scoring.metrics.challenge import ScoreAccumulator
from scoring.registry import ScoreStatistic, register_statistic
from scoring.statistics.bootstrap import Bootstrap, bootstrap_intervals, intervals_dict

#: The options that set a bootstrap, as `argparse` stores them.
BOOTSTRAP_OPTIONS: tuple[str, ...] = ("resamples", "confidence", "seed")


def add_bootstrap_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--resamples``, ``--confidence`` and ``--seed`` (read by `bootstrap_settings`).

    Examples
    --------
    >>> parser = argparse.ArgumentParser()
    >>> add_bootstrap_arguments(parser)
    >>> bootstrap_settings(parser.parse_args(["--resamples", "50"])).resamples
    50
    """
    parser.add_argument(
        "--resamples", default=None, metavar="N",
        help="bootstrap resamples of the scenes, 1-1000000 (default: 2000)",
    )  # fmt: skip
    parser.add_argument(
        "--confidence", default=None, metavar="C",
        help="confidence level of the intervals, between 0 and 1 (default: 0.95)",
    )  # fmt: skip
    parser.add_argument(
        "--seed", default=None, metavar="S", help="seed of the resampling (default: 0)"
    )


def bootstrap_settings(args: argparse.Namespace) -> Bootstrap:
    """`Bootstrap` settings from ``--resamples/--confidence/--seed`` (defaults where absent).

    Raises
    ------
    ScoringError
        Naming the option, for a value that is not a number or is out of range.

    Examples
    --------
    >>> bootstrap_settings(argparse.Namespace(resamples=None, confidence="0.9", seed=None))
    Bootstrap(resamples=2000, confidence=0.9, seed=0)
    >>> bootstrap_settings(argparse.Namespace(resamples="many", confidence=None, seed=None))
    Traceback (most recent call last):
    ...
    scoring.errors.ScoringError: --resamples: expected a whole number, got 'many'
    """
    values = {}
    for option, convert in (("resamples", int), ("confidence", float), ("seed", int)):
        text = getattr(args, option)
        if text is None:
            continue
        try:
            values[option] = convert(text)
        except ValueError:
            kind = "a number" if convert is float else "a whole number"
            raise ScoringError(f"--{option}: expected {kind}, got {text!r}") from None
    try:
        return Bootstrap(**values)
    except ScoringError as exc:
        raise ScoringError(f"--{str(exc).split()[0]}: {exc}") from None


def interval_request(args: argparse.Namespace) -> Bootstrap | None:
    """The `Bootstrap` settings when ``--ci`` is given, else None.

    Raises
    ------
    ScoringError
        If ``--resamples``, ``--confidence`` or ``--seed`` come without ``--ci``, or have a
        bad value.

    Examples
    --------
    >>> interval_request(argparse.Namespace(ci=True, resamples="100", confidence=None, seed=None))
    Bootstrap(resamples=100, confidence=0.95, seed=0)
    >>> interval_request(argparse.Namespace(ci=False, resamples="100", confidence=None, seed=None))
    Traceback (most recent call last):
    ...
    scoring.errors.ScoringError: --resamples, --confidence and --seed need --ci
    """
    settings = bootstrap_settings(args)
    if args.ci:
        return settings
    if any(getattr(args, option) is not None for option in BOOTSTRAP_OPTIONS):
        raise ScoringError("--resamples, --confidence and --seed need --ci")
    return None


def score_intervals(
    accumulator: ScoreAccumulator, scenes: Sequence[str], request: bool | Bootstrap
) -> dict:
    """The ``intervals`` statistic: `intervals_dict` of `bootstrap_intervals` over `scenes`
    (`request`: `Bootstrap` settings, or True for the defaults).

    Examples
    --------
    >>> import numpy as np
    >>> acc = ScoreAccumulator()
    >>> for scene in ("20180124T194759_dmi", "20190430T101830_cis"):
    ...     for chart in ("SIC", "SOD", "FLOE"):
    ...         acc.update(scene, chart, np.array([0, 1, 1, 0]), np.array([0, 1, 1, 0]))
    >>> result = score_intervals(acc, acc.scenes, Bootstrap(resamples=20))
    >>> result["resamples"], result["combined"]["low"], result["combined"]["high"]
    (20, 100.0, 100.0)
    """
    settings = request if isinstance(request, Bootstrap) else Bootstrap()
    return intervals_dict(bootstrap_intervals(accumulator, scenes, settings), settings)


def _add_interval_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ci", action="store_true",
        help="add percentile bootstrap intervals over scenes to each score",
    )  # fmt: skip
    add_bootstrap_arguments(parser)


#: Bootstrap intervals over scenes for every score; `Report.table` shows them beside the
#: scores, so the statistic has no block of its own.
INTERVALS = register_statistic(
    ScoreStatistic(
        name="intervals",
        summary="percentile bootstrap intervals over scenes for every score",
        options="--ci",
        compute=score_intervals,
        add_arguments=_add_interval_arguments,
        from_args=interval_request,
    )
)
