"""The batch's tables: one flat row per run, `results.csv` and `results.md` (one table per
notebook)."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kit.atomic import write_atomic
from kit.batch.plan import (
    OUTPUT_PARAMETER,
    PARAM_PREFIX,
)
from kit.batch.runs import (
    RunOutcome,
)
from kit.config import flatten_settings


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """One table row's cells: nested dicts under dotted keys, lists as JSON strings.

    Parameters
    ----------
    data : Mapping
        Parameters or results, nested to any depth.
    prefix : str, default ""
        Put before every key as it is (e.g. ``"param."``).

    Returns
    -------
    dict
        ``{"charts": {"SIC": 1}, "seeds": [0, 1]}`` gives ``{"charts.SIC": 1, "seeds": "[0, 1]"}``,
        so that every value fits one table cell.
    """
    return {
        f"{prefix}{key}": json.dumps(value) if isinstance(value, list) else value
        for key, value in flatten_settings(data).items()
    }


#: The columns saying which run a row is and how it went.
RUN_COLUMNS = ("run_id", "notebook", "label", "status", "duration_s", "error")


def outcome_rows(outcomes: list[RunOutcome]) -> list[dict[str, Any]]:
    """One flat row per run: identity, status, parameters (`param.` prefix) and results."""
    rows = []
    for o in outcomes:
        row: dict[str, Any] = {
            "run_id": o.run_id,
            "notebook": Path(o.notebook).name,
            "label": o.label,
            "status": o.status,
            "duration_s": o.duration_s,
            "error": o.error,
        }
        params = {k: v for k, v in o.parameters.items() if k != OUTPUT_PARAMETER}
        row.update({f"{PARAM_PREFIX}{k}": v for k, v in flatten(params).items()})
        row.update(flatten(o.results))
        rows.append(row)
    return rows


def write_tables(
    outcomes: list[RunOutcome], out_dir: str | os.PathLike, title: str = "batch", pending: int = 0
) -> tuple[Path, Path]:
    """Write `results.csv` (every run and column, with a `notebook` column) and `results.md`
    (one table per notebook) atomically; `pending` runs not finished yet are counted in the
    markdown."""
    import pandas as pd

    out_dir = Path(out_dir)
    rows = outcome_rows(outcomes)
    # object columns: an integer stays an integer beside runs that lack it
    frame = pd.DataFrame(rows, columns=table_columns(rows), dtype=object)
    csv_path, md_path = out_dir / "results.csv", out_dir / "results.md"
    write_atomic(csv_path, frame.to_csv(index=False))
    write_atomic(md_path, markdown_report(rows, title, pending))
    return csv_path, md_path


def markdown_report(rows: list[dict[str, Any]], title: str, pending: int = 0) -> str:
    """The markdown summary: the count of ok runs (and of those not finished), then one
    section and table per notebook."""
    ok = sum(r["status"] == "ok" for r in rows)
    lines = [f"# {title}", "", f"{ok} of {len(rows)} runs ok."]
    if pending:
        lines[-1] += f" {pending} not finished."
    notebooks: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        notebooks.setdefault(row["notebook"], []).append(row)
    for name, group in notebooks.items():
        lines += ["", f"## {name}", "", *notebook_table(group)]
    return "\n".join(lines) + "\n"


def notebook_table(rows: list[dict[str, Any]]) -> list[str]:
    """Lines of one notebook's section: parameters the same in every run listed once, then a
    row per run with the columns any of its runs filled. A parameter some runs do not set
    differs (those runs used the notebook's default, shown as `(default)`)."""
    columns = [c for c in table_columns(rows) if c != "notebook"]
    params = [c for c in columns if c.startswith(PARAM_PREFIX)]
    fixed = [c for c in params if _same_in_every_row(rows, c)]
    shown = [c for c in columns if c not in fixed and any(r.get(c) is not None for r in rows)]
    lines = []
    if fixed:
        heading = "Parameters" if len(rows) == 1 else "Same in every run"
        named = ", ".join(f"`{c[len(PARAM_PREFIX) :]}={_text(rows[0][c])}`" for c in fixed)
        lines += [f"{heading}: {named}.", ""]
    lines.append("| " + " | ".join(shown) + " |")
    lines.append("|" + "---|" * len(shown))
    for row in rows:
        cells = [_md_cell(row[c]) if c in row else _absent(c) for c in shown]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def table_columns(rows: list[dict[str, Any]]) -> list[str]:
    """Every column of the rows: run identity and status, then parameters, then results."""
    names = list(dict.fromkeys(c for r in rows for c in r))
    params = [c for c in names if c.startswith(PARAM_PREFIX)]
    results = [c for c in names if c not in params and c not in RUN_COLUMNS]
    return [c for c in RUN_COLUMNS if c in names] + params + results


def _same_in_every_row(rows: list[dict[str, Any]], column: str) -> bool:
    """Whether every row has `column` with one and the same value."""
    if any(column not in r for r in rows):
        return False
    return len({json.dumps(r[column], sort_keys=True, default=str) for r in rows}) == 1


def _absent(column: str) -> str:
    return "(default)" if column.startswith(PARAM_PREFIX) else ""


def _text(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")[:120]


def _md_cell(value: Any) -> str:
    """A table cell: floats to 3 decimals, integers and booleans as they are, None empty."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.3f}"
    return _text(value)
