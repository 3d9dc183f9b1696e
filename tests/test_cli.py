"""The `autoice` command line: subcommands work, bad input is one line and exit status 2."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from kit.cli import COMMANDS, build_parser, main

ROOT = Path(__file__).resolve().parents[1]


def _choices(parser):
    return set(parser._subparsers._group_actions[0].choices)


def test_command_table_matches_what_the_modules_register():
    """kit.cli.COMMANDS names exactly the commands registered, each by its own module."""
    assert _choices(build_parser()) == set(COMMANDS)
    for command, module in COMMANDS.items():
        assert command in _choices(build_parser(command)), (command, module)


def test_scoring_commands_do_not_import_torch():
    code = (
        "import sys; from kit.cli import build_parser; build_parser('score'); "
        "build_parser('leaderboard'); print('torch' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.strip() == "False", out.stderr


def test_synth_writes_the_torchgeo_layout(tmp_path, capsys):
    out = tmp_path / "set"
    code = main(["synth", "--out", str(out), "--train", "1", "--test", "1", "--size", "60", "80",
                 "--seed", "4", "--workers", "1"])  # fmt: skip
    assert code == 0
    meta = pd.read_csv(out / "metadata.csv")
    assert sorted(meta.split) == ["test", "train"]
    assert "wrote 2 scenes" in capsys.readouterr().out


def test_inspect_prints_a_summary(tiny_dataset, capsys):
    scene = sorted((tiny_dataset / "train").glob("*_prep.nc"))[0]
    assert main(["inspect", str(scene)]) == 0
    text = capsys.readouterr().out
    assert "nersc_sar_primary" in text and "SOD" in text and "pixel_spacing: 80" in text
    assert len(text.splitlines()) < 40  # one screen


def test_manifest_check(tiny_dataset, capsys):
    assert main(["manifest", "check", str(tiny_dataset)]) == 0
    text = capsys.readouterr().out
    assert "missing" in text and "unexpected     3" in text


def test_demo_runs_the_main_job_end_to_end(tiny_dataset, tmp_path, capsys, monkeypatch):
    """`autoice demo`: data -> training -> submission -> score -> leaderboard, all files written."""
    import kit.demo

    monkeypatch.setattr(kit.demo, "demo_dataset", lambda quick: tiny_dataset)
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--epochs", "1", "--out", str(out), "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"combined", printed, re.IGNORECASE) and "kit-demo" in printed
    for name in (
        "upload_package.nc",
        "leaderboard.sqlite",
        "leaderboard.html",
        "leaderboard_scores.png",
    ):
        assert (out / name).stat().st_size > 0, name
    assert not list(out.glob(".*.part")), "temporary files left behind"


@pytest.mark.parametrize(
    "args, message",
    [
        (["inspect", "{tmp}/20180124T194759_dmi_prep.nc"], "not a netCDF file"),
        (["inspect", "{tmp}/absent_prep.nc"], "no such file"),
        (["synth", "--out", "{tmp}/o", "--train", "0", "--test", "0"], "need at least one scene"),
        (["manifest", "check", "{tmp}/nowhere"], "no such data folder"),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path, args, message):
    (tmp_path / "20180124T194759_dmi_prep.nc").write_text("not netcdf")
    argv = [a.format(tmp=tmp_path) for a in args]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("AUTOICE_DEBUG", None)
    result = subprocess.run(
        [sys.executable, "-m", "kit.cli", *argv], capture_output=True, text=True, env=env
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in result.stderr
