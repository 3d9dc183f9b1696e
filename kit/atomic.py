"""The one atomic writer: readers see a file's old version or its new one, never half of it.

Every output of the kit and of the scorer is written under a temporary name beside its target,
`.<name>.<8 hex digits>.part`, and renamed onto the target with `os.replace` (atomic within one
file system) only when the writing succeeded; on failure the temporary file is removed and the
target left as it was. Several processes may write the same target at once: the last rename
wins. Files get the mode any new file gets (0666 less the umask: 0644 under the usual 022, not
mkstemp's private 0600). Nothing is flushed to the disk (no fsync): a crash of the program never
leaves a half-written file, a power cut may.

- `atomic_path`: a temporary path for a writer that takes a file name (netCDF, torch, pandas);
- `atomic_open`: an open file to stream into;
- `write_atomic`, `write_json_atomic`: whole text, bytes or JSON at once;
- `atomic_paths`: several files that belong together, renamed one after the other;
- `is_temporary`: whether a file name is one of these temporaries (for folder cleaners);
- `check_output_file`: refuse a bad output path before the work that fills it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, Any

from kit.errors import KitError

#: Mode asked for when the temporary file is created; the umask then applies, exactly as for a
#: file opened with `open(path, "w")` (0644 under the usual umask 022, not mkstemp's 0600).
FILE_MODE = 0o666
#: Ending of every temporary file name (before the target's own suffix with `keep_suffix`).
TEMPORARY_SUFFIX = ".part"
#: `.<target name>.<8 hex digits>.part`, optionally followed by the target's suffix.
TEMPORARY_NAME = re.compile(r"\..+\.[0-9a-f]{8}" + re.escape(TEMPORARY_SUFFIX) + r"(\.[^.]+)?")
#: Modes `atomic_open` accepts: a new file written from the start, as text or bytes.
WRITE_MODES = ("w", "wt", "wb")


def is_temporary(name: str) -> bool:
    """Whether the file name `name` is that of a temporary file of this module.

    Parameters
    ----------
    name : str
        A file name (no folder).

    Returns
    -------
    bool
        True for `.<name>.<8 hex digits>.part` (optionally followed by a suffix).

    Examples
    --------
    >>> is_temporary(".out.nc.0a1b2c3d.part"), is_temporary("out.nc")
    (True, False)
    """
    return TEMPORARY_NAME.fullmatch(name) is not None


@contextmanager
def atomic_paths(
    paths: Sequence[str | os.PathLike], *, make_folder: bool = True, keep_suffix: bool = False
) -> Iterator[list[Path]]:
    """Yield one temporary path per target; rename each onto its target when the block succeeds.

    Each file appears whole, but the renames are separate steps in the order given, not one
    atomic step: a reader may see some new files beside old ones, and a crash between two
    renames leaves only the first ones in place. Put last the file whose presence says the set
    is complete. A temporary file that the block deleted is not renamed (its target is left as
    it was). If the block raises, every temporary file is removed and no target changes.

    Parameters
    ----------
    paths : sequence of str or os.PathLike
        The target files, all different.
    make_folder : bool, default True
        Create missing folders; if False, a missing folder is an error.
    keep_suffix : bool, default False
        End each temporary name with its target's suffix too (`.x.ipynb.0a1b2c3d.part.ipynb`),
        for writers that choose a format or complain by the file's extension (papermill).

    Yields
    ------
    list of Path
        The temporary paths, in the order of `paths`; each exists, empty, when the block starts.

    Raises
    ------
    ValueError
        If a target is given twice.
    FileNotFoundError
        With `make_folder=False`, if the folder of a target does not exist.
    """
    targets = [Path(path) for path in paths]
    if len(set(targets)) != len(targets):
        raise ValueError(f"atomic_paths: a target is given twice in {[str(t) for t in targets]}")
    temporaries: list[Path] = []
    try:
        for target in targets:
            _prepare_folder(target, make_folder)
            temporaries.append(_new_temporary(target, keep_suffix))
        yield temporaries
        for temporary, target in zip(temporaries, targets):
            if temporary.exists():
                os.replace(temporary, target)
    finally:
        for temporary in temporaries:
            temporary.unlink(missing_ok=True)


@contextmanager
def atomic_path(
    path: str | os.PathLike, *, make_folder: bool = True, keep_suffix: bool = False
) -> Iterator[Path]:
    """Yield a unique temporary path beside `path`; rename it onto `path` when the block succeeds.

    If the block raises, the temporary file is removed and `path` is left as it was.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write.
    make_folder : bool, default True
        Create missing folders; if False, a missing folder is an error.
    keep_suffix : bool, default False
        End the temporary name with the suffix of `path` too (see `atomic_paths`).

    Yields
    ------
    Path
        The temporary path, an existing empty file, to be written by the block.

    Raises
    ------
    FileNotFoundError
        With `make_folder=False`, if the folder of `path` does not exist.
    """
    with atomic_paths([path], make_folder=make_folder, keep_suffix=keep_suffix) as (temporary,):
        yield temporary


@contextmanager
def atomic_open(
    path: str | os.PathLike,
    mode: str = "w",
    *,
    encoding: str = "utf-8",
    newline: str | None = None,
    make_folder: bool = True,
) -> Iterator[IO[Any]]:
    """Open a temporary file beside `path` for writing; rename it onto `path` once closed.

    The file is closed when the block ends; if the block raises, it is removed and `path` is
    left as it was.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write.
    mode : {"w", "wt", "wb"}, default "w"
        Text or binary, always from the start of a new file.
    encoding : str, default "utf-8"
        Encoding of a text file (ignored for "wb").
    newline : str or None, default None
        As for `open` (`""` for the csv module).
    make_folder : bool, default True
        Create missing folders; if False, a missing folder is an error.

    Yields
    ------
    file object
        The open temporary file.

    Raises
    ------
    ValueError
        If `mode` is not a write mode listed above.
    FileNotFoundError
        With `make_folder=False`, if the folder of `path` does not exist.
    """
    if mode not in WRITE_MODES:
        raise ValueError(f"atomic_open {path}: mode {mode!r}; expected one of {WRITE_MODES}")
    text = "b" not in mode
    with ExitStack() as stack:
        temporary = stack.enter_context(atomic_path(path, make_folder=make_folder))
        handle = stack.enter_context(
            open(temporary, mode, encoding=encoding if text else None, newline=newline)
        )
        yield handle  # the file closes before the rename: contexts exit in reverse order


def write_atomic(
    path: str | os.PathLike, content: str | bytes, *, make_folder: bool = True
) -> Path:
    """Write text (as UTF-8) or bytes to `path` atomically.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write.
    content : str or bytes
        The whole content of the file.
    make_folder : bool, default True
        Create missing folders; if False, a missing folder is an error.

    Returns
    -------
    Path
        `path`.

    Raises
    ------
    FileNotFoundError
        With `make_folder=False`, if the folder of `path` does not exist.
    """
    with atomic_path(path, make_folder=make_folder) as temporary:
        if isinstance(content, bytes):
            temporary.write_bytes(content)
        else:
            temporary.write_text(content, encoding="utf-8")
    return Path(path)


def write_json_atomic(
    path: str | os.PathLike,
    data: Any,
    *,
    indent: int | None = 2,
    allow_nan: bool = True,
    make_folder: bool = True,
) -> Path:
    """Write `data` as JSON (UTF-8, ending with a newline) to `path` atomically.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write.
    data : object
        Anything `json.dumps` accepts.
    indent : int or None, default 2
        As for `json.dumps`.
    allow_nan : bool, default True
        As for `json.dumps`: False refuses NaN and infinities (strict JSON).
    make_folder : bool, default True
        Create missing folders; if False, a missing folder is an error.

    Returns
    -------
    Path
        `path`.

    Raises
    ------
    TypeError, ValueError
        From `json.dumps`, before anything is written.
    """
    text = json.dumps(data, indent=indent, allow_nan=allow_nan) + "\n"
    return write_atomic(path, text, make_folder=make_folder)


def _prepare_folder(path: Path, make_folder: bool) -> None:
    folder = path.parent
    if make_folder:
        folder.mkdir(parents=True, exist_ok=True)
    elif not folder.is_dir():
        raise FileNotFoundError(f"{path}: folder {folder} does not exist")


def _new_temporary(path: Path, keep_suffix: bool = False) -> Path:
    """Create an empty, uniquely named file beside `path` (mode FILE_MODE less the umask)."""
    suffix = path.suffix if keep_suffix else ""
    while True:
        name = f".{path.name}.{secrets.token_hex(4)}{TEMPORARY_SUFFIX}{suffix}"
        temporary = path.with_name(name)
        try:
            os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
            return temporary
        except FileExistsError:
            continue


def check_output_file(path: str | os.PathLike, setting: str, make_folder: bool = False) -> Path:
    """`path` as a file to write, checked before the work whose result goes there.

    A bad path then fails at once rather than after the work.

    Parameters
    ----------
    path : str or os.PathLike
        The file to be written.
    setting : str
        The option or setting that gave `path` (`--out`), named in the error.
    make_folder : bool, default False
        Accept a missing folder that can be created (the nearest existing one is checked).

    Returns
    -------
    Path
        `path`.

    Raises
    ------
    KitError
        If `path` is a folder, or its folder is missing (without `make_folder`), is a file, or
        is not writable.
    """
    path = Path(path)
    if path.is_dir():
        raise KitError(f"{setting} {path}: is a folder; give a file name")
    folder = path.parent
    while make_folder and not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.exists():
        raise KitError(f"{setting} {path}: folder {folder} does not exist")
    if not folder.is_dir():
        raise KitError(f"{setting} {path}: {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise KitError(f"{setting} {path}: folder {folder} is not writable")
    return path
