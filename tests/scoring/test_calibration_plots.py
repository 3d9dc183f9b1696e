"""Calibration pictures draw the figures they are given: bar heights are the bins' accuracies,
empty bins have no bar, two tables sit side by side, the curve ends at the overall risk."""

from __future__ import annotations

import numpy as np
import pytest

from kit.charts import CHARTS
from scoring.calibration import (
    CalibrationAccumulator,
    LevelCounts,
    SceneCalibration,
    calibration_statistics,
)
from scoring.errors import ScoringError
from scoring.plots import calibration_figure, reliability_diagram, report_figure, risk_coverage_plot


def statistics(shift: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    acc = CalibrationAccumulator()
    scene = SceneCalibration({c: LevelCounts.empty(c) for c in CHARTS})
    for chart in CHARTS:
        for level in (15, 45, 75, 95):  # four non-empty bins: 1, 4, 7, 9
            right = rng.integers(10, 50)
            scene.charts[chart].confusion[min(100, level + shift), 0, 0] += right
            scene.charts[chart].confusion[min(100, level + shift), 0, 1] += 60 - right
    acc.add("20180124T194759_dmi", scene)
    return calibration_statistics(acc, acc.scenes)


def test_bars_are_the_accuracies_of_non_empty_bins():
    stats = statistics(0)
    fig = reliability_diagram(stats)
    for column, chart in enumerate(CHARTS):
        heights = [p.get_height() for p in fig.axes[column].patches]
        expected = [r["accuracy"] for r in stats["charts"][chart]["reliability"] if r["pixels"]]
        assert heights == pytest.approx(expected) and len(heights) == 4
        assert f"ECE {stats['charts'][chart]['ece']:.4f}" in fig.axes[column].get_legend_handles_labels()[1][0]  # fmt: skip


def test_before_and_after_side_by_side():
    fig = reliability_diagram({"before calibration": statistics(4), "after calibration": statistics(0)})  # fmt: skip
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert [label.split(":")[0] for label in labels] == ["before calibration", "after calibration"]
    assert len(fig.axes[0].patches) == 8


def test_risk_coverage_curve_ends_at_the_overall_risk():
    stats = statistics(0)
    fig = risk_coverage_plot(stats)
    line = fig.axes[1].lines[0]
    assert line.get_xdata()[-1] == pytest.approx(1.0)
    assert line.get_ydata()[-1] == pytest.approx(1 - stats["charts"]["SOD"]["accuracy"])
    assert np.all(np.diff(line.get_xdata()) >= 0)


def test_report_figure_draws_calibration_and_refuses_a_report_without_it():
    report = {"charts": {}, "combined": 1.0, "calibration": statistics(0)}
    titles = [ax.get_title() for ax in report_figure(report).axes]
    assert titles[:3] == list(CHARTS)
    assert len(calibration_figure(statistics(0)).axes) == 9
    with pytest.raises(ScoringError, match="no calibration to draw"):
        reliability_diagram({"charts": {}, "combined": 1.0})
