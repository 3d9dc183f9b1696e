"""Write a file so that readers see the old version or the new one, never half of it."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kit.errors import KitError

#: Mode asked for when the temporary file is created; the umask then applies, exactly as for a
#: file opened with `open(path, "w")` (0644 under the usual umask 022, not mkstemp's 0600).
FILE_MODE = 0o666


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a unique temporary path beside `path`; rename it onto `path` when the block succeeds.

    The folder is created if needed. If the block raises, the temporary file is removed and
    `path` is left as it was. Several processes may write the same `path` at once. The file
    gets the mode any new file gets (FILE_MODE less the umask).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = _new_temporary(path)
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _new_temporary(path: Path) -> Path:
    """Create an empty, uniquely named file beside `path` (mode FILE_MODE less the umask)."""
    while True:
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
        try:
            os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
            return temporary
        except FileExistsError:
            continue


def check_output_file(path: str | os.PathLike, setting: str, make_folder: bool = False) -> Path:
    """`path` as a file to write, or a KitError naming `setting`: not a folder, in a writable
    folder that exists (or, with `make_folder`, can be created). Call it before the work whose
    result goes there, so a bad path fails at once rather than after the work."""
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
