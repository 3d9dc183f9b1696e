"""The scenes a loader is given: file paths or a `discover()` table, checked up front."""

from __future__ import annotations

import os
from collections.abc import Iterable

import pandas as pd

from kit import charts
from kit.data.scene import is_raw, needs_geolocation, open_netcdf
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


def check_variables(sources: list[tuple[str, str | None]], variables: Iterable[str]) -> None:
    """Fail before any work if a scene lacks one of `variables` (all such scenes are named)."""
    wanted = [v for v in variables if v not in charts.AUX_VARIABLES]
    problems = []
    for path, _ in sources:
        ds = open_netcdf(path)
        try:
            geo = (charts.RAW_LATITUDE, charts.RAW_LONGITUDE) if is_raw(ds) else (charts.LATITUDE, charts.LONGITUDE)  # fmt: skip
            needed = wanted + (list(geo) if needs_geolocation(variables) else [])
            missing = [v for v in needed if v not in ds]
        finally:
            ds.close()
        if missing:
            problems.append(f"{path}: missing variable(s) {', '.join(missing)}")
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")  # fmt: skip
        raise KitError(f"{len(problems)} scene(s) lack configured variables: {shown}")
