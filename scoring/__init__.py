"""AutoICE submission scorer and leaderboard. Depends only on numpy, netCDF4, h5py and
`kit.charts` (never torch), so organisers can run it on a bare scoring machine. h5py checks a
netCDF-4 file's links, storage and chunking before anything reads it (`scoring.files.storage`;
without h5py only netCDF-3 files can be scored) and reads compressed chunks raw: with `deflate`
(libdeflate) installed that is about four times faster, and with OpenCV counting is faster
(both optional, same scores).

Main entry points:

- `score_submission(submission, reference) -> Report`: validate and score an
  `upload_package.nc` against reference charts; `Report.combined` and `Report.charts` are in
  percent, unrounded (`*_rounded` as the challenge published them), with `per_scene` and
  per-class details. Predicted integers outside a chart's classes score as wrong, with a
  warning (`strict=True` rejects them).
- `ScoreAccumulator`: the one implementation of the metric, for in-memory arrays
  (`update(scene_id, chart, pred, ref)`, then `report()`), used by training validation.
- `score_submission(..., ci=True, by=["service"])`: bootstrap intervals over scenes and
  breakdowns; `compare_submissions(a, b, reference)`: paired comparison (`scoring.statistics`).
- `score_submission(..., uncertainty="uncertainty.nc")`: also the calibration of the
  uncertainty file beside the submission (ECE, reliability, risk-coverage, SIC interval
  coverage; `scoring.calibration`), in `report.statistics["calibration"]`.
- `find_reference(path)`: locate reference charts (scene folders of either layout, or one file).
- `Leaderboard`: the SQLite leaderboard (`scoring.leaderboard`).
- `write_submission(path, {scene_id: {chart: array}})`, `SubmissionWriter`: write an
  `upload_package.nc` from any framework's predictions, without torch.
"""

import importlib

#: Public name -> the module defining it. Imported on first use, so that a command such as
#: `autoice score` loads only what it needs (and starts its worker processes sooner).
_EXPORTS = {
    "ChartResult": "scoring.metrics.report",
    "ClassScore": "scoring.metrics.report",
    "Leaderboard": "scoring.leaderboard.board",
    "Reference": "scoring.files.reference",
    "Report": "scoring.metrics.report",
    "ScoreAccumulator": "scoring.metrics.challenge",
    "ScoredSubmission": "scoring.scorer",
    "ScoringError": "scoring.errors",
    "SubmissionWriter": "scoring.files.writer",
    "compare_submissions": "scoring.scorer",
    "find_reference": "scoring.files.reference",
    "score_all_scenes": "scoring.scorer",
    "score_submission": "scoring.scorer",
    "write_submission": "scoring.files.writer",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'scoring' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
