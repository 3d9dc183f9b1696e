"""Write the uncertainty and class-probability files that may come with a submission.

Both have the layout of a submission (`scoring.files.writer`: netCDF-4, 2-D uint8 variables on
each scene's 80 m grid with `<name>_dim0`/`<name>_dim1` dimensions, zlib, no `_FillValue`,
written atomically), one variable per scene and chart:

- the uncertainty file (`autoice predict --uncertainty`): `<scene_id>_<chart>_confidence`, the
  calibrated probability in percent (0-100) of the class the submission holds, and
  `<scene_id>_SIC_low`, `<scene_id>_SIC_high`, the central 90 % predictive interval of SIC in
  classes (0-10), `low <= submitted SIC <= high`;
- the probabilities file (`autoice predict --probabilities`): `<scene_id>_<chart>_p<k>`, the
  probability of class `k` in percent, for every class of every chart.

Every map is MASK (255) exactly where the submission's map is, and is checked against it before
it is written (shape, range, 255 placement, interval order); a bad map is one `ScoringError`
naming the variable, and leaves no file. The names come from `kit.charts`
(`confidence_variable`, `sic_interval_variables`, `probability_variable`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np

from kit import charts
from scoring.errors import ScoringError
from scoring.files.writer import UInt8Writer


class _ChartFileWriter(UInt8Writer):
    """A file with maps per scene and chart: each chart once per scene, every scene complete."""

    def __init__(self, path: str | os.PathLike, title: str, setting: str):
        super().__init__(path, title, setting)
        self.charts: dict[str, list[str]] = {}

    def _start(self, scene_id: str, chart: str) -> None:
        if self._dataset is None:
            raise RuntimeError(f"{type(self).__name__}.add_chart outside of its `with` block")
        if chart not in charts.CHARTS:
            raise ScoringError(f"scene {scene_id}: unknown chart {chart!r}")
        if chart in self.charts.get(scene_id, ()):
            raise ScoringError(f"{self.path}: scene {scene_id} chart {chart} added twice")

    def _done(self, scene_id: str, chart: str) -> None:
        self.charts.setdefault(scene_id, []).append(chart)

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            incomplete = {
                s: [c for c in charts.CHARTS if c not in done]
                for s, done in self.charts.items()
                if len(done) != len(charts.CHARTS)
            }
            if incomplete:
                scene, missing = next(iter(incomplete.items()))
                error = ScoringError(
                    f"{self.path}: scene {scene} has no map of chart(s) {', '.join(missing)}"
                )
                super().__exit__(ScoringError, error, None)  # removes the temporary file
                raise error
        super().__exit__(exc_type, exc, tb)


def check_map(
    name: str, values: np.ndarray, submitted: np.ndarray, top: int, what: str
) -> np.ndarray:
    """`values` as uint8 if it fits `submitted`: same shape, integers 0..`top` or MASK, and
    MASK exactly where `submitted` has it; else a one-line ScoringError naming `name`.

    Examples
    --------
    >>> submitted = np.array([[0, 255]], dtype=np.uint8)
    >>> check_map("s_SIC_confidence", np.array([[80, 255]]), submitted, 100, "percent")
    array([[ 80, 255]], dtype=uint8)
    >>> check_map("s_SIC_confidence", np.array([[80, 7]]), submitted, 100, "percent")
    Traceback (most recent call last):
    ...
    scoring.errors.ScoringError: s_SIC_confidence: 255 at 0 pixel(s) and a value at 1 ...
    """
    values = np.asarray(values)
    if values.shape != np.shape(submitted):
        raise ScoringError(
            f"{name}: shape {values.shape} differs from the submission's {np.shape(submitted)}"
        )
    if values.dtype.kind not in "ui":
        raise ScoringError(f"{name}: {values.dtype} values; expected integers ({what})")
    is_mask = values == charts.MASK
    # above `top` are the 255s and nothing else (few passes: these maps are 25 Mpx at 80 m)
    if np.count_nonzero(values > top) != np.count_nonzero(is_mask) or (
        values.dtype.kind == "i" and (values < 0).any()
    ):
        outside = int(np.count_nonzero(~is_mask & ((values < 0) | (values > top))))
        raise ScoringError(f"{name}: {outside} value(s) outside 0-{top} ({what}) and not 255")
    masked = submitted == charts.MASK
    if not np.array_equal(is_mask, masked):
        extra = int(np.count_nonzero(is_mask & ~masked))
        missing = int(np.count_nonzero(~is_mask & masked))
        raise ScoringError(
            f"{name}: 255 at {extra} pixel(s) and a value at {missing} pixel(s) where the "
            "submission says otherwise; 255 must be exactly where the submission has 255"
        )
    return values.astype(np.uint8, copy=False)


class UncertaintyWriter(_ChartFileWriter):
    """Context manager writing an uncertainty file (confidences, SIC interval) chart by chart.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write (``uncertainty.nc``); renamed onto `path` on a clean exit.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import netCDF4
    >>> sic = np.array([[3, 255]], dtype=np.uint8)
    >>> other = np.array([[1, 255]], dtype=np.uint8)
    >>> confidence = np.array([[62, 255]], dtype=np.uint8)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     with UncertaintyWriter(Path(tmp, "uncertainty.nc")) as writer:
    ...         writer.add_chart("20180124T194759_dmi", "SIC", sic, confidence,
    ...                          low=np.array([[2, 255]]), high=np.array([[5, 255]]))
    ...         for chart in ("SOD", "FLOE"):
    ...             writer.add_chart("20180124T194759_dmi", chart, other, confidence)
    ...     with netCDF4.Dataset(writer.path) as dataset:
    ...         print(sorted(dataset.variables)[:3])
    ...         print(dataset["20180124T194759_dmi_SIC_high"][:].tolist())
    ['20180124T194759_dmi_FLOE_confidence', '20180124T194759_dmi_SIC_confidence', \
'20180124T194759_dmi_SIC_high']
    [[5, 255]]
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     with UncertaintyWriter(Path(tmp, "uncertainty.nc")) as writer:
    ...         writer.add_chart("20180124T194759_dmi", "SIC", sic, confidence,
    ...                          low=np.array([[4, 255]]), high=np.array([[5, 255]]))
    Traceback (most recent call last):
    ...
    scoring.errors.ScoringError: 20180124T194759_dmi_SIC_low: 1 pixel(s) above the submitted SIC
    """

    def __init__(self, path: str | os.PathLike):
        super().__init__(path, "AutoICE uncertainty", "uncertainty file")

    def __enter__(self) -> UncertaintyWriter:
        super().__enter__()
        self._dataset.setncattr("sic_interval_probability", charts.SIC_INTERVAL_PROBABILITY)
        return self

    def add_chart(
        self,
        scene_id: str,
        chart: str,
        submitted: np.ndarray,
        confidence: np.ndarray,
        low: np.ndarray | None = None,
        high: np.ndarray | None = None,
    ) -> None:
        """Check and write one chart's confidence (and, for SIC, interval) of a scene.

        Parameters
        ----------
        scene_id : str
            The scene id (no ``_prep.nc`` suffix).
        chart : str
            SIC, SOD or FLOE.
        submitted : numpy.ndarray
            The chart as written in the submission (classes or 255), which the maps must fit.
        confidence : numpy.ndarray
            Percent (0-100), 255 exactly where `submitted` is 255.
        low, high : numpy.ndarray, optional
            SIC only (and required for it): interval ends in classes, ``low <= submitted <=
            high``, 255 exactly where `submitted` is 255.

        Raises
        ------
        ScoringError
            One line naming the variable: shape, range, 255 placement or interval order.
        """
        self._start(scene_id, chart)
        submitted = np.asarray(submitted)
        maps = {
            charts.confidence_variable(scene_id, chart): check_map(
                charts.confidence_variable(scene_id, chart), confidence, submitted,
                charts.PERCENT_MAX, "percent",
            )
        }  # fmt: skip
        if chart == "SIC":
            if low is None or high is None:
                raise ScoringError(f"scene {scene_id}: SIC needs its interval (low and high)")
            maps.update(_interval(scene_id, submitted, low, high))
        elif low is not None or high is not None:
            raise ScoringError(f"scene {scene_id}: only SIC has an interval, not {chart}")
        for name, values in maps.items():
            self._write_uint8(name, values)
        self._done(scene_id, chart)


def _interval(scene_id: str, submitted: np.ndarray, low, high) -> dict[str, np.ndarray]:
    top = charts.N_CLASSES["SIC"] - 1
    low_name, high_name = charts.sic_interval_variables(scene_id)
    low = check_map(low_name, low, submitted, top, "SIC classes")
    high = check_map(high_name, high, submitted, top, "SIC classes")
    scored = submitted != charts.MASK
    for name, bad, what in (
        (low_name, low > submitted, "above the submitted SIC"),
        (high_name, high < submitted, "below the submitted SIC"),
    ):
        count = int((bad & scored).sum())
        if count:
            raise ScoringError(f"{name}: {count} pixel(s) {what}")
    return {low_name: low, high_name: high}


class ProbabilityWriter(_ChartFileWriter):
    """Context manager writing a class-probabilities file, one class map at a time.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write (``probabilities.nc``); renamed onto `path` on a clean exit.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import netCDF4
    >>> submitted = np.array([[0, 255]], dtype=np.uint8)
    >>> def maps(chart):  # every class's map in turn: all the probability on class 0
    ...     for k in range(charts.N_CLASSES[chart]):
    ...         yield k, np.array([[100 if k == 0 else 0, 255]], dtype=np.uint8)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     with ProbabilityWriter(Path(tmp, "probabilities.nc")) as writer:
    ...         for chart in charts.CHARTS:
    ...             writer.add_chart("20180124T194759_dmi", chart, submitted, maps(chart))
    ...     with netCDF4.Dataset(writer.path) as dataset:
    ...         print(len(dataset.variables), dataset["20180124T194759_dmi_FLOE_p6"][:].tolist())
    24 [[0, 255]]
    """

    def __init__(self, path: str | os.PathLike):
        super().__init__(path, "AutoICE class probabilities", "probabilities file")

    def __enter__(self) -> ProbabilityWriter:
        return super().__enter__()

    def add_chart(
        self,
        scene_id: str,
        chart: str,
        submitted: np.ndarray,
        maps: Iterable[tuple[int, np.ndarray]],
    ) -> None:
        """Check and write every class's probability map (percent) of one chart of a scene.

        Parameters
        ----------
        scene_id, chart : str
            The scene id and SIC, SOD or FLOE.
        submitted : numpy.ndarray
            The chart as written in the submission.
        maps : iterable of (int, numpy.ndarray)
            ``(k, percent map)`` for each class ``k`` once, in any order; may be a generator
            (one class map in memory at a time).

        Raises
        ------
        ScoringError
            One line naming the variable: an unknown or repeated class, a missing one, or a
            map of another shape, range or 255 placement than the submission's.
        """
        self._start(scene_id, chart)
        submitted = np.asarray(submitted)
        n_classes = charts.N_CLASSES[chart]
        written: set[int] = set()
        for k, values in maps:
            name = charts.probability_variable(scene_id, chart, k)
            if k in written or not 0 <= k < n_classes:
                raise ScoringError(f"{name}: {chart} has classes 0-{n_classes - 1}, each once")
            check = check_map(name, values, submitted, charts.PERCENT_MAX, "percent")
            self._write_uint8(name, check)
            written.add(k)
        if len(written) != n_classes:
            missing = sorted(set(range(n_classes)) - written)
            raise ScoringError(f"scene {scene_id}: {chart} lacks the probabilities of {missing}")
        self._done(scene_id, chart)
