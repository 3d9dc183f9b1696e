"""Shared fixtures of the data tests: a small synthetic dataset in the real format."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import xarray as xr

from kit.data.layouts import discover
from kit.data.synthetic import SynthConfig, write_dataset

torch.set_num_threads(1)

#: Small scenes (not multiples of the downscale factors used, to exercise partial blocks).
PIPELINE_SYNTH = SynthConfig(n_train=4, n_test=1, size=(300, 260), seed=3)


@pytest.fixture(scope="session")
def pipeline_root(tmp_path_factory) -> Path:
    """A synthetic dataset (TorchGeo layout: metadata.csv, train/, test/)."""
    root = tmp_path_factory.mktemp("pipeline_synth")
    write_dataset(root, PIPELINE_SYNTH, workers=1, progress=False)
    return root


@pytest.fixture(scope="session")
def pipeline_table(pipeline_root):
    return discover(pipeline_root)


@pytest.fixture(scope="session")
def train_paths(pipeline_table) -> list[str]:
    return list(pipeline_table[pipeline_table.split == "train"].path)


def derived_scene(source: str | Path, folder: Path, scene_id: str, change) -> Path:
    """Write a copy of a synthetic scene under a new id, modified by `change(ds) -> ds`."""
    with xr.open_dataset(source) as ds:
        ds = change(ds.load())
    ds.attrs["scene_id"] = scene_id
    path = Path(folder) / f"{scene_id}_prep.nc"
    ds.to_netcdf(path)
    return path


@pytest.fixture
def derive_scene():
    """`derived_scene` as a fixture (tests do not import conftest)."""
    return derived_scene
