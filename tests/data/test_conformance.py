"""Conformance: `autoice synth` output holds every published fact about the real AI4Arctic files.

Each test names its source. The readers below are written here to read the files the way the
ecosystem's code does (the official starter kit, MMSeaIce, TorchGeo's dataset class); they are
our checks of the published behaviour, not those projects' code.

Sources:
- [MMSeaIce-nb] MMSeaIce's data exploration notebook, which prints a real ready-to-train scene
  (`20180607T184326_dmi_prep.nc`) and a raw training file with xarray.
- [kit] the official AutoICE starter kit (loaders, `test_upload` and `introduction` notebooks,
  `compute_metrics`, `misc/global_minmax.npy`).
- [MMSeaIce] MMSeaIce's loaders (masks `HH != 0`, opens with h5netcdf) and paper ([-1, 1], 2 as
  no data).
- [TorchGeo] TorchGeo's `AI4ArcticSeaIce` dataset class (Hugging Face mirror, `metadata.csv`).
- [data page] the challenge's data page ("removal of nan values", "mask alignment").
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from kit import charts
from kit.data.conventions import display_units, file_scaling
from kit.data.synthetic import SynthConfig, write_dataset

SIZE = (130, 160)  # lines, samples: 2 km grid floor(130/25)=5 (round: 5), floor(160/25)=6 (6)
ODD = (137, 188)  # floor(137/25)=5 but round 5; floor(188/25)=7 but round(7.52)=8


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> dict[str, object]:
    """One small set per convention, from the same seed (and one of odd size)."""
    sets = {}
    for convention in ("standard", "minmax", "physical", "raw"):
        root = tmp_path_factory.mktemp(convention)
        config = SynthConfig(2, 1, SIZE, seed=7, convention=convention)
        write_dataset(root, config, workers=1, progress=False)
        sets[convention] = root
    odd = tmp_path_factory.mktemp("odd")
    write_dataset(odd, SynthConfig(1, 0, ODD, seed=8), workers=1, progress=False)
    sets["odd"] = odd
    return sets


def _rows(root) -> pd.DataFrame:
    return pd.read_csv(root / "metadata.csv", keep_default_na=False)


def _train_file(root):
    row = _rows(root).query("split == 'train'").iloc[0]
    return root / row.input_path


def _test_row(root):
    return _rows(root).query("split == 'test'").iloc[0]


# ---------------------------------------------------------------------------------------------
# [MMSeaIce-nb] the structure of a ready-to-train file
# ---------------------------------------------------------------------------------------------


def test_ready_to_train_dims_variables_and_types(written):
    with xr.open_dataset(_train_file(written["standard"])) as ds:
        assert set(ds.data_vars) == set(charts.READY_TO_TRAIN_VARIABLES)
        assert len(ds.data_vars) == 29
        for chart in charts.CHARTS:
            assert ds[chart].dims == ("sar_lines", "sar_samples") and ds[chart].dtype == np.uint8
        for name in ("sar_grid2d_latitude", "sar_grid2d_longitude"):
            assert ds[name].dims == ("sar_sample_2dgrid_points", "sar_line_2dgrid_points")
            assert ds[name].dtype == np.float64 and ds[name].shape == (21, 21)
        for name in (
            "nersc_sar_primary",
            "nersc_sar_secondary",
            "sar_incidenceangle",
            "distance_map",
        ):
            assert ds[name].dims == ("sar_lines", "sar_samples")
        for name in charts.AMSR2_VARIABLES + charts.ERA5_VARIABLES:
            assert ds[name].dims == ("2km_grid_lines", "2km_grid_samples")
        assert not any("line" in v and "grid2d" in v for v in ds.data_vars if "lat" not in v)
        assert "sar_grid2d_line" not in ds and "sar_grid2d_sample" not in ds


def test_2km_grid_is_floor_of_n_over_25(written):
    with xr.open_dataset(_train_file(written["odd"])) as ds:
        assert (ds.sizes["sar_lines"], ds.sizes["sar_samples"]) == ODD
        assert (ds.sizes["2km_grid_lines"], ds.sizes["2km_grid_samples"]) == (137 // 25, 188 // 25)


def test_global_attributes(written):
    for split in ("train", "test"):
        row = _rows(written["standard"]).query(f"split == '{split}'").iloc[0]
        with xr.open_dataset(written["standard"] / row.input_path) as ds:
            attrs = ds.attrs
        assert attrs["scene_id"] == f"{row.scene_id}_prep.nc"  # with the suffix
        assert attrs["ice_service"] == row.scene_id[-3:] and attrs["flip"] == 0
        assert attrs["pixel_spacing"] == 80
        raw_name = attrs["original_id"]
        # [kit] the ready-to-train name of a raw name: name[17:32] + '_' + name[77:80]
        assert raw_name[17:32] + "_" + raw_name[77:80] + "_prep.nc" == attrs["scene_id"]


# ---------------------------------------------------------------------------------------------
# [kit] the starter kit's way of reading
# ---------------------------------------------------------------------------------------------


def test_starter_kit_reading(written):
    with xr.open_dataset(_train_file(written["standard"])) as scene:  # its default open
        hh = scene["nersc_sar_primary"].values
        no_data = hh == 0  # its train_fill_value
        assert no_data.any() and not no_data.all()
        for name in ("nersc_sar_primary", "nersc_sar_secondary", "sar_incidenceangle"):
            fill = scene[name].attrs["variable_fill_value"]  # introduction notebook
            assert fill == 0
            assert np.array_equal(scene[name].values == fill, no_data)
        for chart in charts.CHARTS:
            fill = scene[chart].attrs["chart_fill_value"]
            assert fill == 255
            assert (scene[chart].values[no_data] == fill).all()  # mask alignment
        for name in charts.ERA5_VARIABLES:
            assert isinstance(scene[name].units, str)  # introduction notebook labels plots
        # Values go to its network without scaling: all finite ("removal of nan values").
        stacked = scene[list(charts.SCENE_VARIABLES)].to_array().values
        assert np.isfinite(stacked).all()


def test_starter_kit_test_upload_reading(written):
    """The test inputs carry no charts; the no-data mask comes from the SAR alone."""
    row = _test_row(written["standard"])
    with xr.open_dataset(written["standard"] / row.input_path) as scene:
        assert not any(c in scene for c in charts.CHARTS)
        masks = scene["nersc_sar_primary"].values == 0
    with xr.open_dataset(written["standard"] / row.reference_path) as reference:
        assert (reference["SIC"].values[masks] == 255).all()


def test_standard_values_are_z_scores_of_the_global_statistics(written):
    with (
        xr.open_dataset(_train_file(written["standard"])) as std,
        xr.open_dataset(_train_file(written["physical"])) as phys,
    ):
        for name in charts.SCENE_VARIABLES:
            mean, sd = charts.GLOBAL_MEAN_STD[name]
            physical = phys[name].values.astype(np.float64)
            valid = np.isfinite(physical)
            expected = (physical[valid] - mean) / sd
            assert np.allclose(std[name].values[valid], expected, atol=1e-4), name


# ---------------------------------------------------------------------------------------------
# [MMSeaIce] its loader: h5netcdf, HH != 0, lat/lon standardised; its [-1, 1] variant
# ---------------------------------------------------------------------------------------------


def test_mmseaice_reading(written):
    with xr.open_dataset(_train_file(written["standard"]), engine="h5netcdf") as scene:
        hh = scene["nersc_sar_primary"]
        sod_masked = scene["SOD"].where(hh != 0).values
        assert np.isnan(sod_masked[hh.values == 0]).all()
        lat = (scene["sar_grid2d_latitude"].values - 69.12526250065734) / 7.03179625261593
        lon = (scene["sar_grid2d_longitude"].values + 56.38966259295485) / 31.32935694114249
        inputs = scene[list(charts.SCENE_VARIABLES)].to_array().values
    assert np.isfinite(lat).all() and np.isfinite(lon).all() and np.isfinite(inputs).all()


def test_minmax_variant_holds_values_in_minus_one_one_and_2_as_no_data(written):
    with xr.open_dataset(_train_file(written["minmax"])) as scene:
        hh = scene["nersc_sar_primary"].values
        no_data = hh == 2
        assert no_data.any() and scene["nersc_sar_primary"].attrs["variable_fill_value"] == 2
        for name in charts.SCENE_VARIABLES:
            values = scene[name].values
            inside = values[values != 2]
            assert np.isfinite(values).all() and (np.abs(inside) <= 1).all(), name
        assert (scene["SIC"].values[no_data] == 255).all()


# ---------------------------------------------------------------------------------------------
# [TorchGeo] the Hugging Face mirror as TorchGeo's dataset class reads it
# ---------------------------------------------------------------------------------------------


def test_torchgeo_reading(written):
    root = written["standard"]
    meta = pd.read_csv(root / "metadata.csv")
    assert {"input_path", "reference_path", "date", "ice_service", "split", "region_id"} <= set(
        meta.columns
    )
    for row in meta.itertuples():
        with xr.open_dataset(root / row.input_path) as data:
            image = np.stack([data["nersc_sar_primary"].values, data["nersc_sar_secondary"].values])
            assert np.isfinite(image).all()
        label_path = root / row.input_path
        if row.split == "test":  # the test charts: the input path with `_reference` added
            label_path = root / row.input_path.replace(".nc", "_reference.nc")
        with xr.open_dataset(label_path) as target:
            sod = target["SOD"].values.astype(np.int64)
        assert sod.shape == image.shape[1:] and set(np.unique(sod)) <= {*range(6), 255}


# ---------------------------------------------------------------------------------------------
# [kit] distance_map is an index, 0 = land
# ---------------------------------------------------------------------------------------------


def test_distance_map_is_an_index(written):
    with xr.open_dataset(_train_file(written["physical"])) as phys:
        index = phys["distance_map"].values
        charts_sic = phys["SIC"].values
    assert np.array_equal(index, np.round(index))
    low, high = charts.GLOBAL_MIN_MAX["distance_map"]  # 0 .. 41 in the real data
    assert low <= index.min() and index.max() <= high
    assert (charts_sic[index == 0] == 255).all()  # land carries no label


#: What `distance_map`'s `units` say in each convention, and how its `long_name` gives the index
#: back from the values (the numbers are read from the long name itself).
DISTANCE_STATED = {
    "standard": ("z-score", r"\(index - ([\d.]+)\) / ([\d.]+)$", lambda v, m, s: v * s + m),
    "minmax": ("scaled [-1, 1]", r"2 \* \(index - ([\d.]+)\) / ([\d.]+) - 1$",
               lambda v, low, span: (v + 1) / 2 * span + low),
    "physical": ("index", r"index \(0 = land, 1-41 further out\), not km$", lambda v: v),
}  # fmt: skip


def test_distance_map_attributes_say_what_the_values_are_in_each_convention(written):
    decoded = {}
    for convention, (units, pattern, to_index) in DISTANCE_STATED.items():
        path = _train_file(written[convention])
        with xr.open_dataset(path) as ds:
            values = ds["distance_map"].values.astype(np.float64)
            attrs = dict(ds["distance_map"].attrs)
        assert attrs["units"] == units, convention
        # `autoice inspect` shows the same units for the file it decides on.
        assert display_units("distance_map", file_scaling(path)) == units
        match = re.search(pattern, attrs["long_name"])
        assert match, (convention, attrs["long_name"])
        index = to_index(values, *map(float, match.groups()))
        assert np.abs(index - np.round(index)).max() < 0.01, convention  # whole class ids
        assert index.min() >= -0.01 and index.max() <= 41.01, convention
        decoded[convention] = np.round(index)
    # The same scene (same seed) in every convention: the same index (of several classes).
    assert len(np.unique(decoded["physical"])) > 1
    for convention in ("standard", "minmax"):
        assert np.array_equal(decoded[convention], decoded["physical"]), convention


# ---------------------------------------------------------------------------------------------
# The raw release ([MMSeaIce-nb] raw file printout)
# ---------------------------------------------------------------------------------------------


def test_raw_layout(written):
    root = written["raw"]
    meta = _rows(root)
    row = meta.query("split == 'train'").iloc[0]
    name = row.input_path.split("/")[-1]
    assert charts.RAW_NAME_PATTERN.match(name)
    assert name[17:32] + "_" + name[77:80] == row.scene_id
    with xr.open_dataset(root / row.input_path) as raw:
        assert (raw.sizes["sar_lines"], raw.sizes["sar_samples"]) == (2 * SIZE[0], 2 * SIZE[1])
        assert raw.sizes["2km_grid_lines"] == 2 * SIZE[0] // 50  # one cell per 50 pixels
        assert raw.sizes["sar_grid_points"] == 21 * 21
        for name in ("sar_grid_line", "sar_grid_sample", "sar_grid_latitude"):
            assert raw[name].dims == ("sar_grid_points",) and raw[name].dtype == np.float64
        assert np.isnan(raw["nersc_sar_primary"].values).any()  # dB with NaN
        assert raw["polygon_icechart"].dims == ("sar_lines", "sar_samples")
        header = str(raw["polygon_codes"].values[0])
        assert header.startswith("poly_id;CT;CA;SA;FA;") and header.endswith(";POLY_TYPE")
        assert "polygon_codes" in raw.coords
        assert raw["t2m"].dtype == np.float64
    test_input = root / meta.query("split == 'test'").iloc[0].input_path
    with xr.open_dataset(test_input) as raw_test:
        assert "polygon_icechart" not in raw_test  # test charts were not released


def test_same_seed_same_bytes(tmp_path):
    config = SynthConfig(1, 1, (60, 80), seed=12)
    a, b = tmp_path / "a", tmp_path / "b"
    write_dataset(a, config, workers=1, progress=False)
    write_dataset(b, config, workers=2, progress=False)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files and files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for f in files:
        assert (a / f).read_bytes() == (b / f).read_bytes(), f
