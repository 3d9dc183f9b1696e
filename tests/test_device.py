"""Device settings: auto picks CUDA when present, bad names and absent GPUs are named errors.

CUDA's presence is set by monkeypatching `torch.cuda`, so the same assertions hold on a machine
with or without a GPU (constructing a `torch.device("cuda", n)` needs no GPU).
"""

import pytest
import torch

from kit.device import DEVICE_CHOICES, amp_dtype, resolve_device
from kit.errors import KitError


@pytest.fixture
def gpus(monkeypatch):
    """Pretend this machine has `n` CUDA devices (0: none)."""

    def set_count(n: int) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: n > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: n)

    return set_count


@pytest.mark.parametrize("name", ["auto", None])
@pytest.mark.parametrize("count, expected", [(0, "cpu"), (2, "cuda")])
def test_auto_and_none_pick_cuda_when_present(gpus, name, count, expected):
    gpus(count)
    assert resolve_device(name) == torch.device(expected)


def test_cpu_is_always_the_cpu(gpus):
    for count in (0, 1):
        gpus(count)
        assert resolve_device("cpu") == torch.device("cpu")


def test_cuda_and_an_index_on_a_machine_with_gpus(gpus):
    gpus(2)
    assert resolve_device("cuda") == torch.device("cuda")
    assert resolve_device("cuda:1") == torch.device("cuda", 1)


@pytest.mark.parametrize("name", ["cuda", "cuda:0"])
def test_absent_cuda_is_a_kit_error_naming_the_setting(gpus, name):
    gpus(0)
    with pytest.raises(KitError) as info:
        resolve_device(name, setting="train.device")
    assert str(info.value) == f"train.device {name}: no CUDA device is available"


def test_a_gpu_index_beyond_the_machine_is_named(gpus):
    gpus(2)
    with pytest.raises(KitError) as info:
        resolve_device("cuda:2", setting="--device")
    assert str(info.value) == "--device cuda:2: only 2 CUDA device(s) are available"


@pytest.mark.parametrize("name", ["tpu", "gpu", "CPU", "", " cpu", "cpu:0", "cuda:x", "cuda:-1", 3])
def test_bad_names_list_the_allowed_ones(gpus, name):
    gpus(1)
    with pytest.raises(KitError) as info:
        resolve_device(name, setting="--device")
    assert str(info.value) == f"--device {name!r}: allowed auto, cpu, cuda, cuda:N"


def test_default_setting_name_and_choices():
    assert DEVICE_CHOICES == ("auto", "cpu", "cuda")
    with pytest.raises(KitError, match=r"^device 'mps': allowed"):
        resolve_device("mps")


@pytest.mark.parametrize("device", [torch.device("cpu"), torch.device("cuda", 5)])
def test_a_torch_device_passes_through_unchecked(gpus, device):
    gpus(0)  # not even checked against the machine: the caller chose it
    assert resolve_device(device) is device


@pytest.mark.parametrize("name", ["cuda:", "cuda:01"])
def test_malformed_gpu_index_is_a_kit_error_with_cuda_present(gpus, name):
    gpus(2)
    with pytest.raises(KitError, match="allowed auto, cpu, cuda, cuda:N"):
        resolve_device(name, setting="--device")


# ------------------------------------------------------------------ mixed precision (amp_dtype)


@pytest.mark.parametrize("capability, expected", [((9, 0), torch.bfloat16),
                                                  ((8, 0), torch.bfloat16),
                                                  ((7, 5), torch.float16)])  # fmt: skip
def test_amp_is_bfloat16_where_native_else_float16(monkeypatch, capability, expected):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    assert amp_dtype(torch.device("cuda", 0)) == expected


def test_no_amp_on_the_cpu():
    assert amp_dtype(torch.device("cpu")) is None
