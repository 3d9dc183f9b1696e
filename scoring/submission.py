"""Structural checks of a submission file against the reference, before any pixel is read.

A submission (`upload_package.nc`) holds, for each reference scene and chart, a 2-D integer
variable `<scene_id>_<chart>` with the scene's shape. Every problem found here is reported in one
error, so a participant sees all missing or misshapen variables at once; extra variables only
give a warning.
"""

from __future__ import annotations

from kit.charts import CHARTS, submission_variable
from scoring.chart_reader import FileContents
from scoring.reference import Reference

#: At most this many names are spelled out in a warning about extra variables.
LISTED_NAMES = 10


def structural_problems(contents: FileContents, reference: Reference) -> list[str]:
    """Missing variables (all of them), wrong dimensionality, shape or type, one string each."""
    problems = []
    missing = []
    for scene_id in reference.scene_ids:
        shape = reference.scenes[scene_id].shape
        for chart in CHARTS:
            name = submission_variable(scene_id, chart)
            if name not in contents.shapes:
                missing.append(name)
                continue
            found, dtype = contents.shapes[name], contents.dtypes[name]
            if dtype is str or getattr(dtype, "kind", "O") not in "biuf":
                problems.append(f"{name} has non-numeric type {dtype}")
            elif len(found) != 2:
                problems.append(f"{name} has {len(found)} dimensions, expected 2")
            elif found != tuple(shape):
                problems.append(f"{name} has shape {found}, expected {shape}")
    if missing:
        problems.insert(0, f"missing {len(missing)} variables: {', '.join(missing)}")
    return problems


def extra_variables_warning(contents: FileContents, reference: Reference) -> str | None:
    """Warning text naming variables that are not scored, or None if there are none."""
    expected = {submission_variable(s, c) for s in reference.scene_ids for c in CHARTS}
    extra = sorted(set(contents.shapes) - expected - contents.dimensions)
    if not extra:
        return None
    shown = ", ".join(extra[:LISTED_NAMES]) + (" ..." if len(extra) > LISTED_NAMES else "")
    return f"{len(extra)} extra variables are ignored: {shown}"
