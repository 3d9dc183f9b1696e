"""Raw-release scenes seen as ready-to-train ones, so the rest of the kit reads both alike.

A raw AI4Arctic file (`S1?_EW_GRDM_..._icechart_<service>_....nc`) differs from a ready-to-train
one: 40 m pixels; SAR in dB with NaN; charts as `polygon_icechart` ids plus the `polygon_codes`
egg-code table; AMSR2/ERA5 on a 2 km grid of one cell per 50 pixels; geolocation as a flat list
of tie points (`sar_grid_points`) with their line/sample positions. `ready_from_raw` builds the
80 m view in memory: full-grid inputs averaged over 2 x 2 blocks (ignoring NaN), charts
converted per polygon and then downscaled by their block's most frequent valid class, the
2 km grid kept as is, charts masked where the SAR has no data, the tie points arranged as a (line, sample) grid with 80 m positions.
The values stay physical (the `physical` convention).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import xarray as xr

from kit import charts
from kit.data import icechart
from kit.data.regrid import block_any, block_chart, block_mean
from kit.data.scene_files import needs_geolocation, parse_scene_id, read_variable
from kit.errors import KitError

#: 40 m pixels per 80 m pixel side.
FACTOR = charts.PIXEL_SPACING_M // charts.RAW_PIXEL_SPACING_M


def ready_from_raw(ds: xr.Dataset, path: str | os.PathLike, variables) -> xr.Dataset:
    """The 80 m ready-to-train view of an open raw scene, holding the wanted variables."""
    variables = list(variables)
    scene_id, service, _ = parse_scene_id(Path(path).name)
    data: dict[str, tuple] = {}
    for name in (v for v in variables if v in charts.SCENE_VARIABLES and v in ds):
        var = ds[name]
        if name in charts.FULL_GRID_VARIABLES:
            values = block_mean(read_variable(ds, name, path), FACTOR)
            data[name] = (charts.SAR_DIMS, values, dict(var.attrs))
        else:
            values = read_variable(ds, name, path).astype(np.float32)
            data[name] = (charts.GRID_2KM_DIMS, values, dict(var.attrs))
    if icechart.POLYGON_ICECHART in ds and icechart.POLYGON_CODES in ds:
        converted = icechart.convert_polygon_icechart(ds)
        # Mask alignment, as in the ready-to-train release: no label where the SAR has no data.
        sar = charts.SAR_VARIABLES[0]
        no_sar = (
            ~block_any(np.isfinite(read_variable(ds, sar, path)), FACTOR) if sar in ds else None
        )
        for chart in charts.CHARTS:
            values = block_chart(np.asarray(converted[chart].values), FACTOR, "mode")
            if no_sar is not None:
                values[no_sar] = charts.MASK
            attrs = {charts.CHART_FILL_ATTRIBUTE: charts.MASK}
            data[chart] = (charts.SAR_DIMS, values, attrs)
    if needs_geolocation(variables):
        data.update(_tie_point_grid(ds, path))
    out = xr.Dataset({k: xr.Variable(dims, v, attrs) for k, (dims, v, attrs) in data.items()})
    out.attrs = {
        "scene_id": scene_id + charts.PREP_SUFFIX,
        "original_id": Path(path).name,
        "ice_service": service,
        "pixel_spacing": charts.PIXEL_SPACING_M,
        "converted_from": "raw release (kit.data.raw)",
    }
    out.encoding["source"] = str(path)
    return out


def _tie_point_grid(ds: xr.Dataset, path) -> dict[str, tuple]:
    """Flat raw tie points -> (line, sample) grids of lat, lon and 80 m positions."""
    names = (charts.RAW_GEO_LINE, charts.RAW_GEO_SAMPLE, charts.RAW_LATITUDE, charts.RAW_LONGITUDE)
    missing = [n for n in names if n not in ds]
    if missing:
        raise KitError(f"{path}: missing variable(s) {', '.join(missing)}")
    line, sample, lat, lon = (read_variable(ds, n, path).astype(np.float64).ravel() for n in names)
    lines, samples = np.unique(line), np.unique(sample)
    if lines.size * samples.size != line.size:
        raise KitError(
            f"{path}: {charts.RAW_GEO_POINTS_DIM} is not a full grid "
            f"({lines.size} lines x {samples.size} samples != {line.size} points)"
        )
    rows = np.searchsorted(lines, line)
    cols = np.searchsorted(samples, sample)
    grids = {}
    for name, values in ((charts.LATITUDE, lat), (charts.LONGITUDE, lon)):
        grid = np.full((lines.size, samples.size), np.nan)
        grid[rows, cols] = values
        grids[name] = (charts.GEO_GRID_DIMS, grid, {})
    # 40 m pixel centre i lies at 80 m coordinate (i + 0.5) / 2 - 0.5.
    line80, sample80 = (lines + 0.5) / FACTOR - 0.5, (samples + 0.5) / FACTOR - 0.5
    grids[charts.GEO_LINE] = (charts.GEO_GRID_DIMS, np.repeat(line80[:, None], samples.size, 1), {})
    grids[charts.GEO_SAMPLE] = (
        charts.GEO_GRID_DIMS,
        np.repeat(sample80[None, :], lines.size, 0),
        {},
    )
    return grids
