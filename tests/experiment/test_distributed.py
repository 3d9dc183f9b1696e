"""A process's place in a run: every collective step is a no-op in a run of one, and in a real
two-process gloo run buffers are averaged and stop flags OR-ed across processes."""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from kit.errors import KitError
from kit.experiment.distributed import (
    Process,
    any_process,
    average_buffers,
    barrier,
    end_process_group,
    is_main_process,
    start_process,
    wrap_model,
)

WORLD_SIZE = 2


def small_model(seed: int) -> nn.Module:
    """A convolution and a batch norm whose running statistics depend on `seed`."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3))
    model.train()
    model(torch.randn(4, 2, 8, 8) * (seed + 1) + seed)  # updates running mean/var and count
    return model


def test_a_run_of_one_is_the_main_process_on_its_own(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    proc = start_process("cpu")
    assert proc == Process(rank=0, world_size=1, device=torch.device("cpu"))
    assert proc.is_main and not proc.distributed
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert start_process("cpu") == proc
    assert not dist.is_initialized() and is_main_process()


def test_start_process_checks_the_device_first(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("WORLD_SIZE", "2")  # the device is refused before any group is joined
    with pytest.raises(KitError, match="no CUDA device is available"):
        start_process("cuda")
    assert not dist.is_initialized()


@pytest.mark.parametrize("proc", [Process(), Process(rank=0, world_size=1)])
def test_collective_steps_are_no_ops_in_a_run_of_one(proc):
    model = small_model(seed=1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    average_buffers(model, proc)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, before[key], rtol=0, atol=0)
    assert any_process(True, proc) is True and any_process(False, proc) is False
    assert wrap_model(model, proc) is model
    assert barrier(proc) is None
    end_process_group()  # nothing joined: nothing to leave
    assert not dist.is_initialized()


def test_rank_decides_the_main_process():
    assert Process(rank=0, world_size=4).is_main and Process(rank=0, world_size=4).distributed
    assert not Process(rank=3, world_size=4).is_main


# ------------------------------------------------------------------ two processes (gloo)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _gloo_worker(rank: int, port: int, folder: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(WORLD_SIZE), LOCAL_RANK=str(rank))  # fmt: skip
    torch.set_num_threads(1)
    proc = start_process("cpu")
    model = small_model(seed=rank)
    count_before = model[1].num_batches_tracked.clone()
    average_buffers(model, proc)
    wrapped = wrap_model(model, proc)
    result = {
        "rank": proc.rank,
        "world_size": proc.world_size,
        "is_main": proc.is_main,
        "is_main_process": is_main_process(),
        "ddp": isinstance(wrapped, nn.parallel.DistributedDataParallel),
        "any_one": any_process(proc.rank == 1, proc),  # true on one process only
        "any_none": any_process(False, proc),
        "any_all": any_process(True, proc),
        "buffers": {k: v.clone() for k, v in model.named_buffers()},
        "count_before": count_before,
    }
    barrier(proc)
    end_process_group()
    result["left"] = not dist.is_initialized()
    torch.save(result, os.path.join(folder, f"rank{rank}.pt"))


def test_two_gloo_processes_average_buffers_and_or_flags(tmp_path):
    mp.spawn(_gloo_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD_SIZE, join=True)
    results = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(WORLD_SIZE)]
    assert [r["rank"] for r in results] == [0, 1]
    assert all(r["world_size"] == WORLD_SIZE and r["ddp"] and r["left"] for r in results)
    assert (
        [r["is_main"] for r in results] == [r["is_main_process"] for r in results] == [True, False]
    )
    assert [r["any_one"] for r in results] == [True, True]
    assert [r["any_none"] for r in results] == [False, False]
    assert [r["any_all"] for r in results] == [True, True]
    # Floating buffers become the mean of the processes' own statistics, the same everywhere.
    own = [dict(small_model(seed=r).named_buffers()) for r in range(WORLD_SIZE)]
    for name in ("1.running_mean", "1.running_var"):
        assert not torch.equal(own[0][name], own[1][name])
        expected = (own[0][name] + own[1][name]) / WORLD_SIZE
        for result in results:
            torch.testing.assert_close(result["buffers"][name], expected)
    # Integer buffers (the batch count) are left alone.
    for result in results:
        torch.testing.assert_close(result["buffers"]["1.num_batches_tracked"],
                                   result["count_before"], rtol=0, atol=0)  # fmt: skip
