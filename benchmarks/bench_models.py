"""Learning and inference benchmark of the kit's models on the synthetic demo data.

1. Learning: trains the default demo config (multi-task U-Net) and the starter-style baseline
   U-Net for the same wall-clock budget on the CPU, predicts the synthetic test scenes with each
   best checkpoint, scores the submissions with the challenge scorer, and prints the table
   model x SIC / SOD / FLOE / combined x training time, next to the majority-class / mean
   baseline (SOD and FLOE: the most frequent training class; SIC: the rounded mean class).
2. Inference: times predicting and writing one 5000x5000 (AutoICE-size) scene with each trained
   model (downscale 10 in both configs): cold (the scene is read and cached first) and warm.

    python benchmarks/bench_models.py                  # 10 minutes per model, 2 threads
    python benchmarks/bench_models.py --budget 60      # a quick look
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from kit.data.class_weights import count_classes
from kit.data.selection import prediction_scenes, split_scenes
from kit.data.synthetic import SynthConfig, demo_dataset, write_dataset
from kit.experiment.config import load_experiment
from kit.experiment.predict import Predictor, predict_dataset
from kit.experiment.train import train
from scoring import score_submission
from scoring.submission_writer import SubmissionWriter

MODELS = {
    "multi-task U-Net (demo.yaml)": "demo",
    "baseline U-Net (baseline_unet.yaml)": "baseline_unet",
}
INFERENCE_GOAL_S = 5.0
LEARNING_MARGIN_GOAL = 20.0


def majority_mean_baseline(data_dir: Path, out: Path) -> dict[str, float]:
    """Score of constant charts: mean SIC class, most frequent SOD and FLOE class (training)."""
    config = load_experiment("demo").train
    training, _ = split_scenes(data_dir, config.val_scenes, config.val_fraction, config.seed)
    counts = count_classes(training)
    sic = counts["SIC"]
    constant = {
        "SIC": int(round(float((np.arange(len(sic)) * sic).sum() / sic.sum()))),
        "SOD": int(np.argmax(counts["SOD"])),
        "FLOE": int(np.argmax(counts["FLOE"])),
    }
    from kit.data.scene import scene_info

    with SubmissionWriter(out) as writer:
        for path in prediction_scenes(data_dir)["path"]:
            info = scene_info(path)
            writer.add_scene(
                info.scene_id, {c: np.full(info.shape, v, np.uint8) for c, v in constant.items()}
            )
    return _scores(out, data_dir)


def _scores(submission: Path, reference: Path) -> dict[str, float]:
    report = score_submission(submission, reference)
    return {**report.charts, "combined": report.combined}


def learn(name: str, data_dir: Path, work: Path, budget: float, threads: int) -> dict:
    config = load_experiment(name)
    config = config.replace(
        "train", data_dir=str(data_dir), out_dir=str(work / name), time_budget_s=budget,
        device="cpu", cpu_threads=threads,
    )  # fmt: skip
    config = config.replace("data", cache_dir=str(work / "cache"))
    started = time.perf_counter()
    result = train(config, overwrite=True, progress=False)
    seconds = time.perf_counter() - started
    predictor = Predictor.from_checkpoints([result.best_checkpoint], device="cpu")
    submission = predict_dataset(predictor, data_dir, work / f"{name}.nc", progress=False)
    return {
        **_scores(submission, data_dir),
        "train_s": result.seconds,
        "wall_s": seconds,
        "epochs": result.epochs_run,
        "steps": sum(int(r.get("steps", 0)) for r in result.history),
        "checkpoint": result.best_checkpoint,
    }


def time_inference(checkpoint: Path, big_data: Path, work: Path) -> tuple[float, float]:
    """(cold, warm) seconds to predict and write the 5000x5000 scene."""
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
    parser.add_argument("--budget", type=float, default=600.0, help="training seconds per model")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--data", type=Path, help="dataset folder (default: the demo set)")
    parser.add_argument("--size", type=int, default=5000, help="side of the inference scene")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data_dir = args.data or demo_dataset()

    with tempfile.TemporaryDirectory(prefix="bench_models_") as tmp:
        work = Path(tmp)
        rows = {"majority / mean baseline": majority_mean_baseline(data_dir, work / "const.nc")}
        for label, name in MODELS.items():
            print(f"training {label} for {args.budget:.0f} s ...", flush=True)
            rows[label] = learn(name, data_dir, work, args.budget, args.threads)

        print(f"\nLearning on {data_dir} ({len(prediction_scenes(data_dir))} test scenes), "
              f"{args.threads} CPU threads, budget {args.budget:.0f} s per model")  # fmt: skip
        print(f"{'model':40s} {'SIC':>7s} {'SOD':>7s} {'FLOE':>7s} {'combined':>9s} "
              f"{'train s':>8s} {'epochs':>6s} {'steps':>6s}")  # fmt: skip
        for label, row in rows.items():
            extra = (f"{row['train_s']:8.0f} {row['epochs']:6d} {row['steps']:6d}"
                     if "train_s" in row else f"{'-':>8s} {'-':>6s} {'-':>6s}")  # fmt: skip
            print(f"{label:40s} {row['SIC']:7.2f} {row['SOD']:7.2f} {row['FLOE']:7.2f} "
                  f"{row['combined']:9.2f} {extra}")  # fmt: skip
        base = rows["majority / mean baseline"]["combined"]
        demo = rows[next(iter(MODELS))]["combined"]
        unet = rows[list(MODELS)[1]]["combined"]
        print(
            f"multi-task U-Net - majority/mean: {demo - base:+.2f} points "
            f"(goal >= +{LEARNING_MARGIN_GOAL:.0f}); - baseline U-Net: {demo - unet:+.2f}"
        )

        print(f"\nInference: one {args.size}x{args.size} scene, predicted and written")
        big = work / "big"
        write_dataset(big, SynthConfig(n_train=0, n_test=1, size=(args.size, args.size), seed=7),
                      workers=1, progress=False)  # fmt: skip
        for label, name in MODELS.items():
            cold, warm = time_inference(rows[label]["checkpoint"], big, work)
            downscale = load_experiment(name).data.downscale
            print(
                f"{label:40s} downscale {downscale}: cold {cold:6.2f} s, warm {warm:6.2f} s "
                f"(goal {INFERENCE_GOAL_S:.0f} s; cold/goal {cold / INFERENCE_GOAL_S:.2f})"
            )


if __name__ == "__main__":
    main()
