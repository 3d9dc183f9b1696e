"""`autoice score` and `autoice leaderboard ...`: outputs, exit codes and one-line messages."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kit.charts import submission_variable as var
from kit.cli import main
from scoring import score_submission
from tests.scoring.builders import (
    make_dataset,
    random_charts,
    submission_arrays,
    write_rounding_case,
    write_scene,
    write_submission,
)


@pytest.fixture
def files(tmp_path):
    refs, preds = make_dataset(tmp_path / "data", "torchgeo", n_scenes=2, shape=(6, 5))
    sub = write_submission(tmp_path / "upload_package.nc", submission_arrays(preds))
    return tmp_path, sub, preds


def test_score_prints_table_and_writes_json(files, capsys):
    tmp, sub, _ = files
    out = tmp / "report.json"
    assert main(["score", str(sub), "--reference", str(tmp / "data"), "--json", str(out)]) == 0
    table = capsys.readouterr().out
    expected = score_submission(sub, tmp / "data")
    assert f"{expected.combined_rounded:.3f}" in table and "SOD" in table
    report = json.loads(out.read_text())
    assert report["combined"] == expected.combined
    assert set(report["per_scene"]) == set(expected.per_scene)
    assert len(report["details"]["FLOE"]["confusion"]) == 7
    assert [p.name for p in tmp.iterdir() if p.name.startswith(".report")] == []


def test_score_and_submit_print_the_challenges_figures(tmp_path, capsys):
    """`rounding_order_case`: the challenge's combined 87.428, not 87.429."""
    reference, sub = write_rounding_case(tmp_path)
    assert main(["score", str(sub), "--reference", str(reference), "--json", "-"]) == 0
    captured = capsys.readouterr()
    assert "87.428" in captured.err and "87.429" not in captured.err
    assert json.loads(captured.out)["combined_rounded"] == 87.428
    db = ["--db", str(tmp_path / "lb.sqlite")]
    assert main(["leaderboard", "submit", str(sub), "--team", "t", "--reference", str(reference), *db]) == 0  # fmt: skip
    assert "SOD 68.571, FLOE 100.000, combined 87.428" in capsys.readouterr().out
    assert main(["leaderboard", "show", *db]) == 0
    assert "| 87.428 |" in capsys.readouterr().out


def test_out_of_class_values_warn_or_exit_2_with_strict(tmp_path, capsys):
    """The starter kit's untrained U-Net wrote FLOE 7 (its class count includes the mask) on
    24 pixels: the challenge scored them as wrong predictions; --strict rejects the file."""
    scene = "20180607T184326_dmi"
    rng = np.random.default_rng(7)
    ref = random_charts(rng, (6, 5), mask_share=0.0)
    pred = {chart: values.copy() for chart, values in ref.items()}
    pred["FLOE"].ravel()[:24] = 7
    (tmp_path / "data").mkdir()
    write_scene(tmp_path / "data" / f"{scene}_prep.nc", ref)
    sub = write_submission(tmp_path / "upload_package.nc", submission_arrays({scene: pred}))
    args = ["score", str(sub), "--reference", str(tmp_path / "data")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert (
        "warning: 20180607T184326_dmi_FLOE: 24 pixels with values outside FLOE's classes 0-6 (7) "
        "scored as wrong\n"
    ) in out
    assert main([*args, "--strict"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("autoice score: error:") and "\n" not in err and "Traceback" not in err
    assert err.endswith(
        "20180607T184326_dmi_FLOE has 24 pixels with values outside the FLOE classes 0-6 (or 255): 7"
    )


def test_score_json_to_stdout(files, capsys):
    tmp, sub, _ = files
    args = ["score", str(sub), "--reference", str(tmp / "data"), "--json", "-", "--split", "public"]
    assert main(args) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["split"] == "public" and "public split" in captured.err


def test_score_workers_option(files, capsys):
    tmp, sub, _ = files
    ref = ["--reference", str(tmp / "data"), "--json", "-"]
    reports = []
    for n in ("1", "2"):
        assert main(["score", str(sub), *ref, "--workers", n]) == 0
        reports.append(json.loads(capsys.readouterr().out))
    assert reports[0] == reports[1]
    with pytest.raises(SystemExit) as exit_info:
        main(["score", str(sub), *ref, "--workers", "0"])
    assert exit_info.value.code == 2 and "must be at least 1" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("make_bad", "message"),
    [
        (lambda tmp, preds: tmp / "absent.nc", "no such file"),
        (lambda tmp, preds: _text_file(tmp / "bad.nc"), "not a readable netCDF/HDF5 file"),
        (lambda tmp, preds: _without(tmp, preds, "SIC"), "missing 2 variables"),
        (lambda tmp, preds: _with_values(tmp, preds, 4.5), "non-integer"),
    ],
)
def test_score_bad_input_exits_2_with_one_line(files, capsys, make_bad, message):
    tmp, _, preds = files
    bad = make_bad(tmp, preds)
    assert main(["score", str(bad), "--reference", str(tmp / "data")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("autoice score: error:") and message in err
    assert "\n" not in err and "Traceback" not in err


def _text_file(path):
    path.write_text("hello")
    return path


def _without(tmp, preds, chart):
    arrays = {k: v for k, v in submission_arrays(preds).items() if not k.endswith(chart)}
    return write_submission(tmp / "missing.nc", arrays)


def _with_values(tmp, preds, value):
    arrays = submission_arrays(preds)
    name = var(sorted(preds)[0], "SOD")
    arrays[name] = np.full(arrays[name].shape, value)
    return write_submission(tmp / "values.nc", arrays)


def test_bad_reference_and_split_file_exit_2(files, capsys):
    tmp, sub, _ = files
    assert main(["score", str(sub), "--reference", str(tmp / "nothing")]) == 2
    split = tmp / "split.txt"
    split.write_text("x")
    args = ["score", str(sub), "--reference", str(tmp / "data"), "--split-file", str(split)]
    assert main(args) == 2
    assert "expected a .csv or .yaml file" in capsys.readouterr().err


def test_leaderboard_submit_show_export(files, capsys):
    tmp, sub, preds = files
    db = str(tmp / "lb.sqlite")
    common = ["--reference", str(tmp / "data"), "--db", db]
    assert main(["leaderboard", "submit", str(sub), "--team", "Polar Bears", *common]) == 0
    assert "scored" in capsys.readouterr().out
    assert main(["leaderboard", "submit", str(sub), "--team", "Polar Bears", *common]) == 0
    assert "duplicate of submission 1" in capsys.readouterr().out
    bad = _with_values(tmp, preds, 99)
    assert main(["leaderboard", "submit", str(bad), "--team", "Seals", *common, "--strict"]) == 2
    assert "has 30 pixels with values outside the SOD classes 0-5 (or 255): 99" in capsys.readouterr().err  # fmt: skip
    assert main(["leaderboard", "show", "--db", db]) == 0
    shown = capsys.readouterr().out
    assert "Polar Bears" in shown and "Seals" not in shown
    for fmt in ("md", "csv", "html", "json"):
        out = tmp / f"board.{fmt}"
        args = ["leaderboard", "export", "--db", db, "--format", fmt, "--out", str(out)]
        assert main(args) == 0
        assert "Polar Bears" in out.read_text()
    assert (
        main(["leaderboard", "export", "--db", db, "--format", "json", "--split", "private"]) == 0
    )
    assert json.loads(capsys.readouterr().out)["standings"][0]["team"] == "Polar Bears"


def test_leaderboard_errors_exit_2(files, capsys):
    tmp, sub, preds = files
    db = ["--db", str(tmp / "lb.sqlite")]
    ref = ["--reference", str(tmp / "data")]
    assert main(["leaderboard", "show", "--db", str(tmp / "none.sqlite")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["leaderboard", "submit", str(sub), "--team", " x", *ref, *db]) == 2
    assert "team name" in capsys.readouterr().err
    limit = ["--daily-limit", "1"]
    assert main(["leaderboard", "submit", str(sub), "--team", "t", *ref, *db, *limit]) == 0
    other = write_submission(tmp / "other.nc", submission_arrays(preds), chunk_rows=2)
    assert main(["leaderboard", "submit", str(other), "--team", "t", *ref, *db, *limit]) == 2
    assert "daily limit of 1" in capsys.readouterr().err
