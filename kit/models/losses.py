"""Training losses per chart, summed with task weights; every one ignores MASK (255) pixels.

- `ce`: cross-entropy, optionally weighted per class by median frequency (AI4SeaIce eq. 3-4).
- `mse`: mean squared error of a SIC regression head (MMSeaIce). With the model's
  `sic_units: fraction` it is taken on SIC/10 in [0, 1], on the scale of the cross-entropies
  (a random model's MSE is O(1) like its CE); on class values 0-10 (`tenths`) it is ~100x larger
  and swamps the other tasks unless weighted down.
- `focal`: focal loss (Lin et al. 2017), optionally with the same class weights.
- `gaussian_nll`: the Gaussian negative log-likelihood (`torch.nn.GaussianNLLLoss`, without the
  constant) of a Gaussian SIC head (`model.sic_head: gaussian`): its value is the mean, its
  second channel the log-variance; taken in the units the head learns, like `mse`.

```yaml
loss:
  SIC: {type: mse, weight: 2.0}
  SOD: {type: ce, weight: 2.0, class_weights: median_frequency}
  FLOE: {type: focal, weight: 1.0, gamma: 2.0}
```
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from kit import charts
from kit.errors import KitError
from kit.models.heads import GAUSSIAN, REGRESSION

LOSS_TYPES = ("ce", "mse", "focal", "gaussian_nll")
#: The loss types each head kind takes.
HEAD_LOSSES = {REGRESSION: ("mse",), GAUSSIAN: ("gaussian_nll",)}
#: Largest log-variance a Gaussian head's loss sees (exp(20) tenths squared: no overflow).
MAX_LOG_VARIANCE = 20.0
CLASS_WEIGHTING = ("none", "median_frequency")


@dataclass(frozen=True)
class ChartLossConfig:
    """The loss of one chart: its type, task weight, class weighting and focal gamma."""

    type: Literal["ce", "mse", "focal", "gaussian_nll"] = "ce"
    weight: float = 1.0
    class_weights: Literal["none", "median_frequency"] = "none"
    gamma: float = 2.0

    def __post_init__(self) -> None:
        if self.type not in LOSS_TYPES:
            raise KitError(f"loss type {self.type!r}: allowed {', '.join(LOSS_TYPES)}")
        if self.class_weights not in CLASS_WEIGHTING:
            raise KitError(
                f"loss class_weights {self.class_weights!r}: allowed {', '.join(CLASS_WEIGHTING)}"
            )
        if self.weight < 0 or self.gamma < 0:
            raise KitError(f"loss weight and gamma must be >= 0, got {self.weight}, {self.gamma}")
        if self.type in ("mse", "gaussian_nll") and self.class_weights != "none":
            raise KitError(f"loss class_weights apply to ce and focal, not {self.type}")


@dataclass(frozen=True)
class LossConfig:
    """The `loss:` section: one entry per chart; a chart left out gets `default_loss`."""

    SIC: ChartLossConfig | None = None
    SOD: ChartLossConfig | None = None
    FLOE: ChartLossConfig | None = None

    def for_charts(self, kinds: Mapping[str, str]) -> dict[str, ChartLossConfig]:
        """The loss of each chart the model predicts (configured, or the default)."""
        configured = {f.name: getattr(self, f.name) for f in fields(self)}
        extra = [c for c, v in configured.items() if v is not None and c not in kinds]
        if extra:
            raise KitError(f"loss: chart(s) {', '.join(extra)} are not predicted by the model")
        return {c: configured[c] or default_loss(c, k) for c, k in kinds.items()}


def default_loss(chart: str, kind: str) -> ChartLossConfig:
    """MSE for a regression head, Gaussian NLL for a Gaussian head, cross-entropy otherwise,
    with the challenge's chart weight."""
    return ChartLossConfig(
        type=HEAD_LOSSES.get(kind, ("ce",))[0], weight=charts.CHART_WEIGHTS[chart]
    )


def masked_cross_entropy(
    logits: torch.Tensor, target: torch.Tensor, class_weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Cross-entropy over pixels whose target is not MASK (weighted mean over valid pixels)."""
    if not (target != charts.MASK).any():
        return logits.sum() * 0.0
    return F.cross_entropy(logits.float(), target, weight=class_weights, ignore_index=charts.MASK)


def masked_mse(prediction: torch.Tensor, target: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """Mean squared error between a `[B, 1, H, W]` regression and class values, both divided
    by `scale` (10: on fractions 0-1), MASK ignored."""
    valid = target != charts.MASK
    if not valid.any():
        return prediction.sum() * 0.0
    return F.mse_loss(prediction[:, 0].float()[valid] / scale, target[valid].float() / scale)


def masked_gaussian_nll(
    prediction: torch.Tensor, target: torch.Tensor, scale: float = 1.0
) -> torch.Tensor:
    """Gaussian NLL of class values under a `[B, 2, H, W]` Gaussian head (mean, log-variance),
    both divided by `scale` (10: on fractions 0-1), MASK ignored.

    ``0.5 * (log var + (mean - target)**2 / var)`` averaged over the valid pixels
    (`torch.nn.functional.gaussian_nll_loss`, ``full=False``).

    Examples
    --------
    >>> prediction = torch.tensor([[5.0, 0.0]]).reshape(1, 2, 1, 1)  # mean 5, variance 1
    >>> round(masked_gaussian_nll(prediction, torch.tensor([[[7]]])).item(), 4)  # 0.5 * 4
    2.0
    """
    valid = target != charts.MASK
    if not valid.any():
        return prediction.sum() * 0.0
    mean = prediction[:, 0].float()[valid] / scale
    log_variance = prediction[:, 1].float()[valid].clamp(max=MAX_LOG_VARIANCE)
    variance = torch.exp(log_variance - 2 * math.log(scale))
    return F.gaussian_nll_loss(mean, target[valid].float() / scale, variance, eps=1e-6)


def focal_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    gamma: float = 2.0,
    class_weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Focal loss -w_t (1 - p_t)^gamma log p_t, averaged like weighted CE, MASK ignored."""
    valid = target != charts.MASK
    if not valid.any():
        return logits.sum() * 0.0
    log_p = F.log_softmax(logits.float(), dim=1)
    index = torch.where(valid, target, torch.zeros_like(target)).unsqueeze(1)
    log_pt = log_p.gather(1, index).squeeze(1)[valid]
    weight = class_weights[target[valid]] if class_weights is not None else torch.ones_like(log_pt)
    loss = -weight * (1.0 - log_pt.exp()).pow(gamma) * log_pt
    return loss.sum() / weight.sum().clamp_min(1e-12)


class MultiTaskLoss(nn.Module):
    """Weighted sum of the charts' losses; `forward` returns (total, {chart: loss}).

    One module for the multi-task models: each chart gets the loss its head kind calls for
    (MSE for a regression head, cross-entropy or focal for a classification head), MASK (255)
    pixels are ignored, and the task weights set the balance (MMSeaIce: 2 SIC, 2 SOD, 1 FLOE).

    Parameters
    ----------
    configs : Mapping of str to ChartLossConfig
        The loss of every chart the model predicts (`LossConfig.for_charts`).
    kinds : Mapping of str to str
        The model's head kinds (``model.kinds``).
    class_weights : Mapping of str to sequence of float, optional
        Per-class weights (`kit.data.class_weights`) for the charts configured with
        ``class_weights: median_frequency``.
    regression_scale : float
        The model's (`kit.models.factory.sic_scale`): the MSE is taken in the units the
        regression head learns.

    Raises
    ------
    KitError
        If a chart has no loss or no head, a loss type does not fit its head, or median
        frequency weights are missing or of the wrong length.

    Examples
    --------
    >>> import torch
    >>> loss = MultiTaskLoss(
    ...     {"SIC": ChartLossConfig(type="mse", weight=2.0), "SOD": ChartLossConfig(type="ce")},
    ...     kinds={"SIC": "regression", "SOD": "classification"},
    ... )
    >>> outputs = {"SIC": torch.full((1, 1, 2, 2), 10.0), "SOD": torch.zeros(1, 6, 2, 2)}
    >>> targets = {"SIC": torch.tensor([[[10, 8], [255, 255]]]),
    ...            "SOD": torch.tensor([[[0, 1], [2, 255]]])}
    >>> total, parts = loss(outputs, targets)
    >>> round(parts["SIC"].item(), 4), round(parts["SOD"].item(), 4)  # 255 ignored
    (2.0, 1.7918)
    >>> round(total.item(), 4)  # 2 * 2.0 + 1 * log(6)
    5.7918
    >>> MultiTaskLoss({"SOD": ChartLossConfig(type="mse")}, kinds={"SOD": "classification"})
    Traceback (most recent call last):
    ...
    kit.errors.KitError: loss.SOD: type mse does not fit a classification head (use mse for ...)
    """

    def __init__(
        self,
        configs: Mapping[str, ChartLossConfig],
        kinds: Mapping[str, str],
        class_weights: Mapping[str, Sequence[float]] | None = None,
        regression_scale: float = 1.0,
    ):
        super().__init__()
        self.configs = dict(configs)
        self.regression_scale = float(regression_scale)
        missing = [c for c in kinds if c not in self.configs]
        if missing:
            raise KitError(f"no loss configured for chart(s) {', '.join(missing)}")
        for chart, config in self.configs.items():
            if chart not in kinds:
                raise KitError(f"loss.{chart}: the model has no {chart} head")
            if config.type not in HEAD_LOSSES.get(kinds[chart], ("ce", "focal")):
                raise KitError(
                    f"loss.{chart}: type {config.type} does not fit a {kinds[chart]} head "
                    f"(use mse for regression, gaussian_nll for gaussian, ce or focal for "
                    f"classification)"
                )
        for chart, config in self.configs.items():
            weights = None
            if config.class_weights == "median_frequency":
                if not class_weights or chart not in class_weights:
                    raise KitError(f"loss.{chart}: median_frequency weights were not provided")
                weights = torch.as_tensor(class_weights[chart], dtype=torch.float32)
                if weights.numel() != charts.N_CLASSES[chart]:
                    raise KitError(
                        f"loss.{chart}: {weights.numel()} class weights for "
                        f"{charts.N_CLASSES[chart]} classes"
                    )
            self.register_buffer(f"class_weights_{chart}", weights)

    def chart_loss(self, chart: str, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        config = self.configs[chart]
        weights = getattr(self, f"class_weights_{chart}")
        if config.type == "mse":
            return masked_mse(output, target, self.regression_scale)
        if config.type == "gaussian_nll":
            return masked_gaussian_nll(output, target, self.regression_scale)
        if config.type == "focal":
            return focal_loss(output, target, config.gamma, weights)
        return masked_cross_entropy(output, target, weights)

    def forward(
        self, outputs: Mapping[str, torch.Tensor], targets: Mapping[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        parts = {c: self.chart_loss(c, outputs[c], targets[c]) for c in self.configs}
        total = sum(self.configs[c].weight * loss for c, loss in parts.items())
        return total, parts
