"""The training path's GPU-ready parts, checked on the CPU: a one-process torchrun joins a process
group and trains the very weights of a plain run, a loss that is no longer finite stops the run,
and a checkpoint saved without loss scaling resumes where loss scaling is on (float16 GPUs)."""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.multiprocessing as mp

from kit.errors import KitError
from kit.experiment.checkpoint import load_checkpoint, restore_training
from kit.experiment.distributed import start_process
from kit.experiment.train import _build, train
from tests.tiny_runs import tiny_config, tiny_dataset

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tiny_dataset(tmp_path_factory.mktemp("tiny") / "data", n_train=3, n_test=0)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _torchrun_of_one(rank, port, config, folder):
    """What `torchrun --nproc_per_node 1` sets (TORCHELASTIC_RUN_ID marks torchrun)."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK="0", WORLD_SIZE="1",
                      LOCAL_RANK="0", LOCAL_WORLD_SIZE="1", TORCHELASTIC_RUN_ID="test")  # fmt: skip
    torch.set_num_threads(1)
    proc = start_process("cpu")
    result = train(config, device="cpu", progress=False)
    torch.save({"model": result.model.state_dict(), "backend": proc.backend,
                "distributed": proc.distributed, "world_size": proc.world_size},
               os.path.join(folder, "torchrun.pt"))  # fmt: skip
    torch.distributed.destroy_process_group()


def test_a_one_process_torchrun_joins_a_group_and_trains_the_same_weights(data_dir, tmp_path):
    config = tiny_config(data_dir, tmp_path / "one", tmp_path / "cache",
                         train={"epochs": 1, "val_fraction": 0.34})  # fmt: skip
    mp.spawn(_torchrun_of_one, args=(_free_port(), config, str(tmp_path)), nprocs=1, join=True)
    saved = torch.load(tmp_path / "torchrun.pt", weights_only=True)
    assert saved["backend"] == "gloo" and saved["distributed"] and saved["world_size"] == 1
    plain = train(config.replace("train", out_dir=str(tmp_path / "plain")), progress=False)
    weights = plain.model.state_dict()
    assert weights.keys() == saved["model"].keys()
    for name, value in weights.items():  # DistributedDataParallel of one changes nothing
        torch.testing.assert_close(saved["model"][name], value, rtol=0, atol=0)


def test_a_loss_that_is_no_longer_finite_stops_the_run(data_dir, tmp_path):
    config = tiny_config(data_dir, tmp_path / "run", tmp_path / "cache",
                         train={"epochs": 1, "val_fraction": 0.0, "optimizer": "sgd",
                                "lr": 1e30, "momentum": 0.0})  # fmt: skip
    with pytest.raises(
        KitError, match=r"epoch 1/1: batch \d: the loss is (nan|inf); lower train.lr"
    ):
        train(config, progress=False)
    assert not (tmp_path / "run" / "last.pt").exists()  # nothing saved of the broken epoch


def test_a_checkpoint_without_loss_scaling_resumes_with_it(data_dir, tmp_path):
    """A run begun on the CPU or with bfloat16 saves an empty scaler state; a float16 GPU
    (loss scaling on) resumes it with a fresh scale instead of refusing it."""
    config = tiny_config(data_dir, tmp_path / "run", tmp_path / "cache",
                         train={"epochs": 1, "val_fraction": 0.0})  # fmt: skip
    first = train(config, progress=False)
    state = load_checkpoint(first.last_checkpoint)
    assert state["scaler"] == {}
    run = _build(config, start_process("cpu"), progress=False)
    scaling = torch.amp.GradScaler("cpu", init_scale=1024.0, enabled=True)
    restore_training(state, first.last_checkpoint, run.model, run.optimizer, run.scheduler,
                     scaling)  # fmt: skip
    assert scaling.is_enabled() and scaling.get_scale() == 1024.0
    for name, value in run.model.state_dict().items():
        torch.testing.assert_close(value, first.model.state_dict()[name], rtol=0, atol=0)
    # A saved scale is still restored.
    state["scaler"] = torch.amp.GradScaler("cpu", init_scale=8.0).state_dict()
    restore_training(state, first.last_checkpoint, run.model, run.optimizer, run.scheduler,
                     scaling)  # fmt: skip
    assert scaling.get_scale() == 8.0
