"""The one strict configuration checker: YAML files and mappings into config dataclasses.

`config_from_dict` builds any (nested) dataclass from a mapping such as a parsed YAML file and
rejects unknown keys and bad values with a `KitError` that names the key and the allowed ones.
Data, model, loss, training, drift and batch settings all go through it.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from kit.errors import KitError
from kit.textio import read_yaml

#: Largest seed: numpy's global seeding (`np.random.seed`, used by training) takes 0 .. 2**32 - 1.
MAX_SEED = 2**32 - 1


def check_seed(setting: str, seed: int) -> None:
    """KitError naming `setting` unless `seed` is in [0, MAX_SEED]."""
    if not 0 <= seed <= MAX_SEED:
        raise KitError(f"{setting} must be in [0, {MAX_SEED}] (2**32 - 1), got {seed}")


def load_yaml(path: str | os.PathLike, section: str | None = None) -> dict[str, Any]:
    """A YAML file's top-level mapping (or one section of it), with errors naming the file."""
    path = Path(path)
    if not path.is_file():
        raise KitError(f"{path}: no such config file")
    content = read_yaml(path) or {}
    if not isinstance(content, dict):
        raise KitError(f"{path}: expected a mapping of settings at the top level")
    if section is not None:
        if section not in content:
            raise KitError(f"{path}: no section '{section}'; found: {', '.join(content)}")
        content = content[section] or {}
        if not isinstance(content, dict):
            raise KitError(f"{path}: section '{section}' is not a mapping of settings")
    return content


def config_from_dict(cls: type, mapping: Mapping[str, Any] | None, section: str = "config"):
    """Build dataclass `cls` from `mapping`, converting and checking every value.

    Unknown keys, values of the wrong type and values outside a `Literal[...]` raise a KitError
    naming `section.key` and what is allowed. Nested dataclass fields take nested mappings;
    tuple fields accept lists. Missing keys keep their defaults.
    """
    if mapping is None:
        mapping = {}
    if isinstance(mapping, cls):
        return mapping
    if not isinstance(mapping, Mapping):
        raise KitError(f"{section}: expected a mapping of settings, got {type(mapping).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = [k for k in mapping if k not in fields]
    if unknown:
        raise KitError(
            f"{section}: unknown key(s) {', '.join(map(str, unknown))}; "
            f"allowed: {', '.join(fields)}"
        )
    values = {k: _convert(hints[k], v, f"{section}.{k}") for k, v in mapping.items()}
    return cls(**values)


def _convert(kind: Any, value: Any, where: str) -> Any:
    """`value` converted to type `kind`, or a KitError naming `where`."""
    origin = typing.get_origin(kind)
    args = typing.get_args(kind)
    if dataclasses.is_dataclass(kind):
        return config_from_dict(kind, value, where)
    if origin is Literal:
        if value not in args:
            raise KitError(
                f"{where}: invalid value {value!r}; allowed: {', '.join(map(repr, args))}"
            )
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return _convert(option, value, where)
            except KitError as exc:
                errors.append(str(exc))
        raise KitError(errors[0] if len(errors) == 1 else f"{where}: invalid value {value!r}")
    if origin is tuple:
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise KitError(f"{where}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise KitError(f"{where}: expected {len(args)} values, got {len(value)}")
        return tuple(_convert(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
    if kind is bool:
        if not isinstance(value, bool):
            raise KitError(f"{where}: expected true or false, got {value!r}")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise KitError(f"{where}: expected an integer, got {value!r}")
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise KitError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if kind is str:
        if not isinstance(value, (str, os.PathLike)):
            raise KitError(f"{where}: expected a string, got {value!r}")
        return str(value)
    if kind is Any:
        return value
    if isinstance(kind, type) and not isinstance(value, kind):
        raise KitError(f"{where}: expected {kind.__name__}, got {value!r}")
    return value
