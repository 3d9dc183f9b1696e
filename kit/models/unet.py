"""The AI4SeaIce / AutoICE-starter U-Net with any number of levels, and its receptive field.

Each level is a block of two 3x3 convolutions (batch norm, ReLU); the encoder halves the grid with
2x2 max pooling between levels, the decoder upsamples bilinearly to the skip connection's exact
size (so any input size works, odd ones included), concatenates the skip and applies a block.
`levels` is the number of poolings, so a U-Net has `levels + 1` resolutions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

#: Deepest U-Net a config may ask for: AI4SeaIce compared 2 to 8 levels (8 sees ~245 km at 80 m).
MAX_LEVELS = 8


def default_filters(levels: int) -> list[int]:
    """AI4SeaIce's choice: 16 filters at the full-resolution level, 32 at every other level."""
    return [16] + [32] * levels


def resolve_filters(levels: int | None, filters: Sequence[int] | None) -> list[int]:
    """Filters per resolution (length levels + 1) from either or both arguments, checked."""
    if filters is None:
        if levels is None:
            raise ValueError("UNet needs `levels` or `filters`")
        return default_filters(levels)
    filters = [int(f) for f in filters]
    if levels is not None and len(filters) != levels + 1:
        raise ValueError(
            f"filters {filters} has {len(filters)} entries, levels={levels} needs {levels + 1}"
        )
    if len(filters) < 2 or min(filters) < 1:
        raise ValueError(f"filters {filters}: need at least two positive entries (one pooling)")
    return filters


class DoubleConv(nn.Sequential):
    """Two (3x3 convolution, batch norm, ReLU) layers: one U-Net block."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class UNetEncoder(nn.Module):
    """Blocks at each resolution with max pooling between; returns every level's features."""

    def __init__(self, in_channels: int, filters: Sequence[int]):
        super().__init__()
        self.filters = list(filters)
        inputs = [in_channels] + self.filters[:-1]
        self.blocks = nn.ModuleList(DoubleConv(i, o) for i, o in zip(inputs, self.filters))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for level, block in enumerate(self.blocks):
            if level > 0:
                x = F.max_pool2d(x, 2)
            x = block(x)
            features.append(x)
        return features


class UNetDecoder(nn.Module):
    """Bilinear upsampling to each skip's size, concatenation, block; ends at full resolution."""

    def __init__(self, encoder_filters: Sequence[int], filters: Sequence[int] | None = None):
        super().__init__()
        encoder_filters = list(encoder_filters)
        self.filters = list(filters) if filters is not None else encoder_filters[:-1]
        if len(self.filters) != len(encoder_filters) - 1:
            raise ValueError(
                f"decoder filters {self.filters} need {len(encoder_filters) - 1} entries "
                f"for encoder filters {encoder_filters}"
            )
        below = [encoder_filters[-1]] + self.filters[:0:-1]
        skips = encoder_filters[-2::-1]
        outs = self.filters[::-1]
        self.blocks = nn.ModuleList(DoubleConv(b + s, o) for b, s, o in zip(below, skips, outs))

    @property
    def out_channels(self) -> int:
        return self.filters[0]

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        x = features[-1]
        for block, skip in zip(self.blocks, features[-2::-1]):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skip], dim=1))
        return x


class UNet(nn.Module):
    """U-Net with `levels` poolings; features at full resolution, or logits with `out_channels`.

    `filters` gives the channels per resolution (length `levels + 1`); by default AI4SeaIce's
    16 at full resolution and 32 below.
    """

    def __init__(
        self,
        in_channels: int,
        levels: int | None = None,
        filters: Sequence[int] | None = None,
        out_channels: int | None = None,
    ):
        super().__init__()
        self.filters = resolve_filters(levels, filters)
        self.levels = len(self.filters) - 1
        self.encoder = UNetEncoder(in_channels, self.filters)
        self.decoder = UNetDecoder(self.filters)
        self.out_channels = out_channels if out_channels is not None else self.decoder.out_channels
        self.head = nn.Conv2d(self.decoder.out_channels, out_channels, 1) if out_channels else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.decoder(self.encoder(x))
        return self.head(y) if self.head is not None else y


@dataclass(frozen=True)
class ReceptiveField:
    """Receptive field in pixels of a U-Net's encoder (at its deepest level) and of the whole net."""

    levels: int
    encoder: int
    unet: int


def encoder_receptive_field(levels: int) -> int:
    """Exact receptive field of the encoder's deepest features, layer by layer.

    A 3x3 convolution adds 2 * jump; a 2x2 pooling adds jump and doubles it. With two
    convolutions per level this gives 9 * 2**levels - 4 (32, 68, 140, ... for 2, 3, 4 levels).
    """
    size, jump = 1, 1
    for level in range(levels + 1):
        if level > 0:
            size, jump = size + jump, 2 * jump
        size += 2 * 2 * jump
    return size


def receptive_field(levels: int) -> ReceptiveField:
    """AI4SeaIce eq. (8): receptive field of the encoder and of the whole U-Net.

    How far a pixel's prediction can see decides the depth: the encoder part is counted
    exactly (`encoder_receptive_field`); the paper's decoder adds 3 * 2**levels, so the whole
    U-Net sees 12 * 2**levels - 4 pixels: 44, 92, 188, 380, 764, 1532, 3068 for 2 to 8
    levels (the values the paper tabulates and uses to pick a depth).

    Parameters
    ----------
    levels : int
        Poolings of the U-Net (at least 1).

    Returns
    -------
    ReceptiveField
        ``levels``, and the receptive fields in pixels of the ``encoder`` and the ``unet``.

    Raises
    ------
    ValueError
        If `levels` is below 1.

    Examples
    --------
    >>> receptive_field(4)
    ReceptiveField(levels=4, encoder=140, unet=188)
    >>> [receptive_field(n).unet for n in range(2, 9)]
    [44, 92, 188, 380, 764, 1532, 3068]
    >>> receptive_field(0)
    Traceback (most recent call last):
    ...
    ValueError: levels must be at least 1, got 0
    """
    if levels < 1:
        raise ValueError(f"levels must be at least 1, got {levels}")
    encoder = encoder_receptive_field(levels)
    return ReceptiveField(levels=levels, encoder=encoder, unet=encoder + 3 * 2**levels)
