"""A Codabench competition bundle: scoring program, reference charts and `competition.yaml`.

`build_bundle(reference, out)` writes one zip to upload on Codabench ("Create competition" ->
"Upload bundle"):

- `competition.yaml` (Codabench format version 2): one phase, one task, a leaderboard whose
  visible columns are the public-split scores and whose hidden columns are the private ones,
  then the calibration columns of an uploaded uncertainty file (`CALIBRATION_KEYS`, public
  visible, private hidden; empty for uploads without one, whose scores.json leaves the keys
  out; they do not rank);
- `pages/`: overview, evaluation and terms pages;
- `scoring_program/`: this `scoring` package plus the kit modules it imports (`KIT_MODULES`),
  run by `score.py` (which calls `scoring.codabench`), described by `metadata.yaml`;
- `reference_data/`: every reference chart in one netCDF of `<scene_id>_<chart>` variables
  (copied in row blocks) and `split.csv`, the public/private split.

The Docker image that runs the scoring program needs Python >= 3.8 with numpy, netCDF4 and
h5py (h5py checks that a netCDF-4 upload holds its own data; without it only netCDF-3 uploads
score); deflate and opencv-python-headless make it faster where installed. The reliability
diagram of the results page (`detailed_results.html`) needs matplotlib in the image; without
it the page says so and keeps the diagram's numbers as tables.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
import zipfile
from pathlib import Path

import netCDF4
import yaml

from kit.atomic import atomic_path
from kit.charts import CHARTS, SUBMISSION_FILE_NAME, submission_variable
from scoring.codabench.program import SPLIT_FILE_NAME, UNCERTAINTY_FILE_NAME
from scoring.files.chart_reader import open_chart_file, read_rows, row_blocks
from scoring.files.reference import Reference, find_reference
from scoring.leaderboard.board import DEFAULT_DAILY_LIMIT, check_daily_limit
from scoring.leaderboard.calibration_columns import CALIBRATION_KEYS, calibration_label
from scoring.leaderboard.ranking import SCORE_KEYS
from scoring.splits import resolve_split

DEFAULT_DOCKER_IMAGE = "codalab/codalab-legacy:py39"
REFERENCE_FILE_NAME = "reference_charts.nc"

SCORE_SCRIPT = '''"""Codabench entry: score INPUT_DIR/res against INPUT_DIR/ref into OUTPUT_DIR."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scoring.codabench.program import main  # noqa: E402

sys.exit(main())
'''

KIT_INIT = '"""The ground floor of AutoICE Kit that the scoring program imports."""\n'
#: The kit modules the `scoring` package imports (the chart schema, errors, the file writer).
KIT_MODULES = ("charts.py", "errors.py", "atomic.py", "registry.py")

OVERVIEW = """# {title}

Predict sea-ice concentration (SIC), stage of development (SOD) and floe size (FLOE) charts
from Sentinel-1 SAR scenes of the AutoICE challenge.
"""

EVALUATION = f"""# Evaluation

Upload a zip holding one netCDF file, `{SUBMISSION_FILE_NAME}`, with a 2-D integer variable
`<scene_id>_<chart>` for every test scene and chart (SIC, SOD, FLOE), at the scene's full 80 m
shape. 255 means "no prediction" and counts as wrong; so does any other integer outside the
chart's classes (SIC 0-10, SOD 0-5, FLOE 0-6).

Per chart, pixels where the reference is 255 are dropped and the pixels of all scenes pooled.
SIC is scored by R2 on the class values, SOD and FLOE by support-weighted F1. Scores are in
percent, rounded to 3 decimals; the combined score is (2 SIC + 2 SOD + 1 FLOE) / 5 of the
rounded chart scores, rounded again, as in the AutoICE challenge. The leaderboard shows the
public half of the test scenes; the final ranking uses the private half.

Optionally, put the uncertainty file written by `autoice predict --uncertainty` in the zip
beside the submission, named `{UNCERTAINTY_FILE_NAME}`: per scene and chart the confidence (0-100) of
the submitted class, 255 exactly where the submission has 255, and the SIC 90 % interval
(`_SIC_low` <= class <= `_SIC_high`). It is scored with the submission: the leaderboard shows
its ECE per chart and the SIC interval's coverage (they do not change the ranking), and each
submission's detailed results page its reliability diagram. A bad uncertainty file fails the
submission.
"""

TERMS = """# Terms

Submissions must be produced by the team's own method. The organisers may publish the
final leaderboard.
"""


def competition_config(title: str, docker_image: str, daily_limit: int) -> dict:
    """The `competition.yaml` content as a dictionary."""
    columns = [
        {"title": f"{key} (public)", "key": key, "index": i, "sorting": "desc", "precision": 3}
        for i, key in enumerate(SCORE_KEYS)
    ]
    columns += [
        {"title": f"{key} (private)", "key": f"private_{key}", "index": len(SCORE_KEYS) + i,
         "sorting": "desc", "precision": 3, "hidden": True}
        for i, key in enumerate(SCORE_KEYS)
    ]  # fmt: skip
    # The calibration of an uploaded uncertainty file: shown, never ranking (lower ECE is
    # better; coverage has no better direction, its ideal is 0.9: listed as "desc").
    for prefix, hidden in (("", False), ("private_", True)):
        for key in CALIBRATION_KEYS:
            column = {"title": f"{calibration_label(key)} ({'private' if hidden else 'public'})",
                      "key": f"{prefix}{key}", "index": len(columns),
                      "sorting": "asc" if key.startswith("ECE") else "desc", "precision": 4}  # fmt: skip
            if hidden:
                column["hidden"] = True
            columns.append(column)
    return {
        "version": 2,
        "title": title,
        "description": "Automated sea-ice charting from Sentinel-1 SAR (AutoICE).",
        "docker_image": docker_image,
        "registration_auto_approve": True,
        "terms": "pages/terms.md",
        "pages": [
            {"title": "Overview", "file": "pages/overview.md"},
            {"title": "Evaluation", "file": "pages/evaluation.md"},
        ],
        "phases": [
            {
                "index": 0,
                "name": "Test",
                "description": "Score test-scene charts.",
                "start": "2026-01-01",
                "max_submissions_per_day": daily_limit,
                "tasks": [0],
            }
        ],
        "tasks": [
            {
                "index": 0,
                "name": "AutoICE charts",
                "description": "SIC, SOD and FLOE charts of the test scenes.",
                "scoring_program": "scoring_program",
                "reference_data": "reference_data",
            }
        ],
        "leaderboards": [{"index": 0, "title": "Results", "key": "main", "columns": columns}],
    }


def write_reference_file(reference: Reference, path: str | os.PathLike) -> None:
    """All reference charts in one netCDF of `<scene_id>_<chart>` uint8 variables."""
    with netCDF4.Dataset(path, "w", format="NETCDF4") as out:
        for scene_id in reference.scene_ids:
            scene = reference.scenes[scene_id]
            dims = (f"{scene_id}_lines", f"{scene_id}_samples")
            for dim, size in zip(dims, scene.shape, strict=True):
                out.createDimension(dim, size)
            with open_chart_file(scene.path, "reference") as source:
                for chart in CHARTS:
                    variable = source.variables[scene.variables[chart]]
                    target = out.createVariable(
                        submission_variable(scene_id, chart), "u1", dims, zlib=True, complevel=4
                    )
                    for rows in row_blocks(variable):
                        target[rows, :] = read_rows(variable, rows, f"reference {scene.path}")


def build_bundle(
    reference: str | os.PathLike,
    out: str | os.PathLike,
    *,
    split_file: str | os.PathLike | None = None,
    title: str = "AutoICE sea-ice charting",
    docker_image: str = DEFAULT_DOCKER_IMAGE,
    daily_limit: int = DEFAULT_DAILY_LIMIT,
) -> Path:
    """Write the competition bundle zip to `out` (atomically) and return its path.

    `daily_limit`: Codabench's `max_submissions_per_day`, 1 to `MAX_DAILY_LIMIT`.
    """
    check_daily_limit(daily_limit)
    found = find_reference(reference)
    split = resolve_split(found.scene_ids, split_file)
    config = competition_config(title, docker_image, daily_limit)
    out = Path(out)
    with tempfile.TemporaryDirectory() as tmp, atomic_path(out) as tmp_zip:
        charts_file = Path(tmp) / REFERENCE_FILE_NAME
        write_reference_file(found, charts_file)
        with zipfile.ZipFile(tmp_zip, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
            bundle.writestr("competition.yaml", yaml.safe_dump(config, sort_keys=False))
            bundle.writestr("pages/overview.md", OVERVIEW.format(title=title))
            bundle.writestr("pages/evaluation.md", EVALUATION)
            bundle.writestr("pages/terms.md", TERMS)
            _add_scoring_program(bundle)
            bundle.write(charts_file, f"reference_data/{REFERENCE_FILE_NAME}")
            bundle.writestr(f"reference_data/{SPLIT_FILE_NAME}", _split_csv(split))
    return out


def _add_scoring_program(bundle: zipfile.ZipFile) -> None:
    package = Path(__file__).resolve().parents[1]
    bundle.writestr(
        "scoring_program/metadata.yaml",
        "command: python3 /app/program/score.py /app/input /app/output\n",
    )
    bundle.writestr("scoring_program/score.py", SCORE_SCRIPT)
    bundle.writestr("scoring_program/kit/__init__.py", KIT_INIT)
    for name in KIT_MODULES:
        bundle.write(package.parent / "kit" / name, f"scoring_program/kit/{name}")
    for source in sorted(package.rglob("*.py")):
        bundle.write(source, f"scoring_program/scoring/{source.relative_to(package).as_posix()}")


def _split_csv(split: dict[str, str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["scene_id", "split"])
    writer.writerows(sorted(split.items()))
    return out.getvalue()
