"""The scenes a loader is given: file paths or a `discover()` table, checked up front."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable

import pandas as pd

from kit import charts
from kit.data.scene import check_netcdf_file, is_raw, needs_geolocation, open_netcdf
from kit.errors import KitError


def scene_sources(scenes) -> list[tuple[str, str | None]]:
    """(path, reference_path or None) of each scene from paths or a `discover()` table."""
    if isinstance(scenes, pd.DataFrame):
        if "path" not in scenes.columns:
            raise KitError("scene table has no 'path' column (use kit.data.discover)")
        refs = scenes["reference_path"] if "reference_path" in scenes.columns else None
        return [
            (str(p), None if refs is None or pd.isna(refs.iloc[i]) else str(refs.iloc[i]))
            for i, p in enumerate(scenes["path"])
        ]
    if isinstance(scenes, (str, os.PathLike)):
        scenes = [scenes]
    sources = [(str(p), None) for p in scenes]
    if not sources:
        raise KitError("no scenes given")
    return sources


def missing_variables(
    sources: list[tuple[str, str | None]], variables: Iterable[str]
) -> list[tuple[str, list[str]]]:
    """The configured variables that each scene lacks, read from the file headers only.

    Parameters
    ----------
    sources : list of (str, str or None)
        (path, reference_path) of each scene, as `scene_sources` gives them.
    variables : iterable of str
        Configured input variables; ``aux_time`` needs nothing, ``aux_lat`` / ``aux_lon`` need
        the geolocation grid (raw-release files: their tie points).

    Returns
    -------
    list of (str, list of str)
        (scene path, the variables it lacks in the configured order) of the scenes that lack
        some, in the order given. A file is read once per process while it is unchanged (same
        size and time).

    Raises
    ------
    KitError
        If a scene file is missing, not netCDF or unreadable.

    Examples
    --------
    >>> import tempfile
    >>> import xarray as xr
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "20180124T194759_dmi_prep.nc")
    ...     xr.Dataset({"nersc_sar_primary": (("sar_lines", "sar_samples"), [[1.0]])}).to_netcdf(path)
    ...     found = missing_variables([(path, None)], ["nersc_sar_primary", "btemp_36_5h", "aux_time"])
    >>> [(os.path.basename(p), names) for p, names in found]
    [('20180124T194759_dmi_prep.nc', ['btemp_36_5h'])]
    """
    variables = list(variables)
    wanted = tuple(v for v in variables if v not in charts.AUX_VARIABLES)
    geo = needs_geolocation(variables)
    found = []
    for path, _ in sources:
        stat = check_netcdf_file(path).stat()
        missing = _missing_in(str(path), stat.st_mtime_ns, stat.st_size, wanted, geo)
        if missing:
            found.append((str(path), list(missing)))
    return found


@functools.lru_cache(maxsize=4096)
def _missing_in(
    path: str, mtime_ns: int, size: int, wanted: tuple[str, ...], geo: bool
) -> tuple[str, ...]:
    """The `wanted` variables (and the geolocation grid, if `geo`) that the file lacks; cached
    by the file's size and time, so that checking the same scenes again costs nothing."""
    ds = open_netcdf(path)
    try:
        grid = (charts.RAW_LATITUDE, charts.RAW_LONGITUDE) if is_raw(ds) else (charts.LATITUDE, charts.LONGITUDE)  # fmt: skip
        needed = wanted + (grid if geo else ())
        return tuple(v for v in needed if v not in ds)
    finally:
        ds.close()


def check_variables(sources: list[tuple[str, str | None]], variables: Iterable[str]) -> None:
    """Fail before any work if a scene lacks one of `variables` (all such scenes are named)."""
    problems = [
        f"{path}: missing variable(s) {', '.join(missing)}"
        for path, missing in missing_variables(sources, variables)
    ]
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")  # fmt: skip
        raise KitError(f"{len(problems)} scene(s) lack configured variables: {shown}")
