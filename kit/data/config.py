"""Data configuration: which variables and charts, patch geometry, downscaling, augmentations.

`DataConfig` is a plain dataclass. `config_from_dict` builds any (nested) config dataclass from a
mapping such as a parsed YAML file, and rejects unknown keys and bad values with a `KitError`
that names the key and the allowed ones. The models and training configs reuse it.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from kit import charts
from kit.errors import KitError
from kit.textio import read_yaml

#: Input variables a config may name: the 24 scene variables and the derived aux channels.
KNOWN_VARIABLES: tuple[str, ...] = charts.SCENE_VARIABLES + charts.AUX_VARIABLES
#: Largest seed: numpy's global seeding (`np.random.seed`, used by training) takes 0 .. 2**32 - 1.
MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class AugmentConfig:
    """Random augmentations; each `*_p` is the probability that a patch gets that transform."""

    #: One of the 8 dihedral transforms (flips and quarter turns), drawn uniformly.
    dihedral_p: float = 0.0
    #: Random affine (AI4SeaIce): rotation, scale, translation and shear within these bounds.
    affine_p: float = 0.0
    rotation_deg: float = 10.0
    scale_range: tuple[float, float] = (0.9, 1.1)
    translate_fraction: float = 0.1
    shear_deg: float = 5.0
    #: MMSeaIce random scale: zoom the patch by a factor drawn from this range.
    random_scale_p: float = 0.0
    random_scale_range: tuple[float, float] = (0.75, 1.25)
    #: CutMix: paste a random box of another patch in the batch (inputs and charts alike).
    cutmix_p: float = 0.0
    cutmix_beta: float = 1.0


@dataclass(frozen=True)
class DataConfig:
    """Everything the training loader needs to know. See README "Training data"."""

    variables: tuple[str, ...] = charts.SCENE_VARIABLES
    charts: tuple[str, ...] = charts.CHARTS
    #: Patch side in pixels of the working grid (after downscaling), as in MMSeaIce.
    patch_size: int = 256
    batch_size: int = 16
    #: Working grid = 80 m grid averaged over `downscale` x `downscale` blocks (1 = none).
    downscale: int = 1
    #: How AMSR2/ERA5 (2 km grid) are regridded onto the working grid.
    upsampling: Literal["bilinear", "nearest"] = "bilinear"
    #: How charts are downscaled: most frequent valid class of the block, or its centre pixel.
    chart_downscale: Literal["mode", "nearest"] = "mode"
    #: 'meanstd': (v - mean) / std; 'minmax': [mean - 3 std, mean + 3 std] -> [-1, 1], clipped.
    normalisation: Literal["meanstd", "minmax"] = "meanstd"
    #: 'mmseaice': one channel, month 1..12 -> -1..1; 'cyclic': sin and cos of the month angle.
    month_encoding: Literal["mmseaice", "cyclic"] = "mmseaice"
    #: How the files encode their inputs: 'auto' decides per file (attributes first, values as a
    #: fallback); 'standard' (z-scores, 0 = no data), 'minmax' ([-1, 1], 2 = no data) or
    #: 'physical' (dB, K, NaN = no data) force it. See `kit.data.conventions`.
    input_scaling: Literal["auto", "standard", "minmax", "physical"] = "auto"
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    #: Batches per epoch (per rank; shared among the loader workers).
    epoch_len: int = 500
    seed: int = 0
    num_workers: int = 0
    #: Patches with a smaller share of valid label pixels are redrawn (0 = any valid pixel).
    min_valid_fraction: float = 0.0
    #: Scene cache folder; default `$AUTOICE_CACHE/scenes` or `~/.cache/autoice/scenes`.
    cache_dir: str | None = None

    def __post_init__(self) -> None:
        aliased = tuple(charts.VARIABLE_ALIASES.get(v, v) for v in self.variables)
        object.__setattr__(self, "variables", aliased)
        _check_names("variables", self.variables, KNOWN_VARIABLES)
        _check_names("charts", self.charts, charts.CHARTS)
        for name in ("patch_size", "batch_size", "downscale", "epoch_len"):
            if getattr(self, name) < 1:
                raise KitError(f"data config: {name} must be >= 1, got {getattr(self, name)}")
        if self.num_workers < 0:
            raise KitError(f"data config: num_workers must be >= 0, got {self.num_workers}")
        check_seed("data config: seed", self.seed)
        if not 0.0 <= self.min_valid_fraction <= 1.0:
            raise KitError(
                f"data config: min_valid_fraction must be in [0, 1], got {self.min_valid_fraction}"
            )
        _check_augment(self.augment)

    @classmethod
    def from_dict(cls, mapping: Mapping[str, Any]) -> DataConfig:
        return config_from_dict(cls, mapping, "data")

    @classmethod
    def from_yaml(cls, path: str | os.PathLike, section: str | None = None) -> DataConfig:
        """Load from a YAML file; `section` picks a top-level key (e.g. `data`) if given."""
        return config_from_dict(cls, load_yaml(path, section), section or "data")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def resolved_cache_dir(self) -> Path:
        """The scene cache folder this config uses."""
        if self.cache_dir:
            return Path(self.cache_dir).expanduser()
        root = os.environ.get("AUTOICE_CACHE")
        base = Path(root).expanduser() if root else Path.home() / ".cache" / "autoice"
        return base / "scenes"


def check_seed(setting: str, seed: int) -> None:
    """KitError naming `setting` unless `seed` is in [0, MAX_SEED]."""
    if not 0 <= seed <= MAX_SEED:
        raise KitError(f"{setting} must be in [0, {MAX_SEED}] (2**32 - 1), got {seed}")


def _check_names(key: str, values: tuple[str, ...], allowed: tuple[str, ...]) -> None:
    if not values:
        raise KitError(f"data config: {key} is empty; allowed: {', '.join(allowed)}")
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise KitError(
            f"data config: unknown {key} {', '.join(unknown)}; allowed: {', '.join(allowed)}"
        )
    if len(set(values)) != len(values):
        raise KitError(f"data config: {key} lists a name twice: {', '.join(values)}")


def _check_augment(aug: AugmentConfig) -> None:
    for f in dataclasses.fields(aug):
        value = getattr(aug, f.name)
        if f.name.endswith("_p") and not 0.0 <= value <= 1.0:
            raise KitError(f"data config: augment.{f.name} must be in [0, 1], got {value}")
        if f.name.endswith("_range") and not 0.0 < value[0] <= value[1]:
            raise KitError(
                f"data config: augment.{f.name} must be (low, high) with 0 < low <= high, got {value}"
            )
    bounds = {"rotation_deg": 180.0, "shear_deg": 45.0, "translate_fraction": 0.5}
    for name, top in bounds.items():
        if not 0.0 <= getattr(aug, name) <= top:
            raise KitError(
                f"data config: augment.{name} must be in [0, {top}], got {getattr(aug, name)}"
            )
    if aug.cutmix_beta <= 0:
        raise KitError(f"data config: augment.cutmix_beta must be > 0, got {aug.cutmix_beta}")


# --------------------------------------------------------------------------------------------
# Generic: (nested) dataclass from a mapping, strictly checked
# --------------------------------------------------------------------------------------------


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
