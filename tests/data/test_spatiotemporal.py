"""Latitude/longitude interpolated from the tie-point grid; the month encodings."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr

from kit import charts
from kit.data.spatiotemporal import encode_month, lat_lon_channels, month_channels, scene_month


def test_month_encodings():
    assert encode_month(1, "mmseaice") == (-1.0,) and encode_month(12, "mmseaice") == (1.0,)
    assert encode_month(7, "mmseaice")[0] == pytest.approx(2 * 6 / 11 - 1)
    jan, jul, dec = (np.array(encode_month(m, "cyclic")) for m in (1, 7, 12))
    assert np.allclose(jan, [0, 1]) and np.allclose(jul, [0, -1], atol=1e-12)
    assert np.linalg.norm(dec - jan) == pytest.approx(2 * math.sin(math.pi / 12))  # neighbours
    assert month_channels("cyclic") == ("aux_time_sin", "aux_time_cos")
    assert scene_month("20190812T101010_cis_prep.nc") == 8
    with pytest.raises(ValueError, match="allowed: 'mmseaice', 'cyclic'"):
        month_channels("onehot")


def test_lat_lon_match_tie_points_in_either_dim_order(train_paths):
    with xr.open_dataset(train_paths[0]) as ds:
        assert ds[charts.LATITUDE].dims == charts.GEO_GRID_FILE_DIMS  # (sample, line), as real
        lat, lon = lat_lon_channels(ds, 1)
        h, w = (ds.sizes[d] for d in charts.SAR_DIMS)
        grid_lat = ds[charts.LATITUDE].values.T  # -> (line, sample)
        grid_lon = ds[charts.LONGITUDE].values.T
        flipped = ds.transpose(*charts.SAR_DIMS, *charts.GEO_GRID_DIMS, *charts.GRID_2KM_DIMS)
        assert flipped[charts.LATITUDE].dims == charts.GEO_GRID_DIMS
        lat_flipped, _ = lat_lon_channels(flipped, 1)
    assert lat.shape == lon.shape == (h, w)
    # Without position variables the tie points span the scene evenly: corners coincide.
    for r, c in ((0, 0), (0, -1), (-1, 0), (-1, -1)):
        assert lat[r, c] * 90 == pytest.approx(grid_lat[r, c], abs=1e-4)
        assert lon[r, c] * 180 == pytest.approx(grid_lon[r, c], abs=1e-4)
    assert np.array_equal(lat, lat_flipped)  # oriented by dim names, not by position


def test_lat_lon_positions_and_downscaled(train_paths):
    with xr.open_dataset(train_paths[0]) as ds:
        even_lat, _ = lat_lon_channels(ds, 1)  # tie points evenly spread
        h, w = (ds.sizes[d] for d in charts.SAR_DIMS)
        n = ds.sizes[charts.GEO_GRID_DIMS[0]]
        lines, samples = np.meshgrid(
            np.linspace(0, h - 1, n), np.linspace(0, w - 1, n), indexing="ij"
        )
        placed = ds.assign(
            {
                charts.GEO_LINE: (charts.GEO_GRID_DIMS, lines),
                charts.GEO_SAMPLE: (charts.GEO_GRID_DIMS, samples),
            }
        )
        full_lat, _ = lat_lon_channels(placed, 1)
        small_lat, _ = lat_lon_channels(ds, 10)
    assert np.abs(even_lat - full_lat).max() * 90 < 1e-6
    assert small_lat.shape == (30, 26)
    # Working pixel j is the centre of 80 m pixels 10 j .. 10 j + 9, i.e. at 10 j + 4.5.
    centre = (full_lat[44, 54] + full_lat[45, 55] + full_lat[44, 55] + full_lat[45, 54]) / 4
    assert small_lat[4, 5] == pytest.approx(centre, abs=1e-5)


def test_longitude_across_the_date_line():
    lat = np.full((2, 2), 70.0)
    lon = np.array([[179.0, -179.0], [179.0, -179.0]])
    ds = xr.Dataset(
        {
            charts.LATITUDE: (charts.GEO_GRID_DIMS, lat),
            charts.LONGITUDE: (charts.GEO_GRID_DIMS, lon),
            "SIC": (charts.SAR_DIMS, np.zeros((11, 11), np.uint8)),
        }
    )
    _, lon_w = lat_lon_channels(ds, 1)
    assert np.all(np.abs(lon_w * 180) >= 179.0 - 1e-3)  # never through 0 degrees
    assert abs(lon_w[0, 5] * 180) == pytest.approx(180.0, abs=1e-3)  # midway: the date line
