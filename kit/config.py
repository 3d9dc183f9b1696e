"""The one strict configuration checker: YAML files and mappings into config dataclasses.

`config_from_dict` builds any (nested) dataclass from a mapping such as a parsed YAML file and
rejects unknown keys and bad values with a `KitError` that names the key and the allowed ones.
Data, model, loss, training, drift and batch settings all go through it. `flatten_settings`
turns nested settings into dotted keys (config comparisons, result tables).
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from kit.errors import KitError
from kit.textio import read_yaml

#: Largest seed: numpy's global seeding (`np.random.seed`, used by training) takes 0 .. 2**32 - 1.
MAX_SEED = 2**32 - 1


def check_seed(setting: str, seed: int) -> None:
    """Check that a seed fits numpy's global seeding.

    Parameters
    ----------
    setting : str
        How the seed is named in the error (e.g. ``"train: seed"``).
    seed : int
        The seed to check.

    Raises
    ------
    KitError
        If `seed` is outside [0, MAX_SEED].
    """
    if not 0 <= seed <= MAX_SEED:
        raise KitError(f"{setting} must be in [0, {MAX_SEED}] (2**32 - 1), got {seed}")


@dataclasses.dataclass(frozen=True)
class OneOf:
    """The allowed values of a setting, read each time one is checked: a `Literal` whose
    values come from a registry. Mark the field ``Annotated[str, OneOf(registry.names)]``;
    `config_from_dict` refuses any other value as it refuses one outside a `Literal`.

    Parameters
    ----------
    values : callable
        Returns the allowed values, e.g. a registry's `names`.

    Examples
    --------
    >>> from dataclasses import field, make_dataclass
    >>> from typing import Annotated
    >>> shapes = ["square", "round"]
    >>> kind = Annotated[str, OneOf(shapes.copy)]
    >>> Settings = make_dataclass("Settings", [("shape", kind, field(default="square"))])
    >>> shapes.append("oval")
    >>> config_from_dict(Settings, {"shape": "oval"}, "tile")
    Settings(shape='oval')
    >>> config_from_dict(Settings, {"shape": "star"}, "tile")
    Traceback (most recent call last):
    ...
    kit.errors.KitError: tile.shape: invalid value 'star'; allowed: 'square', 'round', 'oval'
    """

    values: Callable[[], Iterable[Any]]


def load_yaml(path: str | os.PathLike, section: str | None = None) -> dict[str, Any]:
    """A YAML file's top-level mapping (or one section of it), with errors naming the file.

    Parameters
    ----------
    path : str or os.PathLike
        The YAML file (UTF-8).
    section : str, optional
        A top-level key whose mapping to return instead of the whole file; an empty section
        gives ``{}``.

    Returns
    -------
    dict
        The settings as parsed; an empty file gives ``{}``.

    Raises
    ------
    KitError
        If the file is missing, not UTF-8 or not valid YAML, its top level (or `section`) is
        not a mapping, or `section` is absent.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = Path(tmp, "run.yaml")
    ...     _ = path.write_text("{data: {patch_size: 128}, train: {epochs: 2}}")
    ...     load_yaml(path, section="data")
    {'patch_size': 128}
    >>> load_yaml("no/such.yaml")
    Traceback (most recent call last):
    ...
    kit.errors.KitError: no/such.yaml: no such config file
    """
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

    The one strict settings checker: a typo in a key or a value is an error naming the setting
    and what is allowed, never a silently ignored setting. Nested dataclass fields take nested
    mappings; tuple fields accept lists; integers are accepted (as floats) for float fields.
    Missing keys keep their defaults.

    Parameters
    ----------
    cls : type
        A dataclass whose type hints say what each setting accepts (``int``, ``float``,
        ``bool``, ``str``, ``Literal[...]``, ``Annotated[str, OneOf(...)]``, ``tuple[...]``,
        optional values, nested dataclasses).
    mapping : Mapping or None
        The settings, e.g. a section of a parsed YAML file; None means all defaults, and an
        instance of `cls` is returned as it is.
    section : str
        How the settings are named in errors (``data`` gives ``data.patch_size``); an empty
        string names the keys alone, for a caller that puts its own file name in front.

    Returns
    -------
    cls
        The instance; its own ``__post_init__`` checks (ranges, combinations) have run.

    Raises
    ------
    KitError
        For a mapping that is not one, an unknown key, or a value of the wrong type or outside
        a ``Literal`` (or `OneOf`), naming ``section.key`` and the allowed keys or values.

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> from typing import Literal
    >>> @dataclass
    ... class Settings:
    ...     size: int = 256
    ...     mode: Literal["mode", "nearest"] = "mode"
    ...     charts: tuple[str, ...] = ("SIC",)
    >>> config_from_dict(Settings, {"size": 128, "charts": ["SIC", "SOD"]}, "data")
    Settings(size=128, mode='mode', charts=('SIC', 'SOD'))
    >>> config_from_dict(Settings, {"sise": 128}, "data")
    Traceback (most recent call last):
    ...
    kit.errors.KitError: data: unknown key(s) sise; allowed: size, mode, charts
    >>> config_from_dict(Settings, {"mode": "bilinear"}, "data")
    Traceback (most recent call last):
    ...
    kit.errors.KitError: data.mode: invalid value 'bilinear'; allowed: 'mode', 'nearest'
    """
    if mapping is None:
        mapping = {}
    if isinstance(mapping, cls):
        return mapping
    if not isinstance(mapping, Mapping):
        raise KitError(
            f"{_named(section)}expected a mapping of settings, got {type(mapping).__name__}"
        )
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = [k for k in mapping if k not in fields]
    if unknown:
        raise KitError(
            f"{_named(section)}unknown key(s) {', '.join(map(str, unknown))}; "
            f"allowed: {', '.join(fields)}"
        )
    values = {k: _convert(hints[k], v, _key_path(section, k)) for k, v in mapping.items()}
    return cls(**values)


def _named(section: str) -> str:
    """The start of an error about a whole section: `section: `, or nothing for no section."""
    return f"{section}: " if section else ""


def _key_path(section: str, key: Any) -> str:
    """How errors name one key of a section: `section.key`, or `key` for no section."""
    return f"{section}.{key}" if section else str(key)


def flatten_settings(
    mapping: Mapping[str, Any], prefix: str = "", sep: str = "."
) -> dict[str, Any]:
    """Nested mappings as one flat mapping with joined keys.

    Parameters
    ----------
    mapping : Mapping
        Settings or results, nested to any depth.
    prefix : str, default ""
        A name put before every key (joined by `sep`); none if empty.
    sep : str, default "."
        What joins a parent key and a child key.

    Returns
    -------
    dict
        Every leaf (any value that is not a mapping, lists and tuples included, unchanged)
        under its joined key, in the mapping's order. Keys are turned into strings; an empty
        nested mapping leaves no key.

    Examples
    --------
    >>> flatten_settings({"data": {"patch_size": 256, "charts": ["SIC"]}, "seed": 0})
    {'data.patch_size': 256, 'data.charts': ['SIC'], 'seed': 0}
    >>> flatten_settings({"lr": 0.1, "sched": {}}, prefix="train", sep="/")
    {'train/lr': 0.1}
    """
    flat: dict[str, Any] = {}
    _flatten_into(flat, mapping, f"{prefix}{sep}" if prefix else "", sep)
    return flat


def _flatten_into(flat: dict[str, Any], mapping: Mapping[str, Any], start: str, sep: str) -> None:
    """Add the leaves of `mapping` to `flat`, each key after `start` (a parent's name and `sep`)."""
    for key, value in mapping.items():
        name = f"{start}{key}"
        if isinstance(value, Mapping):
            _flatten_into(flat, value, f"{name}{sep}", sep)
        else:
            flat[name] = value


def _convert(kind: Any, value: Any, where: str) -> Any:
    """`value` converted to type `kind`, or a KitError naming `where`."""
    origin = typing.get_origin(kind)
    if dataclasses.is_dataclass(kind):
        return config_from_dict(kind, value, where)
    if origin is Literal:
        return _literal(typing.get_args(kind), value, where)
    if origin is Annotated:
        return _annotated(typing.get_args(kind), value, where)
    if origin in (typing.Union, types.UnionType):
        return _union(typing.get_args(kind), value, where)
    if origin in _CONTAINERS:
        return _CONTAINERS[origin](typing.get_args(kind), value, where)
    if kind in _SCALARS:
        return _SCALARS[kind](value, where)
    if isinstance(kind, type) and not isinstance(value, kind):
        raise KitError(f"{where}: expected {kind.__name__}, got {value!r}")
    return value


def _literal(allowed: tuple, value: Any, where: str) -> Any:
    if value not in allowed:
        raise KitError(
            f"{where}: invalid value {value!r}; allowed: {', '.join(map(repr, allowed))}"
        )
    return value


def _annotated(args: tuple, value: Any, where: str) -> Any:
    """`Annotated[X, ...]`: `value` converted to X, then checked by any `OneOf` marks."""
    value = _convert(args[0], value, where)
    for mark in args[1:]:
        if isinstance(mark, OneOf):
            _literal(tuple(mark.values()), value, where)
    return value


def _union(options: tuple, value: Any, where: str) -> Any:
    """The first option `value` converts to (None for an optional value)."""
    if value is None and type(None) in options:
        return None
    errors = []
    for option in (o for o in options if o is not type(None)):
        try:
            return _convert(option, value, where)
        except KitError as exc:
            errors.append(str(exc))
    raise KitError(errors[0] if len(errors) == 1 else f"{where}: invalid value {value!r}")


def _sequence(value: Any, where: str) -> list | tuple:
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise KitError(f"{where}: expected a list, got {value!r}")
    return value


def _tuple(args: tuple, value: Any, where: str) -> tuple:
    """`tuple[X, ...]` of any length, or `tuple[X, Y]` of exactly that many values."""
    value = _sequence(value, where)
    if len(args) == 2 and args[1] is Ellipsis:
        args = (args[0],) * len(value)
    if len(value) != len(args):
        raise KitError(f"{where}: expected {len(args)} values, got {len(value)}")
    return tuple(_convert(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value)))


def _list(args: tuple, value: Any, where: str) -> list:
    item = args[0] if args else Any
    return [_convert(item, v, f"{where}[{i}]") for i, v in enumerate(_sequence(value, where))]


def _dict(args: tuple, value: Any, where: str) -> dict:
    if not isinstance(value, Mapping):
        raise KitError(f"{where}: expected a mapping, got {value!r}")
    key_kind, item_kind = args if args else (Any, Any)
    return {
        _convert(key_kind, k, f"{where} key {k!r}"): _convert(item_kind, v, f"{where}.{k}")
        for k, v in value.items()
    }


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise KitError(f"{where}: expected true or false, got {value!r}")
    return value


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise KitError(f"{where}: expected an integer, got {value!r}")
    return value


def _float(value: Any, where: str) -> float:
    """Integers are accepted for float settings (``lr: 1``) and converted."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise KitError(f"{where}: expected a number, got {value!r}")
    return float(value)


def _str(value: Any, where: str) -> str:
    if not isinstance(value, (str, os.PathLike)):
        raise KitError(f"{where}: expected a string, got {value!r}")
    return str(value)


#: Converters by the origin of a parameterised container type, and by plain type.
_CONTAINERS = {tuple: _tuple, list: _list, dict: _dict}
_SCALARS = {bool: _bool, int: _int, float: _float, str: _str, Any: lambda value, where: value}
