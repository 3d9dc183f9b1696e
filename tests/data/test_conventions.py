"""Input conventions: the distance index, conversions both ways, and the decision's edge cases."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from kit import charts
from kit.data.conventions import (
    Scaling,
    decide_scaling,
    distance_index,
    from_physical,
    no_data,
    to_physical,
    to_zscore,
)
from kit.errors import KitError

STANDARD, MINMAX, PHYSICAL = (Scaling(c, "test") for c in charts.INPUT_SCALINGS)


def test_distance_index_classes():
    km = np.array([0.0, 0.2, 0.5, 0.51, 10.0, 10.1, 60.0, 60.01, 500.0, np.nan])
    assert distance_index(km).tolist()[:-1] == [0, 1, 1, 2, 20, 21, 40, 41, 41]
    assert np.isnan(distance_index(km)[-1])
    low, high = charts.GLOBAL_MIN_MAX["distance_map"]
    assert distance_index(np.array([0.0, 1e6])).tolist() == [low, high]  # the real range


@pytest.mark.parametrize("convention", charts.INPUT_SCALINGS)
def test_written_values_read_back_as_the_same_z_scores(convention):
    rng = np.random.default_rng(0)
    for name in ("nersc_sar_primary", "btemp_36_5h", "tclw"):
        mean, std = charts.GLOBAL_MEAN_STD[name]
        physical = (mean + std * rng.standard_normal(500)).astype(np.float32)
        physical[:7] = np.nan  # no data
        scaling = Scaling(convention, "test")
        stored = from_physical(physical, name, convention)
        assert np.isfinite(stored).all() == (convention != "physical")
        z = to_zscore(stored, name, scaling)
        expected = (physical - mean) / std
        low, high = charts.GLOBAL_MIN_MAX[name]
        inside = (physical >= low) & (physical <= high)  # minmax clips outside the global range
        if convention == "standard" and name not in charts.FILL_VALUE_VARIABLES:
            assert (z[:7] == 0).all()  # no fill attribute: 0 is read as the mean, as loaders do
        else:
            assert np.isnan(z[:7]).all()
        assert np.allclose(z[7:][inside[7:]], expected[7:][inside[7:]], atol=1e-4)
        assert np.allclose(to_physical(stored, name, scaling)[7:][inside[7:]], physical[7:][inside[7:]], rtol=1e-4, atol=1e-3)  # fmt: skip


def test_no_data_per_convention():
    values = np.array([0.0, 2.0, np.nan, 0.5], np.float32)
    assert no_data(values, "nersc_sar_primary", STANDARD).tolist() == [True, False, True, False]
    assert no_data(values, "t2m", STANDARD).tolist() == [False, False, True, False]  # 0 = mean
    assert no_data(values, "t2m", MINMAX).tolist() == [False, True, True, False]
    assert no_data(values, "t2m", PHYSICAL).tolist() == [False, False, True, False]


def test_a_valid_z_score_of_exactly_zero_is_not_written_as_no_data():
    mean = charts.GLOBAL_MEAN_STD["nersc_sar_primary"][0]
    stored = from_physical(np.array([mean], np.float64), "nersc_sar_primary", "standard")
    assert stored.dtype == np.float32 and stored[0] != 0.0
    assert not no_data(stored, "nersc_sar_primary", STANDARD)[0]


def test_kilometres_of_older_kit_files_become_the_index():
    km = np.array([[0.0, 0.3], [12.0, 80.0]], np.float32)
    ds = xr.Dataset({"distance_map": (charts.SAR_DIMS, km, {"units": "km"})})
    scaling = decide_scaling(ds, "old.nc", "physical")
    assert scaling.distance_units == "km"
    mean, std = charts.GLOBAL_MEAN_STD["distance_map"]
    z = to_zscore(km, "distance_map", scaling)
    assert np.allclose(z * std + mean, [[0, 1], [21, 41]], atol=1e-4)


def _scene(**variables) -> xr.Dataset:
    return xr.Dataset({k: (charts.SAR_DIMS, v[0], v[1]) for k, v in variables.items()})


def test_unknown_fill_value_and_setting_are_named():
    hh = np.ones((4, 4), np.float32)
    ds = _scene(nersc_sar_primary=(hh, {"variable_fill_value": -999.0}))
    with pytest.raises(
        KitError, match=r"f\.nc: variable nersc_sar_primary has variable_fill_value=-999"
    ):
        decide_scaling(ds, "f.nc")
    with pytest.raises(KitError, match="input_scaling: invalid value 'zscore'; allowed: auto"):
        decide_scaling(ds, "f.nc", "zscore")


def test_the_raw_layout_is_physical_without_looking_at_values():
    ds = xr.Dataset({"polygon_icechart": (charts.SAR_DIMS, np.zeros((4, 4), np.float32))})
    assert decide_scaling(ds, "raw.nc").convention == "physical"
