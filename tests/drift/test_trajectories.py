"""Trajectories through a series: accuracy on chained known warps, validity carried, the
Lagrangian netCDF, deformation on triangles that follow the ice, bad input and the plot."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import numpy as np
import pytest
import rasterio
import xarray as xr
from rasterio.control import GroundControlPoint

from kit.cli import main
from kit.drift.io import GcpTransform, read_s1_geotiff
from kit.drift.preprocess import to_db
from kit.drift.reasons import Reason
from kit.drift.synthetic import DisplacementField, make_series, synthetic_texture
from kit.drift.trajectories import (
    Trajectories,
    end_point_errors,
    plot_trajectories,
    track_series,
    trajectory_deformation,
    write_trajectories,
)
from kit.errors import KitError

SIZE = 400
STEP = 48
T0 = datetime(2020, 1, 1)
#: 40 m pixels: a GCP grid in EPSG:3413 metres.
PIXEL_M = 40.0


def _crop(image: np.ndarray, size: int = SIZE) -> np.ndarray:
    r0, c0 = (image.shape[0] - size) // 2, (image.shape[1] - size) // 2
    return np.ascontiguousarray(image[r0 : r0 + size, c0 : c0 + size])


def _score(series, method="ft+pm", **params):
    params.setdefault("grid_step", STEP)
    traj = track_series(series.images, method=method, **params)
    true_x, true_y = series.positions(traj.x[:, 0], traj.y[:, 0])
    return traj, end_point_errors(traj, true_x, true_y), (true_x, true_y)


@pytest.fixture(scope="module")
def real_series(real_tiffs):
    base = _crop(to_db(read_s1_geotiff(real_tiffs[2]).sigma0))
    return make_series(base, steps=4, max_drift=12.0, max_rotation_deg=3.0, seed=3)


@pytest.fixture(scope="module")
def texture_series():
    base = synthetic_texture((SIZE, SIZE), seed=5)
    return make_series(base, steps=3, max_drift=12.0, max_rotation_deg=3.0, seed=5)


def test_real_image_chained_series_end_point_error(real_series):
    traj, epe, _ = _score(real_series)
    kept = traj.kept
    assert kept.mean() > 0.6, kept.mean()
    # measured: 77 % kept, median 0.19 px, P90 0.39 px after 4 steps
    assert np.median(epe[kept]) < 0.5
    assert np.percentile(epe[kept], 90) < 1.0


def test_texture_chained_series_end_point_error_and_positions(texture_series):
    traj, epe, (true_x, true_y) = _score(texture_series)
    kept = traj.kept
    # measured: 77 % kept, median 0.19 px, P90 0.33 px after 3 steps
    assert kept.mean() > 0.6, kept.mean()
    assert np.median(epe[kept]) < 0.5 and np.percentile(epe[kept], 90) < 1.0
    # every valid position along the way is right, not only the end
    err = np.hypot(traj.x - true_x, traj.y - true_y)[traj.valid]
    assert np.median(err) < 0.5
    # sigma accumulates: zero at the start, growing along each kept trajectory
    assert np.all(traj.sigma[:, 0][traj.valid[:, 0]] == 0)
    assert np.all(np.diff(traj.sigma[kept], axis=1) > 0)
    # and describes the errors (root-sum-square of the steps): measured 94 % within 2 sigma
    later = traj.valid[:, 1:]
    errors = np.abs(
        np.concatenate([(traj.x - true_x)[:, 1:][later], (traj.y - true_y)[:, 1:][later]])
    )
    assert np.mean(errors <= 2 * np.tile(traj.sigma[:, 1:][later], 2)) > 0.8


def test_a_point_leaving_the_image_is_lost_for_good():
    shape = (240, 240)
    fields = [DisplacementField(shape, translation=(18.0, 0.0)) for _ in range(3)]
    series = make_series(fields=fields, shape=shape, seed=2)
    cols, rows = np.meshgrid(np.arange(40.0, 221.0, 40.0), [80.0, 120.0, 160.0])
    traj, _, (true_x, _) = _score(series, points=(cols.ravel(), rows.ravel()))
    # once lost, always lost: valid never turns True again, the reason stays the same
    assert np.all(np.diff(traj.valid.astype(int), axis=1) <= 0)
    for i in np.flatnonzero(~traj.kept):
        lost = int(np.argmin(traj.valid[i]))
        assert traj.reason[i, lost] != Reason.VALID
        assert np.all(traj.reason[i, lost:] == traj.reason[i, lost])
        assert np.all(np.isnan(traj.x[i, lost:])) and np.all(np.isnan(traj.sigma[i, lost:]))
    # the points that end up off the image are lost; those well inside are kept
    gone = true_x[:, -1] > shape[1] - 1
    assert gone.any() and not traj.kept[gone].any()
    assert traj.kept[true_x[:, -1] < shape[1] - 60].all()


def _geo() -> GcpTransform:
    cols, rows = np.meshgrid(np.arange(0, 201, 50.0), np.arange(0, 201, 50.0))
    gx, gy = 200000.0 + PIXEL_M * cols, -500000.0 - PIXEL_M * rows
    return GcpTransform.from_gcps(cols.ravel(), rows.ravel(), gx.ravel(), gy.ravel(), "EPSG:3413")


@pytest.fixture(scope="module")
def small_series():
    shape = (200, 200)
    fields = [DisplacementField(shape, translation=(5.0, 2.0)) for _ in range(2)]
    return make_series(fields=fields, shape=shape, seed=4)


def test_geolocated_trajectories_round_trip_through_netcdf(small_series, tmp_path):
    times = [T0 + timedelta(hours=6 * k) for k in range(3)]
    geos = [_geo()] * 3
    traj = track_series(small_series.images, method="pm", geos=geos, times=times, grid_step=STEP)
    assert 0 < traj.kept.sum() < traj.kept.size
    km = traj.displacement_km()[traj.kept]
    assert np.allclose(km, np.hypot(10.0, 4.0) * PIXEL_M / 1000, atol=0.02)
    out = write_trajectories(tmp_path / "series.nc", traj, {"source_images": "a b c"})
    with xr.open_dataset(out) as ds:
        assert dict(ds.sizes) == {"trajectory": traj.x.shape[0], "time": 3}
        assert ds.attrs["featureType"] == "trajectory" and ds.attrs["Conventions"] == "CF-1.8"
        assert ds["trajectory"].attrs["cf_role"] == "trajectory_id"
        assert ds["time"].attrs["standard_name"] == "time"
        assert list(ds["time"].values) == [np.datetime64(t, "ns") for t in times]
        assert ds["lon"].attrs["standard_name"] == "longitude"
        assert {"time", "lat", "lon"} <= set(ds["x"].coords)
        assert ds["reason"].attrs["flag_meanings"].split()[:2] == ["valid", "no_data"]
        for name in ("x", "y", "lon", "lat", "sigma", "sigma_km"):
            values = ds[name].values
            assert np.isnan(values[~traj.valid]).all(), name
            assert np.isfinite(values[traj.valid]).all(), name
        np.testing.assert_allclose(ds["x"].values, traj.x, atol=1e-3)
        np.testing.assert_array_equal(ds["valid"].values == 1, traj.valid)
        np.testing.assert_array_equal(ds["reason"].values, traj.reason)
    # sigma in km is sigma in pixels times the ground size of a pixel (40 m on the map,
    # 2.5 % more on the ground at 85.5 N in EPSG:3413)
    ok = traj.valid[:, -1]
    np.testing.assert_allclose(
        traj.sigma_km[ok, -1], traj.sigma[ok, -1] * PIXEL_M / 1000, rtol=0.04
    )


def _moved(move, steps=2, spacing=20.0, times=None) -> Trajectories:
    """Trajectories of a 6 x 6 grid whose positions follow `move(x, y) -> (x, y)` per step."""
    yy, xx = np.mgrid[0:6, 0:6] * spacing + 100.0
    xs, ys = [xx.ravel()], [yy.ravel()]
    for _ in range(steps):
        x, y = move(xs[-1], ys[-1])
        xs.append(x)
        ys.append(y)
    x, y = np.stack(xs, 1), np.stack(ys, 1)
    valid = np.ones(x.shape, bool)
    zeros = np.zeros(x.shape)
    return Trajectories(x, y, valid, zeros.astype(np.uint8), zeros, x, y, "test", times)


def test_divergent_ice_gives_positive_divergence_and_no_shear():
    centre = 150.0
    traj = _moved(lambda x, y: (centre + 1.02 * (x - centre), centre + 1.02 * (y - centre)))
    strain = trajectory_deformation(traj)
    assert strain.divergence.shape == (50, 2) and strain.units == "per step"
    np.testing.assert_allclose(strain.divergence, 0.04, atol=1e-9)
    np.testing.assert_allclose(strain.shear, 0.0, atol=1e-9)
    converging = trajectory_deformation(_moved(lambda x, y: (0.97 * x, 0.97 * y)))
    np.testing.assert_allclose(converging.divergence, -0.06, atol=1e-9)


def test_sheared_ice_gives_shear_and_no_divergence_as_rates_per_day():
    times = [T0, T0 + timedelta(hours=12), T0 + timedelta(hours=36)]
    traj = _moved(lambda x, y: (x + 0.03 * y, y), times=times)
    strain = trajectory_deformation(traj)
    assert strain.units == "day-1"
    np.testing.assert_allclose(strain.divergence, 0.0, atol=1e-9)
    # the shear of one step grows as the grid is sheared (0.03 per step), then per day
    assert np.allclose(strain.shear[:, 0], 0.03 / 0.5, rtol=1e-6)
    assert np.allclose(strain.shear[:, 1], 0.03, rtol=1e-6)


def test_triangles_follow_the_ice_and_lose_a_lost_corner():
    traj = _moved(lambda x, y: (x + 3.0, y + 1.0))
    traj.valid[0, 1:] = False
    traj.x_first[0, 1:] = np.nan
    strain = trajectory_deformation(traj)
    touching = (strain.triangles == 0).any(axis=1)
    assert touching.any()
    assert np.isnan(strain.divergence[touching, :]).all()
    np.testing.assert_allclose(strain.divergence[~touching], 0.0, atol=1e-9)


def test_tracked_shear_shows_in_the_triangles():
    shape = (SIZE, SIZE)
    fields = [DisplacementField(shape, shear=0.02) for _ in range(2)]
    series = make_series(fields=fields, shape=shape, seed=6)
    strain = trajectory_deformation(track_series(series.images, grid_step=STEP))
    assert np.nanmedian(strain.shear) == pytest.approx(0.02, abs=0.006)
    assert abs(np.nanmedian(strain.divergence)) < 0.006


def _tif(path, image, stamp: str | None = "20200101T000000", gcps: bool = True) -> str:
    name = f"S1A_EW_GRDM_1SDH_{stamp}_{path.name}.tif" if stamp else f"{path.name}.tif"
    target = path.parent / name
    profile = dict(
        driver="GTiff", width=image.shape[1], height=image.shape[0], count=1, dtype="float32"
    )
    with rasterio.open(target, "w", **profile) as ds:
        linear = np.where(np.isfinite(image), 10 ** (image / 10), 0.0)  # 0: no data
        ds.write(linear.astype(np.float32), 1)
        if gcps:
            points = [
                GroundControlPoint(
                    row=r, col=c, x=200000.0 + PIXEL_M * c, y=-500000.0 - PIXEL_M * r
                )
                for r in np.linspace(0, image.shape[0], 4)
                for c in np.linspace(0, image.shape[1], 4)
            ]
            ds.gcps = (points, rasterio.crs.CRS.from_user_input("EPSG:3413"))
    return str(target)


def _series_tifs(
    tmp_path, series, stamps=("20200101T000000", "20200101T060000", "20200101T120000")
):
    return [
        _tif(tmp_path / f"img{k}", image, stamp)
        for k, (image, stamp) in enumerate(zip(series.images, stamps))
    ]


def test_drift_series_command_writes_trajectories_and_plot(small_series, tmp_path, capsys):
    paths = _series_tifs(tmp_path, small_series)
    out, png = tmp_path / "series.nc", tmp_path / "traj.png"
    args = ["drift-series", *paths, "--out", str(out), "--png", str(png), "--method", "pm"]
    assert main([*args, "--grid-step", str(STEP)]) == 0
    summary = capsys.readouterr().out
    assert "trajectories kept through 3 images" in summary
    # 10.8 px of 40 m in EPSG:3413, whose scale at 85.5 N is 3 % off (0.43 km true)
    assert re.search(r"median displacement 0\.4[34] km", summary), summary
    assert "triangles, median |divergence|" in summary
    with xr.open_dataset(out) as ds:
        assert dict(ds.sizes)["time"] == 3 and "lon" in ds
        assert ds.attrs["time_coverage_end"] == "2020-01-01T12:00:00"
        # the deformation of the triangles that follow the ice, per step, as rates per day
        assert dict(ds.sizes)["step"] == 2 and ds["divergence"].attrs["units"] == "day-1"
        corners = ds["triangle_corners"].values
        assert corners.shape[1] == 3 and corners.max() < dict(ds.sizes)["trajectory"]
        assert np.isfinite(ds["shear"].values).any()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _fails(capsys, *args) -> str:
    assert main(["drift-series", *map(str, args)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err


def test_drift_series_bad_input_is_one_line_exit_2(tmp_path, capsys):
    image = synthetic_texture((64, 64), seed=1)
    a = _tif(tmp_path / "a", image, "20200101T000000")
    b = _tif(tmp_path / "b", image, "20200102T000000")
    same_time = _tif(tmp_path / "c", image, "20200102T000000")
    small = _tif(tmp_path / "d", image[:48], "20200103T000000")
    no_gcps = _tif(tmp_path / "e", image, "20200104T000000", gcps=False)
    no_time = _tif(tmp_path / "f", image, None)
    out = tmp_path / "s.nc"
    assert "a series needs at least two images" in _fails(capsys, a, "--out", out)
    assert f"{a}: acquired 2020-01-01T00:00:00, before {b}" in _fails(capsys, b, a, "--out", out)
    assert f"{same_time}: acquired 2020-01-02T00:00:00, at the same time as {b}" in _fails(
        capsys, a, b, same_time, "--out", out
    )
    assert f"{small}: 48 x 64 pixels, but {a} has 64 x 64" in _fails(capsys, a, small, "--out", out)
    err = _fails(capsys, a, no_gcps, "--out", out)
    assert f"{no_gcps}: no geolocation (GCPs)" in err and "--pixels" in err
    assert f"{no_time}: no acquisition time" in _fails(capsys, a, no_time, "--out", out)
    assert "--grid-step 0: must be at least 1" in _fails(
        capsys, a, b, "--out", out, "--grid-step", 0
    )
    assert not out.exists()


def test_pixels_product_accepts_images_without_gcps(small_series, tmp_path, capsys):
    stamps = ("20200101T000000", "20200101T060000", "20200101T120000")
    paths = [
        _tif(tmp_path / f"p{k}", im, s, gcps=False)
        for k, (im, s) in enumerate(zip(small_series.images, stamps))
    ]
    out = tmp_path / "px.nc"
    assert main(["drift-series", *paths, "--out", str(out), "--pixels", "--method", "pm"]) == 0
    assert "median displacement 10.8 px" in capsys.readouterr().out
    with xr.open_dataset(out) as ds:
        assert "lon" not in ds and "sigma_km" not in ds


def test_library_errors_name_the_argument():
    images = [np.zeros((32, 32))] * 3
    with pytest.raises(
        KitError, match=r"^images: a series needs at least two images, got 1 \(one.tif\)"
    ):
        track_series(images[:1], names=["one.tif"])
    with pytest.raises(KitError, match=r"^b.tif: 32 x 30 pixels, but a.tif has 32 x 32"):
        track_series([images[0], np.zeros((32, 30))], names=["a.tif", "b.tif"])
    with pytest.raises(KitError, match=r"^images\[2\]: acquired .*at the same time as images\[1\]"):
        track_series(images, times=[T0, T0 + timedelta(1), T0 + timedelta(1)])
    with pytest.raises(KitError, match=r"^times: 2 given for 3 images"):
        track_series(images, times=[T0, T0])
    with pytest.raises(KitError, match=r"^images\[1\]: no geolocation"):
        track_series(images, geos=[_geo(), None, _geo()])


def test_plot_writes_a_png(small_series, tmp_path):
    traj = track_series(small_series.images, method="pm", grid_step=STEP)
    path = plot_trajectories(small_series.images[0], traj, tmp_path / "traj.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
