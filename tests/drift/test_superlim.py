import numpy as np
import torch

from kit.drift.superlim import (
    DEFAULT_WEIGHTS,
    SuperLIM,
    SuperLIMTrainConfig,
    keypoint_map,
    load_superlim,
    network_input,
    sample_batch,
    save_superlim,
    superlim_loss,
    train_superlim,
)
from kit.drift.synthetic import synthetic_texture


def test_forward_shapes_and_unit_descriptors():
    model = SuperLIM().eval()
    with torch.no_grad():
        logits, desc = model(torch.zeros(2, 1, 64, 96))
    assert logits.shape == (2, 65, 8, 12) and desc.shape == (2, 64, 8, 12)
    norms = desc.norm(dim=1)
    assert torch.allclose(norms[norms > 0], torch.ones_like(norms[norms > 0]), atol=1e-5)
    heat = keypoint_map(logits)
    assert heat.shape == (2, 1, 64, 96) and float(heat.max()) <= 1.0
    assert network_input(np.ones((30, 41))).shape == (1, 1, 32, 48)


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


def test_train_save_and_load(tmp_path):
    cfg = SuperLIMTrainConfig(steps=2, batch=2, patch=64, device="cpu")
    model, history = train_superlim(cfg, [synthetic_texture((256, 256), seed=2)], progress=False)
    assert len(history) == 2 and np.isfinite(history[-1]["loss"])
    path = tmp_path / "s.pt"
    save_superlim(model, path, cfg)
    loaded = load_superlim(path, device="cpu")
    x = torch.randn(1, 1, 32, 32)
    with torch.no_grad():
        np.testing.assert_allclose(
            loaded(x)[1].numpy(), model(x)[1].numpy(), atol=2e-2
        )  # float16 storage


def test_committed_checkpoint_is_small_and_loads():
    assert DEFAULT_WEIGHTS.stat().st_size < 5 * 1024 * 1024
    model = load_superlim(device="cpu")
    assert isinstance(model, SuperLIM) and not model.training
