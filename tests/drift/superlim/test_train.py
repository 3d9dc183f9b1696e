"""SuperLIM's self-supervised training (`kit.drift.superlim.train`): warped batches, the loss."""

import numpy as np
import torch

from kit.drift.superlim.model import SuperLIM
from kit.drift.superlim.train import SuperLIMTrainConfig, sample_batch, superlim_loss
from kit.drift.synthetic import synthetic_texture


def test_training_batch_follows_the_affine():
    cfg = SuperLIMTrainConfig(batch=2, patch=64, looks=1e6)
    sources = [synthetic_texture((256, 256), seed=0)]
    p1, p2, mats = sample_batch(sources, np.random.default_rng(0), cfg)
    assert p1.shape == p2.shape == (2, 1, 64, 64) and mats.shape == (2, 2, 3)
    # patch-2 at A(p) shows what patch-1 shows at p (up to the random gain, removed by ranks)
    c = 31.5
    a = mats[0].numpy()
    q = a[:, :2] @ np.array([40 - c, 30 - c]) + a[:, 2] + c
    ref = p1[0, 0].numpy()
    assert abs(p2[0, 0, int(round(q[1])), int(round(q[0]))] - ref[30, 40]) < 1.0


def test_a_few_training_steps_lower_the_loss_on_a_fixed_batch():
    torch.manual_seed(0)
    cfg = SuperLIMTrainConfig(batch=4, patch=64)
    p1, p2, mats = sample_batch(
        [synthetic_texture((256, 256), seed=1)], np.random.default_rng(1), cfg
    )
    model = SuperLIM()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(6):
        loss, parts = superlim_loss(model, p1, p2, mats, cfg)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        assert set(parts) == {"descriptor", "keypoint", "consistency", "match_accuracy"}
    assert np.isfinite(losses).all() and losses[-1] < losses[0]
