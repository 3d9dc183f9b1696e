"""Augmentations move inputs and charts with exactly the same geometry."""

from __future__ import annotations

import numpy as np
import torch

from kit import charts
from kit.data.augment import Augmenter, affine_matrix, affine_warp_batch, cutmix, dihedral
from kit.data.config import AugmentConfig


def test_the_eight_dihedral_transforms_are_distinct_permutations():
    image = torch.arange(16).reshape(4, 4)
    outs = {tuple(dihedral(image, k).flatten().tolist()) for k in range(8)}
    assert len(outs) == 8
    assert all(sorted(o) == list(range(16)) for o in outs)
    assert torch.equal(dihedral(image, 0), image)


def test_dihedral_turns_then_mirrors_and_its_inverse_undoes_it():
    image = torch.arange(2 * 3 * 5, dtype=torch.float32).view(1, 2, 3, 5)
    for k in range(8):
        turned = torch.rot90(image, k % 4, dims=(-2, -1))
        assert torch.equal(dihedral(image, k), turned.flip(-1) if k >= 4 else turned)
        assert torch.equal(dihedral(dihedral(image, k), k, inverse=True), image)
    assert len({tuple(dihedral(image, k).flatten().tolist()) for k in range(8)}) == 8


def _coordinate_batch(n=4, size=32):
    """x: row and column coordinate channels; y: a class map that is a function of them."""
    rows, cols = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    x = torch.stack([rows, cols]).float().expand(n, 2, size, size).clone()
    y = ((rows // 4 + cols // 4) % 11).to(torch.uint8).expand(n, 1, size, size).clone()
    return x, y


def _class_at(x):
    r, c = x[:, 0].round().long(), x[:, 1].round().long()
    return ((r // 4 + c // 4) % 11).to(torch.uint8)


def test_dihedral_moves_x_and_y_together():
    x, y = _coordinate_batch()
    aug = Augmenter(AugmentConfig(dihedral_p=1.0))
    x2, y2 = aug(x.clone(), y.clone(), np.random.default_rng(0))
    assert not torch.equal(y2, y)  # every patch was transformed
    assert torch.equal(_class_at(x2), y2[:, 0])
    for i in range(len(x)):  # each patch: one transform k, the same for its inputs and charts
        ks = [k for k in range(1, 8) if torch.equal(dihedral(x[i], k), x2[i])]
        assert len(ks) == 1 and torch.equal(dihedral(y[i], ks[0]), y2[i])


def test_affine_warp_is_the_same_for_inputs_and_charts():
    x, y = _coordinate_batch()
    theta = torch.from_numpy(
        np.stack(
            [
                affine_matrix(17, 1.1, (0.05, -0.1), 6),
                affine_matrix(-8, 0.9, (0, 0), -4),
                affine_matrix(0, 1.0),
                affine_matrix(90, 1.0),
            ]
        )  # fmt: skip
    ).float()
    x2, y2 = affine_warp_batch(x, y, theta)
    inside = y2[:, 0] != charts.MASK
    # Bilinear on linear coordinate channels gives the exact source position; the chart's
    # nearest sample is the class at that position rounded (ties at .5 can differ).
    agree = (_class_at(x2) == y2[:, 0])[inside].float().mean()
    assert agree > 0.98
    assert torch.equal(y2[2], y[2]) and torch.allclose(x2[2], x[2])  # identity stays identity
    # Beyond a one-pixel band around the patch edge, warped-in pixels are 0 and MASK.
    near = torch.nn.functional.max_pool2d(inside[:, None].float(), 3, 1, 1)[:, 0] > 0
    far = ~near
    assert far[0].any() and (x2[0][:, far[0]] == 0).all()


def test_affine_and_random_scale_bounds():
    aug = Augmenter(AugmentConfig(affine_p=1.0, rotation_deg=10, scale_range=(0.9, 1.1),
                                  translate_fraction=0.1, shear_deg=5))  # fmt: skip
    rng = np.random.default_rng(0)
    for _ in range(50):
        theta = aug._warp_matrix(rng)
        forward = np.linalg.inv(theta[:, :2])
        scale = np.sqrt(abs(np.linalg.det(forward)))
        assert 0.9 - 1e-9 <= scale <= 1.1 + 1e-9
        assert np.all(np.abs(forward @ theta[:, 2]) <= 2 * 0.1 + 1e-9)  # translation bound
    assert Augmenter(AugmentConfig())._warp_matrix(rng) is None


def test_cutmix_pastes_inputs_and_charts_from_the_same_patch():
    n, size = 6, 32
    x = torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1).expand(n, 2, size, size).clone()
    y = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 1, size, size).clone()
    cutmix(x, y, np.random.default_rng(3), p=1.0, beta=1.0)
    assert torch.equal(x[:, 0].to(torch.uint8), y[:, 0])
    mixed = [i for i in range(n) if (y[i] != i).any()]
    assert len(mixed) >= n - 1  # a zero-size box is possible but rare


def test_probability_zero_changes_nothing():
    x, y = _coordinate_batch()
    aug = Augmenter(AugmentConfig())
    assert not aug.active
    x2, y2 = aug(x.clone(), y.clone(), np.random.default_rng(0))
    assert torch.equal(x2, x) and torch.equal(y2, y)
