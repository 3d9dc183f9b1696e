"""The flagship against the baseline: the demo's two models ranked by a paired bootstrap.

Trains the multi-task U-Net (`kit/configs/demo.yaml`) and the starter-style baseline U-Net
(`kit/configs/baseline_unet.yaml`) under the SAME budget (epochs x batches x patches of the
same side, so both see the same number of training patches; each keeps its own model, loss,
inputs, optimiser, learning rate and schedule), with several seeds each (seed s: the same
validation scenes and patch draws for both models), scores every run on the demo's test scenes
(whole scenes, the challenge metric, `kit.experiment.score_scenes`) with two networks of the run:
its best checkpoint by validation combined score (`best.pt`, what `autoice predict` submits) and
its last epoch's weights, and prints for each:

- each run's scores, and each model's mean and seed-to-seed SD;
- the majority-class / mean-SIC constant chart as a floor;
- the paired difference multi-task - baseline with the interval of `autoice compare`, pooled
  over seeds and scenes (`scoring.statistics.paired_bootstrap_runs`, runs paired by seed), and
  the verdict of each interval: "better", "worse" or "not resolved" (it holds 0).

Optionally (``--inference``) times predicting and writing one 5000 x 5000 scene with each model.

    python benchmarks/bench_models.py                     # 3 seeds, 20 x 25 x 8 patches of 64 px
    python benchmarks/bench_models.py --epochs 10         # half the budget
    python benchmarks/bench_models.py --seeds 1 --epochs 2   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from kit import charts
from kit.data import discover
from kit.data.class_weights import count_classes
from kit.data.scene_dataset import SceneDataset
from kit.data.selection import split_scenes
from kit.data.synthetic import SynthConfig, demo_dataset, write_dataset
from kit.device import resolve_device
from kit.experiment import (
    ExperimentConfig,
    Predictor,
    load_checkpoint,
    load_experiment,
    model_from_checkpoint,
    predict_dataset,
    score_scenes,
    train,
)
from scoring.metrics import ScoreAccumulator
from scoring.statistics import Bootstrap, paired_bootstrap_runs

MODELS = {"multi-task U-Net (demo.yaml)": "demo", "baseline U-Net (baseline_unet.yaml)": "baseline_unet"}  # fmt: skip
SCORES = ("SIC", "SOD", "FLOE", "combined")
#: The networks of a run that are scored: the best checkpoint and the last epoch's weights.
NETWORKS = ("best", "last")
INFERENCE_GOAL_S = 5.0


def budget_config(name: str, args: argparse.Namespace, data_dir: Path, work: Path, seed: int):
    """The packaged config `name` with the shared budget, seed and folders."""
    config = load_experiment(name).to_dict()
    config["data"].update(
        patch_size=args.patch_size, batch_size=args.batch_size, epoch_len=args.epoch_len,
        seed=seed, cache_dir=str(work / "cache"),
    )  # fmt: skip
    config["train"].update(
        data_dir=str(data_dir), out_dir=str(work / "runs" / f"{name}-seed{seed}"),
        epochs=args.epochs, seed=seed, time_budget_s=None, device=args.device,
        cpu_threads=args.threads,
    )  # fmt: skip
    return ExperimentConfig.from_dict(config, source=name)


def constant_charts(config: ExperimentConfig, test: SceneDataset) -> ScoreAccumulator:
    """Counts of the constant chart: mean SIC class, most frequent SOD and FLOE class."""
    training, _ = split_scenes(
        config.train.data_dir, config.train.val_scenes, config.train.val_fraction, config.train.seed
    )
    counts = count_classes(training)
    sic = counts["SIC"]
    value = {
        "SIC": int(round(float((np.arange(len(sic)) * sic).sum() / sic.sum()))),
        "SOD": int(np.argmax(counts["SOD"])),
        "FLOE": int(np.argmax(counts["FLOE"])),
    }
    accumulator = ScoreAccumulator()
    for index in range(len(test)):
        item = test[index]
        for chart in charts.CHARTS:
            reference = item["charts"][chart]
            accumulator.update(
                item["scene_id"], chart, np.full(reference.shape, value[chart], np.uint8), reference
            )
    return accumulator


def scores_of(accumulator: ScoreAccumulator) -> dict[str, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = accumulator.report()
    return {**report.charts, "combined": report.combined}


def time_inference(checkpoint: Path, big_data: Path, work: Path) -> tuple[float, float]:
    """(cold, warm) seconds to predict and write the big scene."""
    times = []
    cache = work / f"cache-{checkpoint.parent.name}"
    for attempt in ("cold", "warm"):
        started = time.perf_counter()
        predictor = Predictor.from_checkpoints([checkpoint], device="cpu", cache_dir=str(cache))
        predict_dataset(predictor, big_data, work / f"big-{attempt}.nc", progress=False)
        times.append(time.perf_counter() - started)
    return times[0], times[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, help="dataset folder (default: the demo set)")
    parser.add_argument("--seeds", type=int, default=3, help="runs per model (seeds 0, 1, ...)")
    parser.add_argument("--epochs", type=int, default=20, help="demo.yaml's own: 20")
    parser.add_argument("--epoch-len", type=int, default=25, help="batches per epoch")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--patch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads per run")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--inference", type=int, default=0, metavar="SIZE",
        help="also time predicting one SIZE x SIZE scene (e.g. 5000) with each model",
    )  # fmt: skip
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data_dir = args.data or demo_dataset()
    test_scenes = discover(data_dir)
    test_scenes = test_scenes[test_scenes.split == "test"].reset_index(drop=True)
    patches = args.epochs * args.epoch_len * args.batch_size
    started_at = datetime.now(timezone.utc)
    load_before = os.getloadavg()
    print(
        f"data {data_dir}: {len(test_scenes)} test scenes; budget per run: {args.epochs} epochs "
        f"x {args.epoch_len} batches x {args.batch_size} patches of {args.patch_size} px = "
        f"{patches} patches; {args.seeds} seeds per model; {args.threads} torch thread(s); "
        f"load average {load_before[0]:.1f}",
        flush=True,
    )
    device = resolve_device(args.device)

    with tempfile.TemporaryDirectory(prefix="bench_models_") as tmp:
        work = Path(tmp)
        runs = {(label, net): [] for label in MODELS for net in NETWORKS}
        rows, checkpoints, test = [], {}, None
        for seed in range(args.seeds):
            for label, name in MODELS.items():
                config = budget_config(name, args, data_dir, work, seed)
                torch.manual_seed(seed)
                started = time.perf_counter()
                result = train(config, overwrite=True, progress=False)
                seconds = time.perf_counter() - started
                test = SceneDataset(config.data, test_scenes)
                best, _ = model_from_checkpoint(load_checkpoint(result.best_checkpoint))
                checkpoints.setdefault(label, result.best_checkpoint)
                for net, model in (("best", best), ("last", result.model)):
                    accumulator = score_scenes(model, test, config, device)
                    runs[label, net].append(accumulator)
                    row = {"model": label, "network": net, "seed": seed,
                           **scores_of(accumulator), "train_s": round(seconds, 1),
                           "epochs": result.epochs_run,
                           "best_val_combined": result.best_score}  # fmt: skip
                    rows.append(row)
                    print(
                        f"seed {seed} {label:36s} {net:4s} combined {row['combined']:6.2f} (SIC "
                        f"{row['SIC']:.2f}, SOD {row['SOD']:.2f}, FLOE {row['FLOE']:.2f}), "
                        f"trained in {seconds:.0f} s, load {os.getloadavg()[0]:.1f}",
                        flush=True,
                    )
        floor = scores_of(constant_charts(budget_config("demo", args, data_dir, work, 0), test))
        multi, base = MODELS
        comparisons, summary = {}, {}
        print(f"\nScores on {len(test_scenes)} test scenes, mean ± SD over {args.seeds} seeds")
        print(f"{'model':46s}" + "".join(f"{s:>16s}" for s in SCORES) + f"{'train s':>9s}")
        print(f"{'majority / mean constant chart':46s}" + "".join(f"{floor[s]:16.2f}" for s in SCORES))  # fmt: skip
        for net in NETWORKS:
            for label in MODELS:
                mine = [r for r in rows if r["model"] == label and r["network"] == net]
                summary[f"{label}, {net}"] = {
                    s: (float(np.mean([r[s] for r in mine])), float(np.std([r[s] for r in mine], ddof=1)) if len(mine) > 1 else float("nan"))
                    for s in (*SCORES, "train_s")
                }  # fmt: skip
                stats = summary[f"{label}, {net}"]
                cells = "".join(f"{m:9.2f} ± {sd:4.1f}" for m, sd in (stats[s] for s in SCORES))
                print(f"{label + ', ' + net:46s}{cells}{stats['train_s'][0]:9.0f}")
        for net in NETWORKS:
            comparisons[net] = paired_bootstrap_runs(
                runs[multi, net], runs[base, net], settings=Bootstrap(resamples=args.resamples),
                pair_runs=True, names=(f"{multi}, {net}", f"{base}, {net}"), split="test",
            )  # fmt: skip
            print()
            print(comparisons[net].table())
            verdicts = comparisons[net].verdicts()
            print(f"verdicts (multi-task vs baseline, {net} networks): "
                  + ", ".join(f"{s} {verdicts[s]}" for s in SCORES))  # fmt: skip
        finished = os.getloadavg()
        print(
            f"\n{platform.node()}, {os.cpu_count()} CPUs, {started_at:%Y-%m-%d %H:%M} UTC, "
            f"{(datetime.now(timezone.utc) - started_at).total_seconds() / 60:.1f} min; load "
            f"average at start {load_before[0]:.1f}, at end {finished[0]:.1f} (1 min), "
            f"{finished[2]:.1f} (15 min)"
        )
        if args.json:
            args.json.write_text(json.dumps({
                "budget": {"epochs": args.epochs, "epoch_len": args.epoch_len,
                           "batch_size": args.batch_size, "patch_size": args.patch_size,
                           "patches": patches},
                "test_scenes": len(test_scenes), "runs": rows, "floor": floor,
                "summary": summary,
                "comparisons": {net: c.to_dict() for net, c in comparisons.items()},
                "date": f"{started_at:%Y-%m-%d %H:%M} UTC", "load": [load_before, finished],
            }, indent=1, default=str))  # fmt: skip

        if args.inference:
            print(
                f"\nInference: one {args.inference}x{args.inference} scene, predicted and written"
            )
            big = work / "big"
            size = (args.inference, args.inference)
            write_dataset(big, SynthConfig(n_train=0, n_test=1, size=size, seed=7), workers=1,
                          progress=False)  # fmt: skip
            for label, name in MODELS.items():
                cold, warm = time_inference(checkpoints[label], big, work)
                downscale = load_experiment(name).data.downscale
                print(
                    f"{label:40s} downscale {downscale}: cold {cold:6.2f} s, warm {warm:6.2f} s "
                    f"(goal {INFERENCE_GOAL_S:.0f} s; cold/goal {cold / INFERENCE_GOAL_S:.2f})"
                )


if __name__ == "__main__":
    main()
