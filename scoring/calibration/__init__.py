"""Calibration of an uncertainty file beside a submission (issue 24): does the confidence a
submission claims match how often it is right?

One concept per module:

- `counts`: the per-scene sufficient statistics (`LevelCounts`: per-confidence-level confusion
  matrices; `IntervalCounts`; `ProbabilityCounts`) and `CalibrationAccumulator`;
- `tally`: counting and checking an uncertainty (and probabilities) file block by block, beside
  the scorer's own counting;
- `reliability`: ECE, MCE and the reliability table (10 equal-width bins);
- `selective`: the risk-coverage curve, AURC, and accuracy and challenge score of the most
  confident 50/80/90 %;
- `interval`: coverage and width of the SIC predictive interval;
- `probabilistic`: Brier score and negative log-likelihood of the class probabilities;
- `summary`: all of it over a set of scenes, bootstrap intervals over scenes, breakdowns.

Examples
--------
>>> from scoring.calibration import COVERAGES, N_BINS, NLL_EPSILON
>>> N_BINS, COVERAGES, NLL_EPSILON
(10, (0.5, 0.8, 0.9), 0.005)
"""

from __future__ import annotations

from scoring.calibration.counts import (
    LEVELS,
    CalibrationAccumulator,
    IntervalCounts,
    LevelCounts,
    ProbabilityCounts,
    SceneCalibration,
)
from scoring.calibration.interval import interval_summary
from scoring.calibration.probabilistic import NLL_EPSILON, brier_and_nll, probability_summary
from scoring.calibration.reliability import N_BINS, calibration_errors, reliability_table
from scoring.calibration.selective import (
    COVERAGES,
    area_under_risk_coverage,
    risk_coverage_curve,
    selective_figures,
    selective_threshold,
)
from scoring.calibration.summary import (
    calibration_breakdown,
    calibration_intervals,
    calibration_statistics,
    chart_calibration,
)
from scoring.calibration.tally import SceneTally

__all__ = [
    "COVERAGES",
    "LEVELS",
    "N_BINS",
    "NLL_EPSILON",
    "CalibrationAccumulator",
    "IntervalCounts",
    "LevelCounts",
    "ProbabilityCounts",
    "SceneCalibration",
    "SceneTally",
    "area_under_risk_coverage",
    "brier_and_nll",
    "calibration_breakdown",
    "calibration_errors",
    "calibration_intervals",
    "calibration_statistics",
    "chart_calibration",
    "interval_summary",
    "probability_summary",
    "reliability_table",
    "risk_coverage_curve",
    "selective_figures",
    "selective_threshold",
]
