"""SuperLIM under large rotations (issue 16 item 3): the 2016 pair and warped rotations.

`PYTHONPATH=. python benchmarks/bench_superlim_rotation.py [--weights PATH] [--only real|warped]`

(a) The 2016 pair (different orbits, contents rotated ~61 degrees), with geolocation: for
superlim, superlim+pm and ft+pm the valid fraction, the median forward-backward miss (px), the
fraction of valid vectors that disagree with ft+pm by > 3 px where both are valid, and of those
the ones also > 3 px off forward-backward.
(b) A 600 x 600 px crop of a real image warped by a rotation about its centre (0, 60, 120, 180
degrees) and a (7, -4) px shift, no geolocation: superlim+pm valid fraction and the fraction of
its valid vectors more than 3 px off the truth.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from kit.charts import shared_data_dir
from kit.drift.io import read_s1_geotiff
from kit.drift.metrics import scored_errors
from kit.drift.preprocess import to_db
from kit.drift.synthetic import DisplacementField, make_pair
from kit.drift.track import track

PAIR_2016 = ("S1B_EW_GRDM_1SDH_20161005T101835.tif", "S1A_EW_GRDM_1SDH_20161005T142446.tif")
WARPED_SOURCE = "S1B_EW_GRDM_1SDH_20200123T120618.tif"
ROTATIONS = (0.0, 60.0, 120.0, 180.0)


def _fb_miss(db1, db2, method, geo1, geo2, **params):
    """Forward result and the forward-backward miss (NaN where either way is invalid)."""
    fwd = track(db1, db2, method, geo1=geo1, geo2=geo2, **params)
    miss = np.full(fwd.x.size, np.nan)
    ok = fwd.valid
    bwd = track(
        db2, db1, method, (fwd.x[ok] + fwd.u[ok], fwd.y[ok] + fwd.v[ok]), geo2, geo1, **params
    )
    both = np.flatnonzero(ok)[bwd.valid]
    miss[both] = np.hypot(fwd.u[both] + bwd.u[bwd.valid], fwd.v[both] + bwd.v[bwd.valid])
    return fwd, miss, fwd.seconds + bwd.seconds


def real_2016(folder: str, params: dict) -> None:
    a, b = (read_s1_geotiff(os.path.join(folder, name)) for name in PAIR_2016)
    db1, db2 = to_db(a.sigma0), to_db(b.sigma0)
    runs = {
        m: _fb_miss(db1, db2, m, a.geo, b.geo, **params)
        for m in ("ft+pm", "superlim", "superlim+pm")
    }
    ref = runs["ft+pm"][0]
    print(
        "(a) 2016 pair | method | s (fwd+bwd) | valid | median FB | disagree ft+pm >3 px "
        "(of both valid) | disagree and FB > 3 px | n both valid"
    )
    for method, (res, miss, sec) in runs.items():
        both = res.valid & ref.valid
        off = np.hypot(res.u - ref.u, res.v - ref.v)[both] > 3
        bad_fb = ~(miss[both] <= 3)
        print(
            f"| {method} | {sec:.1f} | {res.valid.mean():.3f} | {np.nanmedian(miss):.3f} | "
            f"{off.mean() if both.any() else np.nan:.3f} ({off.sum()}) | "
            f"{(off & bad_fb).mean() if both.any() else np.nan:.3f} | {both.sum()} |"
        )


def warped(folder: str, params: dict, size: int = 600) -> None:
    db = to_db(read_s1_geotiff(os.path.join(folder, WARPED_SOURCE)).sigma0)
    base = db[200 : 200 + size, 200 : 200 + size]
    print("(b) warped rotations | rotation | s | valid | valid wrong (> 3 px) | n scored")
    for rot in ROTATIONS:
        field = DisplacementField((size, size), translation=(7.0, -4.0), rotation_deg=rot)
        pair = make_pair(base, field, seed=int(rot))
        start = time.perf_counter()
        res = track(pair.image1, pair.image2, "superlim+pm", **params)
        sec = time.perf_counter() - start
        epe, valid = scored_errors(res, pair.truth, pair.image1, pair.image2)
        wrong = (epe[valid] > 3).mean() if valid.any() else np.nan
        print(f"| {rot:.0f} | {sec:.1f} | {valid.mean():.3f} | {wrong:.3f} | {valid.size} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=None)
    parser.add_argument("--only", choices=("real", "warped"), default=None)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    folder = os.path.join(shared_data_dir(), "s1_pairs")
    params = {"superlim_weights": args.weights} if args.weights else {}
    if args.only in (None, "real"):
        real_2016(folder, params)
    if args.only in (None, "warped"):
        warped(folder, params)


if __name__ == "__main__":
    main()
