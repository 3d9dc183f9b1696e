"""Loader options per device: the CPU keeps the configured workers and reusable batch memory; a
GPU gets pinned batches and, when data.num_workers is 0, workers chosen from the cores. The GPU
options give the same batches as the CPU's (checked on the CPU: no GPU is needed to build them)."""

from __future__ import annotations

import warnings

import pytest
import torch

from kit.data.config import DataConfig
from kit.data.patches import GPU_WORKERS, PatchDataset, loader_options

CPU, CUDA = torch.device("cpu"), torch.device("cuda", 0)  # building a device needs no GPU


@pytest.mark.parametrize("workers", [0, 3])
def test_the_cpu_keeps_the_configured_workers_and_no_pinning(workers):
    options = loader_options(DataConfig(num_workers=workers), CPU, cpus=16)
    assert options == {"num_workers": workers, "pin_memory": False}


@pytest.mark.parametrize(
    "cpus, processes, expected",
    [(16, 1, GPU_WORKERS), (64, 1, GPU_WORKERS), (4, 1, 3), (2, 1, 1), (1, 1, 1), (16, 4, 3),
     (16, 8, 1)],
)  # fmt: skip
def test_a_gpu_gets_pinned_batches_and_workers_from_the_cores_left(cpus, processes, expected):
    options = loader_options(DataConfig(), CUDA, cpus=cpus, processes=processes)
    assert options == {"num_workers": expected, "pin_memory": True, "prefetch_factor": 2}


def test_a_set_number_of_workers_is_kept_on_a_gpu():
    options = loader_options(DataConfig(num_workers=2), CUDA, cpus=64)
    assert options["num_workers"] == 2 and options["pin_memory"]


def test_this_machines_cores_are_used_by_default():
    workers = loader_options(DataConfig(), CUDA)["num_workers"]
    assert 1 <= workers <= GPU_WORKERS


def test_gpu_options_give_the_cpu_options_batches(tmp_path, train_paths):
    """Pinned batches skip the reusable memory ring; the batches must not change."""
    config = DataConfig(
        variables=("nersc_sar_primary", "nersc_sar_secondary", "aux_time"),
        patch_size=40, batch_size=3, downscale=2, epoch_len=4, cache_dir=str(tmp_path / "cache"),
    )  # fmt: skip
    dataset = PatchDataset(config, train_paths)
    on_cpu = list(dataset.loader(**loader_options(config, CPU)))
    gpu_options = loader_options(config, CUDA, cpus=2)  # one worker, pinned memory asked for
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pinning without a GPU: torch warns and skips it
        on_gpu = list(dataset.loader(**gpu_options))
    assert len(on_cpu) == len(on_gpu) == 4
    for (x1, y1), (x2, y2) in zip(on_cpu, on_gpu, strict=True):
        assert torch.equal(x1, x2) and all(torch.equal(y1[c], y2[c]) for c in y1)
