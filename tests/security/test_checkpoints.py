"""Checkpoints and SuperLIM weights load without running code; old and incomplete files.

A crafted file is refused before its payload runs (the marker file stays absent) with one error
line naming the file; a checkpoint written by the kit before this change still predicts and
resumes; a checkpoint without some keys, or with weights that do not fit, is one line naming them.
"""

import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from kit.cli import main
from kit.drift.superlim import DEFAULT_WEIGHTS, load_superlim
from kit.errors import KitError
from kit.experiment.checkpoint import FORMAT, load_checkpoint
from tests.security.payloads import PAYLOADS, ExecPayload, SystemPayload, one_error_line
from tests.tiny_runs import tiny_config

#: `last.pt` of a 1-epoch tiny run written by the kit at commit c8d068c, before this change
#: (multi-task U-Net, filters [4, 4], variables `tests.tiny_runs.TINY_VARIABLES`).
OLD_CHECKPOINT = Path(__file__).with_name("data") / "checkpoint_v1.pt"
ROOT = Path(__file__).resolve().parents[2]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _torch_save(obj, path):
    torch.save(obj, path)


def _pickle_dump(obj, path):  # a plain pickle, read by torch's legacy (non-zip) path
    with open(path, "wb") as fh:
        pickle.dump(obj, fh, protocol=2)


def _pickle_protocol_4(obj, path):  # torch warns of this protocol; the CLI must not show it
    with open(path, "wb") as fh:
        pickle.dump(obj, fh, protocol=4)


def _crafted(tmp_path, content, payload=ExecPayload, write=_torch_save):
    """(file whose unpickling would create `marker`, marker); `content` places the payload."""
    marker, path = tmp_path / "marker", tmp_path / "evil.pt"
    write(content(payload(marker)), path)
    return path, marker


def _checkpoint_payload(payload):
    return {"format": FORMAT, "config": payload, "channels": [], "model": {}}


def _superlim_payload(payload):
    return {"config": payload, "state_dict": {}}


@pytest.mark.parametrize("write", [_torch_save, _pickle_dump])
@pytest.mark.parametrize("payload", PAYLOADS)
def test_loaders_refuse_a_payload_without_running_it(tmp_path, payload, write):
    for load, content in (
        (load_checkpoint, _checkpoint_payload),
        (load_superlim, _superlim_payload),
    ):
        path, marker = _crafted(tmp_path, content, payload, write)
        with pytest.raises(
            KitError, match=r"evil\.pt: refused to load ((builtins\.)?exec|posix\.system):"
        ):
            load(path)
        assert not marker.exists()


def test_predict_refuses_a_crafted_checkpoint(tmp_path, capsys):
    path, marker = _crafted(tmp_path, _checkpoint_payload)
    args = ["predict", "--checkpoint", str(path), "--data", str(tmp_path), "--out",
            str(tmp_path / "sub.nc")]  # fmt: skip
    assert main(args) == 2
    assert "refused to load builtins.exec" in one_error_line(
        capsys.readouterr().err, "predict", path
    )
    assert not marker.exists() and not (tmp_path / "sub.nc").exists()


def test_the_autoice_command_prints_one_line_for_a_crafted_pickle(tmp_path):
    """Through the installed entry point: no traceback and no torch warning, payload unrun."""
    path, marker = _crafted(tmp_path, _checkpoint_payload, SystemPayload, _pickle_protocol_4)
    args = ["predict", "--checkpoint", str(path), "--data", str(tmp_path), "--out", "x.nc"]
    code = "import sys; from kit.cli import main; sys.exit(main(sys.argv[1:]))"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert out.returncode == 2
    assert "evil.pt: not a readable checkpoint" in one_error_line(out.stderr, "predict", path)
    assert not marker.exists()


def _resume_config(tmp_path, stored: dict | None = None, **train) -> Path:
    """A config YAML whose run folder is `tmp_path/run` (default: the tiny config)."""
    config = (
        stored or tiny_config(tmp_path / "data", tmp_path / "run", tmp_path / "cache").to_dict()
    )
    config["train"].update(out_dir=str(tmp_path / "run"), **train)
    config["data"]["cache_dir"] = str(tmp_path / "cache")
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_train_resume_refuses_a_crafted_checkpoint(tiny_dataset, tmp_path, capsys):
    (tmp_path / "run").mkdir()
    last, marker = _crafted(tmp_path / "run", _checkpoint_payload)
    last = last.rename(tmp_path / "run" / "last.pt")
    config = _resume_config(tmp_path, data_dir=str(tiny_dataset))  # the dataset passes its check
    assert main(["train", str(config), "--resume"]) == 2
    assert "refused to load builtins.exec" in one_error_line(capsys.readouterr().err, "train", last)
    assert not marker.exists()


def test_drift_eval_refuses_crafted_weights(tmp_path, capsys):
    path, marker = _crafted(tmp_path, _superlim_payload)
    args = ["drift-eval", "--methods", "superlim", "--size", "128", "--weights", str(path)]
    assert main(args) == 2
    line = one_error_line(capsys.readouterr().err, "drift-eval", path)
    assert "refused to load builtins.exec" in line
    assert not marker.exists()


# ------------------------------------------------------------------ checkpoints of earlier kits


def test_checkpoint_of_the_previous_kit_predicts(tiny_dataset, tmp_path, capsys):
    out = tmp_path / "sub.nc"
    args = ["predict", "--checkpoint", str(OLD_CHECKPOINT), "--data", str(tiny_dataset),
            "--out", str(out), "--device", "cpu", "--cache-dir", str(tmp_path / "cache")]  # fmt: skip
    assert main(args) == 0, capsys.readouterr().err
    assert out.is_file()


def test_checkpoint_of_the_previous_kit_resumes(tiny_dataset, tmp_path, capsys):
    state = load_checkpoint(OLD_CHECKPOINT)
    (tmp_path / "run").mkdir()
    shutil.copy(OLD_CHECKPOINT, tmp_path / "run" / "last.pt")
    config = _resume_config(
        tmp_path, state["config"], data_dir=str(tiny_dataset), epochs=state["epoch"] + 2
    )
    assert main(["train", str(config), "--resume", "--device", "cpu"]) == 0
    assert "trained 1 epoch(s)" in capsys.readouterr().out
    assert load_checkpoint(tmp_path / "run" / "last.pt")["epoch"] == state["epoch"] + 1


# ------------------------------------------------------------------ incomplete checkpoints


def _old_state_without(tmp_path, *keys, name="last.pt"):
    state = load_checkpoint(OLD_CHECKPOINT)
    for key in keys:
        del state[key]
    path = tmp_path / "run" / name
    path.parent.mkdir(exist_ok=True)
    torch.save(state, path)
    return state, path


def test_resume_without_optimiser_state_names_the_missing_keys(tiny_dataset, tmp_path, capsys):
    state, last = _old_state_without(tmp_path, "optimizer", "scheduler")
    config = _resume_config(tmp_path, state["config"], data_dir=str(tiny_dataset))
    assert main(["train", str(config), "--resume"]) == 2
    line = one_error_line(capsys.readouterr().err, "train", last)
    assert line.endswith("checkpoint lacks optimizer, scheduler")


def test_resume_with_optimiser_state_that_does_not_fit_is_one_line(tiny_dataset, tmp_path, capsys):
    state, last = _old_state_without(tmp_path)
    state["optimizer"]["param_groups"].append(dict(state["optimizer"]["param_groups"][0]))
    torch.save(state, last)
    config = _resume_config(tmp_path, state["config"], data_dir=str(tiny_dataset))
    assert main(["train", str(config), "--resume"]) == 2
    assert "training state does not fit this run" in one_error_line(
        capsys.readouterr().err, "train", last
    )


def test_predict_without_weights_names_the_missing_key(tmp_path, capsys):
    _, path = _old_state_without(tmp_path, "model", "channels", name="partial.pt")
    args = ["predict", "--checkpoint", str(path), "--data", str(tmp_path), "--out",
            str(tmp_path / "sub.nc")]  # fmt: skip
    assert main(args) == 2
    line = one_error_line(capsys.readouterr().err, "predict", path)
    assert line.endswith("checkpoint lacks channels, model")


def test_weights_that_do_not_fit_are_one_line_naming_the_first_keys(tmp_path, capsys):
    state, path = _old_state_without(tmp_path, name="changed.pt")
    weights = state["model"]
    extra = [k for k in weights if k.endswith(".weight")]
    weights[extra[0]] = torch.zeros(1, 2, 3)
    for key in extra[1:5]:
        weights[f"renamed.{key}"] = weights.pop(key)
    torch.save(state, path)
    args = ["predict", "--checkpoint", str(path), "--data", str(tmp_path), "--out",
            str(tmp_path / "sub.nc")]  # fmt: skip
    assert main(args) == 2
    line = one_error_line(capsys.readouterr().err, "predict", path)
    assert "weights do not fit the stored model config (missing" in line
    assert f"{extra[1]}, {extra[2]}, {extra[3]} (+1 more)" in line
    assert f"unexpected renamed.{extra[1]}" in line
    assert f"shape file vs model {extra[0]} [1, 2, 3] vs [" in line


def test_superlim_weights_missing_keys_are_one_line(tmp_path):
    payload = torch.load(DEFAULT_WEIGHTS, weights_only=True)
    first = next(iter(payload["state_dict"]))
    del payload["state_dict"][first]
    torch.save(payload, tmp_path / "partial.pt")
    with pytest.raises(KitError) as caught:
        load_superlim(tmp_path / "partial.pt", device="cpu")
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{tmp_path / 'partial.pt'}: weights do")
    assert f"missing {first}" in message
    del payload["state_dict"]
    torch.save(payload, tmp_path / "partial.pt")
    with pytest.raises(KitError, match="partial.pt: SuperLIM checkpoint lacks state_dict$"):
        load_superlim(tmp_path / "partial.pt", device="cpu")
