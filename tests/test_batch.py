"""`autoice batch`: plans validated, runs executed with papermill into their own folders,
failures recorded with their cell, --resume skips completed runs, --jobs runs in parallel."""

import json
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import yaml

from kit import batch
from kit.cli import main
from kit.errors import KitError
from tests.notebook_files import KERNEL, write_notebook


def make_notebook(path: Path, body: str, quick: bool = False) -> Path:
    """A tiny notebook: a `parameters` cell (seed, scale, output_dir; `quick` too if asked)
    then `body`."""
    parameters = "seed = 0\nscale = 1.0\noutput_dir = '.'" + "\nquick = False" * quick
    return write_notebook(path, parameters, body)


PASSING = """\
from kit.batch import write_results
print("running seed", seed)
write_results(output_dir, {"value": seed * scale, "charts": {"SIC": seed + 0.5}})
"""
# Fails for odd seeds only, after printing to the log. In the executed notebook it is cell 2
# (papermill inserts its injected-parameters cell after the parameters cell) and In [3].
FAILING = """\
print("about to fail")
if seed % 2:
    raise ValueError(f"odd seed {seed}")
from kit.batch import write_results
write_results(output_dir, {"value": seed})
"""


@pytest.fixture
def notebooks(tmp_path):
    return (
        make_notebook(tmp_path / "good.ipynb", PASSING),
        make_notebook(tmp_path / "flaky.ipynb", FAILING),
    )


def write_plan(tmp_path: Path, **plan) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(plan))
    return path


def test_expand_plan_grid_sets_and_ids(tmp_path, notebooks):
    plan = batch.load_plan(
        write_plan(
            tmp_path,
            notebooks=["good.ipynb", "flaky.ipynb"],
            parameters={"scale": 2.0},
            sets=[{"label": "base"}, {"label": "big", "scale": 10.0}],
            grid={"seed": [0, 1, 2]},
        )
    )
    runs = batch.expand_plan(plan, tmp_path / "out")
    assert len(runs) == 2 * 2 * 3
    assert len({r.run_id for r in runs}) == len(runs)
    big = [r for r in runs if r.label == "big" and r.notebook.name == "good.ipynb"]
    assert [r.parameters["seed"] for r in big] == [0, 1, 2]
    assert all(r.parameters["scale"] == 10.0 for r in big)
    assert big[1].run_id == "good__big_seed-1"
    assert big[1].parameters["output_dir"] == str(tmp_path / "out" / "good__big_seed-1")
    base = [r for r in runs if r.label == "base"]
    assert all(r.parameters["scale"] == 2.0 for r in base)


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        (
            {"notebooks": ["good.ipynb"], "gird": {"seed": [1]}},
            "plan.yaml: unknown key(s) gird; "
            "allowed: name, notebooks, parameters, sets, grid, kernel, cell_timeout",
        ),
        ({"notebooks": ["missing.ipynb"]}, "missing.ipynb not found"),
        ({"notebooks": []}, "'notebooks' must be a non-empty list"),
        ({"notebooks": ["good.ipynb"], "grid": {"seed": []}}, "grid: 'seed' must be a non-empty"),
        ({"notebooks": ["good.ipynb"], "grid": {"sed": [1]}}, "parameter(s) sed not in good"),
        (
            {"notebooks": ["good.ipynb"], "parameters": {"output_dir": "x"}},
            "'output_dir' is set per run",
        ),
        (
            {"notebooks": ["good.ipynb"], "sets": [{"seed": 1}], "grid": {"seed": [2]}},
            "seed in both 'sets' and 'grid'",
        ),
        (
            {"notebooks": ["good.ipynb"], "cell_timeout": "soon"},
            "cell_timeout: expected an integer, got 'soon'",
        ),
        ({"notebooks": ["good.ipynb"], "kernel": 3}, "kernel: expected a string, got 3"),
    ],
)
def test_bad_plans_are_clear_errors(tmp_path, notebooks, plan, message):
    with pytest.raises(KitError, match="plan.yaml") as info:
        batch.load_plan(write_plan(tmp_path, **plan))
    assert message in str(info.value)


def test_plan_that_is_not_a_mapping_is_refused(tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_text("- good.ipynb\n")
    with pytest.raises(KitError, match="plan.yaml: expected a mapping of settings"):
        batch.load_plan(path)


def test_notebook_without_parameters_cell_is_rejected(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    nbformat.write(nb, tmp_path / "plain.ipynb")
    with pytest.raises(KitError, match="plain.ipynb: no cell tagged 'parameters'"):
        batch.load_plan(write_plan(tmp_path, notebooks=["plain.ipynb"]))


def test_duplicate_runs_are_rejected(tmp_path, notebooks):
    plan = batch.load_plan(
        write_plan(tmp_path, notebooks=["good.ipynb"], sets=[{"seed": 1}, {"seed": 1}])
    )
    with pytest.raises(KitError, match="identical parameters"):
        batch.expand_plan(plan, tmp_path / "out")


def test_run_batch_records_success_and_failure_then_resumes(tmp_path, notebooks):
    plan = batch.load_plan(
        write_plan(
            tmp_path, notebooks=["good.ipynb", "flaky.ipynb"], grid={"seed": [0, 1]}, kernel=KERNEL
        )
    )
    out = tmp_path / "out"
    report = batch.run_batch(plan, out, progress=False)
    status = {o.run_id: o for o in report.outcomes}
    assert [o.run_id for o in report.outcomes] == [
        "good__seed-0",
        "good__seed-1",
        "flaky__seed-0",
        "flaky__seed-1",
    ]
    assert [o.status for o in report.outcomes] == ["ok", "ok", "ok", "failed"]

    failed = status["flaky__seed-1"]
    assert failed.failing_cell == 2
    assert failed.error == "cell 2 (In [3]): ValueError: odd seed 1"
    run_dir = out / "flaky__seed-1"
    assert (run_dir / "notebook.ipynb").is_file()  # the executed notebook, kept for debugging
    assert "about to fail" in (run_dir / "run.log").read_text()
    assert not (run_dir / "results.json").exists()
    assert json.loads((run_dir / "status.json").read_text())["status"] == "failed"

    good = out / "good__seed-1"
    executed = nbformat.read(good / "notebook.ipynb", as_version=4)
    assert any("seed = 1" in c.source for c in executed.cells)  # papermill injected the value
    assert "running seed 1" in (good / "run.log").read_text()
    assert batch.read_results(good) == {"value": 1.0, "charts": {"SIC": 1.5}}
    assert not list(out.rglob(".*"))  # no partial files left

    table = pd.read_csv(report.csv_path)
    assert list(table["status"]) == ["ok", "ok", "ok", "failed"]
    assert list(table["param.seed"]) == [0, 1, 0, 1]
    assert table.loc[1, "charts.SIC"] == 1.5
    assert "output_dir" not in " ".join(table.columns)
    assert (table["duration_s"] > 0).all()
    md = report.markdown_path.read_text()
    assert "3 of 4 runs ok." in md and "| flaky__seed-1 |" in md and "odd seed 1" in md

    # --resume: the three completed runs are skipped (their files untouched), the failed rerun.
    stamp = (good / "notebook.ipynb").stat().st_mtime_ns
    again = batch.run_batch(plan, out, resume=True, progress=False)
    assert [o.resumed for o in again.outcomes] == [True, True, True, False]
    assert (good / "notebook.ipynb").stat().st_mtime_ns == stamp
    assert again.outcomes[0].results == {"value": 0.0, "charts": {"SIC": 0.5}}
    assert again.outcomes[3].status == "failed"
    assert len(pd.read_csv(again.csv_path)) == 4


def test_cli_batch_parallel_jobs(tmp_path, notebooks, capsys):
    plan = write_plan(
        tmp_path,
        name="demo-plan",
        notebooks=["good.ipynb", "flaky.ipynb"],
        parameters={"scale": 3.0},
        grid={"seed": [2, 3]},
        kernel=KERNEL,
    )
    out = tmp_path / "par"
    code = main(["batch", str(plan), "--jobs", "2", "--out", str(out)])
    assert code == 1  # one run failed; the other three completed
    printed = capsys.readouterr().out
    assert "# demo-plan" in printed and "Same in every run: `scale=3.0`" in printed
    assert "failed: flaky__seed-3: cell 2 (In [3]): ValueError: odd seed 3" in printed
    table = pd.read_csv(out / "results.csv").set_index("run_id")
    assert table.loc["good__seed-3", "value"] == 9.0
    assert table.loc["flaky__seed-2", "status"] == "ok"
    assert table.loc["flaky__seed-3", "status"] == "failed"


def test_cli_batch_bad_plan_exits_2(tmp_path, capsys):
    plan = write_plan(tmp_path, notebooks=["nowhere.ipynb"])
    assert main(["batch", str(plan)]) == 2
    assert "nowhere.ipynb not found" in capsys.readouterr().err


def test_finishing_without_results_json_is_a_failure(tmp_path):
    make_notebook(tmp_path / "silent.ipynb", "print('done')")
    plan = batch.load_plan(write_plan(tmp_path, notebooks=["silent.ipynb"], kernel=KERNEL))
    (outcome,) = batch.run_batch(plan, tmp_path / "out", progress=False).outcomes
    assert outcome.status == "failed"
    assert "without writing results.json" in outcome.error


def test_a_run_that_never_starts_keeps_its_log_and_writes_no_notebook(tmp_path):
    """papermill fails before writing the executed notebook: nothing (not an empty file) takes
    its name, the log still says why, and no temporary file is left."""
    run_dir = tmp_path / "out" / "run"
    spec = batch.RunSpec("run", tmp_path / "gone.ipynb", None, {"output_dir": str(run_dir)})
    outcome = batch.execute_run(spec, kernel=KERNEL)  # the notebook vanished after the plan
    assert outcome.status == "failed" and "gone.ipynb" in outcome.error
    assert sorted(p.name for p in run_dir.iterdir()) == ["run.log", "status.json"]
    assert "FAILED" in (run_dir / "run.log").read_text()


def test_write_results_converts_numpy_and_flatten(tmp_path):
    np = pytest.importorskip("numpy")
    path = batch.write_results(
        tmp_path, {"a": np.float32(0.5), "b": np.arange(3), "c": {"d": np.int64(2)}}
    )
    assert json.loads(path.read_text()) == {"a": 0.5, "b": [0, 1, 2], "c": {"d": 2}}
    assert batch.flatten({"c": {"d": 2, "e": {"f": 1}}, "g": [1]}) == {
        "c.d": 2,
        "c.e.f": 1,
        "g": "[1]",
    }


def outcome(notebook: str, run_id: str, parameters: dict, results: dict, status="ok"):
    """A finished run as `execute_run` records it, without running anything."""
    return batch.RunOutcome(
        run_id, f"/nb/{notebook}", None, {**parameters, "output_dir": "/o"}, status, 1.5,
        results=results,
    )  # fmt: skip


def test_a_parameter_absent_in_some_runs_differs(tmp_path):
    """Two sets, one setting levels/filters: they differ, are shown per run, never `nan`."""
    runs = [
        outcome("02.ipynb", "a", {"device": "cpu"}, {"score": 80.0}),
        outcome("02.ipynb", "b", {"device": "cpu", "levels": 3, "filters": [8, 16]}, {"score": 81}),
    ]
    _, md_path = batch.write_tables(runs, tmp_path)
    md = md_path.read_text()
    assert "nan" not in md
    assert "Same in every run: `device=cpu`." in md
    header = next(line for line in md.splitlines() if line.startswith("| run_id"))
    assert "param.levels" in header and "param.filters" in header
    assert "| a | ok | 1.500 | (default) | (default) | 80.000 |" in md
    assert "| b | ok | 1.500 | 3 | [8, 16] | 81 |" in md  # integers stay integers


def test_one_table_per_notebook_with_its_own_columns(tmp_path):
    runs = [
        outcome("01.ipynb", "x0", {"seed": 0, "scene_index": 0}, {"scenes": 30}),
        outcome("06.ipynb", "y0", {"seed": 0, "warped_size": 512}, {"epe": 1.25}),
        outcome("06.ipynb", "y1", {"seed": 1, "warped_size": 512}, {"epe": 0.75}),
    ]
    csv_path, md_path = batch.write_tables(runs, tmp_path, title="mixed")
    md = md_path.read_text()
    first, second = md.split("## 01.ipynb")[1].split("## 06.ipynb")
    assert "Parameters: `seed=0`, `scene_index=0`." in first
    assert "| x0 | ok | 1.500 | 30 |" in first and "epe" not in first
    assert "Same in every run: `warped_size=512`." in second
    assert "| y1 | ok | 1.500 | 1 | 0.750 |" in second and "scenes" not in second
    assert "512.0" not in md and "3 of 3 runs ok." in md
    table = pd.read_csv(csv_path)
    assert list(table["notebook"]) == ["01.ipynb", "06.ipynb", "06.ipynb"]
    lines = csv_path.read_text().splitlines()  # every column; integers stay integers
    assert lines[0].endswith("param.seed,param.scene_index,param.warped_size,scenes,epe")
    assert lines[1:] == [
        "x0,01.ipynb,,ok,1.5,,0,0,,30,",
        "y0,06.ipynb,,ok,1.5,,0,,512,,1.25",
        "y1,06.ipynb,,ok,1.5,,1,,512,,0.75",
    ]


QUICK_BODY = """\
if quick:  # CI sizes
    seed, (scale, other) = 7, (0.5, 1)
from kit.batch import write_results
write_results(output_dir, {"value": seed * scale})
"""


def test_quick_overrides_are_read_from_the_notebook(tmp_path):
    nb = make_notebook(tmp_path / "q.ipynb", "%matplotlib inline\n" + QUICK_BODY)
    assert batch.quick_overrides(nb) == {"seed", "scale", "other"}
    assert batch.quick_overrides(make_notebook(tmp_path / "p.ipynb", PASSING)) == set()


def test_explicit_parameters_beside_quick_are_refused(tmp_path):
    make_notebook(tmp_path / "q.ipynb", QUICK_BODY, quick=True)
    plan = write_plan(
        tmp_path, notebooks=["q.ipynb"], parameters={"quick": True},
        sets=[{"label": "small"}, {"label": "big", "scale": 10.0}],
    )  # fmt: skip
    with pytest.raises(KitError, match="plan.yaml") as info:
        batch.load_plan(plan)
    assert "quick: true makes q.ipynb replace scale (set 'big')" in str(info.value)
    assert "\n" not in str(info.value)
    assert main(["batch", str(plan)]) == 2


def test_quick_without_replaced_parameters_or_quick_off_is_fine(tmp_path):
    make_notebook(tmp_path / "q.ipynb", QUICK_BODY, quick=True)
    quick_grid = write_plan(tmp_path, notebooks=["q.ipynb"], parameters={"quick": True})
    assert len(batch.expand_plan(batch.load_plan(quick_grid), tmp_path)) == 1
    off = write_plan(tmp_path, notebooks=["q.ipynb"], grid={"quick": [False], "scale": [1.0, 2.0]})
    assert len(batch.expand_plan(batch.load_plan(off), tmp_path)) == 2


@pytest.mark.parametrize(
    "plan", sorted((Path(__file__).parents[1] / "notebooks/plans").glob("*.yaml"))
)
def test_shipped_plans_load(plan):
    assert batch.expand_plan(batch.load_plan(plan), "/tmp/unused")
