"""Shared fixtures for the drift tests: small synthetic pairs and the shared real S1 images."""

from __future__ import annotations

import glob
import os

import numpy as np
import pytest
import torch

from kit.charts import shared_data_dir
from kit.drift.synthetic import DisplacementField, make_pair

torch.set_num_threads(1)


def s1_paths() -> list[str]:
    return sorted(glob.glob(os.path.join(shared_data_dir(), "s1_pairs", "*.tif")))


@pytest.fixture(scope="session")
def real_tiffs() -> list[str]:
    paths = s1_paths()
    if len(paths) < 4:
        pytest.skip(
            f"shared Sentinel-1 pairs not found in {shared_data_dir()}/s1_pairs (see ../shared/README.md)"
        )
    return paths


@pytest.fixture(scope="session")
def moving_pair():
    """A 320 x 320 synthetic pair: translation (6.4, -4.2) px and a 5 degree rotation."""
    shape = (320, 320)
    field = DisplacementField(shape, translation=(6.4, -4.2), rotation_deg=5.0)
    return make_pair(displacement=field, shape=shape, seed=7)


def grid(shape, step=24, margin=40):
    yy, xx = np.mgrid[margin : shape[0] - margin : step, margin : shape[1] - margin : step]
    return xx.ravel().astype(float), yy.ravel().astype(float)
