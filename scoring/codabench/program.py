"""Codabench / CodaLab scoring-program entry: `python -m scoring.codabench INPUT_DIR OUTPUT_DIR`.

The platform unzips the participant's upload into `INPUT_DIR/res` and the reference bundle into
`INPUT_DIR/ref`. We score the one netCDF file found in `res` (preferably `upload_package.nc`)
against `ref` and write `OUTPUT_DIR/scores.json` (keys `combined`, `SIC`, `SOD`, `FLOE`),
`OUTPUT_DIR/scores.txt` (the same as `key: value` lines) and `OUTPUT_DIR/report.json`. The
scores are the challenge's published figures (`Report.charts_rounded`, `Report.combined_rounded`).

If `ref` holds a split file (`split.csv`), the plain keys are the public split's scores and the
private scores are written as `private_<key>` (hidden columns of the leaderboard), and the
detailed report covers only public scenes, so nothing about private scenes leaks to
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
from scoring.errors import ScoringError
from scoring.leaderboard.ranking import SCORE_KEYS
from scoring.metrics.report import Report
from scoring.scorer import score_all_scenes
from scoring.splits import PRIVATE, PUBLIC, resolve_split, scenes_of

#: Name of the split file inside the reference bundle.
SPLIT_FILE_NAME = "split.csv"


def find_submission_file(folder: Path) -> Path:
    """The submission netCDF inside an unzipped upload (`upload_package.nc` preferred)."""
    if not folder.is_dir():
        raise ScoringError(f"submission folder {folder}: no such folder")
    candidates = sorted(folder.rglob("*.nc"))
    preferred = [p for p in candidates if p.name == SUBMISSION_FILE_NAME]
    if len(preferred) == 1:
        return _inside(preferred[0], folder)
    if len(candidates) == 1:
        return _inside(candidates[0], folder)
    found = ", ".join(p.name for p in candidates) or "none"
    raise ScoringError(
        f"submission folder {folder}: expected one netCDF file ({SUBMISSION_FILE_NAME}), found {found}"
    )


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
    reference_dir = input_dir / "ref"
    scored = score_all_scenes(submission, reference_dir)
    split_file = reference_dir / SPLIT_FILE_NAME
    if split_file.is_file():
        split = resolve_split(scored.reference.scene_ids, split_file)
        shown = scored.report(scenes_of(split, PUBLIC), PUBLIC)
        hidden = scored.report(scenes_of(split, PRIVATE), PRIVATE)
        scores = {**_scores(shown), **{f"private_{k}": v for k, v in _scores(hidden).items()}}
    else:
        shown = scored.report()
        scores = _scores(shown)
    write_json_atomic(output_dir / "scores.json", scores)
    text = "".join(f"{key}: {'NaN' if v is None else repr(v)}\n" for key, v in scores.items())
    write_atomic(output_dir / "scores.txt", text)
    write_atomic(output_dir / "report.json", shown.to_json() + "\n")
    return scores


def _scores(report: Report) -> dict[str, float | None]:
    """The challenge's figures of `report` (None where undefined), keyed as on the leaderboard."""
    values = {**report.charts_rounded, "combined": report.combined_rounded}
    return {key: None if math.isnan(values[key]) else values[key] for key in SCORE_KEYS}


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
