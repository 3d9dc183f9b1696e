"""Uncertainty and probabilities files are untrusted: metadata checked before any value, values
checked while streaming, every problem one ScoringError line naming the file and variable."""

from __future__ import annotations

import numpy as np
import pytest

from kit.charts import (
    MASK,
    confidence_variable,
    probability_variable,
    sic_interval_variables,
)
from scoring.errors import ScoringError
from scoring.scorer import score_all_scenes
from tests.scoring.uncertainty_builders import (
    calibration_case,
    probability_variables,
    uncertainty_variables,
    write_uint8_file,
)


@pytest.fixture
def case(tmp_path):
    return calibration_case(tmp_path, n_scenes=2)


def problem(case, unc=None, probs=None, workers=1) -> str:
    with pytest.raises(ScoringError) as error:
        score_all_scenes(case["sub"], case["root"], workers=workers,
                         uncertainty=unc or case["unc"], probabilities=probs)  # fmt: skip
    text = str(error.value)
    assert "\n" not in text
    return text


def rewrite(case, name, change, probabilities=False):
    """Rewrite the uncertainty (or probabilities) file with variable `name` changed."""
    if probabilities:
        variables = probability_variables(case["prob_maps"])
        path = case["probs"].with_name("bad_probabilities.nc")
    else:
        variables = uncertainty_variables(case["maps"])
        path = case["unc"].with_name("bad_uncertainty.nc")
    variables[name] = change(variables[name].copy())
    return write_uint8_file(path, variables)


def scene_and_pixel(case, chart, scored=True):
    scene = sorted(case["refs"])[0]
    pred = case["preds"][scene][chart]
    where = np.argwhere(pred != MASK if scored else pred == MASK)
    return scene, tuple(where[0])


def test_valid_files_score(case):
    scored = score_all_scenes(case["sub"], case["root"], workers=1, uncertainty=case["unc"],
                              probabilities=case["probs"])  # fmt: skip
    assert scored.calibration.probability_charts == ("SIC", "SOD", "FLOE")
    assert scored.uncertainty_files == {"uncertainty": str(case["unc"]),
                                        "probabilities": str(case["probs"])}  # fmt: skip


def test_file_for_other_scenes(case, tmp_path):
    other = {"20200101T000000_dmi": case["maps"][sorted(case["maps"])[0]]}
    path = write_uint8_file(tmp_path / "other.nc", uncertainty_variables(other))
    text = problem(case, path)
    assert text.startswith(f"uncertainty file {path} is invalid: missing 10 variables")
    assert "20200101T000000_dmi_SIC_confidence" in text and "other scenes" in text


@pytest.mark.parametrize(
    ("chart", "value", "scored", "expected"),
    [
        ("SOD", 101, True, "1 pixels with values outside 0-100 (101)"),
        ("FLOE", MASK, True, "1 pixels of 255 where the submission has a class"),
        ("SIC", 40, False, "1 pixels not 255 where the submission has 255"),
    ],
)
@pytest.mark.parametrize("workers", [1, 2])
def test_bad_confidences(case, chart, value, scored, expected, workers):
    scene, pixel = scene_and_pixel(case, chart, scored)
    name = confidence_variable(scene, chart)

    def change(values):
        values[pixel] = value
        return values

    path = rewrite(case, name, change)
    text = problem(case, path, workers=workers)
    assert text == f"uncertainty file {path} is invalid: {name}: {expected}"


def test_low_above_high_and_class_outside_interval(case):
    scene, pixel = scene_and_pixel(case, "SIC")
    low_name, high_name = sic_interval_variables(scene)
    sic = int(case["preds"][scene]["SIC"][pixel])

    def change(values):
        values[pixel] = 10 if sic < 10 else 9  # low above the class: above high, or outside
        return values

    text = problem(case, rewrite(case, low_name, change))
    assert f"{low_name}/{high_name}: " in text
    assert "1 pixels where the submitted SIC class lies outside [low, high]" in text


def test_low_above_high(case):
    scene, pixel = scene_and_pixel(case, "SIC")
    low_name, high_name = sic_interval_variables(scene)
    maps = case["maps"][scene]
    maps["low"][pixel], maps["high"][pixel] = 7, 3
    path = write_uint8_file(case["unc"].with_name("swapped.nc"), uncertainty_variables(case["maps"]))  # fmt: skip
    text = problem(case, path)
    assert "1 pixels with low > high" in text and low_name in text


def test_interval_values_outside_classes(case):
    scene, pixel = scene_and_pixel(case, "SIC")
    high_name = sic_interval_variables(scene)[1]

    def change(values):
        values[pixel] = 11
        return values

    assert "1 pixels with values outside the SIC classes 0-10" in problem(case, rewrite(case, high_name, change))  # fmt: skip


def test_wrong_type_and_shape_are_refused_before_values(case, tmp_path):
    variables = uncertainty_variables(case["maps"])
    scene = sorted(case["maps"])[0]
    name = confidence_variable(scene, "SIC")
    variables[name] = variables[name][:-1]
    path = write_uint8_file(tmp_path / "shape.nc", variables)
    assert f"{name} has shape" in problem(case, path)
    path = write_uint8_file(tmp_path / "type.nc", uncertainty_variables(case["maps"]), dtype="i2")
    assert "not uint8" in problem(case, path)


def test_not_a_file(case, tmp_path):
    text = problem(case, tmp_path)
    assert text == f"uncertainty file {tmp_path}: not a regular file (a folder); refused"
    (tmp_path / "junk.nc").write_bytes(b"junk")
    assert "not a readable netCDF/HDF5 file" in problem(case, tmp_path / "junk.nc")


def test_probabilities(case):
    scene, pixel = scene_and_pixel(case, "SOD")
    name = probability_variable(scene, "SOD", 0)
    case["prob_maps"][scene]["SOD"][:2, pixel[0], pixel[1]] = 100  # sums to 200 or more
    path = rewrite(case, name, lambda values: values, probabilities=True)
    text = problem(case, probs=path)
    assert text.startswith(f"probabilities file {path} is invalid: {name} ... ")
    assert text.endswith("1 pixels whose percentages sum beyond 100 +- 6")

    def beyond(values):
        values[pixel] = 150
        return values

    path = rewrite(case, name, beyond, probabilities=True)
    assert "1 pixels with values outside 0-100" in problem(case, probs=path)


def test_probabilities_may_cover_some_charts_only_but_all_classes(case, tmp_path):
    variables = probability_variables(case["prob_maps"])
    sod_only = {k: v for k, v in variables.items() if "_SOD_" in k}
    path = write_uint8_file(tmp_path / "sod.nc", sod_only)
    scored = score_all_scenes(case["sub"], case["root"], workers=1, uncertainty=case["unc"],
                              probabilities=path)  # fmt: skip
    assert scored.calibration.probability_charts == ("SOD",)
    del sod_only[probability_variable(sorted(case["refs"])[1], "SOD", 5)]
    path = write_uint8_file(tmp_path / "sod_missing.nc", sod_only)
    assert "missing 1 variables" in problem(case, probs=path)


def test_probabilities_need_an_uncertainty_file(case):
    with pytest.raises(ScoringError, match="probabilities need an uncertainty file"):
        score_all_scenes(case["sub"], case["root"], workers=1, probabilities=case["probs"])
