"""The pieces of a scene file that both readers build on: the ready-to-train reader
(`kit.data.scene`, which imports them from here and re-exports them) and the raw-release
converter (`kit.data.raw`, which `kit.data.scene.open_scene` calls). Scene names, the variables
that need the geolocation grid, and reading one variable with an error naming the file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import datetime

import numpy as np
import xarray as xr

from kit import charts
from kit.errors import KitError


def parse_scene_id(name: str) -> tuple[str, str, datetime]:
    """(scene_id, ice_service, acquisition time) from a scene id or file name, ready-to-train
    (`20180124T194759_dmi_prep.nc`) or raw (`S1A_EW_GRDM_1SDH_<start>_..._icechart_<service>_...`).

    >>> parse_scene_id("20180124T194759_dmi_prep.nc")[0]
    '20180124T194759_dmi'
    """
    base = os.path.basename(str(name))
    raw = charts.RAW_NAME_PATTERN.match(base)
    if raw is not None:
        time, service = raw["start"], raw["service"]
    else:
        match = charts.SCENE_ID_PATTERN.search(base)
        if match is None:
            raise KitError(f"{name}: not an AutoICE scene name (expected YYYYmmddTHHMMSS_cis|dmi)")
        time, service = match["time"], match["service"]
    when = datetime.strptime(time, "%Y%m%dT%H%M%S")
    return f"{time}_{service}", service, when


def needs_geolocation(variables: Iterable[str]) -> bool:
    """Whether the configured variables use the lat/lon tie-point grid."""
    return any(v in ("aux_lat", "aux_lon") for v in variables)


def read_variable(ds: xr.Dataset, name: str, path=None, rows: slice | None = None) -> np.ndarray:
    """Load one variable into memory, naming the file if its data turns out to be unreadable.

    With `rows`, only that slice of its first dimension is read (a row block of a 2-D grid).
    """
    try:
        variable = ds[name] if rows is None else ds[name].isel({ds[name].dims[0]: rows})
        return np.asarray(variable.values)
    except Exception as exc:
        where = path or ds.encoding.get("source", "scene")
        raise KitError(f"{where}: cannot read variable {name} ({exc})") from exc
