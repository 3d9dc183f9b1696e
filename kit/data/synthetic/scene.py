"""One synthetic AutoICE scene: land, polygon ice chart with egg codes, and the physics of the inputs.

The recipe, in the order it runs:

1. Land and sea: a smooth random field thresholded into a coastline, cut by fjords, or no land
   at all; `distance_map` is the distance to it, written as the distance index (0 on land).
2. Ice chart: Voronoi polygons with wavy edges over the sea, one land polygon; each sea polygon
   carries a SIGRID-3 egg code drawn from the class shares of the real training scene the spec
   was planned from (`SceneSpec.class_shares`: its ice cover and concentrations from the SIC
   shares, stages from the SOD shares, forms from the FLOE shares) and its place in the pack,
   so the month and the region carry what they carry in the real data. The charts
   SIC/SOD/FLOE come from `convert_polygon_icechart`, so ambiguous polygons are masked exactly as
   in the real data.
3. The "true" surface behind the chart: per pixel, ice or water with the polygon's concentration,
   the ice type drawn from its partial concentrations, and floes whose size follows the form.
4. SAR HH/HV (dB): per-type backscatter with wind-roughened water (bright like ice) and smooth
   new ice (dark like water), incidence-angle trend across range, sub-swath seams, thermal-noise
   floor in HV, speckle, and NaN outside a slanted swath footprint (charts MASK there).
5. AMSR2 brightness temperatures on the 2 km grid mixed from the surface fractions and blurred by
   each channel's footprint; smooth ERA5 fields; lat/lon on the 21 x 21 tie-point grid.

The scene comes out in physical units (dB, K, distance index, NaN = no data); `kit.data.synthetic.formats`
writes it in each published file convention.

Everything is drawn from one `numpy.random.Generator`, so a scene is fully determined by its seed.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from kit import charts
from kit.data import icechart
from kit.data.conventions import distance_index
from kit.data.synthetic.coarse import geolocation, grid_2km_shape, make_amsr2, make_era5
from kit.data.synthetic.eggs import make_egg_codes, polygon_code_rows
from kit.data.synthetic.polygons import make_land, make_polygons, resize, smooth_noise
from kit.data.synthetic.sar import incidence_angle, make_sar, make_surface, swath_footprint
from kit.data.synthetic.spec import SceneSpec, SyntheticScene

# ---------------------------------------------------------------------------------------------
# The whole scene
# ---------------------------------------------------------------------------------------------


def generate_scene(spec: SceneSpec) -> SyntheticScene:
    """Generate one scene from its spec (deterministic in `spec.seed`)."""
    rng = np.random.default_rng(spec.seed)
    shape = spec.shape
    shape2 = grid_2km_shape(shape)
    land, distance = make_land(rng, shape)
    labels, n = make_polygons(rng, shape, land)
    eggs = make_egg_codes(rng, spec, labels, n, land)
    surface = make_surface(rng, labels, eggs, land)
    sea = ~land
    ice_share = float(surface.ice.sum() / max(sea.sum(), 1))
    era5 = make_era5(rng, spec, shape2, ice_share)
    wind = np.hypot(
        resize(era5["u10m_rotated"], shape), resize(era5["v10m_rotated"], shape)
    ) + 1.2 * smooth_noise(rng, shape, 60.0)
    wind = np.clip(wind, 0.0, 25.0)
    theta = incidence_angle(rng, shape)
    valid = swath_footprint(rng, shape)
    hh, hv = make_sar(rng, surface, land, theta, wind, valid)
    amsr2 = make_amsr2(rng, surface, land, shape2, era5)

    polygon_ids = eggs.codes[labels, 0].astype(np.int32)
    code_rows = polygon_code_rows(eggs)
    raw = xr.Dataset(
        {
            icechart.POLYGON_ICECHART: (charts.SAR_DIMS, polygon_ids),
            icechart.POLYGON_CODES: (("polygon_codes_rows",), np.array(code_rows, dtype=object)),
        }
    )
    chart_ds = icechart.convert_polygon_icechart(raw)[list(charts.CHARTS)]
    for chart in charts.CHARTS:
        chart_ds[chart].values[~valid] = charts.MASK

    geo = geolocation(spec, shape)
    theta = np.where(valid, theta, np.nan).astype(np.float32)
    data = {
        "nersc_sar_primary": (charts.SAR_DIMS, hh),
        "nersc_sar_secondary": (charts.SAR_DIMS, hv),
        "sar_incidenceangle": (charts.SAR_DIMS, theta),
        "distance_map": (charts.SAR_DIMS, distance_index(distance).astype(np.float32)),
        **{k: (charts.GRID_2KM_DIMS, v.astype(np.float32)) for k, v in amsr2.items()},
        **{k: (charts.GRID_2KM_DIMS, np.asarray(v, np.float32)) for k, v in era5.items()},
        **{k: (charts.GEO_GRID_DIMS, v) for k, v in geo.items()},
    }
    inputs = xr.Dataset(data)
    inputs.attrs = {
        "scene_id": spec.scene_id + charts.PREP_SUFFIX,
        "original_id": spec.original_id,
        "ice_service": spec.ice_service,
        "flip": 0,
        "pixel_spacing": charts.PIXEL_SPACING_M,
    }
    return SyntheticScene(inputs, chart_ds, polygon_ids, code_rows)
