"""`autoice synth`, `autoice manifest build|check` and `autoice inspect` subcommands."""

from __future__ import annotations

import argparse

from kit.errors import KitError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the data subcommands to the `autoice` parser."""
    synth = subparsers.add_parser(
        "synth", help="generate a synthetic AutoICE dataset (TorchGeo layout)"
    )
    synth.add_argument("--out", required=True, help="output folder")
    synth.add_argument("--train", type=int, default=24, help="training scenes (default 24)")
    synth.add_argument("--test", type=int, default=6, help="test scenes (default 6)")
    synth.add_argument(
        "--size", type=int, nargs=2, default=(1000, 1000), metavar=("H", "W"),
        help="SAR grid lines and samples (default 1000 1000)",
    )  # fmt: skip
    synth.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    synth.add_argument("--raw", action="store_true", help="also write raw-format polygon charts")
    synth.add_argument("--workers", type=int, default=None, help="processes (default: CPUs)")
    synth.set_defaults(handler=run_synth)


def run_synth(args: argparse.Namespace) -> int:
    from kit.data.synthetic import SynthConfig, write_dataset

    if args.workers is not None and args.workers < 1:
        raise KitError(f"--workers {args.workers}: must be at least 1")
    config = SynthConfig(args.train, args.test, tuple(args.size), args.seed, args.raw)
    table = write_dataset(args.out, config, workers=args.workers)
    counts = table.split.value_counts().to_dict()
    print(
        f"wrote {len(table)} scenes to {args.out} (train {counts.get('train', 0)}, "
        f"test {counts.get('test', 0)}, {args.size[0]}x{args.size[1]}, seed {args.seed})"
    )
    return 0
