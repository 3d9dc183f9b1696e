"""An experiment's whole configuration, read from one YAML file and stored in every checkpoint.

```yaml
data:  {...}    # kit.data.config.DataConfig: variables, charts, patch size, downscale ...
model: {...}    # kit.models.factory.ModelConfig: type, filters, heads
loss:  {...}    # kit.models.losses.LossConfig: per-chart loss type, task weight, class weights
train: {...}    # TrainConfig below: data folder, optimiser, schedule, epochs, output folder
```

Every section is checked strictly by `kit.config.config_from_dict`: an unknown key or value
is an error naming it and the allowed ones.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from kit.config import check_seed, config_from_dict, flatten_settings, load_yaml
from kit.data.config import DataConfig
from kit.errors import KitError, named
from kit.models.factory import ModelConfig, poolings
from kit.models.losses import LossConfig

SECTIONS = ("data", "model", "loss", "train")
#: Default side and overlap (working-grid pixels) of the tiles a whole scene is predicted in.
TILE_SIZE = 1024
TILE_OVERLAP = 64


def check_tiles(
    size: int, overlap: int, size_name: str = "tile_size", overlap_name: str = "tile_overlap"
) -> None:
    """KitError naming the setting unless tiles are at least 1 px and overlap less than half."""
    if size < 1:
        raise KitError(f"{size_name} {size}: must be at least 1 px")
    if not 0 <= overlap < size // 2:
        raise KitError(
            f"{overlap_name} {overlap}: must be in [0, {size // 2}) "
            f"(less than half of {size_name} {size})"
        )


#: Most CPU threads a run may ask for: far above any one machine's cores, it catches typos
#: (cpu_threads: 1000000) before torch tries to start that many threads.
MAX_CPU_THREADS = 1024


@dataclass(frozen=True)
class TrainConfig:
    """How to train: where the data is, optimiser, schedule, length, validation, outputs."""

    #: Dataset folder (either layout); its training split is used, minus the validation scenes.
    #: `demo` and `demo-quick` name the synthetic demo datasets (generated on first use).
    data_dir: str = "demo"
    #: Folder for checkpoints (`last.pt`, `best.pt`), `metrics.csv` and TensorBoard logs.
    out_dir: str = "runs/experiment"
    epochs: int = 10
    optimizer: Literal["adam", "adamw", "sgd"] = "adamw"
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9
    #: Learning-rate schedule, stepped every batch: constant, cosine annealing over all epochs,
    #: or cosine with warm restarts every `restart_epochs` (times `restart_mult` after each).
    scheduler: Literal["constant", "cosine", "cosine_warm_restarts"] = "cosine"
    restart_epochs: int = 5
    restart_mult: int = 1
    min_lr: float = 0.0
    #: Mixed precision (only used on CUDA).
    amp: bool = True
    device: Literal["auto", "cpu", "cuda"] = "auto"
    seed: int = 0
    #: Validation scenes: these ids, or else `val_count` training scenes drawn at random
    #: (seeded by `seed`; MMSeaIce validates on 20), or else a seeded `val_fraction` of them.
    val_scenes: tuple[str, ...] = ()
    val_fraction: float = 0.1
    val_count: int | None = None
    #: Validate every this many epochs (and after the last one).
    val_every: int = 1
    #: Side of the working-grid tiles used to predict whole scenes, and their overlap.
    tile_size: int = TILE_SIZE
    tile_overlap: int = TILE_OVERLAP
    #: Stop training after this many seconds (whole epochs are still validated); none if null.
    time_budget_s: float | None = None
    #: Threads for CPU training (torch.set_num_threads); 0 leaves torch's default.
    cpu_threads: int = 0
    #: Fit the probability calibration (temperatures, SIC std factor) on the validation scenes
    #: at the end of training and store it in `best.pt` (`kit.experiment.calibration`).
    calibrate: bool = True

    def __post_init__(self) -> None:
        check_tiles(self.tile_size, self.tile_overlap, "train: tile_size", "train: tile_overlap")
        for name in ("epochs", "restart_epochs", "restart_mult", "val_every"):
            if getattr(self, name) < 1:
                raise KitError(f"train: {name} must be >= 1, got {getattr(self, name)}")
        if self.lr <= 0 or self.min_lr < 0 or self.weight_decay < 0:
            raise KitError("train: lr must be > 0, min_lr and weight_decay >= 0")
        if not 0.0 <= self.val_fraction < 1.0:
            raise KitError(f"train: val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.val_count is not None and self.val_count < 0:
            raise KitError(f"train: val_count must be >= 0, got {self.val_count}")
        if self.val_count is not None and self.val_scenes:
            raise KitError(
                "train: val_scenes and val_count both choose the validation scenes; give one"
            )
        if self.time_budget_s is not None and self.time_budget_s <= 0:
            raise KitError(f"train: time_budget_s must be > 0, got {self.time_budget_s}")
        if not 0 <= self.cpu_threads <= MAX_CPU_THREADS:
            raise KitError(
                f"train: cpu_threads must be in [0, {MAX_CPU_THREADS}] (0 = torch's default), "
                f"got {self.cpu_threads}"
            )
        if not 0.0 <= self.momentum < 1.0:
            raise KitError(f"train: momentum must be in [0, 1), got {self.momentum}")
        check_seed("train: seed", self.seed)


@dataclass(frozen=True)
class ExperimentConfig:
    """The four sections of an experiment config: data, model, loss and train.

    One object says everything about a run; it is stored in every checkpoint (`to_dict`), so
    a checkpoint alone rebuilds its model and its input pipeline. Read it with
    `load_experiment` or `from_dict`, which check every section strictly.

    Parameters
    ----------
    data : DataConfig
        Inputs, charts, patches, downscaling, augmentation (`kit.data.DataConfig`).
    model : ModelConfig
        The network (`kit.models.ModelConfig`).
    loss : LossConfig
        Per-chart loss type, task weight and class weights (`kit.models.losses.LossConfig`).
    train : TrainConfig
        Data folder, optimiser, schedule, epochs, validation, tiles, outputs.

    Raises
    ------
    KitError
        If ``data.patch_size`` is smaller than the model's poolings need (2 ** poolings).

    Examples
    --------
    >>> config = ExperimentConfig.from_dict(
    ...     {"model": {"type": "unet", "levels": 3}, "train": {"epochs": 2}})
    >>> config.model.type, config.train.epochs, config.data.patch_size
    ('unet', 2, 256)
    >>> config.replace("train", lr=0.01).train.lr
    0.01
    >>> ExperimentConfig.from_dict({"model": {"type": "unet", "levels": 6},
    ...                             "data": {"patch_size": 32}})
    Traceback (most recent call last):
    ...
    kit.errors.KitError: data: patch_size 32 is smaller than the 64 pixels that the model's 6 ...
    >>> ExperimentConfig.from_dict({"trian": {}})
    Traceback (most recent call last):
    ...
    kit.errors.KitError: config: unknown section(s) trian; allowed: data, model, loss, train
    """

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        depth = poolings(self.model)
        if depth is not None and self.data.patch_size < 2**depth:
            raise KitError(
                f"data: patch_size {self.data.patch_size} is smaller than the {2**depth} pixels "
                f"that the model's {depth} poolings halve it by; use patch_size >= {2**depth}"
            )

    @classmethod
    def from_dict(cls, mapping: Mapping[str, Any], source: str | None = None) -> ExperimentConfig:
        """Build and check a config from its four sections; `source` (a file) starts every
        error message when given."""
        with named(source):
            return cls._from_sections(mapping, source or "config")

    @classmethod
    def _from_sections(cls, mapping: Mapping[str, Any], source: str) -> ExperimentConfig:
        if not isinstance(mapping, Mapping):
            raise KitError(f"{source}: expected a mapping with sections {', '.join(SECTIONS)}")
        unknown = [k for k in mapping if k not in SECTIONS]
        if unknown:
            raise KitError(
                f"{source}: unknown section(s) {', '.join(map(str, unknown))}; "
                f"allowed: {', '.join(SECTIONS)}"
            )
        kinds = {"data": DataConfig, "model": ModelConfig, "loss": LossConfig, "train": TrainConfig}
        return cls(**{s: config_from_dict(kinds[s], mapping.get(s), s) for s in SECTIONS})

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (lists, not tuples): what checkpoints store and YAML shows."""
        return _plain(dataclasses.asdict(self))

    def replace(self, section: str, **changes) -> ExperimentConfig:
        """A copy with some settings of one section changed (validated again)."""
        return dataclasses.replace(
            self, **{section: dataclasses.replace(getattr(self, section), **changes)}
        )


#: Folder of the configs shipped with the kit (`autoice train demo` finds `demo.yaml` there).
PACKAGED_CONFIGS = Path(__file__).parents[1] / "configs"


def packaged_configs() -> list[str]:
    """Names of the configs shipped with the kit."""
    return sorted(p.stem for p in PACKAGED_CONFIGS.glob("*.yaml"))


def config_description(path: str | os.PathLike) -> str:
    """A config file's one-line description: its first comment line, without the ``#``.

    Every packaged config (recipe) starts with such a line; `autoice train --list` shows it.

    Parameters
    ----------
    path : str or os.PathLike
        A YAML file.

    Returns
    -------
    str
        The text of the file's first line if it is a comment, else ``""``.

    Examples
    --------
    >>> config_description(PACKAGED_CONFIGS / "mmseaice.yaml")[:40]
    "MMSeaIce's best model (AutoICE winner) f"
    """
    with open(path, encoding="utf-8") as fh:
        first = fh.readline().strip()
    return first.lstrip("#").strip() if first.startswith("#") else ""


def packaged_recipes() -> dict[str, str]:
    """Each packaged config's name and one-line description (`config_description`).

    Examples
    --------
    >>> recipes = packaged_recipes()
    >>> {"demo", "mmseaice", "sar_only", "starter"} <= set(recipes)
    True
    >>> all(recipes.values())
    True
    """
    return {
        name: config_description(PACKAGED_CONFIGS / f"{name}.yaml") for name in packaged_configs()
    }


def resolve_config_path(name: str | os.PathLike) -> Path:
    """A config file path, or the packaged config (recipe) of that name (e.g. `mmseaice`).

    Raises
    ------
    KitError
        If there is neither such a file nor such a packaged config; the message lists the
        packaged ones.

    Examples
    --------
    >>> resolve_config_path("mmseaice").name
    'mmseaice.yaml'
    >>> resolve_config_path("mmseice")
    Traceback (most recent call last):
    ...
    kit.errors.KitError: mmseice: no such config file or packaged config (packaged configs: ...)
    """
    path = Path(name)
    packaged = PACKAGED_CONFIGS / f"{path.stem}.yaml"
    if not path.is_file() and path.parent == Path(".") and packaged.is_file():
        return packaged
    if not path.is_file():
        raise KitError(
            f"{name}: no such config file or packaged config (packaged configs: "
            f"{', '.join(packaged_configs())}; `autoice train --list` describes them)"
        )
    return path


def load_experiment(path: str | os.PathLike) -> ExperimentConfig:
    """Read and validate an experiment YAML file (or packaged config name); errors name both
    the file and the setting.

    Parameters
    ----------
    path : str or os.PathLike
        A YAML file with the sections ``data``, ``model``, ``loss`` and ``train`` (each
        optional), or the name of a config shipped in ``kit/configs`` (``demo``,
        ``baseline_unet``).

    Returns
    -------
    ExperimentConfig
        The checked config; settings left out keep their defaults.

    Raises
    ------
    KitError
        If there is no such file or packaged config, or a section, key or value is invalid;
        the message starts with the file.

    Examples
    --------
    >>> load_experiment("demo").model.type
    'multitask_unet'
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = Path(tmp, "run.yaml")
    ...     _ = path.write_text("{train: {epochs: 0}}")
    ...     load_experiment(path)
    Traceback (most recent call last):
    ...
    kit.errors.KitError: .../run.yaml: train: epochs must be >= 1, got 0
    """
    path = resolve_config_path(path)
    return ExperimentConfig.from_dict(load_yaml(path), source=str(path))


def config_differences(
    stored: Mapping[str, Any], current: Mapping[str, Any], sections: tuple[str, ...]
) -> list[str]:
    """`section.key: stored -> current` for every setting that differs in `sections`."""
    flat_stored, flat_current = _flatten(stored), _flatten(current)
    keys = sorted(k for k in set(flat_stored) | set(flat_current) if k.split(".")[0] in sections)
    return [
        f"{k}: {flat_stored.get(k, '(absent)')!r} -> {flat_current.get(k, '(absent)')!r}"
        for k in keys
        if flat_stored.get(k, "(absent)") != flat_current.get(k, "(absent)")
    ]


def _flatten(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """Settings under dotted keys (`section.key`), lists and tuples compared as plain lists."""
    return {key: _plain(value) for key, value in flatten_settings(mapping).items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
