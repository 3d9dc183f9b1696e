"""Every model type builds from its config and returns one output per chart at input size."""

import pytest
import torch

from kit.charts import CHARTS, N_CLASSES
from kit.models import ModelConfig, build_model, predict_classes
from kit.models.multitask import MultiTaskUNet

CONFIGS = {
    "unet": ModelConfig(type="unet", levels=2, filters=[8, 8, 8]),
    "multitask_unet": ModelConfig(type="multitask_unet", filters=[8, 8, 16]),
    "multitask_separate": ModelConfig(
        type="multitask_unet", filters=[8, 8, 16], separate_decoders=True
    ),
    "multitask_sic_classes": ModelConfig(
        type="multitask_unet", filters=[8, 8, 16], sic_head="classification"
    ),
    "smp_unet": ModelConfig(type="smp", arch="Unet", encoder="resnet18"),
    "smp_deeplab": ModelConfig(type="smp", arch="DeepLabV3Plus", encoder="resnet18"),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.parametrize("size", [(64, 64), (50, 45)])
def test_model_output_shapes(name, size):
    torch.manual_seed(0)
    config = CONFIGS[name]
    model = build_model(config, in_channels=4, chart_names=CHARTS).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 4, *size))
    assert set(out) == set(CHARTS)
    sic_channels = 1 if config.resolved_sic_head == "regression" else N_CLASSES["SIC"]
    assert out["SIC"].shape == (2, sic_channels, *size)
    for chart in ("SOD", "FLOE"):
        assert out[chart].shape == (2, N_CLASSES[chart], *size)
    classes = predict_classes(out, model.kinds)
    for chart in CHARTS:
        assert classes[chart].dtype == torch.uint8
        assert int(classes[chart].max()) < N_CLASSES[chart]


def test_default_types_and_subsets_of_charts():
    model = build_model(ModelConfig(), in_channels=3, chart_names=["SOD"])
    assert isinstance(model, MultiTaskUNet) and model.filters == [32, 32, 64, 64]
    assert list(model(torch.randn(1, 3, 16, 16))) == ["SOD"]
    assert ModelConfig(type="unet").resolved_sic_head == "classification"
    assert ModelConfig(type="multitask_unet").resolved_sic_head == "regression"


def test_separate_decoders_are_independent():
    model = build_model(CONFIGS["multitask_separate"], 2, CHARTS)
    assert set(model.decoders) == set(CHARTS)
    assert model.decoders["SIC"] is not model.decoders["SOD"]


def test_sic_regression_is_clamped_and_rounded():
    outputs = {"SIC": torch.tensor([-3.0, 4.4, 4.6, 12.0, float("nan")]).view(1, 1, 1, 5)}
    classes = predict_classes(outputs, {"SIC": "regression"})["SIC"].flatten().tolist()
    assert classes == [0, 4, 5, 10, 0]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"type": "resnet"}, "allowed unet, multitask_unet, smp"),
        ({"type": "unet", "arch": "Unet"}, "model.arch applies to type smp"),
        ({"type": "smp", "filters": [8, 8]}, "model.filters applies"),
        ({"sic_head": "ordinal"}, "allowed classification, regression"),
        ({"type": "unet", "levels": -2}, r"model.levels must be in \[1, 8\], got -2"),
        ({"type": "unet", "levels": 12}, r"model.levels must be in \[1, 8\], got 12"),
        ({"filters": [8] * 10}, r"model.filters must list 2 to 9 channel counts .* got 10"),
        ({"decoder_filters": [8]}, r"model.decoder_filters must list 2 to 9"),
    ],
)
def test_bad_model_configs_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ModelConfig(**kwargs)


def test_unknown_smp_encoder_is_named():
    with pytest.raises(ValueError, match="smp model Unet/not_an_encoder"):
        build_model(ModelConfig(type="smp", encoder="not_an_encoder"), 2, CHARTS)
