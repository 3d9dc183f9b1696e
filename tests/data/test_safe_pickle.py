"""Pickled .npy files are read with an unpickler that resolves numpy arrays only."""

import pickletools

import numpy as np
import pytest
from numpy.lib import format as npy_format

from kit.data import manifest
from kit.data.safe_pickle import ALLOWED_GLOBALS, load_pickled_npy
from kit.errors import KitError

BINS = sorted((manifest.default_source() / manifest.BINS_DIR).glob(f"*{manifest.BINS_SUFFIX}"))


def _counts():
    return {"SIC": np.arange(256, dtype=np.int64), "SOD": np.ones((2, 3), np.float32)}


@pytest.mark.parametrize("version", [(1, 0), (2, 0)])
def test_dict_of_arrays_round_trips(tmp_path, version):
    path = tmp_path / "bins.npy"
    with open(path, "wb") as fh:
        npy_format.write_array(fh, np.array(_counts(), dtype=object), version=version)
    back = load_pickled_npy(path).item()
    for key, value in _counts().items():
        np.testing.assert_array_equal(back[key], value)
        assert back[key].dtype == value.dtype


def test_numbers_and_plain_containers_need_no_global(tmp_path):
    path = tmp_path / "plain.npy"
    np.save(path, np.array([{"a": [1, 2.5, "x", None, (True,)]}], dtype=object))
    assert load_pickled_npy(path)[0] == {"a": [1, 2.5, "x", None, (True,)]}


def test_files_that_are_not_pickled_arrays(tmp_path):
    numbers = tmp_path / "numbers.npy"
    np.save(numbers, np.zeros(3))
    with pytest.raises(KitError, match="numbers.npy: .*holds a float64 array, not pickled"):
        load_pickled_npy(numbers)
    truncated = tmp_path / "truncated.npy"
    np.save(truncated, np.array(_counts(), dtype=object))
    truncated.write_bytes(truncated.read_bytes()[:200])
    with pytest.raises(KitError, match="truncated.npy: not a readable pickled .npy file"):
        load_pickled_npy(truncated)
    text = tmp_path / "text.npy"
    text.write_text("hello")
    with pytest.raises(KitError, match="text.npy: not a readable pickled .npy file"):
        load_pickled_npy(text)


@pytest.mark.skipif(not BINS, reason="shared AI4Arctic bins files not found")
def test_real_bins_files_name_only_the_allowed_globals():
    named = set()
    for path in BINS:
        with open(path, "rb") as fh:
            assert npy_format.read_magic(fh) == (1, 0)
            npy_format.read_array_header_1_0(fh)
            ops = pickletools.genops(fh)
            named |= {tuple(arg.split(" ")) for op, arg, _ in ops if op.name == "GLOBAL"}
    assert named and named <= set(ALLOWED_GLOBALS)
