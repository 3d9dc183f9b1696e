"""Checkpoints: plain-data round trip, refusals naming the file, config compatibility listing every
difference, and the model rebuilt from a checkpoint alone."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from kit.errors import KitError
from kit.experiment.checkpoint import (
    FORMAT,
    IGNORED_SETTINGS,
    MODEL_KEYS,
    RESUME_KEYS,
    check_compatible,
    checkpoint_config,
    load_checkpoint,
    model_from_checkpoint,
    restore_training,
    save_checkpoint,
    training_state,
)
from kit.experiment.config import ExperimentConfig
from kit.experiment.train import train
from kit.models import build_model
from tests.tiny_runs import TINY_VARIABLES, tiny_config, tiny_dataset

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CONFIG = ExperimentConfig.from_dict(
    {
        "data": {"variables": TINY_VARIABLES, "patch_size": 32, "batch_size": 2},
        "model": {"type": "multitask_unet", "filters": [4, 8, 8]},
        "loss": {"SOD": {"type": "focal"}},
        "train": {"epochs": 3, "device": "cpu"},
    }
)
CHANNELS = ["sar_primary", "sar_secondary", "btemp_36_5h", "month", "lat"]


def tiny_state(seed: int = 0, config: ExperimentConfig = CONFIG) -> dict:
    """A checkpoint's contents as training writes them, after one real optimiser step."""
    torch.manual_seed(seed)
    model = build_model(config.model, len(CHANNELS), config.data.charts)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=4)
    outputs = model(torch.randn(2, len(CHANNELS), 16, 16))
    sum(o.square().mean() for o in outputs.values()).backward()
    optimizer.step()
    scheduler.step()
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    history = [{"epoch": 1, "loss": 0.5, "val_combined": float("nan")}]
    return training_state(config, CHANNELS, model, optimizer, scheduler, scaler, epoch=1,
                          best_score=None, history=history, seconds=1.5)  # fmt: skip


def assert_same(a, b):
    """Nested equality of plain data and tensors (NaN equal to NaN)."""
    assert type(a) is type(b)
    if isinstance(a, torch.Tensor):
        torch.testing.assert_close(a, b, rtol=0, atol=0, equal_nan=True)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for key in a:
            assert_same(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b)
    else:
        assert a == b


# ------------------------------------------------------------------ save and load


def test_save_and_load_round_trip_every_value(tmp_path):
    state = tiny_state()
    path = save_checkpoint(tmp_path / "last.pt", state)
    assert path == tmp_path / "last.pt"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]  # no temporary left
    loaded = load_checkpoint(path)
    assert loaded["format"] == FORMAT and list(loaded)[0] == "format"
    assert_same({k: v for k, v in loaded.items() if k != "format"}, state)
    assert checkpoint_config(loaded, path) == CONFIG
    assert all(t.device.type == "cpu" for t in loaded["model"].values())


def test_saving_again_replaces_the_file_whole(tmp_path):
    path = tmp_path / "last.pt"
    save_checkpoint(path, tiny_state(seed=0))
    second = tiny_state(seed=1)
    save_checkpoint(path, second)
    assert_same(load_checkpoint(path)["model"], second["model"])


@pytest.mark.parametrize(
    "value, named",
    [
        (Path("/tmp/x"), "PosixPath"),
        (np.float32(1.0), "float32"),
        (np.zeros(3), "ndarray"),
        (CONFIG, "ExperimentConfig"),
        ({1, 2}, "set"),
    ],
)
def test_saving_anything_but_plain_data_is_refused_and_writes_nothing(tmp_path, value, named):
    state = {**tiny_state(), "history": [{"epoch": 1, "extra": value}]}
    with pytest.raises(TypeError) as info:
        save_checkpoint(tmp_path / "last.pt", state)
    assert str(info.value) == f"/history[0]/extra: {named} is not plain data"
    assert list(tmp_path.iterdir()) == []


def test_a_missing_checkpoint_is_named(tmp_path):
    with pytest.raises(KitError, match=r"^.*nothing\.pt: no such checkpoint$"):
        load_checkpoint(tmp_path / "nothing.pt")


@pytest.mark.parametrize(
    "content",
    [
        {"config": {}, "model": {}},  # a dict without the format stamp
        {"format": "autoice-checkpoint/2", "config": {}},  # a format this kit cannot read
        {"format": "autoice-checkpoint/1 "},
        [FORMAT],  # not a dict at all
        torch.zeros(3),
    ],
)
def test_other_torch_files_are_refused_by_format(tmp_path, content):
    path = tmp_path / "other.pt"
    torch.save(content, path)
    with pytest.raises(KitError) as info:
        load_checkpoint(path)
    assert str(info.value) == f"{path}: not an AutoICE Kit checkpoint (format {FORMAT})"


def test_files_that_are_not_torch_files_are_one_line(tmp_path):
    path = tmp_path / "text.pt"
    path.write_text("not a checkpoint\n")
    with pytest.raises(KitError) as info:
        load_checkpoint(path)
    assert str(info.value).startswith(f"{path}: not a readable checkpoint (")
    assert "\n" not in str(info.value)


def test_objects_beyond_plain_data_are_refused_without_running_them(tmp_path):
    path = tmp_path / "pickled.pt"
    torch.save({"format": FORMAT, "config": {}, "where": Path("/tmp")}, path)
    with pytest.raises(KitError) as info:
        load_checkpoint(path)
    assert str(info.value).startswith(f"{path}: refused to load pathlib.")
    assert "may hold only tensors and plain data" in str(info.value)


# ------------------------------------------------------------------ compatibility


def test_the_same_config_is_compatible_and_the_train_section_may_change():
    state = tiny_state()
    check_compatible(state, CONFIG)
    resumed = CONFIG.replace("train", epochs=30, lr=0.5, optimizer="sgd", device="auto")
    check_compatible(state, resumed)  # training settings may change on resume


def test_ignored_settings_never_count_as_differences():
    assert IGNORED_SETTINGS == (
        "data.num_workers", "data.cache_dir", "data.epoch_len", "data.batch_size"
    )  # fmt: skip
    changed = CONFIG.replace(
        "data", num_workers=4, cache_dir="/elsewhere", epoch_len=7, batch_size=64
    )
    check_compatible(tiny_state(), changed)


def test_every_model_and_data_difference_is_listed_in_one_error():
    changed = ExperimentConfig.from_dict(
        {
            **CONFIG.to_dict(),
            "data": {**CONFIG.to_dict()["data"], "patch_size": 64, "downscale": 2,
                     "batch_size": 8, "num_workers": 2},
            "model": {"type": "multitask_unet", "filters": [4, 8, 16], "sic_head": "classification"},
            "loss": {"SOD": {"type": "ce"}},
            "train": {"epochs": 9},
        }
    )  # fmt: skip
    with pytest.raises(KitError) as info:
        check_compatible(tiny_state(), changed, "runs/a/last.pt")
    message = str(info.value)
    prefix = "runs/a/last.pt: checkpoint was made with a different config (checkpoint -> config): "
    assert message.startswith(prefix) and "\n" not in message
    assert message[len(prefix) :].split("; ") == [
        "data.downscale: 1 -> 2",
        "data.patch_size: 32 -> 64",
        "loss.SOD.type: 'focal' -> 'ce'",
        "model.filters: [4, 8, 8] -> [4, 8, 16]",
        "model.sic_head: None -> 'classification'",
    ]


def test_a_setting_added_since_the_checkpoint_compares_as_its_default():
    state = tiny_state()
    del state["config"]["model"]["sic_units"]  # as written before the setting existed
    del state["config"]["data"]["input_scaling"]
    check_compatible(state, CONFIG)
    with pytest.raises(KitError, match=r"model.sic_units: 'tenths' -> 'fraction'$"):
        check_compatible(state, CONFIG.replace("model", sic_units="fraction"))


def test_a_stored_config_with_an_unknown_section_names_the_checkpoint():
    state = tiny_state()
    state["config"]["optimiser"] = {}
    with pytest.raises(
        KitError, match=r"^last.pt \(stored config\): unknown section\(s\) optimiser"
    ):
        check_compatible(state, CONFIG, "last.pt")


def test_a_stored_setting_that_no_longer_loads_names_the_checkpoint():
    state = tiny_state()
    state["config"]["model"]["depth"] = 3
    with pytest.raises(KitError, match=r"^last.pt \(stored config\): .*unknown key\(s\) depth"):
        check_compatible(state, CONFIG, "last.pt")


# ------------------------------------------------------------------ rebuilding the model


def test_model_from_checkpoint_rebuilds_the_same_outputs(tmp_path):
    state = tiny_state(seed=3)
    path = save_checkpoint(tmp_path / "best.pt", state)
    original = build_model(CONFIG.model, len(CHANNELS), CONFIG.data.charts)
    original.load_state_dict(state["model"])
    original.eval()
    model, config = model_from_checkpoint(load_checkpoint(path), path)
    assert config == CONFIG and not model.training
    assert model.kinds == original.kinds == {"SIC": "regression", "SOD": "classification",
                                             "FLOE": "classification"}  # fmt: skip
    x = torch.randn(2, len(CHANNELS), 24, 40, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected, rebuilt = original(x), model(x)
    assert list(rebuilt) == list(expected)
    for chart in expected:
        torch.testing.assert_close(rebuilt[chart], expected[chart], rtol=0, atol=0)


def test_model_from_checkpoint_names_what_is_missing_or_wrong():
    state = tiny_state()
    with pytest.raises(KitError, match=r"^ck.pt: checkpoint lacks channels, model$"):
        model_from_checkpoint({"config": state["config"]}, "ck.pt")
    with pytest.raises(KitError, match=r"^ck.pt: checkpoint channels are not a list of names$"):
        model_from_checkpoint({**state, "channels": "sar_primary"}, "ck.pt")
    with pytest.raises(KitError, match=r"^ck.pt: checkpoint channels are not a list of names$"):
        model_from_checkpoint({**state, "channels": [1, 2]}, "ck.pt")
    fewer = {**state, "channels": CHANNELS[:3]}  # the first convolution no longer fits
    with pytest.raises(KitError) as info:
        model_from_checkpoint(fewer, "ck.pt")
    assert str(info.value).startswith("ck.pt: weights do not fit the stored model config (")
    assert "shape file vs model encoder." in str(info.value)


# ------------------------------------------------------------------ what training writes


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """One epoch of one batch on a tiny synthetic dataset: the checkpoints training writes."""
    root = tmp_path_factory.mktemp("checkpoint_run")
    data = tiny_dataset(root / "data", n_train=2, n_test=1, size=64)
    config = tiny_config(
        data, root / "run", root / "cache", data={"epoch_len": 1, "batch_size": 2},
        train={"epochs": 1, "val_fraction": 0.0},
    )  # fmt: skip
    torch.manual_seed(0)
    result = train(config, progress=False)
    return config, result


def test_training_writes_every_model_and_resume_key(trained_run):
    config, result = trained_run
    assert MODEL_KEYS == ("config", "channels", "model")
    assert RESUME_KEYS == ("optimizer", "scheduler", "scaler", "epoch", "best_score", "history")
    for name in ("last.pt", "best.pt"):
        state = load_checkpoint(result.out_dir / name)
        assert set(MODEL_KEYS + RESUME_KEYS) <= set(state)
        assert state["epoch"] == 0 and len(state["history"]) == 1
        check_compatible(state, config, name)
        model, stored = model_from_checkpoint(state, name)
        assert stored == config and len(state["channels"]) == model_channels(model)
        trained = result.model.state_dict()
        for key, value in model.state_dict().items():
            torch.testing.assert_close(value, trained[key], rtol=0, atol=0)


def model_channels(model) -> int:
    """Input channels of a U-Net model: those of its first convolution."""
    first = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    return first.in_channels


def test_resume_restores_torch_random_state(tmp_path):
    """Layers that draw from torch's generator (dropout, stochastic depth) continue on resume
    exactly as the uninterrupted run would have."""
    torch.manual_seed(7)
    state = tiny_state(seed=7)
    path = save_checkpoint(tmp_path / "last.pt", state)
    expected = torch.rand(5)  # what the run would draw next
    torch.rand(1000)  # a new process has drawn something else
    model = build_model(CONFIG.model, len(CHANNELS), CONFIG.data.charts)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=4)
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    restore_training(load_checkpoint(path), path, model, optimizer, scheduler, scaler)
    assert torch.equal(torch.rand(5), expected)


def test_checkpoints_without_random_states_still_resume(tmp_path):
    state = tiny_state()
    del state["random"]
    path = save_checkpoint(tmp_path / "old.pt", state)
    model = build_model(CONFIG.model, len(CHANNELS), CONFIG.data.charts)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=4)
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    restore_training(load_checkpoint(path), path, model, optimizer, scheduler, scaler)
    assert optimizer.state_dict()["state"]  # the optimiser moments came back
