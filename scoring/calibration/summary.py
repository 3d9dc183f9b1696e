"""The calibration figures of a set of scenes, their bootstrap intervals over scenes and their
breakdowns by group of scenes, as JSON-ready dictionaries.

Pools are sums of the scenes' counts (`CalibrationAccumulator`), exactly as the challenge pools
its confusion matrices, and the bootstrap draws the same resamples as the score intervals
(`scoring.statistics.resample_counts` with the same settings), so a resample's calibration
figures and scores come from the same scenes.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np

from kit.charts import CHARTS, N_CLASSES
from scoring.calibration.counts import LEVELS, CalibrationAccumulator, LevelCounts
from scoring.calibration.interval import interval_summary, interval_sums
from scoring.calibration.probabilistic import NLL_EPSILON, brier_and_nll, probability_summary
from scoring.calibration.reliability import N_BINS, calibration_errors, reliability_table
from scoring.calibration.selective import (
    COVERAGES,
    area_under_risk_coverage,
    batch_selective,
    coverage_key,
    risk_coverage_curve,
    selective_figures,
)
from scoring.metrics.formatting import nan_to_none
from scoring.statistics.bootstrap import Bootstrap, percentile_interval, resample_counts
from scoring.statistics.groups import scene_groups

#: Resamples pooled at once for the selective scores (bounds the memory of the bootstrap:
#: RESAMPLE_CHUNK x 101 x n x (n + 2) float64, 7 MB for SIC).
RESAMPLE_CHUNK = 64


def chart_calibration(levels: LevelCounts, chart: str, *, detail: bool = True) -> dict:
    """One chart's figures from its pooled `LevelCounts`: pixels, accuracy, mean confidence,
    ECE, MCE, AURC and the selective figures per coverage; with `detail`, the reliability
    table and the risk-coverage curve too. Fractions, apart from scores (percent).

    Examples
    --------
    >>> levels = LevelCounts.empty("FLOE")
    >>> levels.confusion[100, 0, 0] = 8  # 8 right at 100 %
    >>> levels.confusion[70, 0, 3] = 2   # 2 wrong at 70 %
    >>> figures = chart_calibration(levels, "FLOE")
    >>> round(figures["ece"], 6), figures["selective"]["80"]["accuracy"]  # (8 * 0 + 2 * 0.7) / 10
    (0.14, 1.0)
    """
    totals, correct = levels.totals(), levels.correct()
    pixels = int(totals.sum())
    ece, mce = calibration_errors(totals, correct)
    figures = {
        "n_pixels": pixels,
        "no_prediction": int(levels.confusion[:, :, -1].sum()),
        "accuracy": int(correct.sum()) / pixels if pixels else math.nan,
        "mean_confidence": float(totals @ np.arange(LEVELS)) / 100 / pixels if pixels else math.nan,
        "ece": float(ece),
        "mce": float(mce),
        "aurc": float(area_under_risk_coverage(totals, correct)),
        "selective": {coverage_key(q): selective_figures(levels, chart, q) for q in COVERAGES},
    }
    if detail:
        figures["reliability"] = reliability_table(totals, correct)
        figures["risk_coverage"] = risk_coverage_curve(totals, correct)
    return figures


def calibration_statistics(
    accumulator: CalibrationAccumulator, scenes: Sequence[str], *, detail: bool = True
) -> dict:
    """Every calibration figure over `scenes`, JSON-ready (undefined figures None).

    Parameters
    ----------
    accumulator : CalibrationAccumulator
        The per-scene counts of an uncertainty (and probabilities) file.
    scenes : sequence of str
        The scenes to pool, as the challenge pools them.
    detail : bool
        Include each chart's reliability table and risk-coverage curve.

    Returns
    -------
    dict
        ``{"bins", "coverages", "nll_epsilon", "charts": {chart: chart_calibration (+
        "probabilities": Brier, NLL where the probabilities file covers the chart)},
        "sic_interval": interval_summary}``.

    Examples
    --------
    >>> from scoring.calibration.counts import SceneCalibration
    >>> acc = CalibrationAccumulator()
    >>> scene = SceneCalibration({c: LevelCounts.empty(c) for c in CHARTS})
    >>> scene.charts["SIC"].confusion[90, 3, 3] = 10
    >>> acc.add("20180124T194759_dmi", scene)
    >>> stats = calibration_statistics(acc, acc.scenes)
    >>> round(stats["charts"]["SIC"]["ece"], 6), stats["charts"]["SOD"]["ece"]
    (0.1, None)
    """
    charts = {}
    for chart in CHARTS:
        charts[chart] = chart_calibration(accumulator.levels(chart, scenes), chart, detail=detail)
        if chart in accumulator.probability_charts:
            charts[chart]["probabilities"] = probability_summary(
                accumulator.probabilities(chart, scenes)
            )
    return nan_to_none(
        {
            "bins": N_BINS,
            "coverages": list(COVERAGES),
            "nll_epsilon": NLL_EPSILON,
            "charts": charts,
            "sic_interval": interval_summary(accumulator.interval(scenes)),
        }
    )


def calibration_intervals(
    accumulator: CalibrationAccumulator, scenes: Sequence[str], settings: Bootstrap
) -> dict:
    """Percentile bootstrap intervals over `scenes` of every calibration figure, on the
    resamples the score intervals use (same settings, same draws).

    Returns ``{"method", "resamples", "confidence", "seed", "charts": {chart: {figure:
    {"low", "high", "undefined"}}}, "sic_interval": {"coverage": ..., "mean_width": ...}}``;
    the chart figures are "ece", "mce", "aurc", "accuracy_<q>", "score_<q>" (q = 50, 80, 90)
    and, with probabilities, "brier" and "nll".

    Examples
    --------
    >>> from scoring.calibration.counts import SceneCalibration
    >>> acc = CalibrationAccumulator()
    >>> scene = SceneCalibration({c: LevelCounts.empty(c) for c in CHARTS})
    >>> scene.charts["SOD"].confusion[80, 2, 2] = 5
    >>> acc.add("20180124T194759_dmi", scene)
    >>> boot = calibration_intervals(acc, acc.scenes, Bootstrap(resamples=20))
    >>> boot["charts"]["SOD"]["ece"]  # one scene: every resample is that scene
    {'low': 0.2, 'high': 0.2, 'undefined': 0}
    """
    scenes = list(scenes)
    weights = resample_counts(len(scenes), settings.resamples, settings.seed).astype(np.float64)
    samples: dict[str, dict[str, np.ndarray]] = {}
    for chart in CHARTS:
        samples[chart] = _chart_samples(accumulator, scenes, chart, weights)
    per_scene = [accumulator.scene(s).interval for s in scenes]
    sums = np.array([interval_sums(i.counts) for i in per_scene], dtype=np.float64)  # [S, 3]
    pixels, covered, width = (weights @ sums).T
    with np.errstate(invalid="ignore", divide="ignore"):
        interval = {"coverage": covered / pixels, "mean_width": width / pixels}
    confidence = settings.confidence
    result = {
        "method": "percentile bootstrap over scenes",
        "resamples": settings.resamples,
        "confidence": confidence,
        "seed": settings.seed,
        "charts": {
            chart: {k: _interval(v, confidence) for k, v in figures.items()}
            for chart, figures in samples.items()
        },
        "sic_interval": {k: _interval(v, confidence) for k, v in interval.items()},
    }
    return nan_to_none(result)


def _interval(samples: np.ndarray, confidence: float) -> dict:
    found = percentile_interval(np.where(np.isfinite(samples), samples, np.nan), confidence)
    return {"low": found.low, "high": found.high, "undefined": found.undefined}


def _chart_samples(
    accumulator: CalibrationAccumulator, scenes: list[str], chart: str, weights: np.ndarray
) -> dict[str, np.ndarray]:
    empty = LevelCounts.empty(chart)
    counts = [accumulator.scene(s).charts.get(chart, empty) for s in scenes]
    stack = np.stack([c.confusion for c in counts]).astype(np.float64)  # [S, LEVELS, n, n + 2]
    squared = np.array([[float(x) for x in c.out_squared] for c in counts])  # [S, LEVELS]
    n = N_CLASSES[chart]
    totals = weights @ stack.sum(axis=(2, 3))
    correct = weights @ np.trace(stack[:, :, :, :n], axis1=2, axis2=3)
    ece, mce = calibration_errors(totals, correct)
    figures = {"ece": ece, "mce": mce, "aurc": area_under_risk_coverage(totals, correct)}
    flat = stack.reshape(len(scenes), -1)
    parts: dict[str, list[np.ndarray]] = {}
    for start in range(0, len(weights), RESAMPLE_CHUNK):
        chunk = weights[start : start + RESAMPLE_CHUNK]
        pooled = (chunk @ flat).reshape(len(chunk), *stack.shape[1:])
        for q in COVERAGES:
            accuracy, score = batch_selective(pooled, chunk @ squared, chart, q)
            parts.setdefault(f"accuracy_{coverage_key(q)}", []).append(accuracy)
            parts.setdefault(f"score_{coverage_key(q)}", []).append(score)
    figures.update({k: np.concatenate(v) for k, v in parts.items()})
    if chart in accumulator.probability_charts:
        probs = [accumulator.scene(s).probabilities.get(chart) for s in scenes]
        pixels = np.array([0.0 if p is None else p.pixels for p in probs])
        brier = np.array([0.0 if p is None else float(p.brier) for p in probs])
        levels = np.stack(
            [np.zeros(LEVELS) if p is None else p.reference_levels.astype(float) for p in probs]
        )
        figures["brier"], figures["nll"] = brier_and_nll(
            weights @ pixels, weights @ brier, weights @ levels
        )
    return figures


def calibration_breakdown(
    accumulator: CalibrationAccumulator,
    scenes: Sequence[str],
    key: str,
    *,
    groups_file: str | os.PathLike | None = None,
    manifest: str | os.PathLike | None = None,
) -> dict[str, dict]:
    """The calibration figures per group of `scenes` (`scoring.statistics.scene_groups`),
    without the reliability tables and curves: group label -> ``{"scenes", "n_scenes",
    **calibration_statistics}``, groups in sorted order.

    Examples
    --------
    >>> from scoring.calibration.counts import SceneCalibration
    >>> acc = CalibrationAccumulator()
    >>> for scene, level in (("20180124T194759_dmi", 100), ("20180730T101830_cis", 60)):
    ...     counts = SceneCalibration({c: LevelCounts.empty(c) for c in CHARTS})
    ...     counts.charts["SOD"].confusion[level, 1, 1] = 3
    ...     acc.add(scene, counts)
    >>> groups = calibration_breakdown(acc, acc.scenes, "service")
    >>> [(label, round(g["charts"]["SOD"]["ece"], 6)) for label, g in groups.items()]
    [('cis', 0.4), ('dmi', 0.0)]
    """
    labels = scene_groups(scenes, key, groups_file=groups_file, manifest=manifest)
    result = {}
    for label in sorted(set(labels.values())):
        members = [s for s in scenes if labels[s] == label]
        stats = calibration_statistics(accumulator, members, detail=False)
        result[label] = {"scenes": members, "n_scenes": len(members), **stats}
    return result
