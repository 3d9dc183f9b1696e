"""The SuperLIM network: a small SuperPoint-style network for SAR ice drift.

The fully convolutional network maps an image to two outputs at 1/8 resolution:
- a keypoint score map: 65 channels per 8 x 8 cell (64 pixel positions plus a "no keypoint"
  dustbin), turned into a full-resolution score map by a softmax and depth-to-space;
- dense, L2-normalised descriptors.

Its self-supervised training is `kit.drift.superlim.train`, its checkpoint file
`kit.drift.superlim.checkpoint`.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

CELL = 8


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class SuperLIM(nn.Module):
    """Shared VGG-style encoder (three 2x poolings) with a keypoint head and a descriptor head."""

    def __init__(
        self,
        channels: tuple[int, ...] = (16, 32, 64, 96),
        convs: tuple[int, ...] = (1, 1, 2, 2),
        head: int = 64,
        descriptor_dim: int = 64,
    ):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 1
        for i, (c, n) in enumerate(zip(channels, convs, strict=True)):
            layers += [_block(c_in if k == 0 else c, c) for k in range(n)]
            if i < len(channels) - 1:
                layers.append(nn.MaxPool2d(2))
            c_in = c
        self.encoder = nn.Sequential(*layers)
        self.keypoint_head = nn.Sequential(_block(c_in, head), nn.Conv2d(head, CELL * CELL + 1, 1))
        self.descriptor_head = nn.Sequential(_block(c_in, head), nn.Conv2d(head, descriptor_dim, 1))
        self.config = {
            "channels": list(channels),
            "convs": list(convs),
            "head": head,
            "descriptor_dim": descriptor_dim,
        }

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """image (B, 1, H, W) with H, W multiples of 8 -> keypoint logits (B, 65, H/8, W/8) and
        unit descriptors (B, D, H/8, W/8)."""
        features = self.encoder(image)
        logits = self.keypoint_head(features)
        descriptors = F.normalize(self.descriptor_head(features), dim=1)
        return logits, descriptors


def keypoint_map(logits: torch.Tensor) -> torch.Tensor:
    """Full-resolution keypoint scores (B, 1, H, W) from cell logits (softmax, drop dustbin)."""
    return F.pixel_shuffle(logits.softmax(dim=1)[:, :-1], CELL)


def cell_reliability(logits: torch.Tensor) -> torch.Tensor:
    """Per-cell probability of holding a keypoint, 1 - P(dustbin), shape (B, H/8, W/8)."""
    return 1.0 - logits.softmax(dim=1)[:, -1]


def network_input(image: np.ndarray) -> torch.Tensor:
    """(1, 1, H8, W8) tensor: the image standardised over its valid pixels, NaN -> 0, padded to
    multiples of 8 at the bottom and right."""
    image = np.asarray(image, dtype=np.float32)
    ok = np.isfinite(image)
    out = np.zeros(image.shape, np.float32)
    if ok.any():
        std = float(image[ok].std()) or 1.0
        out[ok] = (image[ok] - image[ok].mean()) / std
    ny, nx = image.shape
    out = np.pad(out, ((0, -ny % CELL), (0, -nx % CELL)))
    return torch.from_numpy(out)[None, None]


def sample_descriptors(desc: torch.Tensor, xy: torch.Tensor) -> torch.Tensor:
    """Unit descriptors (B, N, D) at pixel positions xy (B, N, 2) of 1/8-resolution maps."""
    h, w = desc.shape[-2:]
    cell_xy = (xy - (CELL - 1) / 2) / CELL  # position in cell units
    grid = torch.stack([(2 * cell_xy[..., 0] + 1) / w - 1, (2 * cell_xy[..., 1] + 1) / h - 1], -1)[
        :, None
    ]
    out = F.grid_sample(desc, grid, align_corners=False, padding_mode="border")[:, :, 0]
    return F.normalize(out, dim=1).transpose(1, 2)
