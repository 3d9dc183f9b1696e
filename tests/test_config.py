"""The one strict settings checker (`kit.config`): every bad key or value is named with what is
allowed, values are converted to the field types, YAML errors name the file; and the one
settings flattener."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest

from kit.config import MAX_SEED, check_seed, config_from_dict, flatten_settings, load_yaml
from kit.errors import KitError


@dataclass(frozen=True)
class Inner:
    depth: int = 2
    kind: Literal["a", "b"] = "a"


@dataclass(frozen=True)
class Outer:
    """A config of another section, as the model/training configs will be."""

    name: str = "x"
    rate: float = 0.1
    inner: Inner = field(default_factory=Inner)
    sizes: tuple[int, ...] = (1, 2)
    extra: str | None = None


@dataclass(frozen=True)
class Kinds:
    """One field of every kind the checker converts."""

    flag: bool = False
    count: int = 0
    scale: float = 1.0
    label: str = "x"
    pair: tuple[int, float] = (0, 0.0)
    limit: float | None = None
    size: int | tuple[int, int] = 1
    anything: Any = None
    mode: Literal["fast", "exact"] = "fast"
    derived: int = field(default=0, init=False)


def test_generic_helper_handles_nested_dataclasses():
    built = config_from_dict(
        Outer, {"rate": 1, "inner": {"kind": "b"}, "sizes": [3, 4, 5]}, "model"
    )
    assert built == Outer(rate=1.0, inner=Inner(kind="b"), sizes=(3, 4, 5))
    with pytest.raises(KitError, match=r"model.inner.kind: invalid value 'c'; allowed: 'a', 'b'"):
        config_from_dict(Outer, {"inner": {"kind": "c"}}, "model")
    with pytest.raises(KitError, match=r"model.sizes\[1\]: expected an integer"):
        config_from_dict(Outer, {"sizes": [1, "two"]}, "model")


def test_missing_keys_keep_defaults_and_none_or_an_instance_pass():
    assert config_from_dict(Outer, None) == Outer()
    assert config_from_dict(Outer, {}) == Outer()
    instance = Outer(name="y")
    assert config_from_dict(Outer, instance) is instance


def test_values_are_converted_to_the_field_types():
    built = config_from_dict(
        Kinds,
        {"flag": True, "count": 3, "scale": 2, "label": Path("/a/b"), "pair": [1, 2],
         "limit": 5, "size": [3, 4], "anything": {"k": [1]}, "mode": "exact"},
    )  # fmt: skip
    assert built == Kinds(True, 3, 2.0, "/a/b", (1, 2.0), 5.0, (3, 4), {"k": [1]}, "exact")
    assert type(built.scale) is float and type(built.limit) is float
    assert type(built.label) is str and type(built.pair) is tuple and type(built.pair[1]) is float
    assert config_from_dict(Kinds, {"size": 7, "limit": None}) == Kinds(size=7, limit=None)


def test_unknown_keys_are_all_named_with_the_allowed_ones():
    with pytest.raises(KitError) as info:
        config_from_dict(Kinds, {"flag": True, "colour": 1, "derived": 2}, "train")
    # `derived` is not set by the constructor (init=False): not allowed, not listed.
    assert str(info.value) == (
        "train: unknown key(s) colour, derived; "
        "allowed: flag, count, scale, label, pair, limit, size, anything, mode"
    )


def test_nested_unknown_key_names_the_whole_path():
    with pytest.raises(
        KitError, match=r"^model.inner: unknown key\(s\) width; allowed: depth, kind$"
    ):
        config_from_dict(Outer, {"inner": {"width": 3}}, "model")


@pytest.mark.parametrize(
    "mapping, message",
    [
        ({"flag": 1}, "cfg.flag: expected true or false, got 1"),
        ({"flag": "yes"}, "cfg.flag: expected true or false, got 'yes'"),
        ({"count": True}, "cfg.count: expected an integer, got True"),
        ({"count": 2.0}, "cfg.count: expected an integer, got 2.0"),
        ({"count": "2"}, "cfg.count: expected an integer, got '2'"),
        ({"scale": False}, "cfg.scale: expected a number, got False"),
        ({"scale": "1e-3"}, "cfg.scale: expected a number, got '1e-3'"),
        ({"label": 5}, "cfg.label: expected a string, got 5"),
        ({"pair": "12"}, "cfg.pair: expected a list, got '12'"),
        ({"pair": 12}, "cfg.pair: expected a list, got 12"),
        ({"pair": [1, 2, 3]}, "cfg.pair: expected 2 values, got 3"),
        ({"pair": [1.5, 2]}, "cfg.pair[0]: expected an integer, got 1.5"),
        ({"limit": "none"}, "cfg.limit: expected a number, got 'none'"),
        ({"size": "big"}, "cfg.size: invalid value 'big'"),
        ({"mode": "FAST"}, "cfg.mode: invalid value 'FAST'; allowed: 'fast', 'exact'"),
        ({"mode": None}, "cfg.mode: invalid value None; allowed: 'fast', 'exact'"),
    ],
)
def test_bad_values_name_the_key_and_what_is_allowed(mapping, message):
    with pytest.raises(KitError) as info:
        config_from_dict(Kinds, mapping, "cfg")
    assert str(info.value) == message


def test_a_section_that_is_not_a_mapping_is_named():
    with pytest.raises(KitError, match=r"^model: expected a mapping of settings, got list$"):
        config_from_dict(Outer, [1, 2], "model")
    with pytest.raises(KitError, match=r"^model.inner: expected a mapping of settings, got int$"):
        config_from_dict(Outer, {"inner": 3}, "model")


@dataclass(frozen=True)
class Containers:
    options: dict[str, Any] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)


@pytest.mark.parametrize("mapping", [{"options": 5}, {"names": "abc"}])
def test_parameterised_containers_are_checked(mapping):
    with pytest.raises(KitError, match="cfg.options|cfg.names"):
        config_from_dict(Containers, mapping, "cfg")


def test_seeds_are_checked_against_numpys_range():
    check_seed("train: seed", 0)
    check_seed("train: seed", MAX_SEED)
    assert MAX_SEED == 2**32 - 1
    for bad in (-1, MAX_SEED + 1):
        with pytest.raises(KitError, match=rf"^train: seed must be in \[0, {MAX_SEED}\]"):
            check_seed("train: seed", bad)


# ------------------------------------------------------------------ load_yaml


def test_load_yaml_reads_the_file_or_one_section(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("data:\n  patch_size: 64\nmodel:\ntrain: {epochs: 2}\n")
    assert load_yaml(path) == {"data": {"patch_size": 64}, "model": None, "train": {"epochs": 2}}
    assert load_yaml(path, "train") == {"epochs": 2}
    assert load_yaml(path, "model") == {}  # an empty section is no settings
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert load_yaml(empty) == {}


@pytest.mark.parametrize(
    "content, section, message",
    [
        (None, None, "no such config file"),
        ("- a\n- b\n", None, "expected a mapping of settings at the top level"),
        ("data: [unclosed\n", None, "not valid YAML (line 2, column 1"),
        (b"data: {name: caf\xe9}\n", None, "not UTF-8"),
        ("data: {}\nmodel: {}\n", "train", "no section 'train'; found: data, model"),
        ("train: [1, 2]\n", "train", "section 'train' is not a mapping of settings"),
    ],
)
def test_load_yaml_errors_name_the_file(tmp_path, content, section, message):
    path = tmp_path / "config.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(KitError) as info:
        load_yaml(path, section)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value) and "\n" not in str(info.value)


def test_load_yaml_refuses_a_folder(tmp_path):
    with pytest.raises(KitError, match="no such config file"):
        load_yaml(tmp_path)


@dataclass(frozen=True)
class Small:
    size: int = 3


@dataclass(frozen=True)
class Wrapper:
    inner: Small = Small()
    rate: float = 0.5
    name: str | None = None


def test_errors_name_section_and_key():
    with pytest.raises(
        KitError, match=r"^outer: unknown key\(s\) rat; allowed: inner, rate, name$"
    ):
        config_from_dict(Wrapper, {"rat": 1}, "outer")
    with pytest.raises(KitError, match=r"^outer\.inner\.size: expected an integer, got 'x'$"):
        config_from_dict(Wrapper, {"inner": {"size": "x"}}, "outer")
    with pytest.raises(KitError, match=r"^outer: expected a mapping of settings, got list$"):
        config_from_dict(Wrapper, [1], "outer")


def test_no_section_names_the_keys_alone():
    with pytest.raises(KitError, match=r"^unknown key\(s\) rat; allowed: inner, rate, name$"):
        config_from_dict(Wrapper, {"rat": 1}, "")
    with pytest.raises(KitError, match=r"^inner\.size: expected an integer, got 'x'$"):
        config_from_dict(Wrapper, {"inner": {"size": "x"}}, "")
    assert config_from_dict(Wrapper, {"rate": 1, "inner": {"size": 4}}, "") == Wrapper(
        Small(4), 1.0
    )


def test_flatten_settings():
    nested = {"a": {"b": {"c": 1}, "d": [1, {"e": 2}]}, "f": (1, 2), "g": {}, 3: None}
    assert flatten_settings(nested) == {"a.b.c": 1, "a.d": [1, {"e": 2}], "f": (1, 2), "3": None}
    assert flatten_settings({"a": {"b": 1}}, prefix="p", sep="/") == {"p/a/b": 1}
    assert flatten_settings({}) == {}
