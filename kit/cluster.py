"""Where `autoice batch` runs its jobs: a Dask cluster on this machine, an existing one, or HPC.

Three ways, all through one `dask.distributed.Client` (see `batch_client`):

* this machine: a `LocalCluster` of `jobs` single-threaded worker processes (the default);
* an existing Dask cluster: its scheduler's address (``tcp://HOST:PORT``, or the
  ``DASK_SCHEDULER_ADDRESS`` environment variable);
* an HPC scheduler (SLURM, PBS, SGE): a `dask-jobqueue` cluster built from a cluster config
  file (`ClusterConfig`: cores, memory, walltime, queue, account, GPUs per job, the job
  script's prologue, extra directives), scaled to the plan.

Every worker runs one run at a time. A run that needs a GPU asks for the worker resource
``GPU`` (`GPU_RESOURCE`), which workers built here advertise when they have one.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from kit.config import config_from_dict, load_yaml
from kit.errors import KitError, named, reason

#: The worker resource a GPU run asks for.
GPU_RESOURCE = "GPU"
#: The environment variable Dask reads an existing scheduler's address from.
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
#: The HPC schedulers `--cluster` accepts, with their dask-jobqueue cluster classes.
CLUSTER_KINDS = {"slurm": "SLURMCluster", "pbs": "PBSCluster", "sge": "SGECluster"}
#: Seconds to wait for an existing scheduler before giving up (`--connect-timeout`).
CONNECT_TIMEOUT_S = 10.0

_WALLTIME = re.compile(r"(\d+-)?\d{1,3}:[0-5]\d:[0-5]\d")


@dataclass(frozen=True)
class ClusterConfig:
    """One HPC batch job = one Dask worker running one notebook run at a time.

    Parameters
    ----------
    cores : int
        CPU cores booked per job (the run's kernel uses them; the worker itself has 1 thread).
    memory : str
        Memory per job, e.g. ``"32GB"``.
    walltime : str
        Time limit per job, ``HH:MM:SS`` or ``D-HH:MM:SS``; a longer grid is served by new jobs.
    queue : str, optional
        Queue (SLURM partition) to submit to.
    account : str, optional
        Account or project to charge.
    gpus : int
        GPUs per job; the worker then advertises the resource ``GPU=gpus`` that GPU runs ask for.
    max_jobs : int
        At most this many jobs at once (fewer when the plan has fewer runs).
    prologue : tuple of str
        Shell lines run in the job script before the worker starts (modules, virtual env).
    directives : tuple of str
        Extra scheduler directives, e.g. ``--constraint=a100`` (SLURM) or a site's GPU request
        on PBS/SGE.
    """

    cores: int = 1
    memory: str = "4GB"
    walltime: str = "01:00:00"
    queue: str | None = None
    account: str | None = None
    gpus: int = 0
    max_jobs: int = 10
    prologue: tuple[str, ...] = ()
    directives: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        from dask.utils import parse_bytes

        if self.cores < 1:
            raise KitError(f"cores must be at least 1, got {self.cores}")
        if self.gpus < 0:
            raise KitError(f"gpus must be 0 or more, got {self.gpus}")
        if self.max_jobs < 1:
            raise KitError(f"max_jobs must be at least 1, got {self.max_jobs}")
        try:
            size = parse_bytes(self.memory)
        except ValueError:
            size = 0
        if size <= 0:
            raise KitError(f"memory {self.memory!r}: expected a positive size such as '16GB'")
        if not _WALLTIME.fullmatch(self.walltime) or _seconds(self.walltime) == 0:
            raise KitError(f"walltime {self.walltime!r}: expected HH:MM:SS or D-HH:MM:SS")


def _seconds(walltime: str) -> int:
    days, _, clock = walltime.rpartition("-")
    h, m, s = map(int, clock.split(":"))
    return ((int(days or 0) * 24 + h) * 60 + m) * 60 + s


def load_cluster_config(path: str | os.PathLike) -> ClusterConfig:
    """Read and check a cluster config file (YAML, the keys of `ClusterConfig`).

    Parameters
    ----------
    path : str or os.PathLike
        The YAML file.

    Returns
    -------
    ClusterConfig

    Raises
    ------
    KitError
        Naming the file: missing, not a mapping, unknown keys, wrong types or impossible
        resources (no cores, negative GPUs, an unreadable memory size or walltime).
    """
    with named(str(path)):
        return config_from_dict(ClusterConfig, load_yaml(path), section="")


def jobqueue_cluster(
    kind: Literal["slurm", "pbs", "sge"], config: ClusterConfig, **kwargs: Any
) -> Any:
    """A dask-jobqueue cluster for `config` (no job is submitted until it is scaled).

    Parameters
    ----------
    kind : {"slurm", "pbs", "sge"}
        The HPC scheduler.
    config : ClusterConfig
        Resources per job.
    **kwargs
        Passed on to the dask-jobqueue class (e.g. ``log_directory``).

    Returns
    -------
    dask_jobqueue.JobQueueCluster
        Its ``job_script()`` is the script each job runs. Close it when done.
    """
    import dask_jobqueue

    if kind not in CLUSTER_KINDS:
        raise KitError(f"--cluster {kind!r}: allowed {', '.join(CLUSTER_KINDS)}")
    directives = list(config.directives)
    # One single-threaded worker per job; the job books `cores` for the run's kernel.
    options: dict[str, Any] = dict(cores=1, processes=1, memory=config.memory)
    if kind == "slurm":
        options["job_cpu"] = config.cores
        if config.gpus:
            directives.append(f"--gres=gpu:{config.gpus}")
    elif kind == "pbs":
        gpus = f":ngpus={config.gpus}" if config.gpus else ""
        options["resource_spec"] = f"select=1:ncpus={config.cores}:mem={config.memory}{gpus}"
    else:  # SGE: cores and GPUs are requested through the site's directives
        options["resource_spec"] = f"h_vmem={config.memory}"
    if config.account:
        options["project" if kind == "sge" else "account"] = config.account
    scheduler_options = {"dashboard_address": ":0", **kwargs.pop("scheduler_options", {})}
    worker_args = ["--resources", f"{GPU_RESOURCE}={config.gpus}"] if config.gpus else []
    cls = getattr(dask_jobqueue, CLUSTER_KINDS[kind])
    return cls(
        queue=config.queue,
        walltime=config.walltime,
        job_script_prologue=list(config.prologue),
        job_extra_directives=directives,
        worker_extra_args=worker_args,
        scheduler_options=scheduler_options,
        **options,
        **kwargs,
    )


@contextmanager
def batch_client(
    jobs: int = 1,
    scheduler: str | None = None,
    cluster: str | None = None,
    cluster_config: ClusterConfig | None = None,
    runs: int = 1,
    gpus: int = 0,
    connect_timeout: float = CONNECT_TIMEOUT_S,
) -> Iterator[Any]:
    """A `dask.distributed.Client` for a batch, closed (with any cluster made here) on exit.

    Parameters
    ----------
    jobs : int
        Worker processes of the local cluster (used when neither `scheduler` nor `cluster`).
    scheduler : str, optional
        Address of an existing scheduler, e.g. ``tcp://10.0.0.5:8786``.
    cluster : {"slurm", "pbs", "sge"}, optional
        Build a dask-jobqueue cluster from `cluster_config` and scale it to `runs` jobs (at
        most ``max_jobs``).
    cluster_config : ClusterConfig, optional
        Resources per job (defaults: `ClusterConfig()`).
    runs : int
        How many runs the batch has (a jobqueue cluster gets no more jobs than that).
    gpus : int
        GPUs of this machine the local workers may use: each then advertises ``GPU=1``.
    connect_timeout : float
        Seconds to wait for an existing scheduler.

    Yields
    ------
    distributed.Client

    Raises
    ------
    KitError
        If the scheduler cannot be reached within `connect_timeout` or `jobs` is below 1.
    """
    from distributed import Client, LocalCluster

    made = None
    if scheduler:
        try:
            client = Client(scheduler, timeout=connect_timeout)
        except (OSError, TimeoutError) as exc:
            raise KitError(
                f"--scheduler {scheduler}: cannot connect within {connect_timeout:g} s "
                f"({reason(exc)})"
            ) from None
    else:
        if cluster:
            # A lost worker fails its task at once; the batch retries it (--retries).
            made = jobqueue_cluster(
                cluster,
                cluster_config or ClusterConfig(),
                scheduler_options={"allowed_failures": 0},
            )
            made.scale(jobs=min(runs, (cluster_config or ClusterConfig()).max_jobs))
        else:
            if jobs < 1:
                raise KitError(f"--jobs must be at least 1, got {jobs}")
            made = LocalCluster(
                n_workers=jobs,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",
                silence_logs=logging.ERROR,
                scheduler_kwargs={"allowed_failures": 0},
                resources={GPU_RESOURCE: 1} if gpus else None,
            )
        client = Client(made)
    try:
        yield client
    finally:
        client.close()
        if made is not None:
            made.close()


def dashboard_line(client: Any) -> str:
    """Where the cluster's dashboard is, or why there is none, as one line."""
    services = client.scheduler_info().get("services", {})
    if "dashboard" in services:
        return f"dask dashboard: {client.dashboard_link}"
    return "dask dashboard: none (install bokeh>=3.1 on the scheduler for one)"


def local_gpu_count() -> int:
    """CUDA devices on this machine (0 without torch or CUDA)."""
    try:
        import torch
    except ImportError:
        return 0
    return torch.cuda.device_count()


def kit_root() -> Path:
    """The folder holding the `kit` package (put on a run process's PYTHONPATH)."""
    return Path(__file__).resolve().parents[1]
