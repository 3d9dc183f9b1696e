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
