"""Optimiser and learning-rate schedule of a training run, as `TrainConfig` asks for them."""

from __future__ import annotations

import torch
from torch import nn

from kit.experiment.config import TrainConfig


def make_optimizer(model: nn.Module, train: TrainConfig) -> torch.optim.Optimizer:
    """AdamW, Adam or SGD (with momentum) over all of the model's parameters.

    Parameters
    ----------
    model : nn.Module
        The network being trained.
    train : TrainConfig
        ``optimizer``, ``lr``, ``weight_decay`` and ``momentum`` are read.

    Returns
    -------
    torch.optim.Optimizer
    """
    params = model.parameters()
    if train.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=train.lr, momentum=train.momentum, weight_decay=train.weight_decay
        )
    kind = torch.optim.Adam if train.optimizer == "adam" else torch.optim.AdamW
    return kind(params, lr=train.lr, weight_decay=train.weight_decay)


def make_scheduler(
    optimizer: torch.optim.Optimizer, train: TrainConfig, epoch_len: int
) -> torch.optim.lr_scheduler.LRScheduler:
    """Per-batch schedule: constant, cosine over the run, or cosine with warm restarts.

    Parameters
    ----------
    optimizer : torch.optim.Optimizer
    train : TrainConfig
        ``scheduler``, ``epochs``, ``min_lr``, ``restart_epochs`` and ``restart_mult`` are read.
    epoch_len : int
        Batches per epoch: the schedule is stepped once per batch.

    Returns
    -------
    torch.optim.lr_scheduler.LRScheduler
    """
    schedules = torch.optim.lr_scheduler
    if train.scheduler == "cosine":
        return schedules.CosineAnnealingLR(
            optimizer, T_max=train.epochs * epoch_len, eta_min=train.min_lr
        )
    if train.scheduler == "cosine_warm_restarts":
        return schedules.CosineAnnealingWarmRestarts(
            optimizer,
            T_0=train.restart_epochs * epoch_len,
            T_mult=train.restart_mult,
            eta_min=train.min_lr,
        )
    return schedules.LambdaLR(optimizer, lambda _: 1.0)
