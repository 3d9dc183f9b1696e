"""Where generated files go: relative output paths are resolved against the repository root,
so a notebook run from Jupyter (working folder `notebooks/`), papermill or the command line
writes to the same `outputs/` folder, which git ignores."""

from __future__ import annotations

import os
from pathlib import Path


def repo_root() -> Path:
    """The repository checkout holding the kit (the folder with pyproject.toml), else the
    current working folder (an installed, non-editable kit)."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").is_file() else Path.cwd()


def output_path(path: str | os.PathLike) -> Path:
    """`path` itself when absolute; else the same path under the repository root."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else repo_root() / path
