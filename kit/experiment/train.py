"""Train a chart model: `autoice train CONFIG.yaml`, `python -m kit.train_entry CONFIG.yaml`, or on
several GPUs/nodes `torchrun --nproc_per_node N -m kit.train_entry CONFIG.yaml`.

An epoch is `data.epoch_len` random patch batches (per process). After each epoch the model
predicts the validation scenes whole, on the working grid, and the predictions, brought back to
the 80 m grid, are scored with the challenge metric (`scoring.ScoreAccumulator`). The output
folder gets `last.pt` (resumable with `--resume`), `best.pt` (best combined score; the latest
epoch when there are no validation scenes), `metrics.csv` and TensorBoard logs. At the end,
`best.pt` gets its probability calibration fitted on the validation scenes
(`kit.experiment.calibration`; `train.calibrate: false` leaves it out). With torchrun the processes use DistributedDataParallel
(NCCL on GPU, gloo on CPU); each draws its own shard of patches and process 0 validates and
writes the checkpoints.
"""

from __future__ import annotations

import math
import os
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
from torch import nn
from tqdm.auto import tqdm

from kit import charts
from kit.data.class_weights import class_weights, count_classes
from kit.data.layouts import discover
from kit.data.patches import PatchDataset, check_batches_fit, loader_options
from kit.data.scene_dataset import SceneDataset
from kit.data.selection import resolve_data_dir, split_scenes
from kit.data.sources import missing_variables, scene_sources
from kit.device import amp_dtype
from kit.errors import KitError
from kit.experiment.calibration import fit_calibration
from kit.experiment.checkpoint import (
    MODEL_KEYS,
    RESUME_KEYS,
    check_compatible,
    checkpoint_config,
    load_checkpoint,
    restore_training,
    save_checkpoint,
    training_state,
)
from kit.experiment.config import ExperimentConfig
from kit.experiment.distributed import (
    Process,
    any_process,
    average_buffers,
    barrier,
    start_process,
    sum_over_processes,
    wrap_model,
)
from kit.experiment.metrics_log import MetricsLog
from kit.experiment.optim import make_optimizer, make_scheduler
from kit.experiment.predict import Predictor
from kit.experiment.uncertainty import CALIBRATION_KEY
from kit.models import MultiTaskLoss, build_model, sic_scale
from kit.safeload import require_keys
from scoring import ScoreAccumulator

#: Checkpoints in a run's output folder: after the latest epoch, and of the best score.
LAST, BEST = "last.pt", "best.pt"


@dataclass
class TrainResult:
    """What a training run produced (on every process; paths are written by process 0).

    Attributes
    ----------
    out_dir : Path
        The run's folder: ``last.pt``, ``best.pt``, ``metrics.csv``, ``tensorboard/``.
    model : nn.Module
        The trained network, unwrapped from DDP, in training mode.
    history : list of dict
        One row per epoch since the run began (a resumed run includes earlier epochs).
    best_score : float or None
        Best validation combined score; None without validation scenes.
    epochs_run : int
        Epochs run by this call (fewer than asked if the time budget ran out).
    seconds : float
        Training time, counting a resumed run's earlier time.
    """

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
    """Seed Python's, numpy's and torch's global generators (model initialisation draws from
    torch's; patches draw from their own generators, seeded by data.seed and the epoch)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def check_dataset_variables(config: ExperimentConfig) -> None:
    """Fail before any scene is cached or batch drawn if a scene of the dataset's training
    split (training and validation scenes) lacks an input variable that the config uses.

    Only the file headers are read. The one-line error names the dataset folder, how many
    scenes lack which variables and the first such scene file; when all that is missing is
    the 2 km AMSR2/ERA5 grid it points to the `sar_only` recipe.

    Parameters
    ----------
    config : ExperimentConfig
        ``train.data_dir`` (a folder in either layout, or a demo name) and ``data.variables``.

    Raises
    ------
    KitError
        If the folder has no training scene, or a scene lacks a configured variable.

    Examples
    --------
    >>> import tempfile
    >>> from kit.data.synthetic import SynthConfig, write_dataset
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = write_dataset(tmp, SynthConfig(n_train=1, n_test=0, size=(60, 60)),
    ...                       workers=1, progress=False)
    ...     config = ExperimentConfig.from_dict({"train": {"data_dir": tmp}})
    ...     check_dataset_variables(config)  # the synthetic scenes have all 24 inputs
    """
    data_dir = config.train.data_dir
    scenes = discover(resolve_data_dir(data_dir))
    scenes = scenes[scenes["split"] == "train"]
    if scenes.empty:
        raise KitError(f"{data_dir}: no training scenes (only a test split was found)")
    missing = missing_variables(scene_sources(scenes), config.data.variables)
    if not missing:
        return
    names = list(dict.fromkeys(name for _, found in missing for name in found))
    hint = ""
    if set(names) <= set(charts.COARSE_GRID_VARIABLES):
        hint = "; for scenes without AMSR2/ERA5 train the sar_only recipe"
    raise KitError(
        f"{data_dir}: {len(missing)} of {len(scenes)} training scene(s) lack variable(s) "
        f"{', '.join(names)} that the config uses (first: {missing[0][0]}){hint}"
    )


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
    accumulator = score_scenes(model, dataset, config, device)
    if not accumulator.scenes:
        return {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = accumulator.report()
    return {**{f"val_{c}": s for c, s in report.charts.items()}, "val_combined": report.combined}


def score_scenes(
    model: nn.Module, dataset: SceneDataset, config: ExperimentConfig, device: torch.device
) -> ScoreAccumulator:
    """Predict every scene of `dataset` whole and count it against its reference charts.

    The per-scene counts behind `validate`'s scores, for statistics over scenes: bootstrap
    intervals (`scoring.statistics.bootstrap_intervals`) or a paired comparison of two models
    (`scoring.statistics.paired_bootstrap`, or `paired_bootstrap_runs` over several seeds).
    A chart the model does not predict counts as all masked; the model is left in training mode.

    Parameters
    ----------
    model : nn.Module
        The trained network.
    dataset : SceneDataset
        Whole scenes with reference charts, read as `config.data` says.
    config : ExperimentConfig
        The experiment (its data section and the train section's tile size and overlap).
    device : torch.device
        Where to predict.

    Returns
    -------
    scoring.ScoreAccumulator
        One confusion matrix per scene and chart; ``report()`` gives the challenge scores.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from kit.data.synthetic import SynthConfig, write_dataset
    >>> from kit.data import discover
    >>> from kit.models import build_model
    >>> tmp = Path(tempfile.mkdtemp())
    >>> _ = write_dataset(tmp / "data", SynthConfig(n_train=0, n_test=2, size=(64, 64)),
    ...                   workers=1, progress=False)
    >>> config = ExperimentConfig.from_dict({"data": {"variables": ["nersc_sar_primary"],
    ...     "downscale": 4, "cache_dir": str(tmp / "cache")}, "model": {"filters": [4, 4]}})
    >>> dataset = SceneDataset(config.data, discover(tmp / "data"))
    >>> model = build_model(config.model, len(dataset.channels), config.data.charts)
    >>> accumulator = score_scenes(model, dataset, config, torch.device("cpu"))
    >>> len(accumulator.scenes), sorted(accumulator.report().charts)
    (2, ['FLOE', 'SIC', 'SOD'])
    """
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
    return accumulator


# -------------------------------------------------------------------- training


def train(
    config: ExperimentConfig,
    resume: bool = False,
    overwrite: bool = False,
    device: str | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train a chart model as configured, validating and checkpointing after each epoch.

    The one training loop behind `autoice train`, ``python -m kit.train_entry`` and torchrun: the
    training scenes of ``train.data_dir`` (less the validation scenes, `split_scenes`) give
    ``data.epoch_len`` random patch batches an epoch; the validation scenes are predicted whole
    and scored with the challenge metric every ``train.val_every`` epochs and after the last.

    Parameters
    ----------
    config : ExperimentConfig
        The whole experiment: data, model, loss and train sections.
    resume : bool
        Continue from ``train.out_dir/last.pt``; its data, model and loss settings must match
        (`check_compatible`), training settings may differ.
    overwrite : bool
        Start afresh even if ``train.out_dir`` holds a run.
    device : str, optional
        ``auto``, ``cpu`` or ``cuda``; default ``train.device``.
    progress : bool
        Show progress bars (process 0 only).

    Returns
    -------
    TrainResult
        The trained (unwrapped) model, the history and where the checkpoints are.

    Raises
    ------
    KitError
        A bad config, dataset or checkpoint, an existing run without `resume`/`overwrite`,
        or a loss that is no longer finite.

    Examples
    --------
    One epoch of two batches on two tiny synthetic scenes, one of them validating (about a
    second on a CPU):

    >>> import tempfile
    >>> from kit.data.synthetic import SynthConfig, write_dataset
    >>> folder = tempfile.TemporaryDirectory()
    >>> tmp = Path(folder.name)
    >>> _ = write_dataset(tmp / "data", SynthConfig(n_train=2, n_test=0, size=(64, 64)),
    ...                   workers=1, progress=False)
    >>> config = ExperimentConfig.from_dict({
    ...     "data": {"variables": ["nersc_sar_primary", "nersc_sar_secondary"],
    ...              "patch_size": 32, "batch_size": 2, "downscale": 2, "epoch_len": 2,
    ...              "cache_dir": str(tmp / "cache")},
    ...     "model": {"type": "unet", "filters": [4, 8]},
    ...     "train": {"data_dir": str(tmp / "data"), "out_dir": str(tmp / "run"),
    ...               "epochs": 1, "val_fraction": 0.5, "device": "cpu"},
    ... })
    >>> result = train(config, progress=False)
    >>> result.epochs_run, sorted(path.name for path in result.out_dir.iterdir())
    (1, ['best.pt', 'last.pt', 'metrics.csv', 'tensorboard'])
    >>> [key for key in result.history[0] if key.startswith("val_")]
    ['val_SIC', 'val_SOD', 'val_FLOE', 'val_combined']
    >>> train(config, progress=False)
    Traceback (most recent call last):
    ...
    kit.errors.KitError: .../run/last.pt exists: use --resume to continue that run, ...
    >>> folder.cleanup()
    """
    check_batches_fit(config.data)
    check_dataset_variables(config)
    proc = start_process(device or config.train.device)
    if config.train.cpu_threads and proc.device.type == "cpu":
        torch.set_num_threads(config.train.cpu_threads)
    seed_everything(config.train.seed)
    state = _initial_state(Path(config.train.out_dir), config, resume, overwrite)
    run = _build(config, proc, progress)
    done = _restore(run, state)
    log = MetricsLog(run.out_dir, proc.is_main)
    try:
        for epoch in range(done.start_epoch, config.train.epochs):
            stopped = _run_epoch(run, done, epoch, log, progress)
            barrier(proc)
            if stopped:
                break
    finally:
        log.close()
    if (
        done.epochs_run
        and config.train.calibrate
        and run.validation is not None
        and (run.out_dir / BEST).exists()
    ):
        _calibrate_best(run, progress)
    barrier(proc)
    return TrainResult(
        out_dir=run.out_dir,
        model=run.model,
        history=done.history,
        best_score=done.best,
        epochs_run=done.epochs_run,
        seconds=time.perf_counter() - done.started,
    )


@dataclass
class _Run:
    """What one training run works with, built once by `_build`."""

    config: ExperimentConfig
    proc: Process
    out_dir: Path
    patches: PatchDataset
    validation: SceneDataset | None
    model: nn.Module
    wrapped: nn.Module
    loss_fn: MultiTaskLoss
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler
    use_amp: bool
    #: The autocast type (bfloat16, or float16 with the scaler); None without mixed precision.
    amp_dtype: torch.dtype | None = None


@dataclass
class _Done:
    """How far the run has got: history, best score, where it (re)started and its clock."""

    history: list[dict[str, Any]]
    best: float | None
    start_epoch: int
    started: float
    epochs_run: int = 0


def _build(config: ExperimentConfig, proc: Process, progress: bool) -> _Run:
    """Data, model, loss, optimiser, schedule and AMP scaler of a run."""
    tc = config.train
    train_scenes, val_scenes = split_scenes(
        tc.data_dir, tc.val_scenes, tc.val_fraction, tc.seed, val_count=tc.val_count
    )
    patches = PatchDataset(config.data, train_scenes, rank=proc.rank, world_size=proc.world_size,
                           progress=progress and proc.is_main)  # fmt: skip
    validation = SceneDataset(config.data, val_scenes) if len(val_scenes) and proc.is_main else None
    model = build_model(config.model, patches.in_channels, config.data.charts).to(proc.device)
    loss_fn = MultiTaskLoss(
        config.loss.for_charts(model.kinds), model.kinds,
        loss_class_weights(config, model.kinds, train_scenes), sic_scale(config.model),
    ).to(proc.device)  # fmt: skip
    optimizer = make_optimizer(model, tc)
    dtype = amp_dtype(proc.device) if tc.amp else None
    return _Run(
        config=config, proc=proc, out_dir=Path(tc.out_dir), patches=patches,
        validation=validation, model=model, wrapped=wrap_model(model, proc), loss_fn=loss_fn,
        optimizer=optimizer, scheduler=make_scheduler(optimizer, tc, config.data.epoch_len),
        scaler=torch.amp.GradScaler("cuda", enabled=dtype == torch.float16),
        use_amp=dtype is not None, amp_dtype=dtype,
    )  # fmt: skip


def _restore(run: _Run, state: dict[str, Any] | None) -> _Done:
    """Load a resumed run's state into `run`; where the run starts, and its clock so far."""
    if state is None:
        return _Done(history=[], best=None, start_epoch=0, started=time.perf_counter())
    restore_training(state, run.out_dir / LAST, run.model, run.optimizer, run.scheduler,
                     run.scaler)  # fmt: skip
    return _Done(
        history=list(state["history"]),
        best=state["best_score"],
        start_epoch=state["epoch"] + 1,
        started=time.perf_counter() - state.get("seconds", 0.0),
    )


def _run_epoch(run: _Run, done: _Done, epoch: int, log: MetricsLog, progress: bool) -> bool:
    """Train, validate when due, checkpoint and log one epoch; True if the time ran out."""
    tc = run.config.train
    run.patches.set_epoch(epoch)
    budget_end = done.started + tc.time_budget_s if tc.time_budget_s else None
    losses = _train_epoch(run, budget_end, f"epoch {epoch + 1}/{tc.epochs}", progress)
    stopped = losses.pop("stopped")
    average_buffers(run.model, run.proc)
    row = {"epoch": epoch + 1, "seconds": time.perf_counter() - done.started, **losses}
    row["lr"] = run.optimizer.param_groups[0]["lr"]
    if _validation_due(run, epoch, stopped):
        row.update(validate(run.model, run.validation, run.config, run.proc.device))
    done.history.append(row)
    done.epochs_run += 1
    if run.proc.is_main:
        _save(run, done, epoch, row)
        log.log(row)
    return stopped


def _validation_due(run: _Run, epoch: int, stopped: bool) -> bool:
    """Validate every `val_every` epochs, after the last one, and when the time runs out."""
    if run.validation is None:
        return False
    last = stopped or epoch + 1 == run.config.train.epochs
    return (epoch + 1) % run.config.train.val_every == 0 or last


def _save(run: _Run, done: _Done, epoch: int, row: dict[str, Any]) -> None:
    """Write last.pt, and best.pt when the combined score improved (or there is no
    validation); updates the best score."""
    score = row.get("val_combined")
    improved = score is not None and not math.isnan(score)
    improved = improved and (done.best is None or score > done.best)
    done.best = score if improved else done.best
    checkpoint = training_state(
        run.config, run.patches.channels, run.model, run.optimizer, run.scheduler, run.scaler,
        epoch=epoch, best_score=done.best, history=done.history, seconds=row["seconds"],
    )  # fmt: skip
    save_checkpoint(run.out_dir / LAST, checkpoint)
    if improved or run.validation is None:
        save_checkpoint(run.out_dir / BEST, checkpoint)


def _calibrate_best(run: _Run, progress: bool) -> None:
    """Fit best.pt's calibration on the validation scenes and store it there (process 0)."""
    best = run.out_dir / BEST
    tc = run.config.train
    predictor = Predictor.from_checkpoints(
        [best], calibration=False, device=run.proc.device,
        tile_size=tc.tile_size, tile_overlap=tc.tile_overlap,
    )  # fmt: skip
    calibration = fit_calibration(predictor, run.validation, seed=tc.seed, progress=progress)
    state = load_checkpoint(best)
    state[CALIBRATION_KEY] = calibration.to_dict()
    save_checkpoint(best, state)
    run.model.train()


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


def _train_epoch(run: _Run, budget_end: float | None, label: str, progress: bool) -> dict:
    """One epoch of batches: mean losses (over processes), steps, and whether the time budget
    ran out (then every process stops after the same batch)."""
    run.wrapped.train()
    sums = torch.zeros(1 + len(run.loss_fn.configs), dtype=torch.float64)
    steps, stopped = 0, False
    local = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))  # processes on this machine (torchrun)
    bar = tqdm(
        run.patches.loader(**loader_options(run.config.data, run.proc.device, processes=local)),
        total=len(run.patches), desc=label, unit="batch", leave=False,
        disable=not (progress and run.proc.is_main),
    )  # fmt: skip
    for x, y in bar:
        losses = _step(run, x, y, f"{label}: batch {steps}")
        sums += losses
        steps += 1
        bar.set_postfix(loss=f"{losses[0].item():.3f}")
        if budget_end is not None and any_process(time.perf_counter() >= budget_end, run.proc):
            stopped = True
            break
    bar.close()
    sums = sum_over_processes(sums, run.proc)
    count = int(sum_over_processes(torch.tensor([float(steps)], dtype=torch.float64), run.proc))
    names = ["loss"] + [f"loss_{c}" for c in run.loss_fn.configs]
    means = (sums / max(count, 1)).tolist()
    return {**dict(zip(names, means)), "steps": count, "stopped": stopped}


def _step(run: _Run, x: torch.Tensor, y: dict[str, torch.Tensor], where: str) -> torch.Tensor:
    """One optimisation step on a batch; the total and per-chart losses, as float64.

    The losses come back to the CPU once, after the step (each look at a GPU value waits for
    the GPU); a loss that is no longer finite stops the run there, before anything is saved.
    """
    x = x.to(run.proc.device, non_blocking=True)
    y = {c: t.to(run.proc.device, non_blocking=True) for c, t in y.items()}
    device = run.proc.device.type
    autocast = torch.autocast(device, dtype=run.amp_dtype) if run.use_amp else nullcontext()
    with autocast:
        outputs = run.wrapped(x)
    total, parts = run.loss_fn({c: o.float() for c, o in outputs.items()}, y)
    run.optimizer.zero_grad(set_to_none=True)
    run.scaler.scale(total).backward()
    run.scaler.step(run.optimizer)
    run.scaler.update()
    run.scheduler.step()
    values = torch.stack([total.detach(), *(p.detach() for p in parts.values())])
    values = values.to("cpu", torch.float64)
    if not math.isfinite(values[0]):
        raise KitError(f"{where}: the loss is {values[0].item()}; lower train.lr")
    return values
