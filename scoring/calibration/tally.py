"""Counting an uncertainty file's values a block of rows at a time, in the scorer's pass over
the submission, and checking them on the way.

Per block and chart: one table look-up and one uint8 addition fold the reference class and the
submitted value into one code (`PairCodes`), one count looks for submitted values outside the
classes, and one joint histogram (the scores' own fast counting,
`scoring.metrics.histogram.joint_histogram`) counts the codes against the confidence; for SIC
the same codes are counted against the interval's two ends, folded the same way. Every check of
the values (`scoring.files.uncertainty`) is read off these histograms, and so is the block's
(reference, prediction) histogram the scores need (`PairCodes.pairs`), so the scorer counts a
block once. Blocks holding submitted values outside the classes (rare: scored as wrong with a
warning) re-code those pixels apart and count their exact squared errors per confidence level;
they go through the scores' own tally (`scoring.metrics.challenge.ChartTally`) as well.
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
from scoring.metrics.histogram import (
    HIST_SIDE,
    count_between,
    joint_histogram,
    lookup,
    prediction_values,
)

#: States of an interval end or of a submitted SIC value: 0-10 a class, then 255, then other.
STATE_MASK, STATE_OTHER = SIC_CLASSES, SIC_CLASSES + 1
STATES = SIC_CLASSES + 2
#: Code bases of the pixels whose reference is 255 (not scored) and of those whose reference is
#: neither a class nor 255 (an invalid reference: the scorer's own tally names its values).
UNSCORED, INVALID = 200, 230


class PairCodes:
    """A chart's (reference, submitted value) pairs folded into one uint8 code per pixel.

    With n classes and C = n + 1, a reference class k takes the codes k C .. k C + n: its base
    k C + 1 plus the submitted value, added in uint8 arithmetic, so that 255 wraps round to
    k C (one table look-up and one addition per pixel). A reference of 255 (not scored) has
    base `UNSCORED`, any other value base `INVALID`. Submitted values outside the classes
    (other than 255) would land on other codes: the blocks holding any (`irregular`) get them
    re-coded apart, n C + k for reference class k and n C + n for an unscored pixel.
    `reference[code]` and `column[code]` decode a code (reference: the class, n if not scored;
    column: the class, n for out of class, n + 1 for 255; -1 for codes never made), and
    `pairs` turns a block's code counts into the challenge's (reference, prediction) counts.

    Examples
    --------
    >>> codes = PairCodes(6)
    >>> ref, pred = np.array([2, 2, 2, 255], np.uint8), np.array([2, 255, 4, 3], np.uint8)
    >>> code = codes.encode(ref, pred)
    >>> codes.reference[code].tolist(), codes.column[code].tolist()
    ([2, 2, 2, 6], [2, 7, 4, 3])
    """

    def __init__(self, n: int) -> None:
        self.n = n
        width = n + 1
        self.out_base = n * width
        self.bases = np.full(HIST_SIDE, INVALID, dtype=np.uint8)
        self.bases[:n] = np.arange(n) * width + 1
        self.bases[MASK] = UNSCORED
        self.out = np.full(HIST_SIDE, self.out_base + n, dtype=np.uint8)
        self.out[:n] = self.out_base + np.arange(n)
        self.reference = np.full(HIST_SIDE, -1, dtype=np.intp)
        self.column = np.full(HIST_SIDE, -1, dtype=np.intp)
        classes = np.arange(n * width)
        self.reference[classes] = classes // width
        self.column[classes] = np.where(classes % width == 0, n + 1, classes % width - 1)
        self.reference[self.out_base : self.out_base + n + 1] = np.arange(n + 1)
        self.column[self.out_base : self.out_base + n + 1] = n
        for base in (UNSCORED, INVALID):
            self.reference[base - 1 : base + n] = n
            self.column[base - 1 : base + n] = [n + 1, *range(n)]
        # (reference, prediction) values of the codes of classes and 255 on both sides
        self._regular = np.flatnonzero((self.column >= 0) & (self.column != n))
        self._regular = self._regular[
            (self._regular < self.out_base) | (self._regular >= UNSCORED - 1)
        ]
        self._regular = self._regular[self._regular < INVALID - 1]
        refs = self.reference[self._regular]
        columns = self.column[self._regular]
        self._ref_values = np.where(refs == n, MASK, refs)
        self._pred_values = np.where(columns == n + 1, MASK, columns)
        self._invalid = np.arange(INVALID - 1, INVALID + n)

    def encode(self, ref: np.ndarray, pred8: np.ndarray, irregular=None) -> np.ndarray:
        """Codes of a block (`ref`, `pred8` uint8); `irregular`: where the submitted value is
        outside the classes and not 255 (None: nowhere)."""
        code = lookup(self.bases, ref)
        np.add(code, pred8, out=code, casting="unsafe")
        if irregular is not None:
            code[irregular] = lookup(self.out, ref[irregular])
        return code

    def irregular(self, pred8: np.ndarray, outside: np.ndarray | None) -> np.ndarray | None:
        """Where a block's submitted value is outside the classes and not 255 (None: nowhere);
        one counting pass where there is none (the usual case)."""
        if outside is None and not count_between(pred8, self.n, MASK - 1):
            return None
        found = (pred8 >= self.n) & (pred8 != MASK)
        return found if outside is None else found | outside

    def pairs(self, code_counts: np.ndarray) -> np.ndarray | None:
        """The 256 x 256 (reference, prediction) joint histogram of a block from the counts of
        its codes [256], as `scoring.metrics.histogram.joint_histogram` counts it; None if the
        block holds an invalid reference (then only the scorer's own tally can say which)."""
        if code_counts[self._invalid].any():
            return None
        pairs = np.zeros((HIST_SIDE, HIST_SIDE), dtype=np.int64)
        pairs[self._ref_values, self._pred_values] = code_counts[self._regular]
        return pairs

    def scored_rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Codes of scored pixels (reference a class), with their reference and column."""
        codes = np.flatnonzero((self.reference >= 0) & (self.reference < self.n))
        return codes, self.reference[codes], self.column[codes]


class ConfidenceTally:
    """One chart's (reference, submitted value, confidence) triples, counted block by block.

    Examples
    --------
    Reference 1, 1, 255 (not scored); submitted 1 (right, at 90 %), 2 (wrong, at 40 %), 0:

    >>> tally = ConfidenceTally("SOD", "20180124T194759_dmi_SOD_confidence")
    >>> ref, pred = np.array([[1, 1, 255]], np.uint8), np.array([[1, 2, 0]], np.uint8)
    >>> code, pairs = tally.add(ref, pred, np.array([[90, 40, 70]], np.uint8))
    >>> counts = tally.counts()
    >>> int(counts.totals()[90]), int(counts.correct()[40]), int(pairs[1, 2]), tally.problems()
    (1, 0, 1, [])
    >>> _ = tally.add(ref, pred, np.array([[101, 40, 70]], np.uint8))
    >>> tally.problems()
    ['20180124T194759_dmi_SOD_confidence: 1 pixels with values outside 0-100 (101)']
    """

    def __init__(self, chart: str, name: str) -> None:
        self.chart, self.name = chart, name
        self.n = N_CLASSES[chart]
        self.codes = PairCodes(self.n)
        self.histogram = np.zeros((HIST_SIDE, HIST_SIDE), dtype=np.int64)
        self.out_squared = [0] * LEVELS

    def add(
        self, ref: np.ndarray, pred: np.ndarray, confidence: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Count a block: `ref` uint8, `pred` as stored, `confidence` uint8, all of one shape.

        Returns the block's pair codes and, where every value is a class or 255 on both sides,
        its (reference, prediction) joint histogram, which the scores need too (so that the
        scorer counts the block once); None otherwise. ChartValueError if `pred` holds values
        that are not integers (`prediction_values`), before anything is counted.
        """
        pred8, outside = prediction_values(pred)
        irregular = self.codes.irregular(pred8, outside)
        code = self.codes.encode(ref, pred8, irregular)
        hist = joint_histogram(code, confidence)
        self.histogram += hist
        if irregular is not None:
            self._add_out_of_class(irregular & (ref < self.n), ref, pred, confidence)
            return code, None
        return code, self.codes.pairs(hist.sum(axis=1))

    def _add_out_of_class(self, where, ref, pred, confidence) -> None:
        """Exact (class - value)**2 of out-of-class predictions, per confidence level."""
        refs, values, levels = ref[where], np.asarray(pred)[where], confidence[where]
        for level in np.unique(levels[levels < LEVELS]).tolist():
            at = levels == level
            for k in np.unique(refs[at]).tolist():
                distinct, number = np.unique(values[at & (refs == k)], return_counts=True)
                pairs = zip(distinct.tolist(), number.tolist())
                self.out_squared[level] += sum(c * (k - int(v)) ** 2 for v, c in pairs)

    def problems(self) -> list[str]:
        column = self.codes.column
        at_mask = self.histogram[column == self.n + 1].sum(axis=0)
        at_value = self.histogram[(column >= 0) & (column <= self.n)].sum(axis=0)
        return confidence_problems(self.name, at_mask, at_value)

    def counts(self) -> LevelCounts:
        """`LevelCounts` of the scored pixels (check `problems` first); a scored pixel left at
        255 by the submission counts at level 0."""
        n = self.n
        codes, refs, columns = self.codes.scored_rows()
        confusion = np.zeros((LEVELS, n, n + 2), dtype=np.int64)
        confusion[:, refs, columns] = self.histogram[codes, :LEVELS].T
        confusion[0, refs, columns] += np.where(columns == n + 1, self.histogram[codes, MASK], 0)
        return LevelCounts(confusion, tuple(self.out_squared))


def _states(scale: int) -> np.ndarray:
    """uint8 [256]: scale x the state of a SIC value (0-10, STATE_MASK, STATE_OTHER)."""
    table = np.full(HIST_SIDE, STATE_OTHER, dtype=np.int64)
    table[:SIC_CLASSES] = np.arange(SIC_CLASSES)
    table[MASK] = STATE_MASK
    return (scale * table).astype(np.uint8)


class IntervalTally:
    """The SIC interval's ends against the SIC pair codes (`PairCodes`) of the same pixels.

    Examples
    --------
    >>> tally = IntervalTally(("s_SIC_low", "s_SIC_high"))
    >>> codes = PairCodes(11)
    >>> ref, pred = np.array([4, 9], np.uint8), np.array([5, 7], np.uint8)
    >>> tally.add(codes.encode(ref, pred), np.array([3, 6], np.uint8), np.array([6, 8], np.uint8))
    >>> interval = tally.counts()  # reference 4 in [3, 6]; reference 9 outside [6, 8]
    >>> int(interval.counts[4, 3, 6]), int(interval.counts[9, 6, 8]), tally.problems()
    (1, 1, [])
    """

    def __init__(self, names: tuple[str, str]) -> None:
        self.names = names
        self.codes = PairCodes(SIC_CLASSES)
        self._low, self._high = _states(STATES), _states(1)
        self.histogram = np.zeros((HIST_SIDE, HIST_SIDE), dtype=np.int64)

    def add(self, code: np.ndarray, low: np.ndarray, high: np.ndarray) -> None:
        """Count a block: the SIC pair codes (`ConfidenceTally.add`) and the two ends."""
        ends = lookup(self._low, low)
        ends += lookup(self._high, high)
        self.histogram += joint_histogram(code, ends)

    def _joint(self) -> np.ndarray:
        """Counts [reference, submitted, low, high]: reference 0-10 or 11 (not a class: not
        scored), submitted and ends in STATES states."""
        used = np.flatnonzero(self.codes.reference >= 0)
        columns = self.codes.column[used]
        submitted = np.where(columns < SIC_CLASSES, columns,
                             np.where(columns == SIC_CLASSES, STATE_OTHER, STATE_MASK))  # fmt: skip
        joint = np.zeros((SIC_CLASSES + 1, STATES, STATES * STATES), dtype=np.int64)
        np.add.at(joint, (self.codes.reference[used], submitted),
                  self.histogram[used, : STATES * STATES])  # fmt: skip
        return joint.reshape(SIC_CLASSES + 1, STATES, STATES, STATES)

    def problems(self) -> list[str]:
        return interval_problems(self.names, self._joint().sum(axis=0))

    def counts(self) -> IntervalCounts:
        joint = self._joint()[:SIC_CLASSES]
        counts = joint[:, :, :SIC_CLASSES, :SIC_CLASSES].sum(axis=1)
        return IntervalCounts(counts, int(joint[:, STATE_MASK, STATE_MASK, STATE_MASK].sum()))


class ProbabilityTally:
    """A chart's class probabilities: per class, one joint histogram of the chart's pair codes
    (`PairCodes`) against the class's percentages gives its share of the Brier sums, the
    reference class's probability where it is that class, and the checks of its values; the
    percentages summed per pixel (16-bit) are checked against `probability_sum_tolerance`.

    Examples
    --------
    Two SOD pixels of reference 0: p0 = 70 %, p1 = 30 %, and p0 = 100 %.

    >>> codes = PairCodes(6)
    >>> tally = ProbabilityTally("SOD", [f"s_SOD_p{k}" for k in range(6)], codes)
    >>> code = codes.encode(np.array([0, 0], np.uint8), np.array([0, 0], np.uint8))
    >>> blocks = [np.array(v, np.uint8) for v in ([70, 100], [30, 0], *[[0, 0]] * 4)]
    >>> tally.add(code, blocks)
    >>> result = tally.result  # Brier: ((0.3**2 + 0.3**2) + 0) / 2 = 0.09
    >>> result.pixels, result.brier / 10000 / result.pixels, tally.problems()
    (2, 0.09, [])
    """

    def __init__(self, chart: str, names: list[str], codes: PairCodes) -> None:
        self.chart, self.names, self.codes = chart, names, codes
        self.n = N_CLASSES[chart]
        self.histograms = np.zeros((self.n, HIST_SIDE, HIST_SIDE), dtype=np.int64)
        self.pixels_with_value = 0
        self.in_tolerance = 0

    def add(self, code: np.ndarray, blocks: list[np.ndarray]) -> None:
        """Count a block: the chart's pair codes and the K percentage blocks (uint8)."""
        total = np.zeros(code.shape, dtype=np.uint16)
        for k, block in enumerate(blocks):
            block = np.asarray(block, dtype=np.uint8)
            self.histograms[k] += joint_histogram(code, block)
            np.add(total, block, out=total, casting="unsafe")
        tolerance = probability_sum_tolerance(self.chart)
        self.in_tolerance += count_between(total, PERCENT_MAX - tolerance, PERCENT_MAX + tolerance)

    def _rows(self) -> tuple[np.ndarray, np.ndarray]:
        """Codes where the submission has a value (not 255), and where it has 255."""
        column = self.codes.column
        return np.flatnonzero((column >= 0) & (column <= self.n)), np.flatnonzero(column == self.n + 1)  # fmt: skip

    def problems(self) -> list[str]:
        valued, masked = self._rows()
        at_value = self.histograms[:, valued].sum(axis=1)  # [K, 256 values]
        at_mask = self.histograms[:, masked].sum(axis=1)
        beyond = int(at_value[:, PERCENT_MAX + 1 : MASK].sum())
        mask_at_value = int(at_value[:, MASK].sum())
        not_mask = int((at_mask.sum(axis=1) - at_mask[:, MASK]).sum())
        pixels = int(at_value[0].sum())
        off_sum = 0 if beyond or mask_at_value else max(0, pixels - self.in_tolerance)
        return probability_problems(
            self.names, self.chart, beyond, mask_at_value, not_mask, off_sum
        )

    @property
    def result(self) -> ProbabilityCounts:
        """The `ProbabilityCounts` of the scored pixels with a value (check `problems`)."""
        codes, refs, columns = self.codes.scored_rows()
        has = columns != self.n + 1
        values = np.arange(LEVELS, dtype=np.int64)
        counts = self.histograms[:, codes[has], :LEVELS]  # [K, scored codes, levels]
        squares = int((counts.sum(axis=(0, 1)) * values**2).sum())
        reference_levels = np.zeros(LEVELS, dtype=np.int64)
        for k in range(self.n):
            reference_levels += counts[k, refs[has] == k].sum(axis=0)
        pixels = int(counts[0].sum())
        p_ref = int((reference_levels * values).sum())
        brier = squares - 2 * PERCENT_MAX * p_ref + pixels * PERCENT_MAX**2
        no_probability = int(self.histograms[0, codes[~has]].sum())
        return ProbabilityCounts(pixels, brier, reference_levels, no_probability)


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
                chart,
                [probability_variable(scene_id, chart, k) for k in range(N_CLASSES[chart])],
                self.confidence[chart].codes,
            )
            for chart in files.probability_charts
        }
        self._probability_rows = {
            c: files.probability_rows(scene_id, c) for c in self.probabilities
        }

    def add(self, chart: str, rows: slice, ref: np.ndarray, pred: np.ndarray) -> np.ndarray | None:
        """Count rows `rows` of `chart` (`ref` uint8 and `pred` as the scorer read them).
        Returns the block's (reference, prediction) joint histogram where it could be read off
        the calibration's own counts (`ConfidenceTally.add`), else None."""
        confidence = self._confidence_rows[chart].read(rows)
        code, pairs = self.confidence[chart].add(ref, pred, confidence)
        if chart == "SIC":
            low, high = (reader.read(rows) for reader in self._interval_rows)
            self.interval.add(code, low, high)
        if chart in self.probabilities:
            blocks = [reader.read(rows) for reader in self._probability_rows[chart]]
            self.probabilities[chart].add(code, blocks)
        return pairs

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
