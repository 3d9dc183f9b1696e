"""Whole-scene inference: tiling and blending, test-time augmentation, masking, NaN inputs."""

import numpy as np
import pytest
import torch
from torch import nn

from kit.charts import MASK
from kit.data.config import DataConfig
from kit.errors import KitError
from kit.infer import Predictor, blend_window, dihedral, tile_starts


class Pointwise(nn.Module):
    """A per-pixel model (1x1 convolutions) that records the largest input it was given."""

    kinds = {"SIC": "regression", "SOD": "classification"}

    def __init__(self, channels=3):
        super().__init__()
        torch.manual_seed(0)
        self.sic = nn.Conv2d(channels, 1, 1)
        self.sod = nn.Conv2d(channels, 6, 1)
        self.largest = (0, 0)

    def forward(self, x):
        self.largest = max(self.largest, tuple(x.shape[-2:]))
        return {"SIC": 5 + 3 * self.sic(x), "SOD": self.sod(x)}


def _predictor(model, **options):
    return Predictor([model], DataConfig(downscale=2), ["a", "b", "c"], "cpu", **options)


def test_tile_starts_cover_the_axis_with_overlap():
    assert tile_starts(100, 128, 16) == [0]
    starts = tile_starts(1000, 256, 32)
    assert starts[0] == 0 and starts[-1] == 1000 - 256
    assert all(b - a <= 256 - 32 for a, b in zip(starts, starts[1:]))


def test_blend_window_is_positive_and_flat_inside():
    w = blend_window(40, 30, 8)
    assert w.min() > 0 and w.max() == 1.0 and w[20, 15] == 1.0 and w[0, 0] < w[4, 4]


def test_dihedral_inverse_round_trip():
    x = torch.arange(2 * 3 * 5, dtype=torch.float32).view(1, 2, 3, 5)
    for k in range(8):
        assert torch.equal(dihedral(dihedral(x, k), k, inverse=True), x)
    assert len({tuple(dihedral(x, k).flatten().tolist()) for k in range(8)}) == 8


def test_tiled_prediction_equals_whole_scene_prediction():
    x = torch.randn(3, 150, 97)
    whole = _predictor(Pointwise(), tile_size=512).scores(x)
    model = Pointwise()
    tiled = _predictor(model, tile_size=40, tile_overlap=8).scores(x.numpy())
    assert model.largest == (40, 40)
    for chart in whole:
        torch.testing.assert_close(tiled[chart], whole[chart], rtol=1e-5, atol=1e-5)


def test_tta_of_a_pointwise_model_changes_nothing_and_ensembles_average():
    x = torch.randn(3, 33, 21)
    plain = _predictor(Pointwise()).scores(x)
    tta = _predictor(Pointwise(), tta=True).scores(x)
    torch.testing.assert_close(tta["SIC"], plain["SIC"], rtol=1e-5, atol=1e-5)
    other = Pointwise()
    nn.init.constant_(other.sic.bias, 1.0)
    pair = Predictor([Pointwise(), other], DataConfig(), ["a", "b", "c"], "cpu").scores(x)
    alone = Predictor([other], DataConfig(), ["a", "b", "c"], "cpu").scores(x)
    torch.testing.assert_close(pair["SIC"], (plain["SIC"] + alone["SIC"]) / 2)


def test_scene_prediction_is_exact_80m_masked_and_never_nan():
    x = torch.randn(3, 13, 8)
    x[:, 2:4] = float("nan")
    valid = torch.ones(13, 8, dtype=torch.bool)
    valid[0] = False
    maps = _predictor(Pointwise()).predict_scene(x, valid, shape=(25, 15))
    for values in maps.values():
        assert values.shape == (25, 15) and values.dtype == np.uint8
        assert (values[:2] == MASK).all() and (values[2:] != MASK).all()
    assert maps["SIC"][2:].max() <= 10


def test_input_channel_mismatch_is_an_error():
    with pytest.raises(KitError, match="inputs have 2 channels, the model takes 3"):
        _predictor(Pointwise()).scores(torch.zeros(2, 8, 8))
