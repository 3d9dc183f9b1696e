"""Scene selection: the seeded training/validation split and the scenes to predict."""

from __future__ import annotations

import pandas as pd
import pytest

from kit.data.selection import prediction_scenes, resolve_data_dir, split_scenes
from kit.errors import KitError


def _table(n_train=10, n_test=2) -> pd.DataFrame:
    ids = [f"2020010{i}T000000_dmi" for i in range(n_train + n_test)]
    splits = ["train"] * n_train + ["test"] * n_test
    return pd.DataFrame({"scene_id": ids, "split": splits, "path": [f"{i}.nc" for i in ids]})


def test_a_seeded_fraction_of_the_training_scenes_validates():
    training, validation = split_scenes(_table(), val_fraction=0.3, seed=1)
    assert (len(training), len(validation)) == (7, 3)
    assert set(training.scene_id).isdisjoint(validation.scene_id)
    assert list(training.index) == list(range(7)) and list(validation.index) == list(range(3))
    again = split_scenes(_table(), val_fraction=0.3, seed=1)[1]
    assert list(again.scene_id) == list(validation.scene_id)
    other_seed = split_scenes(_table(), val_fraction=0.3, seed=2)[1]
    assert list(other_seed.scene_id) != list(validation.scene_id)


def test_fraction_bounds_keep_one_scene_on_each_side():
    assert len(split_scenes(_table(), val_fraction=0.01)[1]) == 1  # rounds to 0, at least 1
    assert len(split_scenes(_table(), val_fraction=0.0)[1]) == 0
    training, validation = split_scenes(_table(n_train=2), val_fraction=0.9)
    assert (len(training), len(validation)) == (1, 1)


def test_a_count_of_validation_scenes_is_drawn_instead_of_a_fraction():
    training, validation = split_scenes(_table(), val_fraction=0.5, seed=1, val_count=3)
    assert (len(training), len(validation)) == (7, 3)
    assert set(training.scene_id).isdisjoint(validation.scene_id)
    # The same seeded draw as a fraction giving the same count: the first 3 of one permutation.
    by_fraction = split_scenes(_table(), val_fraction=0.3, seed=1)[1]
    assert list(validation.scene_id) == list(by_fraction.scene_id)
    assert len(split_scenes(_table(), val_fraction=0.5, val_count=0)[1]) == 0


def test_a_count_above_the_training_scenes_keeps_one_for_training():
    with pytest.warns(UserWarning, match="val_count 20: scene table has only 10 training scene"):
        training, validation = split_scenes(_table(), val_count=20)
    assert (len(training), len(validation)) == (1, 9)
    with pytest.raises(KitError, match="^train.val_count must be >= 0, got -1$"):
        split_scenes(_table(), val_count=-1)


def test_validation_scenes_by_id():
    table = _table()
    wanted = list(table.scene_id[[2, 5]])
    training, validation = split_scenes(table, val_scenes=wanted)
    assert list(validation.scene_id) == wanted and len(training) == 8


def test_errors_name_the_setting():
    table = _table(n_train=2)
    with pytest.raises(KitError, match=r"^train.val_scenes: not among the training scenes: x, y$"):
        split_scenes(table, val_scenes=["x", "y"])
    with pytest.raises(KitError, match=r"^val: every training scene is a validation scene$"):
        split_scenes(table, val_scenes=list(table.scene_id[:2]), setting="val")
    test_only = _table(n_train=0)
    with pytest.raises(KitError, match="^scene table: no training scenes"):
        split_scenes(test_only)


def test_folders_are_discovered(pipeline_root, pipeline_table):
    training, validation = split_scenes(pipeline_root, val_fraction=0.5, seed=0)
    expected = split_scenes(pipeline_table, val_fraction=0.5, seed=0)
    pd.testing.assert_frame_equal(training, expected[0])
    pd.testing.assert_frame_equal(validation, expected[1])
    assert resolve_data_dir(str(pipeline_root)) == pipeline_root
    with pytest.raises(KitError, match="no such data folder"):
        split_scenes(pipeline_root / "absent")


def test_prediction_scenes_are_the_test_split_else_all(pipeline_root, pipeline_table):
    test = prediction_scenes(pipeline_root)
    assert set(test.split) == {"test"} and len(test) == (pipeline_table.split == "test").sum()
    assert list(prediction_scenes(pipeline_root / "train").scene_id) == list(
        pipeline_table[pipeline_table.split == "train"].scene_id
    )
