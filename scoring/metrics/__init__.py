"""The challenge metric and its report: `challenge` (the one implementation of the metric,
`ScoreAccumulator`), `histogram` (the joint histogram of reference and prediction), `report` (`Report`, per-chart and per-class results) and `formatting`
(how scores are printed). The public names of `challenge` and `histogram` are importable from
here.

Examples
--------
>>> import numpy as np
>>> from scoring.metrics import ScoreAccumulator
>>> acc = ScoreAccumulator()
>>> ref = np.array([[0, 1], [2, 3]])
>>> acc.update("20180124T194759_dmi", "SOD", ref, ref)
>>> acc.report().charts["SOD"]
100.0
"""

from __future__ import annotations

from scoring.metrics.challenge import (
    LISTED_VALUES,
    ChartCounts,
    ChartTally,
    ScoreAccumulator,
    chart_score,
    chart_values_message,
    class_scores,
    counts_from_histogram,
    counts_outside,
    invalid_values,
    out_of_class_warning,
    r2_from_confusion,
    ratio,
    strict_message,
    validated_counts,
    weighted_f1_from_confusion,
)
from scoring.metrics.histogram import (
    HIST_SIDE,
    HIST_STEP,
    OPENCV_STEP,
    ChartValueError,
    as_chart_values,
    bincount_histogram,
    joint_histogram,
    prediction_values,
    warm_up,
)

__all__ = [
    "ChartCounts",
    "ChartTally",
    "ChartValueError",
    "HIST_SIDE",
    "HIST_STEP",
    "LISTED_VALUES",
    "OPENCV_STEP",
    "ScoreAccumulator",
    "as_chart_values",
    "bincount_histogram",
    "chart_score",
    "chart_values_message",
    "class_scores",
    "counts_from_histogram",
    "counts_outside",
    "invalid_values",
    "joint_histogram",
    "out_of_class_warning",
    "prediction_values",
    "r2_from_confusion",
    "ratio",
    "strict_message",
    "validated_counts",
    "warm_up",
    "weighted_f1_from_confusion",
]
