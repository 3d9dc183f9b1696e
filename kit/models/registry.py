"""The model types a config may name, each registered once with how to build it.

A model type is a builder function registered with `register_model`, next to the network it
builds::

    @register_model("unet", settings=("levels", "filters"), sic_head=CLASSIFICATION,
                    poolings=..., example={"levels": 2, "filters": [4, 4, 8]})
    def build_chart_unet(config, in_channels, kinds, regression_scale): ...

`kit.models.factory` imports the modules that register the kit's types (one line each);
`ModelConfig` checks `model.type` and the type-specific settings against the registry, and
`build_model`, the contract tests (tests/models/test_contract.py) and `autoice train --models`
read it. Adding a model type is one module with its registered builder and one import line in
`kit.models.factory`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from kit.errors import KitError
from kit.models.heads import HEAD_KINDS, REGRESSION
from kit.registry import Registry

#: `build(config, in_channels, kinds, regression_scale)`: the network for a `ModelConfig`, with
#: `in_channels` inputs and one head per chart of `kinds` (chart -> head kind), its regression
#: outputs multiplied by `regression_scale`.
Builder = Callable[[Any, int, dict[str, str], float], nn.Module]


def _no_poolings(config: Any) -> int | None:
    """The encoder decides how often the input is halved (none to report)."""
    return None


@dataclass(frozen=True)
class ModelType:
    """One registered model type: what `build_model` calls and what configs may set for it."""

    name: str
    build: Builder
    #: `ModelConfig` settings that apply to this type only (others must keep their defaults).
    settings: tuple[str, ...] = ()
    #: SIC head when the config does not say (``classification`` or ``regression``).
    sic_head: str = REGRESSION
    #: How many times the network halves its input (None: it pads to its own stride).
    poolings: Callable[[Any], int | None] = _no_poolings
    #: Settings of a small, fast instance (no downloads): the contract tests build it.
    example: Mapping[str, Any] = field(default_factory=dict)
    #: One line for listings (`autoice train --models`).
    description: str = ""


#: Every model type, in registration order (`kit.models.MODEL_TYPES`).
MODEL_TYPES: Registry[ModelType] = Registry("model type")


def register_model(
    name: str,
    *,
    settings: tuple[str, ...] = (),
    sic_head: str = REGRESSION,
    poolings: Callable[[Any], int | None] = _no_poolings,
    example: Mapping[str, Any] | None = None,
    description: str = "",
) -> Callable[[Builder], Builder]:
    """Register the decorated builder as model type `name`.

    Parameters
    ----------
    name : str
        The type as ``model.type`` names it.
    settings : tuple of str, default ()
        The `ModelConfig` settings that apply to this type only (e.g. ``levels``); a config
        of another type that sets one is refused, naming the types it applies to.
    sic_head : {"regression", "classification"}, default "regression"
        The SIC head when ``model.sic_head`` is not given.
    poolings : callable, optional
        ``poolings(config)``: how many times the network halves its input (patch sizes must
        be multiples of 2**poolings), or None if the network pads to its stride itself
        (the default).
    example : mapping, optional
        Settings (besides ``type``) of a small instance that needs no download: the shared
        contract tests build the type from it.
    description : str, default ""
        One line for listings.

    Returns
    -------
    callable
        A decorator that registers its builder and returns it unchanged; the builder is
        called as ``build(config, in_channels, kinds, regression_scale)``.

    Raises
    ------
    KitError
        If `name` is taken or `sic_head` is not a head kind.

    Examples
    --------
    >>> import torch
    >>> from kit.models import ModelConfig, build_model
    >>> from kit.models.heads import ChartHeads
    >>> with MODEL_TYPES.restored():
    ...     @register_model("pixelwise", example={}, description="1x1 convolutions")
    ...     def build_pixelwise(config, in_channels, kinds, regression_scale):
    ...         return ChartHeads(in_channels, kinds, regression_scale)
    ...     model = build_model(ModelConfig(type="pixelwise"), 3, ["SIC", "SOD"])
    ...     tuple(model(torch.zeros(1, 3, 8, 8))["SOD"].shape)
    (1, 6, 8, 8)
    >>> "pixelwise" in MODEL_TYPES
    False
    """
    if sic_head not in HEAD_KINDS:
        raise KitError(f"model type {name}: sic_head {sic_head!r}; allowed {', '.join(HEAD_KINDS)}")

    def decorator(build: Builder) -> Builder:
        entry = ModelType(
            name, build, tuple(settings), sic_head, poolings, dict(example or {}), description
        )
        MODEL_TYPES.add(name, entry)
        return build

    return decorator


def model_type_names() -> tuple[str, ...]:
    """The registered model type names, in registration order (what ``model.type`` allows)."""
    return MODEL_TYPES.names()
