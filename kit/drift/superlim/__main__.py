"""Train a SuperLIM checkpoint: `python -m kit.drift.superlim --help`.

The defaults made the packaged weights (`kit/drift/superlim/weights/superlim.pt`; see the
user guide, docs/guide/drift.md).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict

import numpy as np
import torch

from kit.drift.superlim.checkpoint import DEFAULT_WEIGHTS, save_superlim
from kit.drift.superlim.train import SuperLIMTrainConfig, train_superlim, training_sources


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kit.drift.superlim",
        description="Train a SuperLIM checkpoint (self-supervised).",
    )
    parser.add_argument("--out", default=str(DEFAULT_WEIGHTS), help="checkpoint path")
    parser.add_argument(
        "--images", nargs="*", help="GeoTIFFs to train on (default: shared S1 images)"
    )
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for torch")
    for name, value in asdict(SuperLIMTrainConfig()).items():
        if name != "device":
            parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    parser.add_argument("--device", default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg = SuperLIMTrainConfig(**{k: getattr(args, k) for k in asdict(SuperLIMTrainConfig())})
    start = time.perf_counter()
    model, history = train_superlim(cfg, training_sources(args.images, seed=cfg.seed))
    save_superlim(model, args.out, cfg)
    last = history[-20:]
    acc = np.mean([h["match_accuracy"] for h in last])
    print(
        f"saved {args.out} after {cfg.steps} steps in {time.perf_counter() - start:.0f} s; final cell match accuracy {acc:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
