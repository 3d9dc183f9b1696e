"""AutoICE submission scorer and leaderboard. Depends only on numpy, netCDF4 and `kit.charts`
(never torch), so organisers can run it on a bare scoring machine; with h5py and `deflate`
(libdeflate) installed it reads compressed files about four times faster, and with OpenCV it
counts faster (both optional, same scores).

Main entry points:

- `score_submission(submission, reference) -> Report`: validate and score an
  `upload_package.nc` against reference charts; `Report.combined` and `Report.charts` are in
  percent, unrounded (`*_rounded` as published), with `per_scene` and per-class details.
- `ScoreAccumulator`: the one implementation of the metric, for in-memory arrays
  (`update(scene_id, chart, pred, ref)`, then `report()`), used by training validation.
- `find_reference(path)`: locate reference charts (scene folders of either layout, or one file).
- `Leaderboard`: the SQLite leaderboard (`scoring.leaderboard`).
"""

from scoring.errors import ScoringError
from scoring.leaderboard import Leaderboard
from scoring.metrics import ScoreAccumulator
from scoring.reference import Reference, find_reference
from scoring.report import ChartResult, ClassScore, Report
from scoring.scorer import ScoredSubmission, score_all_scenes, score_submission

__all__ = [
    "ChartResult",
    "ClassScore",
    "Leaderboard",
    "Reference",
    "Report",
    "ScoreAccumulator",
    "ScoredSubmission",
    "ScoringError",
    "find_reference",
    "score_all_scenes",
    "score_submission",
]
