"""`autoice score` and `autoice leaderboard submit|show|export|bundle`.

Every bad input raises `ScoringError` (a KitError): the `autoice` command prints it as one
line and exits with status 2.
"""

from __future__ import annotations

import argparse
import sys

from kit.atomic import write_atomic
from scoring.metrics.formatting import format_score
from scoring.registry import SCORE_STATISTICS
from scoring.splits import ALL, PRIVATE, PUBLIC
from scoring.statistics.intervals import (
    add_bootstrap_arguments,
    bootstrap_settings,
    interval_request,
)

SPLIT_CHOICES = (PUBLIC, PRIVATE, ALL)
DAILY_LIMIT_HELP = "scored submissions per team per UTC day, 1-1000 (default: 5)"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `score`, `compare` and `leaderboard` subcommands to the `autoice` parser."""
    _add_score(subparsers)
    _add_compare(subparsers)
    board = subparsers.add_parser(
        "leaderboard",
        help="run a leaderboard in a SQLite file",
        description="A leaderboard in a SQLite file: score and record submissions per team, "
        "print or export the ranking, or zip a Codabench competition bundle.",
    )
    actions = board.add_subparsers(dest="action", metavar="ACTION", required=True)
    _add_submit(actions)
    _add_show(actions)
    _add_export(actions)
    _add_bundle(actions)


def _add_score(subparsers: argparse._SubParsersAction) -> None:
    score = subparsers.add_parser(
        "score",
        help="validate and score a submission netCDF against reference charts",
        description="Validate a submission netCDF and score it against the reference charts "
        "with the challenge metric: R2 for SIC, weighted F1 for SOD and FLOE, combined = "
        "(2 SIC + 2 SOD + 1 FLOE) / 5.",
    )
    score.add_argument("submission", help="submission netCDF (upload_package.nc)")
    _reference_arguments(score)
    score.add_argument("--json", metavar="OUT", help="write the JSON report here ('-': stdout)")
    score.add_argument(
        "--split", choices=SPLIT_CHOICES, default=ALL,
        help="scenes to score: one half of the public/private split, or all",
    )  # fmt: skip
    score.add_argument("--progress", action="store_true", help="show a progress bar")
    _strict_argument(score)
    _workers_argument(score)
    for statistic in SCORE_STATISTICS.values():
        if statistic.add_arguments is not None:
            statistic.add_arguments(score)
    score.add_argument(
        "--png", metavar="FILE",
        help="draw the score statistics asked for (intervals as a forest plot, breakdowns as "
        "heat maps) in a PNG file; needs matplotlib",
    )  # fmt: skip
    score.set_defaults(handler=run_score)


def _add_compare(subparsers: argparse._SubParsersAction) -> None:
    compare = subparsers.add_parser(
        "compare",
        help="compare two submissions on the same scenes with a paired bootstrap",
        description="Score two submissions on the same reference scenes and report, per chart "
        "and combined, the difference A - B, its paired percentile bootstrap interval over "
        "scenes and the share of resamples in which A scores higher.",
    )
    compare.add_argument("a", metavar="A", help="first submission netCDF")
    compare.add_argument("b", metavar="B", help="second submission netCDF")
    _reference_arguments(compare)
    compare.add_argument("--json", metavar="OUT", help="write the comparison here ('-': stdout)")
    compare.add_argument(
        "--split", choices=SPLIT_CHOICES, default=ALL,
        help="scenes to compare on: one half of the public/private split, or all",
    )  # fmt: skip
    add_bootstrap_arguments(compare)
    compare.add_argument(
        "--png", metavar="FILE",
        help="draw the differences with their intervals in a PNG file (needs matplotlib)",
    )  # fmt: skip
    _workers_argument(compare)
    compare.set_defaults(handler=run_compare)


def _add_submit(actions: argparse._SubParsersAction) -> None:
    submit = actions.add_parser(
        "submit",
        help="score a submission and record it for a team",
        description="Score a submission against the reference charts and record it for a team, "
        "within the team's daily limit; a team's byte-identical resubmission is recorded as a "
        "duplicate, not scored again.",
    )
    submit.add_argument("submission", help="submission netCDF")
    submit.add_argument(
        "--team", required=True,
        help="team name: 1-40 characters, at most 40 columns, single spaces between words; "
        "the same team in any letter case",
    )  # fmt: skip
    _reference_arguments(submit)
    _db_argument(submit)
    submit.add_argument("--daily-limit", type=int, default=None, help=DAILY_LIMIT_HELP)
    _strict_argument(submit)
    submit.add_argument(
        "--uncertainty", metavar="FILE",
        help="the uncertainty file written beside the submission (autoice predict "
        "--uncertainty): its ECE per chart and SIC 90 %% interval coverage are stored and shown "
        "as extra columns (the ranking is unchanged); a bad file records nothing",
    )  # fmt: skip
    submit.set_defaults(handler=run_submit)


def _add_show(actions: argparse._SubParsersAction) -> None:
    show = actions.add_parser(
        "show",
        help="print the ranking",
        description="Print the ranking: each team's best submission by the combined score.",
    )
    _db_argument(show)
    _rank_split_argument(show)
    _leaderboard_ci_arguments(show)
    show.set_defaults(handler=run_show)


def _add_export(actions: argparse._SubParsersAction) -> None:
    export = actions.add_parser(
        "export",
        help="write the ranking as md, csv, html or json",
        description="Write the ranking as a markdown table, CSV, an HTML page or JSON.",
    )
    _db_argument(export)
    export.add_argument(
        "--format", choices=("md", "csv", "html", "json"), default="md", help="output format"
    )
    _rank_split_argument(export)
    _leaderboard_ci_arguments(export)
    export.add_argument("--out", help="output file (default: stdout)")
    export.add_argument("--title", default="AutoICE leaderboard", help="title of the page")
    export.set_defaults(handler=run_export)


def _add_bundle(actions: argparse._SubParsersAction) -> None:
    bundle = actions.add_parser(
        "bundle",
        help="zip a Codabench competition bundle",
        description="Zip a Codabench competition bundle to upload: competition.yaml, pages, "
        "the scoring program, and the reference charts with the public/private split.",
    )
    _reference_arguments(bundle)
    bundle.add_argument("--out", required=True, help="bundle zip to write")
    bundle.add_argument(
        "--title", default="AutoICE sea-ice charting", help="title of the competition"
    )
    bundle.add_argument(
        "--docker-image", default=None,
        help="image running the scoring program (default: codalab/codalab-legacy:py39)",
    )  # fmt: skip
    bundle.add_argument("--daily-limit", type=int, default=None, help=DAILY_LIMIT_HELP)
    bundle.set_defaults(handler=run_bundle)


def _reference_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--reference", required=True, help="reference charts: scene folder or netCDF file"
    )
    parser.add_argument(
        "--split-file",
        help="public/private split (CSV scene_id,split or YAML) (default: a seeded split)",
    )


def _strict_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--strict", action="store_true",
        help="reject predicted values outside a chart's classes (default: scored as wrong, "
        "with a warning, as in the challenge)",
    )  # fmt: skip


def _workers_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers", type=_positive_int, default=None,
        help="processes reading scenes in parallel (default: 2, or 1 on one core)",
    )  # fmt: skip


def _leaderboard_ci_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ci", action="store_true",
        help="add percentile bootstrap interval columns over the split's scenes (from the "
        "stored per-scene counts; the ranking is unchanged)",
    )  # fmt: skip
    add_bootstrap_arguments(parser)
    parser.add_argument(
        "--shared-ranks", action="store_true",
        help="with --ci: show a team's rank as shared (\"2=\") with the team ranked directly "
        "above when a paired bootstrap of their best submissions cannot tell them apart",
    )  # fmt: skip
    parser.add_argument(
        "--rank-confidence", default=None, metavar="C",
        help="with --shared-ranks: share the rank above unless the team above scores higher "
        "in at least this share of the resamples, between 0 and 1 (default: 0.95)",
    )  # fmt: skip


def _rank_confidence(args: argparse.Namespace) -> float | None:
    """The rank confidence with --shared-ranks (default 0.95), else None; ScoringError naming
    the option when --shared-ranks comes without --ci, --rank-confidence without
    --shared-ranks, or its value is not a number between 0 and 1."""
    from scoring.errors import ScoringError
    from scoring.leaderboard.ranking import DEFAULT_RANK_CONFIDENCE, check_rank_confidence

    text = args.rank_confidence
    if not args.shared_ranks:
        if text is not None:
            raise ScoringError("--rank-confidence needs --shared-ranks")
        return None
    if not args.ci:
        raise ScoringError("--shared-ranks needs --ci (its resamples and seed)")
    if text is None:
        return DEFAULT_RANK_CONFIDENCE
    try:
        value = float(text)
    except ValueError:
        raise ScoringError(f"--rank-confidence: expected a number, got {text!r}") from None
    try:
        return check_rank_confidence(value)
    except ScoringError as exc:
        raise ScoringError(f"--rank-confidence: {exc}") from None


def _positive_int(text: str) -> int:
    """argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _db_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", default="leaderboard.sqlite", help="SQLite leaderboard file")


def _rank_split_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--split", choices=SPLIT_CHOICES, default=PUBLIC,
        help="scores that rank the teams: the public or private half of the test scenes, or all",
    )  # fmt: skip


def statistic_requests(args: argparse.Namespace) -> dict:
    """Score statistic name -> request, for each registered statistic that the parsed
    options of `autoice score` ask for (`ScoreStatistic.from_args`)."""
    requests = {}
    for name, statistic in SCORE_STATISTICS.items():
        request = statistic.from_args(args) if statistic.from_args is not None else None
        if request is not None:
            requests[name] = request
    return requests


def run_score(args: argparse.Namespace) -> int:
    from scoring.heap import keep_freed_buffers
    from scoring.scorer import score_submission

    keep_freed_buffers()  # this command's own process: scoring in it (--workers 1) gains too
    requests = statistic_requests(args)
    if args.png is not None and not requests:
        from scoring.errors import ScoringError

        asked = ", ".join(s.options for s in SCORE_STATISTICS.values() if s.from_args)
        raise ScoringError(f"--png draws the score statistics: it needs one of {asked}")
    plots = _plots_for(args.png)
    report = score_submission(
        args.submission,
        args.reference,
        split=args.split,
        split_file=args.split_file,
        progress=args.progress,
        workers=args.workers,
        strict=args.strict,
        statistics=requests,
    )
    _emit(report, args, plots, "report_figure")
    return 0


def run_compare(args: argparse.Namespace) -> int:
    from scoring.heap import keep_freed_buffers
    from scoring.scorer import compare_submissions

    keep_freed_buffers()
    plots = _plots_for(args.png)
    comparison = compare_submissions(
        args.a,
        args.b,
        args.reference,
        split=args.split,
        split_file=args.split_file,
        settings=bootstrap_settings(args),
        workers=args.workers,
    )
    _emit(comparison, args, plots, "difference_plot")
    return 0


def _emit(result, args: argparse.Namespace, plots, figure: str) -> None:
    """Print `result`'s table (to stderr when the JSON goes to stdout), write its JSON to
    `--json` ('-': stdout), and with `--png` save the figure `plots.<figure>(result)`."""
    print(result.table(), file=sys.stderr if args.json == "-" else sys.stdout)
    if args.json == "-":
        print(result.to_json())
    elif args.json:
        write_atomic(args.json, result.to_json() + "\n")
    if plots is not None:
        plots.save_png(getattr(plots, figure)(result), args.png)


def _plots_for(png: str | None):
    """`scoring.plots` when --png FILE is given (None otherwise), checked before any scoring:
    ScoringError naming --png if matplotlib is missing or FILE's folder does not exist."""
    if png is None:
        return None
    from pathlib import Path

    from scoring.errors import ScoringError

    folder = Path(png).parent
    if not folder.is_dir():
        raise ScoringError(f"--png: folder {folder} does not exist")
    if Path(png).is_dir():
        raise ScoringError(f"--png: {png} is a folder, not a file name")
    try:
        import scoring.plots as plots
    except ImportError as exc:
        raise ScoringError(f"--png needs matplotlib and cmocean ({exc})") from None
    return plots


def _leaderboard(args: argparse.Namespace):
    from scoring.leaderboard.board import DEFAULT_DAILY_LIMIT, Leaderboard

    limit = getattr(args, "daily_limit", None)
    return Leaderboard(args.db, daily_limit=DEFAULT_DAILY_LIMIT if limit is None else limit)


def run_submit(args: argparse.Namespace) -> int:
    result = _leaderboard(args).submit(
        args.submission,
        args.team,
        args.reference,
        split_file=args.split_file,
        strict=args.strict,
        uncertainty=args.uncertainty,
    )
    if result.status == "duplicate":
        print(
            f"submission {result.submission_id} of team {result.team!r} is a duplicate of "
            f"submission {result.duplicate_of}; not scored again"
        )
        return 0
    public = result.scores_rounded[PUBLIC]
    print(
        f"submission {result.submission_id} of team {result.team!r} scored: "
        + ", ".join(f"{k} {format_score(v)}" for k, v in public.items())
        + " (public split)"
    )
    if result.calibration:
        from scoring.leaderboard.calibration_columns import calibration_label
        from scoring.metrics.formatting import format_fraction

        figures = result.calibration[PUBLIC]
        print(
            "calibration: "
            + ", ".join(f"{calibration_label(k)} {format_fraction(v)}" for k, v in figures.items())
            + " (public split)"
        )
    return 0


def run_show(args: argparse.Namespace) -> int:
    from scoring.leaderboard.export import to_markdown

    standings = _leaderboard(args).standings(
        args.split, ci=interval_request(args), rank_confidence=_rank_confidence(args)
    )
    print(to_markdown(standings, args.split), end="")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from scoring.leaderboard.export import export

    standings = _leaderboard(args).standings(
        args.split, ci=interval_request(args), rank_confidence=_rank_confidence(args)
    )
    text = export(standings, args.format, args.split, args.title)
    if args.out:
        write_atomic(args.out, text)
    else:
        sys.stdout.write(text)
    return 0


def run_bundle(args: argparse.Namespace) -> int:
    from scoring.codabench.bundle import DEFAULT_DOCKER_IMAGE, build_bundle
    from scoring.leaderboard.board import DEFAULT_DAILY_LIMIT

    path = build_bundle(
        args.reference,
        args.out,
        split_file=args.split_file,
        title=args.title,
        docker_image=args.docker_image or DEFAULT_DOCKER_IMAGE,
        daily_limit=DEFAULT_DAILY_LIMIT if args.daily_limit is None else args.daily_limit,
    )
    print(f"wrote Codabench bundle {path}")
    return 0
