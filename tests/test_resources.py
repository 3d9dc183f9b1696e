"""kit.resources: the machine's memory and disk, and one-line refusals naming the limit."""

import os

import pytest

from kit import resources
from kit.errors import KitError


def test_memory_is_at_most_the_physical_memory():
    physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert 0 < resources.memory_bytes() <= physical


def test_a_cgroup_limit_below_the_physical_memory_wins(tmp_path, monkeypatch):
    limit = tmp_path / "memory.max"
    limit.write_text("1048576\n")
    unlimited = tmp_path / "v1"
    unlimited.write_text("max\n")
    monkeypatch.setattr(resources, "CGROUP_LIMITS", (str(unlimited), str(limit)))
    assert resources.memory_bytes() == 2**20


@pytest.mark.parametrize(
    "n, text", [(512, "512 B"), (1536, "1.5 KiB"), (3 * 2**30, "3.0 GiB"), (2**50, "1024.0 TiB")]
)
def test_size_text(n, text):
    assert resources.size_text(n) == text


def test_refusals_name_the_job_and_the_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(resources, "memory_bytes", lambda: 2**30)
    resources.require_memory(2**30, "--size 10", "largest --size: 10")
    with pytest.raises(KitError, match=r"^--size 11 needs at least 1.0 GiB of memory; this "):
        resources.require_memory(2**30 + 1, "--size 11", "largest --size: 10")
    free = resources.free_disk_bytes(tmp_path / "not" / "yet")
    assert free > 0 and resources.free_disk_bytes(tmp_path) > 0
    with pytest.raises(KitError, match=r"needs at least .* of disk; .* free \(at most 3 scenes\)"):
        resources.require_disk(free + 2**40, tmp_path, "--train 9", "at most 3 scenes")
