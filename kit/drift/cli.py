"""`autoice drift` (track a pair of GeoTIFFs into a netCDF product) and `autoice drift-eval`
(score the methods on warped pairs with known truth, or on a real pair by consistency)."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from kit import resources
from kit.atomic import check_output_file, write_json_atomic
from kit.drift.track import DEFAULT_METHOD, METHODS, TrackParams, make_params
from kit.errors import KitError

#: Peak memory of `drift-eval` on a synthetic pair, per pixel of the texture (the texture, its
#: warp, the pair, the truth and the tracked images): measured 124 bytes, so 100 is a lower bound.
EVAL_BYTES_PER_PIXEL = 100

EVAL_COLUMNS = [
    "method",
    "seconds",
    "n_points",
    "fraction_valid",
    "valid_median",
    "valid_p90",
    "all_median",
    "all_p90",
    "all_under_1px",
    "invalid_that_are_wrong",
    "valid_that_are_wrong",
]
CONSISTENCY_COLUMNS = [
    "method",
    "seconds",
    "n_points",
    "fraction_valid",
    "fraction_valid_both",
    "median",
    "p90",
    "under_1px",
]


def _add_track_options(p: argparse.ArgumentParser) -> None:
    """The tracking options, their defaults those of `track` (`TrackParams`)."""
    defaults = TrackParams()
    p.add_argument(
        "--grid-step", type=int, default=defaults.grid_step, help="grid spacing of the vectors (px)"
    )
    p.add_argument(
        "--template",
        type=int,
        default=defaults.template,
        help="pattern-matching template size (odd, px)",
    )
    p.add_argument(
        "--search",
        type=int,
        default=defaults.search,
        help="pattern-matching search radius for pm (px)",
    )
    p.add_argument(
        "--weights",
        default=defaults.superlim_weights,
        help="SuperLIM checkpoint (default: the packaged one)",
    )


def _track_params(args) -> dict:
    return {
        "grid_step": args.grid_step,
        "template": args.template,
        "search": args.search,
        "superlim_weights": args.weights,
    }


def register(subparsers) -> None:
    """Add the `drift` and `drift-eval` subcommands."""
    p = subparsers.add_parser(
        "drift",
        help="sea-ice drift between two Sentinel-1 GeoTIFFs",
        description="Track sea-ice drift from one Sentinel-1 sigma0 GeoTIFF (with GCPs) to a "
        "later one and write the vectors on a regular grid as a netCDF drift product.",
    )
    p.add_argument("img1", help="first image: sigma0 GeoTIFF with GCPs")
    p.add_argument("img2", help="second image")
    p.add_argument(
        "--method", default=DEFAULT_METHOD, choices=METHODS,
        help="ft: ORB feature tracking; pm: pattern matching (cross-correlation); superlim: "
        "a small learned keypoint network; ft+pm, superlim+pm: pm from that first guess",
    )  # fmt: skip
    p.add_argument("--out", required=True, help="output netCDF file")
    p.add_argument("--png", default=None, help="also save a quiver plot here")
    _add_track_options(p)
    p.set_defaults(handler=run_drift)

    e = subparsers.add_parser(
        "drift-eval",
        help="score drift methods: warped images with known truth (0 or 1 image) or a real pair's consistency (2 images)",
        description="Score drift methods. No image: synthetic textures warped by random fields; "
        "one image: warps of it; both by end-point error against the known field. Two images: "
        "a real pair, by forward-backward consistency.",
    )
    e.add_argument(
        "images", nargs="*", help="none: synthetic textures; one: warp it; two: a real pair"
    )
    e.add_argument(
        "--methods", default=",".join(METHODS), help="comma-separated methods to compare"
    )
    e.add_argument(
        "--pairs", type=int, default=1, help="warped pairs per image (different random fields)"
    )
    e.add_argument("--size", type=int, default=512, help="synthetic texture size (px)")
    e.add_argument(
        "--max-drift", type=float, default=40.0, help="largest translation of the warp (px)"
    )
    e.add_argument(
        "--max-rotation", type=float, default=10.0, help="largest rotation of the warp (deg)"
    )
    e.add_argument("--seed", type=int, default=0, help="seed of the textures and warp fields")
    e.add_argument("--json", default=None, help="write the rows as JSON here")
    _add_track_options(e)
    e.set_defaults(handler=run_drift_eval)


def _methods(text: str) -> list[str]:
    methods = [m.strip() for m in text.split(",") if m.strip()]
    bad = [m for m in methods if m not in METHODS]
    if bad or not methods:
        raise KitError(
            f"--methods: unknown {', '.join(bad) or 'empty list'}; choose from {', '.join(METHODS)}"
        )
    return methods


def _check_track_options(args, methods: list[str]) -> None:
    """Tracking settings checked before any image is read or made: the pattern-matching
    window (template, search) must be valid and its batch must fit in memory."""
    if args.grid_step < 1:
        raise KitError(f"--grid-step {args.grid_step}: must be at least 1 px")
    params = make_params(**_track_params(args))
    if any("pm" in m for m in methods):  # the FT and SuperLIM guesses fall back to --search
        params.match_params(params.search).check()


def _check_eval_options(args) -> None:
    """`drift-eval` counts and synthetic texture size, checked before any pair is made."""
    if args.pairs < 1:
        raise KitError(f"--pairs {args.pairs}: must be at least 1")
    if args.images:
        return
    smallest = args.template + 2 * args.search
    if args.size < smallest:
        raise KitError(
            f"--size {args.size}: must be at least {smallest} px, one pattern-matching window "
            f"(--template {args.template} + 2 x --search {args.search})"
        )
    largest = math.isqrt(resources.memory_bytes() // EVAL_BYTES_PER_PIXEL)
    resources.require_memory(
        args.size**2 * EVAL_BYTES_PER_PIXEL,
        f"--size {args.size}: a synthetic pair",
        f"largest --size: {largest}",
    )


def _json_value(value):
    """`value` as strict JSON: NaN and infinities (no JSON number) become null."""
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(rows: list[dict], path: str | Path) -> None:
    """Write `rows` as strict JSON (NaN -> null), atomically."""
    write_json_atomic(path, _json_value(rows), indent=1, allow_nan=False)


def run_drift(args) -> int:
    from kit.drift.io import read_s1_geotiff
    from kit.drift.preprocess import to_db
    from kit.drift.product import write_drift_netcdf
    from kit.drift.track import track

    _check_track_options(args, [args.method])
    check_output_file(args.out, "--out", make_folder=True)
    if args.png:
        check_output_file(args.png, "--png", make_folder=True)
    one, two = read_s1_geotiff(args.img1), read_s1_geotiff(args.img2)
    dt = (two.time - one.time).total_seconds() if one.time and two.time else None
    db1 = to_db(one.sigma0)
    result = track(
        db1,
        to_db(two.sigma0),
        args.method,
        geo1=one.geo,
        geo2=two.geo,
        dt_seconds=dt,
        **_track_params(args),
    )
    attrs = {"source_image1": Path(args.img1).name, "source_image2": Path(args.img2).name}
    if one.time and two.time:
        attrs |= {
            "time_coverage_start": one.time.isoformat(),
            "time_coverage_end": two.time.isoformat(),
        }
    write_drift_netcdf(result, args.out, attrs)
    summary = f"{args.out}: {int(result.valid.sum())} of {result.valid.size} vectors valid ({args.method}, {result.seconds:.1f} s)"
    if result.speed_ms is not None and result.valid.any():
        summary += f"; median speed {np.median(result.speed_ms[result.valid]):.3f} m/s"
    print(summary)
    if args.png:
        from kit.drift.plot import quiver_plot

        quiver_plot(db1, result, args.png)
        print(f"{args.png}: quiver plot")
    return 0


def run_drift_eval(args) -> int:
    from kit.drift.io import read_s1_geotiff
    from kit.drift.metrics import evaluate, format_table, forward_backward
    from kit.drift.preprocess import to_db
    from kit.drift.synthetic import make_pair, random_field, synthetic_texture
    from kit.drift.track import track

    methods = _methods(args.methods)
    params = _track_params(args)
    if len(args.images) > 2:
        raise KitError(f"drift-eval takes at most two images, got {len(args.images)}")
    _check_track_options(args, methods)
    _check_eval_options(args)
    if args.json:
        check_output_file(args.json, "--json", make_folder=True)
    rows = []
    if len(args.images) == 2:
        one, two = (read_s1_geotiff(p) for p in args.images)
        db1, db2 = to_db(one.sigma0), to_db(two.sigma0)
        for m in methods:
            rows.append(forward_backward(db1, db2, m, geo1=one.geo, geo2=two.geo, **params).row())
        print(format_table(rows, CONSISTENCY_COLUMNS))
    else:
        bases = [to_db(read_s1_geotiff(args.images[0]).sigma0)] if args.images else None
        for k in range(args.pairs):
            seed = args.seed + k
            base = bases[0] if bases else synthetic_texture((args.size, args.size), seed=seed)
            field = random_field(base.shape, args.max_drift, args.max_rotation, seed=seed)
            pair = make_pair(base, field, seed=seed)
            for m in methods:
                result = track(pair.image1, pair.image2, m, **params)
                rows.append(
                    {
                        "pair": k,
                        **evaluate(
                            result, pair.truth, pair.image1, pair.image2, args.template
                        ).row(),
                    }
                )
        print(format_table(rows, ["pair", *EVAL_COLUMNS]))
    if args.json:
        write_json(rows, args.json)
    return 0
