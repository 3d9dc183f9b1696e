"""`autoice` command line: one parser, subcommands registered by the modules that implement them.

Each feature module exposes `register(subparsers)`; its handlers raise `KitError` (or another
`ValueError` / `OSError`) for bad input, which is printed as one line with exit status 2.
Set AUTOICE_DEBUG=1 to see the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

#: Modules that add subcommands; each has `register(subparsers) -> None`.
COMMAND_MODULES: tuple[str, ...] = (
    "kit.data.cli",
    "kit.train",
    "kit.infer",
    "scoring.cli",
    "kit.drift.cli",
    "kit.batch",
    "kit.demo",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="autoice", description="AutoICE Kit: sea-ice charting data, models and scoring."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.handler(args)
    except (ValueError, OSError) as exc:  # KitError, ScoringError, missing files ...
        if os.environ.get("AUTOICE_DEBUG"):
            raise
        print(f"autoice {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"autoice {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
