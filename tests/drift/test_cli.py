import json

import numpy as np
import rasterio
import xarray as xr
from rasterio.control import GroundControlPoint

from kit.cli import main


def _write_pair(tmp_path, pair):
    paths = []
    for k, (image, stamp) in enumerate(
        [(pair.image1, "20200101T000000"), (pair.image2, "20200101T060000")]
    ):
        gcps = [
            GroundControlPoint(row=r, col=c, x=200000.0 + 40 * c, y=-500000.0 - 40 * r)
            for r in range(0, 321, 80)
            for c in range(0, 321, 80)
        ]
        path = tmp_path / f"S1A_EW_GRDM_1SDH_{stamp}_{k}.tif"
        profile = dict(
            driver="GTiff", width=image.shape[1], height=image.shape[0], count=1, dtype="float32"
        )
        with rasterio.open(path, "w", **profile) as ds:
            ds.write((10 ** (image / 10)).astype(np.float32), 1)
            ds.gcps = (gcps, rasterio.crs.CRS.from_user_input("EPSG:3413"))
        paths.append(str(path))
    return paths


def test_drift_command_writes_product_and_plot(moving_pair, tmp_path, capsys):
    one, two = _write_pair(tmp_path, moving_pair)
    out, png = tmp_path / "drift.nc", tmp_path / "quiver.png"
    assert (
        main(
            [
                "drift",
                one,
                two,
                "--method",
                "ft+pm",
                "--out",
                str(out),
                "--png",
                str(png),
                "--grid-step",
                "40",
            ]
        )
        == 0
    )
    assert "vectors valid" in capsys.readouterr().out
    with xr.open_dataset(out) as ds:
        assert ds.attrs["time_step_seconds"] == 6 * 3600
        valid = ds["valid"].values == 1
        assert valid.mean() > 0.7
        # 40 m pixels: the speed is the pixel displacement * 40 m / 6 h
        px = np.hypot(ds["u"].values, ds["v"].values)[valid]
        np.testing.assert_allclose(ds["speed"].values[valid], px * 40 / 21600, rtol=0.05)
    assert png.stat().st_size > 1000


def test_drift_command_bad_input_exits_2(tmp_path, capsys):
    assert (
        main(
            [
                "drift",
                str(tmp_path / "a.tif"),
                str(tmp_path / "b.tif"),
                "--out",
                str(tmp_path / "o.nc"),
            ]
        )
        == 2
    )
    assert "a.tif: no such image file" in capsys.readouterr().err


def test_drift_eval_on_synthetic_textures(tmp_path, capsys):
    out = tmp_path / "eval.json"
    assert (
        main(
            [
                "drift-eval",
                "--methods",
                "pm",
                "--size",
                "256",
                "--max-drift",
                "5",
                "--max-rotation",
                "2",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    rows = json.loads(out.read_text())
    assert rows[0]["method"] == "pm" and rows[0]["valid_median"] < 0.5
    assert "valid_median" in capsys.readouterr().out
    assert main(["drift-eval", "--methods", "pm,bogus"]) == 2


def test_track_option_defaults_are_tracks_own():
    from kit.cli import build_parser
    from kit.drift.track import DEFAULT_METHOD, TrackParams

    defaults = TrackParams()
    for command in (["drift", "a.tif", "b.tif", "--out", "x.nc"], ["drift-eval"]):
        args = build_parser(command[0]).parse_args(command)
        assert args.grid_step == defaults.grid_step
        assert args.template == defaults.template
        assert args.search == defaults.search
        assert args.weights == defaults.superlim_weights
    args = build_parser("drift").parse_args(["drift", "a.tif", "b.tif", "--out", "x.nc"])
    assert args.method == DEFAULT_METHOD
