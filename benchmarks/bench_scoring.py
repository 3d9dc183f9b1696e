"""Benchmark: `autoice score` against the pooled scikit-learn computation of the starter notebooks.

Builds a synthetic 20-scene reference folder and submission (default 2500 x 2500 per scene,
blocky "ice chart" regions with a land mask, a prediction with region-level and pixel-level
errors, zlib-compressed like the challenge files), then in one run, each in a fresh process:

  (a) baseline: read every scene's charts, drop reference 255, concatenate all pixels per
      chart, score with scikit-learn (`r2_score`, `f1_score(average="weighted")`);
  (b) `autoice score SUBMISSION --reference REF --json OUT` (default worker processes);
  (b1) the same with `--workers 1` (everything in one process);
  (b') (b) on only a quarter of the scenes, to show (b)'s peak memory does not grow with
      the number of scenes.

The sides run alternately `--repeat` times (default 3) and the median run of each is reported,
so that a shared machine's changing load affects both alike. Prints the times and the ratio
(a)/(b), the peak resident memory of each process (VmHWM; for (b) also the largest worker
process's) and the largest score difference. Usage:

    python benchmarks/bench_scoring.py                 # 20 scenes of 2500 x 2500
    python benchmarks/bench_scoring.py --size 5000     # 20 scenes of 5000 x 5000
    python benchmarks/bench_scoring.py --scenes 4 --size 1000
    python benchmarks/bench_scoring.py --complevel 0  # uncompressed files: reading is free
    python benchmarks/bench_scoring.py --statistics   # cost of `--ci --by service`

`--statistics` skips (a) and instead alternates (b) with (c) `autoice score --ci --by service`
(2000 bootstrap resamples, per-service breakdown), reporting the overhead of (c) over (b), and
times the statistics alone in-process on the scored counts (no file reading).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kit.charts import CHARTS, MASK, N_CLASSES, SAR_DIMS, submission_variable  # noqa: E402

#: Side of the homogeneous "polygons" of the synthetic charts, in pixels.
REGION = 50


def synthetic_scene(rng: np.random.Generator, size: int) -> tuple[dict, dict]:
    """Reference and predicted charts of one scene: blocky regions, land masked, some errors."""
    cells = -(-size // REGION)
    land = np.kron(rng.random((cells, cells)) < 0.25, np.ones((REGION, REGION), bool))[:size, :size]
    ref, pred = {}, {}
    for chart in CHARTS:
        n = N_CLASSES[chart]
        regions = rng.integers(0, n, (cells, cells)).astype(np.uint8)
        wrong = rng.random((cells, cells)) < 0.3
        guessed = np.where(wrong, rng.integers(0, n, (cells, cells)), regions).astype(np.uint8)
        up = np.ones((REGION, REGION), np.uint8)
        r = np.kron(regions, up)[:size, :size]
        p = np.kron(guessed, up)[:size, :size]
        noise = rng.random((size, size)) < 0.05
        p[noise] = rng.integers(0, n, int(noise.sum()))
        r[land] = MASK
        ref[chart], pred[chart] = r, p
    return ref, pred


def build(
    folder: Path, size: int, n_scenes: int, seed: int, complevel: int = 4
) -> tuple[Path, Path]:
    """Write `ref/test/<scene>_prep.nc` files and `upload_package.nc`; return their paths."""
    import netCDF4

    rng = np.random.default_rng(seed)
    compression = {"zlib": True, "complevel": complevel} if complevel else {"contiguous": True}
    ref_dir = folder / "ref" / "test"
    ref_dir.mkdir(parents=True)
    sub_path = folder / "upload_package.nc"
    with netCDF4.Dataset(sub_path, "w") as sub:
        for i in range(n_scenes):
            scene_id = f"2021{1 + i // 28:02d}{1 + i % 28:02d}T120000_dmi"
            ref, pred = synthetic_scene(rng, size)
            with netCDF4.Dataset(ref_dir / f"{scene_id}_prep.nc", "w") as ds:
                for dim in SAR_DIMS:
                    ds.createDimension(dim, size)
                for chart in CHARTS:
                    ds.createVariable(chart, "u1", SAR_DIMS, **compression)[:] = ref[chart]
            dims = (f"{scene_id}_lines", f"{scene_id}_samples")
            for dim in dims:
                sub.createDimension(dim, size)
            for chart in CHARTS:
                name = submission_variable(scene_id, chart)
                sub.createVariable(name, "u1", dims, **compression)[:] = pred[chart]
            print(f"  built scene {i + 1}/{n_scenes}", end="\r", flush=True)
    print()
    return folder / "ref", sub_path


def pooled_sklearn(submission: Path, reference: Path) -> dict[str, float]:
    """The starter notebooks' computation: concatenate every valid pixel, then scikit-learn."""
    import netCDF4
    from sklearn.metrics import f1_score, r2_score

    refs = {c: [] for c in CHARTS}
    preds = {c: [] for c in CHARTS}
    with netCDF4.Dataset(submission) as sub:
        for path in sorted((reference / "test").glob("*_prep.nc")):
            scene_id = path.name[: -len("_prep.nc")]
            with netCDF4.Dataset(path) as ds:
                for chart in CHARTS:
                    ref = np.asarray(ds[chart][:]).ravel()
                    pred = np.asarray(sub[submission_variable(scene_id, chart)][:]).ravel()
                    valid = ref != MASK
                    refs[chart].append(ref[valid])
                    preds[chart].append(pred[valid])
    scores = {}
    for chart in CHARTS:
        ref, pred = np.concatenate(refs[chart]), np.concatenate(preds[chart])
        refs[chart] = preds[chart] = None
        if chart == "SIC":
            scores[chart] = 100 * r2_score(ref, pred)
        else:
            scores[chart] = 100 * f1_score(ref, pred, average="weighted")
    return scores


def peak_memory_mb() -> float:
    """Peak resident memory of this process (MB): VmHWM, which, unlike ru_maxrss, does not
    carry over the parent's peak across fork and exec."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)  # bytes on macOS


def children_peak_mb() -> float:
    """Peak resident memory of the largest finished child process (MB), 0 if none."""
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def worker(kind: str, submission: Path, reference: Path, out: Path) -> None:
    """Run one side in this process and print time, scores and peak memory as JSON."""
    if kind == "stats_only":
        from scoring.scorer import add_statistics, score_all_scenes

        scored = score_all_scenes(submission, reference)
        report = scored.report()
        times = []
        for _ in range(5):
            start = time.perf_counter()
            add_statistics(report, scored.accumulator, ci=True, by=["service"])
            times.append(time.perf_counter() - start)
        print(json.dumps({"seconds": sorted(times)[2], "times": times}))
        return
    if kind == "sklearn":
        start = time.perf_counter()
        scores = pooled_sklearn(submission, reference)
        seconds = time.perf_counter() - start
    else:
        from kit.cli import main

        args = ["score", str(submission), "--reference", str(reference), "--json", str(out)]
        if kind == "kit1":
            args += ["--workers", "1"]
        if kind == "kit_stats":
            args += ["--ci", "--by", "service"]
        start = time.perf_counter()
        code = main(args)
        seconds = time.perf_counter() - start
        assert code == 0, "autoice score failed"
        scores = json.loads(out.read_text())["charts"]
    peaks = {"peak_mb": peak_memory_mb(), "worker_peak_mb": children_peak_mb()}
    print(json.dumps({"seconds": seconds, "scores": scores, **peaks}))


def run_worker(kind: str, submission: Path, reference: Path, folder: Path) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    command = [sys.executable, __file__, "--worker", kind, "--submission", str(submission),
               "--reference", str(reference), "--out", str(folder / f"{kind}.json")]  # fmt: skip
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode:
        raise SystemExit(f"{kind} worker failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def subset_reference(reference: Path, folder: Path, n: int) -> Path:
    """A reference folder with hard links to (or copies of) the first `n` scenes (same
    submission file): symbolic links out of a reference folder are refused."""
    sub_ref = folder / f"ref_{n}" / "test"
    sub_ref.mkdir(parents=True)
    for path in sorted((reference / "test").glob("*_prep.nc"))[:n]:
        try:
            os.link(path, sub_ref / path.name)
        except OSError:
            shutil.copyfile(path, sub_ref / path.name)
    return sub_ref.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2500, help="scene side in pixels")
    parser.add_argument("--scenes", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--complevel", type=int, default=4, help="zlib level of the files (0: uncompressed)"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="alternating runs of each side (median reported)"
    )
    parser.add_argument(
        "--statistics", action="store_true",
        help="measure `--ci --by service` against plain `autoice score` instead",
    )  # fmt: skip
    parser.add_argument(
        "--worker", choices=("sklearn", "kit", "kit1", "kit_stats", "stats_only"),
        help=argparse.SUPPRESS,
    )  # fmt: skip
    parser.add_argument("--submission", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--reference", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.submission, args.reference, args.out)
        return
    with tempfile.TemporaryDirectory(prefix="bench_scoring_") as tmp:
        folder = Path(tmp)
        print(f"building {args.scenes} scenes of {args.size} x {args.size} in {folder}")
        start = time.perf_counter()
        reference, submission = build(folder, args.size, args.scenes, args.seed, args.complevel)
        print(f"built in {time.perf_counter() - start:.1f} s; "
              f"submission {submission.stat().st_size / 1e6:.1f} MB")  # fmt: skip
        if args.statistics:
            statistics_runs(args, submission, reference, folder)
            return
        few = max(1, args.scenes // 4)
        few_reference = subset_reference(reference, folder, few)
        runs = {"kit": [], "kit1": [], "kit_few": [], "sklearn": []}
        for _ in range(args.repeat):  # alternate, so that load changes hit both sides alike
            runs["kit"].append(run_worker("kit", submission, reference, folder))
            runs["kit1"].append(run_worker("kit1", submission, reference, folder))
            runs["kit_few"].append(run_worker("kit", submission, few_reference, folder))
            runs["sklearn"].append(run_worker("sklearn", submission, reference, folder))
    kit, kit1, kit_few, base = (_median_run(runs[k]) for k in ("kit", "kit1", "kit_few", "sklearn"))
    diff = max(
        abs(r["scores"][c] - base["scores"][c]) for r in runs["kit"] + runs["kit1"] for c in CHARTS
    )
    print(f"median of {args.repeat} alternating runs each (all times: "
          f"{_times(runs['sklearn'])} | {_times(runs['kit'])})")  # fmt: skip
    print(f"(a) pooled scikit-learn: {base['seconds']:8.2f} s   peak {base['peak_mb']:8.0f} MB")
    for label, r in (("(b) autoice score:", kit), ("(b1) --workers 1:", kit1),
                     (f"(b) on {few} scenes:", kit_few)):  # fmt: skip
        print(f"{label:24s} {r['seconds']:8.2f} s   peak {r['peak_mb']:8.0f} MB"
              f" (+ largest worker {r['worker_peak_mb']:.0f} MB)")  # fmt: skip
    ratio = base["seconds"] / kit["seconds"]
    print(f"speed-up (a)/(b): {ratio:.1f}x, (a)/(b1): {base['seconds'] / kit1['seconds']:.1f}x "
          f"(goal >= 25x: {'met' if ratio >= 25 else 'NOT met'})")  # fmt: skip
    print(f"largest score difference (percent points): {diff:.3g}")
    for c in CHARTS:
        print(f"  {c}: sklearn {base['scores'][c]:.12f}  kit {kit['scores'][c]:.12f}")


def statistics_runs(args, submission: Path, reference: Path, folder: Path) -> None:
    """Alternate plain `autoice score` with `--ci --by service`; print medians and overhead."""
    runs = {"kit": [], "kit_stats": []}
    for _ in range(args.repeat):
        for kind in runs:
            runs[kind].append(run_worker(kind, submission, reference, folder))
    alone = run_worker("stats_only", submission, reference, folder)
    plain, stats = _median_run(runs["kit"]), _median_run(runs["kit_stats"])
    overhead = stats["seconds"] / plain["seconds"] - 1
    print(f"median of {args.repeat} alternating runs each (all times: "
          f"{_times(runs['kit'])} | {_times(runs['kit_stats'])})")  # fmt: skip
    print(f"(b) autoice score:               {plain['seconds']:6.3f} s")
    print(f"(c) autoice score --ci --by service: {stats['seconds']:6.3f} s")
    print(f"overhead (c)/(b) - 1: {100 * overhead:+.1f} % (goal <= 10 %: "
          f"{'met' if overhead <= 0.10 else 'NOT met'})")  # fmt: skip
    print(
        f"statistics alone, in-process (median of 5): {1000 * alone['seconds']:.1f} ms "
        f"({', '.join(f'{1000 * t:.1f}' for t in alone['times'])} ms)"
    )


def _median_run(runs: list[dict]) -> dict:
    """The run with the median time (peaks and scores of that same run)."""
    return sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]


def _times(runs: list[dict]) -> str:
    return ", ".join(f"{r['seconds']:.2f}" for r in runs)


if __name__ == "__main__":
    main()
