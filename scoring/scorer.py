"""Scoring a submission file against reference charts, streaming scene by scene.

`score_submission(submission, reference)` is the public entry point. It validates the file
structure first (all missing or misshapen variables in one error), then reads each scene's
reference and submitted charts a block of rows at a time into the `ScoreAccumulator`, checking
the values on the way (NaN, fractions, values that are not classes). Any problem raises
`ScoringError` naming the variables; a submission with problems never gets a score.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import netCDF4
import numpy as np

from kit.charts import CHARTS, submission_variable
from scoring.chart_reader import open_netcdf, read_rows, row_blocks
from scoring.errors import ScoringError
from scoring.metrics import (
    ChartValueError,
    ScoreAccumulator,
    as_chart_values,
    chart_values_message,
    invalid_values,
    joint_histogram,
)
from scoring.reference import Reference, ReferenceScene, find_reference
from scoring.report import Report
from scoring.splits import ALL, resolve_split, scenes_of
from scoring.submission import extra_variables_warning, structural_problems


@dataclass
class ScoredSubmission:
    """All scenes of a submission scored: report any subset (a split) without re-reading."""

    accumulator: ScoreAccumulator
    reference: Reference
    warnings: list[str] = field(default_factory=list)

    def report(self, scenes: list[str] | None = None, split: str | None = None) -> Report:
        """Scores over `scenes` (default: all reference scenes)."""
        scenes = self.reference.scene_ids if scenes is None else scenes
        return self.accumulator.report(scenes, split=split, notes=self.warnings)


def score_submission(
    submission: str | os.PathLike,
    reference: str | os.PathLike | Reference,
    *,
    split: str = ALL,
    split_file: str | os.PathLike | None = None,
    progress: bool = False,
) -> Report:
    """Score a submission netCDF against reference charts (folder or file, see `find_reference`).

    Every reference scene must be in the submission. `split` ("public", "private" or "all")
    chooses the scenes the scores cover, from `split_file` or the default seeded split.
    Returns a `Report` (`.combined`, `.charts`, `.per_scene`, in percent); raises
    `ScoringError` for an invalid submission or reference.
    """
    scored = score_all_scenes(submission, reference, progress=progress)
    if split == ALL and split_file is None:
        return scored.report(split=None)
    split_map = resolve_split(scored.reference.scene_ids, split_file)
    return scored.report(scenes_of(split_map, split), split=split)


def score_all_scenes(
    submission: str | os.PathLike,
    reference: str | os.PathLike | Reference,
    *,
    progress: bool = False,
) -> ScoredSubmission:
    """Validate and score every reference scene of a submission (see `score_submission`)."""
    if not isinstance(reference, Reference):
        reference = find_reference(reference)
    accumulator = ScoreAccumulator()
    notes: list[str] = []
    with open_netcdf(submission, "submission") as dataset:
        problems = structural_problems(dataset, reference)
        if problems:
            raise ScoringError(f"submission {submission} is invalid: {'; '.join(problems)}")
        extra = extra_variables_warning(dataset, reference)
        if extra:
            notes.append(extra)
        for scene_id in _progress(reference.scene_ids, progress):
            scene = reference.scenes[scene_id]
            with open_netcdf(scene.path, "reference") as reference_file:  # one open at a time
                for chart in CHARTS:
                    problem = _score_chart(dataset, reference_file, scene, chart, accumulator)
                    if problem:
                        problems.append(problem)
    if problems:
        raise ScoringError(f"submission {submission} is invalid: {'; '.join(problems)}")
    return ScoredSubmission(accumulator, reference, notes)


def _score_chart(
    submission: netCDF4.Dataset,
    reference: netCDF4.Dataset,
    scene: ReferenceScene,
    chart: str,
    accumulator: ScoreAccumulator,
) -> str | None:
    """Stream one chart into the accumulator; return the submission's problem text, if any."""
    name = submission_variable(scene.scene_id, chart)
    pred_var = submission.variables[name]
    ref_var = reference.variables[scene.variables[chart]]
    ref_where = f"reference {scene.path} variable {scene.variables[chart]}"
    hist = np.zeros((256, 256), dtype=np.int64)
    for rows in row_blocks(pred_var):
        ref = read_rows(ref_var, rows, ref_where)
        pred = read_rows(pred_var, rows, f"submission variable {name}")
        try:
            ref = as_chart_values(ref)
        except ChartValueError as exc:
            raise ScoringError(f"{ref_where} {exc}") from None
        try:
            pred = as_chart_values(pred)
        except ChartValueError as exc:
            return f"{name} {exc}"
        hist += joint_histogram(ref, pred)
    bad_ref = invalid_values(hist.sum(axis=1), chart)
    if bad_ref:
        raise ScoringError(f"{ref_where} {chart_values_message(chart, bad_ref)}")
    bad_pred = invalid_values(hist.sum(axis=0), chart)
    if bad_pred:
        return f"{name} {chart_values_message(chart, bad_pred)}"
    accumulator.add_histogram(scene.scene_id, chart, hist)
    return None


def _progress(scene_ids: list[str], show: bool):
    """The scene ids, wrapped in a tqdm bar when `show` (tqdm is only needed then)."""
    if not show:
        return scene_ids
    from tqdm.auto import tqdm

    return tqdm(scene_ids, desc="scoring", unit="scene")
