"""What calibration needs of each scene, kept per scene so that scenes pool, resample and group
exactly as the challenge scores do (`scoring.statistics`).

Confidence is a whole percentage (0-100), so a chart's scored pixels counted per confidence
level are an exact sufficient statistic: `LevelCounts` holds, per level, the confusion matrix of
the challenge (`scoring.metrics.ChartCounts` columns: the classes, out of class, 255), from
which the reliability table, ECE, the risk-coverage curve and the challenge score of the most
confident pixels all follow. A scored pixel the submission left at 255 (no prediction, no
confidence) counts at level 0: a wrong prediction nobody trusted, so the pixels are exactly
those the challenge scores. `IntervalCounts` holds the SIC interval's (reference, low, high)
counts, `ProbabilityCounts` the sums of the Brier score and the counts of the reference class's
probability. Every count is an integer, so sums over scenes are exact.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from kit.charts import CHARTS, N_CLASSES, PERCENT_MAX
from scoring.metrics.challenge import ChartCounts

#: Confidence levels 0 .. PERCENT_MAX.
LEVELS = PERCENT_MAX + 1
#: SIC classes, the possible ends of an interval.
SIC_CLASSES = N_CLASSES["SIC"]


@dataclass
class LevelCounts:
    """One chart's scored pixels per confidence level (a scene, or pooled); counts add up.

    - `confusion`: int64 ``[LEVELS, n, n + 2]``: per level, valid reference class x predicted
      value, columns as `ChartCounts.confusion` (classes, out of class, 255);
    - `out_squared`: per level, the exact sum of (class - value)**2 over the out-of-class
      predictions (for R2), as Python integers.

    Examples
    --------
    >>> counts = LevelCounts.empty("SOD")
    >>> counts.confusion[90, 2, 2] = 3  # three right at 90 %
    >>> counts.confusion[40, 2, 1] = 1  # one wrong at 40 %
    >>> int(counts.totals()[90]), int(counts.correct()[40])
    (3, 0)
    >>> counts.chart_counts(50).confusion.sum()  # the pixels at 50 % and above
    np.int64(3)
    """

    confusion: np.ndarray
    out_squared: tuple[int, ...]

    @classmethod
    def empty(cls, chart: str) -> LevelCounts:
        n = N_CLASSES[chart]
        return cls(np.zeros((LEVELS, n, n + 2), dtype=np.int64), (0,) * LEVELS)

    def __add__(self, other: LevelCounts) -> LevelCounts:
        squared = tuple(a + b for a, b in zip(self.out_squared, other.out_squared))
        return LevelCounts(self.confusion + other.confusion, squared)

    def totals(self) -> np.ndarray:
        """Scored pixels per level, int64 [LEVELS]."""
        return self.confusion.sum(axis=(1, 2))

    def correct(self) -> np.ndarray:
        """Pixels per level whose submitted class is the reference class, int64 [LEVELS]."""
        n = self.confusion.shape[1]
        return np.trace(self.confusion[:, :, :n], axis1=1, axis2=2)

    def chart_counts(self, threshold: int = 0) -> ChartCounts:
        """The `ChartCounts` of the pixels with confidence `threshold` or more."""
        confusion = self.confusion[threshold:].sum(axis=0)
        n = confusion.shape[0]
        squared = sum(self.out_squared[threshold:])
        return ChartCounts(confusion, (squared,) + (0,) * (n - 1))


@dataclass
class IntervalCounts:
    """The SIC interval on scored pixels: `counts[reference, low, high]` int64 [11, 11, 11],
    and `no_interval`: scored pixels the submission left at 255 (no interval)."""

    counts: np.ndarray
    no_interval: int = 0

    @classmethod
    def empty(cls) -> IntervalCounts:
        return cls(np.zeros((SIC_CLASSES,) * 3, dtype=np.int64))

    def __add__(self, other: IntervalCounts) -> IntervalCounts:
        return IntervalCounts(self.counts + other.counts, self.no_interval + other.no_interval)


@dataclass
class ProbabilityCounts:
    """A chart's class probabilities on scored pixels with a prediction (one scene or pooled).

    - `pixels`: scored pixels with probabilities (the submission not 255 there);
    - `brier`: the sum over them of sum_k (P_k - 100 [k = reference])**2, P_k in percent (so
      the Brier score is brier / 10000 / pixels), exact;
    - `reference_levels`: pixels per probability of the reference class, int64 [LEVELS];
    - `no_probability`: scored pixels the submission left at 255.
    """

    pixels: int = 0
    brier: int = 0
    reference_levels: np.ndarray = field(default_factory=lambda: np.zeros(LEVELS, np.int64))
    no_probability: int = 0

    def __add__(self, other: ProbabilityCounts) -> ProbabilityCounts:
        return ProbabilityCounts(
            self.pixels + other.pixels,
            self.brier + other.brier,
            self.reference_levels + other.reference_levels,
            self.no_probability + other.no_probability,
        )


@dataclass
class SceneCalibration:
    """One scene's calibration counts: `LevelCounts` per chart, the SIC `IntervalCounts`, and
    `ProbabilityCounts` per chart the probabilities file covers."""

    charts: dict[str, LevelCounts] = field(default_factory=dict)
    interval: IntervalCounts = field(default_factory=IntervalCounts.empty)
    probabilities: dict[str, ProbabilityCounts] = field(default_factory=dict)


class CalibrationAccumulator:
    """Per-scene calibration counts, pooled over any subset of scenes on demand.

    Examples
    --------
    >>> acc = CalibrationAccumulator()
    >>> scene = SceneCalibration({"SOD": LevelCounts.empty("SOD")})
    >>> scene.charts["SOD"].confusion[100, 1, 1] = 4
    >>> acc.add("20180124T194759_dmi", scene)
    >>> int(acc.levels("SOD").totals()[100]), acc.scenes
    (4, ['20180124T194759_dmi'])
    """

    def __init__(self) -> None:
        self._scenes: dict[str, SceneCalibration] = {}
        self.probability_charts: tuple[str, ...] = ()

    @property
    def scenes(self) -> list[str]:
        return list(self._scenes)

    def add(self, scene_id: str, counts: SceneCalibration) -> None:
        """Add one scene's counts (adding to those of the same scene given before)."""
        known = self._scenes.get(scene_id)
        if known is None:
            self._scenes[scene_id] = counts
        else:
            for chart, levels in counts.charts.items():
                known.charts[chart] = known.charts[chart] + levels if chart in known.charts else levels  # fmt: skip
            known.interval = known.interval + counts.interval
            for chart, probs in counts.probabilities.items():
                old = known.probabilities.get(chart)
                known.probabilities[chart] = probs if old is None else old + probs
        charts = set(self.probability_charts) | set(counts.probabilities)
        self.probability_charts = tuple(c for c in CHARTS if c in charts)

    def scene(self, scene_id: str) -> SceneCalibration:
        return self._scenes.get(scene_id) or SceneCalibration()

    def _pick(self, scenes: Iterable[str] | None) -> list[SceneCalibration]:
        return [self.scene(s) for s in (self.scenes if scenes is None else scenes)]

    def levels(self, chart: str, scenes: Iterable[str] | None = None) -> LevelCounts:
        """The pooled `LevelCounts` of `chart` over `scenes` (default: all)."""
        total = LevelCounts.empty(chart)
        for scene in self._pick(scenes):
            if chart in scene.charts:
                total = total + scene.charts[chart]
        return total

    def interval(self, scenes: Iterable[str] | None = None) -> IntervalCounts:
        """The pooled SIC `IntervalCounts` over `scenes`."""
        total = IntervalCounts.empty()
        for scene in self._pick(scenes):
            total = total + scene.interval
        return total

    def probabilities(self, chart: str, scenes: Iterable[str] | None = None) -> ProbabilityCounts:
        """The pooled `ProbabilityCounts` of `chart` over `scenes`."""
        total = ProbabilityCounts()
        for scene in self._pick(scenes):
            if chart in scene.probabilities:
                total = total + scene.probabilities[chart]
        return total
