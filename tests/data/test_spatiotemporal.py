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


def test_lat_lon_match_tie_points(train_paths):
    with xr.open_dataset(train_paths[0]) as ds:
        lat, lon = lat_lon_channels(ds, 1)
        lines = ds[charts.GEO_LINE].values
        samples = ds[charts.GEO_SAMPLE].values
        lat_tp, lon_tp = ds[charts.LATITUDE].values, ds[charts.LONGITUDE].values
        shape = (ds.sizes["sar_lines"], ds.sizes["sar_samples"])
    assert lat.shape == lon.shape == shape
    assert np.allclose(lat[lines, samples] * 90, lat_tp, atol=1e-4)
    assert np.allclose(lon[lines, samples] * 180, lon_tp, atol=1e-4)


def test_lat_lon_without_positions_and_downscaled(train_paths):
    with xr.open_dataset(train_paths[0]) as ds:
        full_lat, _ = lat_lon_channels(ds, 1)
        bare = ds.drop_vars([charts.GEO_LINE, charts.GEO_SAMPLE])
        even_lat, _ = lat_lon_channels(bare, 1)  # tie points assumed evenly spread
        small_lat, _ = lat_lon_channels(ds, 10)
    assert np.abs(even_lat - full_lat).max() * 90 < 0.01  # degrees; positions are rounded
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
