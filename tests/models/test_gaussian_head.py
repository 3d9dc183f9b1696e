"""The Gaussian SIC head (`model.sic_head: gaussian`): outputs, units, its loss, training and the
variance it hands to prediction."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from kit.data.config import DataConfig
from kit.errors import KitError
from kit.experiment.predict import Predictor
from kit.models import ModelConfig, MultiTaskLoss, build_model
from kit.models.heads import GAUSSIAN, scores_to_classes, to_scores
from kit.models.losses import ChartLossConfig, LossConfig, masked_gaussian_nll


def test_a_gaussian_head_gives_the_value_and_its_log_variance():
    config = ModelConfig(type="multitask_unet", filters=(4, 8), sic_head="gaussian")
    model = build_model(config, 2, ["SIC", "SOD"])
    assert model.kinds == {"SIC": GAUSSIAN, "SOD": "classification"}
    out = model(torch.randn(1, 2, 16, 16))
    assert out["SIC"].shape == (1, 2, 16, 16) and out["SOD"].shape == (1, 6, 16, 16)
    classes = scores_to_classes(to_scores(out, model.kinds), model.kinds)["SIC"]
    expected = out["SIC"][:, 0].clamp(0, 10).round().to(torch.uint8)
    assert torch.equal(classes, expected)  # the class comes from the value alone


def test_a_fraction_gaussian_head_reports_tenths_and_tenths_squared():
    torch.manual_seed(0)
    tenths = build_model(ModelConfig(filters=(4, 8), sic_head="gaussian"), 2, ["SIC"])
    torch.manual_seed(0)
    fraction = build_model(
        ModelConfig(filters=(4, 8), sic_head="gaussian", sic_units="fraction"), 2, ["SIC"]
    )
    x = torch.randn(1, 2, 16, 16)
    raw, scaled = tenths(x)["SIC"], fraction(x)["SIC"]  # same weights, other units
    torch.testing.assert_close(scaled[:, 0], 10 * raw[:, 0])
    torch.testing.assert_close(scaled[:, 1], raw[:, 1] + 2 * math.log(10))


def test_gaussian_nll_is_torchs_on_the_valid_pixels_in_the_learned_units():
    torch.manual_seed(1)
    prediction = torch.randn(2, 2, 5, 5) * 3
    target = torch.randint(0, 11, (2, 5, 5))
    target[0, :2] = 255
    valid = target != 255
    expected = nn.GaussianNLLLoss(eps=1e-6)(
        prediction[:, 0][valid], target[valid].float(), prediction[:, 1][valid].exp()
    )
    torch.testing.assert_close(masked_gaussian_nll(prediction, target), expected)
    on_fractions = nn.GaussianNLLLoss(eps=1e-6)(
        prediction[:, 0][valid] / 10, target[valid].float() / 10,
        prediction[:, 1][valid].exp() / 100,
    )  # fmt: skip
    torch.testing.assert_close(masked_gaussian_nll(prediction, target, 10.0), on_fractions)
    assert masked_gaussian_nll(prediction, torch.full_like(target, 255)).item() == 0.0


def test_gaussian_heads_take_gaussian_nll_and_nothing_else():
    kinds = {"SIC": GAUSSIAN, "SOD": "classification"}
    configs = LossConfig().for_charts(kinds)
    assert configs["SIC"] == ChartLossConfig(type="gaussian_nll", weight=2.0)
    MultiTaskLoss(configs, kinds)
    with pytest.raises(KitError, match="type mse does not fit a gaussian head"):
        MultiTaskLoss({**configs, "SIC": ChartLossConfig(type="mse")}, kinds)
    regression = {"SIC": "regression"}
    with pytest.raises(KitError, match="type gaussian_nll does not fit a regression head"):
        MultiTaskLoss({"SIC": ChartLossConfig(type="gaussian_nll")}, regression)
    with pytest.raises(KitError, match="class_weights apply to ce and focal, not gaussian_nll"):
        ChartLossConfig(type="gaussian_nll", class_weights="median_frequency")


class ConstantVariance(nn.Module):
    """Per-pixel SIC with a fixed predicted variance of 4 (log 4)."""

    kinds = {"SIC": GAUSSIAN}

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.sic = nn.Conv2d(3, 1, 1)

    def forward(self, x):
        value = 5 + 3 * self.sic(x)
        return {"SIC": torch.cat([value, torch.full_like(value, math.log(4.0))], dim=1)}


def test_prediction_adds_the_predicted_variance_to_the_spread():
    x = torch.randn(3, 12, 10)
    predictor = Predictor([ConstantVariance()], DataConfig(), ["a", "b", "c"], "cpu", tta=True)
    sic = predictor.distributions(x)["SIC"]
    torch.testing.assert_close(sic[1], torch.full_like(sic[1], 4.0), rtol=1e-4, atol=1e-4)
    scores = predictor.scores(x)["SIC"]
    assert scores.shape == (1, 12, 10) and torch.equal(scores[0], sic[0])  # the log-variance
    # is never averaged into the value the class comes from


def test_a_gaussian_model_trains_and_predicts_with_its_own_variance(tmp_path):
    from kit.experiment.train import train
    from tests.tiny_runs import tiny_config, tiny_dataset

    data = tiny_dataset(tmp_path / "data", n_train=2, n_test=0, size=64)
    config = tiny_config(
        data, tmp_path / "run", tmp_path / "cache", train={"epochs": 1, "val_fraction": 0.5},
        data={"epoch_len": 2},
        model={"type": "multitask_unet", "filters": [4, 8], "sic_head": "gaussian",
               "sic_units": "fraction"},
    )  # fmt: skip
    result = train(config, progress=False)
    assert np.isfinite(result.history[0]["loss_SIC"])  # the Gaussian NLL (may be negative)
    predictor = Predictor.from_checkpoints([result.best_checkpoint], device="cpu")
    assert predictor.kinds["SIC"] == GAUSSIAN and predictor.calibration is not None
    x = torch.randn(len(predictor.channels), 20, 20)
    variance = predictor.distributions(x)["SIC"][1]
    assert (variance > 0).all()  # no TTA, one model: all of it predicted
