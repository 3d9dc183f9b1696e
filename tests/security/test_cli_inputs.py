"""Hostile and careless input through the real `autoice` command line (`kit.cli.main`).

Each case must fail at once: exit status 2, one line on stderr naming the file or setting (and
the limit), no traceback, and no work started. The work each command would start is replaced by
a tripwire, so a check that comes too late fails here instead of allocating terabytes or running
for ever. Memory and disk are fixed (16 GiB, 100 GiB) so that the messages are the same on
every machine.
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

from kit.cli import main
from tests.cli_runs import fails
from tests.notebook_files import write_notebook
from tests.scoring.builders import make_dataset, submission_arrays, write_submission

GiB = 2**30


@pytest.fixture(autouse=True)
def fixed_machine(monkeypatch):
    """16 GiB of memory and 100 GiB of free disk, whatever this machine has."""
    try:
        resources = importlib.import_module("kit.resources")
    except ImportError:  # code from before the checks: the cases below must still fail
        return
    monkeypatch.setattr(resources, "memory_bytes", lambda: 16 * GiB)
    monkeypatch.setattr(resources, "free_disk_bytes", lambda folder: 100 * GiB)


def tripwire(monkeypatch, *targets: str) -> None:
    """Make each `package.module[.Class].function` raise: work started before the input check."""

    def started(*args, **kwargs):
        raise AssertionError("work started before the input was checked")

    for target in targets:
        monkeypatch.setattr(*_owner(target), started)


def _owner(target: str) -> tuple[object, str]:
    """(object holding the attribute, its name) for a dotted `target`."""
    parts = target.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            owner = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for part in parts[cut:-1]:
            owner = getattr(owner, part)
        return owner, parts[-1]
    raise ValueError(target)


def write_yaml(path: Path, content) -> Path:
    path.write_text(yaml.safe_dump(content))
    return path


# -------------------------------------------------------------------- autoice train


TRAIN_WORK = ("kit.experiment.train.start_process", "kit.experiment.train.split_scenes")


@pytest.mark.parametrize(
    "config, message",
    [
        ({"train": {"cpu_threads": -1}}, "train: cpu_threads must be in [0, 1024]"),
        ({"model": {"type": "unet", "levels": -2}}, "model.levels must be in [1, 8], got -2"),
        ({"model": {"type": "unet", "levels": 12}}, "model.levels must be in [1, 8], got 12"),
        ({"train": {"seed": -1}}, "train: seed must be in [0, 4294967295] (2**32 - 1), got -1"),
        ({"data": {"seed": -1}}, "data config: seed must be in [0, 4294967295]"),
        ({"train": {"optimizer": "sgd", "momentum": -5}}, "train: momentum must be in [0, 1)"),
    ],
)
def test_train_settings_out_of_range_are_named(tmp_path, capsys, monkeypatch, config, message):
    tripwire(monkeypatch, *TRAIN_WORK)
    path = write_yaml(tmp_path / "exp.yaml", config)
    assert fails(capsys, "train", path).startswith(f"autoice train: error: {path}: {message}")


def test_train_patches_that_cannot_fit_in_memory_are_refused(tmp_path, capsys, monkeypatch):
    """patch_size 100000 tried to allocate terabytes; now the largest that fits is named."""
    tripwire(monkeypatch, *TRAIN_WORK)
    path = write_yaml(tmp_path / "exp.yaml", {"data": {"patch_size": 100_000}})
    assert fails(capsys, "train", path) == (
        "autoice train: error: data.patch_size 100000: a batch of 16 patches needs at least "
        "17.9 TiB of memory; this machine has 16.0 GiB (largest patch_size for this "
        "batch_size: 2954)"
    )


def test_train_config_that_is_not_utf8_is_named(tmp_path, capsys, monkeypatch):
    tripwire(monkeypatch, *TRAIN_WORK)
    path = tmp_path / "latin1.yaml"
    path.write_bytes("# caf\xe9\ntrain: {epochs: 1}\n".encode("latin-1"))
    line = fails(capsys, "train", path)
    assert (
        line
        == f"autoice train: error: {path}: not UTF-8 text (byte 0xe9 at offset 5); save it as UTF-8"
    )


def test_train_config_yaml_error_is_one_line_with_its_place(tmp_path, capsys, monkeypatch):
    tripwire(monkeypatch, *TRAIN_WORK)
    path = tmp_path / "bad.yaml"
    path.write_text("data:\n  patch_size: [1, 2\ntrain: {}\n")
    line = fails(capsys, "train", path)
    assert line.startswith(f"autoice train: error: {path}: not valid YAML (line 3, column 6: ")


# -------------------------------------------------------------------- autoice synth


SYNTH_WORK = ("kit.data.synthetic.writer.plan_scenes",)


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--size", "40000", "40000", "--train", "1", "--test", "0"],
            "--size 40000 40000: one scene needs at least 149.0 GiB of memory; this machine "
            "has 16.0 GiB (largest square scene: 13107 px)",
        ),
        (
            ["--train", "100000000", "--test", "6"],
            "--train 100000000 --test 6: a set of 100000006 scenes of 1000 x 1000 px needs at "
            "least 727.6 TiB of disk; {out} has 100.0 GiB free (room for 13421 scenes of this "
            "size)",
        ),
        (
            ["--train", "-5", "--test", "6"],
            "--train -5 --test 6: need at least one scene, and no negative count",
        ),
        (["--seed", "-1"], "--seed -1: must be in [0, 4294967295] (2**32 - 1), got -1"),
    ],
)
def test_synth_sizes_and_counts_are_checked_first(tmp_path, capsys, monkeypatch, args, message):
    tripwire(monkeypatch, *SYNTH_WORK)
    out = tmp_path / "set"
    line = fails(capsys, "synth", "--out", out, "--workers", "1", *args)
    assert line == f"autoice synth: error: {message.format(out=out)}"
    assert not out.exists()


# -------------------------------------------------------------------- autoice drift, drift-eval


EVAL_WORK = ("kit.drift.synthetic.synthetic_texture", "kit.drift.io.read_s1_geotiff")


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--size", "0"],
            "--size 0: must be at least 67 px, one pattern-matching window "
            "(--template 35 + 2 x --search 16)",
        ),
        (["--pairs", "0"], "--pairs 0: must be at least 1"),
        (
            ["--size", "30000"],
            "--size 30000: a synthetic pair needs at least 83.8 GiB of memory; this machine "
            "has 16.0 GiB (largest --size: 13107)",
        ),
    ],
)
def test_drift_eval_sizes_are_checked_first(capsys, monkeypatch, args, message):
    tripwire(monkeypatch, *EVAL_WORK)
    assert fails(capsys, "drift-eval", "--methods", "pm", *args) == (
        f"autoice drift-eval: error: {message}"
    )


def test_drift_search_window_must_fit_in_memory(tmp_path, capsys, monkeypatch):
    tripwire(monkeypatch, *EVAL_WORK)
    args = ["drift", tmp_path / "a.tif", tmp_path / "b.tif", "--out", tmp_path / "d.nc"]
    assert fails(capsys, *args, "--method", "pm", "--search", "2000") == (
        "autoice drift: error: search=2000: matching 128 points in 4035 x 4035 px windows "
        "needs at least 77.6 GiB of memory; this machine has 16.0 GiB (largest search: 898 px "
        "with template=35)"
    )


def test_drift_eval_json_is_strict_and_written_atomically(tmp_path, capsys):
    """A method without vectors has NaN statistics: they are null, never the invalid `NaN`."""
    out = tmp_path / "eval.json"
    assert main(["drift-eval", "--methods", "ft", "--size", "80", "--json", str(out)]) == 0
    capsys.readouterr()

    def no_constants(name):
        raise AssertionError(f"{name} is not JSON")

    rows = json.loads(out.read_text(), parse_constant=no_constants)
    assert rows[0]["valid_median"] is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["eval.json"]


# -------------------------------------------------------------------- autoice predict


PREDICT_WORK = ("kit.experiment.predict.Predictor.from_checkpoints",)


def test_predict_out_that_is_a_folder_fails_before_predicting(tmp_path, capsys, monkeypatch):
    tripwire(monkeypatch, *PREDICT_WORK)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "existing").mkdir()
    args = ["predict", "--checkpoint", "best.pt", "--data", "data", "--out", "existing"]
    assert fails(capsys, *args) == (
        "autoice predict: error: --out existing: is a folder; give a file name"
    )
    missing = fails(capsys, *args[:-1], tmp_path / "nowhere" / "upload_package.nc")
    assert missing.endswith(f"folder {tmp_path / 'nowhere'} does not exist")
    assert sorted(os.listdir(tmp_path)) == ["existing"]  # no .part file left behind


def test_predict_tile_size_is_named(tmp_path, capsys, monkeypatch):
    tripwire(monkeypatch, *PREDICT_WORK)
    args = ["predict", "--checkpoint", "best.pt", "--data", "data", "--out", tmp_path / "s.nc"]
    assert fails(capsys, *args, "--tile-size", "0") == (
        "autoice predict: error: --tile-size 0: must be at least 1 px"
    )


# -------------------------------------------------------------------- autoice batch


def _plan(tmp_path: Path, name: str) -> Path:
    write_notebook(tmp_path / "nb.ipynb", "output_dir = '.'")
    return write_yaml(tmp_path / "plan.yaml", {"name": name, "notebooks": ["nb.ipynb"]})


@pytest.mark.parametrize("name", ["../../escaped", "/tmp/escaped"])
def test_batch_plan_name_cannot_leave_the_output_folder(tmp_path, capsys, monkeypatch, name):
    tripwire(monkeypatch, "kit.batch.cli.run_batch")
    plan = _plan(tmp_path, name)
    assert fails(capsys, "batch", plan) == (
        f"autoice batch: error: {plan}: name {name!r} must be a plain folder name (no '/', "
        "'..' or absolute path); it names the output folder outputs/batch/<name>"
    )


def test_batch_plan_that_is_not_utf8_is_named(tmp_path, capsys, monkeypatch):
    tripwire(monkeypatch, "kit.batch.cli.run_batch")
    plan = tmp_path / "plan.yaml"
    plan.write_bytes("name: caf\xe9\nnotebooks: [nb.ipynb]\n".encode("latin-1"))
    assert fails(capsys, "batch", plan) == (
        f"autoice batch: error: {plan}: not UTF-8 text (byte 0xe9 at offset 9); save it as UTF-8"
    )


# -------------------------------------------------------------------- autoice manifest


def test_manifest_that_is_not_utf8_is_named(tmp_path, capsys):
    manifest = tmp_path / "manifest.csv"
    manifest.write_bytes("scene_id,split\ncaf\xe9,train\n".encode("latin-1"))
    assert fails(capsys, "manifest", "check", tmp_path, "--manifest", manifest) == (
        f"autoice manifest: error: {manifest}: not UTF-8 text (byte 0xe9 at offset 18); "
        "save it as UTF-8"
    )


# -------------------------------------------------------------------- autoice score (scoring/)


@pytest.fixture
def scored(tmp_path):
    """A reference folder with one test scene and a valid submission for it."""
    _, preds = make_dataset(tmp_path / "data", "torchgeo", n_scenes=1, shape=(6, 5))
    return tmp_path, write_submission(tmp_path / "sub.nc", submission_arrays(preds))


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("split.yaml", b"public: [a, b\nprivate: c\n", "not valid YAML (line 2, column 8"),
        ("split.yaml", b"public: abc\nprivate: []\n", "public must be a list of scene ids"),
        ("split.csv", "scene_id,split\ncaf\xe9,public\n".encode("latin-1"), "not UTF-8 text"),
    ],
)
def test_score_split_file_errors_name_the_file(scored, capsys, name, content, message):
    tmp, sub = scored
    split = tmp / name
    split.write_bytes(content)
    line = fails(capsys, "score", sub, "--reference", tmp / "data", "--split-file", split)
    assert str(split) in line and message in line


def test_score_names_the_real_type_of_a_float16_variable(scored, capsys):
    """netCDF-C reads an HDF5 float16 variable as a string type: name float16, not str."""
    tmp, sub = scored
    with h5py.File(sub, "a") as f:
        name = sorted(k for k in f if k.endswith("_SIC"))[0]
        values = f[name][...]
        del f[name]
        f.create_dataset(name, data=values.astype(np.float16))
    line = fails(capsys, "score", sub, "--reference", tmp / "data")
    assert f"{name} has type float16" in line and "<class 'str'>" not in line
