"""`kit.config`: the one strict settings checker and the one settings flattener."""

import doctest
from dataclasses import dataclass

import pytest

import kit.config
from kit.config import config_from_dict, flatten_settings
from kit.errors import KitError


@dataclass(frozen=True)
class Inner:
    size: int = 3


@dataclass(frozen=True)
class Outer:
    inner: Inner = Inner()
    rate: float = 0.5
    name: str | None = None


def test_doctests():
    result = doctest.testmod(kit.config, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_errors_name_section_and_key():
    with pytest.raises(
        KitError, match=r"^outer: unknown key\(s\) rat; allowed: inner, rate, name$"
    ):
        config_from_dict(Outer, {"rat": 1}, "outer")
    with pytest.raises(KitError, match=r"^outer\.inner\.size: expected an integer, got 'x'$"):
        config_from_dict(Outer, {"inner": {"size": "x"}}, "outer")
    with pytest.raises(KitError, match=r"^outer: expected a mapping of settings, got list$"):
        config_from_dict(Outer, [1], "outer")


def test_no_section_names_the_keys_alone():
    with pytest.raises(KitError, match=r"^unknown key\(s\) rat; allowed: inner, rate, name$"):
        config_from_dict(Outer, {"rat": 1}, "")
    with pytest.raises(KitError, match=r"^inner\.size: expected an integer, got 'x'$"):
        config_from_dict(Outer, {"inner": {"size": "x"}}, "")
    assert config_from_dict(Outer, {"rate": 1, "inner": {"size": 4}}, "") == Outer(Inner(4), 1.0)


def test_flatten_settings():
    nested = {"a": {"b": {"c": 1}, "d": [1, {"e": 2}]}, "f": (1, 2), "g": {}, 3: None}
    assert flatten_settings(nested) == {"a.b.c": 1, "a.d": [1, {"e": 2}], "f": (1, 2), "3": None}
    assert flatten_settings({"a": {"b": 1}}, prefix="p", sep="/") == {"p/a/b": 1}
    assert flatten_settings({}) == {}
