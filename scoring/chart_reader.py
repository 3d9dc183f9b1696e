"""Reading 2-D chart variables from netCDF files in row blocks, so memory stays bounded.

Submissions can be several GB; we open them with netCDF4, look at one variable at a time and
read it a block of rows at a time, with blocks aligned to the variable's chunks so that each
compressed chunk is decompressed once. Raw stored values are read (no masking or scaling).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import netCDF4
import numpy as np

from scoring.errors import ScoringError

#: Target number of pixels per block read (a 2500-wide scene: about 800 rows).
BLOCK_PIXELS = 1 << 21
#: Per-variable HDF5 chunk cache (bytes) while streaming.
CHUNK_CACHE_BYTES = 1 << 10


def open_netcdf(path: str | os.PathLike, role: str) -> netCDF4.Dataset:
    """Open a netCDF/HDF5 file for reading raw values; ScoringError naming it if that fails."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ScoringError(f"{role} {path}: no such file")
    try:
        dataset = netCDF4.Dataset(path, "r")
    except OSError as exc:
        raise ScoringError(
            f"{role} {path}: not a readable netCDF/HDF5 file (truncated or another format): {exc}"
        ) from None
    dataset.set_auto_maskandscale(False)
    return dataset


def row_blocks(variable: netCDF4.Variable, block_pixels: int = BLOCK_PIXELS) -> Iterator[slice]:
    """Row slices covering a 2-D variable, about `block_pixels` each, aligned to its chunks.

    A chunk taller than `block_pixels` allows gives blocks of whole chunk rows (at most one
    chunk row of the variable in memory).
    """
    # Blocks cover whole chunks, so HDF5 needs no chunk cache; the default one would keep every
    # variable's last chunks in memory while the file is open (memory growing with scenes).
    variable.set_var_chunk_cache(size=CHUNK_CACHE_BYTES, nelems=1, preemption=1.0)
    rows, cols = variable.shape
    chunking = variable.chunking()
    chunk_rows = 1 if chunking == "contiguous" else max(1, chunking[0])
    step = max(chunk_rows, (block_pixels // max(cols, 1)) // chunk_rows * chunk_rows)
    for start in range(0, rows, step):
        yield slice(start, min(rows, start + step))


def read_rows(variable: netCDF4.Variable, rows: slice, where: str) -> np.ndarray:
    """Rows of a 2-D variable as a numpy array; ScoringError if the file cannot deliver them."""
    try:
        return np.asarray(variable[rows, :])
    except (OSError, RuntimeError, IndexError, ValueError) as exc:
        raise ScoringError(
            f"{where}: reading rows {rows.start}-{rows.stop} failed (truncated or corrupt file): {exc}"
        ) from None
