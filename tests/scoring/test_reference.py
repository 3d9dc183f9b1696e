"""Finding the reference charts (`scoring.files.reference.find_reference`): every layout, the folder and
file preferences, single-file references, and one-line errors naming the reference."""

from __future__ import annotations

import netCDF4
import numpy as np
import pytest

from kit.charts import CHARTS, PREP_SUFFIX, REFERENCE_SUFFIX, SAR_DIMS
from kit.charts import submission_variable as var
from scoring import ScoringError, find_reference
from scoring.files.reference import SCENE_FOLDERS, Reference, ReferenceScene
from tests.scoring.builders import (
    SCENES,
    TRAINING_SCENES,
    make_dataset,
    random_charts,
    submission_arrays,
    write_scene,
    write_submission,
)

SHAPE = (12, 9)
FOLDER_OF_LAYOUT = {"torchgeo": "test", "dtu": "test", "dtu_release": "test_data", "flat": "."}
SUFFIX_OF_LAYOUT = {"torchgeo": REFERENCE_SUFFIX, "dtu": PREP_SUFFIX, "dtu_release": PREP_SUFFIX,
                    "flat": PREP_SUFFIX}  # fmt: skip


def input_only(path):
    """A test scene's input file: SAR, no chart."""
    with netCDF4.Dataset(path, "w") as ds:
        for dim, size in zip(SAR_DIMS, SHAPE, strict=True):
            ds.createDimension(dim, size)
        ds.createVariable("nersc_sar_primary", "f4", SAR_DIMS)[:] = np.zeros(SHAPE, np.float32)
    return path


@pytest.mark.parametrize("layout", sorted(FOLDER_OF_LAYOUT))
def test_each_layout_finds_its_test_scenes(tmp_path, layout):
    root = tmp_path / "data"
    refs, _ = make_dataset(root, layout)
    reference = find_reference(root)
    assert isinstance(reference, Reference) and reference.source == str(root)
    assert reference.scene_ids == sorted(refs) == sorted(SCENES)
    folder = root / FOLDER_OF_LAYOUT[layout]
    for scene_id, scene in reference.scenes.items():
        expected = folder / f"{scene_id}{SUFFIX_OF_LAYOUT[layout]}"
        assert scene == ReferenceScene(scene_id, str(expected), {c: c for c in CHARTS}, SHAPE)


def test_torchgeo_layout_uses_test_reference_files_not_training_scenes(tmp_path):
    refs, _ = make_dataset(tmp_path / "data", "torchgeo")
    reference = find_reference(tmp_path / "data")
    assert reference.scene_ids == sorted(refs)
    assert all(s.path.endswith("_prep_reference.nc") for s in reference.scenes.values())


def test_folders_are_searched_in_order_of_preference(tmp_path):
    assert SCENE_FOLDERS == ("test", "test_data", ".", "train")
    rng = np.random.default_rng(0)
    root = tmp_path / "data"
    placed = {"train": TRAINING_SCENES[0], ".": TRAINING_SCENES[1], "test_data": SCENES[1],
              "test": SCENES[0]}  # fmt: skip
    for folder, scene in placed.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        write_scene(root / folder / f"{scene}{PREP_SUFFIX}", random_charts(rng, SHAPE))
    for folder in ("test", "test_data", "."):  # each wins over all that follow, then goes
        assert find_reference(root).scene_ids == [placed[folder]]
        (root / folder / f"{placed[folder]}{PREP_SUFFIX}").unlink()
    assert find_reference(root).scene_ids == [placed["train"]]


def test_test_inputs_without_charts_are_not_reference_scenes(tmp_path):
    """A `test/` of inputs only is passed over for the next folder holding charts."""
    rng = np.random.default_rng(1)
    root = tmp_path / "data"
    (root / "test").mkdir(parents=True)
    for scene in SCENES:
        input_only(root / "test" / f"{scene}{PREP_SUFFIX}")
    write_scene(root / f"{SCENES[2]}{PREP_SUFFIX}", random_charts(rng, SHAPE))
    assert find_reference(root).scene_ids == [SCENES[2]]


def test_a_scenes_reference_file_wins_over_its_prep_file(tmp_path):
    rng = np.random.default_rng(2)
    folder = tmp_path / "data" / "test"
    folder.mkdir(parents=True)
    write_scene(folder / f"{SCENES[0]}{PREP_SUFFIX}", random_charts(rng, SHAPE))
    write_scene(folder / f"{SCENES[0]}{REFERENCE_SUFFIX}", random_charts(rng, (5, 4)))
    write_scene(folder / f"{SCENES[1]}{PREP_SUFFIX}", random_charts(rng, SHAPE))
    scenes = find_reference(tmp_path / "data").scenes
    assert scenes[SCENES[0]].path.endswith(REFERENCE_SUFFIX) and scenes[SCENES[0]].shape == (5, 4)
    assert scenes[SCENES[1]].path.endswith(PREP_SUFFIX) and scenes[SCENES[1]].shape == SHAPE


# ------------------------------------------------------------------ single files


def test_one_netcdf_of_scene_chart_variables(tmp_path):
    refs, _ = make_dataset(tmp_path / "data", "flat")
    path = write_submission(tmp_path / "reference.nc", submission_arrays(refs))
    reference = find_reference(path)
    assert reference.source == str(path) and reference.scene_ids == sorted(refs)
    for scene_id, scene in reference.scenes.items():
        assert scene.path == str(path) and scene.shape == SHAPE
        assert scene.variables == {c: var(scene_id, c) for c in CHARTS}


def test_a_folder_whose_only_netcdf_is_a_reference_file(tmp_path):
    """A Codabench reference bundle: one netCDF of <scene>_<chart> variables in the folder."""
    refs, _ = make_dataset(tmp_path / "data", "flat", n_scenes=2)
    bundle = tmp_path / "ref"
    bundle.mkdir()
    path = write_submission(bundle / "reference.nc", submission_arrays(refs))
    (bundle / "split.csv").write_text("scene_id,split\n")
    assert find_reference(bundle).scene_ids == sorted(refs)
    assert {s.path for s in find_reference(bundle).scenes.values()} == {str(path)}
    write_submission(bundle / "second.nc", submission_arrays(refs))  # which one? neither
    with pytest.raises(ScoringError, match="no reference charts found"):
        find_reference(bundle)


def test_one_scene_file(tmp_path):
    refs, _ = make_dataset(tmp_path / "data", "flat", n_scenes=1)
    path = tmp_path / "data" / f"{SCENES[0]}{PREP_SUFFIX}"
    reference = find_reference(path)
    assert reference.scenes == {
        SCENES[0]: ReferenceScene(SCENES[0], str(path), {c: c for c in CHARTS}, SHAPE)
    }


def test_a_given_scene_file_must_hold_every_chart(tmp_path):
    path = input_only(tmp_path / f"{SCENES[0]}{PREP_SUFFIX}")
    with pytest.raises(ScoringError) as info:
        find_reference(path)
    assert str(info.value) == f"reference {path}: missing chart variables SIC, SOD, FLOE"


def test_a_scene_with_some_charts_is_an_error_not_skipped(tmp_path):
    charts = random_charts(np.random.default_rng(3), SHAPE)
    folder = tmp_path / "data"
    folder.mkdir()
    path = write_scene(folder / f"{SCENES[0]}{PREP_SUFFIX}", {"SIC": charts["SIC"]})
    with pytest.raises(
        ScoringError, match=f"^reference {path}: missing chart variables SOD, FLOE$"
    ):
        find_reference(folder)


def test_reference_file_missing_a_scenes_variable_is_named(tmp_path):
    refs, _ = make_dataset(tmp_path / "data", "flat", n_scenes=2)
    arrays = submission_arrays(refs)
    del arrays[var(SCENES[1], "FLOE")]
    path = write_submission(tmp_path / "reference.nc", arrays)
    with pytest.raises(ScoringError) as info:
        find_reference(path)
    assert str(info.value) == f"reference {path}: missing variables {var(SCENES[1], 'FLOE')}"


def test_charts_of_one_scene_must_share_one_2d_shape(tmp_path):
    refs, _ = make_dataset(tmp_path / "data", "flat", n_scenes=1)
    arrays = submission_arrays(refs)
    arrays[var(SCENES[0], "SOD")] = arrays[var(SCENES[0], "SOD")][:5]
    path = write_submission(tmp_path / "reference.nc", arrays)
    with pytest.raises(ScoringError) as info:
        find_reference(path)
    message = str(info.value)
    assert message.startswith(f"reference {path}: chart variables {var(SCENES[0], 'SIC')}, ")
    assert message.endswith("must be 2-D with one shape, found [(5, 9), (12, 9)]")


def test_missing_and_empty_references_are_named(tmp_path):
    with pytest.raises(
        ScoringError, match=f"^reference {tmp_path / 'nowhere'}: no such file or folder$"
    ):
        find_reference(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ScoringError) as info:
        find_reference(tmp_path / "empty")
    assert str(info.value).startswith(f"reference {tmp_path / 'empty'}: no reference charts found")
    assert f"*{REFERENCE_SUFFIX} or *{PREP_SUFFIX}" in str(info.value)


def test_a_folder_of_training_data_only_has_no_reference(tmp_path):
    """A file that is neither a scene file nor of <scene>_<chart> variables yields no scene."""
    folder = tmp_path / "data"
    folder.mkdir()
    write_submission(folder / "notes.nc", {"temperature": np.zeros(SHAPE, np.float32)})
    with pytest.raises(ScoringError, match="no reference charts found"):
        find_reference(folder)
