"""`autoice batch`: the command's parser and handler."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from kit.batch.dask_runs import (
    DEFAULT_RETRIES,
    check_gpu_workers,
    is_gpu_run,
    pending_runs,
    run_batch,
)
from kit.batch.plan import (
    OUTPUT_PARAMETER,
    load_plan,
)
from kit.cluster import (
    CLUSTER_KINDS,
    CONNECT_TIMEOUT_S,
    SCHEDULER_ENV,
    ClusterConfig,
    batch_client,
    load_cluster_config,
)
from kit.errors import KitError


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
