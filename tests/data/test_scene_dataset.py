"""SceneDataset: whole scenes on the working grid, charts at 80 m, exact way back."""

from __future__ import annotations

import numpy as np
import torch
import xarray as xr

from kit import charts
from kit.data.config import DataConfig
from kit.data.regrid import working_shape
from kit.data.scene_dataset import SceneDataset, to_original_grid

VARIABLES = ("nersc_sar_primary", "btemp_6_9h", "aux_lat")


def test_items_and_exact_return_to_80m(tmp_path, pipeline_table):
    cfg = DataConfig(variables=VARIABLES, downscale=7, cache_dir=str(tmp_path / "cache"))
    dataset = SceneDataset(cfg, pipeline_table)
    assert len(dataset) == 5 and dataset.channels == VARIABLES
    items = list(dataset.loader())
    for item, row in zip(items, pipeline_table.itertuples(), strict=True):
        assert item["scene_id"] == row.scene_id and item["shape"] == (300, 260)
        h, w = working_shape(item["shape"], 7)
        assert item["x"].shape == (3, h, w) and item["x"].dtype.is_floating_point
        assert item["valid"].shape == (h, w) and item["valid"].dtype == torch.bool
        assert set(item["charts"]) == set(charts.CHARTS)  # test scene: from the reference file
        source = row.reference_path if row.split == "test" else row.path
        with xr.open_dataset(source) as ds:
            assert np.array_equal(item["charts"]["SIC"], ds["SIC"].values)
        back = to_original_grid(item["valid"].numpy(), item["shape"], 7)
        assert back.shape == item["charts"]["SIC"].shape


def test_scene_without_charts_gives_empty_dict(tmp_path, pipeline_table):
    test_path = pipeline_table[pipeline_table.split == "test"].path.iloc[0]
    cfg = DataConfig(variables=VARIABLES, cache_dir=str(tmp_path / "cache"))
    item = SceneDataset(cfg, [test_path])[0]
    assert item["charts"] == {} and item["x"].shape == (3, 300, 260)


def test_inputs_are_the_cached_scenes_without_their_charts(tmp_path, pipeline_table, monkeypatch):
    cfg = DataConfig(variables=VARIABLES, downscale=7, cache_dir=str(tmp_path / "cache"))
    dataset = SceneDataset(cfg, pipeline_table)
    items = [dataset[i] for i in range(len(dataset))]

    def no_charts(*args, **kwargs):
        raise AssertionError("inputs() read reference charts")

    monkeypatch.setattr("kit.data.scene_dataset.read_scene_charts", no_charts)
    inputs = list(dataset.inputs())
    assert len(inputs) == len(pipeline_table)
    for (scene, reference), item, row in zip(
        inputs, items, pipeline_table.itertuples(), strict=True
    ):
        assert (scene.scene_id, scene.path, scene.shape) == (row.scene_id, row.path, item["shape"])
        assert reference == (row.reference_path if row.split == "test" else None)
        assert np.array_equal(np.asarray(scene.x, dtype=np.float32), item["x"].numpy())
        assert np.array_equal(scene.valid, item["valid"].numpy())
