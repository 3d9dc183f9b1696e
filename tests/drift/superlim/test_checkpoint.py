"""SuperLIM checkpoints (`kit.drift.superlim.checkpoint`): a trained network saved and loaded,
and the packaged weights. Malicious checkpoints: tests/security/test_checkpoints.py."""

import numpy as np
import torch

from kit.drift.superlim.checkpoint import DEFAULT_WEIGHTS, load_superlim, save_superlim
from kit.drift.superlim.model import SuperLIM
from kit.drift.superlim.train import SuperLIMTrainConfig, train_superlim
from kit.drift.synthetic import synthetic_texture


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
