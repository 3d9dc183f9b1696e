"""`autoice batch` on Dask: a local cluster gives the sequential results, a lost worker's run is
retried, Ctrl-C leaves consistent tables that --resume completes, an existing scheduler is
used by address, SLURM/PBS job scripts come from a cluster config, and bad input stops the
batch before any run."""

import os
from pathlib import Path

import pandas as pd
import pytest
import yaml

from kit import batch, cluster
from kit.atomic import is_temporary
from kit.cli import main
from kit.errors import KitError
from tests.notebook_files import KERNEL, write_notebook

PARAMETERS = "seed = 0\nscale = 1.0\noutput_dir = '.'\nbatch_pid = 0\ndevice = 'cpu'"


def make_notebook(path: Path, body: str) -> Path:
    """A notebook with a `parameters` cell (seed, scale, output_dir, batch_pid, device)."""
    return write_notebook(path, PARAMETERS, body)


PASSING = """\
from kit.batch import write_results
write_results(output_dir, {"value": seed * scale, "charts": {"SIC": seed + 0.5}})
"""
FAILING = """\
if seed % 2:
    raise ValueError(f"odd seed {seed}")
from kit.batch import write_results
write_results(output_dir, {"value": seed})
"""
# The first attempt kills the Dask worker process running it (kernel -> run process ->
# worker) and waits to be stopped with it; the retry finds the marker and completes.
KILLS_ITS_WORKER_ONCE = """\
import time
from pathlib import Path
import psutil
marker = Path(output_dir).parent / "killed-once"
if not marker.exists():
    marker.touch()
    psutil.Process().parent().parent().kill()
    time.sleep(120)
from kit.batch import write_results
write_results(output_dir, {"value": seed})
"""
# Seed 1 presses Ctrl-C in the batch's process (once) and waits to be cancelled.
INTERRUPTS_ONCE = """\
import os, signal, time
from pathlib import Path
marker = Path(output_dir).parent / "interrupted-once"
if seed == 1 and not marker.exists():
    marker.touch()
    os.kill(batch_pid, signal.SIGINT)
    time.sleep(120)
from kit.batch import write_results
write_results(output_dir, {"value": seed})
"""


def write_plan(tmp_path: Path, **plan) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump({"kernel": KERNEL, **plan}))
    return path


def without_durations(csv: Path) -> pd.DataFrame:
    return pd.read_csv(csv).drop(columns="duration_s")


def temporaries(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if is_temporary(p.name)]


def test_local_cluster_of_two_gives_the_sequential_results(tmp_path):
    make_notebook(tmp_path / "good.ipynb", PASSING)
    make_notebook(tmp_path / "flaky.ipynb", FAILING)
    plan = batch.load_plan(
        write_plan(tmp_path, notebooks=["good.ipynb", "flaky.ipynb"], grid={"seed": [0, 1]})
    )
    one = batch.run_batch(plan, tmp_path / "one", jobs=1, progress=False)
    two = batch.run_batch(plan, tmp_path / "two", jobs=2, progress=False)
    assert [o.status for o in two.outcomes] == ["ok", "ok", "ok", "failed"]
    failed = two.outcomes[3]
    assert failed.error == "cell 2 (In [3]): ValueError: odd seed 1" and failed.failing_cell == 2
    assert two.retried == {}
    sequential, parallel = without_durations(one.csv_path), without_durations(two.csv_path)
    pd.testing.assert_frame_equal(sequential, parallel)
    assert list(parallel["run_id"]) == [o.run_id for o in one.outcomes]
    assert "3 of 4 runs ok." in two.markdown_path.read_text()
    assert "not finished" not in two.markdown_path.read_text()
    assert not temporaries(tmp_path / "two")


def test_a_run_whose_worker_is_killed_is_retried(tmp_path):
    make_notebook(tmp_path / "killer.ipynb", KILLS_ITS_WORKER_ONCE)
    plan = batch.load_plan(write_plan(tmp_path, notebooks=["killer.ipynb"], grid={"seed": [4]}))
    out = tmp_path / "out"
    report = batch.run_batch(plan, out, jobs=2, progress=False, retries=1)
    (outcome,) = report.outcomes
    assert (outcome.status, outcome.results) == ("ok", {"value": 4})
    assert report.retried == {"killer__seed-4": 1}
    assert (out / "killed-once").is_file()
    assert not temporaries(out)


def test_a_worker_lost_more_often_than_retries_is_a_recorded_failure(tmp_path):
    make_notebook(tmp_path / "killer.ipynb", KILLS_ITS_WORKER_ONCE)
    plan = batch.load_plan(write_plan(tmp_path, notebooks=["killer.ipynb"], grid={"seed": [4]}))
    out = tmp_path / "out"
    (outcome,) = batch.run_batch(plan, out, jobs=2, progress=False, retries=0).outcomes
    assert outcome.status == "failed"
    assert outcome.error == "worker lost 1 time(s); gave up after 0 retries"
    status = (out / "killer__seed-4" / "status.json").read_text()
    assert '"status": "failed"' in status
    assert pd.read_csv(out / "results.csv")["status"].tolist() == ["failed"]


def test_ctrl_c_leaves_consistent_tables_and_resume_completes(tmp_path, capsys):
    make_notebook(tmp_path / "stop.ipynb", INTERRUPTS_ONCE)
    plan = write_plan(
        tmp_path, notebooks=["stop.ipynb"], parameters={"batch_pid": os.getpid()},
        grid={"seed": [0, 1, 2]},
    )  # fmt: skip
    out = tmp_path / "out"
    args = ["batch", str(plan), "--jobs", "1", "--out", str(out)]
    assert main(args) == 130
    assert "interrupted" in capsys.readouterr().err
    finished = sorted(
        p.parent.name for p in out.glob("*/status.json") if '"status": "ok"' in p.read_text()
    )
    table = pd.read_csv(out / "results.csv")
    assert sorted(table["run_id"]) == finished  # the table holds exactly the finished runs
    assert "stop__seed-1" not in finished and "stop__seed-2" not in finished
    assert f"{len(finished)} of {len(finished)} runs ok. " in (out / "results.md").read_text()
    assert not (out / "stop__seed-2").exists()  # never started

    assert main([*args, "--resume"]) == 0
    table = pd.read_csv(out / "results.csv")
    assert table["status"].tolist() == ["ok", "ok", "ok"]
    assert table["value"].tolist() == [0, 1, 2]
    assert not temporaries(out)


@pytest.fixture
def scheduler_address():
    """A LocalCluster of 2 single-threaded worker processes; closed after the test."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as local:
        yield local.scheduler_address


def test_existing_scheduler_by_address(tmp_path, scheduler_address, capsys):
    make_notebook(tmp_path / "good.ipynb", PASSING)
    plan = write_plan(tmp_path, notebooks=["good.ipynb"], grid={"seed": [1, 2]})
    out = tmp_path / "out"
    assert main(["batch", str(plan), "--scheduler", scheduler_address, "--out", str(out)]) == 0
    assert "dask dashboard:" in capsys.readouterr().err
    table = pd.read_csv(out / "results.csv")
    assert table["value"].tolist() == [1.0, 2.0]


CLUSTER_CONFIG = """\
cores: 8
memory: 32GB
walltime: "04:00:00"
queue: gpu
account: ice-project
gpus: 1
max_jobs: 6
prologue:
  - module load cuda/12.1
  - source /shared/autoice/.venv/bin/activate
directives: ["--constraint=a100"]
"""


def test_slurm_job_script_from_a_cluster_config(tmp_path):
    path = tmp_path / "slurm.yaml"
    path.write_text(CLUSTER_CONFIG)
    config = cluster.load_cluster_config(path)
    assert config.cores == 8 and config.prologue[0] == "module load cuda/12.1"
    with cluster.jobqueue_cluster("slurm", config) as slurm:
        script = slurm.job_script()
    for line in (
        "#SBATCH -p gpu",
        "#SBATCH -A ice-project",
        "#SBATCH --cpus-per-task=8",
        "#SBATCH --mem=30G",
        "#SBATCH -t 04:00:00",
        "#SBATCH --constraint=a100",
        "#SBATCH --gres=gpu:1",
        "module load cuda/12.1",
        "source /shared/autoice/.venv/bin/activate",
    ):
        assert line in script.splitlines(), line
    assert "--nthreads 1" in script and "--resources GPU=1" in script
    assert script.index("module load") < script.index("distributed.cli.dask_worker")


def test_pbs_job_script_books_cores_memory_and_gpus(tmp_path):
    config = cluster.ClusterConfig(cores=4, memory="8GB", gpus=2, queue="workq")
    with cluster.jobqueue_cluster("pbs", config) as pbs:
        script = pbs.job_script()
    assert "#PBS -l select=1:ncpus=4:mem=8GB:ngpus=2" in script
    assert "#PBS -q workq" in script and "--resources GPU=2" in script


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cores: 8\ngpu: 1\n", "unknown key(s) gpu; allowed: cores, memory, walltime"),
        ("cores: 0\n", "cores must be at least 1, got 0"),
        ("gpus: -1\n", "gpus must be 0 or more, got -1"),
        ("memory: lots\n", "memory 'lots': expected a positive size"),
        ("walltime: 4h\n", "walltime '4h': expected HH:MM:SS or D-HH:MM:SS"),
        ("cores: eight\n", "cores: expected an integer, got 'eight'"),
        ("prologue: module load x\n", "prologue: expected a list"),
    ],
)
def test_bad_cluster_configs_name_the_file_and_key(tmp_path, text, message):
    path = tmp_path / "cluster.yaml"
    path.write_text(text)
    with pytest.raises(KitError) as info:
        cluster.load_cluster_config(path)
    assert str(info.value).startswith(f"{path}: ") and message in str(info.value)


@pytest.fixture
def good_plan(tmp_path):
    make_notebook(tmp_path / "good.ipynb", PASSING)
    return write_plan(tmp_path, notebooks=["good.ipynb"], grid={"seed": [1]})


def bad_input(capsys, args) -> str:
    """Run the CLI, expect exit status 2 and one line on stderr; return that line."""
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    return err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--jobs", "0"], "--jobs must be at least 1, got 0"),
        (["--retries", "-1"], "--retries must be 0 or more, got -1"),
        (
            ["--scheduler", "tcp://127.0.0.1:9", "--connect-timeout", "0.5"],
            "--scheduler tcp://127.0.0.1:9: cannot connect within 0.5 s",
        ),
        (["--cluster-config", "c.yaml"], "--cluster-config needs --cluster"),
        (["--cluster", "slurm", "--cluster-config", "nowhere.yaml"], "no such config file"),
    ],
)
def test_bad_input_stops_before_any_run(tmp_path, good_plan, capsys, extra, message):
    out = tmp_path / "out"
    err = bad_input(capsys, ["batch", str(good_plan), "--out", str(out), *extra])
    assert message in err
    assert not out.exists()


def test_unreachable_scheduler_from_the_environment(tmp_path, good_plan, capsys, monkeypatch):
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "tcp://127.0.0.1:9")
    out = tmp_path / "out"
    args = ["batch", str(good_plan), "--out", str(out), "--connect-timeout", "0.5"]
    assert "--scheduler tcp://127.0.0.1:9: cannot connect" in bad_input(capsys, args)
    assert not out.exists()


def test_bad_cluster_config_on_the_command_line(tmp_path, good_plan, capsys):
    (tmp_path / "slurm.yaml").write_text("cores: 8\nwalltime: 2 days\n")
    args = ["batch", str(good_plan), "--cluster", "slurm", "--cluster-config"]
    err = bad_input(capsys, [*args, str(tmp_path / "slurm.yaml"), "--out", str(tmp_path / "o")])
    assert "slurm.yaml: walltime '2 days'" in err and not (tmp_path / "o").exists()


def test_missing_notebook_is_refused_before_connecting(tmp_path, capsys):
    plan = write_plan(tmp_path, notebooks=["gone.ipynb"])
    args = ["batch", str(plan), "--scheduler", "tcp://127.0.0.1:9", "--connect-timeout", "0.5"]
    assert "gone.ipynb not found" in bad_input(capsys, args)


def test_gpu_runs(tmp_path, capsys):
    make_notebook(tmp_path / "good.ipynb", PASSING)
    plan = write_plan(tmp_path, notebooks=["good.ipynb"], grid={"device": ["cpu", "cuda:0"]})
    specs = batch.expand_plan(batch.load_plan(plan), tmp_path / "out")
    assert [batch.is_gpu_run(s) for s in specs] == [False, True]
    if cluster.local_gpu_count() == 0:
        err = bad_input(capsys, ["batch", str(plan), "--out", str(tmp_path / "out")])
        assert "runs with device cuda need a GPU and this machine has none" in err
    err = bad_input(capsys, ["batch", str(plan), "--cluster", "slurm", "--out", str(tmp_path)])
    assert "the jobs have no GPU; set gpus: 1" in err
    share = write_plan(tmp_path, notebooks=["good.ipynb"], gpus_per_run=0)
    with pytest.raises(KitError, match=r"gpus_per_run must be in \(0, 1\]"):
        batch.load_plan(share)
