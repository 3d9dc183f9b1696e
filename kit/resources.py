"""What this machine can hold, so a command refuses a job that cannot fit before starting it.

Callers estimate a lower bound of the bytes a job needs (measured bytes per pixel, below what
was measured) and compare it with the machine's physical memory (`os.sysconf`; the cgroup limit
instead when that is lower) or the free space of the output disk. Total memory is used, not the
memory free right now, so the verdict does not change from one run to the next: a refused job
could never have run here, while an accepted one may still run short if other work holds memory.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from kit.errors import KitError

#: cgroup v2 and v1 files holding a container's memory limit.
CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")


def memory_bytes() -> int:
    """Physical memory of the machine, or the container's cgroup limit when that is lower."""
    total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    for name in CGROUP_LIMITS:
        try:
            text = Path(name).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return total


def free_disk_bytes(folder: str | os.PathLike) -> int:
    """Free bytes on the disk of `folder` (or of its nearest existing parent)."""
    folder = Path(folder).absolute()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return shutil.disk_usage(folder).free


def size_text(n: float) -> str:
    """Bytes for people: `1.5 GiB`, `820 TiB`."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def require_memory(needed: float, what: str, largest: str) -> None:
    """KitError if `needed` bytes exceed this machine's memory. `what` names the setting and the
    job (`--size 40000 40000: one scene`), `largest` the largest value that fits."""
    have = memory_bytes()
    if needed > have:
        raise KitError(
            f"{what} needs at least {size_text(needed)} of memory; this machine has "
            f"{size_text(have)} ({largest})"
        )


def require_disk(needed: float, folder: str | os.PathLike, what: str, largest: str) -> None:
    """KitError if `needed` bytes exceed the free space of the disk holding `folder`."""
    free = free_disk_bytes(folder)
    if needed > free:
        raise KitError(
            f"{what} needs at least {size_text(needed)} of disk; {folder} has {size_text(free)} "
            f"free ({largest})"
        )
