"""The public/private split (`scoring.splits`): the seeded default every organiser shares, split
files in CSV and YAML, and one-line errors naming the file."""

from __future__ import annotations

import pytest

from scoring import ScoringError
from scoring.splits import (
    ALL,
    DEFAULT_SPLIT_SEED,
    PRIVATE,
    PUBLIC,
    default_split,
    read_split,
    resolve_split,
    scenes_of,
)
from tests.scoring.builders import SCENES, TRAINING_SCENES

FIVE = sorted(SCENES + TRAINING_SCENES)


def test_default_split_is_pinned_for_every_organiser():
    """The same scenes give the same split on every machine and version (leaderboards depend
    on it): changing the seed or the drawing changes these published assignments."""
    assert DEFAULT_SPLIT_SEED == 2023
    assert default_split(list(SCENES)) == {
        "20180124T194759_dmi": PRIVATE,
        "20190430T101830_cis": PUBLIC,
        "20210506T075557_dmi": PUBLIC,
    }
    assert default_split(FIVE) == {
        "20180124T194759_dmi": PUBLIC,
        "20180326T184246_dmi": PUBLIC,
        "20190430T101830_cis": PUBLIC,
        "20200424T101936_cis": PRIVATE,
        "20210506T075557_dmi": PRIVATE,
    }


def test_default_split_ignores_the_order_given():
    assert default_split(FIVE[::-1]) == default_split(FIVE)


@pytest.mark.parametrize("n", [0, 1, 2, 7, 8, 101])
def test_default_split_halves_with_the_extra_scene_public(n):
    scenes = [f"2020010{i % 10}T{i:06d}_dmi" for i in range(n)]
    split = default_split(scenes)
    assert sorted(split) == sorted(scenes)
    assert len(scenes_of(split, PUBLIC)) == (n + 1) // 2
    assert len(scenes_of(split, PRIVATE)) == n // 2


def test_another_seed_draws_another_split():
    scenes = [f"20200101T{i:06d}_cis" for i in range(20)]
    assert default_split(scenes, seed=1) != default_split(scenes)
    assert default_split(scenes, seed=1) == default_split(scenes, seed=1)


def test_scenes_of_each_split_are_sorted():
    split = {"c": PUBLIC, "a": PRIVATE, "b": PUBLIC}
    assert scenes_of(split, PUBLIC) == ["b", "c"]
    assert scenes_of(split, PRIVATE) == ["a"]
    assert scenes_of(split, ALL) == ["a", "b", "c"]
    with pytest.raises(
        ScoringError, match=r"^unknown split 'Public'; expected public, private or all$"
    ):
        scenes_of(split, "Public")


# ------------------------------------------------------------------ split files


@pytest.mark.parametrize(
    "name, text",
    [
        ("split.csv", "scene_id,split\na,public\nb,private\nc,public\n"),
        ("split.CSV", "split,scene_id,notes\npublic,a,x\nprivate,b,\npublic,c,\n"),
        ("split.csv", "scene_id,split\r\na,public\r\nb,private\r\nc,public\r\na,public\r\n"),
        ("split.yaml", "public: [a, c]\nprivate: [b]\n"),
        ("split.yml", "public:\n  - a\n  - c\nprivate:\n  - b\n"),
    ],
)
def test_split_files_in_csv_and_yaml(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    assert read_split(path) == {"a": PUBLIC, "c": PUBLIC, "b": PRIVATE}


def test_yaml_splits_may_be_empty_and_ids_become_text(tmp_path):
    path = tmp_path / "split.yaml"
    path.write_text("public: [20180124, b]\nprivate:\n")
    assert read_split(path) == {"20180124": PUBLIC, "b": PUBLIC}
    path.write_text("")
    assert read_split(path) == {}


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("split.txt", "a public\n", "expected a .csv or .yaml file"),
        ("split.csv", "id,set\na,public\n", "needs columns scene_id and split"),
        ("split.csv", "scene_id,split\na,test\n", "scene a has unknown split 'test'"),
        ("split.csv", "scene_id,split\na,public\na,private\n", "scene a is in both splits"),
        ("split.csv", b"scene_id,split\ncaf\xe9,public\n", "not UTF-8 text (byte offset 18)"),
        ("split.yaml", "public: [a]\ntest: [b]\n", "expected keys public and private"),
        ("split.yaml", "- a\n- b\n", "expected keys public and private"),
        ("split.yaml", "public: a\n", "public must be a list of scene ids"),
        ("split.yaml", "public: [a]\nprivate: [a]\n", "scene a is in both splits"),
        ("split.yaml", "public: [a, b\nprivate: c\n", "not valid YAML (line 2, column 8"),
    ],
)
def test_bad_split_files_are_one_line_naming_the_file(tmp_path, name, content, message):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(ScoringError) as info:
        read_split(path)
    assert str(info.value).startswith(f"split file {path}: ")
    assert message in str(info.value) and "\n" not in str(info.value)


def test_a_missing_split_file_is_named(tmp_path):
    with pytest.raises(ScoringError, match=r"^split file .*absent.csv: no such file$"):
        read_split(tmp_path / "absent.csv")
    with pytest.raises(ScoringError, match="no such file"):
        read_split(tmp_path)  # a folder is not a split file


# ------------------------------------------------------------------ resolve_split


def test_resolve_without_a_file_is_the_default_split():
    assert resolve_split(FIVE) == default_split(FIVE)


def test_resolve_with_a_file_must_cover_exactly_the_reference_scenes(tmp_path):
    path = tmp_path / "split.csv"
    path.write_text("scene_id,split\na,private\nb,public\n")
    assert resolve_split(["b", "a"], path) == {"a": PRIVATE, "b": PUBLIC}
    with pytest.raises(ScoringError) as info:
        resolve_split(["a", "c", "d"], path)
    assert str(info.value) == (
        f"split file {path}: does not match the reference scenes (missing: c, d; unknown: b)"
    )
    with pytest.raises(ScoringError, match=r"\(missing: none; unknown: b\)$"):
        resolve_split(["a"], path)
