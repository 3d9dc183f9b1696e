"""Hostile payloads: pickles that create a marker file when unpickled by a loader that runs
code, and a zlib compression bomb."""

from __future__ import annotations

import builtins
import os
import struct
import zlib
from pathlib import Path


class ExecPayload:
    """Unpickles as `exec("open(marker, 'w').close()")`."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return builtins.exec, (f"open({str(self.marker)!r}, 'w').close()",)


class SystemPayload:
    """Unpickles as `os.system("touch marker")`."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch '{self.marker}'",)


PAYLOADS = (ExecPayload, SystemPayload)


def zlib_bomb(inflated: int, piece: int = 1 << 20) -> bytes:
    """A valid zlib stream of `inflated` zero bytes (whole `piece`s), about 1000 times
    smaller, built without holding them: blocks after a full flush repeat exactly."""
    compressor = zlib.compressobj(9)
    first = compressor.compress(bytes(piece)) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(bytes(piece)) + compressor.flush(zlib.Z_FULL_FLUSH)
    end = compressor.flush()[:-4]  # the final block, without the checksum of two pieces
    adler = ((inflated // piece * piece) % 65521) << 16 | 1  # Adler-32 of zeros
    return first + block * (inflated // piece - 1) + end + struct.pack(">I", adler)


def one_error_line(stderr: str, command: str, path: Path) -> str:
    """The CLI's single error line for `path`, asserting there is nothing else (no traceback)."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"autoice {command}: error: {path}"), stderr
    return lines[0]
