"""The uncertainty and probabilities files: layout, checks against the submission, atomicity."""

import netCDF4
import numpy as np
import pytest

from kit import charts
from scoring.errors import ScoringError
from scoring.files.uncertainty_writer import ProbabilityWriter, UncertaintyWriter

SCENE = "20180124T194759_dmi"


def _scene(seed=0, shape=(6, 9)):
    """Submitted maps with a masked corner, confidences and a SIC interval that fit them."""
    rng = np.random.default_rng(seed)
    submitted = {
        c: rng.integers(0, charts.N_CLASSES[c], shape).astype(np.uint8) for c in charts.CHARTS
    }
    for values in submitted.values():
        values[:2, :3] = charts.MASK
    masked = submitted["SIC"] == charts.MASK
    confidence = {
        c: np.where(masked, charts.MASK, rng.integers(0, 101, shape)).astype(np.uint8)
        for c in charts.CHARTS
    }
    sic = submitted["SIC"].astype(int)
    low = np.where(masked, charts.MASK, np.maximum(sic - rng.integers(0, 3, shape), 0))
    high = np.where(masked, charts.MASK, np.minimum(sic + rng.integers(0, 3, shape), 10))
    return submitted, confidence, low.astype(np.uint8), high.astype(np.uint8)


def _write_uncertainty(path, submitted, confidence, low, high):
    with UncertaintyWriter(path) as writer:
        for chart in charts.CHARTS:
            ends = (low, high) if chart == "SIC" else (None, None)
            writer.add_chart(SCENE, chart, submitted[chart], confidence[chart], *ends)
    return writer.path


def test_uncertainty_file_holds_each_map_as_written_in_the_submission_layout(tmp_path):
    submitted, confidence, low, high = _scene()
    path = _write_uncertainty(tmp_path / "uncertainty.nc", submitted, confidence, low, high)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["uncertainty.nc"]
    with netCDF4.Dataset(path) as dataset:
        dataset.set_auto_mask(False)
        low_name, high_name = charts.sic_interval_variables(SCENE)
        expected = {charts.confidence_variable(SCENE, c): confidence[c] for c in charts.CHARTS}
        expected.update({low_name: low, high_name: high})
        assert sorted(dataset.variables) == sorted(expected)
        assert dataset.getncattr("sic_interval_probability") == charts.SIC_INTERVAL_PROBABILITY
        for name, values in expected.items():
            variable = dataset[name]
            assert variable.dtype == np.uint8 and variable.dimensions == (
                f"{name}_dim0",
                f"{name}_dim1",
            )
            assert variable.filters()["zlib"] and "_FillValue" not in variable.ncattrs()
            np.testing.assert_array_equal(variable[:], values)


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda m: m["confidence"].__setitem__((3, 3), 101),
            "SOD_confidence: 1 value.* outside 0-100",
        ),
        (lambda m: m["confidence"].__setitem__((3, 3), 255), "SOD_confidence: 255 at 1 pixel"),
        (
            lambda m: m["confidence"].__setitem__((0, 0), 50),
            "SOD_confidence: .* a value at 1 pixel",
        ),
        (lambda m: m.__setitem__("confidence", m["confidence"][:, :4]), "SOD_confidence: shape"),
        (lambda m: m.__setitem__("confidence", m["confidence"] / 100), "SOD_confidence: float64"),
        (
            lambda m: m.__setitem__("confidence", _with(m["confidence"].astype(np.int16), -1)),
            "SOD_confidence: 1 value.* outside 0-100",
        ),
    ],
)
def test_bad_confidence_is_one_line_naming_the_variable_and_leaves_no_file(
    tmp_path, change, message
):
    submitted, confidence, low, high = _scene()
    maps = {"confidence": confidence["SOD"].copy()}
    change(maps)
    confidence["SOD"] = maps["confidence"]
    with pytest.raises(ScoringError, match=f"{SCENE}_{message}") as error:
        _write_uncertainty(tmp_path / "uncertainty.nc", submitted, confidence, low, high)
    assert "\n" not in str(error.value)
    assert list(tmp_path.iterdir()) == []


def test_interval_must_hold_the_submitted_sic_and_stay_in_the_classes(tmp_path):
    submitted, confidence, low, high = _scene()
    submitted["SIC"][4, 4], low[4, 4], high[4, 4] = 5, 4, 6  # a scored pixel to spoil
    for bad_low, bad_high, message in [
        (_with(low, 6), high, "SIC_low: 1 pixel.* above the submitted SIC"),
        (low, _with(high, 4), "SIC_high: 1 pixel.* below the submitted SIC"),
        (low, _with(high, 11), "SIC_high: 1 value.* outside 0-10"),
        (low, _with(high, 255), "SIC_high: 255 at 1 pixel"),
    ]:
        with pytest.raises(ScoringError, match=f"{SCENE}_{message}"):
            _write_uncertainty(tmp_path / "u.nc", submitted, confidence, bad_low, bad_high)
    assert list(tmp_path.iterdir()) == []


def _with(values, value, index=(4, 4)):
    values = values.copy()
    values[index] = value
    return values


def test_sic_needs_its_interval_and_only_sic_has_one(tmp_path):
    submitted, confidence, low, high = _scene()
    with pytest.raises(ScoringError, match="SIC needs its interval"):
        with UncertaintyWriter(tmp_path / "u.nc") as writer:
            writer.add_chart(SCENE, "SIC", submitted["SIC"], confidence["SIC"])
    with pytest.raises(ScoringError, match="only SIC has an interval, not SOD"):
        with UncertaintyWriter(tmp_path / "u.nc") as writer:
            writer.add_chart(SCENE, "SOD", submitted["SOD"], confidence["SOD"], low, high)
    assert list(tmp_path.iterdir()) == []


def test_a_scene_missing_a_chart_or_repeating_one_writes_no_file(tmp_path):
    submitted, confidence, low, high = _scene()
    with pytest.raises(ScoringError, match=f"scene {SCENE} has no map of chart.* FLOE"):
        with UncertaintyWriter(tmp_path / "u.nc") as writer:
            writer.add_chart(SCENE, "SIC", submitted["SIC"], confidence["SIC"], low, high)
            writer.add_chart(SCENE, "SOD", submitted["SOD"], confidence["SOD"])
    with pytest.raises(ScoringError, match=f"scene {SCENE} chart SOD added twice"):
        with UncertaintyWriter(tmp_path / "u.nc") as writer:
            writer.add_chart(SCENE, "SOD", submitted["SOD"], confidence["SOD"])
            writer.add_chart(SCENE, "SOD", submitted["SOD"], confidence["SOD"])
    assert list(tmp_path.iterdir()) == []


def _probability_maps(submitted, chart, seed=1):
    """Percent maps of every class, 255 where the submission is."""
    rng = np.random.default_rng(seed)
    n = charts.N_CLASSES[chart]
    p = rng.dirichlet(np.ones(n), size=submitted.shape)  # [H, W, K]
    percent = np.round(100 * p).astype(np.uint8)
    percent[submitted == charts.MASK] = charts.MASK
    return {k: percent[..., k] for k in range(n)}


def test_probabilities_file_holds_every_class_of_every_chart(tmp_path):
    submitted = _scene()[0]
    maps = {c: _probability_maps(submitted[c], c) for c in charts.CHARTS}
    with ProbabilityWriter(tmp_path / "p.nc") as writer:
        for chart in charts.CHARTS:
            writer.add_chart(SCENE, chart, submitted[chart], reversed(list(maps[chart].items())))
    with netCDF4.Dataset(tmp_path / "p.nc") as dataset:
        dataset.set_auto_mask(False)
        assert len(dataset.variables) == sum(charts.N_CLASSES.values())
        for chart in charts.CHARTS:
            for k, values in maps[chart].items():
                np.testing.assert_array_equal(
                    dataset[charts.probability_variable(SCENE, chart, k)][:], values
                )


def test_probabilities_with_a_class_missing_repeated_or_out_of_range_are_refused(tmp_path):
    submitted = _scene()[0]
    maps = _probability_maps(submitted["SOD"], "SOD")
    cases = [
        (list(maps.items())[:-1], r"SOD lacks the probabilities of \[5\]"),
        ([*maps.items(), (0, maps[0])], "SOD_p0: SOD has classes 0-5, each once"),
        ([*maps.items(), (6, maps[0])], "SOD_p6: SOD has classes 0-5, each once"),
        (
            [(k, np.where(v == 255, 255, 120).astype(np.uint8)) for k, v in maps.items()],
            "SOD_p0: .* outside 0-100",
        ),
    ]
    for given, message in cases:
        with pytest.raises(ScoringError, match=message):
            with ProbabilityWriter(tmp_path / "p.nc") as writer:
                writer.add_chart(SCENE, "SOD", submitted["SOD"], given)
    assert list(tmp_path.iterdir()) == []


def test_adding_outside_the_with_block_is_a_programming_error(tmp_path):
    submitted, confidence, _, _ = _scene()
    writer = UncertaintyWriter(tmp_path / "u.nc")
    with pytest.raises(RuntimeError, match="outside of its `with` block"):
        writer.add_chart(SCENE, "SOD", submitted["SOD"], confidence["SOD"])
