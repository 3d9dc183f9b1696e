"""Memory of the process after each scene `predict_dataset` writes: the probe the tests of
flat memory share (Linux with glibc only: `HAS_MEMORY_PROBE`)."""

from __future__ import annotations

import ctypes
import ctypes.util
import os

from kit.data.synthetic import SynthConfig, write_dataset
from kit.experiment.submission import predict_dataset
from scoring.files.writer import SubmissionWriter

#: Whether this machine can measure resident anonymous memory (/proc and glibc's malloc_trim).
HAS_MEMORY_PROBE = os.path.exists("/proc/self/status") and ctypes.util.find_library("c") is not None
NO_PROBE_REASON = "needs /proc/self/status and glibc (Linux)"


def resident_anonymous_bytes() -> int:
    """This process's resident anonymous memory, after glibc has returned what it can."""
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    for line in open("/proc/self/status").read().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no RssAnon in /proc/self/status")


def memory_after_each_scene(monkeypatch, predictor, folder, size: int, n_scenes: int, **options):
    """Write `n_scenes` synthetic test scenes of `size` x `size` under `folder`/data, predict
    them into `folder`/s.nc (`predict_dataset` keywords in `options`) and return the resident
    anonymous memory after each scene entered the submission."""
    config = SynthConfig(n_train=0, n_test=n_scenes, size=(size, size), seed=5)
    write_dataset(folder / "data", config, workers=1, progress=False)
    after_scene = []
    write = SubmissionWriter.add_scene_charts

    def add_scene_charts(self, *args):
        write(self, *args)
        after_scene.append(resident_anonymous_bytes())

    monkeypatch.setattr(SubmissionWriter, "add_scene_charts", add_scene_charts)
    predict_dataset(predictor, folder / "data", folder / "s.nc", progress=False, **options)
    assert len(after_scene) == n_scenes
    return after_scene
