"""Whole-scene inference: tiling and blending, test-time augmentation, masking, NaN inputs."""

import numpy as np
import pytest
import torch
from torch import nn

from kit.charts import MASK
from kit.data.config import DataConfig
from kit.errors import KitError
from kit.experiment.predict import Predictor, blend_window, tile_starts
from tests.experiment.scene_memory import (
    HAS_MEMORY_PROBE,
    NO_PROBE_REASON,
    memory_after_each_scene,
)


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


def test_tiled_prediction_equals_whole_scene_prediction():
    x = torch.randn(3, 150, 97)
    whole = _predictor(Pointwise(), tile_size=512).scores(x)
    model = Pointwise()
    tiled = _predictor(model, tile_size=40, tile_overlap=8).scores(x.numpy())
    assert model.largest == (64, 64)  # 40-pixel tiles, padded to the model stride (32)
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


class Symmetric(nn.Module):
    """A model equivariant under the 8 dihedral transforms: 3x3 kernels symmetric under all of
    them (centre, edge and corner weights), so TTA must give its plain prediction back."""

    kinds = {"SIC": "regression", "SOD": "classification"}

    def __init__(self, channels=3):
        super().__init__()
        torch.manual_seed(1)
        self.weights = nn.Parameter(torch.randn(7, channels, 3))  # centre, edge, corner

    def forward(self, x):
        centre, edge, corner = self.weights.unbind(-1)
        kernel = torch.stack([corner, edge, corner, edge, centre, edge, corner, edge, corner], -1)
        out = nn.functional.conv2d(x, kernel.view(7, -1, 3, 3), padding=1)
        return {"SIC": 5 + out[:, :1], "SOD": out[:, 1:]}


def test_tta_of_an_equivariant_model_is_its_plain_prediction():
    x = torch.randn(3, 37, 26)  # not square: odd quarter turns swap the sides
    plain = _predictor(Symmetric()).scores(x)
    tta = _predictor(Symmetric(), tta=True).scores(x)
    for chart in plain:
        torch.testing.assert_close(tta[chart], plain[chart], rtol=1e-5, atol=1e-5)


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


def test_tile_size_is_checked_before_the_overlap():
    with pytest.raises(KitError, match="^tile_size 0: must be at least 1 px$"):
        _predictor(Pointwise(), tile_size=0)
    with pytest.raises(KitError, match=r"^tile_overlap 64: must be in \[0, 50\) \(less than half"):
        _predictor(Pointwise(), tile_size=100)


def test_input_channel_mismatch_is_an_error():
    with pytest.raises(KitError, match="inputs have 2 channels, the model takes 3"):
        _predictor(Pointwise()).scores(torch.zeros(2, 8, 8))


# ---------------------------------------------------------------- bad input, end to end


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny trained checkpoint and its dataset."""
    from kit.experiment.train import train
    from tests.tiny_runs import tiny_config, tiny_dataset

    root = tmp_path_factory.mktemp("infer")
    data = tiny_dataset(root / "data", n_train=2, n_test=1)
    config = tiny_config(data, root / "run", root / "cache",
                         train={"epochs": 1, "val_fraction": 0.0}, data={"epoch_len": 1})  # fmt: skip
    torch.set_num_threads(1)
    return train(config, progress=False).best_checkpoint, data


def _rewrite_scene(source, target, change):
    import xarray as xr

    with xr.open_dataset(source) as ds:
        ds = change(ds.load())
    target.parent.mkdir(parents=True, exist_ok=True)
    ds.to_netcdf(target)
    return target


def test_nan_inputs_are_masked_and_never_reach_the_output(trained, tmp_path):
    import netCDF4

    from kit.experiment.submission import predict_dataset

    checkpoint, data = trained
    source = next((data / "test").glob("*_prep.nc"))

    def add_nans(ds):
        ds["nersc_sar_primary"][:20, :] = np.nan
        ds["nersc_sar_secondary"][:, :10] = np.nan
        ds["btemp_36_5h"][0, 0] = np.nan
        return ds

    _rewrite_scene(source, tmp_path / "scenes" / source.name, add_nans)
    predictor = Predictor.from_checkpoints(
        [checkpoint], device="cpu", cache_dir=str(tmp_path / "c")
    )
    out = predict_dataset(predictor, tmp_path / "scenes", tmp_path / "sub.nc", progress=False)
    scene_id = source.name.replace("_prep.nc", "")
    with netCDF4.Dataset(out) as ds:
        for chart in ("SIC", "SOD", "FLOE"):
            values = np.asarray(ds[f"{scene_id}_{chart}"][:])
            assert (values[:20] == MASK).all()
            assert (values[20:] != MASK).any() and values.shape == (96, 96)


def test_scenes_lacking_trained_variables_are_named(trained, tmp_path):
    from kit.experiment.submission import predict_dataset

    checkpoint, data = trained
    source = next((data / "test").glob("*_prep.nc"))
    _rewrite_scene(
        source, tmp_path / "scenes" / source.name, lambda ds: ds.drop_vars("btemp_36_5h")
    )
    predictor = Predictor.from_checkpoints(
        [checkpoint], device="cpu", cache_dir=str(tmp_path / "c")
    )
    with pytest.raises(KitError, match=f"{source.name}: missing variable.*btemp_36_5h"):
        predict_dataset(predictor, tmp_path / "scenes", tmp_path / "sub.nc", progress=False)
    assert not (tmp_path / "sub.nc").exists()


def test_folder_without_scenes_is_an_error(trained, tmp_path, capsys):
    from kit.cli import main

    checkpoint, _ = trained
    (tmp_path / "empty").mkdir()
    args = ["predict", "--checkpoint", str(checkpoint), "--data", str(tmp_path / "empty"),
            "--out", str(tmp_path / "sub.nc")]  # fmt: skip
    assert main(args) == 2
    assert "no AutoICE scenes" in capsys.readouterr().err


def test_not_a_checkpoint_and_mismatched_ensembles(trained, tmp_path):
    checkpoint, _ = trained
    bogus = tmp_path / "bogus.pt"
    bogus.write_bytes(b"not a checkpoint")
    with pytest.raises(KitError, match="bogus.pt: not a readable checkpoint"):
        Predictor.from_checkpoints([bogus])
    state = torch.load(checkpoint, weights_only=True)
    state["config"]["data"]["downscale"] = 4
    other = tmp_path / "other.pt"
    torch.save(state, other)
    with pytest.raises(KitError, match=r"cannot ensemble.*data\.downscale: 2 -> 4"):
        Predictor.from_checkpoints([checkpoint, other])
    state["config"]["model"]["filters"] = [4, 4, 4]
    torch.save(state, other)
    with pytest.raises(KitError, match="weights do not fit the stored model config"):
        Predictor.from_checkpoints([other])


def test_large_scenes_are_predicted_in_tiles(trained, tmp_path):
    from kit.experiment.checkpoint import load_checkpoint, model_from_checkpoint

    checkpoint, _ = trained
    model, config = model_from_checkpoint(load_checkpoint(checkpoint))
    channels = load_checkpoint(checkpoint)["channels"]
    x = np.random.default_rng(0).normal(size=(len(channels), 300, 260)).astype(np.float16)
    seen = []
    model.register_forward_hook(lambda m, inputs, out: seen.append(tuple(inputs[0].shape[-2:])))
    predictor = Predictor([model], config.data, channels, "cpu", tile_size=128, tile_overlap=16)
    maps = predictor.predict_scene(x, np.ones((300, 260), bool), (600, 520))
    assert max(seen) == (128, 128) and len(seen) == 9
    assert maps["SOD"].shape == (600, 520) and (maps["SOD"] != MASK).all()


def test_scenes_smaller_than_the_network_stride_are_padded_not_crashed():
    """A 4-pooling U-Net on a 10 x 15 working grid (a small scene at downscale 10)."""
    from kit.models.multitask import MultiTaskUNet

    torch.manual_seed(0)
    model = MultiTaskUNet(
        3, {"SIC": "regression", "SOD": "classification"}, filters=[4, 4, 8, 8, 8]
    )
    x = torch.randn(3, 10, 15)
    classes = _predictor(model.eval()).classes(x)
    assert classes["SIC"].shape == (10, 15) and classes["SOD"].shape == (10, 15)
    assert classes["SIC"].max() <= 10 and classes["SOD"].max() <= 5


# ---------------------------------------------------------------- memory across scenes


@pytest.mark.skipif(not HAS_MEMORY_PROBE, reason=NO_PROBE_REASON)
def test_predicting_scenes_keeps_nothing_of_a_finished_scene(trained, tmp_path, monkeypatch):
    """Memory after each written scene stays flat: no 80 m chart of a finished scene is held
    (the submission file's chunk cache once kept every chart written until it was closed)."""
    checkpoint, _ = trained
    size = 1024
    predictor = Predictor.from_checkpoints([checkpoint], cache_dir=str(tmp_path / "cache"),
                                           device="cpu")  # fmt: skip
    after_scene = memory_after_each_scene(monkeypatch, predictor, tmp_path, size, n_scenes=6)
    one_scene = 3 * size * size  # its three uint8 charts at 80 m
    growth = after_scene[-1] - after_scene[1]  # 4 more scenes; keeping them would add 4 x
    assert growth < one_scene, [m // 2**20 for m in after_scene]
