"""Trajectory benchmark: end-point error of whole trajectories through chained known warps.

Each real S1 image (and a synthetic texture) is the first image of a series of 3 and of 5
steps, each step a random field (translation up to 20 px, rotation up to 3 degrees, small shear
and smooth deformation); image k is the base warped by the first k fields composed, with its
own speckle (`kit.drift.synthetic.make_series`). `kit.drift.trajectories.track_series` (ft+pm,
default settings) follows the default grid; per series length it prints the fraction of
trajectories kept to the end (of all, and of those whose true path stays half a template
inside the image), the median and P90 end-point error of the kept ones (px), and the share of
their end-position components within 2 accumulated sigma.

    PYTHONPATH=. python benchmarks/bench_trajectories.py     # about 5 min on 2 cores
"""

from __future__ import annotations

import glob
import os

import numpy as np

from kit.charts import shared_data_dir
from kit.drift.io import read_s1_geotiff
from kit.drift.metrics import format_table
from kit.drift.preprocess import to_db
from kit.drift.synthetic import make_series, synthetic_texture
from kit.drift.track import TrackParams
from kit.drift.trajectories import end_point_errors, track_series

STEPS = (3, 5)
COLUMNS = ["source", "steps", "n", "kept", "kept_trackable", "median", "p90", "within_2sigma"]


def _trackable(true_x: np.ndarray, true_y: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Trajectories whose true positions stay half a template inside the image at all times."""
    margin = TrackParams.template // 2
    inside = (true_x >= margin) & (true_x <= shape[1] - 1 - margin)
    inside &= (true_y >= margin) & (true_y <= shape[0] - 1 - margin)
    return inside.all(axis=1)


def series_row(source: str, base: np.ndarray, steps: int, seed: int) -> dict:
    """Track one chained series of `base` and score its trajectories against the truth."""
    series = make_series(base, steps=steps, max_drift=20.0, max_rotation_deg=3.0, seed=seed)
    traj = track_series(series.images, method="ft+pm")
    true_x, true_y = series.positions(traj.x[:, 0], traj.y[:, 0])
    epe = end_point_errors(traj, true_x, true_y)
    kept, trackable = traj.kept, _trackable(true_x, true_y, base.shape)
    errors = np.abs(
        np.concatenate([traj.x[kept, -1] - true_x[kept, -1], traj.y[kept, -1] - true_y[kept, -1]])
    )
    sigma = np.concatenate([traj.sigma[kept, -1]] * 2)
    return {
        "source": source,
        "steps": steps,
        "n": kept.size,
        "kept": float(kept.mean()),
        "kept_trackable": float(kept[trackable].mean()) if trackable.any() else float("nan"),
        "median": float(np.median(epe[kept])) if kept.any() else float("nan"),
        "p90": float(np.percentile(epe[kept], 90)) if kept.any() else float("nan"),
        "within_2sigma": float(np.mean(errors <= 2 * sigma)) if kept.any() else float("nan"),
    }


def trajectory_benchmark(bases: dict[str, list[np.ndarray]]) -> list[dict]:
    """Print (and return) one row per image and series length, `bases` being images in dB by
    source (as in `bench_drift.py`)."""
    rows = []
    for source, images in bases.items():
        for i, base in enumerate(images):
            for steps in STEPS:
                rows.append(series_row(f"{source} {i}", base, steps, seed=10 * i + steps))
    print(
        "\n(g) Trajectories through chained warps (ft+pm): end-point error of kept trajectories (px)"
    )
    print(format_table(rows, COLUMNS))
    return rows


def main() -> None:
    folder = os.path.join(shared_data_dir(), "s1_pairs")
    paths = sorted(glob.glob(os.path.join(folder, "*.tif")))
    bases: dict[str, list[np.ndarray]] = {}
    if paths:
        bases["real S1"] = [to_db(read_s1_geotiff(p).sigma0) for p in paths]
    else:
        print(f"(skipping the real images: {folder} not found)")
    bases["texture"] = [synthetic_texture((1000, 1000), seed=0)]
    print(f"machine: {os.cpu_count()} CPU cores")
    trajectory_benchmark(bases)


if __name__ == "__main__":
    main()
