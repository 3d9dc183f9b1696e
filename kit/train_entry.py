"""`python -m kit.train_entry CONFIG.yaml`, and on several GPUs or nodes
`torchrun --nproc_per_node N -m kit.train_entry CONFIG.yaml`: the options of `autoice train`.

The training itself is `kit.experiment.train`; this entry point only parses, runs and leaves
the process group.
"""

from __future__ import annotations

import argparse
import sys

from kit.cli import HelpFormatter, run_handler
from kit.experiment.cli import add_train_arguments, run_train
from kit.experiment.distributed import end_process_group


def main(argv: list[str] | None = None) -> int:
    """Train as `autoice train` would; bad input exits with status 2 and one line."""
    parser = argparse.ArgumentParser(
        prog="python -m kit.train_entry", description=__doc__.split("\n")[0],
        formatter_class=HelpFormatter,
    )  # fmt: skip
    add_train_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run_handler("kit.train_entry", run_train, args)
    finally:
        end_process_group()


if __name__ == "__main__":
    sys.exit(main())
