"""Batch reruns of the tutorial notebooks: a grid of notebooks x parameter sets run with papermill.

A plan is a small YAML file (examples in `notebooks/plans/`)::

    name: ablations                 # optional; default: the plan file's name
    notebooks: [03_multitask_mmseaice.ipynb]   # relative to the plan file
    parameters: {quick: true}       # the same for every run
    sets:                           # optional explicit parameter sets (`label` names a set)
      - {label: baseline}
      - {label: no-amsr2, use_amsr2: false}
    grid: {seed: [0, 1, 2]}         # optional cartesian product, crossed with `sets`
    kernel: python3                 # optional Jupyter kernel name
    cell_timeout: 1800              # optional seconds per cell
    gpus_per_run: 1                 # optional share of a GPU a `device: cuda` run books

The runs are Dask tasks (`kit.cluster`): by default on a `LocalCluster` of `--jobs`
single-threaded worker processes, else on an existing scheduler or a dask-jobqueue (SLURM, PBS,
SGE) cluster. Each task runs papermill in a process of its own on its worker; a run whose
`device` parameter is `cuda` (or `cuda:N`) asks for the worker resource `GPU`. A run whose
worker is lost (killed, preempted) is resubmitted up to `retries` times; Ctrl-C cancels the
runs not finished and leaves the finished ones and the tables consistent. The tables are
rewritten as each run finishes.

Every run gets its own folder under the output folder holding the executed notebook, its log
(`run.log`), the `results.json` the notebook writes into its `output_dir` (set to that folder)
and a `status.json`. A failed run is recorded with its failing cell and does not stop the
others; `--resume` skips runs whose status is ok. At the end the runs are tabulated into
`results.csv` (every run, a `notebook` column) and `results.md` (one table per notebook;
parameters the same in every run of a notebook listed once above its table). Notebooks report
their results with `write_results`.

Explicit parameters never lose silently to `quick: true`: a plan that sets, in a run with quick
mode on, a parameter the notebook reassigns under `if quick:` (its CI sizes) is refused when
loaded, naming the parameters.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import hashlib
import itertools
import json
import math
import os
import re
import subprocess
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from kit.atomic import atomic_paths, is_temporary, write_atomic, write_json_atomic
from kit.cluster import (
    CLUSTER_KINDS,
    CONNECT_TIMEOUT_S,
    GPU_RESOURCE,
    SCHEDULER_ENV,
    ClusterConfig,
    batch_client,
    dashboard_line,
    kit_root,
    load_cluster_config,
    local_gpu_count,
)
from kit.config import config_from_dict, flatten_settings, load_yaml
from kit.errors import KitError, named

#: The file a notebook writes its key results into (inside its `output_dir`).
RESULTS_FILE = "results.json"
STATUS_FILE = "status.json"
NOTEBOOK_FILE = "notebook.ipynb"
LOG_FILE = "run.log"
#: Set by the batch runner for every run, so a plan may not set it.
OUTPUT_PARAMETER = "output_dir"
#: In `sets`, names the set (used in the run id and the tables; not passed to the notebook).
LABEL_KEY = "label"
#: Prefix of the parameter columns in the tables.
PARAM_PREFIX = "param."
#: The notebooks' switch to CI sizes. A plan may not set, beside `quick: true`, a parameter
#: the notebook reassigns under `if quick:` (the plan's value would be silently replaced).
QUICK_PARAMETER = "quick"
#: The notebooks' device parameter: a run with `cuda` or `cuda:N` asks for a GPU.
DEVICE_PARAMETER = "device"
#: Resubmissions of a run whose worker was lost (`--retries`).
DEFAULT_RETRIES = 2


@dataclass(frozen=True)
class PlanFile:
    """A plan file's keys as written, checked by `config_from_dict` (unknown keys, the types of
    `kernel` and `cell_timeout`); `load_plan` checks the rest and makes a `BatchPlan`."""

    name: Any = None
    notebooks: Any = None
    parameters: Any = None
    sets: Any = None
    grid: Any = None
    kernel: str | None = None
    cell_timeout: int | None = None
    gpus_per_run: float = 1.0


#: Keys a plan file may have.
PLAN_KEYS = tuple(f.name for f in fields(PlanFile))


@dataclass
class BatchPlan:
    """A validated plan: which notebooks to run with which parameter sets."""

    path: Path
    name: str
    notebooks: list[Path]
    parameters: dict[str, Any] = field(default_factory=dict)
    sets: list[dict[str, Any]] = field(default_factory=list)
    grid: dict[str, list[Any]] = field(default_factory=dict)
    kernel: str | None = None
    cell_timeout: int | None = None
    gpus_per_run: float = 1.0


@dataclass
class RunSpec:
    """One notebook run: its id (the folder name), notebook, label and parameters."""

    run_id: str
    notebook: Path
    label: str | None
    parameters: dict[str, Any]


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


@dataclass
class BatchReport:
    """All runs of a batch plus where the combined tables were written."""

    outcomes: list[RunOutcome]
    csv_path: Path
    markdown_path: Path
    #: Run id -> how many times it was resubmitted after losing its worker.
    retried: dict[str, int] = field(default_factory=dict)

    @property
    def failed(self) -> list[RunOutcome]:
        return [o for o in self.outcomes if o.status != "ok"]


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


# --------------------------------------------------------------------------- plan


def load_plan(path: str | os.PathLike) -> BatchPlan:
    """Read and validate a plan file.

    Parameters
    ----------
    path : str or os.PathLike
        The plan YAML file; notebook paths in it are relative to its folder.

    Returns
    -------
    BatchPlan
        The checked plan, notebooks resolved to absolute paths.

    Raises
    ------
    KitError
        Naming the file (and the key): a missing or unreadable file, unknown keys, values of
        the wrong kind, notebooks that are missing or lack a `parameters` cell, parameters a
        notebook does not declare or that its quick mode would replace.
    """
    path = Path(path)
    if not path.is_file():
        raise KitError(f"{path}: plan file not found")
    with named(str(path)):
        written = config_from_dict(PlanFile, load_yaml(path), section="")
    plan = BatchPlan(
        path=path,
        name=_plan_name(path, written.name),
        notebooks=_plan_notebooks(path, written.notebooks),
        parameters=_plan_mapping(path, "parameters", written.parameters),
        sets=_plan_sets(path, written.sets),
        grid=_plan_grid(path, written.grid),
        kernel=written.kernel,
        cell_timeout=written.cell_timeout,
        gpus_per_run=written.gpus_per_run,
    )
    if not 0 < plan.gpus_per_run <= 1:
        raise KitError(
            f"{path}: gpus_per_run must be in (0, 1] (0.5: two runs share a card), "
            f"got {plan.gpus_per_run:g}"
        )
    _check_parameter_names(plan)
    return plan


def _plan_name(path: Path, value: Any) -> str:
    """The plan's name, which names its default output folder `outputs/batch/<name>`: one plain
    folder name, so that no plan writes outside that folder (no `/`, `..` or absolute path)."""
    if not value:
        return path.stem
    name = str(value)
    if Path(name).name != name or name == ".." or "\0" in name:
        raise KitError(
            f"{path}: name {name!r} must be a plain folder name (no '/', '..' or absolute path); "
            "it names the output folder outputs/batch/<name>"
        )
    return name


def _plan_notebooks(path: Path, value: Any) -> list[Path]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise KitError(f"{path}: 'notebooks' must be a non-empty list of notebook files")
    notebooks = []
    for entry in value:
        nb = (path.parent / str(entry)).resolve()
        if nb.suffix != ".ipynb":
            raise KitError(f"{path}: notebooks: {entry} is not an .ipynb file")
        if not nb.is_file():
            raise KitError(f"{path}: notebooks: {entry} not found (looked at {nb})")
        notebooks.append(nb)
    if len(set(notebooks)) != len(notebooks):
        raise KitError(f"{path}: notebooks: a notebook is listed twice")
    return notebooks


def _plan_mapping(path: Path, key: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise KitError(f"{path}: '{key}' must be a mapping of parameter name to value")
    for name in value:
        if not isinstance(name, str) or not name.isidentifier():
            raise KitError(f"{path}: {key}: {name!r} is not a valid parameter name")
    if OUTPUT_PARAMETER in value:
        raise KitError(f"{path}: {key}: '{OUTPUT_PARAMETER}' is set per run by autoice batch")
    return dict(value)


def _plan_sets(path: Path, value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not value:
        raise KitError(f"{path}: 'sets' must be a non-empty list of parameter mappings")
    sets = [_plan_mapping(path, f"sets[{i}]", entry) for i, entry in enumerate(value)]
    labels = [s[LABEL_KEY] for s in sets if LABEL_KEY in s]
    if len(set(map(str, labels))) != len(labels):
        raise KitError(f"{path}: sets: labels must be unique")
    return sets


def _plan_grid(path: Path, value: Any) -> dict[str, list[Any]]:
    grid = _plan_mapping(path, "grid", value)
    for name, values in grid.items():
        if not isinstance(values, list) or not values:
            raise KitError(f"{path}: grid: '{name}' must be a non-empty list of values")
    if LABEL_KEY in grid:
        raise KitError(f"{path}: grid: '{LABEL_KEY}' belongs in 'sets', not in the grid")
    return grid


def _check_parameter_names(plan: BatchPlan) -> None:
    """Every parameter must exist in every notebook's `parameters` cell (catches typos early),
    and none may be one that the notebook's quick mode replaces in a run with `quick: true`."""
    import papermill

    names = set(plan.parameters) | set(plan.grid)
    for s in plan.sets:
        names |= set(s) - {LABEL_KEY}
    overlap = set(plan.grid) & {n for s in plan.sets for n in s}
    if overlap:
        raise KitError(f"{plan.path}: {', '.join(sorted(overlap))} in both 'sets' and 'grid'")
    for nb in plan.notebooks:
        declared = papermill.inspect_notebook(str(nb))
        if not declared:
            raise KitError(f"{nb}: no cell tagged 'parameters', so it cannot be parameterised")
        unknown = sorted(names - set(declared))
        if unknown:
            raise KitError(
                f"{plan.path}: parameter(s) {', '.join(unknown)} not in {nb.name}; "
                f"it declares: {', '.join(sorted(declared))}"
            )
        _check_quick(plan, nb, _literal(declared.get(QUICK_PARAMETER, {}).get("default")))


def _check_quick(plan: BatchPlan, nb: Path, quick_default: Any) -> None:
    """Refuse runs that set `quick: true` and a parameter that quick mode replaces."""
    replaced = quick_overrides(nb)
    for label, _, params in _parameter_sets(plan):
        clash = sorted(set(params) & replaced - {QUICK_PARAMETER})
        if clash and bool(params.get(QUICK_PARAMETER, quick_default)):
            where = f" (set {label!r})" if label else ""
            raise KitError(
                f"{plan.path}: quick: true makes {nb.name} replace {', '.join(clash)}{where} "
                "by its CI sizes; set quick: false or remove those parameters"
            )


def quick_overrides(notebook: str | os.PathLike) -> set[str]:
    """The names a notebook assigns under `if quick:` (read from its code, never run)."""
    import nbformat

    names: set[str] = set()
    for cell in nbformat.read(notebook, as_version=4).cells:
        if cell.cell_type != "code" or "parameters" in cell.metadata.get("tags", []):
            continue
        source = "\n".join(
            "" if line.lstrip().startswith(("%", "!")) else line
            for line in cell.source.splitlines()
        )  # IPython magics and shell lines are not Python
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and _tests_quick(node.test):
                names |= {
                    n.id
                    for stmt in node.body
                    for n in ast.walk(stmt)
                    if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
                }
    return names


def _tests_quick(test: ast.expr) -> bool:
    """`if quick:` or `if quick and ...:`."""
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And):
        return any(_tests_quick(v) for v in test.values)
    return isinstance(test, ast.Name) and test.id == QUICK_PARAMETER


def _literal(text: Any) -> Any:
    """A notebook parameter's default as papermill reports it (source text), or None."""
    try:
        return ast.literal_eval(text) if isinstance(text, str) else None
    except (ValueError, SyntaxError):
        return None


def _parameter_sets(plan: BatchPlan) -> list[tuple[str | None, dict[str, Any], dict[str, Any]]]:
    """Each run's (label, the parameters naming it, all its parameters), for any notebook."""
    grid_names = list(plan.grid)
    combos = [dict(zip(grid_names, vals)) for vals in itertools.product(*plan.grid.values())]
    runs = []
    for pset in plan.sets or [{}]:
        label = str(pset[LABEL_KEY]) if LABEL_KEY in pset else None
        varying = {k: v for k, v in pset.items() if k != LABEL_KEY}
        for combo in combos:
            named = combo if label else {**varying, **combo}  # a label names its set
            runs.append((label, named, {**plan.parameters, **varying, **combo}))
    return runs


def expand_plan(plan: BatchPlan, out_dir: str | os.PathLike) -> list[RunSpec]:
    """The runs of a plan: notebooks x sets x grid, each with its own `output_dir`."""
    out_dir = Path(out_dir).resolve()
    runs: list[RunSpec] = []
    for nb in plan.notebooks:
        for label, varying, params in _parameter_sets(plan):
            run_id = _run_id(nb, label, varying, params)
            params = {**params, OUTPUT_PARAMETER: str(out_dir / run_id)}
            runs.append(RunSpec(run_id, nb, label, params))
    ids = [r.run_id for r in runs]
    if len(set(ids)) != len(ids):
        raise KitError(f"{plan.path}: two runs have identical parameters; remove the duplicate")
    return runs


def _run_id(nb: Path, label: str | None, varying: dict[str, Any], params: dict) -> str:
    """A readable, deterministic folder name: notebook, set label and varying parameters."""
    parts = [label] if label else []
    parts += [f"{k}-{json.dumps(v, sort_keys=True)}" for k, v in varying.items()]
    slug = re.sub(r"[^A-Za-z0-9.=+-]+", "_", "_".join(parts)).strip("_") or "default"
    if len(slug) > 60:
        digest = hashlib.sha1(json.dumps(params, sort_keys=True, default=str).encode())
        slug = f"{slug[:51]}_{digest.hexdigest()[:8]}"
    return f"{nb.stem}__{slug}"


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


def is_gpu_run(spec: RunSpec) -> bool:
    """Whether a run asks for a GPU: its `device` parameter is ``cuda`` or ``cuda:N``."""
    device = spec.parameters.get(DEVICE_PARAMETER)
    return isinstance(device, str) and device.split(":")[0] == "cuda"


def pending_runs(
    plan: BatchPlan, out_dir: str | os.PathLike, resume: bool = False
) -> tuple[list[RunSpec], dict[str, RunOutcome], list[RunSpec]]:
    """A plan's runs, the outcomes of those already completed (with `resume`), and the rest.

    Parameters
    ----------
    plan : BatchPlan
        The checked plan.
    out_dir : str or os.PathLike
        The batch's output folder.
    resume : bool
        Count runs whose folder records an ok run with the same parameters as completed.

    Returns
    -------
    tuple
        (every run in plan order, run id -> completed outcome, the runs still to do).
    """
    specs = expand_plan(plan, out_dir)
    done = {s.run_id: completed_outcome(s) for s in specs} if resume else {}
    outcomes = {k: v for k, v in done.items() if v is not None}
    return specs, outcomes, [s for s in specs if s.run_id not in outcomes]


def check_local_gpus(plan: BatchPlan, todo: list[RunSpec], jobs: int) -> int:
    """The GPUs the local workers share out, after checking that the GPU runs fit on them.

    Returns 0 when no run asks for a GPU. Raises a KitError when some do and this machine has
    no GPU, or `jobs` workers at `plan.gpus_per_run` each would need more cards than it has.
    """
    if not any(is_gpu_run(s) for s in todo):
        return 0
    count = local_gpu_count()
    if count == 0:
        raise KitError(
            f"{plan.path}: runs with device cuda need a GPU and this machine has none; "
            "run them on a cluster (--scheduler, --cluster) or set device: cpu"
        )
    if jobs * plan.gpus_per_run > count:
        raise KitError(
            f"--jobs {jobs}: that many runs at once with gpus_per_run {plan.gpus_per_run:g} "
            f"need {math.ceil(jobs * plan.gpus_per_run)} GPUs and this machine has {count}; "
            "lower --jobs or let runs share a card (gpus_per_run: 0.5 in the plan)"
        )
    return count


def check_gpu_workers(client: Any, plan: BatchPlan, todo: list[RunSpec]) -> None:
    """Refuse GPU runs that no worker of an existing cluster could take (they would wait
    forever): some worker must advertise the resource ``GPU`` of at least `gpus_per_run`."""
    if not any(is_gpu_run(s) for s in todo):
        return
    workers = client.scheduler_info().get("workers", {}).values()
    if not any(w.get("resources", {}).get(GPU_RESOURCE, 0) >= plan.gpus_per_run for w in workers):
        raise KitError(
            f"{plan.path}: runs with device cuda ask for the worker resource "
            f"{GPU_RESOURCE}={plan.gpus_per_run:g} and no worker of the scheduler has it "
            f"(start GPU workers with --resources {GPU_RESOURCE}=1)"
        )


def run_batch(
    plan: BatchPlan,
    out_dir: str | os.PathLike,
    jobs: int = 1,
    resume: bool = False,
    kernel: str | None = None,
    progress: bool = True,
    client: Any = None,
    retries: int = DEFAULT_RETRIES,
) -> BatchReport:
    """Run every run of the plan as Dask tasks and tabulate them.

    Parameters
    ----------
    plan : BatchPlan
        The checked plan.
    out_dir : str or os.PathLike
        The output folder: one folder per run, `results.csv` and `results.md`. On a cluster it
        must be on a file system the workers share.
    jobs : int
        Worker processes of the local cluster made when no `client` is given.
    resume : bool
        Skip runs that completed ok with the same parameters (whatever cluster ran them).
    kernel : str, optional
        Jupyter kernel name (default: the plan's, else the notebook's).
    progress : bool
        Show a progress bar (done, running, failed) and the dashboard address on stderr.
    client : distributed.Client, optional
        Run on this client's cluster instead of a local one (see `kit.cluster.batch_client`).
    retries : int
        Resubmissions of a run whose worker was lost before the run is recorded as failed.

    Returns
    -------
    BatchReport
        Every run's outcome in plan order, the tables' paths and the retried runs.

    Raises
    ------
    KitError
        For `jobs` below 1, negative `retries`, or GPU runs this machine cannot hold, before
        any run starts.
    KeyboardInterrupt
        After cancelling the outstanding runs and writing the tables of the finished ones.
    """
    if jobs < 1:
        raise KitError(f"--jobs must be at least 1, got {jobs}")
    if retries < 0:
        raise KitError(f"--retries must be 0 or more, got {retries}")
    out_dir = Path(out_dir)
    specs, outcomes, todo = pending_runs(plan, out_dir, resume)
    batch = _Batch(plan, out_dir, specs, outcomes, kernel or plan.kernel, retries, progress)
    if not todo or client is not None:
        return batch.run(client, todo)
    gpus = check_local_gpus(plan, todo, jobs)
    with batch_client(jobs=jobs, gpus=gpus) as local:
        return batch.run(local, todo, gpu_pin=(gpus, plan.gpus_per_run) if gpus else None)


class _Batch:
    """The client side of a batch: submits the runs, follows them, keeps the tables."""

    def __init__(self, plan, out_dir, specs, outcomes, kernel, retries, progress) -> None:
        self.plan, self.out_dir, self.specs = plan, out_dir, specs
        self.outcomes: dict[str, RunOutcome] = dict(outcomes)
        self.kernel, self.retries, self.progress = kernel, retries, progress
        self.retried: dict[str, int] = {}

    def run(self, client: Any, todo: list[RunSpec], gpu_pin=None) -> BatchReport:
        from distributed import wait
        from tqdm.auto import tqdm

        if self.progress and todo:
            print(dashboard_line(client), file=sys.stderr)
        bar = tqdm(
            total=len(todo), desc=f"batch {self.plan.name}", unit="run", disable=not self.progress
        )
        self.pending = {}
        for spec in todo:
            self._submit(client, spec, 0, gpu_pin)
        failed = 0
        try:
            while self.pending:
                try:
                    finished = wait(list(self.pending), timeout=1, return_when="FIRST_COMPLETED")
                    finished = finished.done
                except (TimeoutError, asyncio.TimeoutError):
                    finished = set()
                for future in finished:
                    spec, attempt = self.pending.pop(future)
                    outcome = self._outcome(future, spec)
                    if outcome is None:  # its worker was lost
                        if attempt < self.retries:
                            self.retried[spec.run_id] = attempt + 1
                            bar.write(f"RETRY {spec.run_id}: worker lost ({attempt + 1} of "
                                      f"{self.retries} retries)")  # fmt: skip
                            self._submit(client, spec, attempt + 1, gpu_pin)
                            continue
                        outcome = self._lost(spec, future, attempt)
                    self.outcomes[spec.run_id] = outcome
                    failed += outcome.status != "ok"
                    bar.update(1)
                    if outcome.status != "ok":
                        bar.write(f"FAILED {outcome.run_id}: {outcome.error}")
                    self._tables()
                bar.set_postfix(
                    done=bar.n, running=self._running(client), failed=failed, refresh=False
                )
                bar.refresh()
        except KeyboardInterrupt:
            client.cancel(list(self.pending))
            for spec, _ in self.pending.values():  # finished, but not yet heard of here
                outcome = completed_outcome(spec)
                if outcome is not None:
                    self.outcomes[spec.run_id] = replace(outcome, resumed=False)
            self.pending = {
                f: v for f, v in self.pending.items() if v[0].run_id not in self.outcomes
            }
            self._tables()
            bar.write(
                f"interrupted: {len(self.pending)} run(s) cancelled; the tables hold the "
                f"{len(self.outcomes)} finished; rerun with --resume to do the rest"
            )
            raise
        finally:
            bar.close()
        csv_path, md_path = self._tables()
        ordered = [self.outcomes[s.run_id] for s in self.specs]
        return BatchReport(ordered, csv_path, md_path, dict(self.retried))

    def _submit(self, client: Any, spec: RunSpec, attempt: int, gpu_pin) -> None:
        gpu = is_gpu_run(spec)
        future = client.submit(
            run_task, spec, self.kernel, self.plan.cell_timeout, gpu_pin if gpu else None,
            key=f"autoice-{spec.run_id}-{attempt}-{uuid.uuid4().hex[:8]}",
            resources={GPU_RESOURCE: self.plan.gpus_per_run} if gpu else None,
            pure=False,
        )  # fmt: skip
        self.pending[future] = (spec, attempt)

    def _outcome(self, future: Any, spec: RunSpec) -> RunOutcome | None:
        """The run's outcome, or None if its worker was lost."""
        from distributed import KilledWorker

        if future.status == "finished":
            return future.result()
        exc = future.exception()
        if isinstance(exc, KilledWorker):
            return None
        outcome = _failed(spec, f"task error: {type(exc).__name__}: {exc}".splitlines()[0])
        _record(spec, outcome)
        return outcome

    def _lost(self, spec: RunSpec, future: Any, attempt: int) -> RunOutcome:
        outcome = _failed(spec, f"worker lost {attempt + 1} time(s); gave up after "
                                f"{self.retries} retries")  # fmt: skip
        _record(spec, outcome)
        return outcome

    def _running(self, client: Any) -> int:
        ours = {f.key for f in self.pending}
        return sum(k in ours for keys in client.processing().values() for k in keys)

    def _tables(self) -> tuple[Path, Path]:
        finished = [self.outcomes[s.run_id] for s in self.specs if s.run_id in self.outcomes]
        pending = len(self.specs) - len(finished)
        return write_tables(finished, self.out_dir, title=self.plan.name, pending=pending)


def _failed(spec: RunSpec, error: str) -> RunOutcome:
    return RunOutcome(
        spec.run_id, str(spec.notebook), spec.label, spec.parameters, "failed", 0.0, error=error
    )


def _record(spec: RunSpec, outcome: RunOutcome) -> None:
    """Write a failure decided outside the run's process into its folder (status.json)."""
    run_dir = Path(spec.parameters[OUTPUT_PARAMETER])
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(run_dir / STATUS_FILE, asdict(outcome))


def run_task(
    spec: RunSpec,
    kernel: str | None = None,
    cell_timeout: int | None = None,
    gpu_pin: tuple[int, float] | None = None,
) -> RunOutcome:
    """One run as a Dask task: papermill in a process of its own (`execute_run` there).

    Parameters
    ----------
    spec : RunSpec
        The run.
    kernel : str, optional
        Jupyter kernel name.
    cell_timeout : int, optional
        Seconds per cell.
    gpu_pin : tuple of (int, float), optional
        On a local cluster: (GPUs of the machine, gpus_per_run); the run then sees only the
        card of its worker (worker ``i`` uses card ``int(i * gpus_per_run) % GPUs``).

    Returns
    -------
    RunOutcome
        As recorded in the run folder's status.json; a failure if the process died first.
    """
    run_dir = Path(spec.parameters[OUTPUT_PARAMETER])
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / STATUS_FILE).unlink(missing_ok=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(kit_root()), env.get("PYTHONPATH")) if p)
    if gpu_pin:
        from distributed import get_worker

        cards, share = gpu_pin
        env["CUDA_VISIBLE_DEVICES"] = str(int(int(get_worker().name) * share) % cards)
    request = {
        "run_id": spec.run_id, "notebook": str(spec.notebook), "label": spec.label,
        "parameters": spec.parameters, "kernel": kernel, "cell_timeout": cell_timeout,
    }  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", "from kit.batch import run_child; run_child()"],
        input=json.dumps(request), text=True, env=env, capture_output=True,
    )  # fmt: skip
    try:
        return RunOutcome(**json.loads((run_dir / STATUS_FILE).read_text()))
    except (OSError, ValueError, TypeError):
        why = (done.stderr.strip().splitlines() or ["no message"])[-1]
        outcome = _failed(spec, f"run process exited with status {done.returncode}: {why}")
        _record(spec, outcome)
        return outcome


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


# --------------------------------------------------------------------------- tables


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


# --------------------------------------------------------------------------- CLI


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `autoice batch` to the CLI."""
    p = subparsers.add_parser(
        "batch",
        help="rerun notebooks over a grid of parameters with papermill",
        description="Run a plan (notebooks x parameter sets, see notebooks/plans/) with "
        "papermill, each run in its own folder, and tabulate the runs' results.json into "
        "results.csv and results.md (one table per notebook).",
    )
    p.add_argument("plan", type=Path, help="plan YAML (see notebooks/plans/)")
    p.add_argument(
        "--jobs", type=int, default=1, help="worker processes on this machine (local cluster)"
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help=f"run on an existing Dask cluster, e.g. tcp://HOST:8786 (default: ${SCHEDULER_ENV})",
    )
    where.add_argument(
        "--cluster",
        choices=sorted(CLUSTER_KINDS),
        help="run on an HPC scheduler through dask-jobqueue (with --cluster-config)",
    )
    p.add_argument(
        "--cluster-config",
        type=Path,
        metavar="FILE",
        help="YAML: cores, memory, walltime, queue, account, gpus, max_jobs, prologue, "
        "directives (per job)",
    )
    p.add_argument(
        "--retries",
        type=int,
        default=DEFAULT_RETRIES,
        help="resubmissions of a run whose worker was lost",
    )
    p.add_argument(
        "--connect-timeout",
        type=float,
        default=CONNECT_TIMEOUT_S,
        metavar="SECONDS",
        help="how long to wait for --scheduler",
    )
    p.add_argument("--resume", action="store_true", help="skip runs that completed ok")
    p.add_argument(
        "--out",
        type=Path,
        help="output folder (default: outputs/batch/<the plan's name>; on a cluster, a "
        "folder every worker sees)",
    )
    p.add_argument("--kernel", help="Jupyter kernel name (default: the plan's or notebook's)")
    p.set_defaults(handler=_cmd_batch)


def _cmd_batch(args: argparse.Namespace) -> int:
    # Every argument and file is checked before any worker starts or any run is submitted.
    if args.jobs < 1:
        raise KitError(f"--jobs must be at least 1, got {args.jobs}")
    if args.retries < 0:
        raise KitError(f"--retries must be 0 or more, got {args.retries}")
    if args.connect_timeout <= 0:
        raise KitError(f"--connect-timeout must be positive, got {args.connect_timeout:g}")
    if args.cluster_config and not args.cluster:
        raise KitError("--cluster-config needs --cluster (" + ", ".join(CLUSTER_KINDS) + ")")
    plan = load_plan(args.plan)
    config = None
    if args.cluster:
        config = load_cluster_config(args.cluster_config) if args.cluster_config else None
    scheduler = None if args.cluster else args.scheduler or os.environ.get(SCHEDULER_ENV)
    out_dir = args.out or Path("outputs") / "batch" / plan.name
    _, _, todo = pending_runs(plan, out_dir, args.resume)
    options = dict(resume=args.resume, kernel=args.kernel, retries=args.retries)
    if not scheduler and not args.cluster:
        report = run_batch(plan, out_dir, jobs=args.jobs, **options)
    else:
        gpu_runs = any(is_gpu_run(s) for s in todo)
        if args.cluster and gpu_runs and (config or ClusterConfig()).gpus < plan.gpus_per_run:
            raise KitError(
                f"{args.cluster_config or '--cluster'}: the plan has runs with device cuda "
                "and the jobs have no GPU; set gpus: 1 in the cluster config"
            )
        with batch_client(
            scheduler=scheduler,
            cluster=args.cluster,
            cluster_config=config,
            runs=max(len(todo), 1),
            connect_timeout=args.connect_timeout,
        ) as client:
            if scheduler:
                check_gpu_workers(client, plan, todo)
            report = run_batch(plan, out_dir, client=client, **options)
    print(report.markdown_path.read_text())
    print(f"results: {report.csv_path}\ntable:   {report.markdown_path}")
    for run_id, times in report.retried.items():
        print(f"retried: {run_id}: its worker was lost, resubmitted {times} time(s)")
    for o in report.failed:
        print(
            f"failed: {o.run_id}: {o.error} (log: {Path(o.parameters[OUTPUT_PARAMETER])}/run.log)"
        )
    return 1 if report.failed else 0
