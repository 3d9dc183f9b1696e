"""Codabench / CodaLab scoring-program entry: `python -m scoring.codabench INPUT_DIR OUTPUT_DIR`.

The platform unzips the participant's upload into `INPUT_DIR/res` and the reference bundle into
`INPUT_DIR/ref`. We score the one netCDF file found in `res` (preferably `upload_package.nc`)
against `ref` and write `OUTPUT_DIR/scores.json` (keys `combined`, `SIC`, `SOD`, `FLOE`),
`OUTPUT_DIR/scores.txt` (the same as `key: value` lines), `OUTPUT_DIR/report.json` and
`OUTPUT_DIR/detailed_results.html` (`scoring.codabench.details`: the scores with 95 % bootstrap
intervals over scenes, with `Bootstrap()`'s settings as `autoice score --ci` has them, 2000
resamples and seed 0; the scores by ice service; and the calibration below). The scores are
the challenge's published figures (`Report.charts_rounded`, `Report.combined_rounded`).

An upload may hold, beside the submission, its uncertainty file (`autoice predict
--uncertainty`) named `uncertainty.nc` (`UNCERTAINTY_FILE_NAME`; anywhere in the zip, at most
one). It is checked like the submission and scored with it: scores.json gains the calibration
columns `ECE_SIC`, `ECE_SOD`, `ECE_FLOE`, `SIC_coverage` and `SIC_width`
(`scoring.leaderboard.calibration_columns`), and the results page its calibration and
reliability diagram. Without an uncertainty file (or where a figure is undefined) those keys
are left out, not written as null: Codabench stores a score for each key of scores.json that
names a column and skips the columns it does not find, so the cells stay empty. A bad
uncertainty file fails the submission like a bad submission does.

If `ref` holds a split file (`split.csv`), the plain keys are the public split's scores and the
private scores (and calibration) are written as `private_<key>` (hidden columns of the
leaderboard), and the detailed report and results page cover only public scenes, so nothing about private scenes leaks to
participants. An invalid submission prints one line to stderr and exits with status 2, which
marks it failed on the platform. The submission file must lie inside `res` once symbolic links
are resolved (an upload cannot point at the reference), and is checked like any submission
(`scoring.files.storage`).
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

from kit.atomic import write_atomic, write_json_atomic
from kit.charts import SUBMISSION_FILE_NAME
from scoring.codabench.details import detailed_page
from scoring.errors import ScoringError
from scoring.leaderboard.calibration_columns import calibration_figures
from scoring.leaderboard.ranking import SCORE_KEYS
from scoring.metrics.report import Report
from scoring.scorer import score_all_scenes
from scoring.splits import PRIVATE, PUBLIC, resolve_split, scenes_of
from scoring.statistics import Bootstrap

#: Name of the split file inside the reference bundle.
SPLIT_FILE_NAME = "split.csv"
#: Name of the optional uncertainty file inside an upload.
UNCERTAINTY_FILE_NAME = "uncertainty.nc"
#: The per-submission results page.
DETAILS_FILE_NAME = "detailed_results.html"
#: The intervals of the results page: `autoice score --ci`'s defaults (2000 resamples, 95 %,
#: seed 0), so a participant reproduces them with `autoice score --ci --split public`.
DETAILS_BOOTSTRAP = Bootstrap()


def find_submission_file(folder: Path) -> Path:
    """The submission netCDF inside an unzipped upload (`upload_package.nc` preferred)."""
    if not folder.is_dir():
        raise ScoringError(f"submission folder {folder}: no such folder")
    candidates = [p for p in sorted(folder.rglob("*.nc")) if p.name != UNCERTAINTY_FILE_NAME]
    preferred = [p for p in candidates if p.name == SUBMISSION_FILE_NAME]
    if len(preferred) == 1:
        return _inside(preferred[0], folder)
    if len(candidates) == 1:
        return _inside(candidates[0], folder)
    found = ", ".join(p.name for p in candidates) or "none"
    raise ScoringError(
        f"submission folder {folder}: expected one netCDF file ({SUBMISSION_FILE_NAME}), found {found}"
    )


def find_uncertainty_file(folder: Path) -> Path | None:
    """The uncertainty file inside an unzipped upload (`UNCERTAINTY_FILE_NAME`), or None."""
    found = sorted(folder.rglob(UNCERTAINTY_FILE_NAME))
    if len(found) > 1:
        raise ScoringError(
            f"submission folder {folder}: {len(found)} files named {UNCERTAINTY_FILE_NAME}; "
            "upload at most one"
        )
    return _inside(found[0], folder) if found else None


def _inside(file: Path, folder: Path) -> Path:
    """`file`, if it resolves inside `folder` (an uploaded symbolic link could point anywhere)."""
    real, root = os.path.realpath(file), os.path.realpath(folder)
    if os.path.commonpath([real, root]) != root:
        raise ScoringError(f"submission {file}: a link to {real}, outside the upload; refused")
    return file


def score_codabench(input_dir: str | Path, output_dir: str | Path) -> dict[str, float | None]:
    """Score `input_dir/res` against `input_dir/ref`; write the outputs; return scores.json."""
    input_dir, output_dir = Path(input_dir), Path(output_dir)
    submission = find_submission_file(input_dir / "res")
    uncertainty = find_uncertainty_file(input_dir / "res")
    reference_dir = input_dir / "ref"
    scored = score_all_scenes(submission, reference_dir, uncertainty=uncertainty)
    if uncertainty is not None:  # reports name the file as uploaded, not where it lies
        scored.uncertainty_files = {"uncertainty": uncertainty.name, "probabilities": None}
    details = {"ci": DETAILS_BOOTSTRAP, "by": ("service",)}
    split_file = reference_dir / SPLIT_FILE_NAME
    hidden_scenes = 0
    if split_file.is_file():
        split = resolve_split(scored.reference.scene_ids, split_file)
        shown = scored.report(scenes_of(split, PUBLIC), PUBLIC, **details)
        hidden = scored.report(scenes_of(split, PRIVATE), PRIVATE)
        hidden_scenes = len(hidden.scenes)
        scores = {**_scores(shown), **{f"private_{k}": v for k, v in _scores(hidden).items()}}
    else:
        shown = scored.report(**details)
        scores = _scores(shown)
    page = detailed_page(
        shown,
        submission_name=submission.name,
        uncertainty_name=None if uncertainty is None else uncertainty.name,
        hidden_scenes=hidden_scenes,
    )
    write_json_atomic(output_dir / "scores.json", scores)
    text = "".join(f"{key}: {'NaN' if v is None else repr(v)}\n" for key, v in scores.items())
    write_atomic(output_dir / "scores.txt", text)
    write_atomic(output_dir / "report.json", shown.to_json() + "\n")
    write_atomic(output_dir / DETAILS_FILE_NAME, page)
    return scores


def _scores(report: Report) -> dict[str, float | None]:
    """The challenge's figures of `report` (None where undefined), keyed as on the leaderboard,
    then its calibration columns where defined (none without an uncertainty file)."""
    values = {**report.charts_rounded, "combined": report.combined_rounded}
    scores = {key: None if math.isnan(values[key]) else values[key] for key in SCORE_KEYS}
    calibration = {k: v for k, v in calibration_figures(report).items() if v is not None}
    return {**scores, **calibration}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m scoring.codabench INPUT_DIR OUTPUT_DIR", file=sys.stderr)
        return 2
    try:
        scores = score_codabench(argv[0], argv[1])
    except (ValueError, OSError) as exc:
        print(f"scoring failed: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(scores))
    return 0


if __name__ == "__main__":
    sys.exit(main())
