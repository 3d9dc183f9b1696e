"""Torch files the kit reads or writes hold only tensors and plain data, so loading runs no code.

`torch.load(weights_only=True)` rebuilds tensors, dict/OrderedDict/list/tuple and
str/int/float/bool/None and refuses every other pickled global (a class, or a function such as
`os.system` that a crafted file would call). The kit's writers check that what they save is of
those types (`check_plain`); the readers rebuild configs and models from that plain data.
Every failure is one `KitError` line naming the file: an unreadable file, a refused global,
missing keys, or weights that do not fit the model.
"""

from __future__ import annotations

import os
import re
import warnings
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from kit.errors import KitError, reason

#: Leaf types a kit torch file may hold, besides tensors (and dict, list, tuple containers).
PLAIN_LEAVES = (str, int, float, bool, type(None))
#: How many differing keys a one-line weights mismatch lists.
SHOWN_KEYS = 3


def check_plain(value: Any, where: str = "") -> None:
    """Raise TypeError naming the first value (by key path) that `weights_only` would refuse.

    A programming error, not bad input: it stops the kit writing a file it could not reload.
    """
    if isinstance(value, torch.Tensor) or type(value) in PLAIN_LEAVES:
        return
    if type(value) in (dict, OrderedDict):
        for key, item in value.items():
            check_plain(key, f"{where}/{key!r} (key)")
            check_plain(item, f"{where}/{key}")
    elif type(value) in (list, tuple):
        for index, item in enumerate(value):
            check_plain(item, f"{where}[{index}]")
    else:
        raise TypeError(f"{where or 'value'}: {type(value).__name__} is not plain data")


def load_plain(path: str | os.PathLike, what: str) -> Any:
    """`torch.load(weights_only=True)` on the CPU; one KitError line if it is missing or refused."""
    path = Path(path)
    if not path.is_file():
        raise KitError(f"{path}: no such {what}")
    try:
        with warnings.catch_warnings():  # torch warns of pickle protocols it may not support
            warnings.filterwarnings("ignore", "Detected pickle protocol", UserWarning)
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle, zip and torch errors, a refused global
        raise KitError(f"{path}: {_load_failure(path, exc, what)}") from None


def _load_failure(path: Path, exc: Exception, what: str) -> str:
    """The reason a load failed, in a few words (torch's own messages span many lines)."""
    text = str(exc)
    refused = re.search(r"GLOBAL ([\w.]+)", text)
    if refused:
        return (
            f"refused to load {_full_name(path) or refused[1]}: a {what} may hold only tensors "
            "and plain data, and loading other objects could run code"
        )
    detail = re.search(r"WeightsUnpickler error: \s*(.+)", text)
    if detail:
        return f"not a readable {what} (holds more than tensors and plain data: {detail[1]})"
    return f"not a readable {what} ({reason(exc)})"


def _full_name(path: Path) -> str | None:
    """`module.name` of the first global torch refuses in a zip checkpoint (torch >= 2.5)."""
    scan = getattr(torch.serialization, "get_unsafe_globals_in_checkpoint", None)
    try:
        return next(iter(scan(path)), None) if scan else None
    except Exception:  # not a zip checkpoint: torch's message has the name
        return None


def require_keys(state: Any, keys: Iterable[str], path: str | os.PathLike, what: str) -> None:
    """One KitError line naming the file and every key of `keys` that `state` lacks."""
    if not isinstance(state, Mapping):
        raise KitError(f"{path}: not a {what} (holds a {type(state).__name__}, not a dict)")
    missing = [k for k in keys if k not in state]
    if missing:
        raise KitError(f"{path}: {what} lacks {', '.join(missing)}")


def load_weights(module: nn.Module, weights: Any, path: str | os.PathLike, problem: str) -> None:
    """`module.load_state_dict(weights)`, or one KitError line `path: problem (first differences)`."""
    mismatch = weights_mismatch(module, weights)
    if mismatch is None:
        try:
            module.load_state_dict(weights)
            return
        except Exception as exc:  # e.g. a module's own state check
            mismatch = reason(exc)
    raise KitError(f"{path}: {problem} ({mismatch})")


def weights_mismatch(module: nn.Module, weights: Any) -> str | None:
    """The first missing, unexpected and differently shaped keys, or None if `weights` fit."""
    if not isinstance(weights, Mapping):
        return f"weights are a {type(weights).__name__}, not a dict of tensors"
    expected = module.state_dict()
    wrong_type = [k for k, v in weights.items() if not isinstance(v, torch.Tensor)]
    shapes = [
        f"{k} {list(weights[k].shape)} vs {list(v.shape)}"
        for k, v in expected.items()
        if isinstance(weights.get(k), torch.Tensor) and weights[k].shape != v.shape
    ]
    parts = [
        _listed("missing", [k for k in expected if k not in weights]),
        _listed("unexpected", [str(k) for k in weights if k not in expected]),
        _listed("not tensors", [str(k) for k in wrong_type]),
        _listed("shape file vs model", shapes),
    ]
    found = [p for p in parts if p]
    return "; ".join(found) if found else None


def _listed(label: str, items: list[str]) -> str:
    if not items:
        return ""
    more = f" (+{len(items) - SHOWN_KEYS} more)" if len(items) > SHOWN_KEYS else ""
    return f"{label} {', '.join(items[:SHOWN_KEYS])}{more}"
