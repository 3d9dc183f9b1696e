"""PatchDataset: batches, determinism, sharding, sampling proportional to labelled pixels,
padding of small scenes and the bad-input cases."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from scipy import stats

from kit import charts, resources
from kit.data.config import AugmentConfig, DataConfig
from kit.data.patches import PatchDataset, batch_bytes, check_batches_fit
from kit.errors import KitError

VARIABLES = ("nersc_sar_primary", "nersc_sar_secondary", "btemp_89_0v", "aux_time", "aux_lon")


def make_config(tmp_path, **changes) -> DataConfig:
    base = dict(
        variables=VARIABLES, patch_size=48, batch_size=3, downscale=2, epoch_len=4,
        cache_dir=str(tmp_path / "cache"),
    )  # fmt: skip
    return DataConfig(**{**base, **changes})


def batches(dataset, **loader_args):
    return list(dataset.loader(**loader_args))


def test_batch_shapes_and_dtypes(tmp_path, pipeline_table):
    train = pipeline_table[pipeline_table.split == "train"]
    dataset = PatchDataset(make_config(tmp_path), train)
    assert dataset.channels == VARIABLES and dataset.in_channels == 5 and len(dataset) == 4
    out = batches(dataset)
    assert len(out) == 4
    for x, y in out:
        assert x.dtype == torch.float32 and x.shape == (3, 5, 48, 48)
        assert set(y) == set(charts.CHARTS)
        for chart, labels in y.items():
            assert labels.dtype == torch.int64 and labels.shape == (3, 48, 48)
            values = set(labels.unique().tolist()) - {charts.MASK}
            assert values <= set(range(charts.N_CLASSES[chart]))
        labelled = torch.stack([y[c] != charts.MASK for c in charts.CHARTS]).any(0)
        assert labelled.flatten(1).any(1).all()  # every patch has a labelled pixel
        assert torch.isfinite(x).all()


def test_determinism_workers_epochs_and_ranks(tmp_path, train_paths):
    cfg = make_config(tmp_path, augment=AugmentConfig(dihedral_p=0.5, affine_p=0.5))
    first = batches(PatchDataset(cfg, train_paths))
    second = batches(PatchDataset(cfg, train_paths), num_workers=2)  # same batches, same order
    for (x1, y1), (x2, y2) in zip(first, second, strict=True):
        assert torch.equal(x1, x2) and all(torch.equal(y1[c], y2[c]) for c in y1)
    other_seed = batches(PatchDataset(dataclasses.replace(cfg, seed=1), train_paths))
    assert not torch.equal(first[0][0], other_seed[0][0])
    dataset = PatchDataset(cfg, train_paths)
    dataset.set_epoch(1)
    assert not torch.equal(first[0][0], batches(dataset)[0][0])
    ranks = [PatchDataset(cfg, train_paths, rank=r, world_size=2) for r in (0, 1)]
    assert not torch.equal(ranks[0].batch(0)[0], ranks[1].batch(0)[0])
    assert torch.equal(ranks[1].batch(0)[0], ranks[1].batch(0)[0])
    with pytest.raises(KitError, match="rank 2 is not in 0..1"):
        PatchDataset(cfg, train_paths, rank=2, world_size=2)


def _keep_rows(fraction):
    """A change for derived_scene: charts masked outside the first `fraction` of the rows."""

    def change(ds):
        rows = int(round(fraction * ds.sizes["sar_lines"]))
        for chart in charts.CHARTS:
            values = ds[chart].values.copy()
            values[rows:] = charts.MASK
            ds[chart] = (ds[chart].dims, values)
        return ds

    return change


def test_scene_draws_are_proportional_to_labelled_pixels(tmp_path, train_paths, derive_scene):
    # Whole-scene patches (patch >= working grid): no patch is ever rejected, so the draw
    # frequencies must follow the labelled-pixel counts exactly (AI4SeaIce eq. 5).
    paths = [
        derive_scene(train_paths[0], tmp_path, f"2019030{i}T101010_dmi", _keep_rows(f))
        for i, f in enumerate((1.0, 0.5, 0.2, 0.05), start=1)
    ]
    cfg = make_config(tmp_path, downscale=4, patch_size=80)
    dataset = PatchDataset(cfg, paths)
    counts = np.array([s.valid_label_pixels for s in dataset.scenes], dtype=float)
    assert counts[0] > counts[1] > counts[2] > counts[3] > 0
    rng = np.random.default_rng(1234)
    buffer = np.empty((3, 80, 80), dtype=np.uint8)
    n = 4000
    drawn = [dataset.scenes.index(dataset._draw(rng, buffer)[0]) for _ in range(n)]
    observed = np.bincount(drawn, minlength=4)
    expected = n * counts / counts.sum()
    # Chi-square goodness of fit, 3 degrees of freedom: a correct sampler fails this with
    # probability 0.1 % (and the seed is fixed, so the test is deterministic); a uniform draw
    # (expected 1000 each) is rejected by a huge margin, which shows the test has power.
    assert stats.chisquare(observed, expected).pvalue > 1e-3
    assert stats.chisquare(observed, np.full(4, n / 4)).pvalue < 1e-12


def test_min_valid_fraction(tmp_path, train_paths, derive_scene):
    path = derive_scene(train_paths[0], tmp_path, "20190301T101010_dmi", _keep_rows(0.3))
    cfg = make_config(tmp_path, min_valid_fraction=0.6, batch_size=8)
    for _, y in batches(PatchDataset(cfg, [path])):
        labelled = torch.stack([y[c] != charts.MASK for c in charts.CHARTS]).any(0)
        assert (labelled.float().mean(dim=(1, 2)) >= 0.6).all()
    with pytest.raises(KitError, match="min_valid_fraction=1.0"):
        PatchDataset(dataclasses.replace(cfg, min_valid_fraction=1.0), [path]).batch(0)


def test_small_scene_is_padded(tmp_path, train_paths, derive_scene):
    def shrink(ds):
        return ds.isel(sar_lines=slice(0, 60), sar_samples=slice(100, 150),
                       **{"2km_grid_lines": slice(0, 3), "2km_grid_samples": slice(4, 6)})  # fmt: skip

    path = derive_scene(train_paths[0], tmp_path, "20190301T101010_dmi", shrink)
    cfg = make_config(tmp_path, downscale=1, patch_size=96, batch_size=4)
    dataset = PatchDataset(cfg, [path])
    scene = dataset.scenes[0]
    x, y = dataset.batch(0)
    assert x.shape == (4, 5, 96, 96)
    for i in range(4):
        labelled = int((y["SIC"][i] != charts.MASK).sum())
        assert labelled == int((scene.charts[0] != charts.MASK).sum())  # whole scene inside
        outside = (y["SIC"][i] == charts.MASK) & (x[i, 0] == 0)
        assert int(outside.sum()) >= 96 * 96 - 60 * 50  # padding: inputs 0, charts MASK


def test_scene_without_labels_is_skipped_with_a_warning(tmp_path, train_paths, derive_scene):
    empty = derive_scene(train_paths[0], tmp_path, "20190301T101010_dmi", _keep_rows(0.0))
    cfg = make_config(tmp_path)
    with pytest.warns(UserWarning, match="20190301T101010_dmi_prep.nc: no labelled pixel"):
        dataset = PatchDataset(cfg, [empty, train_paths[1]])
    assert [s.path for s in dataset.scenes] == [train_paths[1]]
    with pytest.warns(UserWarning), pytest.raises(KitError, match="no scene with labelled pixels"):
        PatchDataset(cfg, [empty])


def test_missing_variables_fail_before_any_work(tmp_path, train_paths, derive_scene):
    broken = derive_scene(
        train_paths[0], tmp_path, "20190301T101010_dmi", lambda ds: ds.drop_vars(["btemp_89_0v"])
    )
    with pytest.raises(KitError) as info:
        PatchDataset(make_config(tmp_path), [train_paths[1], broken])
    message = str(info.value)
    assert "1 scene(s) lack configured variables" in message
    assert f"{broken}: missing variable(s) btemp_89_0v" in message
    assert not (tmp_path / "cache").exists()  # failed at the start, before building the cache


def test_other_bad_inputs(tmp_path, train_paths, pipeline_table, derive_scene):
    no_sod = derive_scene(
        train_paths[0], tmp_path, "20190301T101010_dmi", lambda ds: ds.drop_vars(["SOD"])
    )
    with pytest.raises(KitError, match="no chart SOD to train on"):
        PatchDataset(make_config(tmp_path), [no_sod])
    with pytest.raises(KitError, match="no scenes given"):
        PatchDataset(make_config(tmp_path), [])
    with pytest.raises(KitError, match="no such file"):
        PatchDataset(make_config(tmp_path), [tmp_path / "20190301T000000_cis_prep.nc"])
    with pytest.raises(KitError, match="no 'path' column"):
        PatchDataset(make_config(tmp_path), pipeline_table.drop(columns=["path"]))


def test_augmented_batches_keep_labels_valid(tmp_path, train_paths):
    aug = AugmentConfig(dihedral_p=1.0, affine_p=1.0, random_scale_p=1.0, cutmix_p=1.0)
    x, y = PatchDataset(make_config(tmp_path, augment=aug), train_paths).batch(0)
    assert x.shape == (3, 5, 48, 48) and x.dtype == torch.float32
    for chart, labels in y.items():
        values = set(labels.unique().tolist()) - {charts.MASK}
        assert values <= set(range(charts.N_CLASSES[chart]))


def test_batch_bytes_is_a_lower_bound_of_a_real_batch(tmp_path, pipeline_table):
    config = make_config(tmp_path)
    x, y = PatchDataset(config, pipeline_table[pipeline_table.split == "train"]).batch(0)
    real = x.nbytes + sum(t.nbytes for t in y.values())
    assert batch_bytes(config) <= real + len(y) * y["SIC"].numel()  # + the uint8 chart crops


def test_batches_that_cannot_fit_are_refused_before_any_scene_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(resources, "memory_bytes", lambda: 16 * 2**30)
    config = make_config(tmp_path, patch_size=100_000, batch_size=4, num_workers=2)
    with pytest.raises(KitError) as info:
        PatchDataset(config, scenes=None)  # fails before it looks at the scenes
    assert str(info.value) == (
        "data.patch_size 100000: a batch of 4 patches in each of 2 loader workers needs at "
        "least 3.4 TiB of memory; this machine has 16.0 GiB (largest patch_size for this "
        "batch_size: 6759)"
    )
    check_batches_fit(make_config(tmp_path, patch_size=6759, batch_size=4, num_workers=2))
    with pytest.raises(KitError, match="largest patch_size for this batch_size: 6759"):
        check_batches_fit(make_config(tmp_path, patch_size=6760, batch_size=4, num_workers=2))
