"""One run: a notebook executed with papermill into its own folder (`execute_run`), its
results file (`write_results`, `read_results`) and status, and the run process's entry point.
"""

from __future__ import annotations

import json
import math
import os
import sys
import threading
import time
import traceback
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kit.atomic import atomic_paths, is_temporary, write_json_atomic
from kit.batch.plan import (
    OUTPUT_PARAMETER,
    RunSpec,
)
from kit.errors import KitError

#: The file a notebook writes its key results into (inside its `output_dir`).
RESULTS_FILE = "results.json"
STATUS_FILE = "status.json"
NOTEBOOK_FILE = "notebook.ipynb"
LOG_FILE = "run.log"


@dataclass
class RunOutcome:
    """What one run produced. `status` is "ok" or "failed"; `results` is its results.json."""

    run_id: str
    notebook: str
    label: str | None
    parameters: dict[str, Any]
    status: str
    duration_s: float
    error: str | None = None
    failing_cell: int | None = None
    results: dict[str, Any] = field(default_factory=dict)
    resumed: bool = False


# --------------------------------------------------------------------------- results files


def write_results(output_dir: str | os.PathLike, results: Mapping[str, Any]) -> Path:
    """Write a notebook's key results to `output_dir/results.json` (atomically).

    Values may be numbers, strings, booleans, None, lists or nested dicts; numpy scalars and
    arrays are converted. This is the file `autoice batch` tabulates.
    """
    path = Path(output_dir) / RESULTS_FILE
    write_json_atomic(path, _to_jsonable(dict(results)))
    return path


def read_results(output_dir: str | os.PathLike) -> dict[str, Any]:
    """Read `output_dir/results.json` as written by `write_results`."""
    path = Path(output_dir) / RESULTS_FILE
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise KitError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    if not isinstance(data, dict):
        raise KitError(f"{path}: expected a JSON object, found {type(data).__name__}")
    return data


def _to_jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_jsonable(v) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "tolist"):  # numpy scalars and arrays, torch tensors
        return _to_jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else str(value)
    return value


# --------------------------------------------------------------------------- running


def execute_run(
    spec: RunSpec, kernel: str | None = None, cell_timeout: int | None = None
) -> RunOutcome:
    """Run one notebook with papermill into its own folder; never raises for a notebook error."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    run_dir = Path(spec.parameters[OUTPUT_PARAMETER])
    run_dir.mkdir(parents=True, exist_ok=True)
    for stale in (RESULTS_FILE, STATUS_FILE):
        (run_dir / stale).unlink(missing_ok=True)
    for left in run_dir.iterdir():  # temporaries of an attempt whose process was killed
        if is_temporary(left.name):
            left.unlink(missing_ok=True)
    outcome = RunOutcome(spec.run_id, str(spec.notebook), spec.label, spec.parameters, "ok", 0.0)
    start = time.perf_counter()
    # Both renamed into place at the end, the notebook first; keep_suffix, as papermill warns
    # about an output notebook whose name does not end in .ipynb.
    commit = atomic_paths([run_dir / NOTEBOOK_FILE, run_dir / LOG_FILE], keep_suffix=True)
    with commit as (notebook, log_file), open(log_file, "w", encoding="utf-8") as log:
        log.write(f"notebook: {spec.notebook}\nparameters: {json.dumps(spec.parameters)}\n\n")
        log.flush()
        try:
            papermill.execute_notebook(
                str(spec.notebook),
                str(notebook),
                parameters=spec.parameters,
                kernel_name=kernel,
                progress_bar=False,
                stdout_file=log,
                stderr_file=log,
                cwd=str(spec.notebook.parent),
                execution_timeout=cell_timeout,
            )
        except PapermillExecutionError as exc:
            outcome.status = "failed"
            outcome.failing_cell = exc.cell_index
            # The index is that of the executed notebook (papermill adds an injected cell).
            outcome.error = (
                f"cell {exc.cell_index} (In [{exc.exec_count}]): {exc.ename}: {exc.evalue}"
            )
            log.write(f"\nFAILED in cell {exc.cell_index}:\n{exc.source}\n{exc}\n")
        except Exception as exc:  # kernel died, cell timeout, unreadable notebook ...
            outcome.status = "failed"
            outcome.error = f"{type(exc).__name__}: {exc}".splitlines()[0]
            log.write(f"\nFAILED:\n{traceback.format_exc()}\n")
        if notebook.stat().st_size == 0:  # papermill stopped before writing any notebook
            notebook.unlink()  # so none is renamed into place
    outcome.duration_s = round(time.perf_counter() - start, 3)
    _collect_results(outcome, run_dir)
    write_json_atomic(run_dir / STATUS_FILE, asdict(outcome))
    return outcome


def _collect_results(outcome: RunOutcome, run_dir: Path) -> None:
    if not (run_dir / RESULTS_FILE).is_file():
        if outcome.status == "ok":
            outcome.status = "failed"
            outcome.error = f"the notebook finished without writing {RESULTS_FILE}"
        return
    try:
        outcome.results = read_results(run_dir)
    except KitError as exc:
        outcome.status, outcome.error = "failed", str(exc)


def completed_outcome(spec: RunSpec) -> RunOutcome | None:
    """The recorded outcome of a run that already finished ok, else None (for --resume)."""
    run_dir = Path(spec.parameters[OUTPUT_PARAMETER])
    try:
        status = json.loads((run_dir / STATUS_FILE).read_text())
        results = read_results(run_dir)
    except (OSError, ValueError):
        return None
    if status.get("status") != "ok" or status.get("parameters") != spec.parameters:
        return None
    known = {k: status[k] for k in ("status", "duration_s", "error", "failing_cell") if k in status}
    return RunOutcome(
        spec.run_id, str(spec.notebook), spec.label, spec.parameters, **known,
        results=results, resumed=True,
    )  # fmt: skip


def run_child() -> None:
    """The run process's entry point: read a run request (JSON) on stdin and execute it.

    The process exits as soon as its parent (the Dask worker) is gone, so a killed worker
    leaves no run behind; the notebook's kernel follows its parent in the same way.
    """
    request = json.loads(sys.stdin.read())
    threading.Thread(target=_exit_when_orphaned, args=(os.getppid(),), daemon=True).start()
    spec = RunSpec(
        request["run_id"], Path(request["notebook"]), request["label"], request["parameters"]
    )
    execute_run(spec, request["kernel"], request["cell_timeout"])


def _exit_when_orphaned(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(3)
