"""Data configuration: which variables and charts, patch geometry, downscaling, augmentations.

`DataConfig` is a plain dataclass, read from YAML by the one strict checker
`kit.config.config_from_dict`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from kit import charts
from kit.config import check_seed, config_from_dict, load_yaml
from kit.errors import KitError

#: Input variables a config may name: the 24 scene variables and the derived aux channels.
KNOWN_VARIABLES: tuple[str, ...] = charts.SCENE_VARIABLES + charts.AUX_VARIABLES


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
    """Everything the training loader needs to know. See the user guide, "Training data".

    Read from YAML with `from_yaml` (or `from_dict`), which reject unknown keys and values by
    name; the checks below run however it is built.

    Parameters
    ----------
    variables : tuple of str
        Input variables, from `KNOWN_VARIABLES` (MMSeaIce's ``aux_long`` means ``aux_lon``);
        default the 24 scene variables.
    charts : tuple of str
        Charts to train on (default SIC, SOD, FLOE).
    patch_size : int
        Patch side in pixels of the working grid.
    batch_size : int
        Patches per batch.
    downscale : int
        Working grid = 80 m grid averaged over ``downscale`` x ``downscale`` blocks (1 = none).
    upsampling : {'bilinear', 'nearest'}
        How AMSR2/ERA5 (2 km grid) are regridded onto the working grid.
    chart_downscale : {'mode', 'nearest'}
        How charts are downscaled: the block's most frequent valid class, or its centre pixel.
    normalisation : {'meanstd', 'minmax'}
        ``(v - mean) / std``, or ``[mean - 3 std, mean + 3 std]`` onto [-1, 1], clipped.
    month_encoding : {'mmseaice', 'cyclic'}
        One channel (month 1..12 onto -1..1), or the sine and cosine of the month angle.
    input_scaling : {'auto', 'standard', 'minmax', 'physical'}
        How the files encode their inputs: 'auto' decides per file (`kit.data.conventions`).
    augment : AugmentConfig
        Random augmentations and their probabilities (none by default).
    epoch_len : int
        Batches per epoch (per rank; shared among the loader workers).
    seed : int
        Seed of the patch draws, in [0, 2**32 - 1].
    num_workers : int
        Loader worker processes (0: the main process; for training on a GPU, 0 lets the
        kit choose, see `kit.data.patches.loader_options`).
    min_valid_fraction : float
        Patches with a smaller share of labelled pixels are redrawn (0: any labelled pixel).
    cache_dir : str, optional
        Scene cache folder; default ``$AUTOICE_CACHE/scenes`` or ``~/.cache/autoice/scenes``.

    Raises
    ------
    KitError
        For an empty list of variables or charts, an unknown or repeated name, a size below 1,
        a negative ``num_workers``, or a seed, fraction or augmentation setting out of range.

    Examples
    --------
    >>> config = DataConfig.from_dict({"patch_size": 128, "downscale": 5, "charts": ["SIC"]})
    >>> config.patch_size, config.downscale, config.charts
    (128, 5, ('SIC',))
    >>> DataConfig(variables=("nersc_sar_primary", "aux_long")).variables
    ('nersc_sar_primary', 'aux_lon')
    >>> DataConfig.from_dict({"upsampling": "cubic"})
    Traceback (most recent call last):
    ...
    kit.errors.KitError: data.upsampling: invalid value 'cubic'; allowed: 'bilinear', 'nearest'
    >>> DataConfig(patch_size=0)
    Traceback (most recent call last):
    ...
    kit.errors.KitError: data config: patch_size must be >= 1, got 0
    """

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
