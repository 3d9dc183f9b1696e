"""Losses ignore masked pixels, apply class and task weights, and check head compatibility."""

import pytest
import torch
import torch.nn.functional as F

from kit.charts import CHARTS, MASK, N_CLASSES
from kit.errors import KitError
from kit.models import ModelConfig, build_model, predict_classes, sic_scale
from kit.models.losses import (
    ChartLossConfig,
    LossConfig,
    MultiTaskLoss,
    focal_loss,
    masked_cross_entropy,
    masked_mse,
)


def _batch(seed=0, classes=6, size=8):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, classes, size, size, generator=gen)
    target = torch.randint(0, classes, (2, size, size), generator=gen)
    return logits, target


def test_cross_entropy_ignores_masked_pixels():
    logits, target = _batch()
    masked = target.clone()
    masked[:, :4] = MASK
    expected = F.cross_entropy(logits[:, :, 4:], target[:, 4:])
    assert torch.isclose(masked_cross_entropy(logits, masked), expected)
    # Whatever the logits under the mask, the loss is the same.
    noisy = logits.clone()
    noisy[:, :, :4] = 100.0
    assert torch.isclose(masked_cross_entropy(noisy, masked), expected)


def test_class_weights_are_a_weighted_mean():
    logits, target = _batch(classes=3)
    weights = torch.tensor([1.0, 2.0, 0.5])
    per_pixel = F.cross_entropy(logits, target, reduction="none")
    w = weights[target]
    expected = (w * per_pixel).sum() / w.sum()
    assert torch.isclose(masked_cross_entropy(logits, target, weights), expected)


def test_all_masked_gives_zero_with_a_gradient():
    logits, target = _batch()
    logits.requires_grad_(True)
    target[:] = MASK
    for loss in (masked_cross_entropy(logits, target), focal_loss(logits, target)):
        assert loss.item() == 0.0
        loss.backward()
    prediction = torch.zeros(2, 1, 8, 8, requires_grad=True)
    assert masked_mse(prediction, target).item() == 0.0


def test_mse_uses_valid_pixels_only():
    target = torch.tensor([[[3, MASK], [10, 0]]])
    prediction = torch.tensor([[[[4.0, 99.0], [8.0, 0.0]]]])
    assert masked_mse(prediction, target).item() == pytest.approx((1 + 4 + 0) / 3)


def test_focal_loss_with_gamma_zero_is_cross_entropy():
    logits, target = _batch(seed=3)
    target[0, 0] = MASK
    weights = torch.linspace(0.5, 2.0, 6)
    assert torch.isclose(
        focal_loss(logits, target, gamma=0.0, class_weights=weights),
        masked_cross_entropy(logits, target, weights),
    )
    # Focusing lowers the loss of easy pixels, so the focal loss is smaller.
    assert focal_loss(logits, target, gamma=2.0) < masked_cross_entropy(logits, target)


def test_multitask_loss_sums_task_weights_and_uses_class_weights():
    logits_sod, target_sod = _batch(seed=1, classes=6)
    sic = torch.rand(2, 1, 8, 8) * 10
    target_sic = torch.randint(0, 11, (2, 8, 8))
    kinds = {"SIC": "regression", "SOD": "classification"}
    configs = {
        "SIC": ChartLossConfig(type="mse", weight=2.0),
        "SOD": ChartLossConfig(type="ce", weight=0.5, class_weights="median_frequency"),
    }
    sod_weights = [0.5, 1, 1, 2, 2, 3]
    loss = MultiTaskLoss(configs, kinds, {"SOD": sod_weights})
    total, parts = loss({"SIC": sic, "SOD": logits_sod}, {"SIC": target_sic, "SOD": target_sod})
    assert torch.isclose(parts["SIC"], masked_mse(sic, target_sic))
    assert torch.isclose(
        parts["SOD"], masked_cross_entropy(logits_sod, target_sod, torch.tensor(sod_weights))
    )
    assert torch.isclose(total, 2.0 * parts["SIC"] + 0.5 * parts["SOD"])


@pytest.mark.parametrize(
    "configs, kinds, weights, message",
    [
        ({"SIC": ChartLossConfig(type="ce")}, {"SIC": "regression"}, None, "does not fit"),
        ({"SOD": ChartLossConfig(type="mse")}, {"SOD": "classification"}, None, "does not fit"),
        ({}, {"SOD": "classification"}, None, "no loss configured for chart"),
        (
            {"SOD": ChartLossConfig(class_weights="median_frequency")},
            {"SOD": "classification"},
            None,
            "median_frequency weights were not provided",
        ),
        (
            {"SOD": ChartLossConfig(class_weights="median_frequency")},
            {"SOD": "classification"},
            {"SOD": [1.0, 2.0]},
            "2 class weights for 6 classes",
        ),
    ],
)
def test_loss_configuration_errors(configs, kinds, weights, message):
    with pytest.raises(ValueError, match=message):
        MultiTaskLoss(configs, kinds, weights)


def test_bad_loss_config_values():
    with pytest.raises(ValueError, match="allowed ce, mse, focal"):
        ChartLossConfig(type="dice")
    with pytest.raises(ValueError, match="allowed none, median_frequency"):
        ChartLossConfig(class_weights="inverse")


def _random_model_losses(units: str) -> dict[str, float]:
    """Each chart's loss of an untrained multi-task U-Net on random inputs and class targets."""
    torch.manual_seed(0)
    config = ModelConfig(type="multitask_unet", filters=[8, 8, 16], sic_units=units)
    model = build_model(config, in_channels=3, chart_names=CHARTS)
    gen = torch.Generator().manual_seed(1)
    targets = {c: torch.randint(0, N_CLASSES[c], (2, 32, 32), generator=gen) for c in CHARTS}
    loss = MultiTaskLoss(LossConfig().for_charts(model.kinds), model.kinds, None, sic_scale(config))
    with torch.no_grad():
        _, parts = loss(model(torch.randn(2, 3, 32, 32, generator=gen)), targets)
    return {c: float(v) for c, v in parts.items()}


def test_sic_mse_on_fractions_is_on_the_scale_of_the_cross_entropies():
    fraction, tenths = _random_model_losses("fraction"), _random_model_losses("tenths")
    ce = max(fraction["SOD"], fraction["FLOE"])
    assert 0.1 * ce < fraction["SIC"] < 2.0 * ce  # O(1), like log(6) ~ 1.8
    assert tenths["SIC"] > 10 * ce  # on class values it swamps the classification losses


def test_mse_scale_divides_prediction_and_target():
    target = torch.tensor([[[3, MASK], [10, 0]]])
    prediction = torch.tensor([[[[4.0, 99.0], [8.0, 0.0]]]])
    assert masked_mse(prediction, target, 10.0).item() == pytest.approx((1 + 4 + 0) / 3 / 100)


def test_fraction_head_is_mapped_back_to_class_values_for_scoring():
    config = ModelConfig(type="multitask_unet", filters=[8, 8, 16], sic_units="fraction")
    model = build_model(config, in_channels=2, chart_names=["SIC"])
    conv = model.heads.convs["SIC"]
    with torch.no_grad():  # the head's convolution says 0.47 (a fraction) everywhere
        conv.weight.zero_()
        conv.bias.fill_(0.47)
        out = model(torch.randn(1, 2, 16, 16))
    assert torch.allclose(out["SIC"], torch.full_like(out["SIC"], 4.7))  # tenths
    assert set(predict_classes(out, model.kinds)["SIC"].flatten().tolist()) == {5}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"sic_units": "percent"}, "model.sic_units 'percent': allowed tenths, fraction"),
        (
            {"sic_units": "fraction", "sic_head": "classification"},
            "model.sic_units fraction needs sic_head: regression",
        ),
        ({"type": "unet", "sic_units": "fraction"}, "needs sic_head: regression"),
    ],
)
def test_sic_units_are_checked(kwargs, message):
    with pytest.raises(KitError, match=message):
        ModelConfig(**kwargs)
