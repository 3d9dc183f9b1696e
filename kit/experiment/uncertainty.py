"""Per-pixel predictive distributions: calibrated probabilities, confidences and SIC intervals.

What `Predictor` turns its averaged scores into when an uncertainty file is asked for
(`autoice predict --uncertainty`), and what `kit.experiment.calibration` fits:

- A classification head's distribution is the softmax **probabilities averaged** over the test
  time views and the ensemble members (not softmax of averaged logits: the kit has always
  averaged probabilities, and its class maps are their argmax). Calibration applies a
  temperature `T` to that average, ``p_T = softmax(log(p) / T)``; this is temperature scaling
  of the ensemble's log-probabilities, monotone in `p`, so the most probable class never
  changes (the submission's class maps are computed without it anyway).
- A SIC regression head's distribution is a Gaussian in class units (tenths): its mean is the
  averaged regressed value (the class written is that mean clamped to 0-10 and rounded, as
  before), its variance the spread of the views and members about that mean, plus the
  variance a Gaussian head predicts (``model.sic_variance``), plus `SIC_STD_FLOOR` squared:
  half a class, what rounding to classes alone leaves open, so that a single model without
  test-time augmentation (no spread) still has a distribution whose width calibration scales. Calibration multiplies its standard
  deviation by one factor. Class ``c`` has the probability of the bin ``[c - 0.5, c + 0.5]``
  (``(-inf, 0.5]`` for 0 and ``[9.5, inf)`` for 10): the probability that the rounded, clamped
  value is ``c``.

Written per pixel (as uint8): the *confidence*, the calibrated probability in percent of the
class written in the submission, and for SIC the central `SIC_INTERVAL_PROBABILITY` (90 %)
predictive interval ``[low, high]`` in classes, always holding the written class:

- from class probabilities: ``low`` is the first class whose cumulative probability exceeds
  5 %, ``high`` the first whose cumulative probability reaches 95 % (so at least 90 % of the
  probability lies in ``[low, high]``);
- from a Gaussian: ``floor(mean - z std)`` and ``ceil(mean + z std)`` with ``z = 1.645``
  (rounded outward), clipped to 0-10;

and then widened to hold the written class where it does not.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np
import torch

from kit import charts
from kit.errors import KitError
from kit.models.heads import is_regression, scores_to_classes

#: Smallest standard deviation of a SIC regression (class units) before calibration; see above.
SIC_STD_FLOOR = 0.5
#: Probabilities below this are taken as this before their logarithm (temperature scaling).
PROBABILITY_FLOOR = 1e-12
#: Half-width of the central interval in standard deviations (1.645 for 90 %).
INTERVAL_Z = NormalDist().inv_cdf(0.5 + charts.SIC_INTERVAL_PROBABILITY / 2)
#: The checkpoint key of the fitted calibration (`Calibration.to_dict`).
CALIBRATION_KEY = "calibration"


@dataclass(frozen=True)
class Calibration:
    """Temperatures per classification head and a SIC standard-deviation factor.

    Fitted on validation scenes by `kit.experiment.calibration.fit_calibration`, stored in a
    checkpoint as plain data (`to_dict`, under `CALIBRATION_KEY`) and applied by `Predictor`.

    Parameters
    ----------
    temperatures : dict of str to float
        Temperature per classification chart (1: unchanged); a chart left out is unchanged.
    sic_std_scale : float
        Factor on the standard deviation of a SIC regression head (1: unchanged).
    tta : bool
        Whether the probabilities it was fitted on averaged the 8 dihedral views.
    scenes : tuple of str
        The validation scenes it was fitted on.
    metrics : dict
        Per chart: ``pixels`` fitted on, ``nll_before``/``nll_after`` and
        ``ece_before``/``ece_after`` (percent) on those pixels.

    Raises
    ------
    KitError
        If a temperature names an unknown chart, or a temperature or the factor is not a
        finite number above 0.

    Examples
    --------
    >>> calibration = Calibration({"SOD": 1.5}, sic_std_scale=2.0, scenes=("20180124T194759_dmi",))
    >>> calibration.temperature("SOD"), calibration.temperature("FLOE")
    (1.5, 1.0)
    >>> Calibration.from_dict(calibration.to_dict()) == calibration
    True
    >>> Calibration({"SOD": 0.0})
    Traceback (most recent call last):
    ...
    kit.errors.KitError: calibration: temperature of SOD must be a finite number > 0, got 0.0
    """

    temperatures: dict[str, float] = field(default_factory=dict)
    sic_std_scale: float = 1.0
    tta: bool = False
    scenes: tuple[str, ...] = ()
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for chart, value in self.temperatures.items():
            if chart not in charts.CHARTS:
                raise KitError(f"calibration: unknown chart {chart!r} in the temperatures")
            _check_positive(value, f"temperature of {chart}")
        _check_positive(self.sic_std_scale, "sic_std_scale")

    def temperature(self, chart: str) -> float:
        """The temperature of `chart` (1.0 when it has none)."""
        return float(self.temperatures.get(chart, 1.0))

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a checkpoint (loads with ``torch.load(weights_only=True)``)."""
        return {
            "temperatures": {c: float(t) for c, t in self.temperatures.items()},
            "sic_std_scale": float(self.sic_std_scale),
            "tta": bool(self.tta),
            "scenes": list(self.scenes),
            "metrics": {c: {k: float(v) for k, v in m.items()} for c, m in self.metrics.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "calibration") -> Calibration:
        """The calibration stored by `to_dict`; a KitError names `source` if it is malformed."""
        try:
            return cls(
                temperatures={str(c): float(t) for c, t in data["temperatures"].items()},
                sic_std_scale=float(data["sic_std_scale"]),
                tta=bool(data.get("tta", False)),
                scenes=tuple(str(s) for s in data.get("scenes", ())),
                metrics={
                    str(c): {str(k): float(v) for k, v in m.items()}
                    for c, m in data.get("metrics", {}).items()
                },
            )
        except KitError as exc:
            raise KitError(f"{source}: {exc}") from None
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise KitError(f"{source}: stored calibration is malformed ({exc!r})") from None


def _check_positive(value: float, name: str) -> None:
    if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise KitError(f"calibration: {name} must be a finite number > 0, got {value!r}")


# -------------------------------------------------------------------- per chart


@dataclass
class ChartUncertainty:
    """One chart's classes and uncertainty on the working grid (uint8 maps ``[h, w]``).

    Attributes
    ----------
    classes : numpy.ndarray
        The classes (those of `Predictor.classes`).
    confidence : numpy.ndarray
        The calibrated probability of each pixel's class, percent (0-100).
    interval : tuple of numpy.ndarray or None
        SIC only: the low and high ends of the 90 % predictive interval (classes 0-10).
    probabilities : numpy.ndarray or None
        ``[K, h, w]``: every class's calibrated probability, percent, when asked for.
    """

    classes: np.ndarray
    confidence: np.ndarray
    interval: tuple[np.ndarray, np.ndarray] | None = None
    probabilities: np.ndarray | None = None


@dataclass
class ChartOutput:
    """One chart of a scene on the 80 m grid with its uncertainty (uint8 maps ``[H, W]``, MASK
    where nothing is predicted); `Predictor.scene_uncertainty` makes them.

    Attributes
    ----------
    chart : str
        SIC, SOD or FLOE.
    classes : numpy.ndarray
        The chart written in the submission.
    confidence : numpy.ndarray
        Calibrated probability of that class, percent (0-100).
    low, high : numpy.ndarray or None
        SIC only: the 90 % predictive interval, in classes, holding `classes`.
    """

    chart: str
    classes: np.ndarray
    confidence: np.ndarray
    low: np.ndarray | None = None
    high: np.ndarray | None = None
    _probabilities: np.ndarray | None = field(default=None, repr=False)
    _full: Callable[[np.ndarray], np.ndarray] | None = field(default=None, repr=False)

    def probability_maps(self) -> Iterator[tuple[int, np.ndarray]]:
        """``(k, uint8 [H, W])``: each class's probability in percent, one class at a time.

        Raises
        ------
        KitError
            If the chart was predicted without ``probabilities=True``.
        """
        if self._probabilities is None or self._full is None:
            raise KitError(f"{self.chart}: predicted without probabilities=True")
        for k in range(self._probabilities.shape[0]):
            yield k, self._full(self._probabilities[k])


def usable_calibration(calibrations: list, paths: Sequence, tta: bool) -> Calibration | None:
    """The calibration of a predictor of `paths` (their stored calibrations, None where a
    checkpoint has none), or None, with a warning, where it does not apply: an ensemble, or
    one fitted with another test-time augmentation setting than `tta`.

    Parameters
    ----------
    calibrations : list of Calibration or None
        One per checkpoint.
    paths : sequence
        The checkpoints, named by the warning.
    tta : bool
        Whether the predictor averages the 8 dihedral views.

    Returns
    -------
    Calibration or None

    Examples
    --------
    >>> usable_calibration([Calibration({"SOD": 2.0})], ["best.pt"], tta=False).temperatures
    {'SOD': 2.0}
    >>> usable_calibration([None], ["best.pt"], tta=False) is None
    True
    """
    if all(c is None for c in calibrations):
        return None
    if len(calibrations) > 1:
        warnings.warn(
            "an ensemble's probabilities are used uncalibrated: its members' calibrations do not "
            "describe their average", stacklevel=3,
        )  # fmt: skip
        return None
    calibration = calibrations[0]
    if calibration is None:
        return None
    if calibration.tta != tta:
        fitted = "with" if calibration.tta else "without"
        warnings.warn(
            f"{paths[0]}: its calibration was fitted {fitted} test-time augmentation, so the "
            f"probabilities are used uncalibrated (autoice calibrate {'--tta ' if tta else ''}"
            "refits it)", stacklevel=3,
        )  # fmt: skip
        return None
    return calibration


def chart_uncertainty(
    chart: str,
    kind: str,
    values: torch.Tensor,
    calibration: Calibration | None = None,
    probabilities: bool = False,
) -> ChartUncertainty:
    """The written classes and their uncertainty from one chart's predictive distribution.

    Parameters
    ----------
    chart : str
        SIC, SOD or FLOE.
    kind : str
        Its head kind (``classification``, ``regression`` or ``gaussian``).
    values : torch.Tensor
        Its distribution on the working grid (`Predictor.distributions`): class probabilities
        ``[K, h, w]``, or for a regression the mean and variance ``[2, h, w]``.
    calibration : Calibration, optional
        Applied to the distribution (None: as it is). The classes never depend on it.
    probabilities : bool
        Also give every class's probability in percent.

    Returns
    -------
    ChartUncertainty
        uint8 maps: classes (as `scores_to_classes` makes them), confidence, SIC interval.

    Examples
    --------
    >>> p = torch.tensor([[[0.6]], [[0.3]], [[0.1]]])  # 3 "classes", one pixel
    >>> out = chart_uncertainty("SOD", "classification", p, Calibration({"SOD": 2.0}))
    >>> out.classes.tolist(), out.confidence.tolist()  # softmax(log p / 2)[0] = 0.469
    ([[0]], [[47]])
    >>> sic = chart_uncertainty("SIC", "regression", torch.tensor([[[4.2]], [[0.75]]]))
    >>> sic.classes.tolist(), sic.confidence.tolist(), [e.tolist() for e in sic.interval]
    ([[4]], [[38]], [[[2]], [[6]]])
    """
    calibration = calibration or Calibration()
    kinds = {chart: kind}
    if is_regression(kind):
        mean = values[0]
        classes = scores_to_classes({chart: mean[None, None]}, kinds)[chart][0]
        std = sic_std(values[1], calibration.sic_std_scale)
        confidence = sic_class_probability(mean, std, classes)
        interval = gaussian_interval(mean, std, classes)
        full = sic_bin_probabilities(mean, std) if probabilities else None
    else:
        classes = scores_to_classes({chart: values[None]}, kinds)[chart][0]
        calibrated = tempered(values, calibration.temperature(chart))
        confidence = calibrated.gather(0, classes[None].long())[0]
        interval = probability_interval(calibrated, classes) if chart == "SIC" else None
        full = calibrated if probabilities else None
    return ChartUncertainty(
        classes=classes.numpy(),
        confidence=to_percent(confidence).numpy(),
        interval=None if interval is None else tuple(end.numpy() for end in interval),
        probabilities=None if full is None else to_percent(full).numpy(),
    )


# -------------------------------------------------------------------- classification heads


def tempered(probabilities: torch.Tensor, temperature: float) -> torch.Tensor:
    """Probabilities ``[K, ...]`` (classes first) under temperature scaling.

    ``softmax(log(p) / T)`` over the classes; `T` = 1 returns `probabilities` unchanged.

    Examples
    --------
    >>> p = torch.tensor([0.7, 0.2, 0.1])
    >>> tempered(p, 1.0) is p
    True
    >>> [round(v, 3) for v in tempered(p, 2.0).tolist()]  # flatter, same order
    [0.523, 0.279, 0.198]
    """
    if temperature == 1.0:
        return probabilities
    logits = torch.log(probabilities.clamp_min(PROBABILITY_FLOOR)) / temperature
    return torch.softmax(logits, dim=0)


def probability_interval(
    probabilities: torch.Tensor, classes: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The central `SIC_INTERVAL_PROBABILITY` interval of class probabilities ``[K, ...]``.

    Parameters
    ----------
    probabilities : torch.Tensor
        ``[K, ...]``, summing to 1 over the classes.
    classes : torch.Tensor
        The written class per pixel ``[...]``; the interval is widened to hold it.

    Returns
    -------
    low, high : torch.Tensor
        uint8 ``[...]``: the first class whose cumulative probability exceeds 5 %, and the
        first whose cumulative probability reaches 95 %.

    Examples
    --------
    >>> p = torch.tensor([[0.02], [0.5], [0.45], [0.03]])
    >>> [t.tolist() for t in probability_interval(p, torch.tensor([1]))]
    [[1], [2]]
    >>> [t.tolist() for t in probability_interval(p, torch.tensor([3]))]  # widened
    [[1], [3]]
    """
    tail = (1.0 - charts.SIC_INTERVAL_PROBABILITY) / 2
    cumulative = probabilities.cumsum(dim=0)
    top = probabilities.shape[0] - 1
    low = (cumulative <= tail).sum(dim=0).clamp(max=top)
    high = (cumulative < 1.0 - tail - 1e-6).sum(dim=0).clamp(max=top)
    return _holding(low, high, classes)


def _holding(low, high, classes) -> tuple[torch.Tensor, torch.Tensor]:
    classes = classes.to(low.dtype)
    return (
        torch.minimum(low, classes).to(torch.uint8),
        torch.maximum(high, classes).to(torch.uint8),
    )


# -------------------------------------------------------------------- SIC regression


def sic_std(spread_var: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """The SIC standard deviation: ``scale * sqrt(variance + SIC_STD_FLOOR**2)``.

    `spread_var` is the spread of the views and members plus any predicted variance.

    >>> sic_std(torch.tensor([0.0, 0.75]), 2.0).tolist()
    [1.0, 2.0]
    """
    return scale * torch.sqrt(spread_var.clamp_min(0.0) + SIC_STD_FLOOR**2)


def sic_class_probability(
    mean: torch.Tensor, std: torch.Tensor, classes: torch.Tensor
) -> torch.Tensor:
    """The probability of SIC class `classes` under a Gaussian in class units (bins of width 1,
    the end classes open-ended).

    >>> sic_class_probability(torch.tensor([5.0]), torch.tensor([1.0]), torch.tensor([5]))
    tensor([0.3829])
    >>> sic_class_probability(torch.tensor([12.0]), torch.tensor([1.0]), torch.tensor([10]))
    tensor([0.9938])
    """
    top = charts.N_CLASSES["SIC"] - 1
    c = classes.to(mean.dtype)
    upper = torch.where(c >= top, torch.ones_like(mean), torch.special.ndtr((c + 0.5 - mean) / std))
    lower = torch.where(c <= 0, torch.zeros_like(mean), torch.special.ndtr((c - 0.5 - mean) / std))
    return (upper - lower).clamp(0.0, 1.0)


def sic_bin_probabilities(mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """The probabilities ``[11, ...]`` of the SIC classes under a Gaussian (see
    `sic_class_probability`).

    >>> p = sic_bin_probabilities(torch.tensor([0.2]), torch.tensor([0.5]))
    >>> round(float(p.sum()), 6), p.argmax().item()
    (1.0, 0)
    """
    n_classes = charts.N_CLASSES["SIC"]
    edges = torch.arange(n_classes - 1, dtype=mean.dtype).reshape(-1, *[1] * mean.dim()) + 0.5
    cdf = torch.special.ndtr((edges - mean) / std)
    zeros, ones = torch.zeros_like(mean)[None], torch.ones_like(mean)[None]
    return torch.diff(torch.cat([zeros, cdf, ones]), dim=0)


def gaussian_interval(
    mean: torch.Tensor, std: torch.Tensor, classes: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``floor(mean - z std)``, ``ceil(mean + z std)`` clipped to 0-10 and widened to hold the
    written `classes` (uint8).

    >>> [t.tolist() for t in gaussian_interval(torch.tensor([4.2]), torch.tensor([1.0]),
    ...                                         torch.tensor([4]))]
    [[2], [6]]
    """
    top = charts.N_CLASSES["SIC"] - 1
    low = torch.floor(mean - INTERVAL_Z * std).clamp(0, top)
    high = torch.ceil(mean + INTERVAL_Z * std).clamp(0, top)
    return _holding(low, high, classes)


def to_percent(probability: torch.Tensor) -> torch.Tensor:
    """Probabilities as uint8 percent (0-100, rounded).

    >>> to_percent(torch.tensor([0.0, 0.004, 0.996, 1.0])).tolist()
    [0, 0, 100, 100]
    """
    percent = torch.nan_to_num(probability, nan=0.0) * charts.PERCENT_MAX
    return percent.round().clamp(0, charts.PERCENT_MAX).to(torch.uint8)
