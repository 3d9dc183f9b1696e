"""Reading compressed chart variables fast: raw HDF5 chunks inflated with libdeflate.

Challenge files are netCDF-4 (HDF5) with zlib-compressed variables, and inflating them is most
of the cost of scoring. HDF5 inflates with the reference zlib; here we fetch each stored chunk
as it is on disk (`h5py`'s `read_direct_chunk`), inflate it with libdeflate (the `deflate`
package, about four times faster than zlib here) and undo the byte shuffle ourselves.

Only layouts we fully understand take this path: a 2-D chunked variable, every chunk stored,
filters limited to deflate and shuffle, native byte order. Anything else (netCDF-3 files,
contiguous or partly written variables, other filters such as Fletcher-32) returns None from
`ChunkRows.open`, and the caller reads through netCDF4 as before, so values are identical
whichever path is used. Without `deflate` installed, chunks are inflated with zlib; without
h5py every read would go through netCDF4, but `scoring.files.storage` then refuses netCDF-4 files,
which it cannot check.

Inflating is bounded: a chunk never inflates to more than its size (`inflate` raises
`InflateLimit` instead), so a compression bomb costs no more memory than an honest chunk.
HDF5's own zlib filter has no such bound (it doubles its buffer until the stream ends), so
`check_inflated_sizes` inflates a submission's compressed chunks this way before HDF5 reads a
layout this path does not take.
"""

from __future__ import annotations

import os
import zlib

import numpy as np

from scoring.errors import ScoringError

try:  # optional: zlib does the same, slower
    import deflate
except ImportError:  # pragma: no cover
    deflate = None

#: HDF5's identifiers of the filters this reader undoes (H5Zpublic.h).
FILTER_DEFLATE, FILTER_SHUFFLE, FILTER_FLETCHER32 = 1, 2, 3
#: Bytes of the checksum the Fletcher-32 filter appends to a chunk.
FLETCHER32_BYTES = 4
#: What a corrupt compressed chunk raises.
INFLATE_ERRORS = (zlib.error,) + ((deflate.DeflateError,) if deflate is not None else ())


def h5py_module():
    """h5py, imported on first use (scoring worker processes need it, the parent does not),
    or None where it is not installed: the scorer runs with netCDF4 alone."""
    try:
        import h5py
    except ImportError:  # pragma: no cover - exercised only on bare scoring images
        return None
    return h5py


def open_hdf5(path: str | os.PathLike):
    """The file opened with h5py, or None where h5py is missing or the file is not HDF5."""
    h5py = h5py_module()
    if h5py is None:
        return None
    try:
        return h5py.File(path, "r")
    except OSError:
        return None  # e.g. a netCDF-3 file: the netCDF4 reader handles it


def chunk_row_slices(shape: tuple[int, int], chunk_rows: int, block_pixels: int) -> list[slice]:
    """Row slices covering a 2-D variable of `shape`, about `block_pixels` pixels each, made of
    whole chunk rows (at least one), so that each stored chunk is decoded once."""
    rows, cols = shape
    step = max(chunk_rows, (block_pixels // max(cols, 1)) // chunk_rows * chunk_rows)
    return [slice(start, min(rows, start + step)) for start in range(0, rows, step)]


class InflateLimit(ValueError):
    """A compressed chunk inflates to more bytes than its chunk holds."""


def inflate(raw: bytes, size: int) -> bytes:
    """Inflate one zlib stream of expected uncompressed `size` (libdeflate when installed),
    never producing more than `size` bytes: `InflateLimit` if the stream holds more."""
    if deflate is not None:
        try:
            return deflate.zlib_decompress(raw, size)
        except deflate.DeflateError:
            pass  # corrupt, or not `size` bytes: zlib below tells which (the error path only)
    inflater = zlib.decompressobj()
    data = inflater.decompress(raw, size + 1)  # at most one byte beyond the chunk
    if len(data) > size:
        raise InflateLimit(f"inflates to more than its {size} bytes")
    if not inflater.eof:
        raise zlib.error("the compressed stream is incomplete")
    return data


def decode_chunk(dataset, offset: tuple[int, ...], filters: list[int], size: int) -> bytes:
    """The stored chunk at `offset` of an h5py dataset with its filters undone, last first
    (Fletcher-32 checksums dropped, not verified); deflate never inflates beyond `size`."""
    skipped, data = dataset.id.read_direct_chunk(offset)
    for index in reversed(range(len(filters))):
        if skipped & (1 << index):
            continue  # HDF5 stored this chunk without that (optional) filter
        if filters[index] == FILTER_DEFLATE:
            data = inflate(data, size)
        elif filters[index] == FILTER_SHUFFLE:
            data = _unshuffle(data, dataset.dtype.itemsize)
        elif filters[index] == FILTER_FLETCHER32:
            data = data[:-FLETCHER32_BYTES]
    if len(data) != size:
        raise ValueError(f"chunk at {offset} holds {len(data)} bytes")
    return data


def chunk_error(where: str, offset: tuple[int, ...], exc: Exception) -> ScoringError:
    """The one-line error for a chunk that cannot be decoded."""
    at = f"the chunk at rows {offset[0]}, columns {offset[1]}"
    if isinstance(exc, InflateLimit):
        return ScoringError(f"{where}: {at} {exc}: refused (a compression bomb or a corrupt file)")
    if isinstance(exc, MemoryError):
        exc = "not enough memory for its stored size"
    return ScoringError(f"{where}: reading {at} failed (truncated or corrupt file): {exc}")


#: What decoding a hostile or damaged chunk raises.
CHUNK_ERRORS = (OSError, RuntimeError, ValueError, MemoryError, *INFLATE_ERRORS)


def check_inflated_sizes(file, name: str, where: str) -> None:
    """ScoringError if a stored chunk of the chunked, deflated variable `name` inflates to
    more bytes than a chunk holds; one chunk in memory at a time. Run before HDF5 itself
    inflates a layout `ChunkRows` does not take: its zlib filter has no bound."""
    dataset = file.get(name) if file is not None else None
    if dataset is None or not hasattr(dataset, "chunks") or dataset.chunks is None:
        return
    plist = dataset.id.get_create_plist()
    filters = [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]
    if FILTER_DEFLATE not in filters:
        return  # no filter that inflates: HDF5 reads at most a chunk's bytes
    size = int(np.prod(dataset.chunks)) * dataset.dtype.itemsize
    for index in range(dataset.id.get_num_chunks()):
        offset = tuple(dataset.id.get_chunk_info(index).chunk_offset)
        try:
            decode_chunk(dataset, offset, filters, size)
        except CHUNK_ERRORS as exc:
            raise chunk_error(where, offset, exc) from None


class ChunkRows:
    """Row blocks of a 2-D chunked HDF5 variable, decoded from its raw chunks.

    Reads are sequential (`read` with increasing rows, any alignment): the band of chunks
    covering the current rows is decoded once and kept until the reads move past it, so memory
    is one chunk row of the variable.
    """

    def __init__(self, dataset, filters: list[int], where: str) -> None:
        self._dataset = dataset
        self._filters = filters
        self._where = where
        self.shape = tuple(dataset.shape)
        self.chunks = tuple(dataset.chunks)
        self.dtype = dataset.dtype
        self._chunk_bytes = int(np.prod(self.chunks)) * self.dtype.itemsize
        self._band: np.ndarray | None = None
        self._band_start = -1

    @classmethod
    def open(cls, file, name: str, where: str) -> ChunkRows | None:
        """A reader for variable `name` of an h5py `file` (None: not HDF5), or None if the
        variable's layout needs the HDF5 library's own reading."""
        dataset = file.get(name) if file is not None else None
        if dataset is None or not hasattr(dataset, "chunks") or dataset.ndim != 2:
            return None  # missing, or a group
        if dataset.chunks is None:
            return None
        if dataset.dtype.kind not in "biuf" or not dataset.dtype.isnative:
            return None
        plist = dataset.id.get_create_plist()
        filters = [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]
        if any(f not in (FILTER_DEFLATE, FILTER_SHUFFLE) for f in filters):
            return None
        rows, cols = dataset.shape
        chunk_rows, chunk_cols = dataset.chunks
        expected = -(-rows // chunk_rows) * -(-cols // chunk_cols)
        if dataset.id.get_num_chunks() != expected:
            return None  # chunks never written hold the fill value: let HDF5 supply it
        return cls(dataset, filters, where)

    def blocks(self, block_pixels: int) -> list[slice]:
        """Row slices of about `block_pixels` pixels, made of whole chunk rows."""
        return chunk_row_slices(self.shape, self.chunks[0], block_pixels)

    def read(self, rows: slice) -> np.ndarray:
        """Rows `rows` of the variable (all columns), as stored (no masking or scaling)."""
        chunk_rows = self.chunks[0]
        pieces, row = [], rows.start
        while row < rows.stop:
            band_start = row - row % chunk_rows
            band = self._band_at(band_start)
            stop = min(rows.stop, band_start + chunk_rows)
            pieces.append(band[row - band_start : stop - band_start])
            row = stop
        if not pieces:
            return np.empty((0, self.shape[1]), self.dtype)
        return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)

    def _band_at(self, start: int) -> np.ndarray:
        if start != self._band_start:
            self._band = None  # free the previous band before decoding the next
            self._band = self._decode_band(start)
            self._band_start = start
        return self._band

    def _decode_band(self, start: int) -> np.ndarray:
        rows, cols = self.shape
        chunk_rows, chunk_cols = self.chunks
        height = min(chunk_rows, rows - start)
        if chunk_cols >= cols:
            return self._decode_chunk((start, 0))[:height, :cols]
        band = np.empty((height, cols), self.dtype)
        for col in range(0, cols, chunk_cols):
            width = min(chunk_cols, cols - col)
            band[:, col : col + width] = self._decode_chunk((start, col))[:height, :width]
        return band

    def _decode_chunk(self, offset: tuple[int, int]) -> np.ndarray:
        """One stored chunk: undo the filters HDF5 applied, last first."""
        try:
            data = decode_chunk(self._dataset, offset, self._filters, self._chunk_bytes)
        except CHUNK_ERRORS as exc:
            raise chunk_error(self._where, offset, exc) from None
        return np.frombuffer(data, self.dtype).reshape(self.chunks)


def _unshuffle(data: bytes, itemsize: int) -> bytes:
    """Undo HDF5's shuffle filter: byte planes (all first bytes, all second bytes...) back
    to whole values."""
    if itemsize == 1:
        return data
    planes = np.frombuffer(data, np.uint8)
    whole = planes.size - planes.size % itemsize  # trailing bytes are left unshuffled
    out = np.empty(planes.size, np.uint8)
    out[:whole] = planes[:whole].reshape(itemsize, -1).T.ravel()
    out[whole:] = planes[whole:]
    return out.tobytes()
