"""The packaged recipes for real data (mmseaice, sar_only, starter): each loads, builds the network
its comments describe (layer widths and parameter count, counted here from the layer shapes
alone), and trains two optimiser steps at its full patch size on a synthetic 5000 x 5000 scene
on the CPU; `autoice train --list` names them, and bad input is one line with exit status 2.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
import shutil
from pathlib import Path

import pytest
import xarray as xr
from torch import nn

from kit import charts
from kit.cli import main
from kit.data.cache import channel_names
from kit.data.selection import split_scenes
from kit.data.synthetic import SynthConfig, write_dataset
from kit.experiment import load_experiment
from kit.experiment.config import PACKAGED_CONFIGS, config_description, packaged_configs
from kit.experiment.train import train
from kit.models import build_model
from kit.models.factory import poolings
from tests.cli_runs import fails
from tests.tiny_runs import tiny_config, tiny_dataset

#: What each recipe's comments say it builds: input channels, widths per resolution (the
#: bridge level of MMSeaIce's and the starter's U-Net included), head outputs per chart.
RECIPES = {
    "mmseaice": {
        "inputs": 16,
        "widths": [32, 32, 64, 64, 64],
        "heads": {"SIC": 1, "SOD": 6, "FLOE": 7},
        "patch": 256,
        "downscale": 10,
    },
    "sar_only": {
        "inputs": 4,
        "widths": [32, 32, 64, 64, 64],
        "heads": {"SIC": 1, "SOD": 6, "FLOE": 7},
        "patch": 256,
        "downscale": 10,
    },
    "starter": {
        "inputs": 24,
        "widths": [16, 32, 64, 64, 64],
        "heads": {"SIC": 11, "SOD": 6, "FLOE": 7},
        "patch": 256,
        "downscale": 1,
    },
}


def double_conv_parameters(n_in: int, n_out: int) -> int:
    """Two bias-free 3x3 convolutions, each followed by batch norm (a weight and a bias)."""
    return 9 * n_in * n_out + 9 * n_out * n_out + 2 * 2 * n_out


def expected_convolutions(n_in: int, widths: list[int]) -> list[tuple[int, int]]:
    """(in, out) channels of every 3x3 convolution, encoder first, then the decoder from the
    deepest level up (each decoder level sees the level below and the skip)."""
    shapes, previous = [], n_in
    for width in widths:
        shapes += [(previous, width), (width, width)]
        previous = width
    for level in range(len(widths) - 2, -1, -1):
        shapes += [(widths[level + 1] + widths[level], widths[level]), (widths[level],) * 2]
    return shapes


def expected_parameters(n_in: int, widths: list[int], heads: dict[str, int]) -> int:
    """The U-Net's parameters from its layer shapes: blocks plus one 1x1 head (with bias) per
    chart on the full-resolution features."""
    convolutions = expected_convolutions(n_in, widths)
    blocks = sum(double_conv_parameters(a, b) for a, b in convolutions[::2])
    return blocks + sum((widths[0] + 1) * n for n in heads.values())


def stated_parameters(name: str) -> int:
    """The parameter count that the recipe's comments state ("522,958 parameters")."""
    text = (PACKAGED_CONFIGS / f"{name}.yaml").read_text()
    found = re.findall(r"([\d,]+) parameters", text)
    assert len(found) == 1, f"{name}.yaml should state its parameter count once: {found}"
    return int(found[0].replace(",", ""))


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_recipe_builds_the_network_its_comments_describe(name):
    spec = RECIPES[name]
    config = load_experiment(name)
    assert (config.data.patch_size, config.data.downscale) == (spec["patch"], spec["downscale"])
    assert poolings(config.model) == len(spec["widths"]) - 1 == 4
    channels = channel_names(config.data)
    assert len(channels) == spec["inputs"]
    model = build_model(config.model, len(channels), config.data.charts)

    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    blocks = [(m.in_channels, m.out_channels) for m in convs if m.kernel_size == (3, 3)]
    assert blocks == expected_convolutions(spec["inputs"], spec["widths"])
    heads = {c: m.out_channels for c, m in model.heads.convs.items()}
    assert heads == spec["heads"]
    assert all(m.kernel_size == (1, 1) and m.in_channels == spec["widths"][0]
               for m in model.heads.convs.values())  # fmt: skip

    counted = sum(p.numel() for p in model.parameters())
    expected = expected_parameters(spec["inputs"], spec["widths"], spec["heads"])
    assert counted == expected == stated_parameters(name)


def test_mmseaice_follows_the_published_training():
    """The settings of MMSeaIce's sic_mse configuration (its paper and repository)."""
    config = load_experiment("mmseaice")
    data, train_, loss = config.data, config.train, config.loss
    assert (data.batch_size, data.epoch_len, train_.epochs) == (16, 500, 300)
    assert (train_.optimizer, train_.lr, train_.momentum, train_.weight_decay) == (
        "sgd", 0.001, 0.9, 0.01
    )  # fmt: skip
    assert (train_.scheduler, train_.restart_epochs, train_.restart_mult) == (
        "cosine_warm_restarts", 20, 1
    )  # fmt: skip
    assert (config.model.resolved_sic_head, config.model.sic_units) == ("regression", "tenths")
    kinds = {"SIC": "regression", "SOD": "classification", "FLOE": "classification"}
    losses = {chart: (c.type, c.weight) for chart, c in loss.for_charts(kinds).items()}
    assert losses == {"SIC": ("mse", 1.0), "SOD": ("ce", 3.0), "FLOE": ("ce", 3.0)}
    assert train_.val_count == 20 and not train_.val_scenes
    augment = data.augment
    assert augment.cutmix_p == 0.5 and augment.cutmix_beta == 1.0
    assert augment.affine_p == 0.5 and augment.rotation_deg == 90
    assert (augment.scale_range, augment.translate_fraction, augment.shear_deg) == ((1, 1), 0, 0)
    assert augment.random_scale_p == 0.5 and augment.random_scale_range == (0.9, 1.1)
    sar_only = load_experiment("sar_only")
    assert sar_only.data.variables == (
        "nersc_sar_primary", "nersc_sar_secondary", "sar_incidenceangle", "distance_map"
    )  # fmt: skip
    # Otherwise as mmseaice: only the inputs (and so the unused 2 km upsampling) and the
    # output folder differ.
    assert (sar_only.model, sar_only.loss) == (config.model, config.loss)
    assert sar_only.train == dataclasses.replace(config.train, out_dir="runs/sar_only")
    assert sar_only.data == dataclasses.replace(
        config.data, variables=sar_only.data.variables, upsampling=sar_only.data.upsampling
    )


# -------------------------------------------------------------------- two steps at full size


@pytest.fixture(scope="session")
def real_size_scene(tmp_path_factory) -> Path:
    """One synthetic training scene of 5000 x 5000 pixels (80 m), the real scenes' size."""
    root = tmp_path_factory.mktemp("real_size")
    write_dataset(root, SynthConfig(n_train=1, n_test=0, size=(5000, 5000), seed=5),
                  workers=1, progress=False)  # fmt: skip
    return root


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_two_steps_at_the_recipes_patch_size_on_a_real_size_scene(name, real_size_scene, tmp_path):
    """Everything of the recipe but its length: its inputs, downscaling, full-size patches,
    augmentation, model, loss, optimiser and schedule; 2 patches a batch (not 8 or 16, to stay
    fast on a CPU) and no loader workers or validation scene."""
    config = load_experiment(name)
    config = config.replace("data", batch_size=2, epoch_len=2, num_workers=0,
                            cache_dir=str(tmp_path / "cache"))  # fmt: skip
    config = config.replace(
        "train", data_dir=str(real_size_scene), out_dir=str(tmp_path / "run"), epochs=1,
        val_count=0, device="cpu",
    )  # fmt: skip
    result = train(config, progress=False)
    (row,) = result.history
    assert row["steps"] == 2 and row["loss"] > 0
    assert set(row) >= {"loss_SIC", "loss_SOD", "loss_FLOE"}
    assert result.last_checkpoint.is_file()
    shutil.rmtree(tmp_path / "cache")  # the 80 m cache of the starter is 1.2 GB


def test_training_validates_on_val_count_scenes(monkeypatch, tmp_path):
    """`train.val_count` (the recipes' 20 or 10 validation scenes) is the split training uses."""
    data_dir = tiny_dataset(tmp_path / "data", n_train=4, n_test=0, size=64)
    module = importlib.import_module("kit.experiment.train")
    splits = []

    def recorded(*args, **kwargs):
        splits.append(split_scenes(*args, **kwargs))
        return splits[-1]

    monkeypatch.setattr(module, "split_scenes", recorded)
    for count in (1, 3):
        config = tiny_config(data_dir, tmp_path / f"run{count}", tmp_path / "cache",
                             train={"epochs": 1, "val_count": count, "val_fraction": 0.5},
                             data={"epoch_len": 1})  # fmt: skip
        result = train(config, progress=False)
        training, validation = splits[-1]
        assert (len(training), len(validation)) == (4 - count, count)
        assert "val_combined" in result.history[0]


# -------------------------------------------------------------------- the command line


def test_train_list_names_each_recipe_with_its_line(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--list"])
    assert exit_.value.code == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == packaged_configs()
    assert set(RECIPES) <= set(packaged_configs())
    for line in lines:
        name, text = line.split(maxsplit=1)
        assert text == config_description(PACKAGED_CONFIGS / f"{name}.yaml") != ""
    assert any(line.startswith("mmseaice ") and "MMSeaIce" in line for line in lines)


def test_train_needs_a_config_unless_listing(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["train"])
    assert exit_.value.code == 2
    assert "the following arguments are required: config" in capsys.readouterr().err


def test_an_unknown_recipe_is_one_line_listing_the_recipes(capsys):
    line = fails(capsys, "train", "mmseice")
    assert line == (
        "autoice train: error: mmseice: no such config file or packaged config (packaged "
        f"configs: {', '.join(packaged_configs())}; `autoice train --list` describes them)"
    )


def test_a_recipe_without_its_data_folder_asks_for_data(capsys, tmp_path):
    line = fails(capsys, "train", "mmseaice")
    assert line == (
        "autoice train: error: mmseaice: train.data_dir data/ai4arctic: no such data folder; "
        "give the dataset folder with --data DIR"
    )
    line = fails(capsys, "train", "starter", "--data", tmp_path / "nowhere")
    assert line == f"autoice train: error: --data {tmp_path / 'nowhere'}: no such data folder"


@pytest.fixture(scope="module")
def sar_only_scenes(tmp_path_factory) -> Path:
    """Three small training scenes (and a test scene) without their AMSR2 and ERA5 variables,
    TorchGeo layout."""
    root = tmp_path_factory.mktemp("sar_only_scenes")
    write_dataset(root, SynthConfig(n_train=3, n_test=1, size=(60, 60), seed=4),
                  workers=1, progress=False)  # fmt: skip
    for path in (root / "train").glob("*_prep.nc"):
        ds = xr.load_dataset(path)
        ds.drop_vars(list(charts.COARSE_GRID_VARIABLES)).to_netcdf(path)
    return root


@pytest.mark.parametrize("layout", ["torchgeo", "dtu"])
def test_a_recipe_on_scenes_lacking_its_inputs_fails_before_training(
    capsys, monkeypatch, tmp_path, sar_only_scenes, layout
):
    root = sar_only_scenes
    if layout == "dtu":  # a plain folder of *_prep.nc files
        root = tmp_path / "dtu"
        root.mkdir()
        for path in (sar_only_scenes / "train").glob("*_prep.nc"):
            shutil.copy(path, root / path.name)

    def started(*args, **kwargs):
        raise AssertionError("work started before the scenes' variables were checked")

    module = importlib.import_module("kit.experiment.train")  # not the function it exports
    monkeypatch.setattr(module, "PatchDataset", started)
    monkeypatch.setattr(module, "start_process", started)
    first = sorted(p for p in root.rglob("*_prep.nc") if p.parent.name != "test")[0]
    line = fails(capsys, "train", "mmseaice", "--data", root, "--out", tmp_path / "run")
    missing = ", ".join(
        v for v in load_experiment("mmseaice").data.variables if v in charts.COARSE_GRID_VARIABLES
    )
    assert line == (
        f"autoice train: error: {root}: 3 of 3 training scene(s) lack variable(s) {missing} "
        f"that the config uses (first: {first}); for scenes without AMSR2/ERA5 train the "
        "sar_only recipe"
    )
    assert not (tmp_path / "run").exists()
