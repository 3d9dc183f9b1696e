"""The ``calibration`` score statistic (`scoring.registry`): `autoice score --uncertainty FILE
[--probabilities FILE]`.

Unlike the other statistics, calibration needs counts made while the files are read beside the
submission (`scoring.scorer.score_all_scenes(..., uncertainty=...)`): the command line's
request names the files (`CalibrationFiles`), the scorer reads them with the submission, and
`ScoredSubmission.report` hands the statistic a `CalibrationRequest` holding the counts and the
intervals and breakdowns asked for the scores, so ``--ci`` and ``--by`` cover calibration too,
on the same resamples and groups.

The result (`Report.statistics["calibration"]`, "calibration" in the JSON report) is
`scoring.calibration.calibration_statistics` with the files' paths, plus "intervals" (with
``--ci``, `calibration_intervals`) and "breakdowns" (with ``--by``, key -> label ->
`calibration_breakdown`). This module imports the calibration's figures only when it computes
them: `scoring.statistics` imports it to register the statistic, and the figures import
`scoring.statistics`.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kit.charts import CHARTS, METRICS, SIC_INTERVAL_PROBABILITY
from scoring.errors import ScoringError
from scoring.metrics.formatting import format_fraction, format_percent, format_score
from scoring.registry import ScoreStatistic, register_statistic

#: The coverages of the selective figures, as the report names them.
COVERAGE_KEYS: tuple[str, ...] = ("50", "80", "90")


@dataclass(frozen=True)
class CalibrationFiles:
    """What ``--uncertainty`` and ``--probabilities`` ask for: the files to score beside the
    submission."""

    uncertainty: str
    probabilities: str | None = None


@dataclass(frozen=True)
class CalibrationRequest:
    """What the ``calibration`` statistic computes from: the counts of the files
    (`scoring.calibration.CalibrationAccumulator`), their paths, and the intervals
    (`Bootstrap` settings) and breakdowns (`BreakdownRequest`) asked for, if any."""

    counts: Any
    files: Mapping[str, str | None] = field(default_factory=dict)
    intervals: Any = None
    breakdowns: Any = None


def calibration_files(args: argparse.Namespace) -> CalibrationFiles | None:
    """The request ``--uncertainty`` (and ``--probabilities``) make; None without them.

    Examples
    --------
    >>> calibration_files(argparse.Namespace(uncertainty="u.nc", probabilities=None))
    CalibrationFiles(uncertainty='u.nc', probabilities=None)
    >>> calibration_files(argparse.Namespace(uncertainty=None, probabilities="p.nc"))
    Traceback (most recent call last):
    ...
    scoring.errors.ScoringError: --probabilities needs --uncertainty FILE
    """
    if args.uncertainty is None:
        if args.probabilities is not None:
            raise ScoringError("--probabilities needs --uncertainty FILE")
        return None
    return CalibrationFiles(args.uncertainty, args.probabilities)


def score_calibration(accumulator, scenes: Sequence[str], request: CalibrationRequest) -> dict:
    """The ``calibration`` statistic over `scenes` (`accumulator`, the scores' counts, is not
    needed: calibration has its own, in `request`).

    Raises
    ------
    ScoringError
        If `request` only names files (they must be read with the submission:
        ``score_submission(..., uncertainty=FILE)``).
    """
    if not isinstance(request, CalibrationRequest):
        raise ScoringError(
            "calibration: the uncertainty file is read with the submission; score with "
            "score_submission(..., uncertainty=FILE) or autoice score --uncertainty FILE"
        )
    from scoring.calibration.summary import (
        calibration_breakdown,
        calibration_intervals,
        calibration_statistics,
    )

    result = {"files": dict(request.files), **calibration_statistics(request.counts, scenes)}
    if request.intervals is not None:
        result["intervals"] = calibration_intervals(request.counts, scenes, request.intervals)
    if request.breakdowns is not None:
        result["breakdowns"] = {
            key: calibration_breakdown(
                request.counts, scenes, key, groups_file=request.breakdowns.groups_file
            )
            for key in request.breakdowns.keys
        }
    return result


def calibration_table(result: Mapping) -> str:
    """The "Calibration" block of `Report.table`: per chart ECE, MCE, AURC, accuracy and score
    of the most confident 50/80/90 %, Brier and NLL (with probabilities); the SIC interval's
    coverage and width; the intervals and breakdowns when asked for.

    Examples
    --------
    >>> chart = {"ece": 0.05, "mce": 0.2, "aurc": 0.1, "selective": {
    ...     k: {"accuracy": 0.9, "score": 80.0} for k in COVERAGE_KEYS}}
    >>> result = {"files": {"uncertainty": "u.nc", "probabilities": None},
    ...           "charts": {c: chart for c in CHARTS},
    ...           "sic_interval": {"coverage": 0.87, "mean_width": 1.5, "pixels": 10,
    ...                            "no_interval": 0}}
    >>> print(calibration_table(result).splitlines()[2])
    SIC     0.0500  0.2000  0.1000  0.9000   80.000  0.9000   80.000  0.9000   80.000
    """
    files = result.get("files") or {}
    title = f"Calibration (uncertainty file {files.get('uncertainty')}"
    if files.get("probabilities"):
        title += f", probabilities {files['probabilities']}"
    probabilities = any("probabilities" in c for c in result["charts"].values())
    head = f"{'chart':<6}{'ECE':>8}{'MCE':>8}{'AURC':>8}"
    for key in COVERAGE_KEYS:
        head += f"{'acc' + key:>8}{'score' + key:>9}"
    if probabilities:
        head += f"{'Brier':>8}{'NLL':>8}"
    lines = [f"{title}; score = R² (SIC) or F1 on the most confident 50/80/90 %)", head]
    for chart in CHARTS:
        figures = result["charts"][chart]
        line = f"{chart:<6}" + "".join(
            f"{format_fraction(figures.get(k)):>8}" for k in ("ece", "mce", "aurc")
        )
        for key in COVERAGE_KEYS:
            selected = figures["selective"][key]
            line += f"{format_fraction(selected['accuracy']):>8}"
            line += f"{format_score(selected['score']):>9}"
        if probabilities:
            probs = figures.get("probabilities") or {}
            line += f"{format_fraction(probs.get('brier')):>8}{format_fraction(probs.get('nll')):>8}"  # fmt: skip
        lines.append(line)
    interval = result["sic_interval"]
    lines.append(
        f"SIC {format_percent(SIC_INTERVAL_PROBABILITY)} interval: coverage "
        f"{format_fraction(interval['coverage'])}, mean width "
        f"{format_fraction(interval['mean_width'], 2)} classes ({interval['pixels']} pixels"
        + (
            f"; {interval['no_interval']} left at 255 have none)"
            if interval["no_interval"]
            else ")"
        )
    )
    lines += _interval_lines(result.get("intervals"))
    for key, groups in (result.get("breakdowns") or {}).items():
        lines += ["", _breakdown_table(key, groups)]
    return "\n".join(lines)


def _interval_lines(intervals: Mapping | None) -> list[str]:
    if not intervals:
        return []

    def shown(bounds: Mapping) -> str:
        low, high = bounds.get("low"), bounds.get("high")
        if low is None or high is None:
            return "undefined"
        return f"[{format_fraction(low)}, {format_fraction(high)}]"

    level = format_percent(intervals["confidence"])
    lines = [f"{level} bootstrap intervals over scenes ({intervals['resamples']} resamples, "
             f"seed {intervals['seed']}):"]  # fmt: skip
    for chart in CHARTS:
        got = intervals["charts"][chart]
        lines.append(
            f"  {chart:<5} ECE {shown(got['ece'])}  AURC {shown(got['aurc'])}  "
            f"{'R²' if METRICS[chart] == 'r2' else 'F1'} of the most confident 50 % "
            f"{_score_interval(got['score_50'])}"
        )
    lines.append(f"  SIC interval coverage {shown(intervals['sic_interval']['coverage'])}")
    return lines


def _score_interval(bounds: Mapping) -> str:
    low, high = bounds.get("low"), bounds.get("high")
    return "undefined" if low is None or high is None else f"[{format_score(low)}, {format_score(high)}]"  # fmt: skip


def _breakdown_table(key: str, groups: Mapping[str, Mapping]) -> str:
    head = f"{'by ' + key:<14}{'scenes':>7}" + "".join(f"{'ECE ' + c:>10}" for c in CHARTS)
    head += f"{'SIC cover':>11}"
    lines = [f"Calibration {head}"]
    for label, group in groups.items():
        eces = "".join(f"{format_fraction(group['charts'][c]['ece']):>10}" for c in CHARTS)
        cover = format_fraction(group["sic_interval"]["coverage"])
        lines.append(f"{'':12}{label:<14}{group['n_scenes']:>7}{eces}{cover:>11}")
    return "\n".join(lines)


def _add_calibration_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--uncertainty", metavar="FILE",
        help="score the uncertainty file written beside the submission (autoice predict "
        "--uncertainty): ECE, MCE, reliability, risk-coverage and AURC, the scores of the most "
        "confident 50/80/90 %%, SIC interval coverage; with --ci and --by too",
    )  # fmt: skip
    parser.add_argument(
        "--probabilities", metavar="FILE",
        help="with --uncertainty: also the per-class probabilities file (Brier score, NLL)",
    )  # fmt: skip


#: Calibration of an uncertainty file: registered after ``intervals`` and ``breakdowns``.
CALIBRATION = register_statistic(
    ScoreStatistic(
        name="calibration",
        summary="calibration of the uncertainty file beside the submission",
        options="--uncertainty",
        compute=score_calibration,
        table=calibration_table,
        add_arguments=_add_calibration_arguments,
        from_args=calibration_files,
    )
)
