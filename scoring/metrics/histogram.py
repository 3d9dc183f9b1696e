"""The joint histogram of reference and predicted values, the one pass over the pixels: a
chart's values checked (`prediction_values`, `as_chart_values`) and counted in pairs, with
OpenCV's `calcHist` where installed, else `np.bincount` (`joint_histogram`); same counts."""

from __future__ import annotations

import sys
from collections.abc import Iterable

import numpy as np

from kit.charts import (
    MASK,
)

#: Side of the joint histogram of two uint8 values.
HIST_SIDE = 256
#: Pixels per `np.bincount` call in `bincount_histogram`.
HIST_STEP = 1 << 16
#: Pixels per OpenCV `calcHist` call: its float32 counts are exact up to 2**24.
OPENCV_STEP = 1 << 24


class ChartValueError(ValueError):
    """Values that are not integers (NaN, fractions, non-numeric), or a reference's non-classes."""


def prediction_values(values: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """`values` as uint8, and where they lie outside 0-255 (None: nowhere); ChartValueError if
    they are not integers (NaN, infinity, fractions, a non-numeric type).

    Whole floats count as integers if they lie in the 64-bit integer range (so that R2 stays
    finite). Pixels outside 0-255 (negative, or above 255 in a wider type) hold 0 in the uint8
    array: `ChartTally` counts them apart with their own values. uint8 arrays are returned as
    they are (the fast path: no pass over the pixels).
    """
    values = np.asarray(values)
    kind = values.dtype.kind
    if values.dtype == np.uint8:
        return values, None
    if kind == "b":
        return values.astype(np.uint8), None
    if kind == "f":
        if not np.isfinite(values).all():
            raise ChartValueError("contains NaN or infinite values")
        if (values != np.floor(values)).any():
            raise ChartValueError("contains non-integer values")
    elif kind not in "iu":
        raise ChartValueError(f"has non-numeric type {values.dtype}")
    if not values.size:
        return values.astype(np.uint8), None
    low, high = values.min(), values.max()
    if kind == "f" and (low < -(2.0**63) or high >= 2.0**63):
        raise ChartValueError("has values beyond the 64-bit integer range")
    if low >= 0 and high <= MASK:
        return values.astype(np.uint8), None
    outside = (values < 0) | (values > MASK)
    return np.where(outside, 0, values).astype(np.uint8), outside


def as_chart_values(values: np.ndarray) -> np.ndarray:
    """`values` as uint8, or ChartValueError if they are not integers in 0-255 (a reference's
    values; whether they are classes of a chart is checked on the counts, `invalid_values`)."""
    values8, outside = prediction_values(values)
    if outside is not None:
        bad = np.unique(np.asarray(values)[outside])
        raise ChartValueError(f"has values outside 0-{MASK}: {_listing(bad.tolist())}")
    return values8


def joint_histogram(ref: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Counts of every (reference, prediction) uint8 pair, as a 256 x 256 int64 matrix.

    With OpenCV installed, each pair becomes one uint16 code (`_pair_codes`) counted by a 1-D
    `calcHist` of 65536 bins, about 30 % faster than its 2-D form on two uint8 planes; without
    it, `bincount_histogram`. Both count exactly the same. `calcHist` returns float32 counts,
    exact up to 2**24, so slices have at most `OPENCV_STEP` pixels, summed as int64.
    """
    ref, pred = np.ascontiguousarray(ref).ravel(), np.ascontiguousarray(pred).ravel()
    cv2 = _opencv()
    if cv2 is None:
        return bincount_histogram(ref, pred)
    counts = np.zeros(HIST_SIDE * HIST_SIDE, dtype=np.int64)
    for start in range(0, ref.size, OPENCV_STEP):
        stop = start + OPENCV_STEP
        for codes in _pair_codes(cv2, ref[start:stop], pred[start:stop]):
            hist = cv2.calcHist([codes], [0], None, [counts.size], [0, counts.size])
            counts += hist.ravel().astype(np.int64)
    counts = counts.reshape(HIST_SIDE, HIST_SIDE)
    # A code's high byte is the prediction on little-endian machines: rows are then predictions.
    return np.ascontiguousarray(counts.T) if sys.byteorder == "little" else counts


def _pair_codes(cv2, ref: np.ndarray, pred: np.ndarray) -> list[np.ndarray]:
    """The (reference, prediction) pairs as 1-row planes of uint16 codes (the two bytes side
    by side), the pairs of the first and second halves of the pixels alternating.

    Chart pixels come in long runs of one class, and counting into the same bin again and again
    is what makes a histogram slow (each increment waits for the one before); alternating two
    far-apart halves, which one 4-channel `cv2.merge` does while pairing the bytes, means
    neighbours rarely share a bin.
    """
    half = ref.size // 2
    pieces = (
        [[ref[:half], pred[:half], ref[half : 2 * half], pred[half : 2 * half]]] if half else []
    )
    if 2 * half < ref.size:
        pieces.append([ref[2 * half :], pred[2 * half :]])
    return [cv2.merge(planes).reshape(-1).view(np.uint16).reshape(1, -1) for planes in pieces]


def bincount_histogram(ref: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """`joint_histogram` with numpy only (the scoring program needs nothing but numpy/netCDF4).

    One `np.bincount` of `pred << 8 | ref` per slice of `HIST_STEP` pixels: slices keep the
    temporaries in the CPU cache (about twice as fast as one call on a whole scene), and with the
    prediction in the high byte the counts array stays short unless 255 is predicted.
    """
    ref, pred = ref.ravel(), pred.ravel()
    counts = np.zeros(HIST_SIDE * HIST_SIDE, dtype=np.int64)
    for start in range(0, ref.size, HIST_STEP):
        index = pred[start : start + HIST_STEP].astype(np.uint16)
        index <<= 8
        index |= ref[start : start + HIST_STEP]
        part = np.bincount(index)
        counts[: part.size] += part
    return counts.reshape(HIST_SIDE, HIST_SIDE).T


def lookup(table: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``table[values]`` for a uint8 `table` of 256 entries and uint8 `values`: OpenCV's `LUT`
    where installed (about six times faster than numpy's indexing), numpy otherwise.

    Examples
    --------
    >>> table = np.arange(256, dtype=np.uint8)[::-1].copy()
    >>> lookup(table, np.array([[0, 1], [254, 255]], dtype=np.uint8)).tolist()
    [[255, 254], [1, 0]]
    """
    cv2 = _opencv()
    values = np.asarray(values)
    if cv2 is None or values.ndim not in (1, 2) or not values.size:
        return table[values]
    flat = values.ndim == 1
    result = cv2.LUT(np.ascontiguousarray(values.reshape(1, -1) if flat else values), table)
    return result.reshape(values.shape)


def count_between(values: np.ndarray, low: int, high: int) -> int:
    """How many uint8 `values` lie in [low, high]: OpenCV's `inRange` and `countNonZero` where
    installed (one pass, about three times faster than a look-up and a count), numpy otherwise.

    Examples
    --------
    >>> count_between(np.array([[0, 7, 11], [200, 254, 255]], dtype=np.uint8), 7, 254)
    4
    """
    cv2 = _opencv()
    values = np.asarray(values)
    if cv2 is None or values.ndim not in (1, 2) or not values.size:
        return int(np.count_nonzero((values >= low) & (values <= high)))
    plane = np.ascontiguousarray(values.reshape(1, -1) if values.ndim == 1 else values)
    return int(cv2.countNonZero(cv2.inRange(plane, low, high)))


def warm_up() -> None:
    """Import the optional libraries counting uses now rather than on the first scene."""
    _opencv()


def _opencv():
    """The `cv2` module, or None where OpenCV is not installed (e.g. a bare scoring image)."""
    try:
        import cv2
    except ImportError:
        return None
    return cv2


def _listing(values: Iterable, limit: int = 8) -> str:
    values = [str(v) for v in values]
    more = f" (and {len(values) - limit} more)" if len(values) > limit else ""
    return ", ".join(values[:limit]) + more
