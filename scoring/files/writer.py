"""Write an AutoICE submission file (`upload_package.nc`), one scene at a time.

The format of the challenge: one netCDF-4 file with, for each test scene and chart, a 2-D uint8
variable `<scene_id>_<chart>` (dimensions `<name>_dim0`, `<name>_dim1`) on the scene's 80 m grid,
zlib-compressed, MASK (255) where nothing is predicted. No `_FillValue` is set, so no reader
masks the 255s away. The file is written through `kit.atomic.atomic_path` (a temporary name in
the destination folder, renamed at the end), so a crash never leaves a half-written package
under the final name, nor a temporary file behind.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from contextlib import ExitStack
from pathlib import Path

import netCDF4
import numpy as np

from kit import charts
from kit.atomic import atomic_path, check_output_file
from scoring.errors import ScoringError

#: zlib level: 1 is what the starter kit used; higher levels gain little on class maps.
COMPRESSION_LEVEL = 1
#: Per-variable HDF5 chunk cache (bytes) while writing. Each chart is written whole, so HDF5
#: needs no cache; with netCDF's default (64 MB a variable) every chart written so far stayed
#: in memory until the file was closed: 75 MB per 5000 x 5000 scene, growing with the scenes.
#: Chunks larger than this bypass the cache.
CHUNK_CACHE_BYTES = 1 << 16


class UInt8Writer:
    """Context manager writing 2-D uint8 variables into one netCDF-4 file, atomically.

    The file layout of a submission (see the module docstring): each variable `<name>` has the
    dimensions `<name>_dim0`, `<name>_dim1`, zlib level `COMPRESSION_LEVEL`, no `_FillValue`
    and a small chunk cache; the file is written under a temporary name and renamed onto `path`
    on a clean exit (removed on an error). `SubmissionWriter` and the uncertainty writers
    (`scoring.files.uncertainty_writer`) are built on it.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write.
    title : str
        The file's ``title`` attribute.
    setting : str
        How `path` is named in errors (a folder given as the file, a missing folder).
    """

    def __init__(self, path: str | os.PathLike, title: str, setting: str):
        self.path = check_output_file(path, setting)
        self.title = title
        self._dataset: netCDF4.Dataset | None = None
        self._stack = ExitStack()

    def __enter__(self):
        temporary = self._stack.enter_context(atomic_path(self.path))
        self._dataset = netCDF4.Dataset(temporary, "w", format="NETCDF4")
        self._dataset.setncattr("title", self.title)
        return self

    def _write_uint8(self, name: str, values: np.ndarray) -> None:
        """Add variable `name` holding `values` (2-D, already checked)."""
        dims = (f"{name}_dim0", f"{name}_dim1")
        for dim, size in zip(dims, values.shape):
            self._dataset.createDimension(dim, size)
        variable = self._dataset.createVariable(
            name, "u1", dims, zlib=True, complevel=COMPRESSION_LEVEL, fill_value=False,
            chunk_cache=CHUNK_CACHE_BYTES,
        )  # fmt: skip
        variable[:] = values.astype(np.uint8, copy=False)

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._dataset is not None:
            self._dataset.close()
            self._dataset = None
        self._stack.__exit__(exc_type, exc, tb)  # renames on success, removes it on failure


class SubmissionWriter(UInt8Writer):
    """Context manager adding scenes to a submission; renamed onto `path` on a clean exit.

    >>> with SubmissionWriter("upload_package.nc") as out:   # doctest: +SKIP
    ...     out.add_scene("20180124T194759_dmi", {"SIC": sic, "SOD": sod, "FLOE": floe})
    """

    def __init__(self, path: str | os.PathLike):
        super().__init__(path, "AutoICE submission", "submission")
        self.scene_ids: list[str] = []

    def __enter__(self) -> SubmissionWriter:
        return super().__enter__()

    def add_scene(self, scene_id: str, chart_maps: Mapping[str, np.ndarray]) -> None:
        """Add one scene's class maps (all three charts, same 80 m shape, values 0-N or 255)."""
        self._check_new(scene_id)
        missing = [c for c in charts.CHARTS if c not in chart_maps]
        if missing:
            raise ScoringError(f"scene {scene_id}: no prediction for chart(s) {', '.join(missing)}")
        shapes = {np.shape(chart_maps[c]) for c in charts.CHARTS}
        if len(shapes) != 1 or len(next(iter(shapes))) != 2:
            raise ScoringError(
                f"scene {scene_id}: chart maps must be 2-D with one shape, got {shapes}"
            )
        self.add_scene_charts(
            scene_id, next(iter(shapes)), ((c, chart_maps[c]) for c in charts.CHARTS)
        )

    def add_scene_charts(
        self, scene_id: str, shape: tuple[int, int], chart_maps: Iterable[tuple[str, np.ndarray]]
    ) -> None:
        """Add one scene's class maps given one chart at a time, each written as it comes.

        The streaming form of `add_scene`: `chart_maps` may be a generator that computes each
        80 m chart only when asked, so only one chart of the scene is ever in memory.

        Parameters
        ----------
        scene_id : str
            The scene id (no ``_prep.nc`` suffix).
        shape : tuple of int
            (H, W) of the scene's 80 m grid, which every chart must have.
        chart_maps : iterable of (str, numpy.ndarray)
            SIC, SOD and FLOE, each once, in any order: integers 0 .. N-1, or MASK (255).

        Raises
        ------
        ScoringError
            If the scene was added before, a chart is unknown, repeated, missing, of another
            shape, or holds values outside its classes. Charts given before the bad one are
            already in the file: let the error leave the `with` block (no file is written).

        Examples
        --------
        >>> import tempfile
        >>> def maps():  # one 80 m chart at a time
        ...     for chart in charts.CHARTS:
        ...         yield chart, np.zeros((3, 4), dtype=np.uint8)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     with SubmissionWriter(Path(tmp, "upload_package.nc")) as writer:
        ...         writer.add_scene_charts("20180124T194759_dmi", (3, 4), maps())
        ...     with netCDF4.Dataset(writer.path) as dataset:
        ...         print(dataset["20180124T194759_dmi_FLOE"].shape)
        (3, 4)
        """
        self._check_new(scene_id)
        shape = tuple(shape)
        done: list[str] = []
        for chart, values in chart_maps:
            if chart not in charts.CHARTS or chart in done:
                what = "unknown" if chart not in charts.CHARTS else "repeated"
                raise ScoringError(f"scene {scene_id}: {what} chart {chart!r}")
            if np.shape(values) != shape or len(shape) != 2:
                raise ScoringError(
                    f"scene {scene_id}: chart maps must be 2-D with one shape, got "
                    f"{np.shape(values)} for {chart}, expected {shape}"
                )
            self._write(charts.submission_variable(scene_id, chart), chart, values)
            done.append(chart)
        missing = [c for c in charts.CHARTS if c not in done]
        if missing:
            raise ScoringError(f"scene {scene_id}: no prediction for chart(s) {', '.join(missing)}")
        self.scene_ids.append(scene_id)

    def _check_new(self, scene_id: str) -> None:
        if self._dataset is None:
            raise RuntimeError("SubmissionWriter.add_scene outside of its `with` block")
        if scene_id in self.scene_ids:
            raise ScoringError(f"{self.path}: scene {scene_id} added twice")

    def _write(self, name: str, chart: str, values: np.ndarray) -> None:
        values = np.asarray(values)
        if values.dtype.kind == "f" and not np.isfinite(values).all():
            raise ScoringError(f"{name}: NaN or infinite values cannot go into a submission")
        bad = (values != charts.MASK) & ((values < 0) | (values >= charts.N_CLASSES[chart]))
        if bad.any():
            raise ScoringError(f"{name}: {int(bad.sum())} values outside the {chart} classes")
        self._write_uint8(name, values)


def write_submission(
    path: str | os.PathLike, scenes: Mapping[str, Mapping[str, np.ndarray]]
) -> Path:
    """Write `{scene_id: {chart: uint8 map}}` as a submission file; returns its path.

    The challenge's format (see the module docstring), written atomically: a failure leaves
    neither a partial file under `path` nor a temporary file.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write (``upload_package.nc``), in an existing or creatable folder.
    scenes : Mapping of str to Mapping of str to numpy.ndarray
        Per scene id (no ``_prep.nc`` suffix), the class maps of SIC, SOD and FLOE on the
        scene's 80 m grid: integers 0 .. N-1, or MASK (255) where nothing is predicted.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    ScoringError
        If `path` is a folder, a scene is given twice or lacks a chart, its maps differ in
        shape or are not 2-D, or hold NaN or values outside their chart's classes.

    Examples
    --------
    >>> import tempfile
    >>> sic = np.full((3, 4), 10, dtype=np.uint8)
    >>> maps = {"SIC": sic, "SOD": sic // 2, "FLOE": np.full((3, 4), 255, dtype=np.uint8)}
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = write_submission(Path(tmp, "upload_package.nc"), {"20180124T194759_dmi": maps})
    ...     with netCDF4.Dataset(path) as dataset:
    ...         print(sorted(dataset.variables))
    ...         print(dataset["20180124T194759_dmi_SOD"][:].max())
    ['20180124T194759_dmi_FLOE', '20180124T194759_dmi_SIC', '20180124T194759_dmi_SOD']
    5
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     write_submission(Path(tmp, "bad.nc"), {"20180124T194759_dmi": {"SIC": sic}})
    Traceback (most recent call last):
    ...
    scoring.errors.ScoringError: scene 20180124T194759_dmi: no prediction for chart(s) SOD, FLOE
    """
    with SubmissionWriter(path) as writer:
        for scene_id, chart_maps in scenes.items():
            writer.add_scene(scene_id, chart_maps)
    return writer.path
