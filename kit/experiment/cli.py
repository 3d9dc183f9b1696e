"""The `autoice train` and `autoice predict` commands (registered by `kit.cli`).

    autoice train demo
    autoice train --list                         # the packaged recipes, a line each
    autoice train --models                       # the registered model types, a line each
    autoice train mmseaice --data /path/to/ai4arctic
    autoice predict --checkpoint runs/demo/best.pt --data data/demo/test --out upload_package.nc

`python -m kit.train_entry` and torchrun use the same options (see `kit.train_entry`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from kit.atomic import check_output_file
from kit.data.selection import DEMO_DATA
from kit.device import DEVICE_CHOICES
from kit.errors import KitError
from kit.experiment.config import (
    TILE_OVERLAP,
    TILE_SIZE,
    check_tiles,
    load_experiment,
    packaged_recipes,
)
from kit.experiment.distributed import is_main_process
from kit.experiment.predict import Predictor, predict_dataset
from kit.experiment.train import train
from kit.models.registry import MODEL_TYPES

# -------------------------------------------------------------------- autoice train


class ListRecipes(argparse.Action):
    """`--list`: print each packaged config (recipe) with its one-line description and exit,
    before the required CONFIG is asked for (as `--help` does)."""

    def __init__(self, option_strings, dest, **kwargs) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        print(format_recipes(packaged_recipes()))
        parser.exit()


class ListModels(argparse.Action):
    """`--models`: print each registered model type (``model.type``) with its description and
    exit, read from the registry (`kit.models.registry`)."""

    def __init__(self, option_strings, dest, **kwargs) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        print(format_recipes({name: entry.description for name, entry in MODEL_TYPES.items()}))
        parser.exit()


def format_recipes(recipes: dict[str, str]) -> str:
    """One line per recipe: its name, padded, and its description.

    Examples
    --------
    >>> print(format_recipes({"demo": "A demo.", "mmseaice": "MMSeaIce's best model."}))
    demo      A demo.
    mmseaice  MMSeaIce's best model.
    """
    width = max(map(len, recipes), default=0)
    return "\n".join(f"{name:<{width}}  {text}".rstrip() for name, text in recipes.items())


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `autoice train` and `python -m kit.train_entry`."""
    parser.add_argument(
        "config",
        help="experiment YAML (sections data, model, loss, train), or the name of a packaged "
        "recipe (see --list)",
    )
    parser.add_argument("--list", action=ListRecipes,
                        help="list the packaged recipes with a line each and exit")  # fmt: skip
    parser.add_argument("--models", action=ListModels,
                        help="list the model types model.type may name and exit")  # fmt: skip
    parser.add_argument("--resume", action="store_true", help="continue from OUT_DIR/last.pt")
    parser.add_argument("--overwrite", action="store_true", help="start afresh over a previous run")
    parser.add_argument("--device", choices=DEVICE_CHOICES,
                        help="override train.device (default: the config's)")  # fmt: skip
    parser.add_argument("--data", help="override train.data_dir (default: the config's)")
    parser.add_argument("--out", help="override train.out_dir (default: the config's)")


def run_train(args: argparse.Namespace) -> int:
    """Train as the parsed options say; process 0 prints a one-line summary."""
    config = load_experiment(args.config)
    changes = {k: v for k, v in (("data_dir", args.data), ("out_dir", args.out)) if v}
    if changes:
        config = config.replace("train", **changes)
    data_dir = config.train.data_dir
    if data_dir not in DEMO_DATA and not Path(data_dir).is_dir():
        if args.data:
            raise KitError(f"--data {data_dir}: no such data folder")
        raise KitError(
            f"{args.config}: train.data_dir {data_dir}: no such data folder; "
            "give the dataset folder with --data DIR"
        )
    result = train(config, resume=args.resume, overwrite=args.overwrite, device=args.device)
    if is_main_process():
        best = f"{result.best_score:.2f}" if result.best_score is not None else "n/a"
        print(f"trained {result.epochs_run} epoch(s); best combined score {best}; {result.out_dir}")
    return 0


# -------------------------------------------------------------------- autoice predict


def add_predict_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `autoice predict`."""
    parser.add_argument("--checkpoint", action="append", required=True, metavar="CKPT",
                        help="trained checkpoint; repeat for an ensemble")  # fmt: skip
    parser.add_argument("--data", required=True, help="dataset folder with the scenes to predict")
    parser.add_argument("--out", default="upload_package.nc", help="submission file to write")
    parser.add_argument("--png", metavar="DIR", help="also save a PNG panel per scene here")
    parser.add_argument("--tta", action="store_true", help="average the 8 dihedral transforms")
    parser.add_argument("--device", choices=DEVICE_CHOICES, default="auto",
                        help="where to predict; auto: CUDA when available")  # fmt: skip
    parser.add_argument("--tile-size", type=int, default=TILE_SIZE,
                        help="side of the tiles a scene is predicted in (working-grid px)")  # fmt: skip
    parser.add_argument("--tile-overlap", type=int, default=TILE_OVERLAP,
                        help="overlap of neighbouring tiles (working-grid px), less than half "
                        "of --tile-size")  # fmt: skip
    parser.add_argument("--cache-dir", help="scene cache folder (default: the checkpoint's)")


def run_predict(args: argparse.Namespace) -> int:
    """Predict as the parsed options say; paths and tiles are checked before any work."""
    check_tiles(args.tile_size, args.tile_overlap, "--tile-size", "--tile-overlap")
    check_output_file(args.out, "--out")
    if args.png is not None and Path(args.png).exists() and not Path(args.png).is_dir():
        raise KitError(f"--png {args.png}: is a file; give a folder for the panels")
    predictor = Predictor.from_checkpoints(
        args.checkpoint,
        cache_dir=args.cache_dir,
        device=args.device,
        tta=args.tta,
        tile_size=args.tile_size,
        tile_overlap=args.tile_overlap,
    )
    out = predict_dataset(predictor, args.data, args.out, args.png)
    print(f"wrote {out}")
    return 0


# -------------------------------------------------------------------- registration


def register(subparsers) -> None:
    """Add `train` and `predict` to the `autoice` parser."""
    parser = subparsers.add_parser(
        "train",
        help="train a model from an experiment config",
        description="Train a chart model. Several processes: torchrun --nproc_per_node N "
        "-m kit.train_entry CONFIG.",
    )
    add_train_arguments(parser)
    parser.set_defaults(handler=run_train)
    parser = subparsers.add_parser(
        "predict",
        help="predict test scenes with trained checkpoints and write a submission file",
        description="Predict every scene of a dataset folder (its test split, if any) and write "
        "an AutoICE submission (upload_package.nc).",
    )
    add_predict_arguments(parser)
    parser.set_defaults(handler=run_predict)
