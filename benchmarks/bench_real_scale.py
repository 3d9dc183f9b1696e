"""Real-scale rehearsal: the published recipes' pipeline on synthetic 5000 x 5000 scenes.

What a participant with the real AI4Arctic data goes through, on the CPU:

(a) scene-cache build per scene (the inputs and charts of a training scene, cold cache);
(b) training samples/s of each recipe (`--recipes`, default mmseaice, sar_only, starter): a
    warm-up, then a few optimiser steps at the recipe's own patch and batch size, batches
    drawn by the training loader (`kit.experiment.train`'s step, loading included);
(c) 20 test scenes predicted, written and scored end to end with the CLI code paths
    (`autoice predict`, then `autoice score`, each a fresh process, cold scene cache): plain,
    with 8x test-time augmentation and with a 3-model ensemble; and `predict`'s peak memory
    (VmHWM of its process) for 1, 3 and 20 scenes.

The checkpoints are models of the `mmseaice` recipe (what a real user predicts with) trained
on the synthetic data for the few steps of (b) (seed 0), and for one step (seeds 1 and 2, the
rest of the ensemble): enough for timing and memory, not for scores. The synthetic dataset is written once with the kit's
writer (`autoice synth`) into `--work` and reused by later runs; its generation time is
reported apart, not as part of end to end.

Goals on the 2-core machine: end to end <= 60 s plain, <= 4 min with TTA; `predict` peak
memory <= 1.5 GB and flat in the number of scenes. Baseline: main before issue 22's work
(`BASELINE`, measured on the same machine: 54.3 s predict, 2.9 GB for 20 scenes);
`--baseline-code DIR` also runs that checkout's `predict` in this run (1, 3, 20 scenes,
plain) and checks that both write identical submission variables.

    python benchmarks/bench_real_scale.py                     # about 10 minutes on 2 cores
    python benchmarks/bench_real_scale.py --baseline-code /path/to/main/checkout
    python benchmarks/bench_real_scale.py --recipes mmseaice --scenes 3 --size 1000 1000
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import netCDF4
import numpy as np
import torch

from kit import resources
from kit.data.cache import SceneCache
from kit.data.selection import prediction_scenes, split_scenes
from kit.data.sources import scene_sources
from kit.data.synthetic import METADATA_FILE, SynthConfig, write_dataset
from kit.experiment.checkpoint import save_checkpoint, training_state
from kit.experiment.config import load_experiment, packaged_configs
from kit.experiment.distributed import start_process
from kit.experiment.train import _build, _step, seed_everything

ROOT = Path(__file__).resolve().parents[1]
RECIPES = ("mmseaice", "sar_only", "starter")
#: The recipe the checkpoints of (c) follow.
PREDICT_RECIPE = "mmseaice"
ENSEMBLE_SEEDS = (0, 1, 2)
GOALS = {"end_to_end_plain_s": 60.0, "end_to_end_tta_s": 240.0, "predict_peak_gb": 1.5}
#: main before issue 22's work: `autoice predict` of 20 synthetic 5000 x 5000 test scenes
#: (cold cache) on the 2-core machine, as measured in issue 22 (2026-12-07).
BASELINE = {
    "name": "main before issue 22 (issue 22's measurement)",
    "predict_s": 54.3,
    "score_s": 2.5,
    "predict_peak_gb": {1: 1.20, 3: 1.48, 20: 2.9},
}
GB = 1e9


def load_average() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def dataset(work: Path, size: tuple[int, int], n_train: int, n_test: int) -> tuple[Path, float]:
    """The synthetic dataset in `work`, written once; (folder, generation seconds or 0)."""
    folder = work / f"synth_{size[0]}x{size[1]}_train{n_train}_test{n_test}_seed0"
    if (folder / METADATA_FILE).is_file():
        return folder, 0.0
    print(f"writing the synthetic dataset into {folder} (once) ...", flush=True)
    start = time.perf_counter()
    write_dataset(folder, SynthConfig(n_train, n_test, size, seed=0), workers=None)
    return folder, time.perf_counter() - start


def subset(data: Path, work: Path, n: int) -> Path:
    """A folder of links to the first `n` test scenes (predicted as 'all its scenes')."""
    folder = work / f"{data.name}_first{n}"
    paths = list(prediction_scenes(data)["path"])[:n]
    if folder.is_dir() and len(list(folder.glob("*_prep.nc"))) == n:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for path in paths:
        (folder / Path(path).name).symlink_to(Path(path).resolve())
    return folder


# ------------------------------------------------------------------------- (a) and (b)


def recipe_config(recipe: str, data: Path, work: Path, seed: int):
    config = load_experiment(recipe)
    config = config.replace("data", cache_dir=str(work / "cache" / f"{recipe}-train"))
    return config.replace(
        "train", data_dir=str(data), out_dir=str(work / "runs" / f"{recipe}-seed{seed}"),
        val_fraction=0.0, val_count=None, val_scenes=(), epochs=1, device="cpu", seed=seed,
    )  # fmt: skip


def cache_build(config, data: Path) -> list[float]:
    """Seconds to build each training scene's cache entry (inputs and charts), cold."""
    shutil.rmtree(config.data.cache_dir, ignore_errors=True)
    cache = SceneCache(config.data)
    train_scenes, _ = split_scenes(data, (), 0.0, 0)
    seconds = []
    for path, reference in scene_sources(train_scenes):
        start = time.perf_counter()
        cache.get(path, reference)
        seconds.append(time.perf_counter() - start)
    return seconds


def train_steps(config, warmup: int, steps: int, checkpoint: Path | None) -> dict:
    """Warm-up and timed optimiser steps of a recipe (cache already built); samples/s."""
    seed_everything(config.train.seed)
    run = _build(config, start_process("cpu"), progress=False)
    run.wrapped.train()
    batches = iter(run.patches.loader())
    waited, stepped = 0.0, 0.0
    for index in range(warmup + steps):
        start = time.perf_counter()
        x, y = next(batches)
        loaded = time.perf_counter()
        _step(run, x, y, f"step {index}")
        if index >= warmup:
            waited += loaded - start
            stepped += time.perf_counter() - loaded
    del batches
    batch = config.data.batch_size
    if checkpoint is not None:
        state = training_state(
            run.config, list(run.patches.channels), run.model, run.optimizer, run.scheduler,
            run.scaler, epoch=0, best_score=None, history=[], seconds=waited + stepped,
        )  # fmt: skip
        save_checkpoint(checkpoint, state)
    return {
        "batch_size": batch,
        "patch_size": config.data.patch_size,
        "parameters": sum(p.numel() for p in run.model.parameters()),
        "steps": steps,
        "samples_per_s": steps * batch / (waited + stepped),
        "loading_share": waited / (waited + stepped),
    }


# ------------------------------------------------------------------------- (c)


#: Runs `kit.cli` and writes the process's own VmHWM to argv[1] at exit. (The rusage of a
#: child started from this process is no measure: Linux keeps the high-water mark from before
#: exec, i.e. this benchmark's own memory.)
LAUNCHER = """
import atexit, runpy, sys
out = sys.argv[1]
def report():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            open(out, "w").write(line.split()[1])
atexit.register(report)
sys.argv = ["autoice", *sys.argv[2:]]
runpy.run_module("kit.cli", run_name="__main__", alter_sys=True)
"""


def run_cli(args: list[str], code: Path, log: Path) -> tuple[float, float]:
    """Run `python -m kit.cli ARGS` on the code of checkout `code` in a fresh process;
    (wall seconds, peak resident memory of that process in bytes: its VmHWM)."""
    env = dict(os.environ, PYTHONPATH=str(code))
    peak_file = log.with_suffix(".vmhwm")
    peak_file.unlink(missing_ok=True)
    start = time.perf_counter()
    with open(log, "w") as out:
        done = subprocess.run(
            [sys.executable, "-c", LAUNCHER, str(peak_file), *args], cwd=code, env=env,
            stdout=out, stderr=subprocess.STDOUT, check=False,
        )  # fmt: skip
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"kit.cli {' '.join(args)} failed ({done.returncode}); see {log}")
    return seconds, float(peak_file.read_text()) * 1024.0  # kB


def predict(checkpoints, data: Path, out: Path, work: Path, code: Path, tta=False, device="cpu"):
    """`autoice predict` with a cold scene cache; (seconds, peak bytes)."""
    cache = work / "cache" / f"predict-{out.stem}"
    shutil.rmtree(cache, ignore_errors=True)
    args = ["predict", "--data", str(data), "--out", str(out), "--cache-dir", str(cache)]
    args += [a for c in checkpoints for a in ("--checkpoint", str(c))]
    args += ["--device", device] + (["--tta"] if tta else [])
    try:
        return run_cli(args, code, out.with_suffix(".log"))
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def score(submission: Path, reference: Path) -> tuple[float, dict]:
    report = submission.with_suffix(".json")
    seconds, _ = run_cli(
        ["score", str(submission), "--reference", str(reference), "--json", str(report)],
        ROOT, submission.with_suffix(".score.log"),
    )  # fmt: skip
    return seconds, json.loads(report.read_text())


def identical_submissions(a: Path, b: Path) -> bool:
    """Whether two submissions hold the same variables with byte-identical values."""
    with netCDF4.Dataset(a) as first, netCDF4.Dataset(b) as second:
        if sorted(first.variables) != sorted(second.variables):
            return False
        for name in first.variables:
            x, y = (np.asarray(d[name][:].data) for d in (first, second))
            if x.dtype != y.dtype or x.shape != y.shape or x.tobytes() != y.tobytes():
                return False
    return True


def combined(report: dict) -> float:
    scores = report.get("scores", report)
    return float(scores.get("combined", float("nan")))


# ------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "autoice_real_scale",
                        help="folder for the dataset (kept and reused), checkpoints, outputs")  # fmt: skip
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES),
                        help=f"recipes for (b) (default: {' '.join(RECIPES)})")  # fmt: skip
    parser.add_argument("--size", type=int, nargs=2, default=(5000, 5000), metavar=("H", "W"))
    parser.add_argument("--scenes", type=int, default=20, help="test scenes for (c)")
    parser.add_argument("--train-scenes", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps per recipe")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per recipe")
    parser.add_argument("--device", default="cpu", help="device of predict (default: cpu)")
    parser.add_argument("--baseline-code", type=Path, default=None, metavar="DIR",
                        help="also run this checkout's predict (the baseline) in this run")  # fmt: skip
    parser.add_argument("--parts", nargs="+", choices=("train", "predict"), default=["train", "predict"],
                        help="(a)+(b), (c), or both; (c) alone reuses the checkpoints in --work")  # fmt: skip
    parser.add_argument("--json", type=Path, help="also write all figures here")
    args = parser.parse_args()
    unknown = [r for r in args.recipes if r not in packaged_configs()]
    if unknown:
        raise SystemExit(f"unknown recipe(s) {', '.join(unknown)}; packaged: "
                         f"{', '.join(packaged_configs())}")  # fmt: skip
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    results: dict = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="minutes"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
        f"{resources.memory_bytes() / 2**30:.0f} GiB, torch {torch.__version__}",
        "baseline": {**BASELINE, "predict_peak_gb": {str(k): v for k, v in BASELINE["predict_peak_gb"].items()}},
    }  # fmt: skip
    print(f"{results['date']}  {results['machine']}  {load_average()}")

    data, generated = dataset(work, tuple(args.size), args.train_scenes, args.scenes)
    results["dataset"] = {"folder": str(data), "generation_s": generated or None}
    what = f"written in {generated:.0f} s" if generated else "reused (generated earlier)"
    print(f"dataset: {args.train_scenes} train + {args.scenes} test scenes of "
          f"{args.size[0]} x {args.size[1]}, {what} (not part of end to end)")  # fmt: skip

    if "train" in args.parts:
        checkpoints = train_part(args, data, work, results)
    else:
        checkpoints = [work / "runs" / f"{PREDICT_RECIPE}-seed{s}.pt" for s in ENSEMBLE_SEEDS]
        missing = [str(c) for c in checkpoints if not c.is_file()]
        if missing:
            raise SystemExit(f"no checkpoint {', '.join(missing)}: run with --parts train first")
    if "predict" in args.parts:
        predict_part(args, data, work, checkpoints, results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
        print(f"\nfigures written to {args.json}")


def train_part(args, data: Path, work: Path, results: dict) -> list[Path]:
    """(a) and (b); the checkpoints of (c): mmseaice, seeds 0, 1, 2."""
    print("\n(a) scene cache, cold, per training scene; (b) training on the CPU, "
          f"{args.warmup} warm-up + {args.steps} timed steps")  # fmt: skip
    results["recipes"] = {}
    checkpoints = []
    for recipe in args.recipes:
        config = recipe_config(recipe, data, work, seed=0)
        built = cache_build(config, data)
        keep = work / "runs" / f"{recipe}-seed0.pt" if recipe == PREDICT_RECIPE else None
        figures = train_steps(config, args.warmup, args.steps, keep)
        figures["cache_build_s_per_scene"] = float(np.mean(built))
        figures["load"] = load_average()
        results["recipes"][recipe] = figures
        print(f"  {recipe:10s} cache {figures['cache_build_s_per_scene']:5.1f} s/scene | "
              f"{figures['samples_per_s']:6.2f} samples/s (batch {figures['batch_size']} x "
              f"{figures['patch_size']} px, {figures['parameters']:,} weights, loading "
              f"{figures['loading_share']:.0%} of step time) | {figures['load']}")  # fmt: skip
        if keep is not None:
            checkpoints.append(keep)
    if not checkpoints:  # the checkpoints of (c) follow the mmseaice recipe in any case
        config = recipe_config(PREDICT_RECIPE, data, work, seed=0)
        cache_build(config, data)
        checkpoints.append(work / "runs" / f"{PREDICT_RECIPE}-seed0.pt")
        train_steps(config, args.warmup, args.steps, checkpoints[0])
    for seed in ENSEMBLE_SEEDS[1:]:  # the other ensemble members: one step each, untimed
        config = recipe_config(PREDICT_RECIPE, data, work, seed=seed)
        checkpoints.append(work / "runs" / f"{PREDICT_RECIPE}-seed{seed}.pt")
        train_steps(config, 0, 1, checkpoints[-1])
    return checkpoints


def predict_part(args, data: Path, work: Path, checkpoints: list[Path], results: dict) -> None:
    """(c), the peak memory by number of scenes, the baseline, and the verdicts."""
    out = work / "out"
    out.mkdir(exist_ok=True)
    reference = Path(prediction_scenes(data)["path"][0]).parent
    print(f"\n(c) {args.scenes} test scenes end to end (predict + score, fresh processes, "
          f"cold cache), {PREDICT_RECIPE} checkpoints, device {args.device}")  # fmt: skip
    modes = {"plain": (checkpoints[:1], False), "tta": (checkpoints[:1], True),
             "ensemble": (checkpoints, False)}  # fmt: skip
    results["end_to_end"] = {}
    for mode, (used, tta) in modes.items():
        submission = out / f"{mode}.nc"
        seconds, peak = predict(used, data, submission, work, ROOT, tta, args.device)
        scored, report = score(submission, reference)
        row = {"predict_s": seconds, "score_s": scored, "end_to_end_s": seconds + scored,
               "predict_peak_gb": peak / GB, "combined": combined(report), "load": load_average()}  # fmt: skip
        results["end_to_end"][mode] = row
        print(f"  {mode:8s} predict {seconds:6.1f} s ({seconds / args.scenes:.2f} s/scene) + "
              f"score {scored:4.1f} s = {row['end_to_end_s']:6.1f} s | peak "
              f"{row['predict_peak_gb']:.2f} GB | combined {row['combined']:.1f} | {row['load']}")  # fmt: skip

    print("\npredict peak memory (VmHWM) by number of scenes, plain, fresh process, cold cache")
    counts = sorted({1, min(3, args.scenes), args.scenes})
    peaks = {}
    for n in counts:
        if n == args.scenes:
            peaks[n] = results["end_to_end"]["plain"]["predict_peak_gb"]
        else:
            _, peak = predict(checkpoints[:1], subset(data, work, n), out / f"plain_first{n}.nc",
                              work, ROOT, device=args.device)  # fmt: skip
            peaks[n] = peak / GB
    results["predict_peak_gb"] = {str(n): p for n, p in peaks.items()}
    print("  " + ", ".join(f"{n} scene(s) {p:.2f} GB" for n, p in peaks.items())
          + f"; largest / smallest {max(peaks.values()) / min(peaks.values()):.2f} | {load_average()}")  # fmt: skip

    if args.baseline_code is not None:
        print(f"\nbaseline in this run: predict of {args.baseline_code}, plain")
        measured = {}
        for n in counts:
            folder = data if n == args.scenes else subset(data, work, n)
            submission = out / f"baseline_first{n}.nc"
            seconds, peak = predict(checkpoints[:1], folder, submission, work,
                                    args.baseline_code.resolve(), device=args.device)  # fmt: skip
            ours = out / ("plain.nc" if n == args.scenes else f"plain_first{n}.nc")
            same = identical_submissions(submission, ours)
            measured[str(n)] = {"predict_s": seconds, "predict_peak_gb": peak / GB,
                                "identical_submission": same, "load": load_average()}  # fmt: skip
            print(f"  {n:2d} scene(s): predict {seconds:6.1f} s, peak {peak / GB:.2f} GB; "
                  f"submission variables identical to ours: {same} | {load_average()}")  # fmt: skip
        results["baseline_in_run"] = measured

    print("\nagainst the goals and the baseline (" + BASELINE["name"] + ")")
    e2e = results["end_to_end"]
    plain, tta = e2e["plain"]["end_to_end_s"], e2e["tta"]["end_to_end_s"]
    lines = [
        ("end to end, plain", plain, GOALS["end_to_end_plain_s"], "s"),
        ("end to end, 8x TTA", tta, GOALS["end_to_end_tta_s"], "s"),
        ("predict peak memory, largest", max(peaks.values()), GOALS["predict_peak_gb"], "GB"),
    ]
    for name, value, goal, unit in lines:
        verdict = "met" if value <= goal else "NOT met"
        print(f"  {name}: {value:.2f} {unit}, goal <= {goal:g} {unit}: {verdict} "
              f"(x{value / goal:.2f} of the goal)")  # fmt: skip
    flat = max(peaks.values()) / min(peaks.values())
    print(f"  predict peak, {args.scenes} vs 1 scene(s): x{flat:.2f} (flat: about 1)")
    if tuple(args.size) != (5000, 5000) or args.scenes != 20:
        print("  (the baseline's figures are for 20 scenes of 5000 x 5000: no ratio)")
        return
    base_e2e = BASELINE["predict_s"] + BASELINE["score_s"]
    print(f"  end to end plain vs baseline {base_e2e:.1f} s: x{plain / base_e2e:.2f}; "
          f"predict {e2e['plain']['predict_s']:.1f} s vs {BASELINE['predict_s']} s: "
          f"x{e2e['plain']['predict_s'] / BASELINE['predict_s']:.2f}")  # fmt: skip
    for n, peak in peaks.items():
        if n in BASELINE["predict_peak_gb"]:
            before = BASELINE["predict_peak_gb"][n]
            print(f"  predict peak, {n} scene(s): {peak:.2f} GB vs baseline {before} GB: "
                  f"x{peak / before:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
