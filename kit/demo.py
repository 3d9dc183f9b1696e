"""`autoice demo` (`make demo`): the kit's main job end to end on the synthetic demo dataset.

Generate (or reuse) the demo dataset, train the multi-task U-Net of `kit/configs/demo.yaml`
briefly, predict the test scenes into `upload_package.nc`, validate and score it, add it to a
local leaderboard, and print the score table with the paths of the leaderboard page and plots.
Everything goes under `outputs/demo` (or `--out`); about 10 minutes on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import base64
import os
from dataclasses import dataclass
from pathlib import Path

from kit.atomic import write_atomic
from kit.data import discover
from kit.data.synthetic import demo_dataset
from kit.errors import KitError

#: The experiment the demo trains (the models' default demo config).
DEMO_CONFIG = Path(__file__).resolve().parent / "configs" / "demo.yaml"
DEMO_TEAM = "kit-demo"


@dataclass
class DemoResult:
    """Where the demo wrote its products, and the submission's scores (percent)."""

    data_dir: Path
    checkpoint: Path
    submission: Path
    scores: dict[str, float]
    leaderboard_db: Path
    leaderboard_html: Path
    plot: Path


def run_demo(
    out_dir: str | os.PathLike = "outputs/demo",
    quick: bool = False,
    train_minutes: float = 6.0,
    epochs: int | None = None,
    device: str = "auto",
    progress: bool = True,
) -> DemoResult:
    """Run the whole demo; `quick` uses the small dataset (tests), `epochs` caps training."""
    from kit.experiment.config import load_experiment
    from kit.experiment.predict import Predictor
    from kit.experiment.submission import predict_dataset
    from kit.experiment.train import train
    from scoring import Leaderboard, score_submission
    from scoring.leaderboard.export import bar_chart_png, export

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not DEMO_CONFIG.is_file():
        raise KitError(f"{DEMO_CONFIG}: the demo experiment config is missing from the kit")
    data_dir = demo_dataset(quick=quick)
    _say(f"[1/5] data: {data_dir} ({len(discover(data_dir))} scenes)")

    config = load_experiment(DEMO_CONFIG)
    changes = {"data_dir": str(data_dir), "out_dir": str(out_dir / "run"), "device": device,
               "time_budget_s": train_minutes * 60}  # fmt: skip
    if epochs is not None:
        changes["epochs"] = epochs
    config = config.replace("train", **changes)
    _say(f"[2/5] training {config.model.type} ({DEMO_CONFIG.name}, <= {train_minutes:g} min)")
    result = train(config, overwrite=True, device=device, progress=progress)

    _say("[3/5] predicting the test scenes")
    predictor = Predictor.from_checkpoints([result.best_checkpoint], device=device)
    submission = predict_dataset(
        predictor, data_dir, out_dir / "upload_package.nc", png_dir=out_dir / "panels",
        progress=progress,
    )  # fmt: skip

    _say("[4/5] validating and scoring the submission")
    report = score_submission(submission, data_dir)
    print(report.table())

    _say("[5/5] adding it to the local leaderboard")
    db = out_dir / "leaderboard.sqlite"
    board = Leaderboard(db)
    entry = board.submit(submission, DEMO_TEAM, data_dir)
    standings = board.standings("public")
    html_path = write_atomic(out_dir / "leaderboard.html", export(standings, "html", "public"))
    plot_path = out_dir / "leaderboard_scores.png"
    write_atomic(plot_path, base64.b64decode(bar_chart_png(standings, "public")))
    print(export(standings, "md", "public"), end="")
    print(f"submission {entry.submission_id}: {entry.status}")
    for label, path in [("submission", submission), ("leaderboard", db),
                        ("leaderboard page", html_path), ("leaderboard plot", plot_path),
                        ("scene panels", out_dir / "panels")]:  # fmt: skip
        print(f"{label:>17}: {path}")
    scores = {**report.charts, "combined": report.combined}
    return DemoResult(data_dir, result.best_checkpoint, submission, scores, db, html_path,
                      plot_path)  # fmt: skip


def _say(message: str) -> None:
    print(message, flush=True)


def register(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser(
        "demo",
        help="end to end: data, training, submission, scoring, leaderboard",
        description="Run the main job end to end: generate the synthetic demo dataset (cached), "
        "train the multi-task U-Net of kit/configs/demo.yaml for a few minutes, predict the test "
        "scenes into OUT/upload_package.nc, validate and score it, add it to the leaderboard "
        "OUT/leaderboard.sqlite and write its HTML page and plots.",
    )
    demo.add_argument("--out", default="outputs/demo", help="output folder")
    demo.add_argument("--quick", action="store_true", help="small set (6+2 scenes of 400x400)")
    demo.add_argument("--minutes", type=float, default=6.0, help="training time budget (minutes)")
    demo.add_argument(
        "--epochs", type=int, default=None,
        help="cap the training epochs (default: no cap; the time budget ends training)",
    )  # fmt: skip
    demo.add_argument(
        "--device", default="auto", choices=("auto", "cpu", "cuda"),
        help="where to train and predict; auto: CUDA when available",
    )  # fmt: skip
    demo.set_defaults(handler=_run_demo_command)


def _run_demo_command(args: argparse.Namespace) -> int:
    if args.minutes <= 0:
        raise KitError(f"--minutes {args.minutes}: must be positive")
    run_demo(args.out, quick=args.quick, train_minutes=args.minutes, epochs=args.epochs,
             device=args.device)  # fmt: skip
    return 0
