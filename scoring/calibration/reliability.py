"""Expected and maximum calibration error and the reliability table, from pixels counted per
confidence level (`LevelCounts.totals`, `LevelCounts.correct`).

Confidence c = level / 100 falls in one of `N_BINS` equal-width bins of [0, 1]: bin b holds
[b / 10, (b + 1) / 10), and a confidence of exactly 1 the last bin. Levels are whole numbers,
so a level's bin is ``min(level // 10, 9)`` exactly (no floating-point edge). With n_b pixels,
accuracy acc_b (the share whose submitted class is the reference class) and mean confidence
conf_b in bin b, and N pixels in all::

    ECE = sum_b (n_b / N) |acc_b - conf_b|        MCE = max over non-empty bins |acc_b - conf_b|

Every function takes one or many pools at once (leading axes), for the bootstrap.
"""

from __future__ import annotations

import numpy as np

from scoring.calibration.counts import LEVELS

#: Equal-width confidence bins of [0, 1].
N_BINS = 10
#: Bin of each confidence level 0-100.
LEVEL_BIN = np.minimum(np.arange(LEVELS) * N_BINS // (LEVELS - 1), N_BINS - 1)
#: [LEVELS, N_BINS] indicator: level -> its bin (sums per bin are one matrix product).
_BIN_MATRIX = (LEVEL_BIN[:, None] == np.arange(N_BINS)[None, :]).astype(np.float64)


def bin_sums(totals: np.ndarray, correct: np.ndarray) -> tuple[np.ndarray, ...]:
    """Pixels, correct pixels and summed confidence (fractions) per bin, [..., N_BINS] each.

    Examples
    --------
    >>> totals, correct = np.zeros(101), np.zeros(101)
    >>> totals[[95, 100]] = 1
    >>> [a[-1].item() for a in bin_sums(totals, correct)]  # both in the last bin
    [2.0, 0.0, 1.95]
    """
    totals = np.asarray(totals, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    confidence = np.arange(LEVELS) / (LEVELS - 1)
    return totals @ _BIN_MATRIX, correct @ _BIN_MATRIX, (totals * confidence) @ _BIN_MATRIX


def calibration_errors(totals: np.ndarray, correct: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ECE and MCE (fractions) of one pool ([LEVELS] counts) or of many ([m, LEVELS]); NaN
    where there is no pixel.

    Parameters
    ----------
    totals : numpy.ndarray
        Pixels per confidence level (0-100 percent), ``[LEVELS]`` or ``[m, LEVELS]``.
    correct : numpy.ndarray
        Of those, the pixels whose submitted class is the reference class; same shape.

    Returns
    -------
    ece, mce : numpy.ndarray
        Per pool: ECE (10 equal-width bins, the pixel-weighted mean of the absolute gap
        between accuracy and mean confidence) and MCE (the largest gap of a non-empty bin),
        as fractions.

    Examples
    --------
    Ten pixels at 90 %, nine right; ten at 60 %, three right:

    >>> totals, correct = np.zeros(101), np.zeros(101)
    >>> totals[90], correct[90], totals[60], correct[60] = 10, 9, 10, 3
    >>> ece, mce = calibration_errors(totals, correct)
    >>> round(float(ece), 6), round(float(mce), 6)  # (0 * 10 + 0.3 * 10) / 20, max(0, 0.3)
    (0.15, 0.3)
    """
    n, right, confidence = bin_sums(totals, correct)
    total = n.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        gap = np.abs(right - confidence) / n
        ece = np.where(n > 0, n * gap, 0.0).sum(axis=-1) / total
        mce = np.where(n > 0, gap, -np.inf).max(axis=-1)
    return np.where(total > 0, ece, np.nan), np.where(total > 0, mce, np.nan)


def reliability_table(totals: np.ndarray, correct: np.ndarray) -> list[dict]:
    """The reliability table of one pool: per bin its bounds, pixels, mean confidence,
    accuracy and gap (accuracy - mean confidence); None for the ratios of an empty bin.

    Examples
    --------
    >>> totals, correct = np.zeros(101), np.zeros(101)
    >>> totals[100], correct[100] = 4, 3
    >>> table = reliability_table(totals, correct)
    >>> table[9]
    {'low': 0.9, 'high': 1.0, 'pixels': 4, 'mean_confidence': 1.0, 'accuracy': 0.75, 'gap': -0.25}
    >>> table[0]["pixels"], table[0]["accuracy"]
    (0, None)
    """
    n, right, confidence = bin_sums(totals, correct)
    rows = []
    for b in range(N_BINS):
        pixels = int(n[b])
        accuracy = float(right[b] / n[b]) if pixels else None
        mean = float(confidence[b] / n[b]) if pixels else None
        rows.append(
            {
                "low": b / N_BINS,
                "high": (b + 1) / N_BINS,
                "pixels": pixels,
                "mean_confidence": mean,
                "accuracy": accuracy,
                "gap": None if not pixels else accuracy - mean,
            }
        )
    return rows
