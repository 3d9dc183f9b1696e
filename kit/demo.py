"""`autoice demo`: the end-to-end demonstration (for now: the demo dataset and its inventory)."""

from __future__ import annotations

import argparse

from kit.data import discover
from kit.data.synthetic import demo_dataset


def register(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser("demo", help="generate the demo dataset and show its inventory")
    demo.add_argument("--quick", action="store_true", help="small set (6+2 scenes of 400x400)")
    demo.add_argument("--root", default=None, help="cache folder (default $AUTOICE_CACHE)")
    demo.set_defaults(handler=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    root = demo_dataset(args.root, quick=args.quick)
    table = discover(root)
    print(f"demo dataset: {root} ({table.layout.iloc[0]} layout)")
    for split, group in table.groupby("split", sort=False):
        services = group.ice_service.value_counts().to_dict()
        print(f"  {split:<5} {len(group):3d} scenes  {services}")
    print(f"  e.g. autoice inspect {table.path.iloc[-1]}")
    return 0
