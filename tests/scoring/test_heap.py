"""Keeping freed buffers in scoring workers' heap: works on glibc, declines elsewhere."""

from __future__ import annotations

import multiprocessing
import platform

import pytest

from scoring import heap


def _in_child(queue) -> None:
    queue.put(heap.keep_freed_buffers())


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt only")
def test_thresholds_are_raised_in_a_worker_process_on_glibc():
    context = multiprocessing.get_context("spawn")  # never change the test process's heap
    queue = context.Queue()
    child = context.Process(target=_in_child, args=(queue,))
    child.start()
    child.join(60)
    assert queue.get(timeout=5) is True


def test_declines_without_mallopt(monkeypatch):
    monkeypatch.setattr(heap.ctypes, "CDLL", lambda name: object())  # a libc without mallopt
    assert heap.keep_freed_buffers() is False
