"""Checkpoints: model weights plus the whole experiment config, written atomically.

A checkpoint is a `torch.save` dict. It carries the experiment config (so a checkpoint alone
rebuilds its model and its input pipeline), the input channel names, the training state for
`--resume` (optimiser, schedule, AMP scaler, epoch, best score, random states) and the history
of validation scores. It is written under a temporary name in the same folder and renamed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from kit.atomic import atomic_path
from kit.errors import KitError
from kit.experiment import ExperimentConfig, config_differences
from kit.models import build_model

FORMAT = "autoice-checkpoint/1"

#: Sections and settings that must agree between a checkpoint and the config it is used with:
#: everything that shapes the model or its inputs. Training settings may change on resume.
MODEL_SECTIONS = ("data", "model", "loss")
#: Data settings that change neither the model nor its inputs.
IGNORED_SETTINGS = ("data.num_workers", "data.cache_dir", "data.epoch_len", "data.batch_size")


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write `state` (with `config` as a plain dict and `model` weights) atomically."""
    path = Path(path)
    with atomic_path(path) as temporary:
        torch.save({"format": FORMAT, **state}, temporary)
    return path


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint on the CPU; a KitError names the file if it is not one of ours."""
    path = Path(path)
    if not path.is_file():
        raise KitError(f"{path}: no such checkpoint")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # pickle, zip and torch errors
        raise KitError(f"{path}: not a readable checkpoint ({exc})") from exc
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise KitError(f"{path}: not an AutoICE Kit checkpoint (format {FORMAT})")
    return state


def checkpoint_config(
    state: dict[str, Any], path: str | os.PathLike = "checkpoint"
) -> ExperimentConfig:
    """The experiment config stored in a checkpoint."""
    try:
        return ExperimentConfig.from_dict(state["config"], source=f"{path} (stored config)")
    except KeyError:
        raise KitError(f"{path}: checkpoint holds no config") from None


def check_compatible(
    state: dict[str, Any], config: ExperimentConfig, path: str | os.PathLike = "checkpoint"
) -> None:
    """Raise a KitError listing every model/data setting where checkpoint and config differ."""
    differences = [
        d
        for d in config_differences(state["config"], config.to_dict(), MODEL_SECTIONS)
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
    config = checkpoint_config(state, path)
    channels = state.get("channels") or []
    model = build_model(config.model, len(channels), config.data.charts)
    try:
        model.load_state_dict(state["model"])
    except (KeyError, RuntimeError) as exc:
        raise KitError(f"{path}: weights do not fit the stored model config ({exc})") from exc
    return model.eval(), config
