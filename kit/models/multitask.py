"""Chart models built on the U-Net: the starter baseline and the MMSeaIce multi-task U-Net.

`ChartUNet` is the AutoICE starter baseline: one U-Net, a classification head per chart.
MMSeaIce (Chen et al. 2024) predicts SIC, SOD and FLOE with one U-Net (filters 32, 32, 64, 64)
and three heads; SIC as a regression trained with MSE worked best. With `separate_decoders`
each chart gets its own decoder on the shared encoder features.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from kit.models.heads import CLASSIFICATION, REGRESSION, ChartHeads
from kit.models.registry import register_model
from kit.models.unet import UNet, UNetDecoder, UNetEncoder, resolve_filters

#: MMSeaIce's filters per resolution (three poolings).
MMSEAICE_FILTERS: tuple[int, ...] = (32, 32, 64, 64)


class MultiTaskUNet(nn.Module):
    """Shared encoder; shared decoder (default) or one per chart; one head per chart.

    `kinds` maps each chart to its head kind (see `kit.models.heads.head_kinds`).
    """

    def __init__(
        self,
        in_channels: int,
        kinds: Mapping[str, str],
        filters: Sequence[int] = MMSEAICE_FILTERS,
        decoder_filters: Sequence[int] | None = None,
        separate_decoders: bool = False,
        regression_scale: float = 1.0,
    ):
        super().__init__()
        self.kinds = dict(kinds)
        self.filters = resolve_filters(None, filters)
        self.encoder = UNetEncoder(in_channels, self.filters)
        self.separate_decoders = separate_decoders
        if separate_decoders:
            self.decoders = nn.ModuleDict(
                {c: UNetDecoder(self.filters, decoder_filters) for c in self.kinds}
            )
            widths = {c: d.out_channels for c, d in self.decoders.items()}
            self.heads = ChartHeads(widths, self.kinds, regression_scale)
        else:
            self.decoder = UNetDecoder(self.filters, decoder_filters)
            self.heads = ChartHeads(self.decoder.out_channels, self.kinds, regression_scale)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        features = self.encoder(x)
        if self.separate_decoders:
            return self.heads({c: decoder(features) for c, decoder in self.decoders.items()})
        return self.heads(self.decoder(features))


class ChartUNet(nn.Module):
    """The AutoICE starter baseline: one plain U-Net and a classification head per chart."""

    def __init__(
        self,
        in_channels: int,
        kinds: Mapping[str, str],
        levels: int | None = None,
        filters: Sequence[int] | None = None,
        regression_scale: float = 1.0,
    ):
        super().__init__()
        self.kinds = dict(kinds)
        self.unet = UNet(in_channels, levels=levels, filters=filters)
        self.heads = ChartHeads(self.unet.out_channels, self.kinds, regression_scale)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.heads(self.unet(x))


#: Poolings of the plain U-Net when neither `levels` nor `filters` is given.
DEFAULT_LEVELS = 4


def _unet_poolings(config) -> int:
    if config.levels is not None:
        return config.levels
    return len(config.filters) - 1 if config.filters else DEFAULT_LEVELS


def _multitask_poolings(config) -> int:
    return len(config.filters or MMSEAICE_FILTERS) - 1


@register_model(
    "unet",
    settings=("levels", "filters"),
    sic_head=CLASSIFICATION,
    poolings=_unet_poolings,
    example={"levels": 2, "filters": [4, 4, 8]},
    description="the AutoICE starter's U-Net, a classification head per chart",
)
def build_chart_unet(config, in_channels: int, kinds, regression_scale: float) -> ChartUNet:
    """`ChartUNet` from a `ModelConfig` of type ``unet`` (4 poolings by default)."""
    levels = config.levels if config.levels is not None or config.filters else DEFAULT_LEVELS
    return ChartUNet(in_channels, kinds, levels=levels, filters=config.filters,
                     regression_scale=regression_scale)  # fmt: skip


@register_model(
    "multitask_unet",
    settings=("filters", "decoder_filters", "separate_decoders"),
    sic_head=REGRESSION,
    poolings=_multitask_poolings,
    example={"filters": [4, 4, 8], "sic_units": "fraction"},
    description="MMSeaIce's multi-task U-Net: shared encoder, shared or per-chart decoders",
)
def build_multitask_unet(config, in_channels: int, kinds, regression_scale: float) -> MultiTaskUNet:
    """`MultiTaskUNet` from a `ModelConfig` of type ``multitask_unet`` (MMSeaIce's filters by
    default)."""
    return MultiTaskUNet(
        in_channels,
        kinds,
        filters=config.filters or MMSEAICE_FILTERS,
        decoder_filters=config.decoder_filters,
        separate_decoders=config.separate_decoders,
        regression_scale=regression_scale,
    )
