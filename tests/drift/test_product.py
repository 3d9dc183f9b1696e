import numpy as np
import xarray as xr

from kit.drift.io import GcpTransform
from kit.drift.plot import quiver_plot
from kit.drift.product import east_north_km, write_drift_netcdf
from kit.drift.reasons import FLAG_MEANINGS, Reason
from kit.drift.track import track


def test_netcdf_product_round_trip(moving_pair, tmp_path):
    rows, cols = np.mgrid[0:321:40, 0:321:40]
    geo = GcpTransform.from_gcps(
        cols.ravel(), rows.ravel(), 40.0 * cols.ravel(), -40.0 * rows.ravel(), "EPSG:3413"
    )
    result = track(
        moving_pair.image1,
        moving_pair.image2,
        "ft+pm",
        grid_step=40,
        geo1=geo,
        geo2=geo,
        dt_seconds=7200.0,
    )
    path = write_drift_netcdf(result, tmp_path / "drift.nc", {"source_image1": "a.tif"})
    assert [p.name for p in tmp_path.iterdir()] == ["drift.nc"]  # no temporary left behind
    with xr.open_dataset(path) as ds:
        assert ds.attrs["Conventions"].startswith("CF") and ds.attrs["method"] == "ft+pm"
        assert ds["u"].dims == ("y", "x") and ds["u"].shape == result.grid_shape
        np.testing.assert_allclose(ds["u"].values.ravel()[result.valid], result.u[result.valid])
        assert ds["lat"].attrs["standard_name"] == "latitude"
        assert ds["speed"].attrs["standard_name"] == "sea_ice_speed"
        assert {"lon", "lat"} <= set(ds["speed"].coords)
        assert ds["valid"].values.sum() == result.valid.sum()
        speed = np.hypot(ds["ve"].values, ds["vn"].values).ravel()
        np.testing.assert_allclose(speed[result.valid], result.speed_ms[result.valid], rtol=0.01)


def test_east_north_near_the_pole():
    east, north = east_north_km(179.9, 85.0, -179.9, 85.0)  # across the date line
    assert 0 < east < 2.0 and abs(north) < 1e-9


def test_point_product_and_quiver_plot(moving_pair, tmp_path):
    points = (np.array([100.0, 150.0, 200.0]), np.array([120.0, 160.0, 180.0]))
    result = track(moving_pair.image1, moving_pair.image2, "ft+pm", points=points)
    path = write_drift_netcdf(result, tmp_path / "points.nc")
    with xr.open_dataset(path) as ds:
        assert ds["u"].dims == ("point",) and "lon" not in ds
    png = quiver_plot(moving_pair.image1, result, tmp_path / "q.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_invalid_vectors_are_nan_with_a_reason(moving_pair, tmp_path):
    rows, cols = np.mgrid[0:321:40, 0:321:40]
    geo = GcpTransform.from_gcps(
        cols.ravel(), rows.ravel(), 40.0 * cols.ravel(), -40.0 * rows.ravel(), "EPSG:3413"
    )
    image1 = moving_pair.image1.copy()
    image1[:, :100] = np.nan  # no data
    image1[200:, 150:] = -15.0  # no texture
    result = track(
        image1, moving_pair.image2, "pm", grid_step=30, search=4, geo1=geo, geo2=geo,
        dt_seconds=3600.0,
    )  # fmt: skip
    reasons = set(result.reason.tolist())
    assert {Reason.VALID, Reason.NO_DATA, Reason.NO_TEXTURE, Reason.BORDER_PEAK} <= reasons
    assert np.isfinite(result.u[~result.valid]).any()  # the tracker's own (invalid) vectors
    path = write_drift_netcdf(result, tmp_path / "drift.nc")
    with xr.open_dataset(path) as ds:
        valid = ds["valid"].values == 1
        for name in ("u", "v", "lon2", "lat2", "displacement", "speed", "ve", "vn"):
            values = ds[name].values
            assert np.isnan(values[~valid]).all(), name
            assert np.isfinite(values[valid]).all(), name
        assert np.isfinite(ds["lon"].values).all() and np.isfinite(ds["quality"].values).any()
        flag = ds["reason"]
        assert flag.attrs["flag_meanings"] == FLAG_MEANINGS
        assert flag.attrs["flag_values"].tolist() == [r.value for r in Reason]
        np.testing.assert_array_equal(flag.values.ravel(), result.reason)
        np.testing.assert_array_equal(valid, flag.values == Reason.VALID)
