"""The one score formatter (`scoring.metrics.formatting`): NaN and None read alike everywhere."""

from __future__ import annotations

import json
import math

import pytest

from kit.charts import SCORE_DECIMALS
from scoring.metrics.formatting import (
    UNDEFINED,
    format_interval,
    format_percent,
    format_score,
    nan_to_none,
)


@pytest.mark.parametrize("missing", [None, math.nan, float("nan")])
def test_nan_and_none_print_as_the_same_placeholder(missing):
    assert format_score(missing) == format_score(None) == UNDEFINED
    assert format_score(missing, sign=True) == UNDEFINED
    assert format_score(missing, missing="-") == "-"
    assert format_interval(missing, 1.0) == format_interval(1.0, missing) == UNDEFINED
    assert format_interval(missing, missing, sign=True) == UNDEFINED


def test_scores_print_with_the_challenge_decimals():
    assert format_score(59.83305799488303) == "59.833"
    assert format_score(2.0 / 3.0, sign=True) == "+0.667"
    assert format_score(-0.0004, sign=True) == f"{-0.0004:+.{SCORE_DECIMALS}f}" == "-0.000"
    assert format_interval(-1.25, 2.5, sign=True) == "[-1.250, +2.500]"
    assert format_percent(0.95) == "95 %" and format_percent(0.9) == "90 %"


def test_nan_to_none_makes_strict_json_at_any_depth():
    value = {"a": math.nan, "b": [1.5, math.nan, {"c": math.nan}], "d": "x", "e": None}
    cleaned = nan_to_none(value)
    assert cleaned == {"a": None, "b": [1.5, None, {"c": None}], "d": "x", "e": None}
    json.dumps(cleaned, allow_nan=False)
    assert math.isnan(value["a"])  # the input is left as it was
