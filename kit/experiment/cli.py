"""The `autoice train` and `autoice predict` commands (registered by `kit.cli`).

    autoice train demo
    autoice train --list                         # the packaged recipes, a line each
    autoice train --models                       # the registered model types, a line each
    autoice train mmseaice --data /path/to/ai4arctic
    autoice predict --checkpoint runs/demo/best.pt --data data/demo/test --out upload_package.nc
    autoice predict ... --uncertainty uncertainty.nc [--probabilities probabilities.nc]
    autoice calibrate --checkpoint runs/demo/best.pt --data data/demo [--output calibrated.pt]

`python -m kit.train_entry` and torchrun use the same options (see `kit.train_entry`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from kit.atomic import check_output_file
from kit.data.selection import DEMO_DATA
from kit.device import DEVICE_CHOICES
from kit.errors import KitError
from kit.experiment.calibration import MAX_PIXELS, calibrate_checkpoint, format_calibration
from kit.experiment.config import (
    TILE_OVERLAP,
    TILE_SIZE,
    check_tiles,
    load_experiment,
    packaged_recipes,
)
from kit.experiment.distributed import is_main_process
from kit.experiment.predict import Predictor
from kit.experiment.submission import predict_dataset
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
    # ---- uncertainty (issue 24)
    parser.add_argument("--uncertainty", metavar="FILE",
                        help="also write the confidence of each written class and the SIC 90 %% "
                        "interval per pixel into this file")  # fmt: skip
    parser.add_argument("--probabilities", metavar="FILE",
                        help="also write every class's probability (percent) into this file")  # fmt: skip
    parser.add_argument("--no-calibration", action="store_true",
                        help="ignore the calibration stored in the checkpoint")  # fmt: skip
    # ---- end uncertainty


def run_predict(args: argparse.Namespace) -> int:
    """Predict as the parsed options say; paths and tiles are checked before any work."""
    check_tiles(args.tile_size, args.tile_overlap, "--tile-size", "--tile-overlap")
    check_output_file(args.out, "--out")
    for setting in ("uncertainty", "probabilities"):
        if getattr(args, setting) is not None:
            check_output_file(getattr(args, setting), f"--{setting}")
    if args.png is not None and Path(args.png).exists() and not Path(args.png).is_dir():
        raise KitError(f"--png {args.png}: is a file; give a folder for the panels")
    predictor = Predictor.from_checkpoints(
        args.checkpoint,
        cache_dir=args.cache_dir,
        device=args.device,
        tta=args.tta,
        tile_size=args.tile_size,
        tile_overlap=args.tile_overlap,
        # the class maps never depend on it: only an uncertainty file reads it (and warns)
        calibration=bool(args.uncertainty or args.probabilities) and not args.no_calibration,
    )
    out = predict_dataset(predictor, args.data, args.out, args.png,
                          uncertainty=args.uncertainty, probabilities=args.probabilities)  # fmt: skip
    written = [str(out), *(p for p in (args.uncertainty, args.probabilities) if p)]
    print(f"wrote {', '.join(written)}")
    return 0


# -------------------------------------------------------------------- autoice calibrate (issue 24)


def add_calibrate_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `autoice calibrate`."""
    parser.add_argument("--checkpoint", required=True, metavar="CKPT",
                        help="trained checkpoint to calibrate")  # fmt: skip
    parser.add_argument("--data", required=True,
                        help="its dataset folder; the validation scenes its training drew are "
                        "used (never a test folder)")  # fmt: skip
    parser.add_argument("--scenes", nargs="+", metavar="ID",
                        help="calibrate on these training-split scene ids instead")  # fmt: skip
    parser.add_argument("--output", metavar="CKPT2",
                        help="write the calibrated checkpoint here (default: over CKPT)")  # fmt: skip
    parser.add_argument("--tta", action="store_true",
                        help="calibrate the 8-view average (for predict --tta)")  # fmt: skip
    parser.add_argument("--pixels", type=int, default=MAX_PIXELS,
                        help="labelled pixels drawn per scene and chart")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="seed of the pixel draw")
    parser.add_argument("--device", choices=DEVICE_CHOICES, default="auto",
                        help="where to predict; auto: CUDA when available")  # fmt: skip
    parser.add_argument("--cache-dir", help="scene cache folder (default: the checkpoint's)")


def run_calibrate(args: argparse.Namespace) -> int:
    """Calibrate as the parsed options say; prints the NLL and ECE before and after."""
    if not Path(args.checkpoint).is_file():
        raise KitError(f"--checkpoint {args.checkpoint}: no such file")
    if args.pixels < 1:
        raise KitError(f"--pixels {args.pixels}: must be >= 1")
    if args.output is not None:
        check_output_file(args.output, "--output")
    path, calibration = calibrate_checkpoint(
        args.checkpoint, args.data, scenes=args.scenes, output=args.output,
        max_pixels=args.pixels, seed=args.seed, device=args.device, tta=args.tta,
        cache_dir=args.cache_dir,
    )  # fmt: skip
    print(format_calibration(calibration))
    print(f"calibrated on {len(calibration.scenes)} validation scene(s); wrote {path}")
    return 0


# -------------------------------------------------------------------- registration


def register(subparsers) -> None:
    """Add `train`, `predict` and `calibrate` to the `autoice` parser."""
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
    # ---- autoice calibrate (issue 24)
    parser = subparsers.add_parser(
        "calibrate",
        help="fit a checkpoint's probability calibration on its validation scenes",
        description="Fit temperatures (classification heads) and a SIC standard-deviation "
        "factor by minimising the NLL on validation scenes, and store them in the checkpoint.",
    )
    add_calibrate_arguments(parser)
    parser.set_defaults(handler=run_calibrate)
    # ---- end autoice calibrate
