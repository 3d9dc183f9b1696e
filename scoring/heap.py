"""Keeping large freed buffers in the heap of scoring worker processes (glibc only).

Scoring a scene allocates a few buffers of one chart's size (6 MB at 2500 x 2500) per variable:
inflated chunks, interleaved copies. glibc serves allocations above 128 KB-32 MB with fresh
`mmap`s and unmaps them when freed, so every variable pays for the kernel to find and zero its
pages again, about a quarter of inflating it. Raising the mmap and trim thresholds makes freed
buffers stay in the heap and be reused. This is done only in processes that are ours and
short-lived (scoring workers, the `autoice score` command), never in a library caller's.
"""

from __future__ import annotations

import ctypes
import ctypes.util

#: glibc `mallopt` parameters (malloc.h).
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
#: Allocations below this come from the heap (glibc caps it at 32 MB on 64-bit systems).
MMAP_THRESHOLD = 32 << 20
#: Free memory kept at the top of the heap before it is returned to the system.
TRIM_THRESHOLD = 512 << 20


def keep_freed_buffers() -> bool:
    """Raise glibc's mmap/trim thresholds in this process; False where that is not possible."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):  # not glibc (macOS, musl, Windows)
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
