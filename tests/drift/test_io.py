import numpy as np
import pytest
import rasterio
from rasterio.control import GroundControlPoint

from kit.drift.io import GcpTransform, Polynomial2D, read_s1_geotiff
from kit.errors import KitError


def test_polynomial_fit_is_exact_for_a_quadratic_map():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 1000, size=(40, 2))
    dst = np.stack(
        [3 + 0.5 * src[:, 0] + 1e-4 * src[:, 1] ** 2, -2 + src[:, 0] * src[:, 1] * 1e-3], 1
    )
    fit = Polynomial2D.fit(src, dst, order=2)
    px, py = fit(src[:, 0], src[:, 1])
    np.testing.assert_allclose(np.stack([px, py], 1), dst, atol=1e-8)


def test_gcp_transform_on_the_real_tiffs(real_tiffs):
    for path in real_tiffs:
        image = read_s1_geotiff(path)
        assert image.sigma0.shape == (1000, 1000) and image.sigma0.dtype == np.float32
        assert image.time is not None and image.time.year in (2016, 2020)
        geo = image.geo
        with rasterio.open(path) as ds:
            gcps, crs = ds.gcps
        cols = np.array([g.col for g in gcps])
        rows = np.array([g.row for g in gcps])
        gx = np.array([g.x for g in gcps])
        gy = np.array([g.y for g in gcps])
        if crs.is_geographic:  # lon/lat GCPs: compare geolocation directly
            lon, lat = geo.pixel_to_lonlat(cols, rows)
            assert np.abs(lat - gy).max() < 2e-4  # < ~20 m
            assert np.abs(((lon - gx + 180) % 360 - 180) * np.cos(np.radians(gy))).max() < 2e-4
            c, r = geo.lonlat_to_pixel(gx, gy)
        else:  # projected GCPs: metres in their own CRS
            x, y = geo.pixel_to_xy(cols, rows)
            assert np.hypot(x - gx, y - gy).max() < 20.0  # half a pixel of about 40 m
            c, r = geo.xy_to_pixel(gx, gy)
        assert np.hypot(c - cols, r - rows).max() < 0.5
        assert geo.rms_residual_px < 0.2
        assert 35 < geo.pixel_spacing_m() < 45  # EW GRDM pixels are 40 m


def _write_tiff(path, image, gcps=None, crs="EPSG:4326"):
    profile = dict(
        driver="GTiff", width=image.shape[1], height=image.shape[0], count=1, dtype="float32"
    )
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(image.astype(np.float32), 1)
        if gcps:
            ds.gcps = (gcps, rasterio.crs.CRS.from_user_input(crs))


def test_read_marks_nodata_and_fits_projected_gcps(tmp_path):
    image = np.full((50, 60), 0.01, np.float32)
    image[:5] = 0.0  # no data
    gcps = [
        GroundControlPoint(row=r, col=c, x=1000.0 + 40 * c, y=5000.0 - 40 * r)
        for r in (0, 25, 50)
        for c in (0, 20, 40, 60)
    ]
    path = tmp_path / "S1A_EW_GRDM_1SDH_20200101T000000.tif"
    _write_tiff(path, image, gcps, crs="EPSG:3413")
    out = read_s1_geotiff(path)
    assert np.isnan(out.sigma0[:5]).all() and np.isfinite(out.sigma0[5:]).all()
    assert out.time.isoformat() == "2020-01-01T00:00:00"  # from the file name
    x, y = out.geo.pixel_to_xy(np.array([10.5]), np.array([3.25]))
    np.testing.assert_allclose([x[0], y[0]], [1420.0, 4870.0], atol=1e-6)
    assert out.geo.pixel_spacing_m() == pytest.approx(40.0)


def test_read_errors_name_the_file(tmp_path):
    with pytest.raises(KitError, match="no such image"):
        read_s1_geotiff(tmp_path / "missing.tif")
    bad = tmp_path / "bad.tif"
    bad.write_text("not a tiff")
    with pytest.raises(KitError, match="bad.tif"):
        read_s1_geotiff(bad)
    with pytest.raises(KitError, match="too few"):
        GcpTransform.from_gcps([0, 1], [0, 1], [0, 1], [0, 1], "EPSG:3413", order=3)
