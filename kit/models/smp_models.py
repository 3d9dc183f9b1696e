"""Any segmentation-models-pytorch architecture and encoder with the kit's chart heads.

smp builds the network (e.g. Unet/resnet34, UnetPlusPlus, DeepLabV3Plus) with one output channel
per chart class (or one for a SIC regression); the channels are then split per chart, which is
the same as one linear head per chart on shared features. `encoder_weights=None` by default, so
nothing is downloaded at run time. Inputs of any size are padded (reflect) to the encoder's
stride and the outputs cropped back.
"""

from __future__ import annotations

from collections.abc import Mapping

import segmentation_models_pytorch as smp
import torch
import torch.nn.functional as F
from torch import nn

from kit.models.heads import REGRESSION, head_channels, scale_regression
from kit.models.registry import register_model


class SmpMultiTask(nn.Module):
    """An smp model whose output channels are split into `{chart: [B, C, H, W]}`."""

    def __init__(
        self,
        in_channels: int,
        kinds: Mapping[str, str],
        arch: str = "Unet",
        encoder: str = "resnet34",
        encoder_weights: str | None = None,
        regression_scale: float = 1.0,
        **smp_kwargs,
    ):
        super().__init__()
        self.kinds = dict(kinds)
        self.regression_scale = float(regression_scale)
        self.sizes = head_channels(self.kinds)
        try:
            self.net = smp.create_model(
                arch,
                encoder_name=encoder,
                encoder_weights=encoder_weights,
                in_channels=in_channels,
                classes=sum(self.sizes.values()),
                **smp_kwargs,
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise ValueError(f"smp model {arch}/{encoder}: {exc}") from exc
        self.stride = int(getattr(self.net.encoder, "output_stride", 32))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        height, width = x.shape[-2:]
        pad_h, pad_w = (-height) % self.stride, (-width) % self.stride
        if pad_h or pad_w:
            mode = "reflect" if pad_h < height and pad_w < width else "replicate"
            x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
        out = self.net(x)[..., :height, :width]
        outputs = dict(zip(self.sizes, torch.split(out, list(self.sizes.values()), dim=1)))
        return scale_regression(outputs, self.kinds, self.regression_scale)


@register_model(
    "smp",
    settings=("arch", "encoder", "encoder_weights", "extra"),
    sic_head=REGRESSION,
    example={"arch": "Unet", "encoder": "resnet18"},
    description="any segmentation-models-pytorch architecture and encoder (default Unet/resnet34)",
)
def build_smp(config, in_channels: int, kinds, regression_scale: float) -> SmpMultiTask:
    """`SmpMultiTask` from a `ModelConfig` of type ``smp``; `model.extra` goes to
    `smp.create_model`."""
    return SmpMultiTask(
        in_channels,
        kinds,
        arch=config.arch or "Unet",
        encoder=config.encoder or "resnet34",
        encoder_weights=config.encoder_weights,
        regression_scale=regression_scale,
        **config.extra,
    )
