"""Every published AI4Arctic file variant, made by the kit's own writer from one seed and one
scene plan, read through discover, PatchDataset, SceneDataset, `autoice predict`,
`autoice inspect` and `autoice score`.

Variants: `standard` (the writer's default: TorchGeo / Hugging Face layout, z-scores, 0 = no
data), `minmax` ([-1, 1], 2 = no data), `physical` (dB / K, NaN = no data), `raw` (raw-release
files: 40 m, polygon charts, 2 km grid of 50 pixels, flat tie points) and `dtu` (the standard
files in the DTU layout: training scenes in the data folder itself, test scenes carrying their
charts in `test_data/`).

The kit must standardise exactly once whatever a file holds: the normalised inputs, the no-data
masks, the charts and the submissions are the same in every variant.
"""

from __future__ import annotations

import json
import re
import shutil
import warnings
from pathlib import Path

import netCDF4
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from kit import charts
from kit.cli import main
from kit.data.cache import SceneCache
from kit.data.config import DataConfig
from kit.data.conventions import file_scaling
from kit.data.layouts import discover
from kit.data.patches import PatchDataset
from kit.data.scene_dataset import SceneDataset
from kit.data.synthetic import SynthConfig, plan_scenes, write_dataset
from kit.errors import KitError
from scoring import score_submission

#: One scene plan for every variant: 4 training and 2 test scenes of 96 x 128 pixels.
SCENES = dict(n_train=4, n_test=2, size=(96, 128), seed=3)
SHAPE = SCENES["size"]
CONVENTIONS = ("standard", "minmax", "physical", "raw")
VARIANTS = (*CONVENTIONS, "dtu")
#: The convention each variant's files must be read in (raw-release files are physical).
READ_AS = {"standard": "standard", "minmax": "minmax", "physical": "physical",
           "raw": "physical", "dtu": "standard"}  # fmt: skip
SAR = charts.SAR_VARIABLES[0]
IA = "sar_incidenceangle"
#: The same input to float16 precision (the cache stores float16): 2 units in the last place.
F16 = dict(rtol=2**-9, atol=2**-10)
#: Pooled statistics of the normalised inputs on valid pixels of the training scenes:
#: group -> (bound on |mean|, (lowest sd, highest sd)). This set (seed 3) measured SAR
#: +0.03 / 0.93, incidence angle -0.16 / 0.67, AMSR2 +0.12 / 0.54, ERA5 -0.22 / 1.07; seeds
#: 0-11 of the same plan size ranged SAR -0.49..+0.19 / 0.81..1.08, incidence angle
#: -0.23..+0.06 / 0.61..0.69, AMSR2 +0.06..+0.57 / 0.28..0.61, ERA5 -0.61..+0.13 / 0.54..1.12
#: (AMSR2 and ERA5 vary little within 4 small scenes). Inputs not standardised, or
#: standardised twice, miss these by far (SAR means of about -14 or +2.6, AMSR2 of about -10).
TOLERANCES = {
    "SAR": (charts.SAR_VARIABLES, 0.6, (0.6, 1.5)),
    "incidence angle": ((IA,), 0.5, (0.4, 1.5)),
    "AMSR2": (charts.AMSR2_VARIABLES, 1.0, (0.15, 1.5)),
    "ERA5": (charts.ERA5_VARIABLES, 1.0, (0.3, 1.8)),
}


# ---------------------------------------------------------------------------------------------
# The variants, written once
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def roots(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("variants")
    roots = {}
    for convention in CONVENTIONS:
        roots[convention] = base / convention
        # standard is the writer's default: written without naming it
        options = {} if convention == "standard" else {"convention": convention}
        write_dataset(
            roots[convention], SynthConfig(**SCENES, **options), workers=1, progress=False
        )
    roots["dtu"] = _dtu_layout(roots["standard"], base / "dtu")
    return roots


def _dtu_layout(standard: Path, root: Path) -> Path:
    """The standard files as the DTU release lays them out: training scenes in the data folder,
    test scenes with their charts (from `_prep_reference.nc`) in `test_data/`."""
    (root / "test_data").mkdir(parents=True)
    for path in (standard / "train").glob(f"*{charts.PREP_SUFFIX}"):
        shutil.copy(path, root / path.name)
    for path in (standard / "test").glob(f"*{charts.PREP_SUFFIX}"):
        target = root / "test_data" / path.name
        shutil.copy(path, target)
        reference = path.with_name(path.name.replace(charts.PREP_SUFFIX, charts.REFERENCE_SUFFIX))
        with netCDF4.Dataset(reference) as ref, netCDF4.Dataset(target, "a") as ds:
            for chart in charts.CHARTS:
                var = ds.createVariable(chart, "u1", charts.SAR_DIMS)
                var.setncatts({k: ref[chart].getncattr(k) for k in ref[chart].ncattrs()})
                var[:] = np.asarray(ref[chart][:])
    return root


@pytest.fixture(scope="module")
def tables(roots):
    return {variant: discover(root) for variant, root in roots.items()}


@pytest.fixture(scope="module")
def patch_sets(roots, tables, tmp_path_factory):
    """PatchDataset of each variant's training scenes (all 24 inputs, 80 m working grid)."""
    cache = tmp_path_factory.mktemp("patch_cache")
    sets = {}
    for variant, table in tables.items():
        config = DataConfig(
            patch_size=48, batch_size=4, epoch_len=2, cache_dir=str(cache / variant)
        )
        sets[variant] = PatchDataset(config, table[table.split == "train"])
    return sets


@pytest.fixture(scope="module")
def scene_items(tables, tmp_path_factory):
    """`scene_items(variant)`: {scene_id: SceneDataset item} for every scene of the variant (all
    24 inputs, 80 m grid), built once per variant (a failing variant fails only its tests)."""
    cache = tmp_path_factory.mktemp("scene_cache")
    built = {}

    def items(variant: str) -> dict:
        if variant not in built:
            dataset = SceneDataset(DataConfig(cache_dir=str(cache / variant)), tables[variant])
            built[variant] = {item["scene_id"]: item for item in dataset}
        return built[variant]

    return items


@pytest.fixture(scope="module")
def checkpoint(roots, tmp_path_factory):
    """A tiny model trained on the standard variant (4 batches: its classes vary in space)."""
    from kit.experiment.train import train
    from tests.tiny_runs import tiny_config

    base = tmp_path_factory.mktemp("variants_run")
    config = tiny_config(roots["standard"], base / "run", base / "cache",
                         train={"epochs": 1, "val_fraction": 0.0, "lr": 0.02},
                         data={"epoch_len": 4})  # fmt: skip
    return train(config, progress=False).best_checkpoint


@pytest.fixture(scope="module")
def submissions(roots, checkpoint, tmp_path_factory) -> dict[str, Path]:
    """`autoice predict` of each variant's test scenes with the same checkpoint."""
    base = tmp_path_factory.mktemp("submissions")
    out = {}
    for variant, root in roots.items():
        out[variant] = base / f"{variant}.nc"
        args = ["predict", "--checkpoint", str(checkpoint), "--data", str(root),
                "--out", str(out[variant]), "--device", "cpu",
                "--cache-dir", str(base / "cache" / variant)]  # fmt: skip
        assert main(args) == 0, variant
    return out


# ---------------------------------------------------------------------------------------------
# Helpers reading the files directly (not through the kit)
# ---------------------------------------------------------------------------------------------


def file_values(path, name: str) -> np.ndarray:
    """A variable's stored values, undecoded."""
    with xr.open_dataset(path, mask_and_scale=False) as ds:
        return np.asarray(ds[name].values)


def sar_has_data(path, variant: str) -> np.ndarray:
    """Where the file's HH has data on the 80 m grid, by the variant's own no-data rule."""
    hh = file_values(path, SAR)
    if variant in ("standard", "dtu"):
        return hh != 0.0
    if variant == "minmax":
        return hh != 2.0
    if variant == "physical":
        return np.isfinite(hh)
    h, w = hh.shape  # raw: 40 m; an 80 m pixel has data where any of its 2 x 2 block has
    return np.isfinite(hh).reshape(h // 2, 2, w // 2, 2).any(axis=(1, 3))


def physical_sar(path, variant: str) -> np.ndarray:
    """HH in dB on the 80 m grid (NaN = no data), decoded here from the variant's convention."""
    hh = file_values(path, SAR).astype(np.float64)
    valid = sar_has_data(path, variant)
    low, high = charts.GLOBAL_MIN_MAX[SAR]
    mean, std = charts.GLOBAL_MEAN_STD[SAR]
    if variant == "raw":
        h, w = hh.shape
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN blocks
            hh = np.nanmean(hh.reshape(h // 2, 2, w // 2, 2), axis=(1, 3))
    elif variant == "minmax":
        hh = low + (hh + 1.0) * 0.5 * (high - low)
    elif variant in ("standard", "dtu"):
        hh = hh * std + mean
    return np.where(valid, hh, np.nan)


def _derived(source, folder: Path, change) -> Path:
    """A copy of a scene file (same name) changed in place with netCDF4 by `change(ds)`."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / Path(source).name
    shutil.copy(source, target)
    with netCDF4.Dataset(target, "a") as ds:
        ds.set_auto_mask(False)
        change(ds)
    return target


def _first_train(tables, variant):
    table = tables[variant]
    return table[table.split == "train"].path.iloc[0]


def read_submission(path) -> dict[str, np.ndarray]:
    with netCDF4.Dataset(path) as ds:
        return {name: np.asarray(ds[name][:]) for name in ds.variables}


def ids_of_test_scenes(table) -> list[str]:
    return sorted(table[table.split == "test"].scene_id)


def row_of(table, scene_id):
    return table[table.scene_id == scene_id].iloc[0]


# ---------------------------------------------------------------------------------------------
# discover, and how each file's convention is decided
# ---------------------------------------------------------------------------------------------


def test_discover_finds_the_same_scenes_and_splits_in_every_variant(tables):
    planned = sorted((spec.scene_id, split) for split, spec in plan_scenes(SynthConfig(**SCENES)))
    originals = {spec.scene_id: spec.original_id for _, spec in plan_scenes(SynthConfig(**SCENES))}
    assert [split for _, split in planned].count("test") == 2
    for variant, table in tables.items():
        assert sorted(zip(table.scene_id, table.split)) == planned, variant
        assert set(table.layout) == {"dtu" if variant == "dtu" else "torchgeo"}, variant
        for row in table.itertuples():
            name = Path(row.path).name
            assert name == (
                originals[row.scene_id] if variant == "raw" else row.scene_id + charts.PREP_SUFFIX
            )
            if variant == "dtu":  # test charts inside the test_data scenes, none apart
                assert Path(row.path).parent.name == ("test_data" if row.split == "test" else "dtu")
                assert pd.isna(row.reference_path)
            elif row.split == "test":
                assert Path(row.reference_path).name == row.scene_id + charts.REFERENCE_SUFFIX
            else:
                assert pd.isna(row.reference_path)


@pytest.mark.parametrize("variant", VARIANTS)
def test_each_file_is_decided_by_its_attributes_without_guessing(variant, tables):
    for path in tables[variant].path:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            scaling = file_scaling(path)
        assert scaling.convention == READ_AS[variant], path
        assert ("raw-release" if variant == "raw" else "variable_fill_value") in scaling.reason
        assert not [w for w in caught if issubclass(w.category, UserWarning)], path


# ---------------------------------------------------------------------------------------------
# PatchDataset: standardised exactly once, the same inputs whatever the file holds
# ---------------------------------------------------------------------------------------------


def pooled(scenes, names, channels) -> np.ndarray:
    """The normalised values of `names` over the scenes' valid pixels (float64)."""
    values = []
    for scene in scenes:
        for name in names:
            x = np.asarray(scene.x[channels.index(name)], dtype=np.float64)
            values.append(x[scene.valid] if name in charts.FULL_GRID_VARIABLES else x.ravel())
    return np.concatenate(values)


@pytest.mark.parametrize("variant", VARIANTS)
def test_patch_inputs_are_about_mean_0_sd_1_on_valid_pixels(variant, patch_sets):
    dataset = patch_sets[variant]
    assert len(dataset.scenes) == SCENES["n_train"]
    for group, (names, mean_bound, (sd_low, sd_high)) in TOLERANCES.items():
        values = pooled(dataset.scenes, names, dataset.channels)
        assert abs(values.mean()) < mean_bound, (group, values.mean())
        assert sd_low < values.std() < sd_high, (group, values.std())
    x, labels = dataset.batch(0)
    labelled = np.stack([labels[c].numpy() != charts.MASK for c in charts.CHARTS]).any(0)
    sar = x[:, [dataset.channels.index(n) for n in charts.SAR_VARIABLES]].numpy()
    on_labels = sar.transpose(1, 0, 2, 3)[:, labelled]  # labelled pixels always have SAR
    assert abs(on_labels.mean()) < 0.6 and 0.5 < on_labels.std() < 1.6


@pytest.mark.parametrize("variant", ["minmax", "physical", "raw", "dtu"])
def test_patch_inputs_are_the_same_in_every_variant(variant, patch_sets):
    standard, other = patch_sets["standard"], patch_sets[variant]
    assert other.channels == standard.channels
    assert [s.scene_id for s in other.scenes] == [s.scene_id for s in standard.scenes]
    for mine, theirs in zip(other.scenes, standard.scenes):
        np.testing.assert_array_equal(mine.valid, theirs.valid)
        np.testing.assert_array_equal(mine.charts, theirs.charts)
        if variant == "dtu":  # the very same files
            np.testing.assert_array_equal(mine.x, theirs.x)
        else:
            np.testing.assert_allclose(np.float32(mine.x), np.float32(theirs.x), **F16)
    np.testing.assert_array_equal(other.probabilities, standard.probabilities)
    for index in range(2):
        (x, labels), (x_std, labels_std) = other.batch(index), standard.batch(index)
        np.testing.assert_allclose(x.numpy(), x_std.numpy(), **F16)
        for chart in charts.CHARTS:
            np.testing.assert_array_equal(labels[chart].numpy(), labels_std[chart].numpy())


@pytest.mark.parametrize("variant", CONVENTIONS)
def test_cached_sar_is_the_file_value_standardised_once(variant, patch_sets, tables):
    """An oracle outside the kit: decode HH to dB here, standardise it once, compare."""
    dataset, table = patch_sets[variant], tables[variant]
    mean, std = charts.GLOBAL_MEAN_STD[SAR]
    for scene in dataset.scenes:
        db = physical_sar(row_of(table, scene.scene_id).path, variant)
        expected = np.where(np.isfinite(db), (db - mean) / std, charts.NORMALISED_FILL_VALUE)
        cached = np.float32(scene.x[dataset.channels.index(SAR)])
        np.testing.assert_allclose(cached, expected, **F16)


# ---------------------------------------------------------------------------------------------
# SceneDataset: no-data mask and charts
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
def test_scene_valid_mask_is_where_the_sar_has_data(variant, tables, scene_items):
    for row in tables[variant].itertuples():
        item = scene_items(variant)[row.scene_id]
        expected = sar_has_data(row.path, variant)
        assert item["shape"] == SHAPE and expected.shape == SHAPE
        assert expected.any() and (~expected).any()  # each scene has data and no data
        np.testing.assert_array_equal(item["valid"].numpy(), expected)
        standard = scene_items("standard")[row.scene_id]
        np.testing.assert_array_equal(item["valid"].numpy(), standard["valid"].numpy())
        np.testing.assert_allclose(item["x"].numpy(), standard["x"].numpy(), **F16)


def test_raw_80m_pixel_has_data_where_any_of_its_40m_pixels_has(tables, tmp_path):
    """The raw writer repeats each 80 m pixel 2 x 2, so every block is all data or all NaN;
    here blocks get unequal values and 1, 3 or 4 NaN pixels, so that the block rule (any) and
    the NaN-ignoring average are really exercised."""
    source = _first_train(tables, "raw")
    before = sar_has_data(source, "raw")
    rows, cols = np.nonzero(before)
    picks = np.random.default_rng(0).choice(len(rows), size=30, replace=False)
    blocks = [(int(rows[i]), int(cols[i]), (1, 3, 4)[k % 3]) for k, i in enumerate(picks)]

    def punch(ds):
        hh = np.array(ds[SAR][:])
        for r, c, n_nan in blocks:
            block = hh[2 * r : 2 * r + 2, 2 * c : 2 * c + 2]
            block += np.float32([[-3.0, 1.0], [0.5, 2.5]])
            block.flat[:n_nan] = np.nan
        ds[SAR][:] = hh

    path = _derived(source, tmp_path / "punched", punch)
    item = SceneDataset(DataConfig(cache_dir=str(tmp_path / "cache")), [path])[0]
    emptied = np.zeros(SHAPE, dtype=bool)
    for r, c, n_nan in blocks:
        emptied[r, c] = n_nan == 4
    assert emptied.sum() == 10
    np.testing.assert_array_equal(item["valid"].numpy(), before & ~emptied)
    np.testing.assert_array_equal(item["valid"].numpy(), sar_has_data(path, "raw"))
    mean, std = charts.GLOBAL_MEAN_STD[SAR]
    db = physical_sar(path, "raw")  # mean of the block's finite 40 m pixels
    expected = np.where(np.isfinite(db), (db - mean) / std, charts.NORMALISED_FILL_VALUE)
    cached = item["x"][charts.SCENE_VARIABLES.index(SAR)].numpy()
    np.testing.assert_allclose(cached, expected, **F16)
    unchanged = SceneDataset(DataConfig(cache_dir=str(tmp_path / "cache")), [source])[0]
    for chart in charts.CHARTS:  # charts masked where the SAR has no data, nowhere else anew
        was, now = unchanged["charts"][chart], item["charts"][chart]
        assert (now[emptied] == charts.MASK).all() and (was[emptied] != charts.MASK).any()
        np.testing.assert_array_equal(now[~emptied], was[~emptied])


@pytest.mark.parametrize("variant", VARIANTS)
def test_scene_charts_are_the_same_in_every_variant(variant, tables, scene_items):
    standard_table = tables["standard"]
    for row in tables[variant].itertuples():
        found = scene_items(variant)[row.scene_id]["charts"]
        assert sorted(found) == sorted(charts.CHARTS), (variant, row.scene_id)
        source = row_of(standard_table, row.scene_id)
        chart_file = source.reference_path if source.split == "test" else source.path
        no_data = ~sar_has_data(row.path, variant)
        for chart in charts.CHARTS:
            np.testing.assert_array_equal(found[chart], file_values(chart_file, chart))
            assert (found[chart][no_data] == charts.MASK).all()
            assert (found[chart][~no_data] != charts.MASK).any()


# ---------------------------------------------------------------------------------------------
# autoice predict and autoice score
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
def test_predict_writes_255_exactly_where_the_test_sar_has_no_data(variant, tables, submissions):
    table = tables[variant]
    found = read_submission(submissions[variant])
    ids = ids_of_test_scenes(table)
    expected = [charts.submission_variable(s, c) for s in ids for c in charts.CHARTS]
    assert sorted(found) == sorted(expected)
    for scene_id in ids:
        no_data = ~sar_has_data(row_of(table, scene_id).path, variant)
        for chart in charts.CHARTS:
            values = found[charts.submission_variable(scene_id, chart)]
            assert values.shape == SHAPE and values.dtype == np.uint8
            np.testing.assert_array_equal(values == charts.MASK, no_data)
            assert values[~no_data].max() < charts.N_CLASSES[chart]


@pytest.mark.parametrize("variant", ["minmax", "physical", "raw", "dtu"])
def test_submissions_are_the_same_in_every_variant(variant, submissions):
    standard = read_submission(submissions["standard"])
    other = read_submission(submissions[variant])
    assert sorted(other) == sorted(standard)
    # The model's classes vary in space, so equal submissions mean equal inputs.
    assert any(len(np.unique(v[v != charts.MASK])) > 1 for v in standard.values())
    for name, values in standard.items():
        np.testing.assert_array_equal(other[name] == charts.MASK, values == charts.MASK)
        if variant == "dtu":  # the very same files
            np.testing.assert_array_equal(other[name], values)
        else:  # inputs equal to float16 precision: measured identical, a stray flip allowed
            assert (other[name] != values).mean() <= 1e-3, name


def _score(args, capsys) -> dict:
    assert main(["score", *map(str, args), "--json", "-", "--workers", "1"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("variant", [*CONVENTIONS, "dtu"])
def test_score_against_each_variants_reference(variant, roots, tables, submissions, capsys):
    report = _score([submissions[variant], "--reference", roots[variant]], capsys)
    assert report["scenes"] == ids_of_test_scenes(tables[variant])
    assert np.isfinite(report["combined"])
    # The references are the same charts in every variant: the same submission scores the same.
    standard = score_submission(submissions["standard"], roots["standard"], workers=1)
    same = score_submission(submissions["standard"], roots[variant], workers=1)
    assert same.combined == standard.combined and same.per_scene == standard.per_scene


# ---------------------------------------------------------------------------------------------
# autoice inspect
# ---------------------------------------------------------------------------------------------


def inspect_lines(path, capsys, *options) -> tuple[str, dict[str, list[str]]]:
    """(the `inputs:` line, {variable: [shape, valid, mean, std, units]}) of `autoice inspect`."""
    assert main(["inspect", *options, str(path)]) == 0
    out = capsys.readouterr().out
    inputs = [line.strip() for line in out.splitlines() if line.strip().startswith("inputs:")]
    rows = {}
    for line in out.splitlines():
        parts = line.split()
        if parts and parts[0] in charts.SCENE_VARIABLES:
            rows[parts[0]] = [*parts[1:5], " ".join(parts[5:])]
    assert len(inputs) == 1 and sorted(rows) == sorted(charts.SCENE_VARIABLES), out
    return inputs[0], rows


@pytest.mark.parametrize("variant", VARIANTS)
def test_inspect_shows_units_and_the_decided_convention(variant, tables, capsys):
    path = tables[variant][tables[variant].split == "train"].path.iloc[0]
    inputs, rows = inspect_lines(path, capsys)
    layout = "raw release, 40 m" if variant == "raw" else "ready-to-train"
    assert re.fullmatch(rf"inputs: {READ_AS[variant]} \(.+\); {re.escape(layout)}", inputs)
    assert ("raw-release" if variant == "raw" else "variable_fill_value") in inputs
    for name, (_, _, _, _, units) in rows.items():
        if variant in ("standard", "dtu"):
            assert units == "z-score", name
        elif variant == "minmax":
            assert units == "scaled [-1, 1]", name
        else:
            assert units == charts.UNITS[name], name
    if READ_AS[variant] == "physical":
        assert rows[SAR][4] == "dB" and rows["btemp_36_5h"][4] == "K"
        assert rows["distance_map"][4] == "index" and float(rows[SAR][2]) < -5.0  # dB
    # The valid share counts the variant's own no-data value (at the file's resolution).
    hh = file_values(path, SAR)
    stored = {"standard": hh != 0, "dtu": hh != 0, "minmax": hh != 2}.get(variant, np.isfinite(hh))
    assert 0.5 < stored.mean() < 1.0
    assert rows[SAR][1] == f"{stored.mean():.1%}" and rows[IA][1] == f"{stored.mean():.1%}"


def test_inspect_input_scaling_option_overrides_the_file(tables, capsys):
    path = tables["standard"][tables["standard"].split == "train"].path.iloc[0]
    inputs, rows = inspect_lines(path, capsys, "--input-scaling", "physical")
    assert inputs.startswith("inputs: physical (")
    assert rows[SAR][4] == "dB" and rows[SAR][1] == "100.0%"  # 0 is a value, not no data


# ---------------------------------------------------------------------------------------------
# Bad input and the explicit setting
# ---------------------------------------------------------------------------------------------


def test_fill_attributes_that_disagree_are_one_error_naming_file_and_both_variables(
    tables, tmp_path, capsys
):
    def ia_says_minmax(ds):
        ds[IA].setncattr(charts.VARIABLE_FILL_ATTRIBUTE, np.float32(2.0))

    path = _derived(_first_train(tables, "standard"), tmp_path / "bad", ia_says_minmax)
    config = DataConfig(patch_size=48, batch_size=2, cache_dir=str(tmp_path / "cache"))
    with pytest.raises(KitError) as raised:
        PatchDataset(config, [path])
    message = str(raised.value)
    assert str(path) in message and "disagree" in message and "\n" not in message
    for name in (SAR, IA, "standard", "minmax"):
        assert name in message
    assert not list((tmp_path / "cache").rglob("*.npy"))  # nothing cached from it
    assert main(["inspect", str(path)]) == 2
    assert message in capsys.readouterr().err


def test_values_that_fit_no_convention_ask_for_input_scaling(tables, tmp_path):
    """No fill attribute, and z-scores stored x 1000 (say, packed without their scale factor)."""

    def drop_attributes_and_rescale(ds):
        for name in charts.SCENE_VARIABLES:
            var = ds[name]
            if charts.VARIABLE_FILL_ATTRIBUTE in var.ncattrs():
                var.delncattr(charts.VARIABLE_FILL_ATTRIBUTE)
            var[:] = np.asarray(var[:]) * 1000.0

    path = _derived(_first_train(tables, "standard"), tmp_path / "bad", drop_attributes_and_rescale)
    with pytest.raises(KitError, match="set input_scaling") as raised:
        SceneDataset(DataConfig(cache_dir=str(tmp_path / "cache")), [path])[0]
    assert str(path) in str(raised.value) and "cannot decide" in str(raised.value)


def test_a_physical_file_without_attribute_is_decided_from_values_with_a_warning(
    tables, patch_sets, tmp_path
):
    def drop_attributes(ds):
        for name in charts.FILL_VALUE_VARIABLES:
            ds[name].delncattr(charts.VARIABLE_FILL_ATTRIBUTE)

    source = _first_train(tables, "physical")
    path = _derived(source, tmp_path / "unmarked", drop_attributes)
    cache = SceneCache(patch_sets["physical"].config, tmp_path / "cache")
    with pytest.warns(UserWarning, match=re.escape(str(path))) as caught:
        scene = cache.get(path)
    message = " ".join(str(w.message) for w in caught)
    assert "'physical' decided from the values" in message and "NaN" in message
    marked = next(s for s in patch_sets["physical"].scenes if s.path == source)
    np.testing.assert_array_equal(scene.x, marked.x)
    np.testing.assert_array_equal(scene.valid, marked.valid)


def test_input_scaling_setting_overrides_what_the_file_says(tables, tmp_path):
    """`physical` forced on a standard file: its z-scores are taken for dB (wrong, as asked)."""
    path = _first_train(tables, "standard")
    auto = SceneCache(DataConfig(cache_dir=str(tmp_path)), tmp_path).get(path)
    forced_config = DataConfig(input_scaling="physical", cache_dir=str(tmp_path))
    forced = SceneCache(forced_config, tmp_path).get(path)  # same cache folder: its own entry
    mean, std = charts.GLOBAL_MEAN_STD[SAR]
    stored = file_values(path, SAR).astype(np.float64)
    channel = forced_config.variables.index(SAR)
    np.testing.assert_allclose(np.float32(forced.x[channel]), (stored - mean) / std, **F16)
    assert forced.valid.all() and not auto.valid.all()  # 0 is a value in physical units
    np.testing.assert_allclose(
        np.float32(auto.x[channel]), np.where(auto.valid, stored, 0.0), **F16
    )
    wrong = np.float32(forced.x[channel])[auto.valid]
    bound = TOLERANCES["SAR"][1]
    assert abs(wrong.mean()) > 2 * bound  # the statistics test would catch such inputs
