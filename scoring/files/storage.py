"""Where a file keeps its data, checked on metadata before any value is read.

A submission is scored only on data it holds, at a cost set by its real size:

- it is a regular file: a FIFO, device, socket or folder is refused before anything opens it
  (opening a FIFO blocks for ever, a device never ends);
- it is netCDF-3 or HDF5 (netCDF-4), and then every link in it is an ordinary (hard) link:
  netCDF's reader follows external links to other files as soon as it opens a file, and
  loops for ever on a group linked twice (a cycle);
- no dataset is virtual or keeps its values in external files;
- each scored variable's chunks are no larger than its shape, and its filters are the ones the
  scorer inflates within bounds (deflate, shuffle, Fletcher-32; `scoring.files.raw_chunks`).

Reference files (the organisers') are checked more loosely: any chunking and filter, soft links
inside the file, but they must lie inside the reference folder once symbolic links are resolved
and hold their own data (no external link, external storage or virtual dataset reading another
file), so that scoring never reads anything outside the reference folder.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from scoring.errors import ScoringError
from scoring.files import raw_chunks

if TYPE_CHECKING:
    import h5py

NETCDF3, HDF5 = "netCDF-3", "HDF5"
#: The first bytes of netCDF-3 files: classic, 64-bit offset, 64-bit data (CDF5).
NETCDF3_SIGNATURES = (b"CDF\x01", b"CDF\x02", b"CDF\x05")
#: HDF5's signature, at offset 0 or after a user block of 512, 1024, 2048... bytes.
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
#: HDF5 filters the scorer undoes itself, inflating within bounds (H5Zpublic.h identifiers).
BOUNDED_FILTERS = {
    raw_chunks.FILTER_DEFLATE: "deflate",
    raw_chunks.FILTER_SHUFFLE: "shuffle",
    raw_chunks.FILTER_FLETCHER32: "fletcher32",
}
#: Names of other registered filters, for the error message only.
OTHER_FILTERS = {4: "szip", 5: "nbit", 6: "scaleoffset", 307: "bzip2", 32000: "lzf",
                 32001: "blosc", 32004: "lz4", 32008: "bitshuffle", 32013: "zfp",
                 32015: "zstd", 32026: "blosc2"}  # fmt: skip
#: At most this many problems are spelled out in one error; names are cut to this length.
LISTED_PROBLEMS, SHOWN_NAME = 10, 160
_FILE_TYPES = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISDIR, "a folder"), (stat.S_ISSOCK, "a socket"),
               (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))  # fmt: skip


def check_regular_file(path: str | os.PathLike, role: str) -> None:
    """ScoringError unless `path` is a regular file (symbolic links followed), checked with
    `os.stat` alone, so that nothing opens a FIFO or device."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise ScoringError(f"{role} {os.fspath(path)}: no such file") from None
    except OSError as exc:
        raise ScoringError(f"{role} {os.fspath(path)}: cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _FILE_TYPES if test(mode)), "a special file")
        raise ScoringError(f"{role} {os.fspath(path)}: not a regular file ({kind}); refused")


def file_format(path: str | os.PathLike) -> str | None:
    """NETCDF3 or HDF5 from the file's signature (a regular file), None for anything else."""
    with open(path, "rb") as file:
        if file.read(4) in NETCDF3_SIGNATURES:
            return NETCDF3
        size, offset = os.fstat(file.fileno()).st_size, 0
        while offset + len(HDF5_SIGNATURE) <= size:
            file.seek(offset)
            if file.read(len(HDF5_SIGNATURE)) == HDF5_SIGNATURE:
                return HDF5
            offset = max(512, 2 * offset)
    return None


def not_readable(role: str, path: str | os.PathLike, detail: str) -> ScoringError:
    return ScoringError(
        f"{role} {os.fspath(path)}: not a readable netCDF/HDF5 file (truncated or another "
        f"format): {detail}"
    )


def check_submission(
    path: str | os.PathLike, names: Iterable[str], role: str = "submission"
) -> None:
    """ScoringError listing every link, dataset or scored variable (`names`) of the submission
    whose data is not in the file or whose chunking or filters would inflate beyond it.
    `role` names the file in the error (an uncertainty file is checked the same way)."""
    with _hdf5_file(path, role) as file:
        if file is None:
            return  # netCDF-3: values are where the header says, no links nor filters
        problems = _file_problems(file, {name.encode() for name in names})
    _raise(f"{role} {os.fspath(path)} is invalid", problems)


def check_reference_file(
    path: str | os.PathLike, root: str | os.PathLike
) -> dict[str, tuple[int, ...]] | None:
    """ScoringError unless the reference file `path` lies inside the folder `root` once
    symbolic links are resolved, and holds its own data (see the module docstring). Returns
    the shapes of an HDF5 file's top-level datasets (its netCDF variables and dimensions),
    read in the same pass so that finding the charts needs no second open; None for
    netCDF-3."""
    real, folder = os.path.realpath(path), os.path.realpath(root)
    if os.path.commonpath([real, folder]) != folder:
        raise ScoringError(f"reference {os.fspath(path)}: resolves to {real}, outside the "
                           f"reference folder {folder}; refused")  # fmt: skip
    with _hdf5_file(path, "reference") as file:
        if file is None:
            return None
        shapes: dict[str, tuple[int, ...]] = {}
        problems = _file_problems(file, scored=None, shapes=shapes)
    _raise(f"reference {os.fspath(path)} holds data in other files", problems)
    return shapes


@contextmanager
def _hdf5_file(path: str | os.PathLike, role: str) -> Iterator[h5py.h5f.FileID | None]:
    """The file opened with h5py's low-level API (cheaper than `h5py.File`), or None for a
    netCDF-3 file; ScoringError for anything else (a special file is refused unopened)."""
    check_regular_file(path, role)
    kind = file_format(path)
    if kind == NETCDF3:
        yield None
        return
    if kind is None:
        raise not_readable(role, path, "no netCDF-3 or HDF5 signature")
    h5py = raw_chunks.h5py_module()
    if h5py is None:
        raise ScoringError(f"{role} {os.fspath(path)}: checking a netCDF-4 (HDF5) file needs "
                           f"h5py, which is not installed")  # fmt: skip
    try:
        file = h5py.h5f.open(os.fsencode(path), h5py.h5f.ACC_RDONLY)
    except OSError as exc:
        raise not_readable(role, path, str(exc)) from None
    try:
        yield file
    finally:
        file.close()


def _raise(prefix: str, problems: list[str]) -> None:
    if problems:
        shown = problems[:LISTED_PROBLEMS]
        more = len(problems) - len(shown)
        tail = f"; and {more} more" if more else ""
        raise ScoringError(f"{prefix}: {'; '.join(shown)}{tail}")


def _file_problems(
    file: h5py.h5f.FileID, scored: set[bytes] | None, shapes: dict | None = None
) -> list[str]:
    """One pass over every link of the file: links other than hard ones, datasets whose values
    come from other files and, for the `scored` variables, what would inflate beyond them.
    `scored=None` (a reference): soft links and virtual sources in the file itself allowed.
    `shapes`: filled with the shapes of the top-level datasets holding their own data."""
    from h5py import h5d, h5g, h5l, h5o

    problems: list[str] = []

    def visit(name: bytes, info) -> None:
        if info.type != h5l.TYPE_HARD:
            if info.type != h5l.TYPE_SOFT or scored is not None:
                problems.append(_link_problem(file, name, info.type))
            return
        item = h5o.open(file, name)
        if isinstance(item, h5d.DatasetID):
            plist = item.get_create_plist()
            stored = _storage_problem(plist, name, local=scored is None)
            if stored:
                problems.append(stored)
                return
            if scored and name in scored:
                problems.extend(_limit_problems(item, plist, name.decode()))
            if shapes is not None and b"/" not in name:
                shapes[name.decode("utf-8", "surrogateescape")] = tuple(item.shape)
        elif isinstance(item, h5g.GroupID) and h5o.get_info(item).rc > 1:
            problems.append(f"{_shown(name)} links a group linked elsewhere too (netCDF's "
                            f"reader loops for ever on such cycles)")  # fmt: skip

    file.links.visit(visit, info=True)
    return problems


def _link_problem(file, name: bytes, link_type: int) -> str:
    from h5py import h5l

    if link_type == h5l.TYPE_EXTERNAL:
        target_file, target = file.links.get_val(name)
        where = f"{_shown(target_file)} (object {_shown(target)})"
        return f"{_shown(name)} is an external link to {where}, data outside the file"
    if link_type == h5l.TYPE_SOFT:
        return f"{_shown(name)} is a soft link to {_shown(file.links.get_val(name))}"
    return f"{_shown(name)} is a user-defined link (type {link_type})"


def _storage_problem(plist, name: bytes, local: bool) -> str | None:
    """Values in other files: virtual sources (`local`: other than the file itself), external
    storage. Only creation properties are read: a virtual extent may open its sources."""
    from h5py import h5d

    if plist.get_layout() == h5d.VIRTUAL:
        sources = {plist.get_virtual_filename(i) for i in range(plist.get_virtual_count())}
        if not local or sources - {"."}:
            shown = ", ".join(_shown(s) for s in sorted(sources)[:3])
            return f"{_shown(name)} is a virtual dataset reading {shown or 'nothing'}"
    if plist.get_external_count():
        files = {plist.get_external(i)[0] for i in range(plist.get_external_count())}
        shown = ", ".join(_shown(f) for f in sorted(files)[:3])
        return f"{_shown(name)} keeps its values in external files ({shown})"
    return None


def _limit_problems(dataset, plist, name: str) -> list[str]:
    """Why the scored variable `name` could inflate beyond its size: chunks larger than its
    shape, or a filter the scorer does not undo itself within bounds."""
    from h5py import h5d

    if plist.get_layout() != h5d.CHUNKED:
        return []  # contiguous or compact: read as stored, at most the variable's size
    shape, chunks = tuple(dataset.shape), tuple(plist.get_chunk())
    problems = []
    if any(c > s for c, s in zip(chunks, shape)):
        problems.append(
            f"{name} has chunks of shape {chunks}, larger than its shape {shape} (write it "
            f"with fixed-size dimensions or smaller chunks)"
        )
    for index in range(plist.get_nfilters()):
        code = plist.get_filter(index)[0]
        if code not in BOUNDED_FILTERS:
            label = OTHER_FILTERS.get(code, "unknown")
            problems.append(
                f"{name} uses HDF5 filter {code} ({label}), which the scorer does not read "
                f"(compress with zlib/deflate, optionally with shuffle and Fletcher-32)"
            )
    return problems


def _shown(name: bytes | str) -> str:
    """A name from the file, printable on one line, its middle cut beyond `SHOWN_NAME`
    characters (the end of a path names the file)."""
    text = name.decode("utf-8", "backslashreplace") if isinstance(name, bytes) else name
    text = text.encode("unicode_escape").decode("ascii")
    if len(text) <= SHOWN_NAME:
        return text
    head = SHOWN_NAME // 3
    return f"{text[:head]}...{text[len(text) - (SHOWN_NAME - head - 3) :]}"
