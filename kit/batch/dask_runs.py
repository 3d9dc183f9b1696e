"""A batch on Dask: the runs submitted as tasks (`run_batch`), followed, resubmitted when their
worker is lost, resumed, and the GPU checks; each task runs papermill in a process of its own.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import sys
import uuid
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from kit.atomic import write_json_atomic
from kit.batch.plan import (
    DEVICE_PARAMETER,
    OUTPUT_PARAMETER,
    BatchPlan,
    RunSpec,
    expand_plan,
)
from kit.batch.runs import (
    STATUS_FILE,
    RunOutcome,
    completed_outcome,
)
from kit.batch.tables import write_tables
from kit.cluster import (
    GPU_RESOURCE,
    batch_client,
    dashboard_line,
    kit_root,
    local_gpu_count,
)
from kit.errors import KitError

#: Resubmissions of a run whose worker was lost (`--retries`).
DEFAULT_RETRIES = 2


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
