"""The `autoice` command line: subcommands work, bad input is one line and exit status 2."""

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from kit.atomic import is_temporary
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
    assert not [p for p in out.iterdir() if is_temporary(p.name)], "temporary files left behind"


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


def _command_parsers(parser, prefix="autoice"):
    """Every (name, parser) below `parser`, nested subcommands included."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield f"{prefix} {name}", sub
                yield from _command_parsers(sub, f"{prefix} {name}")


def test_every_command_and_option_is_described_with_its_default_and_choices():
    parser = build_parser()
    commands = dict(_command_parsers(parser))
    assert {"autoice demo", "autoice leaderboard export", "autoice manifest check"} <= set(commands)
    problems = []
    for name, sub in [("autoice", parser), *commands.items()]:
        if not sub.description:
            problems.append(f"{name}: no description")
        formatter = sub._get_formatter()
        for action in sub._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            flag = f"{name} {action.option_strings[0] if action.option_strings else action.dest}"
            text = formatter._get_help_string(action) if action.help else ""
            if not text:
                problems.append(f"{flag}: no help")
            default = action.default
            shows = default is None or isinstance(default, bool) or default == argparse.SUPPRESS
            if not shows and "default" not in text:
                problems.append(f"{flag}: default {default!r} not shown")
            if text.count("default") > 1 or "(default " in text:
                problems.append(f"{flag}: default stated twice or not as '(default: X)'")
            if (
                action.choices
                and action.metavar
                and not all(str(c) in text for c in action.choices)
            ):
                problems.append(f"{flag}: choices hidden by metavar {action.metavar}")
    assert not problems, "\n".join(problems)


def test_help_shows_defaults_once_and_choices():
    predict = build_parser("predict")._subparsers._group_actions[0].choices["predict"]
    text = " ".join(predict.format_help().split())
    assert "{auto,cpu,cuda}" in text and "(default: auto)" in text
    demo = build_parser("demo")._subparsers._group_actions[0].choices["demo"]
    assert "{auto,cpu,cuda}" in demo.format_help()
    with pytest.raises(SystemExit):
        demo.parse_args(["--device", "gpu"])  # choices, not free text
    for command in COMMANDS:
        sub = build_parser(command)._subparsers._group_actions[0].choices[command]
        assert "(default: None)" not in sub.format_help(), command


def test_help_texts_name_the_defaults_the_code_applies():
    """Where an option's default is applied in the code (None on the command line), its help
    names the value the code uses."""
    from scoring.codabench.bundle import DEFAULT_DOCKER_IMAGE
    from scoring.leaderboard import DEFAULT_DAILY_LIMIT

    board = build_parser("leaderboard")._subparsers._group_actions[0].choices["leaderboard"]
    bundle = " ".join(board._subparsers._group_actions[0].choices["bundle"].format_help().split())
    assert f"(default: {DEFAULT_DOCKER_IMAGE})" in bundle
    assert f"(default: {DEFAULT_DAILY_LIMIT})" in bundle


def test_version_comes_from_the_package_metadata(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"autoice {version('autoice-kit')}"
