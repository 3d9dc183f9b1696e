"""Synthetic scenes: format validity, determinism, physics the models rely on, cache reuse."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from kit import charts, resources
from kit.atomic import is_temporary
from kit.data import discover, open_scene, synthetic
from kit.data.icechart import convert_polygon_icechart
from kit.data.synthetic import (
    MAX_SCENES,
    SCENE_MEMORY_PER_PIXEL,
    SynthConfig,
    dataset_key,
    ensure_dataset,
    is_complete,
    plan_scenes,
    write_dataset,
)
from kit.data.synthetic.coarse import grid_2km_shape
from kit.data.synthetic.scene import generate_scene
from kit.errors import KitError


def _scene(seed=0, size=(100, 150), index=0):
    return generate_scene(plan_scenes(SynthConfig(2, 0, size, seed))[index][1])


def test_written_scenes_round_trip_through_open_scene(tiny_dataset):
    table = discover(tiny_dataset)
    assert set(table.layout) == {"torchgeo"}
    assert table.split.value_counts().to_dict() == {"train": 2, "test": 1}
    for row in table.itertuples():
        ds = open_scene(row.path, require_charts=row.split == "train")
        assert ds.sizes["sar_lines"] == 100 and ds.sizes["sar_samples"] == 150
        assert (ds.sizes["2km_grid_lines"], ds.sizes["2km_grid_samples"]) == (4, 6)
        assert ds.attrs["pixel_spacing"] == 80
        assert ds.attrs["scene_id"] == row.scene_id + charts.PREP_SUFFIX
        assert ds.attrs["original_id"].startswith(("S1A_EW_GRDM_1SDH_", "S1B_EW_GRDM_1SDH_"))
        assert row.scene_id.split("_")[0] in ds.attrs["original_id"]
        assert ds[charts.LATITUDE].dims == charts.GEO_GRID_FILE_DIMS
        if row.split == "test":
            assert not any(c in ds for c in charts.CHARTS)  # no label leak into inputs
            ref = xr.open_dataset(row.reference_path)
            assert set(ref.data_vars) == set(charts.CHARTS)
            assert ref.SIC.dims == charts.SAR_DIMS and ref.SIC.dtype == np.uint8
        else:
            assert ds.SIC.dtype == np.uint8
        ds.close()
    meta = pd.read_csv(tiny_dataset / "metadata.csv", keep_default_na=False)
    assert {"input_path", "split"} <= set(meta.columns)  # what TorchGeo's dataset reads
    assert all((tiny_dataset / p).is_file() for p in meta.input_path)
    assert not [p for p in tiny_dataset.rglob("*") if is_temporary(p.name)]  # no leftovers


def test_raw_files_convert_to_the_written_charts(tiny_dataset):
    meta = pd.read_csv(tiny_dataset / "metadata.csv", keep_default_na=False)
    row = meta[meta.split == "train"].iloc[0]
    raw = xr.open_dataset(tiny_dataset / "raw" / row.original_id)
    prep = xr.open_dataset(tiny_dataset / row.input_path)
    converted = convert_polygon_icechart(raw)  # 40 m: every 80 m pixel repeated 2 x 2
    valid = prep.nersc_sar_primary.values != 0  # ready-to-train: 0 = no data
    for chart in charts.CHARTS:
        at_80m = converted[chart].values[::2, ::2]
        assert np.array_equal(at_80m[valid], prep[chart].values[valid])
        assert (prep[chart].values[~valid] == charts.MASK).all()


def test_same_seed_same_arrays_and_different_seed_differs():
    a, b, c = _scene(seed=5), _scene(seed=5), _scene(seed=6)
    for name in ("nersc_sar_primary", "btemp_18_7h", "distance_map", "t2m"):
        np.testing.assert_array_equal(a.inputs[name].values, b.inputs[name].values)
    np.testing.assert_array_equal(a.charts.SOD.values, b.charts.SOD.values)
    assert a.inputs.attrs == b.inputs.attrs
    assert a.inputs.attrs["scene_id"] != c.inputs.attrs["scene_id"]
    assert not np.allclose(
        np.nan_to_num(a.inputs.nersc_sar_primary.values),
        np.nan_to_num(c.inputs.nersc_sar_primary.values),
    )


def test_written_files_are_identical_for_the_same_seed(tmp_path):
    config = SynthConfig(1, 1, (60, 80), seed=11)
    one = write_dataset(tmp_path / "a", config, workers=1, progress=False)
    two = write_dataset(tmp_path / "b", config, workers=2, progress=False)
    pd.testing.assert_frame_equal(one, two)
    for path in one.input_path:
        x, y = xr.open_dataset(tmp_path / "a" / path), xr.open_dataset(tmp_path / "b" / path)
        xr.testing.assert_identical(x.load(), y.load())


def test_physics_land_distance_nodata_and_scales():
    scenes = [_scene(seed=s, size=(300, 300)) for s in range(4)]
    for s in scenes:
        ds, ch = s.inputs, s.charts
        land = ds.distance_map.values == 0
        assert (ch.SIC.values[land] == charts.MASK).all()  # land masked in every chart
        assert (ds.distance_map.values >= 0).all()
        nodata = np.isnan(ds.nersc_sar_primary.values)
        assert nodata.any() and (ch.SIC.values[nodata] == charts.MASK).all()
        assert np.array_equal(nodata, np.isnan(ds.nersc_sar_secondary.values))
        theta = ds.sar_incidenceangle.values
        assert np.array_equal(np.isnan(theta), nodata)  # no data outside the swath, like SAR
        middle = theta[theta.shape[0] // 2]
        assert (np.diff(middle[np.isfinite(middle)]) > 0).all()  # rises across range
        index = ds.distance_map.values
        assert np.array_equal(index, np.round(index)) and index.max() <= 41  # an index, not km
        assert ds.btemp_6_9h.shape == grid_2km_shape((300, 300)) == (12, 12)
        lat = ds[charts.LATITUDE].values
        assert 45 < lat.mean() < 85 and np.ptp(lat) > 0.05
    # Mixed over scenes, the inputs sit on the real dataset's scale.
    for name in ("nersc_sar_primary", "nersc_sar_secondary", "btemp_36_5v", "t2m"):
        values = np.concatenate([s.inputs[name].values.ravel() for s in scenes])
        mean, std = charts.GLOBAL_MEAN_STD[name]
        assert abs(np.nanmean(values) - mean) < 1.5 * std


def test_sar_and_amsr2_separate_water_from_ice():
    hv_water, hv_ice, tb, sic_cells = [], [], [], []
    for seed in range(6):
        s = _scene(seed=seed, size=(300, 300))
        sic = s.charts.SIC.values
        hv = s.inputs.nersc_sar_secondary.values
        hv_water.append(hv[sic == 0])
        hv_ice.append(hv[sic == 10])
        cells = sic.reshape(12, 25, 12, 25).transpose(0, 2, 1, 3).reshape(12, 12, -1)
        full = (cells != charts.MASK).all(axis=-1)  # cells with no land and no masked pixel
        tb.append(s.inputs.btemp_36_5h.values[full])
        sic_cells.append(cells[full].mean(axis=-1))
    hv_water, hv_ice = np.concatenate(hv_water), np.concatenate(hv_ice)
    assert hv_water.size > 1000 and hv_ice.size > 1000
    assert np.nanmean(hv_ice) > np.nanmean(hv_water) + 2.0  # HV: ice brighter than water
    tb, sic_cells = np.concatenate(tb), np.concatenate(sic_cells)
    assert np.corrcoef(tb, sic_cells)[0, 1] > 0.7  # AMSR2 follows concentration


def test_ensure_dataset_reuses_a_complete_set(tmp_path):
    config = SynthConfig(1, 1, (60, 80), seed=1)
    first = ensure_dataset(config, tmp_path)
    assert first.name == dataset_key(config) and is_complete(first)
    stamp = (first / "metadata.csv").stat().st_mtime_ns
    assert ensure_dataset(config, tmp_path) == first
    assert (first / "metadata.csv").stat().st_mtime_ns == stamp  # not regenerated
    next(first.glob("train/*_prep.nc")).unlink()
    assert not is_complete(first)
    ensure_dataset(config, tmp_path)
    assert is_complete(first)


@pytest.mark.parametrize(
    "args, message",
    [
        ((-5, 6, (100, 100), 0), "--train -5 --test 6: need at least one scene"),
        ((0, 0, (100, 100), 0), "--train 0 --test 0: need at least one scene"),
        ((MAX_SCENES, 1, (100, 100), 0), f"at most {MAX_SCENES} scenes"),
        ((1, 0, (-5, -5), 0), "--size -5 -5: scenes need >= 50 pixels a side"),
        ((1, 0, (100, 100), -1), "--seed -1: must be in [0, 4294967295]"),
    ],
)
def test_bad_settings_are_named(args, message):
    with pytest.raises(KitError) as info:
        SynthConfig(*args)
    assert message in str(info.value)


def test_sets_that_cannot_fit_are_refused_before_any_scene(tmp_path, monkeypatch):
    monkeypatch.setattr(resources, "memory_bytes", lambda: 16 * 2**30)
    monkeypatch.setattr(resources, "free_disk_bytes", lambda folder: 2**30)
    with pytest.raises(KitError, match=r"^--size 40000 40000: one scene needs at least 149.0 GiB"):
        write_dataset(tmp_path / "big", SynthConfig(1, 0, (40000, 40000)))
    with pytest.raises(KitError, match=r"largest square scene: 13107 px\)$"):
        write_dataset(tmp_path / "big", SynthConfig(1, 0, (13108, 13108)))
    with pytest.raises(KitError, match=r"a set of 10 scenes .* \(room for 4 scenes of this size\)"):
        write_dataset(tmp_path / "many", SynthConfig(10, 0, (8192, 4096)))
    assert not (tmp_path / "big").exists() and not (tmp_path / "many").exists()


def test_scenes_generated_at_once_are_capped_by_memory(tmp_path, monkeypatch):
    """Two scenes of 60 x 60 fit in memory one at a time only: one worker, not two."""
    monkeypatch.setattr(resources, "memory_bytes", lambda: 60 * 60 * SCENE_MEMORY_PER_PIXEL)
    used = []
    monkeypatch.setattr(synthetic.writer, "ProcessPoolExecutor", lambda n: used.append(n))
    write_dataset(tmp_path, SynthConfig(2, 0, (60, 60)), workers=2, progress=False)
    assert used == [] and len(list(tmp_path.glob("train/*.nc"))) == 2


@pytest.fixture(scope="module")
def planned_shares():
    """40 small planned scenes: (spec, class shares of the generated charts) per scene."""
    out = []
    for _, spec in plan_scenes(SynthConfig(40, 0, (300, 300), 0)):
        scene = generate_scene(spec)
        shares = {}
        for chart in charts.CHARTS:
            values = scene.charts[chart].values.ravel()
            values = values[values != charts.MASK]
            shares[chart] = np.bincount(values, minlength=charts.N_CLASSES[chart]) / len(values)
        out.append((spec, shares))
    return out


def test_scenes_are_planned_from_real_training_scenes():
    sources = synthetic.source_scenes().set_index("scene_id")
    plans = plan_scenes(SynthConfig(8, 2, (100, 100), 3))
    assert plans[:4] == plan_scenes(SynthConfig(4, 0, (100, 100), 3))  # per (seed, index)
    for _, spec in plans:
        row = sources.loc[spec.source_scene]
        assert (spec.ice_service, spec.acquisition.month) == (row.ice_service, row.month)
        assert spec.region == row.chart_source
        assert spec.class_shares["SOD"] == tuple(row[[f"SOD_{k}" for k in range(6)]])


@pytest.mark.parametrize(
    "chart, value, least", [("SIC", 0, 0.9), ("SIC", 10, 0.8), ("SOD", 4, 0.8), ("SOD", 5, 0.8)]
)
def test_scene_class_shares_follow_their_source_scene(planned_shares, chart, value, least):
    drawn = [spec.class_shares[chart][value] for spec, _ in planned_shares]
    made = [shares[chart][value] for _, shares in planned_shares]
    assert np.corrcoef(drawn, made)[0, 1] > least


def test_seasons_differ_as_in_the_manifest(planned_shares):
    """Open water rises in summer and thick first-year ice is a winter-spring class, in the real
    scenes and in the synthetic ones drawn from them."""
    summer = [s for spec, s in planned_shares if spec.acquisition.month in (7, 8, 9)]
    winter = [s for spec, s in planned_shares if spec.acquisition.month in (1, 2, 3, 4)]
    assert len(summer) >= 5 and len(winter) >= 5
    real = synthetic.source_scenes()
    real_summer, real_winter = real[real.month.isin([7, 8, 9])], real[real.month.isin([1, 2, 3, 4])]
    for chart, value in (("SIC", 0), ("SOD", 4)):
        made = [np.mean([s[chart][value] for s in group]) for group in (summer, winter)]
        real_means = [group[f"{chart}_{value}"].mean() for group in (real_summer, real_winter)]
        assert np.sign(made[0] - made[1]) == np.sign(real_means[0] - real_means[1])
        assert abs(made[0] - made[1]) > 0.1


def test_demo_set_has_twenty_test_scenes_and_the_earlier_training_scenes():
    """20 test scenes (a paired bootstrap over scenes can rank two models), and growing the test
    split left every training scene and the first 6 test scenes as they were: each scene is
    planned from (seed, index), training scenes first."""
    assert synthetic.DEMO_CONFIG.n_test >= 20 and synthetic.DEMO_CONFIG.n_train == 24
    demo = synthetic.plan_scenes(synthetic.DEMO_CONFIG)
    earlier = synthetic.plan_scenes(
        synthetic.SynthConfig(n_train=24, n_test=6, size=synthetic.DEMO_CONFIG.size)
    )
    assert [split for split, _ in demo].count("test") == synthetic.DEMO_CONFIG.n_test
    assert demo[: len(earlier)] == earlier
    assert len({spec.scene_id for _, spec in demo}) == len(demo)
