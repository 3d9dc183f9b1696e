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
the challenge's pooled computation: it is a wrong class for F1 and a large error for R2. So is
any other integer outside the chart's classes (e.g. FLOE 7, SIC -1 or 300): it matches no
reference class (for F1 a label that is never true, with zero weight, as in scikit-learn) and
enters R2 with its own value. Such values are counted apart from the classes (`ChartCounts`)
and reported in a warning; `strict` callers reject them instead.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from kit.charts import (
    CHART_WEIGHTS,
    CHARTS,
    CLASS_NAMES,
    MASK,
    METRICS,
    N_CLASSES,
    combined_score,
    submission_variable,
)
from scoring.metrics.histogram import (
    HIST_SIDE,
    ChartValueError,
    as_chart_values,
    joint_histogram,
    prediction_values,
)
from scoring.metrics.report import ChartResult, ClassScore, Report, challenge_combined, rounded

#: Distinct out-of-class values kept per `ChartCounts` for messages (one more says "...").
LISTED_VALUES = 8


def invalid_values(value_counts: np.ndarray, chart: str) -> list[int]:
    """Values with a nonzero count that are neither a class of `chart` nor MASK."""
    counts = value_counts[N_CLASSES[chart] : MASK]
    return [int(v) + N_CLASSES[chart] for v in np.flatnonzero(counts)]


def chart_values_message(chart: str, bad: Iterable[int], pixels: int | None = None) -> str:
    """Problem text for values outside a chart's classes (with their pixel count if given)."""
    where = "values" if pixels is None else f"{pixels} pixels with values"
    return f"has {where} outside the {chart} classes 0-{N_CLASSES[chart] - 1} (or {MASK}): {_values_text(bad)}"  # fmt: skip


@dataclass
class ChartCounts:
    """What the scores need of one chart's pixels (a scene, a tile, or pooled); counts add up.

    - `confusion`: valid reference class x predicted value, int64; its columns are the chart's
      classes, then "out of class" (any other value but MASK), then MASK (no prediction).
    - `out_squared_error`: per reference class, the exact sum of (class - value)**2 over its
      out-of-class predictions, for R2 (which takes the predicted value itself).
    - `out_unscored`: out-of-class predictions where the reference is MASK (not scored).
    - `out_values`: the smallest distinct out-of-class values, at most LISTED_VALUES + 1.
    """

    confusion: np.ndarray
    out_squared_error: tuple[int, ...]
    out_unscored: int = 0
    out_values: tuple[int, ...] = ()

    @classmethod
    def empty(cls, chart: str) -> ChartCounts:
        n = N_CLASSES[chart]
        return cls(np.zeros((n, n + 2), dtype=np.int64), (0,) * n)

    def __add__(self, other: ChartCounts) -> ChartCounts:
        squared = tuple(a + b for a, b in zip(self.out_squared_error, other.out_squared_error))
        values = tuple(sorted(set(self.out_values) | set(other.out_values))[: LISTED_VALUES + 1])
        return ChartCounts(
            self.confusion + other.confusion,
            squared,
            self.out_unscored + other.out_unscored,
            values,
        )

    @property
    def out_of_class(self) -> int:
        """Scored pixels (valid reference) predicted outside the chart's classes."""
        return int(self.confusion[:, -2].sum())

    @property
    def out_total(self) -> int:
        """Every pixel predicted outside the chart's classes, scored or not."""
        return self.out_of_class + self.out_unscored

    @property
    def no_prediction(self) -> int:
        """Scored pixels predicted MASK."""
        return int(self.confusion[:, -1].sum())


def counts_from_histogram(hist: np.ndarray, chart: str) -> ChartCounts:
    """`ChartCounts` of a joint histogram of uint8 pairs whose reference values are classes or
    MASK (checked with `invalid_values`). Work on the 256 x 256 counts only, never per pixel."""
    n = N_CLASSES[chart]
    rows = hist[:n].astype(np.int64)
    out = rows[:, n:MASK]  # predicted values beyond the classes, 0-254
    confusion = np.concatenate([rows[:, :n], out.sum(axis=1, keepdims=True), rows[:, MASK:]], 1)
    distance = np.arange(n)[:, None] - np.arange(n, MASK)[None, :]
    squared = (out * distance**2).sum(axis=1)  # at most 254**2 per pixel: no int64 overflow
    values = np.flatnonzero(hist[:, n:MASK].sum(axis=0)) + n
    return ChartCounts(
        confusion,
        tuple(int(x) for x in squared),
        int(hist[MASK, n:MASK].sum()),
        tuple(int(v) for v in values[: LISTED_VALUES + 1]),
    )


def counts_outside(ref: np.ndarray, values: np.ndarray, chart: str) -> ChartCounts:
    """`ChartCounts` of predictions outside 0-255 (`values`: integers or whole floats, any
    size) over their uint8 reference values `ref`; reference values other than classes and
    MASK are skipped (the caller checks them). Exact: Python integers, per distinct value."""
    n = N_CLASSES[chart]
    confusion = np.zeros((n, n + 2), dtype=np.int64)
    squared = [0] * n
    for k in np.unique(ref[ref < n]).tolist():
        distinct, number = np.unique(values[ref == k], return_counts=True)
        confusion[k, n] = number.sum()
        pairs = zip(distinct.tolist(), number.tolist())
        squared[k] = sum(count * (k - int(value)) ** 2 for value, count in pairs)
    listed = tuple(int(v) for v in np.unique(values)[: LISTED_VALUES + 1].tolist())
    return ChartCounts(confusion, tuple(squared), int((ref == MASK).sum()), listed)


class ChartTally:
    """One chart's (reference, prediction) pairs, counted a block of pixels at a time.

    Pairs whose prediction is in 0-255 go into a 256 x 256 joint histogram (`joint_histogram`,
    the fast path); predictions outside 0-255 (negative, or above 255 in a wider integer type:
    rare) are counted apart with their own values (`counts_outside`).
    """

    def __init__(self, chart: str) -> None:
        self.chart = chart
        self.histogram = np.zeros((HIST_SIDE, HIST_SIDE), dtype=np.int64)
        self._outside = ChartCounts.empty(chart)
        self._outside_references = np.zeros(HIST_SIDE, dtype=np.int64)

    def add(self, ref: np.ndarray, pred: np.ndarray) -> None:
        """Count a block: `ref` uint8 (`as_chart_values`), `pred` as stored, of the same shape.

        ChartValueError if `pred` holds values that are not integers.
        """
        pred8, outside = prediction_values(pred)
        if outside is not None:
            ref_outside = ref[outside]
            self._outside_references += np.bincount(ref_outside, minlength=HIST_SIDE)
            self._outside += counts_outside(ref_outside, np.asarray(pred)[outside], self.chart)
            inside = ~outside
            ref, pred8 = ref[inside], pred8[inside]
        self.histogram += joint_histogram(ref, pred8)

    def reference_counts(self) -> np.ndarray:
        """Pixels per reference value 0-255, to check the reference (`invalid_values`)."""
        return self.histogram.sum(axis=1) + self._outside_references

    def counts(self) -> ChartCounts:
        """The `ChartCounts` of every pixel added (check `reference_counts` first)."""
        return counts_from_histogram(self.histogram, self.chart) + self._outside


def validated_counts(
    chart: str, pred: np.ndarray, ref: np.ndarray, *, strict: bool = False
) -> ChartCounts:
    """The `ChartCounts` of in-memory arrays, or ChartValueError starting with "prediction" or
    "reference" (see `ScoreAccumulator.update`)."""
    try:
        ref = as_chart_values(ref)
    except ChartValueError as exc:
        raise ChartValueError(f"reference {exc}") from None
    tally = ChartTally(chart)
    try:
        tally.add(ref, pred)
    except ChartValueError as exc:
        raise ChartValueError(f"prediction {exc}") from None
    bad = invalid_values(tally.reference_counts(), chart)
    if bad:
        raise ChartValueError(f"reference {chart_values_message(chart, bad)}")
    counts = tally.counts()
    if strict and counts.out_total:
        raise ChartValueError(f"prediction {strict_message(chart, counts)}")
    return counts


def strict_message(chart: str, counts: ChartCounts) -> str:
    """Problem text, when out-of-class predictions are rejected (strict), with their count."""
    return chart_values_message(chart, counts.out_values, counts.out_total)


def out_of_class_warning(variable: str, chart: str, counts: ChartCounts) -> str:
    """Warning text for out-of-class predictions of one variable, scored as wrong."""
    classes = f"{chart}'s classes 0-{N_CLASSES[chart] - 1} ({_values_text(counts.out_values)})"
    text = f"{variable}: {counts.out_of_class} pixels with values outside {classes} scored as wrong"
    if counts.out_unscored:
        text += f"; {counts.out_unscored} more where the reference is {MASK} are not scored"
    return text


def r2_from_confusion(confusion: np.ndarray, out_squared_error: int = 0) -> float:
    """scikit-learn `r2_score` of the pooled pixels, in exact integer arithmetic.

    The SIC score, from counts instead of pixels: the result equals scikit-learn's on the
    pooled pixels to rounding error, however many scenes were added.

    Parameters
    ----------
    confusion : numpy.ndarray
        Valid reference class x predicted value counts, int64 ``[n, n + 2]``: the columns of
        `ChartCounts.confusion` (the chart's classes, out of class, MASK).
    out_squared_error : int
        Sum of (class - value)**2 over the out-of-class predictions (their values are not in
        `confusion`).

    Returns
    -------
    float
        R2 (1.0 is perfect; below 0 is worse than predicting the mean). NaN with fewer than
        two pixels. For a constant reference, where R2 is 0/0, 1.0 if the prediction is
        perfect and 0.0 otherwise (scikit-learn's ``force_finite`` convention).

    Examples
    --------
    A constant reference: five pixels of 100 % ice (class 10).

    >>> confusion = np.zeros((11, 13), dtype=np.int64)
    >>> confusion[10, 10] = 5  # all predicted 10: perfect
    >>> r2_from_confusion(confusion)
    1.0
    >>> confusion[10, 9] = 1  # one more pixel of 100 % predicted as 90 %
    >>> r2_from_confusion(confusion)
    0.0

    Reference 0, 10, 10 predicted as 0, 9, 10, and fewer than two pixels:

    >>> confusion = np.zeros((11, 13), dtype=np.int64)
    >>> confusion[0, 0] = confusion[10, 9] = confusion[10, 10] = 1
    >>> round(r2_from_confusion(confusion), 6)
    0.985
    >>> r2_from_confusion(np.zeros((11, 13), dtype=np.int64))
    nan
    """
    n_classes = confusion.shape[0]
    ref_values = np.arange(n_classes, dtype=np.int64)
    pred_values = np.array(list(range(n_classes)) + [MASK], dtype=np.int64)
    known = np.delete(confusion, n_classes, axis=1)  # the columns of one predicted value each
    support = confusion.sum(axis=1)
    n = int(support.sum())
    if n < 2:
        return math.nan
    sum_ref = int((support * ref_values).sum())
    sum_ref_sq = int((support * ref_values**2).sum())
    squared_error = int((known * (ref_values[:, None] - pred_values[None, :]) ** 2).sum())
    squared_error += out_squared_error
    n_times_total = n * sum_ref_sq - sum_ref * sum_ref  # n * sum((ref - mean)^2), exact
    if n_times_total == 0:
        return 1.0 if squared_error == 0 else 0.0
    return 1.0 - (n * squared_error) / n_times_total


def class_scores(confusion: np.ndarray, chart: str) -> list[ClassScore]:
    """Precision, recall, F1 and support of each class of `chart` (None where 0/0)."""
    n = confusion.shape[0]
    tp = np.diag(confusion[:, :n])
    support = confusion.sum(axis=1)
    predicted = confusion[:, :n].sum(axis=0)
    return [
        ClassScore(
            value=k,
            name=CLASS_NAMES[chart][k],
            support=int(support[k]),
            predicted=int(predicted[k]),
            precision=ratio(tp[k], predicted[k]),
            recall=ratio(tp[k], support[k]),
            f1=ratio(2 * tp[k], support[k] + predicted[k]),
        )
        for k in range(n)
    ]


def weighted_f1_from_confusion(confusion: np.ndarray) -> float:
    """scikit-learn `f1_score(average='weighted')` of the pooled pixels; NaN with no pixel.

    Labels only predicted (out-of-class values, 255) have zero support and so zero weight,
    exactly as in scikit-learn, which averages over the union of labels of reference and
    prediction; they lower the recall of the classes they stand for.
    """
    n = confusion.shape[0]
    tp = np.diag(confusion[:, :n]).astype(np.float64)
    support = confusion.sum(axis=1)
    predicted = confusion[:, :n].sum(axis=0)
    if support.sum() == 0:
        return math.nan
    present = support > 0  # every such label has support + predicted > 0
    f1 = 2 * tp[present] / (support[present] + predicted[present])
    return float(np.average(f1, weights=support[present]))


def chart_score(counts: ChartCounts, chart: str) -> float:
    """The chart's challenge score as a fraction (not yet x100)."""
    if METRICS[chart] == "r2":
        return r2_from_confusion(counts.confusion, sum(counts.out_squared_error))
    return weighted_f1_from_confusion(counts.confusion)


class ScoreAccumulator:
    """Sums per-scene `ChartCounts` and turns them into a `Report`.

    The one implementation of the challenge metric: the file scorer and training validation
    both use it, so a validation score is the score a submission would get. Only confusion
    counts are kept, never pixels.

    `update` takes in-memory arrays (training validation); `add_counts` takes the counts of an
    already validated chart (the file scorer, which streams row blocks through `ChartTally`).
    Calling either several times for the same scene and chart adds up (e.g. tile by tile).

    Examples
    --------
    >>> acc = ScoreAccumulator()
    >>> ref = np.array([[0, 10], [10, 255]])  # 255: no label, not scored
    >>> acc.update("20180124T194759_dmi", "SIC", np.array([[0, 9], [10, 3]]), ref)
    >>> acc.update("20180124T194759_dmi", "SOD", np.array([[0, 1], [1, 0]]),
    ...            np.array([[0, 1], [1, 255]]))
    >>> acc.update("20180124T194759_dmi", "FLOE", np.array([[0, 2], [2, 0]]),
    ...            np.array([[0, 2], [3, 255]]))
    >>> report = acc.report()
    >>> report.charts
    {'SIC': 98.5, 'SOD': 100.0, 'FLOE': 55.55555555555555}
    >>> round(report.combined, 3)  # (2 SIC + 2 SOD + 1 FLOE) / 5, in percent
    90.511
    >>> acc.update("20180124T194759_dmi", "SIC", np.zeros((2, 2)), np.zeros((3, 3)))
    Traceback (most recent call last):
    ...
    ValueError: 20180124T194759_dmi SIC: prediction shape (2, 2) != reference shape (3, 3)
    """

    def __init__(self) -> None:
        self._counts: dict[str, dict[str, ChartCounts]] = {}

    @property
    def scenes(self) -> list[str]:
        """Scene ids seen so far, in first-seen order."""
        return list(self._counts)

    def update(
        self, scene_id: str, chart: str, pred: np.ndarray, ref: np.ndarray, *, strict: bool = False
    ) -> None:
        """Add one scene's (or tile's) predicted and reference chart; 255 in `ref` is ignored.

        Predicted integers outside the chart's classes (other than 255) count as wrong, with a
        warning in the report, or raise with `strict`. Raises ValueError for an unknown chart,
        different shapes, predictions that are not integers, or a reference that is not
        classes of the chart (or 255).
        """
        if chart not in CHARTS:
            raise ValueError(f"unknown chart {chart!r}; expected one of {', '.join(CHARTS)}")
        pred, ref = np.asarray(pred), np.asarray(ref)
        if pred.shape != ref.shape:
            raise ValueError(
                f"{scene_id} {chart}: prediction shape {pred.shape} != reference shape {ref.shape}"
            )
        try:
            counts = validated_counts(chart, pred, ref, strict=strict)
        except ChartValueError as exc:
            raise ValueError(f"{scene_id} {chart} {exc}") from None
        self.add_counts(scene_id, chart, counts)

    def add_histogram(self, scene_id: str, chart: str, hist: np.ndarray) -> None:
        """Add a joint histogram (`joint_histogram`) of one scene and chart whose reference
        values are classes or MASK."""
        self.add_counts(scene_id, chart, counts_from_histogram(hist, chart))

    def add_counts(self, scene_id: str, chart: str, counts: ChartCounts) -> None:
        """Add the `ChartCounts` of one scene (or part of it) and chart."""
        per_chart = self._counts.setdefault(scene_id, {})
        per_chart[chart] = per_chart[chart] + counts if chart in per_chart else counts

    def scene_counts(self, scene_id: str, chart: str) -> ChartCounts | None:
        """The `ChartCounts` of one scene and chart as added, or None if none were."""
        return self._counts.get(scene_id, {}).get(chart)

    def counts(self, chart: str, scenes: Iterable[str] | None = None) -> ChartCounts:
        """The pooled `ChartCounts` of `chart` over `scenes` (default: all seen)."""
        total = ChartCounts.empty(chart)
        for scene in self.scenes if scenes is None else scenes:
            counts = self._counts.get(scene, {}).get(chart)
            if counts is not None:
                total = total + counts
        return total

    def confusion(self, chart: str, scenes: Iterable[str] | None = None) -> np.ndarray:
        """The pooled confusion matrix of `chart` over `scenes` (see `ChartCounts`)."""
        return self.counts(chart, scenes).confusion

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
        unknown = [s for s in scenes if s not in self._counts]
        if unknown:
            raise ValueError(f"no predictions were added for scenes: {', '.join(unknown)}")
        details = {chart: self._chart_result(chart, scenes) for chart in CHARTS}
        charts = {chart: details[chart].score for chart in CHARTS}
        charts_rounded = {chart: rounded(s) for chart, s in charts.items()}
        combined = _combined(charts)
        return Report(
            combined=combined,
            combined_rounded=challenge_combined(charts_rounded),
            charts=charts,
            charts_rounded=charts_rounded,
            per_scene={scene: self._scene_scores(scene) for scene in scenes},
            details=details,
            warnings=[*notes, *self._warnings(details, scenes)],
            scenes=scenes,
            split=split,
        )

    def _warnings(self, details: dict[str, ChartResult], scenes: list[str]) -> list[str]:
        """Undefined scores, no-prediction pixels per chart, out-of-class values per variable."""
        warnings = []
        for chart, result in details.items():
            if math.isnan(result.score):
                warnings.append(f"{chart} score is undefined: {result.n_pixels} valid pixels")
            if result.no_prediction:
                warnings.append(
                    f"{chart}: {result.no_prediction} pixels with a valid reference are "
                    f"{MASK} (no prediction) and count as wrong"
                )
        for scene in scenes:
            for chart, counts in self._counts[scene].items():
                if counts.out_total:
                    variable = submission_variable(scene, chart)
                    warnings.append(out_of_class_warning(variable, chart, counts))
        return warnings

    def _scene_scores(self, scene: str) -> dict[str, float]:
        scores = {}
        for chart in CHARTS:
            scores[chart] = 100.0 * chart_score(self.counts(chart, [scene]), chart)
        scores["combined"] = _combined(scores)
        return scores

    def _chart_result(self, chart: str, scenes: list[str]) -> ChartResult:
        counts = self.counts(chart, scenes)
        score = 100.0 * chart_score(counts, chart)
        return ChartResult(
            chart=chart,
            metric=METRICS[chart],
            score=score,
            score_rounded=rounded(score),
            n_pixels=int(counts.confusion.sum()),
            no_prediction=counts.no_prediction,
            out_of_class=counts.out_of_class,
            classes=class_scores(counts.confusion, chart),
            confusion=counts.confusion.tolist(),
            confusion_columns=[*CLASS_NAMES[chart], "out of class", f"{MASK} (no prediction)"],
        )


def _combined(charts: dict[str, float]) -> float:
    if any(math.isnan(charts[c]) for c in CHART_WEIGHTS):
        return math.nan
    return combined_score(charts)


def ratio(num, den) -> float | None:
    """num / den as a float, or None when den is 0 (an undefined ratio)."""
    return float(num) / float(den) if den else None


def _values_text(values: Iterable[int]) -> str:
    """Values for a message: at most LISTED_VALUES, then "..." if there are more."""
    values = [str(v) for v in values]
    return ", ".join(values[:LISTED_VALUES]) + (", ..." if len(values) > LISTED_VALUES else "")
