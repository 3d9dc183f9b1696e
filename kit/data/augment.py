"""Batch augmentations with the same geometry for inputs and charts.

Each patch independently gets, with the probabilities of `AugmentConfig`:
1. one of the 8 dihedral transforms (quarter turns and a mirror; exact, no resampling);
2. a random affine (AI4SeaIce: rotation, scale, translation, shear within the configured bounds)
   and/or MMSeaIce's random scale (a zoom about the centre), combined into one warp:
   inputs bilinear, charts nearest; what comes from outside the patch is 0 for the inputs (the
   normalised mean) and MASK for the charts;
3. CutMix: a random box (area share drawn from Beta(beta, beta)) replaced by the same box of
   another patch of the batch, inputs and charts alike.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from kit import charts
from kit.data.config import AugmentConfig


def dihedral(t: torch.Tensor, k: int, inverse: bool = False) -> torch.Tensor:
    """The k-th of the 8 dihedral transforms of the last two axes, or its inverse.

    Transform k turns by k % 4 quarter turns (`torch.rot90`), then mirrors the columns if
    k >= 4; exact, no resampling. Augmentation and test-time augmentation both use it.

    Parameters
    ----------
    t : Tensor
        [..., H, W].
    k : int
        The transform, 0 (identity) to 7.
    inverse : bool
        Undo transform k instead: `dihedral(dihedral(t, k), k, inverse=True)` equals `t`.

    Returns
    -------
    Tensor
        [..., H, W], or [..., W, H] after an odd number of quarter turns.

    Examples
    --------
    >>> t = torch.arange(6).reshape(2, 3)
    >>> dihedral(t, 1)  # a quarter turn, counter-clockwise
    tensor([[2, 5],
            [1, 4],
            [0, 3]])
    >>> dihedral(t, 5)  # the same turn, then the columns mirrored
    tensor([[5, 2],
            [4, 1],
            [3, 0]])
    >>> all(torch.equal(dihedral(dihedral(t, k), k, inverse=True), t) for k in range(8))
    True
    """
    turns = k % 4
    if inverse:
        t = t.flip(-1) if k >= 4 else t
        return torch.rot90(t, -turns, dims=(-2, -1)) if turns else t
    out = torch.rot90(t, turns, dims=(-2, -1)) if turns else t
    return out.flip(-1) if k >= 4 else out


def affine_matrix(
    rotation_deg: float = 0.0,
    scale: float = 1.0,
    translate: tuple[float, float] = (0.0, 0.0),
    shear_deg: float = 0.0,
) -> np.ndarray:
    """The 2x3 matrix for `affine_grid` (output -> input, normalised coordinates) of a warp that
    shears, scales, rotates and then translates the patch (translation as a fraction of its side).
    """
    a = math.radians(rotation_deg)
    rotate = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    shear = np.array([[1.0, math.tan(math.radians(shear_deg))], [0.0, 1.0]])
    forward = rotate @ (scale * shear)
    inverse = np.linalg.inv(forward)
    shift = 2.0 * np.asarray(translate, dtype=np.float64)  # normalised coordinates span 2
    return np.concatenate([inverse, (-inverse @ shift)[:, None]], axis=1)


def affine_warp_batch(
    x: torch.Tensor, y: torch.Tensor, theta: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply per-sample affine warps `theta` [N, 2, 3]: x bilinear, y (uint8/int) nearest."""
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    x_out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    shifted = y.to(torch.float32) + 1.0  # 0 marks "outside", turned into MASK below
    y_out = F.grid_sample(shifted, grid, mode="nearest", padding_mode="zeros", align_corners=False)
    y_out = torch.where(y_out == 0, float(charts.MASK) + 1.0, y_out) - 1.0
    return x_out, y_out.round().to(y.dtype)


def cutmix(
    x: torch.Tensor, y: torch.Tensor, rng: np.random.Generator, p: float, beta: float
) -> None:
    """In place: each patch, with probability p, gets a box of another (unmixed) patch."""
    n, size = x.shape[0], x.shape[-1]
    chosen = np.flatnonzero(rng.random(n) < p) if n > 1 else []
    if len(chosen) == 0:
        return
    x_src, y_src = x.clone(), y.clone()
    for i in chosen:
        j = (i + rng.integers(1, n)) % n  # another patch of the batch
        share = 1.0 - rng.beta(beta, beta)  # area of the pasted box
        side = int(round(size * math.sqrt(share)))
        if side == 0:
            continue
        top, left = rng.integers(0, size - side + 1, size=2)
        box = (slice(top, top + side), slice(left, left + side))
        x[i, :, box[0], box[1]] = x_src[j, :, box[0], box[1]]
        y[i, :, box[0], box[1]] = y_src[j, :, box[0], box[1]]


class Augmenter:
    """Applies the configured augmentations to a batch (x [B,C,P,P] float, y [B,K,P,P])."""

    def __init__(self, config: AugmentConfig):
        self.config = config

    @property
    def active(self) -> bool:
        c = self.config
        return any(p > 0 for p in (c.dihedral_p, c.affine_p, c.random_scale_p, c.cutmix_p))

    def __call__(
        self, x: torch.Tensor, y: torch.Tensor, rng: np.random.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        c, n = self.config, x.shape[0]
        if c.dihedral_p > 0:
            for i in np.flatnonzero(rng.random(n) < c.dihedral_p):
                k = int(rng.integers(1, 8))  # a transform other than the identity
                x[i] = dihedral(x[i], k)
                y[i] = dihedral(y[i], k)
        thetas = [self._warp_matrix(rng) for _ in range(n)]
        warped = [i for i, theta in enumerate(thetas) if theta is not None]
        if warped:
            theta = torch.from_numpy(np.stack([thetas[i] for i in warped])).float()
            x_w, y_w = affine_warp_batch(x[warped], y[warped], theta)
            x[warped], y[warped] = x_w, y_w
        if c.cutmix_p > 0:
            cutmix(x, y, rng, c.cutmix_p, c.cutmix_beta)
        return x, y

    def _warp_matrix(self, rng: np.random.Generator) -> np.ndarray | None:
        """This patch's affine/random-scale warp, or None when it gets neither."""
        c = self.config
        do_affine = c.affine_p > 0 and rng.random() < c.affine_p
        do_scale = c.random_scale_p > 0 and rng.random() < c.random_scale_p
        if not (do_affine or do_scale):
            return None
        rotation, scale, translate, shear = 0.0, 1.0, (0.0, 0.0), 0.0
        if do_affine:
            rotation = rng.uniform(-c.rotation_deg, c.rotation_deg)
            scale = rng.uniform(*c.scale_range)
            translate = tuple(rng.uniform(-c.translate_fraction, c.translate_fraction, size=2))
            shear = rng.uniform(-c.shear_deg, c.shear_deg)
        if do_scale:
            scale *= rng.uniform(*c.random_scale_range)
        return affine_matrix(rotation, scale, translate, shear)
