"""discover() finds the same scenes in the DTU release layout and the TorchGeo layout."""

import shutil

import pytest
import xarray as xr

from kit.data import discover
from kit.data.synthetic import write_netcdf_atomic
from kit.errors import KitError


def test_torchgeo_layout(tiny_dataset):
    table = discover(tiny_dataset)
    assert set(table.layout) == {"torchgeo"}
    test = table[table.split == "test"]
    assert len(test) == 1 and test.reference_path.iloc[0].endswith("_prep_reference.nc")
    assert table[table.split == "train"].reference_path.isna().all()


def test_dtu_layout_with_embedded_test_charts(tiny_dataset, tmp_path):
    (tmp_path / "train").mkdir()
    (tmp_path / "test").mkdir()
    for path in (tiny_dataset / "train").glob("*_prep.nc"):
        shutil.copy(path, tmp_path / "train")
    test_input = next((tiny_dataset / "test").glob("*_prep.nc"))
    reference = test_input.with_name(test_input.name.replace("_prep.nc", "_prep_reference.nc"))
    with xr.open_dataset(test_input) as a, xr.open_dataset(reference) as b:
        merged = a.load().merge(b.load(), combine_attrs="override")
    write_netcdf_atomic(merged, tmp_path / "test" / test_input.name)

    dtu = discover(tmp_path)
    torchgeo = discover(tiny_dataset)
    assert set(dtu.layout) == {"dtu"}
    assert dtu[["scene_id", "split"]].equals(torchgeo[["scene_id", "split"]])
    assert dtu.reference_path.isna().all()


def test_dtu_flat_folder(tiny_dataset, tmp_path):
    for path in (tiny_dataset / "train").glob("*_prep.nc"):
        shutil.copy(path, tmp_path)
    table = discover(tmp_path)
    assert len(table) == 2 and set(table.split) == {"train"} and set(table.layout) == {"dtu"}


def test_empty_or_missing_folder(tmp_path):
    with pytest.raises(KitError, match="no AutoICE scenes"):
        discover(tmp_path)
    with pytest.raises(KitError, match="no such data folder"):
        discover(tmp_path / "nope")


@pytest.mark.parametrize(
    ("folder", "is_test"),
    [("Test_Data", True), ("TEST", True), ("latest", False), ("tests_old", False)],
)
def test_discovery_and_the_scorer_follow_one_test_folder_rule(tmp_path, folder, is_test):
    """A DTU-like folder whose training scenes at the top carry charts, plus one more folder.

    Before the rule was shared, `discover` called any folder containing "test" a test folder
    (so `latest/` and `Test_Data/` both held test scenes) while the scorer looked only for
    `test/` and `test_data/` by exact name, so it scored both datasets on the training scenes.
    """
    import numpy as np

    from scoring.files.reference import find_reference
    from tests.scoring.builders import random_charts, write_scene

    rng = np.random.default_rng(0)
    top = ("20180124T194759_dmi", "20190430T101830_cis")
    inner = ("20210506T075557_dmi",)
    (tmp_path / folder).mkdir()
    for scene in top:
        write_scene(tmp_path / f"{scene}_prep.nc", random_charts(rng))
    for scene in inner:
        write_scene(tmp_path / folder / f"{scene}_prep.nc", random_charts(rng))
    table = discover(tmp_path)
    test_scenes = sorted(table.scene_id[table.split == "test"])
    scored = find_reference(tmp_path).scene_ids
    if is_test:
        assert test_scenes == scored == list(inner)
    else:  # no test folder: discovery finds no test scene; the scorer scores the folder itself
        assert test_scenes == [] and scored == sorted(top)
