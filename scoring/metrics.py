"""The AutoICE metric, computed by streaming from sufficient statistics.

The challenge pools the valid pixels (reference != 255) of all scenes per chart and scores them
with scikit-learn: R2 on the class values for SIC, support-weighted F1 for SOD and FLOE. Both
are functions of the joint counts of (reference class, predicted value), so we never keep
pixels: each scene adds its confusion matrix (a 2-D histogram of the uint8 pairs), and the
scores are computed from the summed matrices. R2 is evaluated in exact integer arithmetic and
F1 exactly as scikit-learn does, so results equal the pooled computation to rounding error.

This module is the ONE implementation of the metric: the scorer streams submission files
through it, and training code scores validation predictions with it::

    acc = ScoreAccumulator()
    for scene_id, chart, pred, ref in validation_batches:
        acc.update(scene_id, chart, pred, ref)   # numpy arrays, any integer dtype
    report = acc.report()                       # report.combined, report.charts["SIC"], ...

A predicted 255 ("no prediction") where the reference is valid is kept as the value 255, as in
the challenge's pooled computation: it is a wrong class for F1 and a large error for R2.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable

import numpy as np

from kit.charts import CHART_WEIGHTS, CHARTS, CLASS_NAMES, MASK, METRICS, N_CLASSES, combined_score
from scoring.report import ChartResult, ClassScore, Report, challenge_combined, rounded

#: Side of the joint histogram of two uint8 values.
HIST_SIDE = 256
#: Pixels per `np.bincount` call in `bincount_histogram`.
HIST_STEP = 1 << 16
#: Pixels per OpenCV `calcHist` call: its float32 counts are exact up to 2**24.
OPENCV_STEP = 1 << 24


class ChartValueError(ValueError):
    """Values that are not chart classes (NaN, fractions, negative, out-of-class)."""


def as_chart_values(values: np.ndarray) -> np.ndarray:
    """`values` as uint8 class values, or ChartValueError saying why they cannot be.

    Integer arrays must lie in 0-255; float arrays must hold whole, finite numbers. Whether the
    values are classes of a given chart is checked on the histogram (`invalid_values`).
    """
    values = np.asarray(values)
    kind = values.dtype.kind
    if values.dtype == np.uint8:
        return values
    if kind == "b":
        return values.astype(np.uint8)
    if kind == "f":
        if not np.isfinite(values).all():
            raise ChartValueError("contains NaN or infinite values")
        if (values != np.floor(values)).any():
            raise ChartValueError("contains non-integer values")
    elif kind not in "iu":
        raise ChartValueError(f"has non-numeric type {values.dtype}")
    if values.size and (values.min() < 0 or values.max() > MASK):
        bad = np.unique(values[(values < 0) | (values > MASK)])
        raise ChartValueError(f"has values outside 0-{MASK}: {_listing(bad)}")
    return values.astype(np.uint8)


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


def invalid_values(value_counts: np.ndarray, chart: str) -> list[int]:
    """Values with a nonzero count that are neither a class of `chart` nor MASK."""
    counts = value_counts[N_CLASSES[chart] : MASK]
    return [int(v) + N_CLASSES[chart] for v in np.flatnonzero(counts)]


def chart_values_message(chart: str, bad: Iterable[int]) -> str:
    """Problem text for values outside a chart's classes."""
    return f"has values outside the {chart} classes 0-{N_CLASSES[chart] - 1} (or {MASK}): {_listing(bad)}"


def confusion_from_histogram(hist: np.ndarray, chart: str) -> np.ndarray:
    """The chart's confusion matrix: valid reference classes x (predicted classes + MASK)."""
    n = N_CLASSES[chart]
    columns = list(range(n)) + [MASK]
    return hist[:n][:, columns].astype(np.int64)


def r2_from_confusion(confusion: np.ndarray) -> float:
    """scikit-learn `r2_score` of the pooled pixels, in exact integer arithmetic.

    NaN with fewer than two pixels; for a constant reference 1.0 if the prediction is perfect
    and 0.0 otherwise (scikit-learn's `force_finite` convention).
    """
    n_classes = confusion.shape[0]
    ref_values = np.arange(n_classes, dtype=np.int64)
    pred_values = np.array(list(range(n_classes)) + [MASK], dtype=np.int64)
    support = confusion.sum(axis=1)
    n = int(support.sum())
    if n < 2:
        return math.nan
    sum_ref = int((support * ref_values).sum())
    sum_ref_sq = int((support * ref_values**2).sum())
    squared_error = int((confusion * (ref_values[:, None] - pred_values[None, :]) ** 2).sum())
    n_times_total = n * sum_ref_sq - sum_ref * sum_ref  # n * sum((ref - mean)^2), exact
    if n_times_total == 0:
        return 1.0 if squared_error == 0 else 0.0
    return 1.0 - (n * squared_error) / n_times_total


def class_scores(confusion: np.ndarray, chart: str) -> list[ClassScore]:
    """Precision, recall, F1 and support of each class of `chart` (None where 0/0)."""
    tp = np.diag(confusion[:, :-1])
    support = confusion.sum(axis=1)
    predicted = confusion[:, :-1].sum(axis=0)
    return [
        ClassScore(
            value=k,
            name=CLASS_NAMES[chart][k],
            support=int(support[k]),
            predicted=int(predicted[k]),
            precision=_ratio(tp[k], predicted[k]),
            recall=_ratio(tp[k], support[k]),
            f1=_ratio(2 * tp[k], support[k] + predicted[k]),
        )
        for k in range(confusion.shape[0])
    ]


def weighted_f1_from_confusion(confusion: np.ndarray) -> float:
    """scikit-learn `f1_score(average='weighted')` of the pooled pixels; NaN with no pixel.

    Labels only predicted (including 255) have zero support and so zero weight, exactly as in
    scikit-learn, which averages over the union of labels of reference and prediction.
    """
    tp = np.diag(confusion[:, :-1]).astype(np.float64)
    support = confusion.sum(axis=1)
    predicted = confusion[:, :-1].sum(axis=0)
    if support.sum() == 0:
        return math.nan
    present = support > 0  # every such label has support + predicted > 0
    f1 = 2 * tp[present] / (support[present] + predicted[present])
    return float(np.average(f1, weights=support[present]))


def chart_score(confusion: np.ndarray, chart: str) -> float:
    """The chart's challenge score as a fraction (not yet x100)."""
    if METRICS[chart] == "r2":
        return r2_from_confusion(confusion)
    return weighted_f1_from_confusion(confusion)


class ScoreAccumulator:
    """Sums per-scene confusion matrices and turns them into a `Report`.

    `update` takes in-memory arrays (training validation); `add_histogram` takes an already
    validated 256 x 256 joint histogram (the file scorer, which streams row blocks). Calling
    either several times for the same scene and chart adds up (e.g. tile by tile).
    """

    def __init__(self) -> None:
        self._confusion: dict[str, dict[str, np.ndarray]] = {}

    @property
    def scenes(self) -> list[str]:
        """Scene ids seen so far, in first-seen order."""
        return list(self._confusion)

    def update(self, scene_id: str, chart: str, pred: np.ndarray, ref: np.ndarray) -> None:
        """Add one scene's (or tile's) predicted and reference chart; 255 in `ref` is ignored.

        Raises ValueError for an unknown chart, different shapes, or values that are not classes
        of the chart (or 255).
        """
        if chart not in CHARTS:
            raise ValueError(f"unknown chart {chart!r}; expected one of {', '.join(CHARTS)}")
        pred, ref = np.asarray(pred), np.asarray(ref)
        if pred.shape != ref.shape:
            raise ValueError(
                f"{scene_id} {chart}: prediction shape {pred.shape} != reference shape {ref.shape}"
            )
        arrays = {}
        for role, values in (("prediction", pred), ("reference", ref)):
            try:
                arrays[role] = as_chart_values(values)
            except ChartValueError as exc:
                raise ValueError(f"{scene_id} {chart} {role} {exc}") from None
        hist = joint_histogram(arrays["reference"], arrays["prediction"])
        for role, counts in (("prediction", hist.sum(axis=0)), ("reference", hist.sum(axis=1))):
            bad = invalid_values(counts, chart)
            if bad:
                raise ValueError(f"{scene_id} {chart} {role} {chart_values_message(chart, bad)}")
        self.add_histogram(scene_id, chart, hist)

    def add_histogram(self, scene_id: str, chart: str, hist: np.ndarray) -> None:
        """Add a validated joint histogram (`joint_histogram`) of one scene and chart."""
        self.add_confusion(scene_id, chart, confusion_from_histogram(hist, chart))

    def add_confusion(self, scene_id: str, chart: str, confusion: np.ndarray) -> None:
        """Add a confusion matrix (`confusion_from_histogram`) of one scene and chart."""
        per_chart = self._confusion.setdefault(scene_id, {})
        if chart in per_chart:
            per_chart[chart] = per_chart[chart] + confusion
        else:
            per_chart[chart] = confusion

    def confusion(self, chart: str, scenes: Iterable[str] | None = None) -> np.ndarray:
        """The pooled confusion matrix of `chart` over `scenes` (default: all seen)."""
        n = N_CLASSES[chart]
        total = np.zeros((n, n + 1), dtype=np.int64)
        for scene in self.scenes if scenes is None else scenes:
            matrix = self._confusion.get(scene, {}).get(chart)
            if matrix is not None:
                total += matrix
        return total

    def report(
        self,
        scenes: Iterable[str] | None = None,
        *,
        split: str | None = None,
        notes: Iterable[str] = (),
    ) -> Report:
        """Scores over `scenes` (default: all seen) in percent, with per-scene and per-class detail.

        `notes` are extra warnings to carry in the report (e.g. from file validation).
        """
        scenes = self.scenes if scenes is None else list(scenes)
        unknown = [s for s in scenes if s not in self._confusion]
        if unknown:
            raise ValueError(f"no predictions were added for scenes: {', '.join(unknown)}")
        details = {chart: self._chart_result(chart, scenes) for chart in CHARTS}
        charts = {chart: details[chart].score for chart in CHARTS}
        charts_rounded = {chart: rounded(s) for chart, s in charts.items()}
        combined = _combined(charts)
        warning_list = list(notes)
        for chart, result in details.items():
            if math.isnan(result.score):
                warning_list.append(f"{chart} score is undefined: {result.n_pixels} valid pixels")
            if result.no_prediction:
                warning_list.append(
                    f"{chart}: {result.no_prediction} pixels with a valid reference are "
                    f"{MASK} (no prediction) and count as wrong"
                )
        return Report(
            combined=combined,
            combined_rounded=challenge_combined(charts_rounded),
            charts=charts,
            charts_rounded=charts_rounded,
            per_scene={scene: self._scene_scores(scene) for scene in scenes},
            details=details,
            warnings=warning_list,
            scenes=scenes,
            split=split,
        )

    def _scene_scores(self, scene: str) -> dict[str, float]:
        scores = {}
        for chart in CHARTS:
            scores[chart] = 100.0 * chart_score(self.confusion(chart, [scene]), chart)
        scores["combined"] = _combined(scores)
        return scores

    def _chart_result(self, chart: str, scenes: list[str]) -> ChartResult:
        confusion = self.confusion(chart, scenes)
        score = 100.0 * chart_score(confusion, chart)
        return ChartResult(
            chart=chart,
            metric=METRICS[chart],
            score=score,
            score_rounded=rounded(score),
            n_pixels=int(confusion.sum()),
            no_prediction=int(confusion[:, -1].sum()),
            classes=class_scores(confusion, chart),
            confusion=confusion.tolist(),
            confusion_columns=list(CLASS_NAMES[chart]) + [f"{MASK} (no prediction)"],
        )


def _combined(charts: dict[str, float]) -> float:
    if any(math.isnan(charts[c]) for c in CHART_WEIGHTS):
        return math.nan
    return combined_score(charts)


def _ratio(num, den) -> float | None:
    return float(num) / float(den) if den else None


def _listing(values: Iterable, limit: int = 8) -> str:
    values = [str(v) for v in values]
    more = f" (and {len(values) - limit} more)" if len(values) > limit else ""
    return ", ".join(values[:limit]) + more
