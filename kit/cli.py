"""`autoice` command line: one parser, subcommands registered by the modules that implement them.

Each feature module exposes `register(subparsers)`; its handlers raise `KitError` (or another
`ValueError` / `OSError`) for bad input, which is printed as one line with exit status 2.
Set AUTOICE_DEBUG=1 to see the traceback instead. Every parser formats its help with
`HelpFormatter`: an option's default is shown after its help unless the help says it already.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import os
import sys
from collections.abc import Callable

from kit.errors import one_line

#: Subcommand -> the module that implements it (its `register(subparsers)` adds the parser).
#: Only the module of the command being run is imported, so `autoice score` never loads torch
#: and every command starts fast; `autoice --help` imports them all.
COMMANDS: dict[str, str] = {
    "synth": "kit.data.cli",
    "manifest": "kit.data.cli",
    "inspect": "kit.data.cli",
    "train": "kit.experiment.cli",
    "predict": "kit.experiment.cli",
    "calibrate": "kit.experiment.cli",  # issue 24
    "score": "scoring.cli",
    "leaderboard": "scoring.cli",
    "compare": "scoring.cli",
    "drift": "kit.drift.cli",
    "drift-eval": "kit.drift.cli",
    "drift-series": "kit.drift.cli",
    "batch": "kit.batch",
    "demo": "kit.demo",
}


#: The distribution whose metadata gives `autoice --version`.
DISTRIBUTION = "autoice-kit"


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Appends `(default: X)` to an option's help, unless the help already names its default
    or there is none to show (None, or the off state of a flag)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if "default" in text or default is None or isinstance(default, bool):
            return text
        if default == argparse.SUPPRESS or not (action.option_strings or action.nargs == "?"):
            return text
        shown = " ".join(map(str, default)) if isinstance(default, (list, tuple)) else default
        return f"{text} (default: {str(shown).replace('%', '%%')})"


class Parser(argparse.ArgumentParser):
    """An `ArgumentParser` using `HelpFormatter`; its subcommand parsers are `Parser`s too."""

    def __init__(self, *args, formatter_class: type = HelpFormatter, **kwargs) -> None:
        super().__init__(*args, formatter_class=formatter_class, **kwargs)


def version() -> str:
    """The installed kit's version, from the package metadata."""
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed; run `make install`)"


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The `autoice` parser; with `command`, only that command's module is imported
    (none for `--version`)."""
    parser = Parser(
        prog="autoice",
        description="AutoICE Kit: sea-ice charting data, models and scoring. "
        "`autoice COMMAND --help` describes a command and its options.",
    )
    parser.add_argument(
        "--version", action="version", version=f"autoice {version()}",
        help="print the installed version and exit",
    )  # fmt: skip
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    if command == "--version":
        return parser
    modules = [COMMANDS[command]] if command in COMMANDS else COMMANDS.values()
    for name in dict.fromkeys(modules):
        importlib.import_module(name).register(sub)
    return parser


def run_handler(prog: str, handler: Callable[[argparse.Namespace], int | None], args) -> int:
    """Run a command's handler; bad input (`ValueError`, `OSError`: KitError, ScoringError,
    missing files ...) becomes one line on stderr and exit status 2, Ctrl-C status 130."""
    try:
        return int(handler(args) or 0)
    except (ValueError, OSError) as exc:
        if os.environ.get("AUTOICE_DEBUG"):
            raise
        print(f"{prog}: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


def main(argv: list[str] | None = None) -> int:
    """`autoice ARGS`: parse, run the command's handler, return the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv[0] if argv else None)
    args = parser.parse_args(argv)
    return run_handler(f"autoice {args.command}", args.handler, args)


if __name__ == "__main__":
    sys.exit(main())
