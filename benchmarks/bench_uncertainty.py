"""`autoice predict --uncertainty` against plain `autoice predict` (issue 24, item 8).

Baseline (a): `predict_dataset` writing the submission alone. (b): the same predictor on the
same scenes also writing the uncertainty file (confidence of every chart, SIC 90 % interval),
with a calibration in use (temperatures and a SIC std factor not 1, so nothing is skipped).
Optionally (c) ``--probabilities``: also the per-class probabilities file (no goal).

The model is an untrained MMSeaIce-sized multi-task U-Net (filters 32, 32, 64, 64; SIC
regression; training does not change the cost), saved as a checkpoint and loaded with
`Predictor.from_checkpoints`, as `autoice predict` does. The scene cache is built by a warm-up
run before timing. Each side runs `--repeat` times, alternating, and the medians are compared,
of wall time and of this process's CPU time (all threads; steadier on a shared machine); the
machine's load average is printed beside them. Goal: (b) / (a) <= 1.30 on the 2-core
machine.

    python benchmarks/bench_uncertainty.py                  # 4 scenes of 2500 x 2500, downscale 5
    python benchmarks/bench_uncertainty.py --tta            # with test-time augmentation
    python benchmarks/bench_uncertainty.py --quick          # a small smoke run
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from kit.data.synthetic import SynthConfig, write_dataset
from kit.experiment import ExperimentConfig, Predictor, predict_dataset, save_checkpoint
from kit.experiment.uncertainty import CALIBRATION_KEY, Calibration
from kit.models import build_model

VARIABLES = ["nersc_sar_primary", "nersc_sar_secondary", "btemp_18_7h", "btemp_36_5v", "aux_time"]


def _checkpoint(folder: Path, downscale: int, tta: bool = False) -> Path:
    config = ExperimentConfig.from_dict({
        "data": {"variables": VARIABLES, "downscale": downscale,
                 "cache_dir": str(folder / "cache")},
        "model": {"type": "multitask_unet", "filters": [32, 32, 64, 64]},
    })  # fmt: skip
    torch.manual_seed(0)
    model = build_model(config.model, len(VARIABLES), config.data.charts)
    calibration = Calibration({"SOD": 1.3, "FLOE": 0.8}, sic_std_scale=2.0, tta=tta)
    return save_checkpoint(folder / "best.pt", {
        "config": config.to_dict(), "channels": VARIABLES, "model": model.state_dict(),
        CALIBRATION_KEY: calibration.to_dict(),
    })  # fmt: skip


def _timed(predictor: Predictor, data: Path, folder: Path, **files) -> tuple[float, float]:
    """Wall and CPU seconds (this process, all threads) of one `predict_dataset`."""
    started, cpu = time.perf_counter(), time.process_time()
    predict_dataset(predictor, data, folder / "upload_package.nc", progress=False,
                    **{k: folder / v for k, v in files.items()})  # fmt: skip
    return time.perf_counter() - started, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=4)
    parser.add_argument("--size", type=int, default=2500, help="80 m pixels per side")
    parser.add_argument("--downscale", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tta", action="store_true", help="average the 8 dihedral views")
    parser.add_argument("--probabilities", action="store_true", help="also time (c)")
    parser.add_argument("--quick", action="store_true", help="2 scenes of 600 x 600, once")
    args = parser.parse_args()
    if args.quick:
        args.scenes, args.size, args.repeat = 2, 600, 1
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        synth = SynthConfig(n_train=0, n_test=args.scenes, size=(args.size, args.size), seed=11)
        write_dataset(folder / "data", synth, workers=1, progress=False)
        checkpoint = _checkpoint(folder, args.downscale, args.tta)
        predictor = Predictor.from_checkpoints([checkpoint], device="cpu", tta=args.tta)
        assert predictor.calibration is not None
        _timed(predictor, folder / "data", folder)  # builds the scene cache
        sides = {"(a) predict": {}, "(b) predict --uncertainty": {"uncertainty": "u.nc"}}
        if args.probabilities:
            sides["(c) + --probabilities"] = {"uncertainty": "u.nc", "probabilities": "p.nc"}
        times: dict[str, list[tuple[float, float]]] = {side: [] for side in sides}
        for _ in range(args.repeat):
            for side, files in sides.items():
                times[side].append(_timed(predictor, folder / "data", folder, **files))
        sizes = {p.name: p.stat().st_size for p in folder.glob("*.nc")}
    load = os.getloadavg()
    print(f"{args.scenes} scenes of {args.size} x {args.size}, downscale {args.downscale}, "
          f"TTA {'on' if args.tta else 'off'}, torch threads {torch.get_num_threads()}")  # fmt: skip
    for index, what in enumerate(("wall", "CPU")):
        base = statistics.median(t[index] for t in times["(a) predict"])
        for side, runs in times.items():
            median = statistics.median(t[index] for t in runs)
            print(f"{what:<4} {side:<28} {', '.join(f'{t[index]:.2f}' for t in runs)} s; "
                  f"median {median:.2f} s; ratio to (a) {median / base:.3f}")  # fmt: skip
    print("file sizes (MB): " + ", ".join(f"{n} {s / 1e6:.1f}" for n, s in sorted(sizes.items())))
    print(
        f"load average (1, 5, 15 min) after the runs: {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}"
    )


if __name__ == "__main__":
    main()
