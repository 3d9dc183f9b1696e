"""Scene cache: content, reuse, invalidation, concurrent builders, pickling."""

from __future__ import annotations

import multiprocessing
import os
import pickle

import numpy as np
import pytest
import xarray as xr

from kit import charts
from kit.atomic import is_temporary
from kit.data.cache import SceneCache, apply_normalisation, channel_names
from kit.data.config import DataConfig
from kit.data.regrid import block_chart, coarse_to_working

VARIABLES = ("nersc_sar_primary", "distance_map", "btemp_36_5h", "t2m", "aux_time", "aux_lat")


def config(tmp_path, **changes) -> DataConfig:
    return DataConfig(variables=VARIABLES, cache_dir=str(tmp_path / "cache"), **changes)


def test_cached_arrays_at_80m(tmp_path, train_paths):
    scene = SceneCache(config(tmp_path)).get(train_paths[0])
    assert scene.x.dtype == np.float16 and scene.charts.dtype == np.uint8
    assert scene.x.shape == (6, 300, 260) and scene.charts.shape == (3, 300, 260)
    assert scene.channels == VARIABLES and not np.isnan(scene.x).any()
    with xr.open_dataset(train_paths[0]) as ds:
        sar = ds["nersc_sar_primary"].values
        coarse = ds["t2m"].values
        sic = ds["SIC"].values
    # Ready-to-train files hold z-scores already (0 = no data): used as they are, not twice.
    assert np.allclose(scene.x[0], sar, atol=5e-3)  # float16 rounding
    t2m = coarse_to_working(apply_normalisation(coarse, "meanstd"), sic.shape, 1)
    assert np.allclose(scene.x[3], t2m, atol=5e-3)
    assert np.array_equal(scene.charts[0], sic)
    assert np.array_equal(scene.valid, sar != 0)
    assert scene.valid_label_pixels == int((scene.charts != charts.MASK).any(axis=0).sum())


def test_cached_arrays_downscaled(tmp_path, train_paths):
    cfg = config(tmp_path, downscale=7, normalisation="minmax", month_encoding="cyclic")
    scene = SceneCache(cfg).get(train_paths[1])
    assert scene.channels == channel_names(cfg)
    assert scene.channels[4:6] == ("aux_time_sin", "aux_time_cos")
    assert scene.x.shape == (7, 43, 38) and scene.shape == (300, 260)
    with xr.open_dataset(train_paths[1]) as ds:
        z = ds["nersc_sar_primary"].values
        sar = apply_normalisation(np.where(z == 0, np.nan, z), "minmax")
        sod = ds["SOD"].values
    block = sar[7:14, 14:21]
    if np.isfinite(block).any():
        assert float(scene.x[0, 1, 2]) == pytest.approx(np.nanmean(block), abs=2e-3)
    assert np.abs(scene.x[:4]).max() <= 1.0  # minmax is clipped to [-1, 1]
    assert np.array_equal(scene.charts[1], block_chart(sod, 7, "mode"))


def test_reuse_and_invalidation(tmp_path, train_paths, derive_scene):
    path = derive_scene(train_paths[0], tmp_path, "20190301T101010_dmi", lambda ds: ds)
    cache = SceneCache(config(tmp_path))
    first = cache.get(path)
    files = sorted(p.name for p in cache.entry_dir(path).iterdir())
    assert len(files) == 4 and not any(is_temporary(f) for f in files)

    cache._build = lambda *a: pytest.fail("a warm entry must not be rebuilt")
    assert np.array_equal(cache.get(path).x, first.x)
    del cache._build

    shift = 0.5  # z-score units: the file is ready-to-train (0 = no data stays 0)

    def brighter(ds):
        hh = ds["nersc_sar_primary"]
        ds["nersc_sar_primary"] = hh.where(hh == 0, hh + shift)
        return ds

    derive_scene(train_paths[0], tmp_path, "20190301T101010_dmi", brighter)  # same path
    writing = cache.entry_dir(path) / ".0123.x.npy.0a1b2c3d.part"  # another worker's, mid-way
    writing.write_bytes(b"")
    again = cache.get(path)
    valid = np.asarray(again.valid)
    assert np.allclose(again.x[0][valid] - first.x[0][valid], shift, atol=1e-2)
    assert writing.exists()  # left to the worker that writes it
    writing.unlink()
    assert len(list(cache.entry_dir(path).iterdir())) == 4  # stale files gone
    assert np.allclose(
        np.asarray(first.x[0]).mean(), np.asarray(first.x[0]).mean()
    )  # old map readable

    other = SceneCache(config(tmp_path, downscale=2))
    assert other.entry_dir(path) != cache.entry_dir(path)


def test_a_failed_build_leaves_nothing_behind(tmp_path, train_paths, monkeypatch):
    cache = SceneCache(config(tmp_path))

    def crash(*args):
        raise RuntimeError("disk full")

    monkeypatch.setattr(cache, "_valid", crash)  # after x.npy is written, before the rest
    with pytest.raises(RuntimeError, match="disk full"):
        cache.get(train_paths[0])
    assert list(cache.entry_dir(train_paths[0]).iterdir()) == []
    monkeypatch.undo()
    assert cache.get(train_paths[0]).x.shape[0] == len(cache.channels)
    assert len(list(cache.entry_dir(train_paths[0]).iterdir())) == 4


def _build_in_child(args):
    cache_dir, path = args
    cfg = DataConfig(variables=VARIABLES, cache_dir=cache_dir)
    return float(np.asarray(SceneCache(cfg).get(path).x, dtype=np.float64).sum())


def test_concurrent_builders_agree(tmp_path, train_paths):
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(2) as pool:
        sums = pool.map(_build_in_child, [(str(tmp_path / "cache"), train_paths[2])] * 4)
    assert len(set(sums)) == 1
    folder = SceneCache(config(tmp_path)).entry_dir(train_paths[2])
    assert len(list(folder.iterdir())) == 4  # no temporary files left behind


def test_pickled_scene_reopens_the_map(tmp_path, train_paths):
    scene = SceneCache(config(tmp_path)).get(train_paths[0])
    blob = pickle.dumps(scene)
    assert len(blob) < 10_000  # the arrays are not copied
    back = pickle.loads(blob)
    assert isinstance(back.x, np.memmap) and np.array_equal(back.x, scene.x)


def test_missing_file(tmp_path):
    from kit.errors import KitError

    with pytest.raises(KitError, match="no such file"):
        SceneCache(config(tmp_path)).get(tmp_path / "20190301T101010_dmi_prep.nc")
    assert not os.path.exists(tmp_path / "cache")


def test_row_blocks_convert_exactly_what_whole_variables_give(tmp_path, train_paths, monkeypatch):
    """80 m variables are read and downscaled in row blocks of whole working rows; one working
    row a block gives the same bytes as each variable read whole (300 x 260 px at downscale 7:
    the last block is partial), and so does the 80 m no-data mask."""
    from kit.data import cache as cache_module

    cfg = config(tmp_path, downscale=7)
    monkeypatch.setattr(cache_module, "ROW_BLOCK_PIXELS", 10**9)  # each variable whole
    whole = SceneCache(cfg, tmp_path / "whole").get(train_paths[1])
    whole_mask = cache_module.valid_mask(train_paths[1])
    monkeypatch.setattr(cache_module, "ROW_BLOCK_PIXELS", 1)  # one working row a block
    assert len(list(cache_module.row_blocks((300, 260), 7))) == 43
    blocks = SceneCache(cfg, tmp_path / "blocks").get(train_paths[1])
    assert whole.x.tobytes() == blocks.x.tobytes()
    assert np.array_equal(whole.valid, blocks.valid) and not whole.valid.all()
    assert np.array_equal(cache_module.valid_mask(train_paths[1]), whole_mask)
