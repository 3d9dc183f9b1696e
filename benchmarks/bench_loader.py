"""Training data loader: the kit's cached PatchDataset against the starter notebook's way.

Baseline (a), "naive": for every patch, open the scene with xarray, crop the 80 m variables,
crop the matching 2 km AMSR2/ERA5 cells and upsample them with torch `interpolate`, normalise
(and for downscale > 1, average-pool the crop), as the AutoICE starter notebook does.
Kit (b): `PatchDataset` with a warm scene cache (the cache is built before timing).

Both run on the same synthetic scenes (default 8 scenes of 2000 x 2000, all 24 variables),
batches of 16 x 256 x 256 on the working grid, for downscale 1 and 10 and 0 and 2 loader
workers. Prints batches/s of both and the kit/naive ratio; the kit's rate is the median of
`--repeat` runs (a shared machine's load changes), each timed over `--batches` batches after
the first (a training epoch is 500 by default). Goals (issue 4): >= 10x over naive at
downscale 1; >= 50 batches/s at downscale 10 with 2 workers.

    python benchmarks/bench_loader.py            # full run (generates the scenes once, cached)
    python benchmarks/bench_loader.py --quick    # small smoke run
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F
import xarray as xr
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from kit import charts
from kit.data.config import DataConfig
from kit.data.layouts import discover
from kit.data.patches import PatchDataset
from kit.data.synthetic import SynthConfig, ensure_dataset


class NaiveLoader(IterableDataset):
    """The starter notebook's loader: the netCDF file is opened again for every patch, and its
    ready-to-train values (z-scores, 0 = no data) go to the network as they are."""

    def __init__(self, paths, patch: int, batch: int, factor: int, n_batches: int, seed=0):
        self.paths, self.patch, self.batch = list(paths), patch, batch
        self.factor, self.n_batches, self.seed = factor, n_batches, seed

    def __iter__(self):
        info = get_worker_info()
        worker, workers = (0, 1) if info is None else (info.id, info.num_workers)
        for index in range(worker, self.n_batches, workers):
            rng = np.random.default_rng([self.seed, index])
            samples = [self._patch(rng) for _ in range(self.batch)]
            x = torch.stack([s[0] for s in samples])
            y = {c: torch.stack([s[1][c] for s in samples]) for c in charts.CHARTS}
            yield x, y

    def _patch(self, rng):
        f, size = self.factor, self.patch
        span = size * f  # 80 m pixels covered by the patch
        path = self.paths[rng.integers(len(self.paths))]
        with xr.open_dataset(path) as ds:
            h, w = ds.sizes["sar_lines"], ds.sizes["sar_samples"]
            top = int(rng.integers(0, max(h - span, 0) + 1))
            left = int(rng.integers(0, max(w - span, 0) + 1))
            rows, cols = slice(top, top + span), slice(left, left + span)
            full = []
            for name in charts.FULL_GRID_VARIABLES:
                values = ds[name].isel(sar_lines=rows, sar_samples=cols).values
                full.append(torch.from_numpy(values))
            x_full = torch.stack(full)[None].float()
            crop_h, crop_w = x_full.shape[-2:]
            cell = charts.PIXELS_PER_2KM
            r2 = slice(top // cell, math.ceil((top + crop_h) / cell))
            c2 = slice(left // cell, math.ceil((left + crop_w) / cell))
            coarse = []
            for name in charts.COARSE_GRID_VARIABLES:
                values = ds[name].isel(**{"2km_grid_lines": r2, "2km_grid_samples": c2}).values
                coarse.append(torch.from_numpy(values))
            out_h, out_w = math.ceil(crop_h / f), math.ceil(crop_w / f)
            x_coarse = F.interpolate(
                torch.stack(coarse)[None].float(), size=(out_h, out_w), mode="bilinear"
            )
            if f > 1:
                x_full = F.avg_pool2d(x_full, f, ceil_mode=True)
            x = torch.cat([x_full, x_coarse], dim=1)[0]
            y = {
                c: torch.from_numpy(
                    ds[c].isel(sar_lines=rows, sar_samples=cols).values[::f, ::f].astype(np.int64)
                )
                for c in charts.CHARTS
            }
        pad = (0, size - x.shape[-1], 0, size - x.shape[-2])
        x = F.pad(x, pad, value=0.0)
        y = {c: F.pad(v, pad, value=charts.MASK) for c, v in y.items()}
        return x, y


def rate(loader) -> float:
    """Batches per second, timed from the first batch (worker start-up excluded)."""
    it = iter(loader)
    next(it)
    start, count = time.perf_counter(), 0
    for _ in it:
        count += 1
    return count / (time.perf_counter() - start) if count else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=8)
    parser.add_argument("--size", type=int, default=2000)
    parser.add_argument("--patch", type=int, default=256)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--batches", type=int, default=200, help="kit batches per timing")
    parser.add_argument("--naive-batches", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=3, help="kit timings per setting (median)")
    parser.add_argument("--data", default=None, help="folder for the synthetic scenes")
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    args = parser.parse_args()
    if args.quick:
        args.scenes, args.size, args.patch, args.batch = 2, 400, 64, 4
        args.batches, args.naive_batches = 8, 2
    torch.set_num_threads(1)

    synth = SynthConfig(n_train=args.scenes, n_test=0, size=(args.size, args.size), seed=11)
    root = ensure_dataset(synth, args.data)
    paths = list(discover(root).path)
    print(f"{len(paths)} scenes of {args.size}x{args.size}, 24 variables, batches of "
          f"{args.batch} x {args.patch}x{args.patch}; torch threads 1; {os.cpu_count()} CPUs")  # fmt: skip
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-loader-") as cache:
        for factor in (1, 10):
            config = DataConfig(
                patch_size=args.patch, batch_size=args.batch, downscale=factor,
                epoch_len=args.batches + 1, cache_dir=cache,
            )  # fmt: skip
            start = time.perf_counter()
            dataset = PatchDataset(config, paths)  # builds the cache (not timed below)
            build = time.perf_counter() - start
            naive = NaiveLoader(paths, args.patch, args.batch, factor, args.naive_batches + 1)
            for workers in (0, 2):
                kit_rates = [rate(dataset.loader(num_workers=workers)) for _ in range(args.repeat)]
                kit_rate = float(np.median(kit_rates))
                naive_rate = rate(DataLoader(naive, batch_size=None, num_workers=workers))
                results[factor, workers] = (naive_rate, kit_rate)
                print(
                    f"downscale {factor:2d}, {workers} workers: naive {naive_rate:6.2f} b/s, "
                    f"kit {kit_rate:6.2f} b/s, ratio {kit_rate / naive_rate:6.1f}x "
                    f"(kit runs: {', '.join(f'{r:.1f}' for r in kit_rates)}; "
                    f"cache build {build:.1f} s)",
                    flush=True,
                )
    best_1 = max(results[1, w][1] / results[1, w][0] for w in (0, 2))
    print(f"goal >= 10x over naive at downscale 1: {best_1:.1f}x "
          f"{'met' if best_1 >= 10 else 'NOT met'}")  # fmt: skip
    fast = results[10, 2][1]
    print(f"goal >= 50 batches/s at downscale 10, 2 workers: {fast:.1f} "
          f"{'met' if fast >= 50 else 'NOT met'}")  # fmt: skip


if __name__ == "__main__":
    main()
