"""Checkpoints: model weights plus the whole experiment config, written atomically.

A checkpoint is a `torch.save` dict, built in one place (`training_state`). It carries the
experiment config (so a checkpoint alone rebuilds its model and its input pipeline), the input
channel names, the training state for `--resume` (optimiser, schedule, AMP scaler, epoch, best
score, seconds spent, and torch's random states on the CPU and each GPU: patches are drawn from
the seed and the epoch, but dropout-like layers draw from torch's global generator) and the
history of validation scores. It is written under a temporary name in the same folder and
renamed.

Loading runs no code from the file: a checkpoint holds only tensors, dict/list/tuple and
str/int/float/bool/None (the config as the plain dict of `ExperimentConfig.to_dict`, rebuilt
with `ExperimentConfig.from_dict`), is read with `torch.load(weights_only=True)`, and anything
else is refused with one line naming the file and the refused global (`kit.safeload`).
Checkpoints written by earlier versions of the kit load unchanged: format 1 has always held
only such plain data (no config dataclasses, numpy objects or paths; random states are
tensors), so no type is allowed beyond torch's own list and there is nothing to convert.
Checkpoints written before random states were stored resume with the generator as the seed
left it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from kit.atomic import atomic_path
from kit.errors import KitError, reason
from kit.experiment.config import ExperimentConfig, config_differences
from kit.models import build_model
from kit.safeload import check_plain, load_plain, load_weights, require_keys

FORMAT = "autoice-checkpoint/1"
#: Keys a checkpoint needs to rebuild its model, and the further keys `--resume` needs.
MODEL_KEYS = ("config", "channels", "model")
RESUME_KEYS = ("optimizer", "scheduler", "scaler", "epoch", "best_score", "history")
#: Optional key: torch's random states ({"cpu": tensor, "cuda": [tensor per GPU]}).
RANDOM_KEY = "random"

#: Sections and settings that must agree between a checkpoint and the config it is used with:
#: everything that shapes the model or its inputs. Training settings may change on resume.
MODEL_SECTIONS = ("data", "model", "loss")
#: Data settings that change neither the model nor its inputs.
IGNORED_SETTINGS = ("data.num_workers", "data.cache_dir", "data.epoch_len", "data.batch_size")


def training_state(
    config: ExperimentConfig,
    channels: list[str],
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    scaler: torch.amp.GradScaler,
    epoch: int,
    best_score: float | None,
    history: list[dict[str, Any]],
    seconds: float,
) -> dict[str, Any]:
    """Everything a checkpoint holds after `epoch` (counted from 0): the one place it is built.

    Parameters
    ----------
    config : ExperimentConfig
        Stored as a plain dict, so the checkpoint alone rebuilds model and inputs.
    channels : list of str
        Input channel names, in the model's order.
    model, optimizer, scheduler, scaler
        Their ``state_dict()`` is stored (the unwrapped model, not its DDP wrapper).
    epoch : int
        The epoch just finished, from 0; `--resume` starts at ``epoch + 1``.
    best_score : float or None
        Best validation combined score so far.
    history : list of dict
        One row per epoch (losses, learning rate, validation scores).
    seconds : float
        Training time spent so far (a resumed run's time budget counts it).

    Returns
    -------
    dict
        Plain data and tensors only, ready for `save_checkpoint`.
    """
    return {
        "config": config.to_dict(),
        "channels": list(channels),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict(),
        "epoch": epoch,
        "best_score": best_score,
        "history": history,
        "seconds": seconds,
        RANDOM_KEY: random_states(),
    }


def random_states() -> dict[str, Any]:
    """torch's generator states: the CPU's and each visible GPU's."""
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
    return {"cpu": torch.get_rng_state(), "cuda": list(cuda)}


def restore_training(
    state: dict[str, Any], path: str | os.PathLike, model, optimizer, scheduler, scaler
) -> None:
    """Load a checkpoint's training state into this run's objects, for `--resume`.

    Raises
    ------
    KitError
        One line naming `path` if the weights or the training state do not fit this run.
    """
    load_weights(model, state["model"], path, "weights do not fit the model")
    try:
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if state["scaler"]:  # empty: saved without loss scaling (CPU, bfloat16); start afresh
            scaler.load_state_dict(state["scaler"])
        if not isinstance(state["epoch"], int) or not isinstance(state["history"], list):
            raise TypeError("epoch is not an integer or history not a list")
        _restore_random(state.get(RANDOM_KEY))
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
        raise KitError(f"{path}: training state does not fit this run ({reason(exc)})") from None


def _restore_random(states: dict[str, Any] | None) -> None:
    """Set torch's generators as stored; GPUs beyond those stored (or none stored) keep theirs."""
    if states is None:
        return
    torch.set_rng_state(states["cpu"])
    cuda = states["cuda"][: torch.cuda.device_count()] if torch.cuda.is_available() else []
    for index, cuda_state in enumerate(cuda):
        torch.cuda.set_rng_state(cuda_state, index)


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write a checkpoint atomically: a crash never leaves a half-written file at `path`.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write (``best.pt``); its folder is created if needed.
    state : dict
        At least ``config`` (`ExperimentConfig.to_dict`), ``channels`` and ``model`` weights,
        as `training_state` builds it; a ``format`` key is added.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    TypeError
        If `state` holds anything but tensors and plain data (dict, list, tuple, str, int,
        float, bool, None): `load_checkpoint` could not read it back.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = save_checkpoint(Path(tmp, "run", "best.pt"), {
    ...         "config": ExperimentConfig().to_dict(), "channels": ["nersc_sar_primary"],
    ...         "model": {"weight": torch.ones(2)}})
    ...     written = sorted(p.name for p in path.parent.iterdir())
    ...     save_checkpoint(Path(tmp, "bad.pt"), {"model": {}, "path": Path(tmp)})
    Traceback (most recent call last):
    ...
    TypeError: ...PosixPath is not plain data
    >>> written
    ['best.pt']
    """
    path = Path(path)
    state = {"format": FORMAT, **state}
    check_plain(state)
    with atomic_path(path) as temporary:
        torch.save(state, temporary)
    return path


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint on the CPU, running no code from it; a KitError names the file if it
    is not one of ours.

    Checkpoints are untrusted files: they are read with ``torch.load(weights_only=True)``, so
    a crafted one is refused before any of its code runs (`kit.safeload`).

    Parameters
    ----------
    path : str or os.PathLike
        A file written by `save_checkpoint` (``last.pt``, ``best.pt``).

    Returns
    -------
    dict
        The checkpoint: ``format``, ``config`` (plain dict), ``channels``, ``model`` weights
        and, from training, the state `--resume` needs (`training_state`).

    Raises
    ------
    KitError
        If the file is missing, unreadable, holds more than tensors and plain data, or is
        not an AutoICE Kit checkpoint.

    Examples
    --------
    >>> import tempfile
    >>> from kit.experiment import ExperimentConfig
    >>> config = ExperimentConfig()
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = save_checkpoint(Path(tmp, "best.pt"), {
    ...         "config": config.to_dict(),
    ...         "channels": ["nersc_sar_primary"],
    ...         "model": {"weight": torch.ones(2)},
    ...     })
    ...     state = load_checkpoint(path)
    ...     torch.save({"weights": torch.ones(2)}, Path(tmp, "other.pt"))
    ...     load_checkpoint(Path(tmp, "other.pt"))
    Traceback (most recent call last):
    ...
    kit.errors.KitError: .../other.pt: not an AutoICE Kit checkpoint (format autoice-checkpoint/1)
    >>> sorted(state), state["channels"]
    (['channels', 'config', 'format', 'model'], ['nersc_sar_primary'])
    >>> ExperimentConfig.from_dict(state["config"]) == config
    True
    """
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
    """Check that a checkpoint can be used with `config`: same data, model and loss settings.

    Training settings (``train``) may differ, and so may the data settings that change neither
    the model nor its inputs (`IGNORED_SETTINGS`: workers, cache folder, epoch length, batch
    size). The stored config is read through `ExperimentConfig` first, so a setting added
    since the checkpoint was written compares as its default (what it was trained with).

    Parameters
    ----------
    state : dict
        A checkpoint (`load_checkpoint`).
    config : ExperimentConfig
        The config it is to be used with, e.g. to resume training.
    path : str or os.PathLike
        The checkpoint's file, named by the error.

    Raises
    ------
    KitError
        Listing every data/model/loss setting that differs (``setting: checkpoint -> config``),
        or if the stored config is missing or invalid.

    Examples
    --------
    >>> config = ExperimentConfig.from_dict({"model": {"type": "unet", "levels": 2}})
    >>> state = {"config": config.to_dict()}
    >>> check_compatible(state, config.replace("train", lr=0.1))  # training settings may differ
    >>> check_compatible(state, config.replace("data", batch_size=2))  # so may the batch size
    >>> check_compatible(state, config.replace("model", levels=3), "runs/a/last.pt")
    Traceback (most recent call last):
    ...
    kit.errors.KitError: runs/a/last.pt: checkpoint was made with a different config
    (checkpoint -> config): model.levels: 2 -> 3
    """
    stored = checkpoint_config(state, path).to_dict()
    differences = model_differences(stored, config.to_dict(), MODEL_SECTIONS)
    if differences:
        raise KitError(
            f"{path}: checkpoint was made with a different config "
            f"(checkpoint -> config): {'; '.join(differences)}"
        )


def model_differences(
    first: dict[str, Any], second: dict[str, Any], sections: tuple[str, ...] = MODEL_SECTIONS
) -> list[str]:
    """`section.key: first -> second` for each setting of `sections` that differs, leaving out
    the IGNORED_SETTINGS (those change neither the model nor its inputs).

    Parameters
    ----------
    first, second : dict
        Experiment configs as plain dicts (`ExperimentConfig.to_dict`).
    sections : tuple of str
        The sections compared; ``("data",)`` asks whether two models share their inputs.

    Returns
    -------
    list of str
        One line per difference, sorted by setting; empty when they agree.
    """
    return [
        d
        for d in config_differences(first, second, sections)
        if d.split(":")[0] not in IGNORED_SETTINGS
    ]


def model_from_checkpoint(
    state: dict[str, Any], path: str | os.PathLike = "checkpoint"
) -> tuple[nn.Module, ExperimentConfig]:
    """Rebuild the network a checkpoint was trained as and load its weights (eval mode).

    The checkpoint's own config says which network to build, so no config file is needed to
    use a trained model (`Predictor.from_checkpoints` builds on this).

    Parameters
    ----------
    state : dict
        A checkpoint (`load_checkpoint`) with ``config``, ``channels`` and ``model``.
    path : str or os.PathLike
        The checkpoint's file, named by the errors.

    Returns
    -------
    model : torch.nn.Module
        The network on the CPU, in eval mode.
    config : ExperimentConfig
        The experiment it was trained with (its input pipeline is ``config.data``).

    Raises
    ------
    KitError
        If a key is missing, the stored config is invalid, the channels are not a list of
        names, or the weights do not fit the network the config describes.

    Examples
    --------
    >>> config = ExperimentConfig.from_dict({"model": {"type": "unet", "levels": 2}})
    >>> trained = build_model(config.model, 2, config.data.charts)
    >>> channels = ["nersc_sar_primary", "nersc_sar_secondary"]
    >>> state = {"config": config.to_dict(), "channels": channels, "model": trained.state_dict()}
    >>> model, stored = model_from_checkpoint(state)
    >>> model.training, stored == config, model.kinds == trained.kinds
    (False, True, True)
    >>> model_from_checkpoint({**state, "channels": ["nersc_sar_primary"]}, "best.pt")
    Traceback (most recent call last):
    ...
    kit.errors.KitError: best.pt: weights do not fit the stored model config...
    """
    require_keys(state, MODEL_KEYS, path, "checkpoint")
    config = checkpoint_config(state, path)
    channels = state["channels"]
    if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
        raise KitError(f"{path}: checkpoint channels are not a list of names")
    model = build_model(config.model, len(channels), config.data.charts)
    load_weights(model, state["model"], path, "weights do not fit the stored model config")
    return model.eval(), config
