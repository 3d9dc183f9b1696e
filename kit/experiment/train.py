"""Train a chart model: `autoice train CONFIG.yaml`, `python -m kit.train CONFIG.yaml`, or on
several GPUs/nodes `torchrun --nproc_per_node N -m kit.train CONFIG.yaml`.

An epoch is `data.epoch_len` random patch batches (per process). After each epoch the model
predicts the validation scenes whole, on the working grid, and the predictions, brought back to
the 80 m grid, are scored with the challenge metric (`scoring.ScoreAccumulator`). The output
folder gets `last.pt` (resumable with `--resume`), `best.pt` (best combined score),
`metrics.csv` and TensorBoard logs. With torchrun the processes use DistributedDataParallel
(NCCL on GPU, gloo on CPU); each draws its own shard of patches and process 0 validates and
writes the checkpoints.
"""

from __future__ import annotations

import csv
import io
import math
import random
import time
import warnings
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from torch import nn
from tqdm.auto import tqdm

from kit import charts
from kit.atomic import atomic_open
from kit.data.class_weights import class_weights, count_classes
from kit.data.layouts import discover
from kit.data.patches import PatchDataset, check_batches_fit
from kit.data.scene_dataset import SceneDataset
from kit.errors import KitError, reason
from kit.experiment.checkpoint import (
    MODEL_KEYS,
    RESUME_KEYS,
    check_compatible,
    checkpoint_config,
    load_checkpoint,
    save_checkpoint,
)
from kit.experiment.config import ExperimentConfig, TrainConfig
from kit.experiment.distributed import (
    Process,
    any_process,
    average_buffers,
    start_process,
)
from kit.experiment.predict import Predictor
from kit.models import MultiTaskLoss, build_model, sic_scale
from kit.safeload import load_weights, require_keys
from kit.textio import read_text
from scoring import ScoreAccumulator

LAST, BEST, METRICS = "last.pt", "best.pt", "metrics.csv"


@dataclass
class TrainResult:
    """What a training run produced (on every process; paths are written by process 0)."""

    out_dir: Path
    model: nn.Module
    history: list[dict[str, Any]] = field(default_factory=list)
    best_score: float | None = None
    epochs_run: int = 0
    seconds: float = 0.0

    @property
    def last_checkpoint(self) -> Path:
        return self.out_dir / LAST

    @property
    def best_checkpoint(self) -> Path:
        return self.out_dir / BEST


# -------------------------------------------------------------------- set-up


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


#: `train.data_dir` values that name the synthetic demo datasets (generated on first use).
DEMO_DATA = {"demo": False, "demo-quick": True}


def resolve_data_dir(data_dir: str) -> Path:
    """The dataset folder; `demo` / `demo-quick` give the synthetic demo sets."""
    if data_dir in DEMO_DATA and not Path(data_dir).exists():
        from kit.data.synthetic import demo_dataset

        return demo_dataset(quick=DEMO_DATA[data_dir])
    return Path(data_dir)


def split_scenes(data_dir: str, train: TrainConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training scenes, validation scenes) from the dataset's training split."""
    table = discover(resolve_data_dir(data_dir))
    table = table[table["split"] == "train"].reset_index(drop=True)
    if table.empty:
        raise KitError(f"{data_dir}: no training scenes (only a test split was found)")
    if train.val_scenes:
        unknown = [s for s in train.val_scenes if s not in set(table["scene_id"])]
        if unknown:
            raise KitError(f"train.val_scenes: not among the training scenes: {', '.join(unknown)}")
        is_val = table["scene_id"].isin(train.val_scenes)
    else:
        n_val = round(train.val_fraction * len(table))
        n_val = min(max(n_val, 1 if train.val_fraction > 0 else 0), len(table) - 1)
        picked = np.random.default_rng(train.seed).permutation(len(table))[:n_val]
        is_val = table.index.isin(picked)
    training, validation = table[~is_val], table[is_val]
    if training.empty:
        raise KitError("train.val_scenes: every training scene is a validation scene")
    return training.reset_index(drop=True), validation.reset_index(drop=True)


def make_optimizer(model: nn.Module, train: TrainConfig) -> torch.optim.Optimizer:
    params = model.parameters()
    if train.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=train.lr, momentum=train.momentum, weight_decay=train.weight_decay
        )
    kind = torch.optim.Adam if train.optimizer == "adam" else torch.optim.AdamW
    return kind(params, lr=train.lr, weight_decay=train.weight_decay)


def make_scheduler(optimizer, train: TrainConfig, epoch_len: int):
    """Per-batch schedule: constant, cosine over the run, or cosine with warm restarts."""
    sched = torch.optim.lr_scheduler
    if train.scheduler == "cosine":
        return sched.CosineAnnealingLR(
            optimizer, T_max=train.epochs * epoch_len, eta_min=train.min_lr
        )
    if train.scheduler == "cosine_warm_restarts":
        return sched.CosineAnnealingWarmRestarts(
            optimizer,
            T_0=train.restart_epochs * epoch_len,
            T_mult=train.restart_mult,
            eta_min=train.min_lr,
        )
    return sched.LambdaLR(optimizer, lambda _: 1.0)


def loss_class_weights(config: ExperimentConfig, kinds, scenes: pd.DataFrame) -> dict:
    """Median-frequency class weights for the charts whose loss asks for them."""
    wanted = [
        c
        for c, loss in config.loss.for_charts(kinds).items()
        if loss.class_weights == "median_frequency"
    ]
    return class_weights(count_classes(scenes, wanted)) if wanted else {}


# -------------------------------------------------------------------- validation


def validate(
    model: nn.Module, dataset: SceneDataset, config: ExperimentConfig, device: torch.device
) -> dict[str, float]:
    """Challenge scores (percent) of whole-scene predictions on the validation scenes."""
    predictor = Predictor(
        [model], config.data, dataset.channels, device,
        tile_size=config.train.tile_size, tile_overlap=config.train.tile_overlap,
    )  # fmt: skip
    accumulator = ScoreAccumulator()
    for index in range(len(dataset)):
        item = dataset[index]
        maps = predictor.predict_scene(item["x"], item["valid"], item["shape"], item["path"])
        for chart in charts.CHARTS:
            reference = item["charts"].get(chart)
            if reference is None:
                continue
            predicted = maps.get(chart)
            if predicted is None:
                predicted = np.full(reference.shape, charts.MASK, dtype=np.uint8)
            accumulator.update(item["scene_id"], chart, predicted, reference)
    model.train()
    if not accumulator.scenes:
        return {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = accumulator.report()
    return {**{f"val_{c}": s for c, s in report.charts.items()}, "val_combined": report.combined}


# -------------------------------------------------------------------- training


def train(
    config: ExperimentConfig,
    resume: bool = False,
    overwrite: bool = False,
    device: str | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train as configured; returns the run's history and the trained (unwrapped) model."""
    tc = config.train
    check_batches_fit(config.data)
    proc = start_process(device or tc.device)
    if tc.cpu_threads and proc.device.type == "cpu":
        torch.set_num_threads(tc.cpu_threads)
    seed_everything(tc.seed)
    out_dir = Path(tc.out_dir)
    state = _initial_state(out_dir, config, resume, overwrite)

    train_scenes, val_scenes = split_scenes(tc.data_dir, tc)
    patches = PatchDataset(config.data, train_scenes, rank=proc.rank, world_size=proc.world_size,
                           progress=progress and proc.is_main)  # fmt: skip
    validation = SceneDataset(config.data, val_scenes) if len(val_scenes) and proc.is_main else None
    model = build_model(config.model, patches.in_channels, config.data.charts).to(proc.device)
    loss_fn = MultiTaskLoss(
        config.loss.for_charts(model.kinds), model.kinds,
        loss_class_weights(config, model.kinds, train_scenes), sic_scale(config.model),
    ).to(proc.device)  # fmt: skip
    optimizer = make_optimizer(model, tc)
    scheduler = make_scheduler(optimizer, tc, config.data.epoch_len)
    use_amp = tc.amp and proc.device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    if state is not None:
        _restore(state, out_dir / LAST, model, optimizer, scheduler, scaler)
    wrapped = (
        nn.parallel.DistributedDataParallel(
            model, device_ids=[proc.device.index] if proc.device.type == "cuda" else None
        )
        if proc.distributed
        else model
    )

    history = list(state["history"]) if state else []
    best = state["best_score"] if state else None
    start_epoch = state["epoch"] + 1 if state else 0
    spent = state.get("seconds", 0.0) if state else 0.0
    logger = _Logger(out_dir, proc.is_main)
    started = time.perf_counter() - spent
    stop = False
    epoch = start_epoch - 1
    for epoch in range(start_epoch, tc.epochs):
        patches.set_epoch(epoch)
        losses = _train_epoch(
            wrapped, patches, loss_fn, optimizer, scheduler, scaler, proc, use_amp,
            budget_end=started + tc.time_budget_s if tc.time_budget_s else None,
            label=f"epoch {epoch + 1}/{tc.epochs}", progress=progress,
        )  # fmt: skip
        stop = losses.pop("stopped")
        average_buffers(model, proc)
        row = {"epoch": epoch + 1, "seconds": time.perf_counter() - started, **losses}
        row["lr"] = optimizer.param_groups[0]["lr"]
        last_epoch = stop or epoch + 1 == tc.epochs
        if validation is not None and ((epoch + 1) % tc.val_every == 0 or last_epoch):
            row.update(validate(model, validation, config, proc.device))
        history.append(row)
        if proc.is_main:
            score = row.get("val_combined")
            improved = (
                score is not None and not math.isnan(score) and (best is None or score > best)
            )
            best = score if improved else best
            checkpoint = {
                "config": config.to_dict(),
                "channels": list(patches.channels),
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "scaler": scaler.state_dict(),
                "epoch": epoch,
                "best_score": best,
                "history": history,
                "seconds": row["seconds"],
            }
            save_checkpoint(out_dir / LAST, checkpoint)
            if improved or validation is None:
                save_checkpoint(out_dir / BEST, checkpoint)
            logger.log(row)
        if proc.distributed:
            dist.barrier()
        if stop:
            break
    logger.close()
    return TrainResult(
        out_dir=out_dir,
        model=model,
        history=history,
        best_score=best,
        epochs_run=epoch + 1 - start_epoch,
        seconds=time.perf_counter() - started,
    )


def _initial_state(out_dir: Path, config: ExperimentConfig, resume: bool, overwrite: bool):
    """The checkpoint to resume from (checked against the config), or None for a fresh run."""
    last = out_dir / LAST
    if resume:
        if not last.is_file():
            raise KitError(f"--resume: no checkpoint {last} to resume from")
        state = load_checkpoint(last)
        require_keys(state, MODEL_KEYS + RESUME_KEYS, last, "checkpoint")
        checkpoint_config(state, last)
        check_compatible(state, config, last)
        return state
    if last.is_file() and not overwrite:
        raise KitError(
            f"{last} exists: use --resume to continue that run, --overwrite to start afresh, "
            "or another train.out_dir"
        )
    return None


def _restore(state: dict[str, Any], path: Path, model, optimizer, scheduler, scaler) -> None:
    """Load the training state of a checkpoint; one KitError line naming the file if it does not
    fit this run."""
    load_weights(model, state["model"], path, "weights do not fit the model")
    try:
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        if not isinstance(state["epoch"], int) or not isinstance(state["history"], list):
            raise TypeError("epoch is not an integer or history not a list")
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
        raise KitError(f"{path}: training state does not fit this run ({reason(exc)})") from None


def _train_epoch(
    model, patches, loss_fn, optimizer, scheduler, scaler, proc: Process, use_amp: bool,
    budget_end: float | None, label: str, progress: bool,
) -> dict[str, float]:  # fmt: skip
    """One epoch of batches; mean losses (over processes) and whether the time budget ran out."""
    model.train()
    sums = torch.zeros(1 + len(loss_fn.configs), dtype=torch.float64)
    steps, stopped = 0, False
    bar = tqdm(
        patches.loader(pin_memory=proc.device.type == "cuda"),
        total=len(patches), desc=label, unit="batch", leave=False,
        disable=not (progress and proc.is_main),
    )  # fmt: skip
    autocast = torch.autocast("cuda", dtype=torch.float16) if use_amp else nullcontext()
    for x, y in bar:
        x = x.to(proc.device, non_blocking=True)
        y = {c: t.to(proc.device, non_blocking=True) for c, t in y.items()}
        with autocast:
            outputs = model(x)
        total, parts = loss_fn({c: o.float() for c, o in outputs.items()}, y)
        if not torch.isfinite(total):
            raise KitError(f"{label}: the loss is {total.item()} at batch {steps}; lower train.lr")
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(total).backward()
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        sums += torch.tensor(
            [total.item(), *(p.item() for p in parts.values())], dtype=torch.float64
        )
        steps += 1
        bar.set_postfix(loss=f"{total.item():.3f}")
        if budget_end is not None and any_process(time.perf_counter() >= budget_end, proc):
            stopped = True
            break
    bar.close()
    counts = torch.tensor([float(steps)], dtype=torch.float64)
    if proc.distributed:
        dist.all_reduce(sums)
        dist.all_reduce(counts)
    means = (sums / counts.clamp(min=1)).tolist()
    names = ["loss"] + [f"loss_{c}" for c in loss_fn.configs]
    return {**dict(zip(names, means)), "steps": int(counts.item()), "stopped": stopped}


class _Logger:
    """metrics.csv (rewritten whole, atomically, each epoch) and TensorBoard, on process 0."""

    def __init__(self, out_dir: Path, active: bool):
        self.out_dir, self.active, self.rows = out_dir, active, []
        self.board = None
        if active:
            out_dir.mkdir(parents=True, exist_ok=True)
            from torch.utils.tensorboard import SummaryWriter

            self.board = SummaryWriter(str(out_dir / "tensorboard"))

    def log(self, row: dict[str, Any]) -> None:
        if not self.active:
            return
        self.rows = _read_metrics(self.out_dir / METRICS, before_epoch=row["epoch"]) + [row]
        columns = list(dict.fromkeys(k for r in self.rows for k in r))
        with atomic_open(self.out_dir / METRICS, newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns)
            writer.writeheader()
            writer.writerows(self.rows)
        for key, value in row.items():
            if key != "epoch" and isinstance(value, (int, float)) and not math.isnan(value):
                self.board.add_scalar(key, value, row["epoch"])
        self.board.flush()

    def close(self) -> None:
        if self.board is not None:
            self.board.close()


def _read_metrics(path: Path, before_epoch: int) -> list[dict[str, Any]]:
    """Rows of an existing metrics.csv for earlier epochs (a resumed run keeps them)."""
    if not path.is_file():
        return []
    rows = csv.DictReader(io.StringIO(read_text(path), newline=""))
    return [r for r in rows if int(r["epoch"]) < before_epoch]
