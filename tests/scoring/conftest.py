"""Fixtures shared by the scoring tests."""

from __future__ import annotations

import numpy as np
import pytest

from kit.charts import CHARTS
from tests.scoring.builders import (
    make_dataset,
    noisy_prediction,
    submission_arrays,
    write_submission,
)


@pytest.fixture
def two_submissions(tmp_path):
    """Three scenes under tmp_path/data, a good submission a.nc and a worse b.nc, and per
    submission scene -> chart -> (prediction, reference)."""
    refs, preds = make_dataset(tmp_path / "data", "torchgeo", n_scenes=3, shape=(10, 8), seed=3)
    a = write_submission(tmp_path / "a.nc", submission_arrays(preds))
    rng = np.random.default_rng(21)
    worse = {s: noisy_prediction(rng, charts, flip=0.6) for s, charts in refs.items()}
    b = write_submission(tmp_path / "b.nc", submission_arrays(worse))
    scenes = {
        s: {c: (preds[s][c], refs[s][c]) for c in CHARTS} for s in refs
    }  # fmt: skip
    scenes_b = {s: {c: (worse[s][c], refs[s][c]) for c in CHARTS} for s in refs}
    return tmp_path, a, b, scenes, scenes_b
