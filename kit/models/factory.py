"""Build a chart model from the `model:` section of a config.

```yaml
model:
  type: multitask_unet        # unet | multitask_unet | smp (kit.models.registry)
  filters: [32, 32, 64, 64]   # channels per resolution (unet, multitask_unet)
  sic_head: regression        # regression | classification | gaussian (default per type)
  sic_units: fraction         # regression head learns SIC/10 (fraction) or tenths (default)
```
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import MISSING, dataclass, field, fields
from typing import Annotated, Any, Literal

from torch import nn

from kit import charts
from kit.config import OneOf
from kit.errors import KitError

# The modules that register the kit's model types (`kit.models.registry.register_model`), in
# the order listings show them: a new model type is a module and its line here.
from kit.models import multitask, smp_models  # noqa: F401  (registers unet, multitask_unet; smp)
from kit.models.heads import HEAD_KINDS, head_kinds, is_regression
from kit.models.registry import MODEL_TYPES, model_type_names
from kit.models.unet import MAX_LEVELS

#: Units the SIC regression head learns in: class values 0-10, or fractions 0-1 (class / 10).
SIC_UNITS = ("tenths", "fraction")


@dataclass(frozen=True)
class ModelConfig:
    """What network to build; the input channels and charts come from the data config."""

    #: A registered model type (`kit.models.MODEL_TYPES`: unet, multitask_unet, smp ...).
    type: Annotated[str, OneOf(model_type_names)] = "multitask_unet"
    #: Poolings of the plain U-Net (default 4 when `filters` is not given).
    levels: int | None = None
    #: Channels per resolution, full resolution first (U-Net types).
    filters: tuple[int, ...] | None = None
    #: Decoder channels per resolution (default: the encoder's), multi-task U-Net only.
    decoder_filters: tuple[int, ...] | None = None
    separate_decoders: bool = False
    #: SIC head; default classification for `unet`, regression for the others. `gaussian` is a
    #: regression head that also predicts the log-variance of SIC, trained with a Gaussian NLL
    #: (loss type `gaussian_nll`): its spread enters `autoice predict --uncertainty`.
    sic_head: Literal["classification", "regression", "gaussian"] | None = None
    #: Units the SIC regression learns: `fraction` (SIC/10, an MSE on the scale of the
    #: cross-entropies) or `tenths` (class values; the default, as checkpoints before it).
    sic_units: Literal["tenths", "fraction"] = "tenths"
    #: smp architecture (e.g. Unet, UnetPlusPlus, DeepLabV3Plus) and encoder (e.g. resnet34).
    arch: str | None = None
    encoder: str | None = None
    encoder_weights: str | None = None
    #: Further keyword arguments for the type's network (smp: `smp.create_model`).
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.type not in MODEL_TYPES:
            raise KitError(f"model.type {self.type!r}: allowed {', '.join(model_type_names())}")
        if self.sic_head is not None and self.sic_head not in HEAD_KINDS:
            raise KitError(f"model.sic_head {self.sic_head!r}: allowed {', '.join(HEAD_KINDS)}")
        if self.sic_units not in SIC_UNITS:
            raise KitError(f"model.sic_units {self.sic_units!r}: allowed {', '.join(SIC_UNITS)}")
        if self.sic_units != "tenths" and not is_regression(self.resolved_sic_head):
            raise KitError(
                f"model.sic_units {self.sic_units} needs sic_head: regression or gaussian"
            )
        if not isinstance(self.extra, dict):
            raise KitError(f"model.extra: expected a mapping of smp arguments, got {self.extra!r}")
        for key, types in type_settings().items():
            if self.type not in types and getattr(self, key) != _default(key):
                raise KitError(f"model.{key} applies to type {' or '.join(types)}, not {self.type}")
        if self.levels is not None and not 1 <= self.levels <= MAX_LEVELS:
            raise KitError(f"model.levels must be in [1, {MAX_LEVELS}], got {self.levels}")
        for key in ("filters", "decoder_filters"):
            values = getattr(self, key)
            if values is not None and not 2 <= len(values) <= MAX_LEVELS + 1:
                raise KitError(
                    f"model.{key} must list 2 to {MAX_LEVELS + 1} channel counts "
                    f"(1 to {MAX_LEVELS} poolings), got {len(values)}"
                )

    @property
    def resolved_sic_head(self) -> str:
        return self.sic_head or MODEL_TYPES[self.type].sic_head


def _default(key: str) -> Any:
    """The default of `ModelConfig` setting `key`."""
    spec = ModelConfig.__dataclass_fields__[key]
    return spec.default_factory() if spec.default is MISSING else spec.default


def type_settings() -> dict[str, tuple[str, ...]]:
    """Settings that apply to some model types only, in `ModelConfig`'s order, and the types
    each applies to (read from the registry).

    Returns
    -------
    dict
        Setting name -> the registered types that take it, e.g. ``levels -> ("unet",)``.

    Examples
    --------
    >>> type_settings()["separate_decoders"]
    ('multitask_unet',)
    >>> type_settings()["filters"]
    ('unet', 'multitask_unet')
    """
    taken = {
        f.name: tuple(name for name, entry in MODEL_TYPES.items() if f.name in entry.settings)
        for f in fields(ModelConfig)
    }
    return {key: types for key, types in taken.items() if types}


def sic_scale(config: ModelConfig) -> float:
    """Tenths per unit of the SIC regression: 10 for `fraction`, 1 for `tenths`."""
    return float(charts.SIC_TENTHS) if config.sic_units == "fraction" else 1.0


def poolings(config: ModelConfig) -> int | None:
    """How many times a U-Net type halves its input (None for smp, whose encoder decides)."""
    return MODEL_TYPES[config.type].poolings(config)


def build_model(config: ModelConfig, in_channels: int, chart_names: Sequence[str]) -> nn.Module:
    """The network for `config` with `in_channels` inputs and a head per chart.

    Every model type has the same contract, so training, prediction and scoring never ask
    which one it is: it maps ``[B, in_channels, H, W]`` to ``{chart: [B, C, H, W]}`` and has
    ``.kinds`` (chart -> ``classification`` or ``regression``).

    Parameters
    ----------
    config : ModelConfig
        The ``model:`` section: type (one of `MODEL_TYPES`: ``unet``, ``multitask_unet``,
        ``smp`` ...), depth, filters, SIC head and units.
    in_channels : int
        Input channels (``len(PatchDataset.channels)``).
    chart_names : sequence of str
        Charts to predict, one head each; a classification head has one channel per class, a
        regression head (SIC only) one channel.

    Returns
    -------
    torch.nn.Module
        The untrained network (smp encoders load `encoder_weights` if given).

    Raises
    ------
    KitError
        If `in_channels` is below 1.

    Examples
    --------
    >>> import torch
    >>> config = ModelConfig(type="multitask_unet", filters=(8, 8, 16))
    >>> model = build_model(config, in_channels=3, chart_names=["SIC", "SOD", "FLOE"])
    >>> model.kinds
    {'SIC': 'regression', 'SOD': 'classification', 'FLOE': 'classification'}
    >>> outputs = model(torch.zeros(2, 3, 16, 16))
    >>> {chart: tuple(y.shape) for chart, y in outputs.items()}
    {'SIC': (2, 1, 16, 16), 'SOD': (2, 6, 16, 16), 'FLOE': (2, 7, 16, 16)}
    >>> build_model(ModelConfig(type="unet", levels=2), 3, ["SOD"]).kinds
    {'SOD': 'classification'}
    """
    if in_channels < 1:
        raise KitError(f"a model needs at least one input channel, got {in_channels}")
    kinds = head_kinds(list(chart_names), config.resolved_sic_head)
    return MODEL_TYPES[config.type].build(config, in_channels, kinds, sic_scale(config))
