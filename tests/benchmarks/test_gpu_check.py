"""benchmarks/gpu_check.py on the CPU: its CPU smoke run prints one JSON document whose parts
all ran (training, inference, a one-process torchrun on gloo), a failing part is reported in the
JSON while the others run, and bad options are one line with exit status 2."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from kit.data.synthetic import SynthConfig, dataset_key, write_dataset
from kit.experiment.config import load_experiment

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "gpu_check.py"
#: Small sizes for a test; the script's defaults are real scale (5000 x 5000 scenes).
SMALL = ["--device", "cpu", "--steps", "2", "--warmup", "1", "--size", "400",
         "--train-scenes", "2", "--test-scenes", "1", "--patch-size", "32", "--batch-size", "2",
         "--ddp-steps", "1"]  # fmt: skip


def load_script():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    """The script's cache folder with its synthetic set already written (one process: the
    script would generate it the same way, with a process pool)."""
    root = tmp_path_factory.mktemp("gpu_check")
    synth = SynthConfig(n_train=2, n_test=1, size=(400, 400))
    write_dataset(root / "data" / dataset_key(synth), synth, workers=1, progress=False)
    return root


@pytest.mark.slow
def test_the_cpu_smoke_run_prints_every_part(cache, tmp_path):
    out = tmp_path / "report" / "gpu_check.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(SCRIPT), *SMALL, "--cache", str(cache),
                           "--out", str(out)],
                          capture_output=True, text=True, env=env, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert json.loads(out.read_text()) == report
    assert report["ok"] and report["recipe"] == "mmseaice"
    for part in ("environment", "data", "training", "inference", "torchrun"):
        assert report[part]["ok"], report[part]

    env_info, data = report["environment"], report["data"]
    assert env_info["device"] == "cpu" and env_info["amp_dtype"] is None
    assert data["scenes"] == {"train": 2, "test": 1} and not data["generated"]

    settings = report["settings"]  # the recipe's model and loss, this test's smaller patches
    recipe = load_experiment("mmseaice")
    assert settings["model"]["filters"] == list(recipe.model.filters)
    assert settings["data"]["downscale"] == recipe.data.downscale == 10
    assert settings["changes_to_recipe"]["data.patch_size"] == 32
    assert settings["changes_to_recipe"]["data.epoch_len"] == 3  # 1 warm-up + 2 measured

    training = report["training"]
    assert training["steps"] == 2 and training["batch_size"] == 2
    assert training["in_channels"] == 16 and training["parameters"] > 0
    assert not training["amp"] and training["amp_dtype"] is None and not training["loss_scaling"]
    workers = recipe.data.num_workers  # the recipe's, kept on the CPU
    assert training["loader"] == {"num_workers": workers, "pin_memory": False}
    assert training["peak_gpu_memory_bytes"] is None
    assert 0.0 < training["data_wait_share"] < 1.0
    assert training["samples_per_s"] > 0 and training["baseline_resident_batch_samples_per_s"] > 0
    assert math.isfinite(training["first_loss"]) and math.isfinite(training["last_loss"])

    inference = report["inference"]
    assert inference["scenes"] == 1 and inference["scene_shape"] == [400, 400]
    assert inference["working_grid"] == [40, 40] and inference["charts"] == ["FLOE", "SIC", "SOD"]
    assert len(inference["plain_s"]) == len(inference["tta8_s"]) == 1
    assert inference["plain_s_per_scene"] > 0 and inference["tta8_s_per_scene"] > 0

    torchrun = report["torchrun"]
    assert torchrun["ran"] and torchrun["backend"] == "gloo" and torchrun["world_size"] == 1
    assert torchrun["steps"] == 1 and torchrun["checkpoint_written"]
    # Same seed, same first batch: the distributed path's first loss is the in-process one.
    assert torchrun["loss"] == training["first_loss"]
    assert report["total_without_data_s"] <= report["total_s"]


CUDA_FAILURE = "RuntimeError: CUDA error: an illegal memory access was encountered"


def _broken(*args, **kwargs):
    raise RuntimeError("CUDA error: an illegal memory access was encountered")


def test_a_failing_part_is_reported_and_the_others_run(cache, monkeypatch, capsys):
    script = load_script()
    monkeypatch.setattr(script, "check_inference", _broken)
    monkeypatch.setattr(script, "check_torchrun", _broken)
    code = script.main([*SMALL, "--cache", str(cache)])
    report = json.loads(capsys.readouterr().out)
    assert code == 1 and not report["ok"]
    assert report["environment"]["ok"] and report["data"]["ok"]
    assert report["training"]["ok"] and report["training"]["steps"] == 2
    for part in ("inference", "torchrun"):
        assert not report[part]["ok"] and report[part]["error"] == CUDA_FAILURE
        assert "in _broken" in report[part]["where"]


def test_without_a_trained_model_inference_says_why_it_did_not_run(cache, monkeypatch, capsys):
    script = load_script()
    monkeypatch.setattr(script, "check_training", _broken)
    monkeypatch.setattr(script, "check_torchrun", _broken)
    assert script.main([*SMALL, "--cache", str(cache)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["training"]["error"] == CUDA_FAILURE
    assert report["inference"] == {
        "ok": False,
        "error": "not run: no trained model: the training part failed",
    }
    assert report["torchrun"]["error"] == CUDA_FAILURE  # tried all the same


@pytest.mark.parametrize(
    "options, message",
    [
        (["--steps", "0"], "gpu_check: error: --steps 0: must be >= 1"),
        (["--patch-size", "0"], "gpu_check: error: data config: patch_size must be >= 1, got 0"),
        (["--device", "cuda"], "gpu_check: error: --device cuda: no CUDA device is available"),
    ],
)
def test_bad_options_are_one_line_and_status_2(cache, options, message, monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert load_script().main([*SMALL, "--cache", str(cache), *options]) == 2
    captured = capsys.readouterr()
    assert message in captured.err.splitlines() and captured.out == ""


def test_torchrun_steps_default_to_the_training_steps_at_most_20():
    script = load_script()
    assert script.parse_args(["--steps", "2"]).ddp_steps == 2
    assert script.parse_args([]).ddp_steps == 20 and script.parse_args([]).steps == 200
    assert script.parse_args(["--steps", "2", "--ddp-steps", "5"]).ddp_steps == 5
