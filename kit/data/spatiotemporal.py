"""Spatial-temporal input channels (MMSeaIce): latitude, longitude and acquisition month.

- `aux_lat` / `aux_lon` (MMSeaIce configs may say `aux_long`): the coarse geolocation tie-point
  grid (`sar_grid2d_latitude` / `_longitude`, 21 x 21 in the real files, stored there as
  (sample, line) and oriented here by its dim names) interpolated bilinearly onto the working
  grid. Tie-point positions come from `sar_grid2d_line` / `sar_grid2d_sample` (80 m pixel
  indices) when the file has them (older kit files, raw scenes), else the tie points are spread
  evenly from the first to the last SAR pixel (the real ready-to-train files). Longitude is
  interpolated through its sine and cosine so that the date line does not tear it.
  Scaling: latitude / 90 and longitude / 180, so both lie in [-1, 1] everywhere on Earth.
  MMSeaIce instead standardised them with its training-set statistics (latitude mean 69.13,
  sd 7.03; longitude mean -56.39, sd 31.33), which puts the training area near 0 with a spread
  of about 1; the kit's fixed scaling needs no statistics and cannot go out of range elsewhere.
- `aux_time`: the month of the scene id. 'mmseaice' gives one channel, month 1..12 mapped
  linearly onto -1..1 (our reading of MMSeaIce's encoding); 'cyclic' gives `aux_time_sin` and
  `aux_time_cos` of the angle 2 pi (month - 1) / 12, so that December and January are
  neighbours.
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

from kit import charts
from kit.data.regrid import interpolate_separable, working_centres, working_shape
from kit.data.scene import parse_scene_id, read_geo_grid

LATITUDE_SCALE = 90.0
LONGITUDE_SCALE = 180.0


def month_channels(encoding: str) -> tuple[str, ...]:
    """Channel names that `aux_time` expands to under `encoding`."""
    if encoding == "cyclic":
        return ("aux_time_sin", "aux_time_cos")
    if encoding == "mmseaice":
        return ("aux_time",)
    raise ValueError(f"unknown month encoding {encoding!r}; allowed: 'mmseaice', 'cyclic'")


def encode_month(month: int, encoding: str) -> tuple[float, ...]:
    """The value(s) of the month channel(s) for a month 1..12."""
    if not 1 <= month <= 12:
        raise ValueError(f"month must be 1..12, got {month}")
    if encoding == "cyclic":
        angle = 2.0 * math.pi * (month - 1) / 12.0
        return (math.sin(angle), math.cos(angle))
    month_channels(encoding)  # validates the name
    return (2.0 * (month - 1) / 11.0 - 1.0,)


def scene_month(scene_id_or_path: str) -> int:
    """Acquisition month of a scene, from its id or file name."""
    return parse_scene_id(scene_id_or_path)[2].month


def _tie_positions(ds: xr.Dataset, name: str, axis: int, n_points: int, n_pixels: int):
    """80 m pixel index of each tie point along one axis."""
    if name in ds:
        values = np.asarray(read_geo_grid(ds, name), dtype=np.float64)
        if values.ndim == 2:
            values = values[:, 0] if axis == 0 else values[0, :]
        if values.shape == (n_points,) and np.all(np.diff(values) > 0):
            return values
    return np.linspace(0.0, n_pixels - 1.0, n_points)


def lat_lon_channels(ds: xr.Dataset, factor: int, path=None) -> tuple[np.ndarray, np.ndarray]:
    """(latitude / 90, longitude / 180) on the working grid of the scene, float32."""
    shape = (ds.sizes[charts.SAR_DIMS[0]], ds.sizes[charts.SAR_DIMS[1]])
    lat = read_geo_grid(ds, charts.LATITUDE, path).astype(np.float64)
    lon = np.deg2rad(read_geo_grid(ds, charts.LONGITUDE, path).astype(np.float64))
    line_pos = _tie_positions(ds, charts.GEO_LINE, 0, lat.shape[0], shape[0])
    sample_pos = _tie_positions(ds, charts.GEO_SAMPLE, 1, lat.shape[1], shape[1])
    h, w = working_shape(shape, factor)
    rows = _tie_index(working_centres(h, factor), line_pos)
    cols = _tie_index(working_centres(w, factor), sample_pos)
    lat_w = interpolate_separable(lat, rows, cols, extrapolate=True)
    sin = interpolate_separable(np.sin(lon), rows, cols, extrapolate=True)
    cos = interpolate_separable(np.cos(lon), rows, cols, extrapolate=True)
    lon_w = np.rad2deg(np.arctan2(sin, cos))
    lat_w = np.clip(lat_w, -90.0, 90.0)
    return (lat_w / LATITUDE_SCALE).astype(np.float32), (lon_w / LONGITUDE_SCALE).astype(np.float32)


def _tie_index(pixels: np.ndarray, tie_positions: np.ndarray) -> np.ndarray:
    """Fractional tie-point index of each pixel, continued linearly beyond the first/last tie."""
    if len(tie_positions) < 2:
        return np.zeros_like(pixels)
    index = np.interp(pixels, tie_positions, np.arange(len(tie_positions), dtype=np.float64))
    first = (pixels - tie_positions[0]) / (tie_positions[1] - tie_positions[0])
    last = (len(tie_positions) - 1) + (pixels - tie_positions[-1]) / (
        tie_positions[-1] - tie_positions[-2]
    )
    return np.where(
        pixels < tie_positions[0], first, np.where(pixels > tie_positions[-1], last, index)
    )
