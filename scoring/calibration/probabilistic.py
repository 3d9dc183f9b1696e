"""Scores of the full class probabilities: Brier score and negative log-likelihood.

Over the scored pixels (reference not 255) where the submission has a prediction, with
p_k = P_k / 100 from the probabilities file's percentages (as written: not renormalised, their
sum may be off 100 by rounding, `scoring.files.uncertainty.probability_sum_tolerance`):

- Brier = mean over pixels of sum_k (p_k - [k = reference])**2 (0 is perfect, 2 the worst);
- NLL = mean over pixels of -ln max(p_reference, NLL_EPSILON). A percentage rounded to 0 means
  a probability below half a point, so it is clipped at `NLL_EPSILON` = 0.005, the most such a
  0 can stand for (a rounded 0 then costs ln 200 = 5.3 nats, not infinity).

Both are computed exactly from integer sufficient statistics (`ProbabilityCounts`).
"""

from __future__ import annotations

import numpy as np

from kit.charts import PERCENT_MAX
from scoring.calibration.counts import LEVELS, ProbabilityCounts

#: Smallest probability the NLL takes: half a percentage point.
NLL_EPSILON = 0.005
#: -ln max(level / 100, NLL_EPSILON) per probability level 0-100.
LEVEL_NLL = 0.0 - np.log(np.maximum(np.arange(LEVELS) / PERCENT_MAX, NLL_EPSILON))


def brier_and_nll(
    pixels: np.ndarray, brier: np.ndarray, reference_levels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Brier score and NLL of one pool or many (`pixels` [...], `brier` sums [...] in percent
    squared, `reference_levels` [..., LEVELS]); NaN with no pixel.

    Examples
    --------
    One pixel of reference 0 with p = (0.7, 0.3), one of reference 1 with p = (0.0, 1.0):
    Brier = ((0.3**2 + 0.3**2) + 0) / 2 = 0.09, NLL = (-ln 0.7 - ln 1) / 2.

    >>> levels = np.zeros(101)
    >>> levels[[70, 100]] = 1
    >>> brier, nll = brier_and_nll(np.array(2), np.array(900 + 900), levels)
    >>> round(float(brier), 6), round(float(nll), 6), round(-np.log(0.7) / 2, 6)
    (0.09, 0.178337, np.float64(0.178337))
    """
    pixels = np.asarray(pixels, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.asarray(brier, dtype=np.float64) / PERCENT_MAX**2 / pixels
        nll = (np.asarray(reference_levels, dtype=np.float64) @ LEVEL_NLL) / pixels
    return np.where(pixels > 0, score, np.nan), np.where(pixels > 0, nll, np.nan)


def probability_summary(counts: ProbabilityCounts) -> dict:
    """Brier score, NLL, their pixels and the scored pixels without probabilities.

    Examples
    --------
    >>> counts = ProbabilityCounts(pixels=1, brier=0)
    >>> counts.reference_levels[100] = 1
    >>> probability_summary(counts)
    {'brier': 0.0, 'nll': 0.0, 'pixels': 1, 'no_probability': 0}
    """
    brier, nll = brier_and_nll(
        np.array(counts.pixels), np.array(counts.brier), counts.reference_levels
    )
    return {
        "brier": float(brier),
        "nll": float(nll),
        "pixels": int(counts.pixels),
        "no_probability": int(counts.no_probability),
    }
