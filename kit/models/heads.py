"""Per-chart output heads and how their outputs become chart classes.

Every model of the kit returns `{chart: tensor [B, C, H, W]}`. A chart's head is either a
classification head (C = number of classes, logits) or, for SIC only, a regression head (C = 1,
concentration in tenths) or a Gaussian head (``sic_head: gaussian``, C = 2: the concentration
in tenths and the log of its predicted variance in tenths squared, trained with a Gaussian
negative log-likelihood, `kit.models.losses`). A regression head may learn the concentration as a fraction in [0, 1]
(`regression_scale` 10, the model config's `sic_units: fraction`): its 1x1 convolution then
predicts SIC/10 and the head multiplies by 10, so every model output stays in tenths. Ensembles and test-time augmentation average *scores* (class
probabilities, or the regressed value) before taking classes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from torch import nn

from kit import charts

CLASSIFICATION = "classification"
REGRESSION = "regression"
#: A regression head that also predicts the log-variance of its value (issue 24).
GAUSSIAN = "gaussian"
HEAD_KINDS = (CLASSIFICATION, REGRESSION, GAUSSIAN)


def is_regression(kind: str) -> bool:
    """Whether a head kind regresses a value (``regression`` or ``gaussian``).

    >>> [is_regression(k) for k in HEAD_KINDS]
    [False, True, True]
    """
    return kind in (REGRESSION, GAUSSIAN)


def head_kinds(chart_names: Sequence[str], sic_head: str = CLASSIFICATION) -> dict[str, str]:
    """The head kind of each chart: SIC as `sic_head`, SOD and FLOE always classification."""
    if sic_head not in HEAD_KINDS:
        raise ValueError(f"sic_head {sic_head!r}: allowed {', '.join(HEAD_KINDS)}")
    unknown = [c for c in chart_names if c not in charts.CHARTS]
    if unknown or not chart_names:
        raise ValueError(f"charts {list(chart_names)}: choose from {', '.join(charts.CHARTS)}")
    return {c: (sic_head if c == "SIC" else CLASSIFICATION) for c in chart_names}


def head_channels(kinds: Mapping[str, str]) -> dict[str, int]:
    """Output channels per chart: 1 for regression, 2 for a Gaussian head (value and
    log-variance), the class count for classification."""
    sizes = {REGRESSION: 1, GAUSSIAN: 2}
    return {c: sizes.get(k, charts.N_CLASSES[c]) for c, k in kinds.items()}


class ChartHeads(nn.Module):
    """One 1x1 convolution per chart on shared (or per-chart) features; regression outputs are
    multiplied by `regression_scale` (the convolution learns tenths / scale)."""

    def __init__(
        self,
        in_channels: int | Mapping[str, int],
        kinds: Mapping[str, str],
        regression_scale: float = 1.0,
    ):
        super().__init__()
        self.kinds = dict(kinds)
        self.regression_scale = float(regression_scale)
        sizes = head_channels(self.kinds)
        width = (
            in_channels if isinstance(in_channels, Mapping) else dict.fromkeys(sizes, in_channels)
        )
        self.convs = nn.ModuleDict({c: nn.Conv2d(width[c], n, 1) for c, n in sizes.items()})

    def forward(
        self, features: torch.Tensor | Mapping[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        pick = features.__getitem__ if isinstance(features, Mapping) else lambda _: features
        outputs = {c: conv(pick(c)) for c, conv in self.convs.items()}
        return scale_regression(outputs, self.kinds, self.regression_scale)


def scale_regression(
    outputs: Mapping[str, torch.Tensor], kinds: Mapping[str, str], scale: float
) -> dict[str, torch.Tensor]:
    """Regression outputs times `scale` (a fraction head back to tenths; a Gaussian head's
    log-variance gains ``2 log(scale)``); others unchanged."""
    if scale == 1.0:
        return dict(outputs)
    scaled = {}
    for chart, out in outputs.items():
        if kinds[chart] == GAUSSIAN:
            out = torch.cat([out[:, :1] * scale, out[:, 1:] + 2 * math.log(scale)], dim=1)
        elif kinds[chart] == REGRESSION:
            out = out * scale
        scaled[chart] = out
    return scaled


def to_scores(
    outputs: Mapping[str, torch.Tensor], kinds: Mapping[str, str]
) -> dict[str, torch.Tensor]:
    """Averageable scores: softmax probabilities for classification, the value for regression
    (and a Gaussian head's log-variance, as its second channel)."""
    return {
        c: out.float() if is_regression(kinds[c]) else torch.softmax(out.float(), dim=1)
        for c, out in outputs.items()
    }


def scores_to_classes(
    scores: Mapping[str, torch.Tensor], kinds: Mapping[str, str]
) -> dict[str, torch.Tensor]:
    """Class maps `[B, H, W]` (uint8): argmax, or the regressed SIC clamped to 0-10 and rounded."""
    classes = {}
    for chart, score in scores.items():
        if is_regression(kinds[chart]):
            top = charts.N_CLASSES[chart] - 1
            value = torch.nan_to_num(score[:, 0], nan=0.0).clamp(0, top).round()
        else:
            value = score.argmax(dim=1)
        classes[chart] = value.to(torch.uint8)
    return classes


def predict_classes(
    outputs: Mapping[str, torch.Tensor], kinds: Mapping[str, str]
) -> dict[str, torch.Tensor]:
    """Class maps straight from raw model outputs (one model, no averaging)."""
    return scores_to_classes(to_scores(outputs, kinds), kinds)
