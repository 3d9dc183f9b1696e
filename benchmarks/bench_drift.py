"""Sea-ice drift benchmark: the methods compared in one run, against known truth and on real pairs.

(a) Pairs warped from the real S1 images (translation up to 40 px, rotation up to 10 degrees about
    the image centre, small shear and smooth deformation, independent speckle) and from synthetic
    textures: end-point error of ft, pm, ft+pm, superlim and superlim+pm, pooled per source.
(b) Pattern-matching throughput (35 px templates, +-16 px search, 2 threads) against the named
    baseline, a Python loop of per-point OpenCV matchTemplate calls, with the ratio printed.
(c) The two real pairs (no truth): forward-backward consistency, with geolocation.
(d) Uncertainty: on warped pairs, the fraction of displacement-component errors of valid pm and
    ft+pm vectors within 1 and 2 sigma (`peak_sigma`).
(e) Discontinuities: real images and synthetic textures warped with 10-30 px shear zones and
    opening leads along straight and curved lines at several angles (`BREAKS`); per side of the
    break, the valid fraction 30+ px from it against the same warp without the break, the
    fraction of valid vectors more than 3 px off and their median error, for ft, ft+pm and
    superlim; and the ft+pm time of a 1000 x 1000 pair with 961 points.
(g) Trajectories: end-point error of whole trajectories through 3- and 5-step chained warps
    (benchmarks/bench_trajectories.py). (f), large rotations and SuperLIM, is
    benchmarks/bench_superlim_rotation.py.

    PYTHONPATH=. python benchmarks/bench_drift.py            # full run (about 25 min on 2 cores)
    PYTHONPATH=. python benchmarks/bench_drift.py --quick    # one field per image
    PYTHONPATH=. python benchmarks/bench_drift.py --only uncertainty,breaks
"""

from __future__ import annotations

import argparse
import glob
import os
import time

import cv2
import numpy as np
import torch

from kit.charts import shared_data_dir
from kit.drift.cli import CONSISTENCY_COLUMNS, EVAL_COLUMNS
from kit.drift.io import read_s1_geotiff
from kit.drift.matching import MatchParams, pattern_match, sample_patches
from kit.drift.metrics import format_table, forward_backward, scored_errors, summarise
from kit.drift.preprocess import remove_mean_and_clip, to_db
from kit.drift.synthetic import DisplacementField, make_pair, random_field, synthetic_texture
from kit.drift.track import METHODS, track

PAIRS = [
    ("S1B_EW_GRDM_1SDH_20161005T101835.tif", "S1A_EW_GRDM_1SDH_20161005T142446.tif"),
    ("S1B_EW_GRDM_1SDH_20200123T120618.tif", "S1B_EW_GRDM_1SDH_20200125T114955.tif"),
]


def truth_benchmark(bases: dict[str, list[np.ndarray]], fields_per_image: int) -> None:
    for source, images in bases.items():
        pooled = {m: ([], [], []) for m in METHODS}
        for i, base in enumerate(images):
            for k in range(fields_per_image):
                seed = 100 * i + k
                field = random_field(base.shape, max_drift=40, max_rotation_deg=10, seed=seed)
                pair = make_pair(base, field, seed=seed)
                for m in METHODS:
                    result = track(pair.image1, pair.image2, m)
                    epe, valid = scored_errors(result, pair.truth, pair.image1, pair.image2)
                    pooled[m][0].append(epe)
                    pooled[m][1].append(valid)
                    pooled[m][2].append(result.seconds)
        rows = [
            summarise(m, float(np.mean(s)), np.concatenate(e), np.concatenate(v)).row()
            for m, (e, v, s) in pooled.items()
        ]
        n_pairs = len(images) * fields_per_image
        print(
            f"\n(a) {source}: {n_pairs} pairs of {images[0].shape[0]} x {images[0].shape[1]} px, grid every 32 px; seconds = mean per pair"
        )
        print(format_table(rows, EVAL_COLUMNS))
        best = {r["method"]: r for r in rows}
        ftpm, slpm = best["ft+pm"], best["superlim+pm"]
        print(
            f"goals: ft+pm median {ftpm['valid_median']:.3f} px (<= 0.5), P90 {ftpm['valid_p90']:.3f} px (<= 1.5), "
            f"valid {ftpm['fraction_valid']:.3f} (>= 0.9); superlim+pm - ft+pm median "
            f"{slpm['valid_median'] - ftpm['valid_median']:+.3f} px (within 0.2)"
        )


def throughput_benchmark(base: np.ndarray, repeats: int = 3) -> None:
    field = random_field(base.shape, max_drift=10, max_rotation_deg=2, seed=5)
    pair = make_pair(base, field, seed=5)
    a, b = remove_mean_and_clip(pair.image1), remove_mean_and_clip(pair.image2)
    yy, xx = np.mgrid[40 : a.shape[0] - 40 : 10, 40 : a.shape[1] - 40 : 10]
    x, y = xx.ravel().astype(float), yy.ravel().astype(float)
    params = MatchParams(template=35, search=16, workers=2)
    kit_s = min(_timed(lambda: pattern_match(a, b, x, y, params=params)) for _ in range(repeats))
    # baseline: one OpenCV call per point on the same templates and windows, integer peak only
    tmpl = sample_patches(a, x, y, 35)
    wins = sample_patches(b, x, y, 35 + 32)
    ok = ~(np.isnan(tmpl).any(axis=(1, 2)) | np.isnan(wins).any(axis=(1, 2)))
    cv2.setNumThreads(2)

    def loop():
        for t, w in zip(tmpl[ok], wins[ok], strict=True):
            r = cv2.matchTemplate(w, t, cv2.TM_CCOEFF_NORMED)
            np.unravel_index(int(r.argmax()), r.shape)

    base_s = min(_timed(loop) for _ in range(repeats)) * x.size / max(ok.sum(), 1)
    kit_rate, base_rate = x.size / kit_s, x.size / base_s
    print(f"\n(b) pattern matching, 35 px templates, +-16 px search, {x.size} points, 2 threads")
    print(f"kit pm (batched FFT, sub-pixel, validity): {kit_rate:8.0f} vectors/s (goal >= 2000)")
    print(
        f"baseline per-point cv2.matchTemplate loop: {base_rate:8.0f} vectors/s (integer peak only)"
    )
    print(f"ratio kit / baseline: {kit_rate / base_rate:.2f}")


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def real_pairs_benchmark(folder: str) -> None:
    for one, two in PAIRS:
        a, b = (
            read_s1_geotiff(os.path.join(folder, one)),
            read_s1_geotiff(os.path.join(folder, two)),
        )
        db1, db2 = to_db(a.sigma0), to_db(b.sigma0)
        rows = [forward_backward(db1, db2, m, geo1=a.geo, geo2=b.geo).row() for m in METHODS]
        hours = (b.time - a.time).total_seconds() / 3600
        drift = track(db1, db2, "ft+pm", geo1=a.geo, geo2=b.geo, dt_seconds=hours * 3600)
        v = drift.valid
        print(
            f"\n(c) real pair {one[17:32]} -> {two[17:32]} ({hours:.1f} h): forward-backward consistency (px)"
        )
        print(format_table(rows, CONSISTENCY_COLUMNS))
        print(
            f"ft+pm drift: median {np.median(drift.displacement_km[v]):.2f} km, "
            f"median speed {np.median(drift.speed_ms[v]):.3f} m/s over {v.sum()} valid vectors"
        )
        print("valid vectors more than 3 px from ft+pm's (where both are valid):")
        for m in METHODS:
            other = track(db1, db2, m, geo1=a.geo, geo2=b.geo)
            both = other.valid & drift.valid
            far = np.hypot(other.u - drift.u, other.v - drift.v)[both] > 3
            print(f"  {m:12s} {int(far.sum())} of {int(both.sum())} ({far.mean():.3f})")


def uncertainty_benchmark(bases: dict[str, list[np.ndarray]]) -> None:
    print("\n(d) uncertainty: component errors of valid vectors within k sigma (600 px crops)")
    rows = []
    for source, images in bases.items():
        for m in ("pm", "ft+pm"):
            errors, sigmas = [], []
            for seed in range(300, 304):
                base = images[seed % len(images)][:600, :600]
                pair = make_pair(base, random_field(base.shape, 20, 10, seed=seed), seed=seed)
                r = track(pair.image1, pair.image2, m, grid_step=24, search=24)
                tu, tv = pair.truth(r.x, r.y)
                errors += [np.abs(r.u - tu)[r.valid], np.abs(r.v - tv)[r.valid]]
                sigmas += [r.sigma[r.valid]] * 2
            e, s = np.concatenate(errors), np.concatenate(sigmas)
            rows.append(
                {
                    "source": source,
                    "method": m,
                    "n_components": e.size,
                    "median_sigma": float(np.median(s)),
                    "within_1_sigma": float(np.mean(e <= s)),
                    "within_2_sigma": float(np.mean(e <= 2 * s)),
                }
            )
    print(format_table(rows, list(rows[0])))


#: Discontinuity cases (e): (kind, jump px, angle of the line in degrees, radius of curvature
#: px or 0 for straight). A shear moves the left side along the line, an opening across it.
BREAKS = [
    ("shear", 18.0, 30.0, 0.0),
    ("opening", 12.0, 100.0, 0.0),
    ("shear", 30.0, 160.0, 450.0),
    ("opening", 25.0, 60.0, 400.0),
    ("shear", 10.0, 135.0, 0.0),
]
#: Grid points nearer than this to the break are not scored for the per-side valid fraction.
BREAK_MARGIN = 30.0


def _break_field(shape, kind: str, jump: float, angle: float, radius: float, seed: int):
    """The base warp of a case (translation, rotation, smooth deformation) with and without
    the break."""
    b = np.radians(angle if kind == "shear" else angle + 90.0)
    common = dict(
        translation=(6.0, -4.0),
        rotation_deg=3.0,
        deformation=2.0,
        jump_angle_deg=angle,
        jump_radius=radius,
        seed=seed,
    )
    broken = DisplacementField(shape, jump=(jump * np.cos(b), jump * np.sin(b)), **common)
    return broken, DisplacementField(shape, **common)


def _side_rows(pair, result, reference, method: str, case: tuple) -> list[dict]:
    """One row per side of the break: valid fraction away from it (and without the break),
    the fraction of all valid vectors more than 3 px off and their median error."""
    kind, jump, angle, radius = case
    tu, tv = pair.truth(result.x, result.y)
    err = np.hypot(result.u - tu, result.v - tv)
    dist, left = pair.field.break_distance(result.x, result.y)
    far = dist >= BREAK_MARGIN
    rows = []
    for side, on in (("left", left), ("right", ~left)):
        scored = far & on
        v = result.valid & on
        rows.append(
            {
                "case": f"{kind} {jump:g}px {angle:g}deg " + (f"r{radius:g}" if radius else "line"),
                "method": method,
                "side": side,
                "valid_far": float(result.valid[scored].mean()),
                "valid_nobreak": float(reference.valid[scored].mean()),
                "wrong_3px": float(np.mean(err[v] > 3)) if v.any() else 0.0,
                "median_epe": float(np.median(err[v])) if v.any() else float("nan"),
                "seconds": result.seconds,
            }
        )
    return rows


def _break_timing(base: np.ndarray, repeats: int = 3) -> None:
    """ft+pm on a 1000 x 1000 pair with an 18 px shear (961 grid points), best of `repeats`,
    against plain pm (+-16 px around zero) on the same pair in the same run."""
    broken, _ = _break_field(base.shape, *BREAKS[0], seed=0)
    pair = make_pair(base, broken, seed=0)
    best = {
        m: min(track(pair.image1, pair.image2, m).seconds for _ in range(repeats))
        for m in ("ft+pm", "pm")
    }
    n = track(pair.image1, pair.image2, "pm").x.size
    print(
        f"ft+pm on {base.shape[0]} x {base.shape[1]} px, {n} points: {best['ft+pm']:.2f} s "
        f"(goal < 1.5 s on 2 cores); plain pm {best['pm']:.2f} s; ratio ft+pm / pm "
        f"{best['ft+pm'] / best['pm']:.2f}"
    )


def discontinuity_benchmark(
    bases: dict[str, list[np.ndarray]], methods=("ft", "ft+pm", "superlim")
) -> None:
    """(e) Shear zones and opening leads along straight and curved lines."""
    print(
        f"\n(e) discontinuities: valid fraction {BREAK_MARGIN:g}+ px from the break per side, "
        "against the same warp without it; valid vectors more than 3 px off (all of them)"
    )
    rows = []
    for source, images in bases.items():
        for k, case in enumerate(BREAKS):
            base = images[k % len(images)]
            broken, whole = _break_field(base.shape, *case, seed=k)
            pair, pair0 = make_pair(base, broken, seed=k), make_pair(base, whole, seed=k)
            for m in methods:
                result = track(pair.image1, pair.image2, m)
                reference = track(pair0.image1, pair0.image2, m)
                rows += [
                    dict(source=source[:9], **r)
                    for r in _side_rows(pair, result, reference, m, case)
                ]
    print(format_table(rows, list(rows[0])))
    _break_timing(bases[next(iter(bases))][0])
    for m in methods:
        mine = [r for r in rows if r["method"] == m]
        drop = max(r["valid_nobreak"] - r["valid_far"] for r in mine)
        wrong = max(r["wrong_3px"] for r in mine)
        med = max(r["median_epe"] for r in mine)
        print(
            f"goals {m}: largest valid-fraction drop {drop:.3f} (<= 0.05), largest wrong "
            f"fraction {wrong:.3f} (<= 0.01), largest median {med:.3f} px (< 0.3)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one warp per image instead of two")
    parser.add_argument(
        "--only",
        default="truth,throughput,real,uncertainty,breaks,trajectories",
        help="comma-separated parts to run: truth (a), throughput (b), real (c), "
        "uncertainty (d), breaks (e), trajectories (g)",
    )
    args = parser.parse_args()
    parts = set(args.only.split(","))
    torch.set_num_threads(2)
    folder = os.path.join(shared_data_dir(), "s1_pairs")
    paths = sorted(glob.glob(os.path.join(folder, "*.tif")))
    fields = 1 if args.quick else 2
    bases: dict[str, list[np.ndarray]] = {}
    if paths:
        bases["warped real S1 images"] = [to_db(read_s1_geotiff(p).sigma0) for p in paths]
    else:
        print(f"(skipping the real images: {folder} not found)")
    bases["synthetic textures"] = [synthetic_texture((1000, 1000), seed=s) for s in range(2)]
    print(
        f"machine: {os.cpu_count()} CPU cores, torch threads {torch.get_num_threads()}, GPU: {torch.cuda.is_available()}"
    )
    if "truth" in parts:
        truth_benchmark(bases, fields)
    if "throughput" in parts:
        throughput_benchmark(bases[next(iter(bases))][0])
    if paths and "real" in parts:
        real_pairs_benchmark(folder)
    if "uncertainty" in parts:
        uncertainty_benchmark(bases)
    if "breaks" in parts:
        discontinuity_benchmark(bases)
    if "trajectories" in parts:
        from bench_trajectories import trajectory_benchmark  # beside this script

        trajectory_benchmark(bases)


if __name__ == "__main__":
    main()
