"""The uncertainty and probabilities files written beside a submission, checked like one.

An uncertainty file (`autoice predict --uncertainty`) holds, for every scene of the submission,
on the scene's 80 m grid (uint8 2-D variables, named by `kit.charts`):

- `confidence_variable(scene, chart)` per chart: the probability, in percent (0-100), of the
  class the submission has at that pixel; MASK (255) exactly where the submission has 255;
- `sic_interval_variables(scene)`: the low and high ends of the central
  `SIC_INTERVAL_PROBABILITY` predictive interval of SIC, in SIC classes (0-10), with
  low <= submitted class <= high; MASK exactly where the submission has 255.

A probabilities file (`--probabilities`) holds `probability_variable(scene, chart, k)` for
every class k of the charts it covers (all classes of a chart for all scenes, or none of them),
in percent, MASK exactly where the submission has 255. Each percentage is rounded on its own,
so a pixel's percentages need not sum to exactly 100: the sum must lie within
`probability_sum_tolerance(chart)` of 100 (one point per class, whatever the rounding rule).

The files are untrusted, like submissions: `check_uncertainty_file` and
`check_probabilities_file` check the storage (`scoring.files.storage`: a regular netCDF-3 or
HDF5 file, no links to other files, bounded chunks and filters) and the metadata (every variable
present, uint8, 2-D, the scene's shape; no variable of another scene or any other variable)
before any value is read. Values are checked while the scorer streams them
(`confidence_problems`, `interval_problems`, `probability_problems`, fed by
`scoring.calibration.tally`). Every problem is one `ScoringError` line naming the file and the
variables.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

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
from scoring.errors import ScoringError
from scoring.files import raw_chunks
from scoring.files.chart_reader import ChartFile, open_chart_file
from scoring.files.reference import Reference
from scoring.files.storage import check_regular_file, check_submission

#: How the two files are named in errors.
UNCERTAINTY_ROLE, PROBABILITIES_ROLE = "uncertainty file", "probabilities file"
#: SIC classes 0 .. SIC_TOP are the ends of an interval.
SIC_TOP = N_CLASSES["SIC"] - 1
#: Names spelled out in one problem before "... (N more)".
LISTED_NAMES = 6


def probability_sum_tolerance(chart: str) -> int:
    """How far (in percentage points) a pixel's class percentages may sum from 100.

    Each of the chart's K percentages is rounded to a whole number on its own, so each may be
    off by up to one point whatever the rounding rule (nearest, down, up): the sum must lie in
    100 +- K.

    Examples
    --------
    >>> [probability_sum_tolerance(c) for c in CHARTS]
    [11, 6, 7]
    """
    return N_CLASSES[chart]


def uncertainty_variables(scene_ids: Iterable[str]) -> list[str]:
    """The variables an uncertainty file must hold for `scene_ids`: per scene, the confidence of
    each chart, then the SIC interval's low and high ends.

    Examples
    --------
    >>> uncertainty_variables(["20180124T194759_dmi"])[-2:]
    ['20180124T194759_dmi_SIC_low', '20180124T194759_dmi_SIC_high']
    """
    names = []
    for scene in scene_ids:
        names += [confidence_variable(scene, chart) for chart in CHARTS]
        names += list(sic_interval_variables(scene))
    return names


def probability_variables(scene_ids: Iterable[str], charts: Sequence[str] = CHARTS) -> list[str]:
    """The variables a probabilities file holds for `scene_ids` and `charts`: one per class.

    Examples
    --------
    >>> probability_variables(["20180124T194759_dmi"], ["SOD"])[:2]
    ['20180124T194759_dmi_SOD_p0', '20180124T194759_dmi_SOD_p1']
    """
    return [
        probability_variable(scene, chart, k)
        for scene in scene_ids
        for chart in charts
        for k in range(N_CLASSES[chart])
    ]


def check_uncertainty_file(path: str | os.PathLike, reference: Reference) -> None:
    """ScoringError (one line) unless `path` is a safe uncertainty file for exactly the
    reference's scenes (see the module docstring); no value is read.

    Parameters
    ----------
    path : str or os.PathLike
        The uncertainty file.
    reference : Reference
        The scenes scored (`scoring.files.reference.find_reference`).

    Raises
    ------
    ScoringError
        Naming the file and every missing, misshapen, mistyped or unexpected variable (e.g.
        variables of scenes that are not in the reference).

    Examples
    --------
    >>> from scoring.files.reference import Reference
    >>> check_uncertainty_file("missing.nc", Reference("data", {}))
    Traceback (most recent call last):
    ...
    scoring.errors.ScoringError: uncertainty file missing.nc: no such file
    """
    expected = uncertainty_variables(reference.scene_ids)
    _check_file(path, UNCERTAINTY_ROLE, reference, expected, lambda names: expected)


def check_probabilities_file(path: str | os.PathLike, reference: Reference) -> tuple[str, ...]:
    """ScoringError (one line) unless `path` is a safe probabilities file for exactly the
    reference's scenes; returns the charts it covers. No value is read.

    A chart is covered when the file holds any of its variables; it must then hold all of them
    (every class of every scene). At least one chart must be covered.

    Examples
    --------
    >>> from scoring.files.reference import Reference
    >>> check_probabilities_file("missing.nc", Reference("data", {}))
    Traceback (most recent call last):
    ...
    scoring.errors.ScoringError: probabilities file missing.nc: no such file
    """
    scenes = reference.scene_ids
    every = {chart: probability_variables(scenes, [chart]) for chart in CHARTS}
    covered: list[str] = []

    def expected_of(names: set[str]) -> list[str]:
        covered.extend(c for c in CHARTS if names.intersection(every[c]))
        return [name for chart in covered or CHARTS for name in every[chart]]

    _check_file(path, PROBABILITIES_ROLE, reference, [n for c in CHARTS for n in every[c]],
                expected_of)  # fmt: skip
    return tuple(covered)


def _check_file(path, role: str, reference: Reference, scored: list[str], expected_of) -> None:
    """Storage first (nothing opened that could follow links), then the variables."""
    check_regular_file(path, role)
    raw_chunks.h5py_module()
    check_submission(path, scored, role=role)
    with open_chart_file(path, role) as dataset:
        names = set(dataset.variables)
        expected = expected_of(names)
        problems = _variable_problems(dataset, reference, expected)
        extra = sorted(names - set(expected))
    if extra:
        problems.append(
            f"{len(extra)} variables of no reference scene or not expected here: "
            f"{_listing(extra)} (a file for other scenes?)"
        )
    if problems:
        raise ScoringError(f"{role} {os.fspath(path)} is invalid: {'; '.join(problems)}")


def _variable_problems(dataset, reference: Reference, expected: list[str]) -> list[str]:
    problems, missing = [], []
    shapes = {}
    for scene in reference.scene_ids:
        shape = tuple(reference.scenes[scene].shape)
        for name in expected:
            if name.startswith(f"{scene}_"):
                shapes[name] = shape
    for name in expected:
        variable = dataset.variables.get(name)
        if variable is None:
            missing.append(name)
        elif getattr(variable.dtype, "kind", "O") != "u" or variable.dtype.itemsize != 1:
            problems.append(f"{name} has type {variable.dtype}, not uint8")
        elif len(variable.shape) != 2:
            problems.append(f"{name} has {len(variable.shape)} dimensions, expected 2")
        elif tuple(variable.shape) != shapes[name]:
            problems.append(f"{name} has shape {tuple(variable.shape)}, expected {shapes[name]}")
    if missing:
        problems.insert(0, f"missing {len(missing)} variables: {_listing(missing)}")
    return problems


def _listing(names: Sequence[str]) -> str:
    shown = ", ".join(names[:LISTED_NAMES])
    more = len(names) - LISTED_NAMES
    return shown + (f" ... ({more} more)" if more > 0 else "")


class UncertaintyFiles:
    """The uncertainty file (and optionally a probabilities file) open for reading row blocks.

    Check them first (`check_uncertainty_file`, `check_probabilities_file`): this class only
    opens and reads, inflating within bounds as for a submission (`ChartFile(bounded=True)`).

    Parameters
    ----------
    uncertainty : str or os.PathLike
        The uncertainty file.
    probabilities : str or os.PathLike, optional
        The probabilities file.
    probability_charts : sequence of str
        The charts the probabilities file covers (`check_probabilities_file`).
    """

    def __init__(
        self,
        uncertainty: str | os.PathLike,
        probabilities: str | os.PathLike | None = None,
        probability_charts: Sequence[str] = (),
    ) -> None:
        self.uncertainty_path = os.fspath(uncertainty)
        self.probabilities_path = None if probabilities is None else os.fspath(probabilities)
        self.probability_charts = tuple(probability_charts) if probabilities is not None else ()
        self._uncertainty = ChartFile(uncertainty, UNCERTAINTY_ROLE, bounded=True)
        self._probabilities = None
        if probabilities is not None:
            self._probabilities = ChartFile(probabilities, PROBABILITIES_ROLE, bounded=True)

    def confidence_rows(self, scene: str, chart: str):
        """Row reader (`blocks`, `read`) of a chart's confidence."""
        name = confidence_variable(scene, chart)
        return self._uncertainty.rows(name, f"{UNCERTAINTY_ROLE} variable {name}")

    def interval_rows(self, scene: str) -> tuple:
        """Row readers of the SIC interval's low and high ends."""
        return tuple(
            self._uncertainty.rows(name, f"{UNCERTAINTY_ROLE} variable {name}")
            for name in sic_interval_variables(scene)
        )

    def probability_rows(self, scene: str, chart: str) -> list:
        """Row readers of the chart's class probabilities (empty if the chart is not covered)."""
        if chart not in self.probability_charts:
            return []
        return [
            self._probabilities.rows(name, f"{PROBABILITIES_ROLE} variable {name}")
            for name in probability_variables([scene], [chart])
        ]

    def close(self) -> None:
        for handle in (self._uncertainty, self._probabilities):
            if handle is not None:
                handle.close()

    def __enter__(self) -> UncertaintyFiles:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass
class UncertaintyInputs:
    """The uncertainty and probabilities files of one scoring (None: not given), as the scorer
    passes them to its worker processes: checked before any value is read (`check_regular`
    before anything opens them, `check` once the reference is known), then opened in each
    process that reads scenes (`open`).

    Examples
    --------
    >>> inputs = UncertaintyInputs("uncertainty.nc")
    >>> inputs.paths()
    {'uncertainty': 'uncertainty.nc', 'probabilities': None}
    >>> inputs.check_regular()
    Traceback (most recent call last):
    ...
    scoring.errors.ScoringError: uncertainty file uncertainty.nc: no such file
    >>> UncertaintyInputs().open() is None, UncertaintyInputs().paths()
    (True, {})
    """

    uncertainty: str | os.PathLike | None = None
    probabilities: str | os.PathLike | None = None
    probability_charts: tuple[str, ...] = ()

    def check_regular(self) -> None:
        """ScoringError unless each given file is a regular file (nothing opened)."""
        for path, role in ((self.uncertainty, UNCERTAINTY_ROLE),
                           (self.probabilities, PROBABILITIES_ROLE)):  # fmt: skip
            if path is not None:
                check_regular_file(path, role)

    def check(self, reference: Reference) -> None:
        """`check_uncertainty_file` and `check_probabilities_file` (noting the charts the
        probabilities cover)."""
        if self.uncertainty is not None:
            check_uncertainty_file(self.uncertainty, reference)
        if self.probabilities is not None:
            self.probability_charts = check_probabilities_file(self.probabilities, reference)

    def open(self) -> UncertaintyFiles | None:
        """The files open for reading, or None without an uncertainty file."""
        if self.uncertainty is None:
            return None
        return UncertaintyFiles(self.uncertainty, self.probabilities, self.probability_charts)

    def paths(self) -> dict[str, str | None]:
        """The paths as the report names them (empty without an uncertainty file)."""
        if self.uncertainty is None:
            return {}
        probabilities = self.probabilities
        return {
            "uncertainty": os.fspath(self.uncertainty),
            "probabilities": None if probabilities is None else os.fspath(probabilities),
        }


# Value checks, on counts gathered while streaming ------------------------------------------


def confidence_problems(name: str, at_mask: np.ndarray, at_value: np.ndarray) -> list[str]:
    """Problems of a confidence variable from its value counts (256 each) where the submission
    has 255 (`at_mask`) and where it has any other value (`at_value`).

    Examples
    --------
    >>> at_mask, at_value = np.zeros(256, int), np.zeros(256, int)
    >>> at_value[[40, 101, 255]] = 1
    >>> confidence_problems("s_SIC_confidence", at_mask, at_value)  # doctest: +NORMALIZE_WHITESPACE
    ['s_SIC_confidence: 1 pixels with values outside 0-100 (101) and 1 pixels of 255 where the
      submission has a class']
    """
    problems = []
    beyond = at_value[PERCENT_MAX + 1 : MASK]
    parts = []
    if beyond.any():
        values = (np.flatnonzero(beyond) + PERCENT_MAX + 1).tolist()
        parts.append(
            f"{int(beyond.sum())} pixels with values outside 0-{PERCENT_MAX} "
            f"({_listing([str(v) for v in values])})"
        )
    if at_value[MASK]:
        parts.append(f"{int(at_value[MASK])} pixels of {MASK} where the submission has a class")
    not_mask = int(at_mask.sum() - at_mask[MASK])
    if not_mask:
        parts.append(f"{not_mask} pixels not {MASK} where the submission has {MASK}")
    if parts:
        problems.append(f"{name}: {' and '.join(parts)}")
    return problems


def interval_problems(names: tuple[str, str], counts: np.ndarray) -> list[str]:
    """Problems of the SIC interval's ends, from ``counts[predicted, low, high]`` [13, 13, 13]:
    the pixels of each combination of states of the submitted SIC value (0-10: a class, 11:
    255, 12: out of class) and of each end (0-10: a class, 11: 255, 12: any other value).
    Returns one problem text, or none.

    Examples
    --------
    >>> counts = np.zeros((13, 13, 13), int)
    >>> counts[5, 6, 4] = 2   # low 6 > high 4, and 5 outside it
    >>> interval_problems(("s_SIC_low", "s_SIC_high"), counts)  # doctest: +NORMALIZE_WHITESPACE
    ['s_SIC_low/s_SIC_high: 2 pixels with low > high and 2 pixels where the submitted SIC
      class lies outside [low, high]']
    """
    m, x = SIC_TOP + 1, SIC_TOP + 2  # the states "255" and "other value"
    parts = []
    at_mask = counts[m]
    wrong_mask = int(at_mask.sum() - at_mask[m, m])
    at_value = counts[[*range(m), x]]
    outside = int(at_value[:, x, :].sum() + at_value[:, :, x].sum() - at_value[:, x, x].sum())
    if outside:
        parts.append(f"{outside} pixels with values outside the SIC classes 0-{SIC_TOP}")
    mask_at_value = int(at_value[:, m, :].sum() + at_value[:, :, m].sum() - at_value[:, m, m].sum())
    if mask_at_value:
        parts.append(f"{mask_at_value} pixels of {MASK} where the submission has a class")
    ends = np.arange(m)
    reversed_ = int(at_value[:, :m, :m][:, ends[:, None] > ends[None, :]].sum())
    if reversed_:
        parts.append(f"{reversed_} pixels with low > high")
    inside = (ends[None, :, None] <= ends[:, None, None]) & (
        ends[:, None, None] <= ends[None, None, :]
    )
    not_inside = int(counts[:m, :m, :m][~inside].sum())
    if not_inside:
        parts.append(f"{not_inside} pixels where the submitted SIC class lies outside [low, high]")
    if wrong_mask:
        parts.append(f"{wrong_mask} pixels not {MASK} where the submission has {MASK}")
    return [f"{names[0]}/{names[1]}: {' and '.join(parts)}"] if parts else []


def probability_problems(
    names: Sequence[str], chart: str, beyond: int, mask_at_value: int, not_mask: int, off_sum: int
) -> list[str]:
    """Problems of a chart's class probabilities (names: its variables) from the counts of
    pixels with a value outside 0-100 (`beyond`), 255 where the submission has a class,
    not 255 where it has 255, and a sum beyond `probability_sum_tolerance`.

    Examples
    --------
    >>> probability_problems(["s_SOD_p0", "s_SOD_p5"], "SOD", 0, 0, 0, 3)  # doctest: +NORMALIZE_WHITESPACE
    ['s_SOD_p0 ... s_SOD_p5: 3 pixels whose percentages sum beyond 100 +- 6']
    """
    parts = []
    if beyond:
        parts.append(f"{beyond} pixels with values outside 0-{PERCENT_MAX}")
    if mask_at_value:
        parts.append(f"{mask_at_value} pixels of {MASK} where the submission has a class")
    if not_mask:
        parts.append(f"{not_mask} pixels not {MASK} where the submission has {MASK}")
    if off_sum:
        parts.append(
            f"{off_sum} pixels whose percentages sum beyond 100 +- "
            f"{probability_sum_tolerance(chart)}"
        )
    return [f"{names[0]} ... {names[-1]}: {' and '.join(parts)}"] if parts else []
