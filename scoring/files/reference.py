"""Finding the reference charts a submission is scored against.

Three forms are recognised (`find_reference`):

- a folder of ready-to-train scenes whose files carry the 2-D uint8 chart variables SIC, SOD,
  FLOE on (`sar_lines`, `sar_samples`): `<scene_id>_prep.nc` (DTU release: training scenes in
  the folder itself, test scenes in `test_data/`, as the starter kit's `test_upload` notebook
  reads them) or `<scene_id>_prep_reference.nc` (TorchGeo / Hugging Face layout,
  `metadata.csv` + `train/` + `test/`). The reference scenes are the test scenes: those of a
  `test/` or else a `test_data/` subfolder (any case: the rule `kit.charts.is_test_folder` that
  `kit.data.discover` follows too) holding charts; without one, the scenes in the folder itself,
  otherwise those in `train/`. A scene's `_prep_reference.nc` is preferred over its
  `_prep.nc`; a `_prep.nc` without charts (a test input) is not a reference scene.
- one netCDF file holding `<scene_id>_<chart>` variables, like a submission (or a folder whose
  only netCDF file is such a file, as in a Codabench reference bundle);
- one scene file (`<scene_id>_prep.nc` or `_prep_reference.nc`) with SIC/SOD/FLOE variables.

Every file read must lie inside the reference folder (the given folder, or the given file's
own folder) once symbolic links are resolved, and hold its own data
(`storage.check_reference_file`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kit.charts import (
    CHARTS,
    PREP_SUFFIX,
    REFERENCE_SUFFIX,
    TEST_FOLDERS,
    is_test_folder,
    submission_variable,
)
from scoring.errors import ScoringError
from scoring.files.chart_reader import open_chart_file
from scoring.files.storage import check_reference_file, check_regular_file

#: Folders searched for reference scenes, in order of preference, relative to the given folder:
#: the test scenes (`kit.charts.TEST_FOLDERS`, in any case: `test/` of the TorchGeo layout,
#: `test_data/` of the DTU release) first.
SCENE_FOLDERS: tuple[str, ...] = (*TEST_FOLDERS, ".", "train")


@dataclass(frozen=True)
class ReferenceScene:
    """Where one scene's reference charts are: file, variable per chart, and the chart shape."""

    scene_id: str
    path: str
    variables: dict[str, str]
    shape: tuple[int, int]


@dataclass(frozen=True)
class Reference:
    """The reference scenes (scene id -> `ReferenceScene`) found at `source`."""

    source: str
    scenes: dict[str, ReferenceScene]

    @property
    def scene_ids(self) -> list[str]:
        return sorted(self.scenes)


def find_reference(path: str | os.PathLike) -> Reference:
    """Locate the reference charts at `path` (folder or file); ScoringError if there are none.

    Organisers hold their charts in any of the published forms; scoring sees one `Reference`.
    Every file must lie inside the reference folder once links are resolved.

    Parameters
    ----------
    path : str or os.PathLike
        A dataset folder (``test/*_prep_reference.nc`` or ``*_prep.nc`` files with charts,
        in either layout) or one netCDF file of ``<scene_id>_<chart>`` variables.

    Returns
    -------
    Reference
        ``.scenes``: per scene id, its file, variables and 80 m shape; ``.scene_ids``.

    Raises
    ------
    ScoringError
        If `path` does not exist, is not a regular file or folder, holds no reference
        charts, or a reference file lies outside it.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from scoring import write_submission
    >>> tmp = tempfile.TemporaryDirectory()
    >>> sic = np.arange(16, dtype=np.uint8).reshape(4, 4) % 11  # one 4 x 4 scene
    >>> scene = {"20180124T194759_dmi": {"SIC": sic, "SOD": sic // 2, "FLOE": sic // 2}}
    >>> reference = write_submission(Path(tmp.name, "reference.nc"), scene)
    >>> found = find_reference(reference)
    >>> found.scene_ids, found.scenes["20180124T194759_dmi"].shape
    (['20180124T194759_dmi'], (4, 4))
    >>> find_reference(Path(tmp.name, "nothing"))
    Traceback (most recent call last):
    ...
    scoring.errors.ScoringError: reference .../nothing: no such file or folder
    >>> tmp.cleanup()
    """
    path = Path(path)
    if path.is_dir():
        scenes = _scenes_in_folder_tree(path)
    elif path.exists():
        check_regular_file(path, "reference")
        scenes = _scenes_in_file(path, Path(os.path.realpath(path)).parent)
    else:
        raise ScoringError(f"reference {path}: no such file or folder")
    if not scenes:
        raise ScoringError(
            f"reference {path}: no reference charts found (expected *{REFERENCE_SUFFIX} or "
            f"*{PREP_SUFFIX} files with {'/'.join(CHARTS)}, or one netCDF of <scene>_<chart> variables)"
        )
    return Reference(source=str(path), scenes=scenes)


def _scene_folders(root: Path) -> list[Path]:
    """The folders of `SCENE_FOLDERS` under `root`, test folders matched in any case."""
    tests = [p for p in root.iterdir() if p.is_dir() and is_test_folder(p.name)]
    tests.sort(key=lambda p: (TEST_FOLDERS.index(p.name.lower()), p.name))
    return [*tests, root, root / "train"]


def _scenes_in_folder_tree(root: Path) -> dict[str, ReferenceScene]:
    for folder in _scene_folders(root):
        if folder.is_dir():
            scenes = _scenes_in_folder(folder, root)
            if scenes:
                return scenes
    others = sorted(p for p in root.glob("*.nc") if not _scene_file_id(p))
    if len(others) == 1:
        return _scenes_in_file(others[0], root)
    return {}


def _scenes_in_folder(folder: Path, root: Path) -> dict[str, ReferenceScene]:
    files: dict[str, list[Path]] = {}
    for suffix in (REFERENCE_SUFFIX, PREP_SUFFIX):  # preferred first
        for file in sorted(folder.glob(f"*{suffix}")):
            scene_id = _scene_file_id(file)
            if scene_id:
                files.setdefault(scene_id, []).append(file)
    scenes = {}
    for scene_id, candidates in files.items():
        for file in candidates:
            scene = _scene_from_scene_file(file, scene_id, root, require=False)
            if scene:
                scenes[scene_id] = scene
                break
    return scenes


def _scene_file_id(file: Path) -> str | None:
    for suffix in (REFERENCE_SUFFIX, PREP_SUFFIX):
        if file.name.endswith(suffix) and len(file.name) > len(suffix):
            return file.name[: -len(suffix)]
    return None


def _scenes_in_file(file: Path, root: Path) -> dict[str, ReferenceScene]:
    scene_id = _scene_file_id(file)
    if scene_id:
        return {scene_id: _scene_from_scene_file(file, scene_id, root, require=True)}
    shapes = _variable_shapes(file, root)
    scene_ids = sorted(
        {name.rsplit("_", 1)[0] for name in shapes if name.rsplit("_", 1)[-1] in CHARTS}
    )
    scenes = {}
    for sid in scene_ids:
        variables = {chart: submission_variable(sid, chart) for chart in CHARTS}
        missing = [v for v in variables.values() if v not in shapes]
        if missing:
            raise ScoringError(f"reference {file}: missing variables {', '.join(missing)}")
        shape = _chart_shape(shapes, file, variables)
        scenes[sid] = ReferenceScene(sid, str(file), variables, shape)
    return scenes


def _scene_from_scene_file(
    file: Path, scene_id: str, root: Path, require: bool
) -> ReferenceScene | None:
    shapes = _variable_shapes(file, root)
    present = [chart for chart in CHARTS if chart in shapes]
    if not present and not require:
        return None  # a test input without charts
    missing = [chart for chart in CHARTS if chart not in present]
    if missing:
        raise ScoringError(f"reference {file}: missing chart variables {', '.join(missing)}")
    variables = {chart: chart for chart in CHARTS}
    return ReferenceScene(scene_id, str(file), variables, _chart_shape(shapes, file, variables))


def _variable_shapes(file: Path, root: Path) -> dict[str, tuple[int, ...]]:
    """Variable name -> shape of a reference file, once checked (`check_reference_file`): for
    HDF5 read in the check's own pass (its top-level datasets), for netCDF-3 by netCDF4."""
    shapes = check_reference_file(file, root)
    if shapes is None:
        with open_chart_file(file, "reference") as dataset:
            shapes = {name: tuple(v.shape) for name, v in dataset.variables.items()}
    return shapes


def _chart_shape(shapes: dict, file: Path, variables: dict[str, str]) -> tuple[int, int]:
    found = {shapes[v] for v in variables.values()}
    if len(found) != 1 or len(next(iter(found))) != 2:
        raise ScoringError(
            f"reference {file}: chart variables {', '.join(variables.values())} must be 2-D "
            f"with one shape, found {sorted(found)}"
        )
    return next(iter(found))
