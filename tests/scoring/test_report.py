"""Score reports (`scoring.metrics.report`): the challenge's rounding, the combined figure from rounded
chart scores, strict JSON with NaN as null, and the text table."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from kit.charts import CHART_WEIGHTS, CHARTS
from scoring import ScoreAccumulator
from scoring.metrics.report import (
    ChartResult,
    ClassScore,
    Report,
    challenge_combined,
    published_scores,
    rounded,
)
from tests.scoring.builders import (
    OUT_OF_CLASS_SCORES,
    noisy_prediction,
    out_of_class_case,
    random_charts,
    rounding_order_case,
)


def accumulated(cases: dict[str, tuple[dict, dict]], **options) -> Report:
    """The report of scenes given as scene id -> (reference charts, predicted charts)."""
    acc = ScoreAccumulator()
    for scene, (ref, pred) in cases.items():
        for chart in CHARTS:
            acc.update(scene, chart, pred[chart], ref[chart])
    return acc.report(**options)


def realistic_report() -> Report:
    """Two seeded scenes of random charts predicted with 30 % of pixels flipped."""
    rng = np.random.default_rng(5)
    cases = {}
    for scene in ("20180124T194759_dmi", "20190430T101830_cis"):
        ref = random_charts(rng, (30, 20))
        cases[scene] = (ref, noisy_prediction(rng, ref))
    return accumulated(cases, split="public")


# ------------------------------------------------------------------ rounding


@pytest.mark.parametrize(
    "score, expected",
    [
        (68.5714285714, 68.571),
        (87.4284, 87.428),
        (0.0005, 0.0),  # 0.0005 * 1000 is exactly 0.5: half to even (Python's round: 0.001)
        (0.0015, 0.002),
        (2.0625, 2.062),  # exact binary 2.0625: half to even
        (100.0, 100.0),
        (-43413.00049, -43413.0),
    ],
)
def test_rounded_is_numpys_rounding_to_three_decimals(score, expected):
    assert rounded(score) == expected and type(rounded(score)) is float


def test_rounding_differs_from_pythons_where_the_challenge_did():
    assert rounded(0.0005) != round(0.0005, 3)
    assert math.isnan(rounded(math.nan))


def test_challenge_combined_weighs_rounded_chart_scores():
    assert CHART_WEIGHTS == {"SIC": 2, "SOD": 2, "FLOE": 1}
    assert challenge_combined({"SIC": 100.0, "SOD": 68.571, "FLOE": 100.0}) == 87.428
    assert challenge_combined({"SIC": 10.0, "SOD": 20.0, "FLOE": 70.0}) == 26.0
    assert math.isnan(challenge_combined({"SIC": 50.0, "SOD": math.nan, "FLOE": 50.0}))


def test_published_scores_round_the_charts_before_combining():
    published = published_scores({"SIC": 100.0, "SOD": 100 * 24 / 35, "FLOE": 100.0})
    assert published == {"SIC": 100.0, "SOD": 68.571, "FLOE": 100.0, "combined": 87.428}
    unrounded = (2 * 100 + 2 * 100 * 24 / 35 + 100) / 5
    assert rounded(unrounded) == 87.429  # what rounding the unrounded combination would give


def test_a_report_carries_the_published_figures():
    report = accumulated({"20180124T194759_dmi": rounding_order_case()})
    assert report.charts_rounded == {c: rounded(report.charts[c]) for c in CHARTS}
    assert {**report.charts_rounded, "combined": report.combined_rounded} == published_scores(
        report.charts
    )


# ------------------------------------------------------------------ JSON


def test_to_dict_and_json_hold_every_field_and_round_trip():
    report = realistic_report()
    data = json.loads(report.to_json())
    assert data == report.to_dict()
    assert set(data) == {"combined", "combined_rounded", "charts", "charts_rounded",
                         "per_scene", "details", "warnings", "scenes", "split", "intervals",
                         "breakdowns"}  # fmt: skip
    assert data["intervals"] is None and data["breakdowns"] == {}
    assert data["split"] == "public" and data["scenes"] == report.scenes
    assert data["charts"] == report.charts and data["combined"] == report.combined
    sod = data["details"]["SOD"]
    assert sod["chart"] == "SOD" and sod["metric"] == report.details["SOD"].metric
    assert sod["confusion"] == report.details["SOD"].confusion
    assert [c["value"] for c in sod["classes"]] == list(range(len(sod["classes"])))
    assert report.to_json(indent=None).count("\n") == 0 and report.to_json().count("\n") > 10


def test_nan_scores_become_null_everywhere_and_json_stays_strict():
    charts = {"SIC": math.nan, "SOD": 50.0, "FLOE": 25.0}
    classes = [ClassScore(0, "open water", 0, 3, None, None, None),
               ClassScore(1, "ice", 4, 0, 0.0, 0.0, 0.0)]  # fmt: skip
    details = {
        chart: ChartResult(chart, "f1", value, rounded(value), 4, 0, 0, classes,
                           [[0, 0, 0, 0], [3, 0, 0, 1]], ["open water", "ice", "out", "255"])
        for chart, value in charts.items()
    }  # fmt: skip
    report = Report(
        combined=math.nan,
        combined_rounded=challenge_combined({c: rounded(v) for c, v in charts.items()}),
        charts=charts,
        charts_rounded={c: rounded(v) for c, v in charts.items()},
        per_scene={"s": {**charts, "combined": math.nan}},
        details=details,
        warnings=["SIC score is undefined: 1 valid pixels"],
        scenes=["s"],
    )
    data = report.to_dict()
    assert data["combined"] is None and data["combined_rounded"] is None
    assert data["charts"] == {"SIC": None, "SOD": 50.0, "FLOE": 25.0}
    assert data["per_scene"]["s"] == {"SIC": None, "SOD": 50.0, "FLOE": 25.0, "combined": None}
    assert (
        data["details"]["SIC"]["score"] is None and data["details"]["SIC"]["score_rounded"] is None
    )
    assert data["details"]["SOD"]["classes"][0]["f1"] is None
    text = report.to_json()
    assert "NaN" not in text and json.loads(text) == data
    assert math.isnan(report.combined)  # the report itself keeps its NaN


# ------------------------------------------------------------------ table


def test_table_shows_rounded_scores_split_and_warnings():
    ref, pred = out_of_class_case()
    report = accumulated({"20180124T194759_dmi": (ref, pred)}, split="private")
    lines = report.table().splitlines()
    assert lines[0] == "Scores (private split, 1 scenes)"
    assert lines[1].split() == ["chart", "metric", "score"]
    rows = [line.split() for line in lines[2:6]]
    assert [r[0] for r in rows] == [*CHARTS, "combined"]
    for row, chart in zip(rows, CHARTS):
        assert row[1] == report.details[chart].metric
        assert row[2] == f"{rounded(OUT_OF_CLASS_SCORES[chart]):.3f}"
    assert rows[3][1] == f"{report.combined_rounded:.3f}"
    assert lines[6:] == [f"warning: {w}" for w in report.warnings] and len(report.warnings) == 2


def test_table_without_split_and_with_undefined_scores():
    report = realistic_report()
    report.split = None
    report.details["SIC"].score_rounded = math.nan
    report.combined_rounded = math.nan
    lines = report.table().splitlines()
    assert lines[0] == "Scores (all scenes, 2 scenes)"
    assert lines[2].split()[-1] == "undefined" and lines[5].split() == ["combined", "undefined"]
    assert len(lines) == 6  # no warning
