"""Tiny notebooks for batch tests: a papermill `parameters` cell, then an optional body."""

from pathlib import Path

import nbformat

KERNEL = "python3"


def write_notebook(path: Path, parameters: str, body: str | None = None) -> Path:
    """Write a notebook whose first cell (tagged `parameters`) is `parameters`, then `body`."""
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(parameters)
    cell.metadata["tags"] = ["parameters"]
    notebook.cells = [cell] + ([nbformat.v4.new_code_cell(body)] if body is not None else [])
    notebook.metadata["kernelspec"] = {
        "name": KERNEL,
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(notebook, path)
    return path
