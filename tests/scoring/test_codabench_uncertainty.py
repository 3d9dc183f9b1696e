"""The Codabench scoring program with an uploaded uncertainty file (issue 24): calibration keys
in scores.json equal to `score_submission`'s, the competition's calibration columns, and the
per-submission results page (no script, inline PNG, escaped names, public scenes only)."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile

import pytest
import yaml

from kit.charts import CHARTS
from scoring import score_submission
from scoring.codabench import DETAILS_FILE_NAME, main, score_codabench
from scoring.codabench.bundle import build_bundle
from scoring.codabench.details import detailed_page
from scoring.leaderboard import CALIBRATION_KEYS
from scoring.splits import resolve_split, scenes_of
from scoring.statistics import Bootstrap
from tests.scoring.bad_uncertainty import bad_uncertainty_file
from tests.scoring.uncertainty_builders import calibration_case

SETTINGS = Bootstrap(resamples=100, seed=0)
HOSTILE = '<img src=x onerror="alert(1)">&.nc'


@pytest.fixture
def upload(tmp_path, monkeypatch):
    """A bundle for four scenes unpacked as Codabench does, an upload of the submission and
    its uncertainty file, and fewer resamples for the page's intervals."""
    monkeypatch.setattr("scoring.codabench.program.DETAILS_BOOTSTRAP", SETTINGS)
    case = calibration_case(tmp_path, n_scenes=4, shape=(10, 8), probabilities=False)
    bundle = build_bundle(case["root"], tmp_path / "bundle.zip")
    with zipfile.ZipFile(bundle) as z:
        z.extractall(tmp_path / "unzipped")
    case["bundle"] = tmp_path / "unzipped"
    case["input"], case["output"] = tmp_path / "input", tmp_path / "output"
    shutil.copytree(tmp_path / "unzipped" / "reference_data", case["input"] / "ref")
    (case["input"] / "res").mkdir()
    shutil.copy(case["sub"], case["input"] / "res" / "upload_package.nc")
    shutil.copy(case["unc"], case["input"] / "res" / "uncertainty.nc")
    case["split"] = resolve_split(sorted(case["refs"]), case["input"] / "ref" / "split.csv")
    return case


def expected(case, split):
    return score_submission(
        case["sub"], case["root"], split=split, split_file=case["input"] / "ref" / "split.csv",
        uncertainty=case["unc"], workers=1,
    )  # fmt: skip


def test_scores_json_has_the_calibration_of_each_split(upload):
    scores = score_codabench(upload["input"], upload["output"])
    for split, prefix in (("public", ""), ("private", "private_")):
        report = expected(upload, split)
        calibration = report.statistics["calibration"]
        assert scores[f"{prefix}combined"] == report.combined_rounded
        for chart in CHARTS:
            assert scores[f"{prefix}ECE_{chart}"] == pytest.approx(calibration["charts"][chart]["ece"])  # fmt: skip
        assert scores[f"{prefix}SIC_coverage"] == pytest.approx(calibration["sic_interval"]["coverage"])  # fmt: skip
        assert scores[f"{prefix}SIC_width"] == pytest.approx(calibration["sic_interval"]["mean_width"])  # fmt: skip
    assert json.loads((upload["output"] / "scores.json").read_text()) == scores


def test_results_page_is_self_contained_and_public_only(upload):
    score_codabench(upload["input"], upload["output"])
    page = (upload["output"] / DETAILS_FILE_NAME).read_text()
    assert "<script" not in page.lower()
    assert not re.search(r"(src|href)=\"(?!data:)", page)  # nothing fetched from outside
    images = re.findall(r'<img [^>]*src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 1 and base64.b64decode(images[0]).startswith(b"\x89PNG")
    public = expected(upload, "public")
    calibration = public.statistics["calibration"]
    assert f"<td>{public.combined_rounded:.3f}</td>" in page
    assert f"<td>{calibration['charts']['SOD']['ece']:.4f}</td>" in page
    assert "95 % percentile bootstrap over the scenes (100 resamples, seed 0)" in page
    low = expected_interval(upload)["combined"]["low"]
    assert f"[{low:.3f}, " in page  # the combined score's interval on public scenes
    assert "<td>cis</td>" in page or "<td>dmi</td>" in page  # by ice service
    for scene in scenes_of(upload["split"], "public"):  # each public scene scored alone
        assert f"<td>{scene}</td><td>{public.per_scene[scene]['SIC']:.3f}</td>" in page
    report = (upload["output"] / "report.json").read_text()
    assert scenes_of(upload["split"], "private")
    for scene in scenes_of(upload["split"], "private"):
        assert scene not in page and scene not in report
    assert str(upload["input"]) not in page and str(upload["input"]) not in report


def expected_interval(case):
    report = score_submission(
        case["sub"], case["root"], split="public", split_file=case["input"] / "ref" / "split.csv",
        ci=SETTINGS, workers=1,
    )  # fmt: skip
    return report.intervals


def test_names_from_the_upload_are_escaped(upload):
    res = upload["input"] / "res"
    (res / "upload_package.nc").rename(res / HOSTILE)
    score_codabench(upload["input"], upload["output"])
    page = (upload["output"] / DETAILS_FILE_NAME).read_text()
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;.nc" in page
    assert "<img src=x" not in page and page.count("<img ") == 1


def test_without_an_uncertainty_file_the_page_has_scores_and_no_calibration_keys(upload):
    (upload["input"] / "res" / "uncertainty.nc").unlink()
    scores = score_codabench(upload["input"], upload["output"])
    # left out, not null: Codabench fills only the columns whose keys scores.json has
    assert list(scores) == ["SIC", "SOD", "FLOE", "combined", "private_SIC", "private_SOD",
                            "private_FLOE", "private_combined"]  # fmt: skip
    assert scores["combined"] == expected(upload, "public").combined_rounded
    page = (upload["output"] / DETAILS_FILE_NAME).read_text()
    assert "<img" not in page and "no uncertainty file" in page and "Calibration" not in page
    assert "<h2>Scores by ice service</h2>" in page


def test_bad_uncertainty_file_fails_the_submission_in_one_line(upload, capsys):
    bad = bad_uncertainty_file(upload, "low_above_high", upload["input"] / "res" / "uncertainty.nc")
    assert main([str(upload["input"]), str(upload["output"])]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"uncertainty file {bad} is invalid" in err
    assert not (upload["output"] / "scores.json").exists()
    assert not (upload["output"] / DETAILS_FILE_NAME).exists()


def test_two_uncertainty_files_are_refused(upload, capsys):
    (upload["input"] / "res" / "more").mkdir()
    shutil.copy(upload["unc"], upload["input"] / "res" / "more" / "uncertainty.nc")
    assert main([str(upload["input"]), str(upload["output"])]) == 2
    assert "2 files named uncertainty.nc" in capsys.readouterr().err


def test_page_without_matplotlib_keeps_the_numbers(upload, monkeypatch):
    report = expected(upload, "public")
    monkeypatch.setitem(sys.modules, "scoring.calibration.plots", None)  # import fails
    page = detailed_page(report, submission_name="upload_package.nc", uncertainty_name="u.nc")
    assert "<img" not in page and "matplotlib is not installed" in page
    assert "<th>SIC accuracy</th>" in page and "0.9-1.0" in page


def test_competition_has_calibration_columns_after_the_scores(upload):
    config = yaml.safe_load((upload["bundle"] / "competition.yaml").read_text())
    columns = config["leaderboards"][0]["columns"]
    keys = [c["key"] for c in columns]
    assert keys[:8] == ["SIC", "SOD", "FLOE", "combined", *(f"private_{k}" for k in ("SIC", "SOD", "FLOE", "combined"))]  # fmt: skip
    assert keys[8:] == [*CALIBRATION_KEYS, *(f"private_{k}" for k in CALIBRATION_KEYS)]
    assert [c["index"] for c in columns] == list(range(len(columns)))
    assert all(c.get("hidden") for c in columns if c["key"].startswith("private_"))
    evaluation = (upload["bundle"] / "pages" / "evaluation.md").read_text()
    assert "`uncertainty.nc`" in evaluation


def test_bundled_program_scores_an_uncertainty_file_like_on_codabench(upload):
    """Only the bundle's code (no PYTHONPATH), with the page's default 2000 resamples."""
    root = upload["input"].parent / "app"
    shutil.copytree(upload["bundle"] / "scoring_program", root / "program")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    command = [sys.executable, str(root / "program" / "score.py"), str(upload["input"]),
               str(root / "output")]  # fmt: skip
    result = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    scores = json.loads((root / "output" / "scores.json").read_text())
    calibration = expected(upload, "public").statistics["calibration"]
    assert scores["ECE_SIC"] == pytest.approx(calibration["charts"]["SIC"]["ece"])
    page = (root / "output" / DETAILS_FILE_NAME).read_text()
    assert "2000 resamples, seed 0" in page and 'src="data:image/png;base64,' in page
