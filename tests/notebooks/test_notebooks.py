"""The tutorial notebooks: committed clean (no outputs, one `parameters` cell with the standard
parameters) and each one runs top to bottom in quick mode, writing its results.json, with
clean output (`output_checks`) and nothing written beside the notebooks."""

from pathlib import Path

import nbformat
import papermill
import pytest

from kit import batch
from tests.notebooks.output_checks import notebook_problems

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
EXPECTED = [
    "01_explore_data.ipynb",
    "02_baseline_unet.ipynb",
    "03_multitask_mmseaice.ipynb",
    "04_make_submission.ipynb",
    "05_score_and_leaderboard.ipynb",
    "06_sea_ice_drift.ipynb",
    "07_where_the_model_doubts.ipynb",
]
STANDARD_PARAMETERS = {"data_dir", "output_dir", "device", "seed", "quick"}


def check_drift_results(results: dict) -> None:
    """Notebook 06's shear zone and trajectories (quick mode: a 256 px crop, 16 px grids).

    Measured (real crop, 2026-11-30): ft+pm far from the break valid 0.86 / 0.80 (left /
    right), none of them > 3 px off, median 0.07 / 0.06 px; ft valid 0.49 / 0.47; next to the
    break ft+pm keeps 0.84 / 0.83, ft 0.26 / 0.33. Trajectories: 82 % of 196 kept over 3 steps,
    end-point error median 0.12 px, P90 0.22 px; divergence and shear within 0.0044 of the
    truth (median |true divergence| 0.018 per step). Without the shared images (a synthetic
    texture): the same valid fractions far from the break, 0.71 / 0.77 next to it for ft+pm,
    trajectory end-point error median 0.17 px, P90 0.32 px, deformation within 0.0058."""
    breaks = results["breaks"]
    for side in ("left", "right"):
        ftpm, ft = breaks["ft+pm"][side], breaks["ft"][side]
        assert ftpm["valid"] >= 0.6 and ftpm["wrong"] <= 0.02 and ftpm["median"] < 0.5, ftpm
        assert ft["wrong"] <= 0.05 and ft["median"] < 1.0, ft
        assert ftpm["valid_near"] >= 0.5 and ftpm["valid_near"] > ft["valid_near"], breaks
    traj = results["trajectories"]
    assert traj["n"] >= 100 and traj["kept"] >= 0.6, traj
    assert traj["median_epe"] < 0.5 and traj["p90_epe"] < 1.0, traj
    assert traj["divergence_miss"] < 0.5 * traj["median_abs_divergence"], traj
    assert traj["shear_miss"] < 0.5 * traj["median_abs_divergence"], traj


def check_ablation_results(results: dict) -> None:
    """Notebook 03: every experiment, the starter baseline included, has a paired interval of
    its change against the reference (over test scenes and seeds) and the verdict it implies."""
    experiments = results["experiments"]
    assert {"reference", "baseline", "no-amsr2", "sic-ce"} <= set(experiments), experiments
    assert results["test_scenes"] >= 2 and len(results["seeds"]) == 2, results
    for key, row in experiments.items():
        if key == "reference":
            assert "verdicts" not in row
            continue
        low, high = row["delta_combined_low"], row["delta_combined_high"]
        assert low <= high, (key, row)
        expected = "better" if low > 0 else "worse" if high < 0 else "not resolved"
        assert row["verdicts"]["combined"] == expected, (key, row)


def check_calibration_results(results: dict) -> None:
    """Notebook 07: calibration is fitted on validation scenes only, leaves the class maps (and
    so the scores) unchanged, and each verdict follows from the two ECE intervals."""
    assert results["class_maps_identical"] is True, results
    fitted = results["calibration"]
    assert fitted["scenes"] and not set(fitted["scenes"]) & set(results["test_scenes"]), fitted
    assert all(t > 0 for t in fitted["temperatures"].values()) and fitted["sic_std_scale"] > 0
    assert results["scores"]["calibrated"] == results["scores"]["uncalibrated"], results
    for run in ("calibrated", "uncalibrated"):
        assert 0 <= results["sic_coverage"][run] <= 1, results
        assert all(e is None or 0 <= e <= 1 for e in results["ece"][run].values()), results
    for chart, verdict in results["verdicts"].items():
        before, after = (
            results["ece_intervals"][run][chart] for run in ("uncalibrated", "calibrated")
        )
        if before["low"] is None or after["low"] is None:
            continue
        if after["high"] < before["low"]:
            assert verdict.startswith("calibration lowered"), (chart, verdict)
        elif after["low"] > before["high"]:
            assert verdict.startswith("calibration RAISED"), (chart, verdict)
        else:
            assert verdict.endswith("not resolved"), (chart, verdict)


#: Checks of a notebook's results.json beyond "it ran".
RESULT_CHECKS = {
    "03_multitask_mmseaice": check_ablation_results,
    "07_where_the_model_doubts": check_calibration_results,
    "06_sea_ice_drift": check_drift_results,
}


def test_the_six_tutorial_notebooks_are_there():
    assert [nb.name for nb in NOTEBOOKS] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_clean(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    dirty = [i for i, c in enumerate(nb.cells) if c.get("outputs") or c.get("execution_count")]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs; clear them before committing"
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: {len(tagged)} cells tagged 'parameters', want 1"
    declared = set(papermill.inspect_notebook(str(path)))
    missing = STANDARD_PARAMETERS - declared
    assert not missing, f"{path.name}: parameters cell lacks {sorted(missing)}"
    assert nb.cells[0].cell_type == "markdown", f"{path.name}: start with a title cell"
    assert "write_results(" in code[-1].source, f"{path.name}: end by writing results.json"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_resolves_output_dir_against_the_repository(path):
    """A relative `output_dir` lies under the repository root (`kit.paths.output_path`) from
    Jupyter (working folder notebooks/), papermill and the docs build (docs/tutorials/) alike."""
    cells = nbformat.read(path, as_version=4).cells
    source = "\n".join(c.source for c in cells if c.cell_type == "code")
    assert "output_dir = output_path(output_dir)" in source, path.name


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_in_quick_mode(path, tmp_path):
    spec = batch.RunSpec(
        run_id=path.stem,
        notebook=path,
        label=None,
        parameters={"quick": True, "device": "cpu", "output_dir": str(tmp_path / path.stem)},
    )
    before = sorted(NOTEBOOK_DIR.rglob("*"))
    outcome = batch.execute_run(spec, kernel="python3", cell_timeout=600)  # cwd: notebooks/
    log = (tmp_path / path.stem / batch.LOG_FILE).read_text()
    assert outcome.status == "ok", f"{path.name}: {outcome.error}\n--- log tail ---\n{log[-3000:]}"
    assert outcome.results, f"{path.name}: results.json is empty"
    executed = nbformat.read(tmp_path / path.stem / batch.NOTEBOOK_FILE, as_version=4)
    assert notebook_problems(executed) == [], f"{path.name}: output not clean"
    assert sorted(NOTEBOOK_DIR.rglob("*")) == before, f"{path.name}: wrote beside the notebooks"
    if path.stem in RESULT_CHECKS:
        RESULT_CHECKS[path.stem](outcome.results)


@pytest.mark.parametrize("plan", sorted((NOTEBOOK_DIR / "plans").glob("*.yaml")), ids=str)
def test_example_plans_are_valid(plan, tmp_path):
    runs = batch.expand_plan(batch.load_plan(plan), tmp_path)
    assert runs and all(r.parameters["output_dir"].startswith(str(tmp_path)) for r in runs)
