"""The Codabench bundle and scoring-program entry, run as the platform would on a tiny bundle."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import zipfile

import pytest
import yaml

from kit.cli import main
from scoring import score_submission
from scoring.codabench import score_codabench
from scoring.splits import default_split
from tests.scoring.builders import (
    make_dataset,
    submission_arrays,
    write_rounding_case,
    write_submission,
)


@pytest.fixture
def bundle(tmp_path):
    refs, preds = make_dataset(tmp_path / "data", "torchgeo", n_scenes=3, shape=(6, 5))
    sub = write_submission(tmp_path / "upload_package.nc", submission_arrays(preds))
    out = tmp_path / "bundle.zip"
    args = ["leaderboard", "bundle", "--reference", str(tmp_path / "data"), "--out", str(out)]
    assert main(args) == 0
    return tmp_path, out, sub, refs


def test_bundle_contents(bundle):
    _, out, _, refs = bundle
    with zipfile.ZipFile(out) as z:
        names = set(z.namelist())
        config = yaml.safe_load(z.read("competition.yaml"))
        split_csv = z.read("reference_data/split.csv").decode()
    assert {"scoring_program/score.py", "scoring_program/metadata.yaml",
            "scoring_program/scoring/metrics/challenge.py", "scoring_program/kit/charts.py",
            "reference_data/reference_charts.nc", "pages/terms.md"} <= names  # fmt: skip
    assert config["version"] == 2
    assert config["tasks"][0]["scoring_program"] == "scoring_program"
    keys = [c["key"] for c in config["leaderboards"][0]["columns"]]
    assert keys[:4] == ["SIC", "SOD", "FLOE", "combined"] and "private_combined" in keys
    split = default_split(sorted(refs))
    assert split_csv.splitlines()[1:] == [f"{s},{split[s]}" for s in sorted(split)]


def test_bundle_ships_every_kit_module_the_scoring_program_imports(bundle):
    """The run below cannot tell: an editable install of the kit fills in a missing module.
    Every kit and scoring module (or package) that a shipped file imports is shipped too."""
    _, out, _, _ = bundle
    with zipfile.ZipFile(out) as z:
        shipped = {n for n in z.namelist() if n.startswith("scoring_program/")}
        trees = [ast.parse(z.read(n)) for n in sorted(shipped) if n.endswith(".py")]

    def ours(name: str) -> bool:
        return name.startswith(("kit.", "scoring.")) or name == "scoring"

    def is_shipped(name: str) -> bool:
        path = "scoring_program/" + name.replace(".", "/")
        return f"{path}.py" in shipped or f"{path}/__init__.py" in shipped

    imported = set()
    for node in (node for tree in trees for node in ast.walk(tree)):
        if isinstance(node, ast.ImportFrom) and ours(node.module or ""):
            imported.add(node.module)
            # `from scoring.files import raw_chunks`: the module raw_chunks when there is one
            imported |= {f"{node.module}.{a.name}" for a in node.names
                         if is_shipped(f"{node.module}.{a.name}")}  # fmt: skip
        elif isinstance(node, ast.Import):
            imported |= {a.name for a in node.names if ours(a.name)}
    assert {"kit.charts", "kit.errors", "kit.atomic"} <= imported
    assert {
        "scoring.codabench.program",
        "scoring.metrics.challenge",
        "scoring.files.reference",
    } <= imported
    missing = {m for m in imported if not is_shipped(m)}
    assert not missing, f"imported by the scoring program but not shipped: {sorted(missing)}"


def test_scoring_program_runs_like_on_codabench(bundle):
    tmp, out, sub, _ = bundle
    root = tmp / "app"
    with zipfile.ZipFile(out) as z:
        z.extractall(tmp / "unzipped")
    shutil.copytree(tmp / "unzipped" / "scoring_program", root / "program")
    shutil.copytree(tmp / "unzipped" / "reference_data", root / "input" / "ref")
    (root / "input" / "res").mkdir()
    shutil.copy(sub, root / "input" / "res" / "upload_package.nc")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # only the bundle's code
    command = [sys.executable, str(root / "program" / "score.py"), str(root / "input"), str(root / "output")]  # fmt: skip
    result = subprocess.run(command, cwd=tmp, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    scores = json.loads((root / "output" / "scores.json").read_text())
    split_file = root / "input" / "ref" / "split.csv"
    public = score_submission(sub, tmp / "data", split="public", split_file=split_file)
    private = score_submission(sub, tmp / "data", split="private", split_file=split_file)
    assert scores["combined"] == public.combined_rounded  # the challenge's figures
    assert scores["private_SOD"] == private.charts_rounded["SOD"]
    assert scores["private_combined"] == private.combined_rounded
    assert "combined: " in (root / "output" / "scores.txt").read_text()
    report = json.loads((root / "output" / "report.json").read_text())
    assert set(report["per_scene"]) == set(public.scenes)  # no private scene detail


def test_codabench_scores_are_the_challenges_figures(tmp_path):
    """The combined score from the rounded chart scores (`rounding_order_case`): 87.428."""
    reference, sub = write_rounding_case(tmp_path)
    (tmp_path / "input" / "res").mkdir(parents=True)
    shutil.copytree(reference, tmp_path / "input" / "ref")
    shutil.copy(sub, tmp_path / "input" / "res" / "upload_package.nc")
    scores = score_codabench(tmp_path / "input", tmp_path / "output")
    assert scores == {"SIC": 100.0, "SOD": 68.571, "FLOE": 100.0, "combined": 87.428}
    assert "combined: 87.428\n" in (tmp_path / "output" / "scores.txt").read_text()
    report = json.loads((tmp_path / "output" / "report.json").read_text())
    assert report["combined_rounded"] == 87.428 and round(report["combined"], 3) == 87.429


def test_codabench_entry_rejects_bad_submission(bundle, capsys):
    tmp, out, _, _ = bundle
    from scoring.codabench import main as codabench_main

    with zipfile.ZipFile(out) as z:
        z.extractall(tmp / "unzipped")
    (tmp / "input" / "res").mkdir(parents=True)
    shutil.copytree(tmp / "unzipped" / "reference_data", tmp / "input" / "ref")
    (tmp / "input" / "res" / "upload_package.nc").write_text("nope")
    assert codabench_main([str(tmp / "input"), str(tmp / "output")]) == 2
    assert "not a readable netCDF" in capsys.readouterr().err
    assert not (tmp / "output" / "scores.json").exists()
