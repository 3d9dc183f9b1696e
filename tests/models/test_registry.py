"""A model type added through the registry alone is a model type everywhere: configs check it,
the factory builds it, `autoice train --models` lists it and it keeps the shared contract."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from kit.cli import main
from kit.config import config_from_dict
from kit.errors import KitError
from kit.experiment.config import ExperimentConfig
from kit.models import MODEL_TYPES, ModelConfig, build_model, register_model
from kit.models.factory import poolings, type_settings
from kit.models.heads import CLASSIFICATION, ChartHeads

from .test_contract import CONTRACT, check_registration

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class ToyNet(nn.Module):
    """Two 3x3 convolutions at full resolution and the kit's chart heads: no pooling, so any
    input size works as it is."""

    def __init__(self, in_channels: int, kinds, width: int, regression_scale: float) -> None:
        super().__init__()
        self.kinds = dict(kinds)
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1),
            nn.ReLU(),
        )
        self.heads = ChartHeads(width, self.kinds, regression_scale)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.heads(self.body(x))


def register_toy() -> None:
    @register_model(
        "toy",
        settings=("filters", "extra"),
        sic_head=CLASSIFICATION,
        poolings=lambda config: 0,
        example={"filters": [6, 6]},
        description="two convolutions at full resolution (a test's toy)",
    )
    def build_toy(config, in_channels, kinds, regression_scale):
        return ToyNet(in_channels, kinds, config.filters[0] if config.filters else 8,
                      regression_scale)  # fmt: skip


@pytest.fixture
def toy_type():
    """The toy registered for one test; the registry holds the kit's own types again after."""
    with MODEL_TYPES.restored():
        register_toy()
        yield MODEL_TYPES["toy"]
    assert "toy" not in MODEL_TYPES


def test_toy_type_is_checked_built_and_listed(toy_type, capsys):
    assert MODEL_TYPES.names()[-1] == "toy"
    config = config_from_dict(ModelConfig, {"type": "toy", "filters": [6, 6]}, "model")
    assert config.resolved_sic_head == CLASSIFICATION and poolings(config) == 0
    assert type_settings()["filters"] == ("unet", "multitask_unet", "toy")
    assert type_settings()["extra"] == ("smp", "toy")
    with pytest.raises(KitError, match="model.levels applies to type unet, not toy"):
        ModelConfig(type="toy", levels=2)
    with pytest.raises(
        KitError, match="model.filters applies to type unet or multitask_unet or toy"
    ):
        ModelConfig(type="smp", filters=(4, 4))
    with pytest.raises(KitError, match="allowed: 'unet', 'multitask_unet', 'smp', 'toy'"):
        config_from_dict(ModelConfig, {"type": "toys"}, "model")
    experiment = ExperimentConfig.from_dict({"model": {"type": "toy", "filters": [6, 6]}})
    assert isinstance(build_model(experiment.model, 3, ["SOD"]), ToyNet)
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--models"])
    assert exit_.value.code == 0
    listing = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in listing] == ["unet", "multitask_unet", "smp", "toy"]
    assert listing[-1].endswith("two convolutions at full resolution (a test's toy)")


@pytest.mark.parametrize("check", CONTRACT, ids=lambda check: check.__name__)
def test_toy_type_keeps_the_shared_contract(toy_type, check):
    check_registration(toy_type)
    check(ModelConfig(type="toy", **toy_type.example))


def test_a_type_is_registered_once_and_gone_after_the_test():
    assert MODEL_TYPES.names() == ("unet", "multitask_unet", "smp")
    with pytest.raises(KitError, match="model type 'unet' is already registered"):
        register_model("unet")(lambda *args: None)
    with pytest.raises(KitError, match="sic_head 'ordinal'"):
        register_model("ordinal", sic_head="ordinal")
    with pytest.raises(KitError, match="model.type 'toy': allowed unet, multitask_unet, smp"):
        ModelConfig(type="toy")
