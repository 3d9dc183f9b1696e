"""A drift method added through the registry alone is a drift method everywhere: `track` runs
it with its own setting, `autoice drift`, `drift-eval` and `drift-series` offer it and its
option with help, and it keeps the shared method contract."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kit.cli import build_parser, main
from kit.drift.cli import _track_params, option_help
from kit.drift.params import TrackParams, make_params, params_class
from kit.drift.reasons import Reason
from kit.drift.registry import DRIFT_METHODS, DriftSetting, register_drift_method
from kit.drift.track import METHODS, track
from kit.errors import KitError

from .test_method_contract import CONTRACT, PAIR, check_registration


def phase_vectors(image1, image2, x, y, settings, still, extra):
    """Global phase correlation: one integer shift for the whole image, at every point;
    invalid where it exceeds `phase_max_shift`."""
    one, two = np.nan_to_num(image1), np.nan_to_num(image2)
    cross = np.fft.fft2(two) * np.conj(np.fft.fft2(one))
    surface = np.real(np.fft.ifft2(cross / np.maximum(np.abs(cross), 1e-12)))
    row, col = np.unravel_index(np.argmax(surface), surface.shape)
    dv = row - surface.shape[0] if row > surface.shape[0] // 2 else row
    du = col - surface.shape[1] if col > surface.shape[1] // 2 else col
    extra["phase_peak"] = float(surface.max())
    far = np.hypot(du, dv) > settings.phase_max_shift
    reason = np.full(x.size, Reason.NO_MATCH if far else Reason.VALID, np.uint8)
    missing = np.full(x.size, np.nan)
    return np.full(x.size, float(du)), np.full(x.size, float(dv)), missing, missing, reason, missing


@pytest.fixture
def phase_method():
    """The toy registered for one test; afterwards the registry and the settings are the kit's
    own again."""
    with DRIFT_METHODS.restored():
        register_drift_method(
            "phase",
            description="global phase correlation (a test's toy)",
            uses=("phase_max_shift",),
            settings={"phase_max_shift": DriftSetting(40.0, "largest shift kept (px)")},
        )(phase_vectors)
        yield DRIFT_METHODS["phase"]
    assert "phase" not in METHODS and params_class() is TrackParams


def test_toy_method_tracks_with_its_own_setting(phase_method):
    assert METHODS.names()[-1] == "phase"
    result = track(PAIR.image1, PAIR.image2, "phase", grid_step=64)
    assert result.valid.all() and (result.u == 5).all() and (result.v == -3).all()
    assert result.extra["phase_peak"] > 0.1
    strict = track(PAIR.image1, PAIR.image2, "phase", grid_step=64, phase_max_shift=2)
    assert not strict.valid.any() and (strict.reason == Reason.NO_MATCH).all()
    assert make_params(phase_max_shift=5).phase_max_shift == 5.0
    with pytest.raises(KitError, match=r"drift.phase_max_shift: expected a number, got 'far'"):
        make_params(phase_max_shift="far")


def test_toy_method_is_offered_by_the_cli(phase_method, tmp_path, capsys):
    for command in (["drift", "a", "b", "--out", "x.nc"], ["drift-series", "a", "b", "--out", "x"]):
        parser = build_parser(command[0])
        args = parser.parse_args([*command, "--method", "phase", "--phase-max-shift", "3"])
        assert args.method == "phase" and _track_params(args)["phase_max_shift"] == 3.0
        with pytest.raises(SystemExit):
            main([command[0], "--help"])
        text = capsys.readouterr().out
        assert "{ft,pm,ft+pm,superlim,superlim+pm,phase}" in text
        folded = " ".join(text.split())  # the wrapped help, its spaces folded
        assert "phase: global phase correlation (a test's toy)" in folded
        assert "--phase-max-shift SHIFT phase: largest shift kept (px) (default: 40.0)" in folded
    assert option_help("phase_max_shift") == "phase: largest shift kept (px)"
    assert build_parser("drift-eval").parse_args(["drift-eval"]).methods.endswith(",phase")
    out = tmp_path / "rows.json"
    argv = ["drift-eval", "--methods", "pm,phase", "--size", "192", "--max-rotation", "0"]
    assert main([*argv, "--search", "12", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert [row["method"] for row in rows] == ["pm", "phase"]
    assert rows[1]["fraction_valid"] == 1.0
    assert "phase" in capsys.readouterr().out


@pytest.mark.parametrize("check", CONTRACT, ids=lambda check: check.__name__)
def test_toy_method_keeps_the_shared_contract(phase_method, check):
    check_registration(phase_method)
    check("phase")


def test_methods_and_settings_are_registered_once():
    assert METHODS.names() == ("ft", "pm", "ft+pm", "superlim", "superlim+pm")
    with pytest.raises(KitError, match="drift method 'pm' is already registered"):
        register_drift_method("pm", description="again")(phase_vectors)
    with DRIFT_METHODS.restored():
        register_drift_method("clash", description="x", settings={"search": DriftSetting(1, "")})(
            phase_vectors
        )
        with pytest.raises(KitError, match="setting search is a TrackParams setting"):
            make_params()
    with DRIFT_METHODS.restored():
        register_drift_method("typo", description="x", uses=("serach",))(phase_vectors)
        with pytest.raises(KitError, match="drift method typo: uses serach, which is no setting"):
            track(PAIR.image1, PAIR.image2, "typo")
    with pytest.raises(KitError, match="unknown drift method; choose one of ft, pm, ft"):
        track(PAIR.image1, PAIR.image2, "phase")
