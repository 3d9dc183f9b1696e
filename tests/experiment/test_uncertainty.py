"""Predictive distributions: temperature scaling, SIC bins and intervals, the Calibration record,
each against a direct numpy computation of its definition."""

import math
from statistics import NormalDist

import numpy as np
import pytest
import torch

from kit import charts
from kit.errors import KitError
from kit.experiment.uncertainty import (
    INTERVAL_Z,
    SIC_STD_FLOOR,
    Calibration,
    gaussian_interval,
    probability_interval,
    sic_bin_probabilities,
    sic_class_probability,
    sic_std,
    tempered,
    to_percent,
)


def _dirichlet(n_classes, n_pixels, seed=0, concentration=0.3):
    rng = np.random.default_rng(seed)
    return rng.dirichlet(np.full(n_classes, concentration), size=n_pixels).T  # [K, n]


def test_temperature_scaling_is_softmax_of_scaled_log_probabilities_and_keeps_the_argmax():
    p = _dirichlet(6, 500)
    for temperature in (0.3, 1.0, 2.5):
        got = tempered(torch.from_numpy(p), temperature).numpy()
        scaled = p ** (1 / temperature)
        np.testing.assert_allclose(got, scaled / scaled.sum(axis=0), rtol=1e-6, atol=1e-9)
        assert (got.argmax(axis=0) == p.argmax(axis=0)).all()
    assert tempered(torch.from_numpy(p), 50.0).max() < 0.3  # flattens towards 1/6


def test_interval_from_class_probabilities_is_the_central_90_percent_holding_the_class():
    p = _dirichlet(11, 2000, seed=1)
    classes = np.random.default_rng(2).integers(0, 11, 2000)
    low, high = (
        t.numpy() for t in probability_interval(torch.from_numpy(p), torch.from_numpy(classes))
    )
    cumulative = p.cumsum(axis=0)
    for i in range(p.shape[1]):
        first_low = int(np.argmax(cumulative[:, i] > 0.05))
        first_high = int(np.argmax(cumulative[:, i] >= 0.95 - 1e-6))
        assert low[i] == min(first_low, classes[i]) and high[i] == max(first_high, classes[i])
        assert p[first_low : first_high + 1, i].sum() >= 0.9 - 1e-6
    assert low.dtype == np.uint8 and (low <= classes).all() and (classes <= high).all()


def test_sic_bins_are_gaussian_masses_of_unit_bins_with_open_ends():
    mean = torch.tensor([-1.0, 0.2, 4.6, 9.9, 13.0], dtype=torch.float64)
    std = torch.tensor([0.5, 1.0, 2.0, 0.7, 3.0], dtype=torch.float64)
    bins = sic_bin_probabilities(mean, std).numpy()
    assert bins.shape == (11, 5)
    np.testing.assert_allclose(bins.sum(axis=0), 1.0, atol=1e-12)
    for i, (m, s) in enumerate(zip(mean.tolist(), std.tolist())):
        cdf = NormalDist(m, s).cdf
        expected = [cdf(0.5)] + [cdf(c + 0.5) - cdf(c - 0.5) for c in range(1, 10)] + [1 - cdf(9.5)]
        np.testing.assert_allclose(bins[:, i], expected, atol=1e-12)
        for c in range(11):
            one = sic_class_probability(mean[i : i + 1], std[i : i + 1], torch.tensor([c]))
            assert math.isclose(float(one), expected[c], abs_tol=1e-12)


def test_gaussian_interval_rounds_outward_clips_and_holds_the_class():
    rng = np.random.default_rng(3)
    mean = rng.uniform(-2, 12, 1000)
    std = rng.uniform(0.01, 3, 1000)
    classes = np.clip(np.round(mean), 0, 10).astype(np.int64)
    classes[:50] = rng.integers(0, 11, 50)  # some written classes outside the interval
    low, high = (t.numpy() for t in gaussian_interval(*map(torch.from_numpy, (mean, std, classes))))
    z = NormalDist().inv_cdf(0.95)
    assert math.isclose(INTERVAL_Z, z) and round(z, 3) == 1.645
    expected_low = np.minimum(np.clip(np.floor(mean - z * std), 0, 10), classes)
    expected_high = np.maximum(np.clip(np.ceil(mean + z * std), 0, 10), classes)
    np.testing.assert_array_equal(low, expected_low)
    np.testing.assert_array_equal(high, expected_high)


def test_sic_std_adds_the_floor_and_scales():
    variance = torch.tensor([0.0, 1.0, 4.0])
    expected = 3 * np.sqrt(variance.numpy() + SIC_STD_FLOOR**2)
    np.testing.assert_allclose(sic_std(variance, 3.0).numpy(), expected, rtol=1e-6)
    assert sic_std(torch.tensor([-1e-9]), 1.0).item() == pytest.approx(SIC_STD_FLOOR)


def test_percent_rounds_and_clips():
    values = torch.tensor([0.0, 0.004, 0.005, 0.5149, 0.999, 1.0 + 1e-6, float("nan")])
    assert to_percent(values).tolist() == [0, 0, 0, 51, 100, 100, 0]  # 0.5 rounds to even


def test_calibration_round_trips_as_plain_data_and_refuses_bad_values():
    calibration = Calibration(
        {"SOD": 1.7, "FLOE": 0.9}, 2.5, tta=True, scenes=("a",), metrics={"SOD": {"pixels": 3.0}}
    )
    stored = calibration.to_dict()
    assert Calibration.from_dict(stored) == calibration
    plain = (dict, list, str, float, bool)

    def leaves(value):
        if isinstance(value, dict):
            return [x for v in value.values() for x in leaves(v)]
        if isinstance(value, list):
            return [x for v in value for x in leaves(v)]
        return [value]

    assert all(isinstance(v, plain) for v in leaves(stored))
    with pytest.raises(KitError, match="best.pt: calibration: temperature of SOD must be"):
        Calibration.from_dict({**stored, "temperatures": {"SOD": -1.0}}, "best.pt")
    with pytest.raises(KitError, match="best.pt: stored calibration is malformed"):
        Calibration.from_dict({"temperatures": {}}, "best.pt")
    with pytest.raises(KitError, match="unknown chart 'ICE'"):
        Calibration({"ICE": 1.0})
    with pytest.raises(KitError, match="sic_std_scale must be a finite number > 0, got nan"):
        Calibration(sic_std_scale=float("nan"))
    assert Calibration().temperature("SIC") == 1.0 and charts.PERCENT_MAX == 100
