"""Calibration: fitted values on synthetic pixels of known miscalibration, the NLL and ECE
against their definitions, the end of `autoice train`, `autoice calibrate` and its bad input."""

import math

import numpy as np
import pytest
import torch

from kit.errors import KitError
from kit.experiment.calibration import (
    calibrate_checkpoint,
    classification_nll,
    expected_calibration_error,
    fit_pixels,
    regression_nll,
)
from kit.experiment.checkpoint import load_checkpoint
from kit.experiment.predict import Predictor
from kit.experiment.uncertainty import CALIBRATION_KEY, SIC_STD_FLOOR, Calibration
from tests.cli_runs import fails


def _sampled(probabilities, rng):
    """One class per row drawn from `probabilities` [n, K]."""
    return (probabilities.cumsum(axis=1) > rng.random((len(probabilities), 1))).argmax(axis=1)


@pytest.mark.parametrize("power", [0.5, 2.0])
def test_temperature_undoes_a_known_over_or_under_confidence(power):
    rng = np.random.default_rng(1)
    truth = rng.dirichlet(np.full(6, 0.5), size=30000)
    target = _sampled(truth, rng)
    shown = truth**power / (truth**power).sum(axis=1, keepdims=True)
    temperature, metrics = fit_pixels({"probabilities": shown, "target": target})
    assert temperature == pytest.approx(power, rel=0.05)
    assert metrics["nll_after"] < metrics["nll_before"] and metrics["pixels"] == 30000
    assert metrics["nll_after"] == pytest.approx(classification_nll(shown, target, temperature))
    assert metrics["ece_after"] < 1.5 < metrics["ece_before"]


def test_sic_std_factor_matches_the_errors_spread():
    """Regressed SIC off by N(0, 1.5) classes, with no spread of its own: the fitted factor makes
    the standard deviation (floor x factor) about 1.5 (a little less: rounding is half a class)."""
    rng = np.random.default_rng(2)
    mean = rng.uniform(1, 9, 20000)
    target = np.clip(np.round(mean + rng.normal(0, 1.5, mean.size)), 0, 10).astype(np.int64)
    variance = np.zeros_like(mean)
    scale, metrics = fit_pixels({"mean": mean, "variance": variance, "target": target})
    assert 1.3 < scale * SIC_STD_FLOOR < 1.7
    assert metrics["nll_after"] < metrics["nll_before"]
    assert metrics["ece_after"] < metrics["ece_before"]


def test_nll_and_ece_follow_their_definitions():
    probabilities = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.3, 0.4, 0.3]])
    target = np.array([0, 1, 1])
    assert classification_nll(probabilities, target, 1.0) == pytest.approx(
        -np.mean(np.log([0.7, 0.1, 0.4]))
    )
    scaled = probabilities**0.5 / (probabilities**0.5).sum(axis=1, keepdims=True)
    assert classification_nll(probabilities, target, 2.0) == pytest.approx(
        -np.mean(np.log(scaled[[0, 1, 2], target]))
    )
    one = regression_nll(np.array([3.0]), np.array([0.0]), np.array([10]), 1.0)
    assert one == pytest.approx(-math.log(1e-12))  # no probability: the floor
    confidence = np.array([1.0, 0.95, 0.91, 0.5, 0.55, 0.05])
    correct = np.array([True, True, False, True, False, False])
    # bins: [0.9, 1] holds 1, 0.95, 0.91 (acc 2/3, conf 0.9533); [0.5, 0.6) holds 0.5, 0.55
    # (acc 1/2, conf 0.525); [0, 0.1) holds 0.05 (acc 0, conf 0.05)
    expected = (3 * abs(2 / 3 - 2.86 / 3) + 2 * abs(0.5 - 0.525) + 1 * 0.05) / 6
    assert expected_calibration_error(confidence, correct) == pytest.approx(100 * expected)
    assert math.isnan(expected_calibration_error(np.array([]), np.array([])))


def test_training_stores_a_calibration_fitted_on_its_validation_scenes(calibrated_run):
    from kit.data.selection import split_scenes

    checkpoint, data, config = calibrated_run
    state = torch.load(checkpoint, weights_only=True)  # plain data only
    calibration = Calibration.from_dict(state[CALIBRATION_KEY])
    tc = config.train
    _, validation = split_scenes(data, tc.val_scenes, tc.val_fraction, tc.seed)
    assert calibration.scenes == tuple(validation["scene_id"]) and len(calibration.scenes) == 1
    assert sorted(calibration.temperatures) == ["FLOE", "SOD"]  # SIC is a regression head
    assert calibration.sic_std_scale != 1.0 and calibration.tta is False
    for chart, metrics in calibration.metrics.items():
        assert metrics["nll_after"] <= metrics["nll_before"] + 1e-9, chart
        assert 0 < metrics["pixels"] <= 20_000


def test_calibrate_command_adds_a_calibration_to_a_checkpoint_without_one(
    calibrated_run, tmp_path, capsys
):
    from kit.cli import main
    from kit.experiment.checkpoint import save_checkpoint

    checkpoint, data, _ = calibrated_run
    state = load_checkpoint(checkpoint)
    stored = Calibration.from_dict(state.pop(CALIBRATION_KEY))
    older = save_checkpoint(tmp_path / "older.pt", state)  # as written before issue 24
    assert Predictor.from_checkpoints([older], device="cpu").calibration is None
    args = ["calibrate", "--checkpoint", older, "--data", data, "--output", tmp_path / "new.pt",
            "--cache-dir", tmp_path / "cache", "--device", "cpu"]  # fmt: skip
    assert main([str(a) for a in args]) == 0
    out = capsys.readouterr().out
    assert "NLL before" in out and "SOD    T = " in out and "wrote" in out
    assert CALIBRATION_KEY not in load_checkpoint(older)  # --output leaves it alone
    fitted = Calibration.from_dict(
        torch.load(tmp_path / "new.pt", weights_only=True)["calibration"]
    )
    # same scenes, same seed: what training fitted (to float noise: other thread counts)
    assert (
        fitted.scenes == stored.scenes and fitted.temperatures.keys() == stored.temperatures.keys()
    )
    for chart, temperature in fitted.temperatures.items():
        assert temperature == pytest.approx(stored.temperatures[chart], rel=1e-4)
    assert fitted.sic_std_scale == pytest.approx(stored.sic_std_scale, rel=1e-4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "new.pt", "older.pt"]
    assert Predictor.from_checkpoints([tmp_path / "new.pt"], device="cpu").calibration == fitted


def test_calibrating_named_scenes_with_fewer_pixels_is_seeded(calibrated_run, tmp_path):
    from kit.data.selection import split_scenes

    checkpoint, data, _ = calibrated_run
    training, _ = split_scenes(data, val_fraction=0.34)
    ids = list(training["scene_id"][:2])
    runs = [
        calibrate_checkpoint(checkpoint, data, scenes=ids, output=tmp_path / f"{i}.pt",
                             max_pixels=300, seed=seed, progress=False, device="cpu",
                             cache_dir=str(tmp_path / "cache"))[1]
        for i, seed in enumerate((5, 5, 6))
    ]  # fmt: skip
    assert runs[0] == runs[1] and runs[0].scenes == tuple(ids)
    assert all(m["pixels"] == 600 for m in runs[0].metrics.values())
    assert runs[2].temperatures != runs[0].temperatures  # another draw


def test_calibrate_refuses_test_scenes_and_missing_validation(calibrated_run, tmp_path, capsys):
    from kit.data.selection import prediction_scenes
    from kit.experiment.checkpoint import save_checkpoint

    checkpoint, data, config = calibrated_run
    base = ["calibrate", "--checkpoint", checkpoint]
    line = fails(capsys, *base, "--data", data / "test")
    assert "--data" in line and "a test folder" in line
    (tmp_path / "empty").mkdir()
    assert "no AutoICE scenes" in fails(capsys, *base, "--data", tmp_path / "empty")
    test_id = prediction_scenes(data)["scene_id"][0]
    line = fails(capsys, *base, "--data", data, "--scenes", test_id)
    assert f"--scenes: not among the training scenes: {test_id}" in line
    state = load_checkpoint(checkpoint)
    state["config"]["train"]["val_fraction"] = 0.0
    no_validation = save_checkpoint(tmp_path / "noval.pt", state)
    line = fails(capsys, "calibrate", "--checkpoint", no_validation, "--data", data)
    assert "noval.pt: its training kept no validation scene" in line and "--scenes" in line
    line = fails(capsys, "calibrate", "--checkpoint", tmp_path / "absent.pt", "--data", data)
    assert "--checkpoint" in line and "absent.pt" in line
    assert "--pixels 0" in fails(capsys, *base, "--data", data, "--pixels", 0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "noval.pt"]


def test_training_can_leave_the_calibration_out(tmp_path):
    from kit.experiment.train import train
    from tests.tiny_runs import tiny_config, tiny_dataset

    data = tiny_dataset(tmp_path / "data", n_train=2, n_test=0, size=64)
    config = tiny_config(data, tmp_path / "run", tmp_path / "cache",
                         train={"epochs": 1, "val_fraction": 0.5, "calibrate": False},
                         data={"epoch_len": 1})  # fmt: skip
    result = train(config, progress=False)
    assert CALIBRATION_KEY not in load_checkpoint(result.best_checkpoint)
    with pytest.raises(KitError, match="train.calibrate"):
        tiny_config(data, tmp_path / "run", tmp_path / "cache", train={"calibrate": "yes"})


@pytest.mark.parametrize(
    "stored, message",
    [
        ("T=2", "stored calibration is malformed"),
        ({"temperatures": {"SOD": "hot"}, "sic_std_scale": 1.0}, "stored calibration is malformed"),
        ({"temperatures": {"SOD": 0.0}, "sic_std_scale": 1.0}, "temperature of SOD must be"),
    ],
)
def test_a_malformed_stored_calibration_is_one_line_naming_the_checkpoint(
    calibrated_run, tmp_path, stored, message
):
    from kit.experiment.checkpoint import save_checkpoint

    checkpoint, _, _ = calibrated_run
    state = load_checkpoint(checkpoint)
    state[CALIBRATION_KEY] = stored
    bad = save_checkpoint(tmp_path / "bad.pt", state)
    with pytest.raises(KitError, match=f"bad.pt: calibration: .*{message}") as error:
        Predictor.from_checkpoints([bad], device="cpu")
    assert "\n" not in str(error.value)
