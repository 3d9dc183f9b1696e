"""Whole scenes on the working grid, for validation and inference.

Each item of `SceneDataset(config, scenes)` is a dict:

- `scene_id`, `path`;
- `x`: float32 tensor [C, h, w], the scene's inputs on the working grid (from the scene cache);
- `valid`: bool tensor [h, w], where the SAR has data;
- `shape`: (H, W) of the 80 m grid;
- `charts`: {chart: uint8 array [H, W]} at 80 m when the scene (or its `_prep_reference.nc`)
  has them, else {}.

`inputs()` iterates the cached inputs alone (no charts are read), for prediction.

A working-grid prediction goes back onto the 80 m grid with `to_original_grid(pred, shape,
config.downscale)`, exactly (same shape as the charts).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from kit.data.cache import CachedScene, SceneCache
from kit.data.config import DataConfig
from kit.data.regrid import to_original_grid
from kit.data.scene import read_scene_charts
from kit.data.sources import check_variables, scene_sources

__all__ = ["SceneDataset", "to_original_grid"]


class SceneDataset(Dataset):
    """Whole scenes on the working grid, for validation and prediction.

    Where `PatchDataset` draws random patches for training, this dataset gives each scene
    whole, once, with its 80 m charts, so predictions can be scored or written at the
    challenge's resolution. Item `i` is a dict (see the module docstring): ``scene_id``,
    ``path``, ``x`` (float32 [C, h, w]), ``valid`` (bool [h, w]), ``shape`` (H, W of the 80 m
    grid) and ``charts`` ({chart: uint8 [H, W]}, or {} when the scene has none). `inputs()`
    gives the inputs alone, `loader()` a DataLoader of one scene at a time.

    Parameters
    ----------
    config : DataConfig
        Variables, charts, downscale factor and input scaling (patch settings are unused).
    scenes : table or sequence of paths
        A `discover()` table (its ``reference_path`` column is used for the charts of
        TorchGeo test scenes), or scene file paths (one path is accepted too).
    cache_dir : str or os.PathLike, optional
        Scene cache folder (default ``config.resolved_cache_dir()``); each scene is converted
        into it on first use.

    Raises
    ------
    KitError
        If no scene is given, the table has no ``path`` column, or a scene lacks a configured
        variable (all such scenes are named).

    Examples
    --------
    >>> import tempfile
    >>> from kit.data import discover
    >>> from kit.data.synthetic import SynthConfig, write_dataset
    >>> tmp = tempfile.TemporaryDirectory()
    >>> _ = write_dataset(tmp.name, SynthConfig(n_train=1, n_test=1, size=(100, 100)),
    ...                   workers=1, progress=False)
    >>> config = DataConfig(variables=("nersc_sar_primary", "nersc_sar_secondary"), downscale=2)
    >>> scenes = SceneDataset(config, discover(tmp.name), cache_dir=tmp.name + "/cache")
    >>> len(scenes), scenes.channels
    (2, ('nersc_sar_primary', 'nersc_sar_secondary'))
    >>> item = scenes[0]
    >>> item["scene_id"], tuple(item["x"].shape), item["shape"]
    ('20180203T043352_cis', (2, 50, 50), (100, 100))
    >>> {chart: (values.shape, values.dtype.name) for chart, values in item["charts"].items()}
    {'SIC': ((100, 100), 'uint8'), 'SOD': ((100, 100), 'uint8'), 'FLOE': ((100, 100), 'uint8')}
    >>> [(scene.scene_id, reference is None) for scene, reference in scenes.inputs()]
    [('20180203T043352_cis', False), ('20210525T004601_cis', True)]
    >>> del item
    >>> tmp.cleanup()
    """

    def __init__(self, config: DataConfig, scenes, cache_dir: str | os.PathLike | None = None):
        self.config = config
        self.sources = scene_sources(scenes)
        check_variables(self.sources, config.variables)
        self.cache = SceneCache(config, cache_dir)
        self.channels: tuple[str, ...] = self.cache.channels

    def __len__(self) -> int:
        return len(self.sources)

    def __getitem__(self, index: int) -> dict:
        path, reference = self.sources[index]
        scene = self.cache.get(path, reference)
        return {
            "scene_id": scene.scene_id,
            "path": path,
            "x": torch.from_numpy(np.asarray(scene.x, dtype=np.float32)),
            "valid": torch.from_numpy(np.array(scene.valid, dtype=bool)),
            "shape": scene.shape,
            "charts": read_scene_charts(path, reference, self.config.charts),
        }

    def inputs(self) -> Iterator[tuple[CachedScene, str | None]]:
        """The scenes' inputs, one scene at a time, without reading their reference charts.

        Returns
        -------
        iterator of (CachedScene, str or None)
            Each scene from the cache (memory-mapped `x`, `valid`, `shape`, `path`, built on
            first use) and the path of its reference file, if it has one.

        Raises
        ------
        KitError
            When a scene file is missing or unreadable.
        """
        for path, reference in self.sources:
            yield self.cache.get(path), reference

    def loader(self, **kwargs) -> DataLoader:
        """A DataLoader yielding one scene dict at a time, with `config.num_workers` workers."""
        workers = kwargs.pop("num_workers", self.config.num_workers)
        return DataLoader(
            self, batch_size=None, num_workers=workers, collate_fn=_keep_item, **kwargs
        )


def _keep_item(item: dict) -> dict:
    """Collate function that leaves a scene dict as it is (NumPy charts stay NumPy)."""
    return item
