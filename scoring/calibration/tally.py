"""Counting an uncertainty file's values a block of rows at a time, beside the challenge's own
counting (`scoring.metrics.challenge.ChartTally`), and checking them on the way.

Each block costs two table look-ups and one joint histogram per chart (the same fast counting as
the scores, `scoring.metrics.histogram.joint_histogram`): the reference class and the submitted
value are folded into one uint8 code, counted against the confidence; for SIC, the reference and
submitted states against the interval's two ends folded the same way. Every check of the values
(`scoring.files.uncertainty`) is read off these histograms, so no extra pass over the pixels is
made. Only out-of-class predictions (rare: scored as wrong with a warning) take a slower path,
for their exact squared errors per confidence level.
"""

from __future__ import annotations

import numpy as np

from kit.charts import (
    CHARTS,
    MASK,
    N_CLASSES,
    PERCENT_MAX,
    confidence_variable,
    probability_variable,
    sic_interval_variables,
)
from scoring.calibration.counts import (
    LEVELS,
    SIC_CLASSES,
    IntervalCounts,
    LevelCounts,
    ProbabilityCounts,
    SceneCalibration,
)
from scoring.files.uncertainty import (
    PROBABILITIES_ROLE,
    UNCERTAINTY_ROLE,
    UncertaintyFiles,
    confidence_problems,
    interval_problems,
    probability_problems,
    probability_sum_tolerance,
)
from scoring.metrics.histogram import HIST_SIDE, joint_histogram, prediction_values

#: Code base of pixels whose reference is not a class (not scored); classes use k * (n + 2).
UNSCORED = 200
#: States of an interval end or of a submitted SIC value: 0-10 a class, then 255, then other.
STATE_MASK, STATE_OTHER = SIC_CLASSES, SIC_CLASSES + 1
STATES = SIC_CLASSES + 2


def _prediction_columns(n: int) -> np.ndarray:
    """uint8 [256]: a submitted value's column (class, n: out of class, n + 1: 255)."""
    table = np.full(HIST_SIDE, n, dtype=np.uint8)
    table[:n] = np.arange(n)
    table[MASK] = n + 1
    return table


def _reference_bases(n: int) -> np.ndarray:
    """uint8 [256]: k * (n + 2) for a reference class k, UNSCORED for anything else."""
    table = np.full(HIST_SIDE, UNSCORED, dtype=np.uint8)
    table[:n] = np.arange(n) * (n + 2)
    return table


def _states(scale: int) -> np.ndarray:
    """uint8 [256]: scale x the state of a SIC value (0-10, STATE_MASK, STATE_OTHER)."""
    table = np.full(HIST_SIDE, STATE_OTHER, dtype=np.int64)
    table[:SIC_CLASSES] = np.arange(SIC_CLASSES)
    table[MASK] = STATE_MASK
    return (scale * table).astype(np.uint8)


class ConfidenceTally:
    """One chart's (reference, submitted value, confidence) triples, counted block by block."""

    def __init__(self, chart: str, name: str) -> None:
        self.chart, self.name = chart, name
        n = self.n = N_CLASSES[chart]
        self._columns, self._bases = _prediction_columns(n), _reference_bases(n)
        self._out_codes = np.arange(n) * (n + 2) + n
        self.histogram = np.zeros((HIST_SIDE, HIST_SIDE), dtype=np.int64)
        self.out_squared = [0] * LEVELS

    def add(self, ref: np.ndarray, pred: np.ndarray, confidence: np.ndarray) -> None:
        """Count a block: `ref` uint8, `pred` as stored (integers, checked by the score's
        tally first), `confidence` uint8, all of one shape."""
        pred8, outside = prediction_values(pred)
        code = np.take(self._bases, ref)
        code += np.take(self._columns, pred8)
        if outside is not None:
            code[outside] = np.take(self._bases, ref[outside]) + self.n
        hist = joint_histogram(code, confidence)
        self.histogram += hist
        if hist[self._out_codes].any():
            self._add_out_of_class(code, ref, pred, confidence)

    def _add_out_of_class(self, code, ref, pred, confidence) -> None:
        """Exact (class - value)**2 of out-of-class predictions, per confidence level."""
        where = np.isin(code, self._out_codes)
        refs, values, levels = ref[where], np.asarray(pred)[where], confidence[where]
        for level in np.unique(levels[levels < LEVELS]).tolist():
            at = levels == level
            for k in np.unique(refs[at]).tolist():
                distinct, number = np.unique(values[at & (refs == k)], return_counts=True)
                pairs = zip(distinct.tolist(), number.tolist())
                self.out_squared[level] += sum(c * (k - int(v)) ** 2 for v, c in pairs)

    def problems(self) -> list[str]:
        n, hist = self.n, self.histogram
        mask_rows = np.append(np.arange(n) * (n + 2) + n + 1, UNSCORED + n + 1)
        at_mask = hist[mask_rows].sum(axis=0)
        return confidence_problems(self.name, at_mask, hist.sum(axis=0) - at_mask)

    def counts(self) -> LevelCounts:
        """`LevelCounts` of the scored pixels (check `problems` first); a scored pixel left at
        255 by the submission counts at level 0."""
        n = self.n
        rows = self.histogram[: n * (n + 2)].reshape(n, n + 2, HIST_SIDE)
        confusion = np.ascontiguousarray(np.moveaxis(rows[:, :, :LEVELS], 2, 0))
        confusion[0, :, n + 1] += rows[:, n + 1, MASK]
        return LevelCounts(confusion, tuple(self.out_squared))


class IntervalTally:
    """The SIC interval's (reference, submitted value, low, high) states, block by block."""

    def __init__(self, names: tuple[str, str]) -> None:
        self.names = names
        self._ref, self._pred = _states(STATES), _states(1)
        self._low, self._high = _states(STATES), _states(1)
        self.histogram = np.zeros((HIST_SIDE, HIST_SIDE), dtype=np.int64)

    def add(self, ref: np.ndarray, pred: np.ndarray, low: np.ndarray, high: np.ndarray) -> None:
        pred8, outside = prediction_values(pred)
        pair = np.take(self._ref, ref)
        pair += np.take(self._pred, pred8)
        if outside is not None:
            pair[outside] = np.take(self._ref, ref[outside]) + STATE_OTHER
        ends = np.take(self._low, low)
        ends += np.take(self._high, high)
        self.histogram += joint_histogram(pair, ends)

    def _joint(self) -> np.ndarray:
        """Counts [reference, submitted, low, high] states, each of STATES (a reference other
        than a class, 255 included, is state STATE_MASK or STATE_OTHER: not scored)."""
        block = self.histogram[: STATES * STATES, : STATES * STATES]
        return block.reshape(STATES, STATES, STATES, STATES)

    def problems(self) -> list[str]:
        return interval_problems(self.names, self._joint().sum(axis=0))

    def counts(self) -> IntervalCounts:
        joint = self._joint()[:SIC_CLASSES]
        counts = joint[:, :, :SIC_CLASSES, :SIC_CLASSES].sum(axis=1)
        return IntervalCounts(counts, int(joint[:, STATE_MASK, STATE_MASK, STATE_MASK].sum()))


class ProbabilityTally:
    """A chart's class probabilities: Brier sums and the reference class's probability."""

    def __init__(self, chart: str, names: list[str]) -> None:
        self.chart, self.names = chart, names
        self.n = N_CLASSES[chart]
        self.result = ProbabilityCounts()
        self.beyond = self.mask_at_value = self.not_mask = self.off_sum = 0

    def add(self, ref: np.ndarray, pred: np.ndarray, blocks: list[np.ndarray]) -> None:
        pred8, outside = prediction_values(pred)
        at_mask = pred8 == MASK
        if outside is not None:
            at_mask &= ~outside
        stack = np.stack([np.asarray(b, dtype=np.uint8) for b in blocks])
        low, high = stack.min(axis=0), stack.max(axis=0)
        total = stack.sum(axis=0, dtype=np.int32)
        self.not_mask += int((at_mask & (low != MASK)).sum())
        valued = ~at_mask
        has_mask = valued & (high == MASK)
        self.mask_at_value += int(has_mask.sum())
        beyond = valued & ~has_mask & (high > PERCENT_MAX)
        self.beyond += int(beyond.sum())
        good = valued & (high <= PERCENT_MAX)
        off = good & (np.abs(total - PERCENT_MAX) > probability_sum_tolerance(self.chart))
        self.off_sum += int(off.sum())
        scored = ref < self.n
        self.result.no_probability += int((scored & at_mask).sum())
        scored &= good
        index = np.flatnonzero(scored.ravel())
        values = stack.reshape(len(blocks), -1)[:, index]
        p_ref = values[ref.ravel()[index].astype(np.intp), np.arange(index.size)].astype(np.int64)
        squares = np.zeros(index.size, dtype=np.int64)
        for row in values:
            row = row.astype(np.int64)
            squares += row * row
        self.result.pixels += int(index.size)
        errors = squares - 2 * PERCENT_MAX * p_ref + PERCENT_MAX**2
        self.result.brier += int(errors.sum())
        self.result.reference_levels += np.bincount(p_ref, minlength=LEVELS)[:LEVELS]

    def problems(self) -> list[str]:
        return probability_problems(
            self.names, self.chart, self.beyond, self.mask_at_value, self.not_mask, self.off_sum
        )


class SceneTally:
    """One scene's calibration counts, fed the blocks the scorer reads for its scores.

    `add(chart, rows, ref, pred)` reads the same rows of the scene's uncertainty variables (and
    probabilities) from `files` and counts them; `result()` gives the `SceneCalibration` and the
    problems of the values per file. The scorer
    (`scoring.scorer.score_scene`) drives it; `tests/scoring/test_calibration.py` shows it
    on hand-made files.
    """

    def __init__(self, files: UncertaintyFiles, scene_id: str) -> None:
        self.files, self.scene_id = files, scene_id
        self.confidence = {
            chart: ConfidenceTally(chart, confidence_variable(scene_id, chart)) for chart in CHARTS
        }
        self._confidence_rows = {c: files.confidence_rows(scene_id, c) for c in CHARTS}
        self.interval = IntervalTally(sic_interval_variables(scene_id))
        self._interval_rows = files.interval_rows(scene_id)
        self.probabilities = {
            chart: ProbabilityTally(
                chart, [probability_variable(scene_id, chart, k) for k in range(N_CLASSES[chart])]
            )
            for chart in files.probability_charts
        }
        self._probability_rows = {
            c: files.probability_rows(scene_id, c) for c in self.probabilities
        }

    def add(self, chart: str, rows: slice, ref: np.ndarray, pred: np.ndarray) -> None:
        """Count rows `rows` of `chart` (`ref` uint8 and `pred` as the scorer read them)."""
        self.confidence[chart].add(ref, pred, self._confidence_rows[chart].read(rows))
        if chart == "SIC":
            low, high = (reader.read(rows) for reader in self._interval_rows)
            self.interval.add(ref, pred, low, high)
        if chart in self.probabilities:
            blocks = [reader.read(rows) for reader in self._probability_rows[chart]]
            self.probabilities[chart].add(ref, pred, blocks)

    def result(self) -> tuple[SceneCalibration, dict[str, list[str]]]:
        """The scene's counts, and the problems of the values per file ("uncertainty file
        PATH" or "probabilities file PATH" -> one text per variable; empty if all valid)."""
        problems = {}
        found = [p for t in self.confidence.values() for p in t.problems()]
        found += self.interval.problems()
        if found:
            problems[f"{UNCERTAINTY_ROLE} {self.files.uncertainty_path}"] = found
        found = [p for t in self.probabilities.values() for p in t.problems()]
        if found:
            problems[f"{PROBABILITIES_ROLE} {self.files.probabilities_path}"] = found
        scene = SceneCalibration(
            {c: t.counts() for c, t in self.confidence.items()},
            self.interval.counts(),
            {c: t.result for c, t in self.probabilities.items()},
        )
        return scene, problems
