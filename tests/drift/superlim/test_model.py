"""The SuperLIM network (`kit.drift.superlim.model`): output shapes, unit descriptors, input."""

import numpy as np
import torch

from kit.drift.superlim.model import SuperLIM, keypoint_map, network_input


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
