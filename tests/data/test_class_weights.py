"""Median-frequency class weights (AI4SeaIce eq. 1-2) from data and from the data manifest."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import kit
from kit import charts
from kit.data.class_weights import (
    AI4SEAICE_SIC_WEIGHTS,
    class_weights,
    count_classes,
    manifest_counts,
    median_frequency_weights,
)
from kit.errors import KitError

#: Where the real dataset's manifest (per-scene class counts) is kept in the repository.
MANIFEST = Path(kit.__file__).resolve().parents[1] / "data_manifest.csv"


def test_median_frequency_by_hand():
    weights = median_frequency_weights([100, 10, 1])  # median frequency is that of class 1
    assert np.allclose(weights, [0.1, 1.0, 10.0])
    absent = median_frequency_weights([100, 0, 10, 1])  # absent class: weight 0, not in median
    assert np.allclose(absent, [0.1, 0.0, 1.0, 10.0])
    with pytest.raises(KitError, match="all zero"):
        median_frequency_weights([0, 0])
    with pytest.raises(KitError, match="non-negative"):
        median_frequency_weights([3, -1])


def test_counts_from_scenes(pipeline_table):
    train = pipeline_table[pipeline_table.split == "train"]
    counts = count_classes(train)
    expected = np.zeros(charts.N_CLASSES["SOD"], dtype=np.int64)
    for path in train.path:
        with xr.open_dataset(path) as ds:
            values = ds["SOD"].values
        expected += np.bincount(values[values != charts.MASK], minlength=len(expected))
    assert np.array_equal(counts["SOD"], expected)
    weights = class_weights(counts)
    assert set(weights) == set(charts.CHARTS) and weights["SIC"].shape == (11,)
    # Test scenes keep their charts in the reference file; counting reads it.
    test = pipeline_table[pipeline_table.split == "test"]
    assert count_classes(test)["SIC"].sum() > 0


def test_manifest_counts_and_errors(tmp_path):
    table = pd.DataFrame({"scene_id": ["a", "b", "c"], "split": ["train", "train", "test"]})
    for k in range(11):
        table[f"SIC_{k}"] = [k, 2 * k, 100]
    path = tmp_path / "data_manifest.csv"
    table.to_csv(path, index=False)
    counts = manifest_counts(path, chart_names=("SIC",))
    assert counts["SIC"].tolist() == [3 * k for k in range(11)]
    with pytest.raises(KitError, match="no class count column"):
        manifest_counts(path, chart_names=("SOD",))
    with pytest.raises(KitError, match="no such manifest"):
        manifest_counts(tmp_path / "missing.csv")


@pytest.mark.skipif(not MANIFEST.is_file(), reason=f"{MANIFEST.name} not in this checkout yet")
def test_manifest_sic_weights_beside_ai4seaice():
    ours = median_frequency_weights(manifest_counts(MANIFEST, chart_names=("SIC",))["SIC"])
    published = np.array(AI4SEAICE_SIC_WEIGHTS)
    # The extremes (open water, 100 %) agree closely; the classes in between differ because the
    # challenge release holds other scenes than the AI4SeaIce paper's.
    assert ours[0] == pytest.approx(published[0], abs=0.005)
    assert ours[10] == pytest.approx(published[10], abs=0.005)
    assert np.round(ours, 3).tolist() == PINNED_MANIFEST_SIC_WEIGHTS


#: SIC weights of the manifest's training scenes (pinned; see docs/guide/training-data.md).
PINNED_MANIFEST_SIC_WEIGHTS = [
    0.038,
    5.091,
    1.0,
    1.289,
    1.835,
    1.143,
    1.822,
    0.973,
    0.651,
    0.33,
    0.097,
]
