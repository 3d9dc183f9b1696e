"""`autoice synth`, `autoice manifest build|check` and `autoice inspect` subcommands."""

from __future__ import annotations

import argparse

from kit import charts
from kit.errors import KitError
from kit.textio import read_text


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the data subcommands to the `autoice` parser."""
    synth = subparsers.add_parser(
        "synth",
        help="generate a synthetic AutoICE dataset (TorchGeo layout)",
        description="Write a synthetic AutoICE dataset in the real files' format and the "
        "TorchGeo layout (train/, test/, metadata.csv): polygon charts, SAR, AMSR2 and ERA5. "
        "The same seed gives the same bytes.",
    )
    synth.add_argument("--out", required=True, help="output folder")
    synth.add_argument("--train", type=int, default=24, help="training scenes")
    synth.add_argument("--test", type=int, default=20, help="test scenes")
    synth.add_argument(
        "--size", type=int, nargs=2, default=(1000, 1000), metavar=("H", "W"),
        help="SAR grid lines and samples (80 m pixels)",
    )  # fmt: skip
    synth.add_argument("--seed", type=int, default=0, help="random seed")
    synth.add_argument(
        "--convention", default="standard", choices=(*charts.INPUT_SCALINGS, "raw"),
        help="how inputs are written: standard (ready-to-train z-scores, 0 = no data), "
        "minmax ([-1, 1], 2 = no data), physical (dB/K, NaN) or raw (the raw-release layout)",
    )  # fmt: skip
    synth.add_argument(
        "--raw", action="store_true", help="also write raw-release copies (40 m, polygon charts)"
    )
    synth.add_argument(
        "--workers", type=int, default=None, help="processes (default: one per CPU core)"
    )
    synth.set_defaults(handler=run_synth)
    register_manifest(subparsers)
    register_inspect(subparsers)


def run_synth(args: argparse.Namespace) -> int:
    from kit.data.synthetic import SynthConfig, write_dataset

    if args.workers is not None and args.workers < 1:
        raise KitError(f"--workers {args.workers}: must be at least 1")
    config = SynthConfig(
        args.train, args.test, tuple(args.size), args.seed, args.raw, args.convention
    )
    table = write_dataset(args.out, config, workers=args.workers)
    counts = table.split.value_counts().to_dict()
    print(
        f"wrote {len(table)} scenes to {args.out} (train {counts.get('train', 0)}, "
        f"test {counts.get('test', 0)}, {args.size[0]}x{args.size[1]}, seed {args.seed}, "
        f"{args.convention} convention)"
    )
    return 0


def register_manifest(subparsers: argparse._SubParsersAction) -> None:
    manifest = subparsers.add_parser(
        "manifest",
        help="build or check the real-data manifest",
        description="The manifest (data_manifest.csv) lists the real AI4Arctic scenes with "
        "their split, ice service, times and class counts. `build` makes it from the challenge "
        "lists; `check` compares a dataset folder with it.",
    )
    actions = manifest.add_subparsers(dest="action", metavar="ACTION", required=True)
    build = actions.add_parser(
        "build",
        help="build data_manifest.csv from the ai4arctic lists",
        description="Build the manifest from an ai4arctic folder's dataset.json, testset.json "
        "and scene_prep_bins/ class counts.",
    )
    build.add_argument(
        "--source", default=None,
        help="ai4arctic folder (default: ai4arctic in the shared data folder)",
    )  # fmt: skip
    build.add_argument(
        "--out", default=None, help="output CSV (default: the repository's data_manifest.csv)"
    )
    build.set_defaults(handler=run_manifest_build)
    check = actions.add_parser(
        "check",
        help="which manifest scenes a data folder holds",
        description="List the manifest scenes a dataset folder holds, lacks, has beyond the "
        "manifest, or has in the wrong split.",
    )
    check.add_argument("data_root", help="dataset folder (DTU or TorchGeo layout)")
    check.add_argument("--manifest", default=None, help="manifest CSV (default: the repository's)")
    check.set_defaults(handler=run_manifest_check)


def run_manifest_build(args: argparse.Namespace) -> int:
    from kit.data import manifest

    source = args.source or manifest.default_source()
    table = manifest.build_manifest(source)
    path = manifest.write_manifest(table, args.out or manifest.default_manifest_path())
    counts = table.split.value_counts().to_dict()
    noted = int((table.notes != "").sum())
    print(f"wrote {path}: {len(table)} rows {counts}, {noted} with notes")
    return 0


def run_manifest_check(args: argparse.Namespace) -> int:
    from kit.data import manifest

    try:
        table = manifest.load_manifest(args.manifest)
    except UnicodeDecodeError:
        read_text(args.manifest or manifest.default_manifest_path())  # names file and offset
        raise
    report = manifest.check_data(args.data_root, table)
    listed = int(table.split.isin(manifest.SPLIT_LISTS).sum())
    print(f"{args.data_root} ({report['layout'][0]} layout) against {listed} manifest scenes:")
    for key in ("present", "missing", "unexpected", "wrong_split"):
        ids = report[key]
        shown = ", ".join(ids[:5]) + (" ..." if len(ids) > 5 else "")
        print(f"  {key:<11} {len(ids):4d}  {shown}")
    return 0


def register_inspect(subparsers: argparse._SubParsersAction) -> None:
    inspect = subparsers.add_parser(
        "inspect",
        help="one-screen summary of a scene file",
        description="Print a one-screen summary of a scene file: its attributes and "
        "dimensions, the input convention it uses, and each variable's shape, valid share, "
        "mean and spread in the units the file holds (z-scores, [-1, 1] or physical).",
    )
    inspect.add_argument("scene", help="a *_prep.nc, *_prep_reference.nc or raw-release scene file")
    inspect.add_argument(
        "--input-scaling", default="auto", choices=("auto", *charts.INPUT_SCALINGS),
        help="how the file encodes its inputs; auto decides from the file",
    )  # fmt: skip
    inspect.set_defaults(handler=run_inspect)


def run_inspect(args: argparse.Namespace) -> int:
    from kit.data.inspect import summarise_scene

    print(summarise_scene(args.scene, args.input_scaling))
    return 0
