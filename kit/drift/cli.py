"""`autoice drift` (track a pair of GeoTIFFs into a netCDF product), `autoice drift-eval`
(score the methods on warped pairs with known truth, or on a real pair by consistency) and
`autoice drift-series` (trajectories through a time series of GeoTIFFs)."""

from __future__ import annotations

import argparse
import dataclasses
import math
import typing
from pathlib import Path

import numpy as np

from kit import resources
from kit.atomic import check_output_file, write_json_atomic
from kit.drift.params import COMMON_SETTINGS, SETTING_HELP, make_params, params_class
from kit.drift.registry import DRIFT_METHODS, added_settings, users
from kit.drift.track import DEFAULT_METHOD
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


def option_help(name: str) -> str:
    """The ``--help`` text of tracking setting `name`: the methods that use it (read from the
    drift method registry; "all methods" for the settings `track` applies itself), then what
    it does (`kit.drift.params.SETTING_HELP`, or the registering method's `DriftSetting`)."""
    text = SETTING_HELP[name] if name in SETTING_HELP else added_settings()[name].help
    methods = "all methods" if name in COMMON_SETTINGS else ", ".join(users(name)) or "no method"
    return f"{methods}: {text}"


def method_help() -> str:
    """The ``--method`` help: each registered method and its description."""
    return "; ".join(f"{name}: {entry.description}" for name, entry in DRIFT_METHODS.items())


#: Option strings of the settings not named --<setting-with-hyphens>: `--weights` is kept for
#: compatibility, and `drift-eval` has its own `--max-drift` (of the warp).
TRACK_OPTION_STRINGS = {
    "superlim_weights": ("--superlim-weights", "--weights"),
    "max_drift": ("--ft-max-drift",),
}


def track_option(name: str) -> str:
    """The command-line option of the `TrackParams` setting `name`."""
    return TRACK_OPTION_STRINGS.get(name, ("--" + name.replace("_", "-"),))[0]


def _dest(name: str) -> str:
    """Where argparse keeps the `TrackParams` setting `name`: named after its option."""
    return track_option(name)[2:].replace("-", "_")


def _float_list(text: str) -> tuple[float, ...]:
    """A comma-separated list of numbers, e.g. ``0,-10,10``."""
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected comma-separated numbers, e.g. 0,-10,10"
        ) from None


def _option_type(hint):
    """The argparse type of a `TrackParams` field from its type hint."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) is tuple:
        return _float_list
    if args:  # X | None
        return _option_type(args[0])
    return hint


def _add_track_options(p: argparse.ArgumentParser) -> None:
    """One option per tracking setting (`TrackParams` and the registered methods' own), its
    default that of `track`."""
    settings = params_class()
    defaults = settings()
    hints = typing.get_type_hints(settings)
    group = p.add_argument_group("tracking settings (defaults of kit.drift.track.TrackParams)")
    for f in dataclasses.fields(settings):
        default = getattr(defaults, f.name)
        if isinstance(default, tuple):  # argparse converts a string default with `type`
            default = ",".join(f"{a:g}" for a in default)
        group.add_argument(
            *TRACK_OPTION_STRINGS.get(f.name, (track_option(f.name),)),
            dest=_dest(f.name),
            type=_option_type(hints[f.name]),
            default=default,
            metavar=f.name.split("_")[-1].upper(),
            help=option_help(f.name).replace("%", "%%"),
        )


def _track_params(args) -> dict:
    """The tracking settings given on the command line, as `track` keywords."""
    return {f.name: getattr(args, _dest(f.name)) for f in dataclasses.fields(params_class())}


def register(subparsers) -> None:
    """Add the `drift`, `drift-eval` and `drift-series` subcommands."""
    p = subparsers.add_parser(
        "drift",
        help="sea-ice drift between two Sentinel-1 GeoTIFFs",
        description="Track sea-ice drift from one Sentinel-1 sigma0 GeoTIFF (with GCPs) to a "
        "later one and write the vectors on a regular grid as a netCDF drift product.",
    )
    p.add_argument("img1", help="first image: sigma0 GeoTIFF with GCPs")
    p.add_argument("img2", help="second image")
    p.add_argument(
        "--method", default=DEFAULT_METHOD, choices=DRIFT_METHODS.names(),
        help=method_help().replace("%", "%%"),
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
        "--methods",
        default=",".join(DRIFT_METHODS),
        help=f"comma-separated methods to compare, of {', '.join(DRIFT_METHODS)}",
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
    _register_series(subparsers)


def _register_series(subparsers) -> None:
    """Add the `drift-series` subcommand."""
    p = subparsers.add_parser(
        "drift-series",
        help="sea-ice trajectories through a time series of Sentinel-1 GeoTIFFs",
        description="Follow a grid of ice points through two or more "
        "Sentinel-1 sigma0 GeoTIFFs in time order, each image tracked to the next from where "
        "the previous step left the points, and write the trajectories as a Lagrangian CF "
        "netCDF (trajectory x time: lon, lat, x, y, valid, reason, sigma, sigma_km).",
    )
    p.add_argument("images", nargs="+", metavar="IMG", help="sigma0 GeoTIFFs in time order")
    p.add_argument(
        "--method",
        default=DEFAULT_METHOD,
        choices=DRIFT_METHODS.names(),
        help=f"drift method of every step; {method_help()}".replace("%", "%%"),
    )
    p.add_argument("--out", required=True, help="output netCDF file")
    p.add_argument("--png", default=None, help="also save a trajectory plot here")
    p.add_argument(
        "--pixels", action="store_true",
        help="positions in pixels only (no lon/lat, km): accepts images without GCPs",
    )  # fmt: skip
    _add_track_options(p)
    p.set_defaults(handler=run_drift_series)


def _methods(text: str) -> list[str]:
    methods = [m.strip() for m in text.split(",") if m.strip()]
    bad = [m for m in methods if m not in DRIFT_METHODS]
    if bad or not methods:
        raise KitError(
            f"--methods: unknown {', '.join(bad) or 'empty list'}; "
            f"choose from {', '.join(DRIFT_METHODS)}"
        )
    return methods


def _check_track_options(args, methods: list[str]) -> None:
    """Tracking settings checked before any image is read or made, each error naming its
    option: sizes and counts must be positive, the template odd, the clip percentiles ordered,
    and the pattern-matching windows the methods use must fit in memory."""
    for name in ("grid_step", "search", "refine_search", "superlim_search", "n_features"):
        if getattr(args, name) < 1:
            raise KitError(f"{track_option(name)} {getattr(args, name)}: must be at least 1")
    if args.template < 5 or args.template % 2 == 0:
        raise KitError(f"--template {args.template}: must be an odd number of pixels >= 5")
    if args.widen < 0:
        raise KitError(f"--widen {args.widen}: must be 0 or more")
    if args.workers < 1:
        raise KitError(f"--workers {args.workers}: must be at least 1")
    if args.match_radius <= 0 or args.max_residual <= 0:
        bad = "match_radius" if args.match_radius <= 0 else "max_residual"
        raise KitError(f"{track_option(bad)} {getattr(args, bad)}: must be positive")
    if not args.angles:
        raise KitError("--angles: give at least one template rotation, e.g. 0")
    if len(args.clip) != 2 or not 0 <= args.clip[0] < args.clip[1] <= 100:
        raise KitError(
            f"--clip {','.join(f'{c:g}' for c in args.clip)}: expected two percentiles "
            "low,high with 0 <= low < high <= 100"
        )
    params = make_params(**_track_params(args))
    windows = set()  # each method's pattern-matching searches (registered with it)
    for method in methods:
        searches = DRIFT_METHODS[method].searches
        windows.update(searches(params) if searches else ())
    for search in sorted(windows):
        params.match_params(search).check()


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


def run_drift_series(args) -> int:
    from kit.drift.io import read_s1_geotiff
    from kit.drift.preprocess import to_db
    from kit.drift.trajectories import (
        plot_trajectories,
        track_series,
        trajectory_deformation,
        write_trajectories,
    )

    if len(args.images) < 2:
        raise KitError(f"{args.images[0]}: a series needs at least two images, got only this one")
    _check_track_options(args, [args.method])
    check_output_file(args.out, "--out", make_folder=True)
    if args.png:
        check_output_file(args.png, "--png", make_folder=True)
    scenes = [read_s1_geotiff(path) for path in args.images]
    names = [str(path) for path in args.images]
    no_geo = [name for name, scene in zip(names, scenes) if scene.geo is None]
    if no_geo and not args.pixels:
        raise KitError(
            f"{no_geo[0]}: no geolocation (GCPs); lon/lat and km need it (--pixels: a product "
            "in pixels only)"
        )
    images = [to_db(scene.sigma0) for scene in scenes]
    traj = track_series(
        images,
        method=args.method,
        geos=None if args.pixels else [scene.geo for scene in scenes],
        times=[scene.time for scene in scenes],
        names=names,
        **_track_params(args),
    )
    attrs = {
        "source_images": " ".join(Path(n).name for n in names),
        "time_coverage_start": traj.times[0].isoformat(),
        "time_coverage_end": traj.times[-1].isoformat(),
    }
    starts = np.isfinite(traj.x[:, 0]).sum()
    deformation = trajectory_deformation(traj) if starts >= 3 else None
    write_trajectories(args.out, traj, attrs, deformation)
    kept = traj.kept
    summary = (
        f"{args.out}: {int(kept.sum())} of {kept.size} trajectories kept through "
        f"{len(images)} images ({args.method}, {traj.seconds:.1f} s)"
    )
    km = traj.displacement_km()
    if km is not None and kept.any():
        summary += f"; median displacement {np.median(km[kept]):.2f} km"
    elif kept.any():
        summary += f"; median displacement {np.median(traj.displacement_px()[kept]):.1f} px"
    if deformation is not None and np.isfinite(deformation.divergence).any():
        summary += (
            f"; {len(deformation.triangles)} triangles, median |divergence| "
            f"{np.nanmedian(np.abs(deformation.divergence)):.2g} {deformation.units}"
        )
    print(summary)
    if args.png:
        plot_trajectories(images[0], traj, args.png)
        print(f"{args.png}: trajectory plot")
    return 0
