"""Experiment configs: strict sections, packaged configs, config differences for checkpoints."""

import pytest

from kit.data.cache import channel_names
from kit.errors import KitError
from kit.experiment.config import (
    ExperimentConfig,
    config_differences,
    load_experiment,
    packaged_configs,
)
from kit.models import build_model


@pytest.mark.parametrize("name", ["demo", "baseline_unet"])
def test_packaged_configs_load_and_build(name):
    config = load_experiment(name)
    assert config.train.data_dir == "demo" and config.data.downscale == 10
    model = build_model(config.model, len(channel_names(config.data)), config.data.charts)
    assert set(model.kinds) == {"SIC", "SOD", "FLOE"}
    assert name in packaged_configs()


@pytest.mark.parametrize(
    "mapping, message",
    [
        ({"optim": {}}, "unknown section.*optim; allowed: data, model, loss, train"),
        ({"train": {"learning_rate": 1}}, "train: unknown key.*learning_rate"),
        ({"train": {"scheduler": "step"}}, "train.scheduler: invalid value 'step'"),
        ({"loss": {"SIT": {"type": "ce"}}}, "loss: unknown key.*SIT"),
        ({"loss": {"SIC": {"type": "dice"}}}, "loss.SIC.type: invalid value 'dice'"),
        ({"model": {"type": "smp", "extra": 3}}, "model.extra: expected a mapping"),
        ({"train": {"tile_overlap": 600}}, "tile_overlap 600: must be in"),
        ({"train": {"cpu_threads": -1}}, r"train: cpu_threads must be in \[0, 1024\]"),
        ({"train": {"cpu_threads": 10**6}}, r"train: cpu_threads must be in \[0, 1024\]"),
        ({"train": {"seed": -1}}, r"train: seed must be in \[0, 4294967295\]"),
        ({"train": {"seed": 2**32}}, r"train: seed must be in \[0, 4294967295\]"),
        ({"train": {"momentum": -5}}, r"train: momentum must be in \[0, 1\), got -5"),
        ({"train": {"momentum": 1}}, r"train: momentum must be in \[0, 1\)"),
        ({"train": {"val_count": -1}}, r"train: val_count must be >= 0, got -1"),
        ({"train": {"val_count": 1.5}}, r"train.val_count"),
        (
            {"train": {"val_count": 2, "val_scenes": ["20180124T194759_dmi"]}},
            r"train: val_scenes and val_count both choose the validation scenes; give one",
        ),
        (
            {"data": {"patch_size": 64}, "model": {"type": "unet", "levels": 8}},
            r"data: patch_size 64 is smaller than the 256 pixels .* 8 poolings",
        ),
        (
            {"data": {"patch_size": 16}, "model": {"filters": [8, 8, 8, 8, 8, 8]}},
            r"patch_size 16 is smaller than the 32 pixels .* 5 poolings",
        ),
    ],
)
def test_bad_settings_are_named(mapping, message):
    with pytest.raises(KitError, match=message):
        ExperimentConfig.from_dict(mapping)


def test_the_deepest_unet_takes_patches_of_its_stride():
    config = ExperimentConfig.from_dict({"model": {"type": "unet", "levels": 8}})
    assert config.data.patch_size == 2**8


def test_load_errors_name_the_file(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text("model: {type: unet, filtres: [8, 8]}\n")
    with pytest.raises(KitError, match=f"{path}: model: unknown key.*filtres"):
        load_experiment(path)
    with pytest.raises(
        KitError, match="no such config file.*packaged configs: baseline_unet, demo"
    ):
        load_experiment(tmp_path / "missing.yaml")


def test_round_trip_and_differences():
    config = ExperimentConfig.from_dict({"model": {"type": "unet", "levels": 2}})
    again = ExperimentConfig.from_dict(config.to_dict())
    assert again == config
    changed = config.replace("model", levels=3).replace("train", epochs=99)
    assert config_differences(config.to_dict(), changed.to_dict(), ("data", "model")) == [
        "model.levels: 2 -> 3"
    ]
