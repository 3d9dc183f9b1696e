"""Find the scenes of a dataset folder, in either of the two published on-disk layouts.

- DTU release: folders of `<scene>_prep.nc` (training scenes carry SIC/SOD/FLOE; test scenes may
  carry them too). Test scenes lie in a `test_data/` (as the starter kit's `test_upload` reads
  them) or `test/` folder: the one rule of `kit.charts.is_test_folder`, which the scorer follows too.
- Raw release: files named like the raw originals (`S1?_EW_GRDM_..._icechart_....nc`); they are
  scenes only in a folder with no ready-to-train scene (raw copies beside a ready-to-train set,
  as `autoice synth --raw` writes them, are left alone).
- TorchGeo / Hugging Face mirror: `metadata.csv` + `train/` + `test/`, the test charts kept apart
  in `test/<scene>_prep_reference.nc`.

`discover(root)` returns one table for both, so the rest of the kit never cares which it is.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from kit import charts
from kit.data.scene import parse_scene_id
from kit.errors import KitError

#: Columns of the scene table returned by `discover`.
SCENE_TABLE_COLUMNS = (
    "scene_id", "split", "path", "reference_path", "ice_service", "acquisition", "layout",
)  # fmt: skip

LAYOUT_DTU = "dtu"
LAYOUT_TORCHGEO = "torchgeo"
METADATA_FILE = "metadata.csv"


def detect_layout(root: str | os.PathLike) -> str:
    """`torchgeo` if the folder has metadata.csv and train/ or test/, else `dtu`."""
    root = Path(root)
    has_split_dirs = (root / "train").is_dir() or (root / "test").is_dir()
    return LAYOUT_TORCHGEO if (root / METADATA_FILE).is_file() and has_split_dirs else LAYOUT_DTU


def discover(root: str | os.PathLike) -> pd.DataFrame:
    """The scene table of a dataset folder in any published layout, so nothing else cares which.

    Only file names are read: a scene's split comes from its folder (scenes inside a folder
    named `test` or `test_data`, `kit.charts.is_test_folder`, are test scenes), its service
    and time from its name.

    Parameters
    ----------
    root : str or os.PathLike
        The dataset folder: DTU release, TorchGeo / Hugging Face mirror or raw release.

    Returns
    -------
    pandas.DataFrame
        One row per scene with the columns `SCENE_TABLE_COLUMNS` (``reference_path`` is the
        separate test charts of the TorchGeo layout, else None), sorted by split and id.

    Raises
    ------
    KitError
        If the folder does not exist, holds no scene, or holds a scene twice in one split.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     root = Path(tmp)
    ...     (root / "test_data").mkdir()
    ...     (root / "20180124T194759_dmi_prep.nc").touch()
    ...     (root / "test_data" / "20210430T205436_cis_prep.nc").touch()
    ...     table = discover(root)
    >>> table[["scene_id", "split", "ice_service", "layout"]]
                  scene_id  split ice_service layout
    0  20210430T205436_cis   test         cis    dtu
    1  20180124T194759_dmi  train         dmi    dtu
    >>> discover(root)
    Traceback (most recent call last):
    ...
    kit.errors.KitError: ...: no such data folder
    """
    root = Path(root)
    if not root.is_dir():
        raise KitError(f"{root}: no such data folder")
    layout = detect_layout(root)
    files = sorted(root.rglob(f"*{charts.PREP_SUFFIX}"))
    if not files:
        files = sorted(p for p in root.rglob("*.nc") if charts.RAW_NAME_PATTERN.match(p.name))
    rows = [_row(path, root, layout) for path in files]
    if not rows:
        raise KitError(
            f"{root}: no AutoICE scenes (*{charts.PREP_SUFFIX} or raw-release files) found"
        )
    table = pd.DataFrame(rows, columns=list(SCENE_TABLE_COLUMNS))
    duplicated = table[table.duplicated(["scene_id", "split"], keep=False)]
    if not duplicated.empty:
        raise KitError(
            f"{root}: scene(s) found twice in one split: {', '.join(sorted(set(duplicated.scene_id)))}"
        )
    return table.sort_values(["split", "scene_id"], ignore_index=True)


def _row(path: Path, root: Path, layout: str) -> dict:
    scene_id, service, when = parse_scene_id(path.name)
    relative = path.relative_to(root).parts[:-1]
    split = "test" if any(charts.is_test_folder(part) for part in relative) else "train"
    reference = path.with_name(scene_id + charts.REFERENCE_SUFFIX)
    return {
        "scene_id": scene_id,
        "split": split,
        "path": str(path),
        "reference_path": str(reference) if reference.is_file() else None,
        "ice_service": service,
        "acquisition": pd.Timestamp(when),
        "layout": layout,
    }
