"""Reading the kit's text inputs (configs, plans, CSV tables) with one-line errors naming the file.

A bare `'utf-8' codec can't decode byte 0xe9` or a YAML error spread over five lines says neither
which file nor what to do; these helpers say both, in one line, as `KitError`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from kit.errors import KitError


def not_utf8(path: str | os.PathLike, exc: UnicodeDecodeError) -> KitError:
    """The error for a file that is not UTF-8 text: file, offending byte and its offset."""
    byte = exc.object[exc.start : exc.start + 1].hex()
    return KitError(
        f"{path}: not UTF-8 text (byte 0x{byte} at offset {exc.start}); save it as UTF-8"
    )


def read_text(path: str | os.PathLike) -> str:
    """The UTF-8 text of `path`; a KitError naming the file if it is not UTF-8."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise not_utf8(path, exc) from None


def read_yaml(path: str | os.PathLike) -> Any:
    """The parsed YAML of `path`; a one-line KitError naming the file, line and column if it
    is not UTF-8 or not valid YAML."""
    import yaml

    text = read_text(path)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise KitError(f"{path}: not valid YAML ({yaml_problem(exc)})") from None


def yaml_problem(exc: Exception) -> str:
    """A YAML error in one line: `line L, column C: problem` (PyYAML's own text spans lines)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    text = where + problem + (f", {context}" if context else "")
    return " ".join(text.split())
