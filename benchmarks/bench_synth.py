"""Benchmark: generate the default synthetic demo set (24 train + 6 test scenes of 1000x1000).

Goal: under 60 s on a 2-core machine. Baseline in the same run: the same set written by one
process (the speed-up of the default parallel writer is the ratio printed).

    python benchmarks/bench_synth.py [--workers 2] [--train 24 --test 6 --size 1000 1000]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

from kit.data.synthetic import SynthConfig, write_dataset


def _timed(out: Path, config: SynthConfig, workers: int) -> float:
    start = time.perf_counter()
    write_dataset(out, config, workers=workers, progress=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=24)
    parser.add_argument("--test", type=int, default=6)
    parser.add_argument("--size", type=int, nargs=2, default=(1000, 1000))
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    config = SynthConfig(args.train, args.test, tuple(args.size))
    with tempfile.TemporaryDirectory() as tmp:
        parallel = _timed(Path(tmp) / "parallel", config, args.workers)
        serial = _timed(Path(tmp) / "serial", config, 1)
        size_mb = sum(p.stat().st_size for p in Path(tmp, "parallel").rglob("*.nc")) / 1e6
    n = args.train + args.test
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    print(f"set: {args.train} train + {args.test} test scenes of {args.size[0]}x{args.size[1]}")
    print(
        f"{args.workers} workers: {parallel:.1f} s ({parallel / n:.2f} s/scene), {size_mb:.0f} MB"
    )
    print(f"1 worker (baseline): {serial:.1f} s; speed-up {serial / parallel:.2f}x")
    print(f"goal < 60 s: {'met' if parallel < 60 else 'NOT met'}")


if __name__ == "__main__":
    main()
