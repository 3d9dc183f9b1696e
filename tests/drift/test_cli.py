import json

import numpy as np
import pytest
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


def test_every_tracking_setting_is_an_option_with_tracks_default():
    import dataclasses

    from kit.cli import build_parser
    from kit.drift.cli import _track_params, track_option
    from kit.drift.track import DEFAULT_METHOD, TrackParams

    defaults = dataclasses.asdict(TrackParams())
    for command in (["drift", "a.tif", "b.tif", "--out", "x.nc"], ["drift-eval"]):
        parser = build_parser(command[0])
        assert _track_params(parser.parse_args(command)) == defaults
        assert len(defaults) == 23 and "refine_search" in defaults
        for name, value in defaults.items():  # each option given its default parses back to it
            if value is not None:
                text = ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
                args = parser.parse_args([*command, track_option(name), text])
                assert _track_params(args) == defaults, name
    args = build_parser("drift").parse_args(["drift", "a.tif", "b.tif", "--out", "x.nc"])
    assert args.method == DEFAULT_METHOD
    given = build_parser("drift").parse_args(
        ["drift", "a", "b", "--out", "x.nc", "--refine-search", "12", "--angles", "0,-5,5"]
        + ["--clip", "2,98", "--weights", "w.pt", "--ft-max-drift", "50"]
    )
    params = _track_params(given)
    assert params["refine_search"] == 12 and params["angles"] == (0.0, -5.0, 5.0)
    assert params["clip"] == (2.0, 98.0) and params["superlim_weights"] == "w.pt"
    assert params["max_drift"] == 50.0


@pytest.mark.parametrize(
    "option, message",
    [
        (["--refine-search", "0"], "--refine-search 0: must be at least 1"),
        (["--template", "34"], "--template 34: must be an odd number of pixels >= 5"),
        (["--clip", "99,1"], "--clip 99,1: expected two percentiles low,high"),
    ],
)
def test_bad_tracking_settings_are_named(moving_pair, tmp_path, capsys, option, message):
    one, two = _write_pair(tmp_path, moving_pair)
    assert main(["drift", one, two, "--out", str(tmp_path / "o.nc"), *option]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o.nc").exists()


def test_refine_search_reaches_ft_plus_pm(moving_pair, tmp_path):
    one, two = _write_pair(tmp_path, moving_pair)
    outs = {}
    for search in (8, 1):
        out = tmp_path / f"r{search}.nc"
        assert main(["drift", one, two, "--out", str(out), "--refine-search", str(search)]) == 0
        with xr.open_dataset(out) as ds:
            outs[search] = ds["reason"].values
    # a +-1 px window leaves the peak on the border far more often than +-8 px
    assert (outs[1] == 4).sum() > (outs[8] == 4).sum()
