"""Checkpoints: model weights plus the whole experiment config, written atomically.

A checkpoint is a `torch.save` dict. It carries the experiment config (so a checkpoint alone
rebuilds its model and its input pipeline), the input channel names, the training state for
`--resume` (optimiser, schedule, AMP scaler, epoch, best score; random draws follow from the
seed and the epoch) and the history of validation scores. It is written under a temporary name
in the same folder and renamed.

Loading runs no code from the file: a checkpoint holds only tensors, dict/list/tuple and
str/int/float/bool/None (the config as the plain dict of `ExperimentConfig.to_dict`, rebuilt
with `ExperimentConfig.from_dict`), is read with `torch.load(weights_only=True)`, and anything
else is refused with one line naming the file and the refused global (`kit.safeload`).
Checkpoints written by earlier versions of the kit load unchanged: format 1 has always held
only such plain data (no config dataclasses, numpy objects, paths or random states), so no
type is allowed beyond torch's own list and there is nothing to convert.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from kit.atomic import atomic_path
from kit.errors import KitError
from kit.experiment.config import ExperimentConfig, config_differences
from kit.models import build_model
from kit.safeload import check_plain, load_plain, load_weights, require_keys

FORMAT = "autoice-checkpoint/1"
#: Keys a checkpoint needs to rebuild its model, and the further keys `--resume` needs.
MODEL_KEYS = ("config", "channels", "model")
RESUME_KEYS = ("optimizer", "scheduler", "scaler", "epoch", "best_score", "history")

#: Sections and settings that must agree between a checkpoint and the config it is used with:
#: everything that shapes the model or its inputs. Training settings may change on resume.
MODEL_SECTIONS = ("data", "model", "loss")
#: Data settings that change neither the model nor its inputs.
IGNORED_SETTINGS = ("data.num_workers", "data.cache_dir", "data.epoch_len", "data.batch_size")


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write `state` (with `config` as a plain dict and `model` weights) atomically.

    TypeError if `state` holds anything but tensors and plain data: it could not be reloaded.
    """
    path = Path(path)
    state = {"format": FORMAT, **state}
    check_plain(state)
    with atomic_path(path) as temporary:
        torch.save(state, temporary)
    return path


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint on the CPU, running no code from it; a KitError names the file if it
    is not one of ours."""
    state = load_plain(path, "checkpoint")
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise KitError(f"{path}: not an AutoICE Kit checkpoint (format {FORMAT})")
    return state


def checkpoint_config(
    state: dict[str, Any], path: str | os.PathLike = "checkpoint"
) -> ExperimentConfig:
    """The experiment config stored in a checkpoint."""
    require_keys(state, ["config"], path, "checkpoint")
    return ExperimentConfig.from_dict(state["config"], source=f"{path} (stored config)")


def check_compatible(
    state: dict[str, Any], config: ExperimentConfig, path: str | os.PathLike = "checkpoint"
) -> None:
    """Raise a KitError listing every model/data setting where checkpoint and config differ.

    The stored config is read through `ExperimentConfig` first, so a setting added since the
    checkpoint was written compares as its default (what the checkpoint was trained with)."""
    stored = checkpoint_config(state, path).to_dict()
    differences = [
        d
        for d in config_differences(stored, config.to_dict(), MODEL_SECTIONS)
        if d.split(":")[0] not in IGNORED_SETTINGS
    ]
    if differences:
        raise KitError(
            f"{path}: checkpoint was made with a different config "
            f"(checkpoint -> config): {'; '.join(differences)}"
        )


def model_from_checkpoint(
    state: dict[str, Any], path: str | os.PathLike = "checkpoint"
) -> tuple[nn.Module, ExperimentConfig]:
    """Rebuild the network a checkpoint was trained as and load its weights (eval mode)."""
    require_keys(state, MODEL_KEYS, path, "checkpoint")
    config = checkpoint_config(state, path)
    channels = state["channels"]
    if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
        raise KitError(f"{path}: checkpoint channels are not a list of names")
    model = build_model(config.model, len(channels), config.data.charts)
    load_weights(model, state["model"], path, "weights do not fit the stored model config")
    return model.eval(), config
