"""Benchmark: time and memory of `autoice score` on compression bombs against an honest file.

Builds the synthetic reference and honest submission of `bench_scoring.py` (20 scenes of
2500 x 2500 by default), then the same predictions written as hostile files:

  - chunk bomb (`--chunk`, default 8192 and 16384): every variable int16 with unlimited
    dimensions, shuffle + deflate, and one chunk declared larger than the variable, stored as
    a zlib stream of zeros (a constant prediction, as an attacker would not care): an 8 MB file
    claims 128 MiB per variable (8192), a 32 MB file 512 MiB (16384);
  - deflate bomb: the honest file with one variable made big-endian int16 in 500 x 500
    chunks, only the first stored, as a 1 MB zlib stream of 1 GiB (HDF5's zlib filter reads
    big-endian and partly written variables; it has no bound).

Each file is scored by `autoice score` in a fresh process (default workers), from each code
tree given by `--code` (default this checkout; give an older checkout too to compare, the runs
alternate), `--repeat` times; for the median run by time we report exit status, wall time, the
peak resident memory of the largest process (`ru_maxrss` of the waited processes) and the peak
of the sum over the command and its workers (sampled from /proc every 10 ms). Usage:

    python benchmarks/bench_hostile.py                            # this checkout
    python benchmarks/bench_hostile.py --code . /path/to/older    # both, alternating
    python benchmarks/bench_hostile.py --keep DIR                 # build once into DIR
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_scoring import build  # noqa: E402

#: Runs the command given as arguments, sampling the summed resident memory of its process
#: tree; prints exit status, stderr's last line, seconds and both peaks (MB) as JSON.
MEASURE = textwrap.dedent(
    """
    import json, os, resource, subprocess, sys, time

    def tree_rss_kb(pid):
        total, todo = 0, [pid]
        while todo:
            p = todo.pop()
            try:
                with open(f"/proc/{p}/status") as f:
                    total += next((int(l.split()[1]) for l in f if l.startswith("VmRSS:")), 0)
                with open(f"/proc/{p}/task/{p}/children") as f:
                    todo += [int(c) for c in f.read().split()]
            except OSError:
                pass
        return total

    start = time.perf_counter()
    proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    peak_sum = 0
    while proc.poll() is None:
        peak_sum = max(peak_sum, tree_rss_kb(proc.pid))
        time.sleep(0.01)
    seconds = time.perf_counter() - start
    err = proc.stderr.read().strip().splitlines()
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"rc": proc.returncode, "seconds": seconds, "peak_mb": peak / 1024,
                      "peak_sum_mb": peak_sum / 1024, "err": err[-1][:160] if err else ""}))
    """
)


def chunk_bomb(honest: Path, path: Path, chunk: int) -> Path:
    """The honest file's variables as int16 zeros with unlimited dimensions, each one chunk of
    `chunk` x `chunk` (shuffle + deflate) written directly as a zlib stream of zeros."""
    import h5py

    from tests.security.payloads import zlib_bomb

    stream = zlib_bomb(chunk * chunk * 2)
    with h5py.File(honest, "r") as src, h5py.File(path, "w") as out:
        for name, dataset in src.items():
            if dataset.ndim != 2:
                continue  # netCDF dimension scales
            bomb = out.create_dataset(
                name, shape=dataset.shape, dtype="i2", maxshape=(None, None),
                chunks=(chunk, chunk), compression="gzip", shuffle=True,
            )  # fmt: skip
            bomb.id.write_direct_chunk((0, 0), stream)
    return path


def deflate_bomb(honest: Path, path: Path, inflated: int = 1 << 30) -> Path:
    """The honest file with one variable's first 500 x 500 chunk (big-endian int16, the
    others unwritten) a zlib stream of `inflated` zero bytes: HDF5 reads it itself."""
    import h5py

    from tests.security.payloads import zlib_bomb

    with h5py.File(honest, "r") as src, h5py.File(path, "w") as out:
        names = sorted(n for n, d in src.items() if d.ndim == 2)
        for name in names[1:]:
            out.create_dataset(name, data=src[name][:], compression="gzip", chunks=True)
        shape = src[names[0]].shape
        bomb = out.create_dataset(names[0], shape=shape, dtype=">i2", chunks=(500, 500),
                                  compression="gzip")  # fmt: skip
        bomb.id.write_direct_chunk((0, 0), zlib_bomb(inflated))
    return path


def build_all(folder: Path, size: int, scenes: int, chunks: list[int]) -> tuple[Path, dict]:
    if not (folder / "upload_package.nc").exists():
        folder.mkdir(parents=True, exist_ok=True)
        build(folder, size, scenes, seed=0)
    honest = folder / "upload_package.nc"
    files = {"honest": honest}
    for chunk in chunks:
        path = folder / f"chunk_bomb_{chunk}.nc"
        files[f"chunk bomb {chunk} x {chunk}"] = (
            path if path.exists() else chunk_bomb(honest, path, chunk)
        )
    path = folder / "deflate_bomb.nc"
    files["deflate bomb (1 GiB in one chunk)"] = (
        path if path.exists() else deflate_bomb(honest, path)
    )
    return folder / "ref", files


def measure(code: Path, submission: Path, reference: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(code), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "kit.cli", "score", str(submission), "--reference",
               str(reference)]  # fmt: skip
    run = subprocess.run([sys.executable, "-c", MEASURE, *command], env=env, cwd=code,
                         capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(run.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", type=Path, nargs="+", default=[ROOT], help="code trees")
    parser.add_argument("--size", type=int, default=2500)
    parser.add_argument("--scenes", type=int, default=20)
    parser.add_argument("--chunk", type=int, nargs="+", default=[8192, 16384])
    parser.add_argument("--repeat", type=int, default=1, help="runs of each (median reported)")
    parser.add_argument("--keep", type=Path, help="build into (or reuse) this folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_hostile_") as tmp:
        folder = args.keep or Path(tmp)
        reference, files = build_all(folder, args.size, args.scenes, args.chunk)
        print("| submission | file size | code | exit | time (s) | peak, largest process (MB) "
              "| peak, all processes (MB) |")  # fmt: skip
        print("|---|---|---|---|---|---|---|")
        for label, path in files.items():
            runs: dict[Path, list[dict]] = {code: [] for code in args.code}
            for _ in range(args.repeat):  # alternate, so that load changes hit all alike
                for code in args.code:
                    runs[code].append(measure(code.resolve(), path, reference))
            for code, results in runs.items():
                r = sorted(results, key=lambda r: r["seconds"])[len(results) // 2]
                print(f"| {label} | {path.stat().st_size / 1e6:.1f} MB | {code} | {r['rc']} | "
                      f"{r['seconds']:.2f} | {r['peak_mb']:.0f} | {r['peak_sum_mb']:.0f} |")  # fmt: skip
                if r["rc"]:
                    print(f"  -> {r['err']}")


if __name__ == "__main__":
    main()
