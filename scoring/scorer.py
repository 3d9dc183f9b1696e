"""Scoring a submission file against reference charts, streaming scene by scene.

`score_submission(submission, reference)` is the public entry point. It validates the file
structure first (all missing or misshapen variables in one error), then reads each scene's
reference and submitted charts a block of rows at a time into the `ScoreAccumulator`, checking
the values on the way. Any problem raises `ScoringError` naming the variables; a submission with
problems never gets a score. Problems: values that are not integers (NaN, fractions, a
non-numeric type, whole floats beyond the 64-bit integer range), and with `strict=True` integers
outside the chart's classes.

Without `strict`, predicted integers outside a chart's classes (other than 255) are scored as
wrong predictions, as the challenge scored them, and each variable holding some gets a warning
with their count. That covers every integer type: values 0-254 beyond the classes (e.g. FLOE 7),
negative values of signed types and values above 255 of wider types, which R2 takes as they are.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from kit.charts import CHARTS, submission_variable
from scoring.calibration import CalibrationAccumulator, SceneCalibration, SceneTally
from scoring.calibration.statistic import CalibrationFiles, CalibrationRequest
from scoring.errors import ScoringError
from scoring.files import chart_reader, raw_chunks
from scoring.files.chart_reader import ChartFile, open_chart_file
from scoring.files.reference import Reference, ReferenceScene, find_reference
from scoring.files.storage import check_regular_file, check_submission
from scoring.files.submission import extra_variables_warning, structural_problems
from scoring.files.uncertainty import UncertaintyFiles, UncertaintyInputs
from scoring.heap import keep_freed_buffers
from scoring.metrics import histogram
from scoring.metrics.challenge import (
    ChartCounts,
    ChartTally,
    ScoreAccumulator,
    chart_values_message,
    invalid_values,
    strict_message,
)
from scoring.metrics.formatting import nan_to_none
from scoring.metrics.histogram import ChartValueError, as_chart_values
from scoring.metrics.report import Report
from scoring.registry import SCORE_STATISTICS
from scoring.splits import ALL, resolve_split, scenes_of
from scoring.statistics import (
    GROUP_KEYS,
    Bootstrap,
    BreakdownRequest,
    Comparison,
    check_same_scenes,
    paired_bootstrap,
    scene_groups,
)


@dataclass
class ScoredSubmission:
    """All scenes of a submission scored: report any subset (a split) without re-reading."""

    accumulator: ScoreAccumulator
    reference: Reference
    warnings: list[str] = field(default_factory=list)
    # --- calibration (issue 24): counts of the uncertainty file, None without one ---
    calibration: CalibrationAccumulator | None = None
    uncertainty_files: dict[str, str | None] = field(default_factory=dict)

    def report(
        self,
        scenes: list[str] | None = None,
        split: str | None = None,
        *,
        ci: bool | Bootstrap = False,
        by: Sequence[str] = (),
        groups_file: str | os.PathLike | None = None,
        statistics: Mapping[str, Any] | None = None,
    ) -> Report:
        """Scores over `scenes` (default: all reference scenes), with the score statistics
        asked for: bootstrap intervals if `ci`, breakdowns by the grouping keys `by`, and any
        registered statistic by name in `statistics` (see `add_statistics`). Scored with an
        uncertainty file, the report has its ``calibration`` too, with the same intervals and
        breakdowns."""
        scenes = self.reference.scene_ids if scenes is None else scenes
        report = self.accumulator.report(scenes, split=split, notes=self.warnings)
        requests = dict(statistics or {})
        if self.calibration is not None:
            requests["calibration"] = self._calibration_request(ci, by, groups_file, requests)
        return add_statistics(
            report, self.accumulator, ci=ci, by=by, groups_file=groups_file, statistics=requests
        )

    def _calibration_request(self, ci, by, groups_file, requests: Mapping) -> CalibrationRequest:
        """The calibration counts with the intervals and breakdowns the scores are asked for."""
        intervals = ci or requests.get("intervals") or None
        if intervals is True:
            intervals = Bootstrap()
        breakdowns = BreakdownRequest(tuple(by), groups_file) if by else requests.get("breakdowns")
        return CalibrationRequest(self.calibration, self.uncertainty_files, intervals, breakdowns)


def add_statistics(
    report: Report,
    accumulator: ScoreAccumulator,
    *,
    ci: bool | Bootstrap = False,
    by: Sequence[str] = (),
    groups_file: str | os.PathLike | None = None,
    statistics: Mapping[str, Any] | None = None,
) -> Report:
    """`report` with the score statistics asked for, computed over its scenes.

    `statistics` maps a registered statistic's name (`scoring.registry.SCORE_STATISTICS`) to
    its request; `ci` (True for the default `Bootstrap`, or settings) asks for ``intervals``,
    and `by` with `groups_file` for ``breakdowns``. Every request is checked before any
    statistic is computed, so a bad grouping key costs no resampling; results go into
    `report.statistics` in registration order.

    Raises
    ------
    ScoringError
        For an unknown statistic name, or a request its statistic cannot meet.
    """
    requests = dict(statistics or {})
    if ci:
        requests["intervals"] = ci
    if by:
        requests["breakdowns"] = BreakdownRequest(tuple(by), groups_file)
    unknown = [name for name in requests if name not in SCORE_STATISTICS]
    if unknown:
        names = ", ".join(SCORE_STATISTICS.names())
        raise ScoringError(f"unknown score statistic(s) {', '.join(unknown)}; choose from {names}")
    asked = {name: r for name, r in requests.items() if r is not None and r is not False}
    chosen = [(name, s) for name, s in SCORE_STATISTICS.items() if name in asked]
    for name, statistic in chosen:
        if statistic.check is not None:
            statistic.check(report.scenes, asked[name])
    for name, statistic in chosen:
        result = statistic.compute(accumulator, report.scenes, asked[name])
        report.statistics[name] = nan_to_none(result)
    return report


def score_submission(
    submission: str | os.PathLike,
    reference: str | os.PathLike | Reference,
    *,
    split: str = ALL,
    split_file: str | os.PathLike | None = None,
    progress: bool = False,
    workers: int | None = None,
    strict: bool = False,
    ci: bool | Bootstrap = False,
    by: Sequence[str] = (),
    groups_file: str | os.PathLike | None = None,
    statistics: Mapping[str, Any] | None = None,
    uncertainty: str | os.PathLike | None = None,
    probabilities: str | os.PathLike | None = None,
) -> Report:
    """Score a submission netCDF against reference charts (folder or file, see `find_reference`).

    The challenge's scores, with the file treated as untrusted: its metadata is checked before
    any value is read (`scoring.files.storage`), and memory stays bounded by the workers, not by
    the number of scenes.

    Parameters
    ----------
    submission : str or os.PathLike
        The submission file (``upload_package.nc``): a ``<scene_id>_<chart>`` variable per
        reference scene and chart, on the scene's grid. Every reference scene must be in it.
    reference : str, os.PathLike or Reference
        Reference charts: a dataset folder, one netCDF file, or a `find_reference` result.
    split : {'all', 'public', 'private'}
        The scenes the scores cover, from `split_file` or the default seeded split.
    split_file : str or os.PathLike, optional
        A YAML or CSV file naming the public and private scenes.
    progress : bool
        Show a progress bar over the scenes.
    workers : int, optional
        Processes reading scenes in parallel (default `default_workers()`; 1 scores in this
        process). The scores are the same either way.
    strict : bool
        Reject predicted integers outside a chart's classes instead of scoring them as wrong.
    ci : bool or Bootstrap
        Add percentile bootstrap intervals over scenes (``report.intervals``): True for 2000
        resamples, 95 % and seed 0, or `scoring.statistics.Bootstrap` settings.
    by : sequence of str
        Grouping keys ("service", "month", "season", "region", or a column of `groups_file`):
        scores and statistics per group in ``report.breakdowns``.
    groups_file : str or os.PathLike, optional
        CSV with a ``scene_id`` column and group columns (e.g. ``region``).
    statistics : Mapping of str to object, optional
        More score statistics by registered name (`scoring.registry.SCORE_STATISTICS`) and
        their requests, into ``report.statistics`` (`add_statistics`); ``"calibration":
        CalibrationFiles(...)`` is the same as `uncertainty` and `probabilities`.
    uncertainty : str or os.PathLike, optional
        The uncertainty file beside the submission (`scoring.files.uncertainty`), checked like
        it and read with it: ``report.statistics["calibration"]`` (`scoring.calibration`),
        with intervals and breakdowns when `ci` and `by` ask for them.
    probabilities : str or os.PathLike, optional
        With `uncertainty`, the per-class probabilities file (Brier score, NLL).

    Returns
    -------
    Report
        ``.combined`` and ``.charts`` in percent, unrounded (``*_rounded`` as the challenge
        published them), with ``.per_scene`` and per-class details.

    Raises
    ------
    ScoringError
        For an invalid or unsafe submission or reference, a missing scene, or an unknown
        split; the message is one line.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from scoring import write_submission
    >>> def write_charts(path, sic):  # one 4 x 4 scene: SIC, with SOD and FLOE derived from it
    ...     scene = {"SIC": sic, "SOD": sic // 2, "FLOE": sic // 2}
    ...     return write_submission(path, {"20180124T194759_dmi": scene})
    >>> tmp = tempfile.TemporaryDirectory()
    >>> reference = Path(tmp.name, "reference.nc")
    >>> _ = write_charts(reference, np.arange(16, dtype=np.uint8).reshape(4, 4) % 11)
    >>> submission = Path(tmp.name, "upload_package.nc")
    >>> prediction = np.arange(16, dtype=np.uint8).reshape(4, 4) % 11
    >>> prediction[0, 0] = 5  # one pixel wrong in every chart
    >>> _ = write_charts(submission, prediction)
    >>> report = score_submission(submission, reference, workers=1)
    >>> report.charts_rounded, report.combined_rounded
    ({'SIC': 83.437, 'SOD': 93.75, 'FLOE': 93.75}, 89.625)
    >>> score_submission(Path(tmp.name, "missing.nc"), reference)
    Traceback (most recent call last):
    ...
    scoring.errors.ScoringError: ...missing.nc...
    >>> tmp.cleanup()
    """
    for key in by:  # a bad grouping key before any pixel is read
        if key not in GROUP_KEYS and groups_file is None:
            scene_groups([], key)
    statistics = dict(statistics or {})
    files = statistics.pop("calibration", None)
    if uncertainty is not None or probabilities is not None:
        if uncertainty is None:
            raise ScoringError("probabilities need an uncertainty file (--uncertainty FILE)")
        files = CalibrationFiles(os.fspath(uncertainty), probabilities and os.fspath(probabilities))
    scored = score_all_scenes(
        submission, reference, progress=progress, workers=workers, strict=strict,
        uncertainty=files.uncertainty if files else None,
        probabilities=files.probabilities if files else None,
    )  # fmt: skip
    if ci and not isinstance(ci, Bootstrap):
        ci = Bootstrap()
    if split == ALL and split_file is None:
        scenes, split = None, None
    else:
        scenes = scenes_of(resolve_split(scored.reference.scene_ids, split_file), split)
    return scored.report(
        scenes, split=split, ci=ci, by=by, groups_file=groups_file, statistics=statistics
    )


def compare_submissions(
    a: str | os.PathLike,
    b: str | os.PathLike,
    reference: str | os.PathLike | Reference,
    *,
    split: str = ALL,
    split_file: str | os.PathLike | None = None,
    settings: Bootstrap | None = None,
    workers: int | None = None,
    strict: bool = False,
) -> Comparison:
    """Score submissions `a` and `b` on the same reference scenes and compare them with a
    paired percentile bootstrap over scenes (`scoring.statistics.paired_bootstrap`).

    Parameters
    ----------
    a, b : str or os.PathLike
        The two submission files; they must hold the same scenes.
    reference : str, os.PathLike or Reference
        Reference charts (see `score_submission`).
    split, split_file
        The scenes compared on, as in `score_submission`.
    settings : Bootstrap, optional
        Resamples, confidence level and seed (default `Bootstrap()`).
    workers : int, optional
        Processes reading scenes in parallel.
    strict : bool
        Reject predicted integers outside a chart's classes.

    Returns
    -------
    scoring.statistics.Comparison
        Scores of A and B, differences A - B with intervals, and the share of resamples in
        which A scores higher, per chart and combined.

    Raises
    ------
    ScoringError
        If the two files hold different scenes (listed), or for any problem of
        `score_submission`.

    Examples
    --------
    >>> compare_submissions("missing_a.nc", "missing_b.nc", "data/")
    Traceback (most recent call last):
    ...
    scoring.errors.ScoringError: ...missing_a.nc...
    """
    if not isinstance(reference, Reference):
        for path in (a, b):
            check_regular_file(path, "submission")
        reference = find_reference(reference)
    check_same_scenes(
        submission_scenes(a, reference), submission_scenes(b, reference), (str(a), str(b))
    )
    scored_a = score_all_scenes(a, reference, workers=workers, strict=strict)
    scored_b = score_all_scenes(b, reference, workers=workers, strict=strict)
    scenes = reference.scene_ids
    if not (split == ALL and split_file is None):
        scenes = scenes_of(resolve_split(reference.scene_ids, split_file), split)
    return paired_bootstrap(
        scored_a.accumulator,
        scored_b.accumulator,
        scenes,
        settings or Bootstrap(),
        names=(str(a), str(b)),
        split=None if split == ALL and split_file is None else split,
    )


def submission_scenes(submission: str | os.PathLike, reference: Reference) -> set[str]:
    """The scenes a submission holds any chart variable of (`<scene_id>_<chart>` names), after
    the safety checks of its metadata (`check_submission`)."""
    check_regular_file(submission, "submission")
    raw_chunks.h5py_module()
    check_submission(submission, _variable_names(reference))
    suffixes = tuple(f"_{chart}" for chart in CHARTS)
    with open_chart_file(submission, "submission") as dataset:
        names = list(dataset.variables)
    return {name.rsplit("_", 1)[0] for name in names if name.endswith(suffixes)}


def default_workers() -> int:
    """Worker processes used unless told otherwise: two where there are two cores or more.

    Two overlap one scene's decompression with another's counting; more rarely help because
    reading the (one) submission file is shared.
    """
    return min(2, os.cpu_count() or 1)


def score_all_scenes(
    submission: str | os.PathLike,
    reference: str | os.PathLike | Reference,
    *,
    progress: bool = False,
    workers: int | None = None,
    strict: bool = False,
    uncertainty: str | os.PathLike | None = None,
    probabilities: str | os.PathLike | None = None,
) -> ScoredSubmission:
    """Validate and score every reference scene of a submission (see `score_submission`).

    Scenes are read and counted in `workers` processes (default `default_workers()`), each
    holding one scene at a time and returning only its small confusion matrices, so memory
    stays bounded by the number of workers, not of scenes. `workers=1` scores in this process;
    the scores are identical either way (sums of integer counts).

    With `uncertainty` (and optionally `probabilities`), the files beside the submission are
    checked like it (`scoring.files.uncertainty`) and counted in the same pass over the
    scenes (`scoring.calibration`): `ScoredSubmission.calibration`.
    """
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise ScoringError(f"workers must be at least 1, got {workers}")
    if probabilities is not None and uncertainty is None:
        raise ScoringError("probabilities need an uncertainty file (--uncertainty FILE)")
    check_regular_file(submission, "submission")  # before a worker opens (and blocks on) it
    files = UncertaintyInputs(uncertainty, probabilities)
    files.check_regular()
    raw_chunks.h5py_module()  # the checks below need it: imported before the workers fork
    # Workers start first, so that they import and open while the checks below run here.
    with _scene_pool(os.fspath(submission), workers) as pool:
        if not isinstance(reference, Reference):
            reference = find_reference(reference)
        # What the file holds and how it inflates, before netCDF opens it (and follows links).
        check_submission(submission, _variable_names(reference))
        notes: list[str] = []
        with open_chart_file(submission, "submission") as dataset:
            problems = structural_problems(dataset, reference)
            if problems:
                raise ScoringError(f"submission {submission} is invalid: {'; '.join(problems)}")
            extra = extra_variables_warning(dataset, reference)
            if extra:
                notes.append(extra)
        files.check(
            reference
        )  # the uncertainty files' storage and variables, after the submission's
        accumulator = ScoreAccumulator()
        calibration = CalibrationAccumulator() if files.uncertainty else None
        file_problems: dict[str, list[str]] = {}
        scenes = [reference.scenes[scene_id] for scene_id in reference.scene_ids]
        results = _scene_results(os.fspath(submission), scenes, pool, strict, files)
        for result in _progress(results, len(scenes), progress):
            problems.extend(result.problems)
            for chart, counts in result.counts.items():
                accumulator.add_counts(result.scene_id, chart, counts)
            if calibration is not None and result.calibration is not None:
                calibration.add(result.scene_id, result.calibration)
            for path, texts in result.file_problems.items():
                file_problems.setdefault(path, []).extend(texts)
    if problems:
        raise ScoringError(f"submission {submission} is invalid: {'; '.join(problems)}")
    if file_problems:
        raise ScoringError("; ".join(f"{p} is invalid: {'; '.join(t)}" for p, t in file_problems.items()))  # fmt: skip
    if calibration is not None:
        calibration.probability_charts = files.probability_charts
    return ScoredSubmission(accumulator, reference, notes, calibration, files.paths())


def _variable_names(reference: Reference) -> list[str]:
    return [submission_variable(s, chart) for s in reference.scene_ids for chart in CHARTS]


@dataclass
class SceneResult:
    """One scene scored: `ChartCounts` per valid chart, and the submission's problems; with an
    uncertainty file, its `SceneCalibration` and the problems of its values (and of the
    probabilities file's) per file ("uncertainty file PATH" -> texts)."""

    scene_id: str
    counts: dict[str, ChartCounts]
    problems: list[str]
    calibration: SceneCalibration | None = None
    file_problems: dict[str, list[str]] = field(default_factory=dict)


@contextmanager
def _scene_pool(submission: str, workers: int) -> Iterator[ProcessPoolExecutor | None]:
    """A started pool of `workers` scoring processes, or None to score in this process.

    A daemonic process (e.g. a worker of the caller's own `multiprocessing.Pool`) may not
    start processes, so it scores in-process.
    """
    if workers <= 1 or multiprocessing.current_process().daemon:
        yield None
        return
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_open_in_worker, initargs=(submission,)
    ) as pool:
        pool.submit(int)  # starts the workers now
        try:
            yield pool
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def _scene_results(
    submission: str,
    scenes: list[ReferenceScene],
    pool: ProcessPoolExecutor | None,
    strict: bool,
    files: UncertaintyInputs,
) -> Iterator[SceneResult]:
    """`SceneResult`s in scene order, from this process or from `pool`."""
    if pool is None:
        with ChartFile(submission, "submission", bounded=True) as dataset:
            uncertainty = files.open()
            try:
                for scene in scenes:
                    yield score_scene(dataset, scene, strict, uncertainty)
            finally:
                if uncertainty is not None:
                    uncertainty.close()
        return
    n = len(scenes)
    yield from pool.map(_score_in_worker, scenes, [strict] * n, [files] * n)


#: The submission opened once in each worker process (see `_open_in_worker`), and its path.
_worker_submission: ChartFile | None = None
_worker_submission_path = ""


def _open_in_worker(submission: str) -> None:
    global _worker_submission, _worker_submission_path
    keep_freed_buffers()
    histogram.warm_up()
    _worker_submission_path = submission
    try:
        _worker_submission = ChartFile(submission, "submission", bounded=True)
    except ScoringError:
        _worker_submission = None  # the parent's checks report it before any scene is scored


#: The uncertainty files opened once in each worker (after the parent checked them), by paths.
_worker_uncertainty: tuple[UncertaintyInputs, UncertaintyFiles] | None = None


def _score_in_worker(
    scene: ReferenceScene, strict: bool = False, files: UncertaintyInputs | None = None
) -> SceneResult:
    global _worker_submission, _worker_uncertainty
    if _worker_submission is None:  # could not be opened at start: try again, raising the reason
        _worker_submission = ChartFile(_worker_submission_path, "submission", bounded=True)
    uncertainty = None
    if files is not None and files.uncertainty is not None:
        if _worker_uncertainty is None or _worker_uncertainty[0] != files:
            if _worker_uncertainty is not None:
                _worker_uncertainty[1].close()
            _worker_uncertainty = (files, files.open())
        uncertainty = _worker_uncertainty[1]
    return score_scene(_worker_submission, scene, strict, uncertainty)


def score_scene(
    submission: ChartFile,
    scene: ReferenceScene,
    strict: bool = False,
    uncertainty: UncertaintyFiles | None = None,
) -> SceneResult:
    """Read and count one scene's charts (one reference file open at a time), and with
    `uncertainty` its calibration counts in the same pass."""
    counts, problems = {}, []
    tally = None if uncertainty is None else SceneTally(uncertainty, scene.scene_id)
    with ChartFile(scene.path, "reference") as reference_file:
        for chart in CHARTS:
            chart_counts, problem = _chart_counts(
                submission, reference_file, scene, chart, strict, tally
            )
            if problem:
                problems.append(problem)
            else:
                counts[chart] = chart_counts
    if tally is None or problems:
        return SceneResult(scene.scene_id, counts, problems)
    calibration, file_problems = tally.result()
    return SceneResult(scene.scene_id, counts, problems, calibration, file_problems)


def _chart_counts(
    submission: ChartFile,
    reference: ChartFile,
    scene: ReferenceScene,
    chart: str,
    strict: bool,
    calibration: SceneTally | None = None,
) -> tuple[ChartCounts | None, str | None]:
    """Stream one chart through a `ChartTally`; (counts, None) or (None, the problem text).

    Problems of the reference raise `ScoringError` at once (no score can be given).
    """
    name = submission_variable(scene.scene_id, chart)
    ref_where = f"reference {scene.path} variable {scene.variables[chart]}"
    pred_rows = submission.rows(name, f"submission variable {name}")
    ref_rows = reference.rows(scene.variables[chart], ref_where)
    tally = ChartTally(chart)
    for rows in pred_rows.blocks(chart_reader.BLOCK_PIXELS):
        ref = ref_rows.read(rows)
        pred = pred_rows.read(rows)
        try:
            ref = as_chart_values(ref)
        except ChartValueError as exc:
            raise ScoringError(f"{ref_where} {exc}") from None
        try:
            # With an uncertainty file, the calibration's counts give the block's (reference,
            # prediction) histogram too where every value is a class or 255 (one count, not
            # two); other blocks go through the score's own tally as without one.
            pairs = None if calibration is None else calibration.add(chart, rows, ref, pred)
            if pairs is None:
                tally.add(ref, pred)
            else:
                tally.histogram += pairs
        except ChartValueError as exc:
            return None, f"{name} {exc}"
    bad_ref = invalid_values(tally.reference_counts(), chart)
    if bad_ref:
        raise ScoringError(f"{ref_where} {chart_values_message(chart, bad_ref)}")
    counts = tally.counts()
    if strict and counts.out_total:
        return None, f"{name} {strict_message(chart, counts)}"
    return counts, None


def _progress(results: Iterator[SceneResult], total: int, show: bool):
    """The scene results, wrapped in a tqdm bar when `show` (tqdm is only needed then)."""
    if not show:
        return results
    from tqdm.auto import tqdm

    return tqdm(results, total=total, desc="scoring", unit="scene")
