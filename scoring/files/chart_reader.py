"""Reading 2-D chart variables from netCDF files in row blocks, so memory stays bounded.

Submissions can be several GB; we look at one variable at a time and read it a block of rows at
a time, with blocks aligned to the variable's chunks so that each compressed chunk is
decompressed once. Raw stored values are read (no masking or scaling). `ChartFile` picks the
reader per variable: raw chunks inflated with libdeflate (`scoring.files.raw_chunks`) where the layout
allows, netCDF4 otherwise. Only regular netCDF-3 and HDF5 files are opened (`scoring.files.storage`
checks what they hold first).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from scoring.errors import ScoringError
from scoring.files import raw_chunks
from scoring.files.storage import check_regular_file, file_format, not_readable

if TYPE_CHECKING:  # imported on first use: scoring workers start before it is needed
    import netCDF4

#: Target number of pixels per block read (a 2500-wide scene: about 800 rows).
BLOCK_PIXELS = 1 << 21
#: Per-variable HDF5 chunk cache (bytes) while streaming.
CHUNK_CACHE_BYTES = 1 << 10


def open_chart_file(path: str | os.PathLike, role: str) -> netCDF4.Dataset:
    """Open a submission or reference chart file (netCDF-3 or HDF5) for reading raw values.

    Unlike `kit.data.scene.open_netcdf` (xarray, decoded values, KitError) this gives the
    netCDF4 dataset with masking and scaling off, as the scorer reads it.

    Parameters
    ----------
    path : str or path-like
        The file; only a regular file is opened (never a FIFO or device).
    role : str
        What the file is (`submission`, `reference`), named by the errors.

    Returns
    -------
    netCDF4.Dataset
        Open for reading; close it (or use it as a context manager).

    Raises
    ------
    ScoringError
        When the file is missing, not a regular file, or not a readable netCDF-3/HDF5 file.
    """
    import netCDF4

    path = os.fspath(path)
    check_regular_file(path, role)  # never open a FIFO or device: it would block or not end
    if file_format(path) is None:  # netCDF-C reads other formats too; we score these two only
        raise not_readable(role, path, "no netCDF-3 or HDF5 signature")
    try:
        dataset = netCDF4.Dataset(path, "r")
    except OSError as exc:
        raise not_readable(role, path, str(exc)) from None
    dataset.set_auto_maskandscale(False)
    return dataset


def row_blocks(variable: netCDF4.Variable, block_pixels: int = BLOCK_PIXELS) -> Iterator[slice]:
    """Row slices covering a 2-D variable, about `block_pixels` each, aligned to its chunks.

    A chunk taller than `block_pixels` allows gives blocks of whole chunk rows (at most one
    chunk row of the variable in memory).
    """
    chunk_rows = 1
    if variable.group().data_model.startswith("NETCDF4"):  # HDF5; netCDF-3 has no chunks
        # Blocks cover whole chunks, so HDF5 needs no chunk cache; the default one would keep
        # every variable's last chunks in memory while the file is open (memory growing with
        # scenes).
        variable.set_var_chunk_cache(size=CHUNK_CACHE_BYTES, nelems=1, preemption=1.0)
        chunking = variable.chunking()
        chunk_rows = 1 if chunking == "contiguous" else max(1, chunking[0])
    yield from raw_chunks.chunk_row_slices(variable.shape, chunk_rows, block_pixels)


def read_rows(variable: netCDF4.Variable, rows: slice, where: str) -> np.ndarray:
    """Rows of a 2-D variable as a numpy array; ScoringError if the file cannot deliver them."""
    try:
        return np.asarray(variable[rows, :])
    except (OSError, RuntimeError, IndexError, ValueError) as exc:
        raise ScoringError(
            f"{where}: reading rows {rows.start}-{rows.stop} failed (truncated or corrupt file): {exc}"
        ) from None


class NetcdfRows:
    """Row blocks of a 2-D variable read through netCDF4 (any layout HDF5 or netCDF-3 allows)."""

    def __init__(self, variable: netCDF4.Variable, where: str) -> None:
        self.variable = variable
        self.where = where
        self.shape = tuple(variable.shape)

    def blocks(self, block_pixels: int) -> Iterator[slice]:
        return row_blocks(self.variable, block_pixels)

    def read(self, rows: slice) -> np.ndarray:
        return read_rows(self.variable, rows, self.where)


class ChartFile:
    """A netCDF file of chart variables, read by row blocks through the fastest safe path.

    `rows(name)` gives a reader with `blocks(block_pixels)` and `read(rows)`: raw chunks
    inflated with libdeflate where the variable's layout allows it (`scoring.files.raw_chunks`),
    netCDF4 otherwise; both return the same stored values. `bounded` (submissions): before
    HDF5 inflates a layout the raw reader does not take, every stored chunk is checked to
    inflate to no more than a chunk's size (`raw_chunks.check_inflated_sizes`).
    """

    def __init__(self, path: str | os.PathLike, role: str, *, bounded: bool = False) -> None:
        self.path = os.fspath(path)
        self.role = role
        self.bounded = bounded
        check_regular_file(path, role)  # h5py would block on a FIFO
        self._hdf5 = raw_chunks.open_hdf5(path)
        # netCDF4 only when needed (a layout h5py cannot take, or not HDF5 at all: then it
        # also checks the file and names it in the error).
        self._netcdf = None if self._hdf5 is not None else open_chart_file(path, role)

    @property
    def netcdf(self) -> netCDF4.Dataset:
        if self._netcdf is None:
            self._netcdf = open_chart_file(self.path, self.role)
        return self._netcdf

    def rows(self, name: str, where: str) -> raw_chunks.ChunkRows | NetcdfRows:
        """A row reader of variable `name`; `where` names it in errors."""
        fast = raw_chunks.ChunkRows.open(self._hdf5, name, where)
        if fast is not None:
            return fast
        if self.bounded:
            raw_chunks.check_inflated_sizes(self._hdf5, name, where)
        return NetcdfRows(self.netcdf.variables[name], where)

    def close(self) -> None:
        for handle in (self._hdf5, self._netcdf):
            if handle is not None:
                handle.close()

    def __enter__(self) -> ChartFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
