"""A scene laid out exactly as each published AI4Arctic file format has it (the writer's side).

`ready_to_train(scene, convention, with_charts)` gives the 29 variables of a real ready-to-train
file: SIC/SOD/FLOE (uint8, attribute `chart_fill_value` = 255), `sar_grid2d_latitude` /
`_longitude` (float64, dims (sample, line) as in the real files), the 4 full-grid inputs and
the 20 AMSR2/ERA5 inputs (float32) in `convention` (`standard`, `minmax` or `physical`, see
`kit.data.conventions`), the SAR and incidence angle carrying `variable_fill_value`,
`distance_map` saying in `units` and `long_name` what its values are in that convention (the
distance-to-land index, its z-scores, or it scaled to [-1, 1]; the other inputs state their
physical units), and the global attributes `scene_id` (with `_prep.nc`), `original_id`, `ice_service`, `flip`,
`pixel_spacing`.

`raw(scene, with_charts)` gives the raw release's layout: 40 m pixels (each 80 m pixel
repeated 2 x 2), SAR in dB with NaN, `polygon_icechart` + `polygon_codes`, AMSR2/ERA5 (float64)
on the 2 km grid of one cell per 50 pixels, and the tie points as a flat `sar_grid_points` list
with their 40 m line/sample positions. Reading it back (`kit.data.raw`) gives the 80 m scene.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from kit import charts
from kit.data.conventions import from_physical, stored_units
from kit.data.synthetic.spec import SyntheticScene

#: File conventions `autoice synth --convention` writes.
WRITE_CONVENTIONS: tuple[str, ...] = (*charts.INPUT_SCALINGS, "raw")
SYNTHETIC_NOTE = "AutoICE Kit synthetic scene (kit.data.synthetic), not real observations"


def ready_to_train(scene: SyntheticScene, convention: str, with_charts: bool) -> xr.Dataset:
    """The scene as a ready-to-train file in `convention` (see the module docstring)."""
    inputs = scene.inputs
    fill = charts.NO_DATA_VALUE[convention]
    data = {}
    if with_charts:
        data.update(chart_variables(scene))
    for name in (charts.LATITUDE, charts.LONGITUDE):
        data[name] = xr.Variable(charts.GEO_GRID_FILE_DIMS, inputs[name].values.T)
    for name in charts.SCENE_VARIABLES:
        var = inputs[name]
        attrs = {"units": charts.UNITS[name]}
        if name in charts.FILL_VALUE_VARIABLES:
            attrs[charts.VARIABLE_FILL_ATTRIBUTE] = np.float32(fill)
        if name == "distance_map":
            attrs = distance_map_attributes(convention)
        data[name] = xr.Variable(var.dims, from_physical(var.values, name, convention), attrs)
    return xr.Dataset(data, attrs={**inputs.attrs, "source": SYNTHETIC_NOTE})


def distance_map_attributes(convention: str) -> dict[str, str]:
    """`units` and `long_name` of `distance_map` in a ready-to-train file of `convention`: what
    the values are (the distance-to-land index, its z-scores, or it scaled to [-1, 1]).

    The units follow the rule `autoice inspect` shows (`kit.data.conventions.stored_units`);
    the long name says how to get the index back.

    Examples
    --------
    >>> standard = distance_map_attributes("standard")
    >>> standard["units"], standard["long_name"].split(": ")[1]
    ('z-score', '(index - 23.6277) / 14.9902')
    >>> distance_map_attributes("physical")
    {'units': 'index', 'long_name': 'distance-to-land index (0 = land, 1-41 further out), not km'}
    """
    low, high = charts.GLOBAL_MIN_MAX["distance_map"]
    index = f"distance-to-land index ({low:g} = land, {low + 1:g}-{high:g} further out)"
    if convention == "standard":
        mean, std = charts.GLOBAL_MEAN_STD["distance_map"]
        long_name = f"z-scores of the {index}: (index - {mean:.6g}) / {std:.6g}"
    elif convention == "minmax":
        long_name = f"{index} scaled to [-1, 1]: 2 * (index - {low:g}) / {high - low:g} - 1"
    else:
        long_name = f"{index}, not km"
    return {"units": stored_units("distance_map", convention), "long_name": long_name}


def chart_variables(scene: SyntheticScene) -> dict[str, xr.Variable]:
    """SIC, SOD, FLOE as uint8 variables with the `chart_fill_value` attribute."""
    attrs = {charts.CHART_FILL_ATTRIBUTE: np.uint8(charts.MASK)}
    return {
        c: xr.Variable(charts.SAR_DIMS, scene.charts[c].values.astype(np.uint8), attrs)
        for c in charts.CHARTS
    }


def raw(scene: SyntheticScene, with_charts: bool) -> xr.Dataset:
    """The scene in the raw release's layout (see the module docstring)."""
    inputs = scene.inputs
    factor = charts.PIXEL_SPACING_M // charts.RAW_PIXEL_SPACING_M
    data = {}
    for name in charts.FULL_GRID_VARIABLES:
        values = _repeat(inputs[name].values, factor).astype(np.float32)
        data[name] = xr.Variable(charts.SAR_DIMS, values, {"units": charts.UNITS[name]})
    for name in charts.COARSE_GRID_VARIABLES:
        values = inputs[name].values.astype(np.float64)
        data[name] = xr.Variable(charts.GRID_2KM_DIMS, values, {"units": charts.UNITS[name]})
    data.update(_flat_tie_points(inputs, factor))
    coords = {}
    if with_charts:
        ids = _repeat(scene.polygon_icechart.astype(np.float32), factor)
        data["polygon_icechart"] = xr.Variable(charts.SAR_DIMS, ids)
        coords["polygon_codes"] = xr.Variable(
            ("polygon_codes",), np.array(scene.polygon_codes, dtype=object)
        )
    attrs = {
        "title": "Training data file from the AI4Arctic raw layout (synthetic)",
        "geometric_info": "All variables are gridded to match the Sentinel-1 SAR geometry",
        "source": SYNTHETIC_NOTE,
    }
    return xr.Dataset(data, coords=coords, attrs=attrs)


def _repeat(values: np.ndarray, factor: int) -> np.ndarray:
    return np.repeat(np.repeat(values, factor, axis=0), factor, axis=1)


def _flat_tie_points(inputs: xr.Dataset, factor: int) -> dict[str, xr.Variable]:
    """The (line, sample) lat/lon grid as the raw release's flat tie-point list (40 m indices)."""
    lat = inputs[charts.LATITUDE].values
    h, w = (inputs.sizes[d] for d in charts.SAR_DIMS)
    lines80 = np.linspace(0, h - 1, lat.shape[0])
    samples80 = np.linspace(0, w - 1, lat.shape[1])
    # 80 m coordinate c lies at 40 m coordinate (c + 0.5) * 2 - 0.5.
    lines, samples = np.meshgrid(
        (lines80 + 0.5) * factor - 0.5, (samples80 + 0.5) * factor - 0.5, indexing="ij"
    )
    dims = (charts.RAW_GEO_POINTS_DIM,)
    return {
        charts.RAW_GEO_LINE: xr.Variable(dims, lines.ravel()),
        charts.RAW_GEO_SAMPLE: xr.Variable(dims, samples.ravel()),
        charts.RAW_LATITUDE: xr.Variable(dims, lat.ravel().astype(np.float64)),
        charts.RAW_LONGITUDE: xr.Variable(dims, inputs[charts.LONGITUDE].values.ravel()),
    }
