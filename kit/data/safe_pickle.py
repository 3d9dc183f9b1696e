"""Read a pickled `.npy` file (an object array, e.g. a dict of count arrays) without running code.

`np.load` with pickles allowed unpickles with the full `pickle` module: a crafted file can call
any function (`os.system`, `exec`) while it loads. Here the `.npy` header is read with
`numpy.lib.format` and the payload with an unpickler that resolves only numpy's array
reconstruction (`numpy[._]core.multiarray._reconstruct`), `numpy.ndarray` and `numpy.dtype`:
what numpy writes for arrays of numbers inside dicts, lists and tuples. Any other global is
refused before it is resolved, so it is never called.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib import format as npy_format

from kit.errors import KitError, reason

try:
    from numpy._core.multiarray import _reconstruct
except ImportError:  # numpy < 2
    from numpy.core.multiarray import _reconstruct

#: The globals an array pickle may name (numpy 1 and 2 spell the reconstruction module apart).
ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}
HEADER_READERS = {
    (1, 0): npy_format.read_array_header_1_0,
    (2, 0): npy_format.read_array_header_2_0,
}


class RefusedGlobal(pickle.UnpicklingError):
    """A pickle named a global outside `ALLOWED_GLOBALS` (its `module.name` is the message)."""


class ArrayUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays and plain containers only."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise RefusedGlobal(f"{module}.{name}") from None

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent ids are not allowed")


def load_pickled_npy(path: str | os.PathLike) -> np.ndarray:
    """The object array of a pickled `.npy` file; one KitError line naming the file otherwise."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            version = npy_format.read_magic(fh)
            if version not in HEADER_READERS:
                raise ValueError(f".npy version {version[0]}.{version[1]} is not supported")
            _, _, dtype = HEADER_READERS[version](fh)
            if dtype != np.dtype(object):
                raise ValueError(f"holds a {dtype} array, not pickled objects")
            array = ArrayUnpickler(fh).load()
    except RefusedGlobal as exc:
        raise KitError(
            f"{path}: refused to unpickle {exc}: only numpy arrays are allowed, "
            "and other objects could run code"
        ) from None
    except Exception as exc:  # truncated or malformed header or pickle
        raise KitError(f"{path}: not a readable pickled .npy file ({reason(exc)})") from None
    if not isinstance(array, np.ndarray):
        raise KitError(f"{path}: the pickle holds a {type(array).__name__}, not a numpy array")
    return array
