"""Benchmark: scoring with an uncertainty file against plain scoring, same submission, same run.

Builds the synthetic reference and submission of `bench_scoring.py` (default 20 scenes of
2500 x 2500, blocky charts, zlib level 4) and an uncertainty file beside it written as
`autoice predict --uncertainty` writes one (per scene and chart a confidence map in percent,
one value per chart region plus noise on the working grid, repeated onto the 80 m grid:
`--downscale`, default 5; the SIC 90 % interval's ends; uint8, zlib), then alternates, each in
a fresh process with the default worker processes:

  (b) plain scoring: `score_submission(SUB, REF)` (what `autoice score` runs);
  (u) with the uncertainty file: `score_submission(SUB, REF, uncertainty=UNC)`, which also
      counts and checks the file and computes every calibration figure;
  (p) optionally (`--probabilities`) with a probabilities file too.

The median run of each side is reported with the ratio (u)/(b); the goal is at most 2x. Usage:

    python benchmarks/bench_uncertainty_scoring.py                       # 20 x 2500 x 2500
    python benchmarks/bench_uncertainty_scoring.py --scenes 6 --repeat 5
    python benchmarks/bench_uncertainty_scoring.py --probabilities
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_scoring import REGION, build  # noqa: E402

from kit.charts import (  # noqa: E402
    CHARTS,
    MASK,
    N_CLASSES,
    confidence_variable,
    probability_variable,
    sic_interval_variables,
    submission_variable,
)


def confidence_map(rng: np.random.Generator, size: int, downscale: int) -> np.ndarray:
    """A confidence map (percent) as the kit's Predictor writes one: one value per region of
    the synthetic charts plus noise, on the working grid (`downscale` 80 m pixels a side),
    repeated onto the 80 m grid (`kit.data.regrid.to_original_grid`, nearest)."""
    coarse = -(-size // downscale)
    step = max(1, REGION // downscale)
    cells = -(-coarse // step)
    regions = rng.integers(30, 101, (cells, cells)).astype(np.int16)
    conf = np.kron(regions, np.ones((step, step), np.int16))[:coarse, :coarse]
    conf = np.clip(conf + rng.integers(-5, 6, conf.shape), 0, 100)
    return np.kron(conf, np.ones((downscale, downscale), np.int16))[:size, :size]


def write_uncertainty(submission: Path, folder: Path, seed: int, complevel: int,
                      probabilities: bool, downscale: int = 5) -> tuple[Path, Path | None]:  # fmt: skip
    """Uncertainty (and probabilities) files for every scene of `submission`."""
    import netCDF4

    rng = np.random.default_rng(seed + 1)
    unc_path = folder / "uncertainty.nc"
    prob_path = folder / "probabilities.nc" if probabilities else None
    compression = {"zlib": True, "complevel": complevel} if complevel else {"contiguous": True}

    def put(ds, name, values):
        dims = (f"{name}_dim0", f"{name}_dim1")
        for dim, size in zip(dims, values.shape):
            ds.createDimension(dim, size)
        ds.createVariable(name, "u1", dims, fill_value=False, **compression)[:] = values

    with netCDF4.Dataset(submission) as sub:
        scenes = sorted({n.rsplit("_", 1)[0] for n in sub.variables})
        with netCDF4.Dataset(unc_path, "w") as unc:
            probs = netCDF4.Dataset(prob_path, "w") if probabilities else None
            for i, scene in enumerate(scenes):
                for chart in CHARTS:
                    pred = np.asarray(sub[submission_variable(scene, chart)][:])
                    conf = confidence_map(rng, pred.shape[0], downscale)
                    put(unc, confidence_variable(scene, chart), np.where(pred == MASK, MASK, conf).astype(np.uint8))  # fmt: skip
                    if chart == "SIC":
                        low, high = sic_interval_variables(scene)
                        spread = (100 - conf) // 40
                        put(unc, low, np.clip(pred.astype(np.int16) - spread, 0, 10).astype(np.uint8))  # fmt: skip
                        put(unc, high, np.clip(pred.astype(np.int16) + spread, 0, 10).astype(np.uint8))  # fmt: skip
                    if probs is not None:
                        n = N_CLASSES[chart]
                        rest = (100 - conf) // (n - 1)
                        for k in range(n):
                            p = np.where(pred == k, 100 - rest * (n - 1), rest)
                            put(probs, probability_variable(scene, chart, k), p.astype(np.uint8))
                print(f"  uncertainty of scene {i + 1}/{len(scenes)}", end="\r", flush=True)
            if probs is not None:
                probs.close()
    print()
    return unc_path, prob_path


def worker(kind: str, submission: Path, reference: Path, unc: Path, probs: Path | None,
           workers: int | None = None) -> None:  # fmt: skip
    from scoring.scorer import score_submission

    extra = {"workers": workers}
    if kind in ("unc", "probs"):
        extra["uncertainty"] = unc
    if kind == "probs":
        extra["probabilities"] = probs
    start = time.perf_counter()
    report = score_submission(submission, reference, **extra)
    seconds = time.perf_counter() - start
    calibration = report.statistics.get("calibration")
    ece = {c: round(calibration["charts"][c]["ece"], 4) for c in CHARTS} if calibration else None
    print(json.dumps({"seconds": seconds, "scores": report.charts, "ece": ece}))


def run_worker(kind: str, args, paths: dict) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    command = [sys.executable, __file__, "--worker", kind]
    if args.workers is not None:
        command += ["--workers", str(args.workers)]
    for key in ("submission", "reference", "unc", "probs"):
        if paths.get(key) is not None:
            command += [f"--{key}", str(paths[key])]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode:
        raise SystemExit(f"{kind} worker failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2500, help="scene side in pixels")
    parser.add_argument("--scenes", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--complevel", type=int, default=4, help="zlib level of the files")
    parser.add_argument("--repeat", type=int, default=3, help="alternating runs of each side")
    parser.add_argument("--probabilities", action="store_true", help="also time (p)")
    parser.add_argument("--workers", type=int, default=None, help="scoring processes (default: 2)")
    parser.add_argument(
        "--downscale", type=int, default=5,
        help="working-grid factor of the confidence maps (1: independent noise per 80 m pixel, "
        "the hardest to inflate)",
    )  # fmt: skip
    parser.add_argument("--worker", choices=("plain", "unc", "probs"), help=argparse.SUPPRESS)
    for hidden in ("submission", "reference", "unc", "probs"):
        parser.add_argument(f"--{hidden}", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.submission, args.reference, args.unc, args.probs, args.workers)
        return
    with tempfile.TemporaryDirectory(prefix="bench_uncertainty_") as tmp:
        folder = Path(tmp)
        print(f"building {args.scenes} scenes of {args.size} x {args.size} in {folder}")
        reference, submission = build(folder, args.size, args.scenes, args.seed, args.complevel)
        unc, probs = write_uncertainty(submission, folder, args.seed, args.complevel,
                                       args.probabilities, args.downscale)  # fmt: skip
        sizes = ", ".join(f"{p.name} {p.stat().st_size / 1e6:.1f} MB"
                          for p in (submission, unc, probs) if p)  # fmt: skip
        print(f"files: {sizes}")
        paths = {"submission": submission, "reference": reference, "unc": unc, "probs": probs}
        kinds = ["plain", "unc"] + (["probs"] if args.probabilities else [])
        runs = {kind: [] for kind in kinds}
        for _ in range(args.repeat):  # alternate, so that load changes hit every side alike
            for kind in kinds:
                runs[kind].append(run_worker(kind, args, paths))
    median = {k: sorted(v, key=lambda r: r["seconds"])[len(v) // 2] for k, v in runs.items()}
    plain = median["plain"]["seconds"]
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    workers = args.workers or "default (2)"
    print(f"median of {args.repeat} alternating runs, workers {workers}; load average {load}")
    for kind in kinds:
        times = ", ".join(f"{r['seconds']:.2f}" for r in runs[kind])
        print(f"  {kind:6s} {median[kind]['seconds']:6.2f} s  (all: {times})"
              f"  ratio to plain {median[kind]['seconds'] / plain:.2f}x")  # fmt: skip
    ratio = median["unc"]["seconds"] / plain
    print(f"(u)/(b) = {ratio:.2f}x (goal <= 2x: {'met' if ratio <= 2 else 'NOT met'})")
    same = all(r["scores"] == median["plain"]["scores"] for rs in runs.values() for r in rs)
    print(f"scores identical with and without the uncertainty file: {same}")
    print(f"ECE per chart: {median['unc']['ece']}")


if __name__ == "__main__":
    main()
