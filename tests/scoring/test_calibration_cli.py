"""`autoice score --uncertainty FILE [--probabilities FILE]`: the Calibration block, the JSON
report, --ci/--by for calibration, the pictures, and bad files as one line with exit 2."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kit.charts import CHARTS, confidence_variable
from kit.cli import main
from scoring import score_submission
from scoring.statistics import Bootstrap
from tests.scoring.uncertainty_builders import (
    calibration_case,
    uncertainty_variables,
    write_uint8_file,
)


@pytest.fixture
def case(tmp_path):
    return calibration_case(tmp_path, n_scenes=3, shape=(16, 12))


def args_of(case, *more):
    return ["score", str(case["sub"]), "--reference", str(case["root"]), "--workers", "1",
            "--uncertainty", str(case["unc"]), *more]  # fmt: skip


def test_table_json_intervals_breakdowns_and_picture(case, tmp_path, capsys):
    out, png = tmp_path / "report.json", tmp_path / "report.png"
    code = main(args_of(case, "--probabilities", str(case["probs"]), "--ci", "--resamples", "60",
                        "--by", "service", "--json", str(out), "--png", str(png)))  # fmt: skip
    assert code == 0
    table = capsys.readouterr().out
    assert "Calibration (uncertainty file" in table and "Brier" in table
    assert "SIC 90 % interval: coverage" in table
    assert "95 % bootstrap intervals over scenes (60 resamples, seed 0):" in table
    assert "Calibration by service" in table
    calibration = json.loads(out.read_text())["calibration"]
    direct = score_submission(
        case["sub"], case["root"], workers=1, uncertainty=case["unc"],
        probabilities=case["probs"], ci=Bootstrap(resamples=60), by=["service"],
    ).statistics["calibration"]  # fmt: skip
    assert calibration == json.loads(json.dumps(direct))
    assert calibration["files"] == {"uncertainty": str(case["unc"]),
                                    "probabilities": str(case["probs"])}  # fmt: skip
    for chart in CHARTS:
        figures = calibration["charts"][chart]
        assert len(figures["reliability"]) == 10 and figures["probabilities"]["nll"] > 0
        assert set(figures["selective"]) == {"50", "80", "90"}
        ece = calibration["intervals"]["charts"][chart]["ece"]
        assert ece["low"] <= ece["high"]
    assert set(calibration["breakdowns"]["service"]) == {"cis", "dmi"}
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_png_with_only_an_uncertainty_file(case, tmp_path, capsys):
    png = tmp_path / "calibration.png"
    assert main(args_of(case, "--png", str(png))) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert "bootstrap intervals" not in capsys.readouterr().out


def test_split_covers_only_its_scenes(case, capsys):
    assert main(args_of(case, "--split", "public", "--json", "-")) == 0
    report = json.loads(capsys.readouterr().out)
    pixels = report["calibration"]["charts"]["SOD"]["n_pixels"]
    assert pixels == report["details"]["SOD"]["n_pixels"]


def test_bad_uncertainty_file_is_one_line_exit_2_nothing_written(case, tmp_path, capsys):
    scene = sorted(case["maps"])[0]
    variables = uncertainty_variables(case["maps"])
    name = confidence_variable(scene, "SOD")
    variables[name] = np.full_like(variables[name], 120)
    bad = write_uint8_file(tmp_path / "bad.nc", variables)
    out = tmp_path / "report.json"
    args = ["score", str(case["sub"]), "--reference", str(case["root"]), "--workers", "1",
            "--uncertainty", str(bad), "--json", str(out)]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f"uncertainty file {bad} is invalid: {name}: " in err
    assert "values outside 0-100 (120)" in err
    assert not out.exists()


def test_probabilities_need_uncertainty(case, capsys):
    args = ["score", str(case["sub"]), "--reference", str(case["root"]),
            "--probabilities", str(case["probs"])]  # fmt: skip
    assert main(args) == 2
    assert "--probabilities needs --uncertainty FILE" in capsys.readouterr().err
