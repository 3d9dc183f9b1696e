"""SuperLIM checkpoints: saving and loading, and the packaged weights (`DEFAULT_WEIGHTS`,
`weights/superlim.pt` beside this module).

A checkpoint holds only tensors and plain data, and loading runs no code from the file
(`kit.safeload`).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from kit.atomic import atomic_path
from kit.device import resolve_device
from kit.drift.superlim.model import SuperLIM
from kit.errors import KitError, reason
from kit.safeload import check_plain, load_plain, load_weights, require_keys

if TYPE_CHECKING:  # an annotation only: loading the weights needs none of the training code
    from kit.drift.superlim.train import SuperLIMTrainConfig

DEFAULT_WEIGHTS = Path(__file__).with_name("weights") / "superlim.pt"


def save_superlim(
    model: SuperLIM, path, cfg: SuperLIMTrainConfig | None = None, half: bool = True
) -> None:
    """Save a SuperLIM checkpoint atomically (creating its folder).

    Parameters
    ----------
    model : SuperLIM
        The network; its config is stored beside the weights.
    path : str or os.PathLike
        The checkpoint file.
    cfg : SuperLIMTrainConfig, optional
        Training settings to record in the checkpoint.
    half : bool, default True
        Store floating-point weights as float16, to stay small.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        k: (v.half() if half and v.is_floating_point() else v).cpu()
        for k, v in model.state_dict().items()
    }
    payload = {"config": model.config, "state_dict": state, "train": asdict(cfg) if cfg else None}
    check_plain(payload)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_superlim(path=None, device: str | None = None) -> SuperLIM:
    """Load a checkpoint saved by `save_superlim` (default: the committed weights), running no
    code from the file: it holds only tensors and plain data (`kit.safeload`)."""
    path = Path(path) if path else DEFAULT_WEIGHTS
    if not path.is_file():
        raise KitError(
            f"{path}: no SuperLIM checkpoint; train one with `python -m kit.drift.superlim --out {path}`"
        )
    payload = load_plain(path, "SuperLIM checkpoint")
    require_keys(payload, ("config", "state_dict"), path, "SuperLIM checkpoint")
    config, weights = payload["config"], payload["state_dict"]
    try:
        model = SuperLIM(
            tuple(config["channels"]),
            tuple(config["convs"]),
            config["head"],
            config["descriptor_dim"],
        )
        weights = {k: v.float() if v.is_floating_point() else v for k, v in weights.items()}
    except (KeyError, TypeError, ValueError, AttributeError, RuntimeError) as exc:
        raise KitError(f"{path}: not a SuperLIM checkpoint ({reason(exc)})") from None
    load_weights(model, weights, path, "weights do not fit the stored SuperLIM config")
    return model.to(resolve_device(device)).eval()
