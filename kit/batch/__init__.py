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

The package, one module per job (their public names import from `kit.batch` too):

- `kit.batch.plan`: plan files, their checks and their runs (`load_plan`, `expand_plan`);
- `kit.batch.runs`: one notebook run with papermill, its results and status files;
- `kit.batch.tables`: the results tables (`results.csv`, `results.md`);
- `kit.batch.dask_runs`: the runs as Dask tasks, retries, resume and GPU checks (`run_batch`);
- `kit.batch.cli`: the `autoice batch` command (`register`).
"""

from kit.batch.cli import register
from kit.batch.dask_runs import (
    DEFAULT_RETRIES,
    BatchReport,
    check_gpu_workers,
    check_local_gpus,
    is_gpu_run,
    pending_runs,
    run_batch,
    run_task,
)
from kit.batch.plan import (
    DEVICE_PARAMETER,
    LABEL_KEY,
    OUTPUT_PARAMETER,
    PARAM_PREFIX,
    PLAN_KEYS,
    QUICK_PARAMETER,
    BatchPlan,
    PlanFile,
    RunSpec,
    expand_plan,
    load_plan,
    quick_overrides,
)
from kit.batch.runs import (
    LOG_FILE,
    NOTEBOOK_FILE,
    RESULTS_FILE,
    STATUS_FILE,
    RunOutcome,
    completed_outcome,
    execute_run,
    read_results,
    run_child,
    write_results,
)
from kit.batch.tables import (
    RUN_COLUMNS,
    flatten,
    markdown_report,
    notebook_table,
    outcome_rows,
    table_columns,
    write_tables,
)

__all__ = [
    "BatchPlan",
    "BatchReport",
    "DEFAULT_RETRIES",
    "DEVICE_PARAMETER",
    "LABEL_KEY",
    "LOG_FILE",
    "NOTEBOOK_FILE",
    "OUTPUT_PARAMETER",
    "PARAM_PREFIX",
    "PLAN_KEYS",
    "PlanFile",
    "QUICK_PARAMETER",
    "RESULTS_FILE",
    "RUN_COLUMNS",
    "RunOutcome",
    "RunSpec",
    "STATUS_FILE",
    "check_gpu_workers",
    "check_local_gpus",
    "completed_outcome",
    "execute_run",
    "expand_plan",
    "flatten",
    "is_gpu_run",
    "load_plan",
    "markdown_report",
    "notebook_table",
    "outcome_rows",
    "pending_runs",
    "quick_overrides",
    "read_results",
    "register",
    "run_batch",
    "run_child",
    "run_task",
    "table_columns",
    "write_results",
    "write_tables",
]
