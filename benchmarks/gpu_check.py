"""GPU readiness: the `mmseaice` recipe trained, run under torchrun and predicted at real scale.

One script, one JSON document (stdout, and `--out FILE` written atomically), made to finish
within 8 minutes on one GPU (H100 class), or on the CPU as a smoke run:

- ``data``: synthetic scenes of 5000 x 5000 (default 4 train + 2 test, `autoice synth`'s
  writer), generated once into a cache folder and reused, and their scene cache (the recipe's
  inputs on its working grid). Preparing them is timed apart and left out of the 8 minutes.
- ``training``: `--steps` mixed-precision steps of the recipe through the kit's own training
  pieces (`kit.experiment.train`: the same model, loss, optimiser, AMP type and step, and
  `PatchDataset.loader` with the options `loader_options` gives training on this device).
  Reported: samples/s, peak GPU memory (``torch.cuda.max_memory_allocated``; null on the CPU)
  and the share of step time spent waiting for data (goal <= 10 %): for every step, the time
  from the end of the previous step to the moment its batch is on the device, against the
  whole. The device is synchronised at both moments (a benchmark's look; training itself does
  not). Baseline in the same run: the same steps on one batch left on the device (no loading),
  and the ratio of the two rates. The first `--warmup` steps (loader workers starting, kernel
  selection) are reported apart.
- ``torchrun``: ``torchrun --standalone --nproc_per_node 1`` running `--ddp-steps` steps of
  `kit.experiment.train.train` (the function behind ``python -m kit.train_entry``): a process group
  of one (NCCL on a GPU, gloo on the CPU) with DistributedDataParallel; whether it ran, its
  backend and its time.
- ``inference``: seconds per 5000 x 5000 test scene through `Predictor.predict_scene` (working
  grid, tiles, back onto the 80 m grid with the exact SAR mask), plain and with 8x TTA, on the
  device, after one untimed warm-up scene.
- ``environment``: device name, torch, CUDA, cuDNN and NCCL versions, the AMP type, cores,
  memory and load average; ``recipe``: the settings used and what this script changed.

Each part reports ``ok`` and, when it fails (e.g. CUDA visible but broken), its ``error``
instead of stopping the others; the exit status is then 1 (2 for bad options).

    python benchmarks/gpu_check.py                          # real scale, CUDA when available
    python benchmarks/gpu_check.py --out gpu_check.json     # also write the JSON
    python benchmarks/gpu_check.py --device cpu --steps 2   # CPU smoke run
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
import yaml  # noqa: E402

from kit import resources  # noqa: E402
from kit.atomic import check_output_file, write_json_atomic  # noqa: E402
from kit.cli import run_handler  # noqa: E402
from kit.data.cache import SceneCache  # noqa: E402
from kit.data.layouts import discover  # noqa: E402
from kit.data.patches import loader_options  # noqa: E402
from kit.data.scene_dataset import SceneDataset  # noqa: E402
from kit.data.selection import prediction_scenes  # noqa: E402
from kit.data.sources import scene_sources  # noqa: E402
from kit.data.synthetic import (  # noqa: E402
    SynthConfig,
    cache_dir,
    dataset_key,
    ensure_dataset,
    is_complete,
)
from kit.device import DEVICE_CHOICES, amp_dtype, resolve_device  # noqa: E402
from kit.errors import KitError  # noqa: E402
from kit.experiment.config import ExperimentConfig, load_experiment  # noqa: E402
from kit.experiment.distributed import end_process_group, start_process  # noqa: E402
from kit.experiment.predict import Predictor  # noqa: E402
from kit.experiment.train import _build, _step, seed_everything, train  # noqa: E402

#: The recipe checked, and the time the whole check should take on one GPU (data prepared).
RECIPE = "mmseaice"
BUDGET_S = 480.0
#: Defaults: measured training steps (a few seconds on an H100 unless the loader starves it),
#: steps of the torchrun run, synthetic scenes.
STEPS, WARMUP, DDP_STEPS = 200, 3, 20
SIZE, TRAIN_SCENES, TEST_SCENES = 5000, 4, 2


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="gpu_check.py",
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--device", choices=DEVICE_CHOICES, default="auto",
                        help="auto: CUDA when available")  # fmt: skip
    parser.add_argument("--steps", type=int, default=STEPS, help="measured training steps")
    parser.add_argument("--warmup", type=int, default=WARMUP,
                        help="training steps before the measured ones, reported apart")  # fmt: skip
    parser.add_argument(
        "--ddp-steps",
        type=int,
        help=f"steps under torchrun (default: --steps, at most {DDP_STEPS})",
    )
    parser.add_argument("--size", type=int, default=SIZE, help="side of the synthetic scenes (px)")
    parser.add_argument("--train-scenes", type=int, default=TRAIN_SCENES)
    parser.add_argument("--test-scenes", type=int, default=TEST_SCENES)
    parser.add_argument("--patch-size", type=int, help="override data.patch_size (recipe's)")
    parser.add_argument("--batch-size", type=int, help="override data.batch_size (recipe's)")
    parser.add_argument("--workers", type=int,
                        help="override data.num_workers (recipe's; on a GPU 0 lets the kit "
                        "choose)")  # fmt: skip
    parser.add_argument("--cache", type=Path,
                        help="folder for the synthetic scenes and their scene cache, reused "
                        "between runs (default: the kit's cache folder /gpu_check)")  # fmt: skip
    parser.add_argument("--out", type=Path, help="also write the JSON document here")
    parser.add_argument("--ddp-child", type=Path, help=argparse.SUPPRESS)  # torchrun's process
    parser.add_argument("--ddp-result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.ddp_steps is None:
        args.ddp_steps = min(args.steps, DDP_STEPS)
    for name in ("steps", "ddp_steps", "size", "train_scenes", "test_scenes"):
        if getattr(args, name) < 1:
            raise KitError(f"--{name.replace('_', '-')} {getattr(args, name)}: must be >= 1")
    if args.warmup < 0:
        raise KitError(f"--warmup {args.warmup}: must be >= 0")
    if args.out is not None:
        check_output_file(args.out, "--out", make_folder=True)
    return args


# -------------------------------------------------------------------- parts


def run_part(report: dict, name: str, part: Callable[[], dict]) -> dict | None:
    """Run one part of the check into ``report[name]``: its figures and ``ok: true``, or
    ``ok: false`` and the error (the other parts go on). Returns the figures, or None."""
    started = time.perf_counter()
    print(f"gpu_check: {name} ...", file=sys.stderr, flush=True)
    try:
        figures = part()
    except Exception as exc:  # noqa: BLE001 - a failed part is reported, not fatal
        report[name] = {
            "ok": False,
            "error": f"{type(exc).__name__}: {exc}",
            "where": _where(exc),
            "seconds": round(time.perf_counter() - started, 3),
        }
        print(f"gpu_check: {name} failed: {report[name]['error']}", file=sys.stderr, flush=True)
        return None
    report[name] = {"ok": True, **figures, "seconds": round(time.perf_counter() - started, 3)}
    return figures


def environment(device: torch.device) -> dict:
    """What ran the check: device, library versions, AMP type, cores, memory and load."""
    cuda = device.type == "cuda"
    name = torch.cuda.get_device_name(device) if cuda else _cpu_name()
    info = {
        "device": str(device),
        "device_name": name,
        "gpus_visible": torch.cuda.device_count() if torch.cuda.is_available() else 0,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if cuda else None,
        "nccl": _version(torch.cuda.nccl.version()) if cuda else None,
        "amp_dtype": _dtype_name(amp_dtype(device)),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "memory_gib": round(resources.memory_bytes() / 2**30, 1),
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    if cuda:
        props = torch.cuda.get_device_properties(device)
        info["gpu_memory_gib"] = round(props.total_memory / 2**30, 1)
        info["compute_capability"] = f"{props.major}.{props.minor}"
    return info


def synthetic_set(args: argparse.Namespace) -> tuple[SynthConfig, Path]:
    """The synthetic set these options ask for, and the folder `ensure_dataset` keeps it in."""
    synth = SynthConfig(n_train=args.train_scenes, n_test=args.test_scenes,
                        size=(args.size, args.size))  # fmt: skip
    return synth, args.cache / "data" / dataset_key(synth)


def prepare_data(args: argparse.Namespace, config: ExperimentConfig) -> dict:
    """The synthetic scenes (generated unless cached) and their scene cache, timed apart."""
    synth, folder = synthetic_set(args)
    reused = is_complete(folder)
    started = time.perf_counter()
    ensure_dataset(synth, folder.parent)
    generation_s = time.perf_counter() - started
    table = discover(folder)
    cache = SceneCache(config.data, config.data.cache_dir)
    started = time.perf_counter()
    for path, reference in scene_sources(table):
        cache.get(path, reference)
    cache_s = time.perf_counter() - started
    return {
        "folder": str(folder),
        "scenes": {
            "train": int((table.split == "train").sum()),
            "test": int((table.split == "test").sum()),
        },  # fmt: skip
        "scene_shape": [args.size, args.size],
        "generated": not reused,
        "generation_s": round(generation_s, 3),
        "cache_build_s": round(cache_s, 3),
        "cache_build_s_per_scene": round(cache_s / len(table), 3),
    }


def recipe_config(args: argparse.Namespace, data_dir: Path, out_dir: Path) -> tuple:
    """The recipe with this check's changes: its data, a scene cache beside it, one epoch of
    exactly the steps to run, no validation. Returns (config, the changes made)."""
    recipe = load_experiment(RECIPE)
    data = {"cache_dir": str(args.cache / "scenes"), "epoch_len": args.warmup + args.steps}
    for option, key in (("patch_size", "patch_size"), ("batch_size", "batch_size"),
                        ("workers", "num_workers")):  # fmt: skip
        if getattr(args, option) is not None:
            data[key] = getattr(args, option)
    train_changes = {"data_dir": str(data_dir), "out_dir": str(out_dir), "epochs": 1,
                     "val_scenes": (), "val_count": None, "val_fraction": 0.0,
                     "time_budget_s": None}  # fmt: skip
    config = recipe.replace("data", **data).replace("train", **train_changes)
    config = ExperimentConfig.from_dict(config.to_dict())  # checked again, as a file would be
    changes = {f"data.{k}": v for k, v in data.items()}
    changes.update({f"train.{k}": v for k, v in train_changes.items()})
    return config, {k: list(v) if isinstance(v, tuple) else v for k, v in changes.items()}


def check_training(config: ExperimentConfig, device: torch.device, warmup: int, keep: dict) -> dict:
    """Train the recipe's steps through the kit's pieces, timing the data wait of each; the
    trained model and its input channels go into `keep`."""
    proc = start_process(str(device))
    seed_everything(config.train.seed)
    run = _build(config, proc, progress=False)
    options = loader_options(config.data, proc.device)
    cuda = proc.device.type == "cuda"

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize(proc.device)

    if cuda:
        torch.cuda.reset_peak_memory_stats(proc.device)
    run.patches.set_epoch(0)
    run.wrapped.train()
    waits, steps, losses = [], [], []
    mark = time.perf_counter()
    for index, (x, y) in enumerate(run.patches.loader(**options)):
        x = x.to(proc.device, non_blocking=True)
        y = {chart: t.to(proc.device, non_blocking=True) for chart, t in y.items()}
        sync()
        ready = time.perf_counter()
        values = _step(run, x, y, f"gpu_check: batch {index}")
        sync()
        done = time.perf_counter()
        waits.append(ready - mark)
        steps.append(done - ready)
        losses.append(float(values[0]))
        mark = done
    measured_wait, measured_step = sum(waits[warmup:]), sum(steps[warmup:])
    n_measured = len(waits) - warmup
    batch = config.data.batch_size
    samples_per_s = batch * n_measured / (measured_wait + measured_step)
    peak = torch.cuda.max_memory_allocated(proc.device) if cuda else None

    # Baseline: the same steps on the last batch (x, y), left on the device: no loading at all.
    sync()
    started = time.perf_counter()
    for index in range(n_measured):
        _step(run, x, y, f"gpu_check: resident batch {index}")
    sync()
    resident_per_s = batch * n_measured / (time.perf_counter() - started)
    del x, y
    keep.update(model=run.model, channels=run.patches.channels)
    return {
        "steps": n_measured,
        "warmup_steps": warmup,
        "batch_size": batch,
        "patch_size": config.data.patch_size,
        "in_channels": run.patches.in_channels,
        "parameters": sum(p.numel() for p in run.model.parameters()),
        "amp": run.use_amp,
        "amp_dtype": _dtype_name(run.amp_dtype),
        "loss_scaling": run.scaler.is_enabled(),
        "loader": options,
        "samples_per_s": round(samples_per_s, 3),
        "data_wait_share": round(measured_wait / (measured_wait + measured_step), 4),
        "data_wait_goal": 0.10,
        "mean_step_ms": round(1000 * measured_step / n_measured, 3),
        "mean_data_wait_ms": round(1000 * measured_wait / n_measured, 3),
        "max_data_wait_ms": round(1000 * max(waits[warmup:]), 3),
        "warmup_data_wait_s": round(sum(waits[:warmup]), 3),
        "warmup_step_s": round(sum(steps[:warmup]), 3),
        "baseline_resident_batch_samples_per_s": round(resident_per_s, 3),
        "ratio_to_resident_batch": round(samples_per_s / resident_per_s, 3),
        "peak_gpu_memory_bytes": peak,
        "peak_gpu_memory_gib": None if peak is None else round(peak / 2**30, 3),
        "first_loss": losses[0],
        "last_loss": losses[-1],
    }


def check_inference(config, model, channels, data_dir: Path, device: torch.device) -> dict:
    """Seconds per test scene through `Predictor.predict_scene`, plain and with 8x TTA."""
    scenes = SceneDataset(config.data, prediction_scenes(data_dir))
    cuda = device.type == "cuda"
    figures: dict[str, Any] = {"scenes": len(scenes), "tile_size": config.train.tile_size,
                               "tile_overlap": config.train.tile_overlap}  # fmt: skip
    warm = False
    for label, tta in (("plain", False), ("tta8", True)):
        predictor = Predictor([model], config.data, channels, device, tta=tta,
                              tile_size=config.train.tile_size,
                              tile_overlap=config.train.tile_overlap)  # fmt: skip
        times = []
        for scene, _reference in scenes.inputs():
            if not warm:  # once, untimed: weights on the device, kernels chosen, files cached
                predictor.predict_scene(scene.x, scene.valid, scene.shape, scene.path)
                warm = True
            if cuda:
                torch.cuda.synchronize(device)
            started = time.perf_counter()
            maps = predictor.predict_scene(scene.x, scene.valid, scene.shape, scene.path)
            times.append(time.perf_counter() - started)  # maps are on the CPU: work is done
            figures["scene_shape"] = list(scene.shape)
            figures["working_grid"] = list(scene.x.shape[-2:])
            figures["charts"] = sorted(maps)
        figures[f"{label}_s_per_scene"] = round(sum(times) / len(times), 3)
        figures[f"{label}_s"] = [round(t, 3) for t in times]
    figures["tta_over_plain"] = round(figures["tta8_s_per_scene"] / figures["plain_s_per_scene"], 3)
    return figures


def check_torchrun(config: ExperimentConfig, device: torch.device, steps: int, work: Path) -> dict:
    """``torchrun --nproc_per_node 1`` of the kit's training for `steps` steps."""
    config = config.replace("data", epoch_len=steps).replace("train", out_dir=str(work / "run"))
    config_path, result_path = work / "ddp.yaml", work / "ddp_result.json"
    config_path.write_text(yaml.safe_dump(_plain(config.to_dict()), sort_keys=False))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node", "1", str(Path(__file__).resolve()),
               "--ddp-child", str(config_path), "--ddp-result", str(result_path),
               "--device", device.type]  # fmt: skip
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    if device.type == "cuda":
        torch.cuda.empty_cache()  # this process's cached blocks, for the child
    started = time.perf_counter()
    returncode, output = run_stopping_on_timeout(command, env, BUDGET_S)
    wall_s = time.perf_counter() - started
    if returncode != 0 or not result_path.is_file():
        tail = " | ".join(output.strip().splitlines()[-4:])
        raise RuntimeError(f"torchrun exited with status {returncode}: {tail}")
    child = json.loads(result_path.read_text())
    return {"ran": True, **child, "wall_s": round(wall_s, 3),
            "command": "torchrun --standalone --nproc_per_node 1 ... train()"}  # fmt: skip


def run_stopping_on_timeout(command: list[str], env: dict, timeout: float) -> tuple[int, str]:
    """Run `command`; (exit status, stderr or else stdout). Past `timeout` seconds it is asked
    to stop (SIGTERM: torchrun then stops its workers, which run in sessions of their own),
    killed if it has not stopped 30 s later, and the timeout is raised."""
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=env) as child:  # fmt: skip
        try:
            out, err = child.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            child.terminate()
            try:
                child.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.communicate()
            raise RuntimeError(f"torchrun ran past {timeout:.0f} s and was stopped") from None
    return child.returncode, err or out


def ddp_child(args: argparse.Namespace) -> int:
    """The process torchrun starts: the kit's `train()`, then what its process group was."""
    config = load_experiment(args.ddp_child)
    started = time.perf_counter()
    result = train(config, overwrite=True, device=args.device, progress=False)
    train_s = time.perf_counter() - started
    joined = dist.is_initialized()
    info = {
        "backend": str(dist.get_backend()) if joined else None,
        "world_size": dist.get_world_size() if joined else 1,
        "device": str(next(result.model.parameters()).device),
        "steps": int(result.history[-1]["steps"]),
        "loss": result.history[-1]["loss"],
        "checkpoint_written": result.last_checkpoint.is_file(),
        "train_s": round(train_s, 3),
    }
    rank = dist.get_rank() if joined else 0
    end_process_group()
    if rank == 0:
        write_json_atomic(args.ddp_result, info)
    return 0


# -------------------------------------------------------------------- main


def gpu_check(args: argparse.Namespace) -> int:
    """Run every part into one report; print it (and write `--out`). 1 if a part failed."""
    if args.ddp_child is not None:
        return ddp_child(args)
    args.cache = args.cache or cache_dir() / "gpu_check"
    device = resolve_device(args.device, "--device")
    started = time.perf_counter()
    report: dict[str, Any] = {"check": "gpu_readiness", "recipe": RECIPE, "budget_s": BUDGET_S}
    run_part(report, "environment", lambda: environment(device))
    with tempfile.TemporaryDirectory(prefix="gpu_check-") as tmp:
        work = Path(tmp)
        _, synth_dir = synthetic_set(args)
        config, changes = recipe_config(args, synth_dir, work / "train")
        report["settings"] = {"changes_to_recipe": changes, **_plain(config.to_dict())}
        data = run_part(report, "data", lambda: prepare_data(args, config))
        data_s = report["data"]["seconds"]
        trained: dict[str, Any] = {}
        if data is None:
            skip(report, ("training", "inference", "torchrun"), "the data part failed")
        else:
            run_part(report, "training", lambda: check_training(config, device, args.warmup,
                                                                 trained))  # fmt: skip
        if trained:
            model, channels = trained.pop("model"), trained.pop("channels")
            run_part(report, "inference",
                     lambda: check_inference(config, model, channels, synth_dir, device))  # fmt: skip
            del model
        elif data is not None:
            skip(report, ("inference",), "no trained model: the training part failed")
        if data is not None:
            (work / "ddp").mkdir()
            run_part(report, "torchrun",
                     lambda: check_torchrun(config, device, args.ddp_steps, work / "ddp"))  # fmt: skip
    total = time.perf_counter() - started
    report["total_s"] = round(total, 3)
    report["total_without_data_s"] = round(total - data_s, 3)
    report["within_budget"] = total - data_s <= BUDGET_S
    parts = ("environment", "data", "training", "inference", "torchrun")
    report["ok"] = all(report.get(p, {}).get("ok", False) for p in parts)
    text = json.dumps(report, indent=2)
    print(text)
    if args.out is not None:
        write_json_atomic(args.out, report)
    return 0 if report["ok"] else 1


def skip(report: dict, names: tuple[str, ...], reason: str) -> None:
    """Mark parts that could not run because an earlier one failed."""
    for name in names:
        report[name] = {"ok": False, "error": f"not run: {reason}"}


def _version(value: Any) -> str:
    """A version given as a tuple of numbers (NCCL's), or anything else, as text."""
    return ".".join(map(str, value)) if isinstance(value, (tuple, list)) else str(value)


def _where(exc: BaseException) -> str:
    """File, line and function where `exc` was raised."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    frame = frames[-1]
    return f"{Path(frame.filename).name}:{frame.lineno} in {frame.name}"


def _dtype_name(dtype: torch.dtype | None) -> str | None:
    return None if dtype is None else str(dtype).removeprefix("torch.")


def _plain(value: Any) -> Any:
    """Settings as plain YAML/JSON values (tuples as lists, dataclasses as mappings)."""
    if dataclasses.is_dataclass(value):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(argv)
    except KitError as exc:
        print(f"gpu_check: error: {exc}", file=sys.stderr)
        return 2
    return run_handler("gpu_check", gpu_check, args)


if __name__ == "__main__":
    sys.exit(main())
