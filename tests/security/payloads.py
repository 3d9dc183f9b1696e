"""Pickled payloads that create a marker file when unpickled by a loader that runs code."""

from __future__ import annotations

import builtins
import os
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


def one_error_line(stderr: str, command: str, path: Path) -> str:
    """The CLI's single error line for `path`, asserting there is nothing else (no traceback)."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"autoice {command}: error: {path}"), stderr
    return lines[0]
