"""Tiny synthetic datasets and experiment configs for fast training and inference tests."""

from __future__ import annotations

from pathlib import Path

from kit.data.synthetic import SynthConfig, write_dataset
from kit.experiment.config import ExperimentConfig

#: A few inputs of every kind: SAR, AMSR2, ERA5-free, month and latitude channels.
TINY_VARIABLES = ["nersc_sar_primary", "nersc_sar_secondary", "btemp_36_5h", "aux_time", "aux_lat"]


def tiny_dataset(root: Path, n_train: int = 4, n_test: int = 2, size: int = 96) -> Path:
    """Write a small synthetic dataset (TorchGeo layout) into `root`."""
    write_dataset(root, SynthConfig(n_train=n_train, n_test=n_test, size=(size, size), seed=3),
                  workers=1, progress=False)  # fmt: skip
    return root


def tiny_config(data_dir: Path, out_dir: Path, cache_dir: Path, **sections) -> ExperimentConfig:
    """A multi-task U-Net of a few thousand weights, 64x64 patches, 2 epochs of 3 batches.

    `sections` override settings per section (the `model` section is replaced whole), e.g.
    `model={"type": "unet", "levels": 2}`.
    """
    config = {
        "data": {
            "variables": TINY_VARIABLES,
            "patch_size": 64,
            "batch_size": 4,
            "downscale": 2,
            "epoch_len": 3,
            "cache_dir": str(cache_dir),
        },
        "model": {"type": "multitask_unet", "filters": [8, 8, 16]},
        "train": {
            "data_dir": str(data_dir),
            "out_dir": str(out_dir),
            "epochs": 2,
            "val_fraction": 0.25,
            "device": "cpu",
            "lr": 0.005,
        },
    }
    for section, changes in sections.items():
        if section == "model":
            config["model"] = dict(changes)
        else:
            config.setdefault(section, {}).update(changes)
    return ExperimentConfig.from_dict(config)
