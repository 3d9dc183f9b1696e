"""Structural checks of a submission file against the reference, before any pixel is read.

A submission (`upload_package.nc`) holds, for each reference scene and chart, a 2-D integer
variable `<scene_id>_<chart>` with the scene's shape. Every problem found here is reported in one
error, so a participant sees all missing or misshapen variables at once; extra variables only
give a warning.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kit.charts import CHARTS, submission_variable
from scoring.files.reference import Reference

if TYPE_CHECKING:
    import netCDF4

#: At most this many names are spelled out in a warning about extra variables.
LISTED_NAMES = 10


def structural_problems(dataset: netCDF4.Dataset, reference: Reference) -> list[str]:
    """Missing variables (all of them), wrong dimensionality, shape or type, one string each."""
    problems = []
    missing = []
    for scene_id in reference.scene_ids:
        shape = reference.scenes[scene_id].shape
        for chart in CHARTS:
            name = submission_variable(scene_id, chart)
            variable = dataset.variables.get(name)
            if variable is None:
                missing.append(name)
                continue
            if variable.dtype == str or getattr(variable.dtype, "kind", "O") not in "biuf":
                problems.append(
                    f"{name} has type {_type_name(dataset, name, variable)}, not a netCDF integer or float type"
                )
            elif len(variable.shape) != 2:
                problems.append(f"{name} has {len(variable.shape)} dimensions, expected 2")
            elif tuple(variable.shape) != tuple(shape):
                problems.append(f"{name} has shape {tuple(variable.shape)}, expected {shape}")
    if missing:
        problems.insert(0, f"missing {len(missing)} variables: {', '.join(missing)}")
    return problems


def _type_name(dataset: netCDF4.Dataset, name: str, variable) -> str:
    """The variable's real type: netCDF-C reads HDF5 types it does not know (float16) as
    variable-length strings, so ask HDF5 itself."""
    if variable.dtype is not str:
        return str(variable.dtype)
    try:
        import h5py

        with h5py.File(dataset.filepath(), "r") as f:
            return str(f[name].dtype)
    except (OSError, KeyError, ValueError):
        return "string"


def extra_variables_warning(dataset: netCDF4.Dataset, reference: Reference) -> str | None:
    """Warning text naming variables that are not scored, or None if there are none."""
    expected = {submission_variable(s, c) for s in reference.scene_ids for c in CHARTS}
    extra = sorted(set(dataset.variables) - expected - set(dataset.dimensions))
    if not extra:
        return None
    shown = ", ".join(extra[:LISTED_NAMES]) + (" ..." if len(extra) > LISTED_NAMES else "")
    return f"{len(extra)} extra variables are ignored: {shown}"
