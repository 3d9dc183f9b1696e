"""Per-vector uncertainty: sigma from the correlation peak's shape, checked on warped pairs."""

import numpy as np
import xarray as xr

from kit.drift.io import GcpTransform
from kit.drift.matching import peak_sigma
from kit.drift.product import write_drift_netcdf
from kit.drift.synthetic import make_pair, random_field, synthetic_texture
from kit.drift.track import track


def test_about_95_percent_of_errors_fall_within_two_sigma():
    # seeds apart from those SIGMA_SCALE was calibrated on (0-7 and 100-107)
    errors, sigmas = [], []
    for seed in range(200, 204):
        base = synthetic_texture((384, 384), seed=seed)
        pair = make_pair(base, random_field(base.shape, 20, 10, seed=seed), seed=seed)
        for method in ("pm", "ft+pm"):
            result = track(pair.image1, pair.image2, method, grid_step=24, search=24)
            tu, tv = pair.truth(result.x, result.y)
            ok = result.valid
            assert np.isfinite(result.sigma[ok]).all() and (result.sigma[ok] > 0).all()
            errors += [(result.u - tu)[ok], (result.v - tv)[ok]]
            sigmas += [result.sigma[ok]] * 2
    error, sigma = np.abs(np.concatenate(errors)), np.concatenate(sigmas)
    assert error.size > 1000
    assert 0.90 <= np.mean(error <= 2 * sigma) <= 0.99
    # sigma ranks the vectors: the least certain quarter errs more than the most certain one
    low, high = np.quantile(sigma, [0.25, 0.75])
    assert np.median(error[sigma >= high]) > 1.5 * np.median(error[sigma <= low])


def test_sigma_grows_with_a_flatter_weaker_peak():
    sharp, flat = peak_sigma(np.array([0.9, 0.5]), np.array([0.3, 0.05]), np.array([0.3, 0.05]), 35)
    assert sharp < flat
    assert np.isnan(peak_sigma(np.array([np.nan]), np.array([0.1]), np.array([0.1]), 35)[0])
    assert np.isnan(peak_sigma(np.array([0.8]), np.array([-0.1]), np.array([0.1]), 35)[0])


def test_sigma_in_the_product_in_pixels_and_km(moving_pair, tmp_path):
    rows, cols = np.mgrid[0:321:40, 0:321:40]
    geo = GcpTransform.from_gcps(
        cols.ravel(), rows.ravel(), 40.0 * cols.ravel(), -40.0 * rows.ravel(), "EPSG:3413"
    )
    result = track(
        moving_pair.image1, moving_pair.image2, "ft+pm", grid_step=40, geo1=geo, geo2=geo
    )
    ok = result.valid
    # 40 m pixels (the polar stereographic scale factor changes that by well under 5 %)
    np.testing.assert_allclose(result.sigma_km[ok], result.sigma[ok] * 0.040, rtol=0.05)
    with xr.open_dataset(write_drift_netcdf(result, tmp_path / "d.nc")) as ds:
        assert ds["sigma"].attrs["units"] == "pixel" and ds["sigma_km"].attrs["units"] == "km"
        np.testing.assert_allclose(ds["sigma"].values.ravel()[ok], result.sigma[ok], rtol=1e-6)
        assert np.isnan(ds["sigma"].values.ravel()[~ok]).all()
    ft = track(moving_pair.image1, moving_pair.image2, "ft", grid_step=40)
    assert np.isnan(ft.sigma).all()  # feature tracking has no correlation peak
