"""The score statistics registry: the scorer, the report, its JSON and `autoice score` all
read it, so a new statistic is one module and one `register_statistic` call."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from kit.charts import CHARTS
from kit.cli import main
from scoring import score_submission
from scoring.errors import ScoringError
from scoring.registry import SCORE_STATISTICS, ScoreStatistic, register_statistic
from tests.cli_runs import fails


def pixel_totals(accumulator, scenes, request):
    """A toy statistic: the valid reference pixels per chart over `scenes`, times `request`."""
    return {c: int(accumulator.counts(c, scenes).confusion.sum()) * request for c in CHARTS}


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pixel-totals", type=int, default=None, metavar="K")


def _check(scenes, request) -> None:
    if request < 1:
        raise ScoringError(f"--pixel-totals: must be at least 1, got {request}")


TOY = ScoreStatistic(
    name="pixel_totals",
    summary="valid pixels per chart, times K",
    options="--pixel-totals",
    compute=pixel_totals,
    check=_check,
    table=lambda result: "pixel totals: " + ", ".join(f"{c} {n}" for c, n in result.items()),
    add_arguments=_add_arguments,
    from_args=lambda args: args.pixel_totals,
)


@pytest.fixture
def toy_statistic():
    with SCORE_STATISTICS.restored():
        register_statistic(TOY)
        yield TOY


def test_the_shipped_statistics_are_registered():
    assert {"intervals", "breakdowns"} <= set(SCORE_STATISTICS.names())


def test_a_toy_statistic_reaches_report_json_table_and_cli(toy_statistic, two_submissions, capsys):
    tmp, a, _, scenes, _ = two_submissions
    report = score_submission(a, tmp / "data", workers=1, statistics={"pixel_totals": 2})
    expected = {
        c: 2 * sum(int((ref != 255).sum()) for charts in scenes.values() for _, ref in [charts[c]])
        for c in CHARTS
    }
    assert report.statistics["pixel_totals"] == expected
    assert report.to_dict()["pixel_totals"] == expected
    assert "pixel totals: SIC" in report.table()
    assert report.intervals is None and report.breakdowns == {}

    out = tmp / "report.json"
    args = ["score", a, "--reference", tmp / "data", "--workers", "1"]
    assert main([str(x) for x in [*args, "--pixel-totals", "3", "--json", out]]) == 0
    printed = capsys.readouterr().out
    assert "pixel totals: SIC" in printed
    data = json.loads(out.read_text())
    assert data["pixel_totals"] == {c: 3 * n // 2 for c, n in expected.items()}
    assert data["intervals"] is None and data["breakdowns"] == {}

    message = fails(capsys, *args, "--pixel-totals", "0")
    assert message.endswith("--pixel-totals: must be at least 1, got 0")


def test_every_request_is_checked_before_any_statistic_is_computed(two_submissions, monkeypatch):
    tmp, a, _, _, _ = two_submissions
    calls = []
    with SCORE_STATISTICS.restored():
        register_statistic(
            ScoreStatistic("first", "", "--first", compute=lambda *_: calls.append("first"))
        )
        register_statistic(
            ScoreStatistic("second", "", "--second", compute=lambda *_: 0, check=_check)
        )
        with pytest.raises(ScoringError, match="must be at least 1"):
            score_submission(a, tmp / "data", workers=1, statistics={"first": 1, "second": 0})
    assert calls == []


def test_unknown_statistic_names_the_registered_ones(two_submissions):
    tmp, a, _, _, _ = two_submissions
    with pytest.raises(ScoringError, match="unknown score statistic.*choose from .*intervals"):
        score_submission(a, tmp / "data", workers=1, statistics={"typo": True})


def test_ci_keyword_and_statistics_mapping_give_the_same_intervals(two_submissions):
    tmp, a, _, _, _ = two_submissions
    from scoring.statistics import Bootstrap

    settings = Bootstrap(resamples=40, seed=3)
    by_keyword = score_submission(a, tmp / "data", workers=1, ci=settings)
    by_name = score_submission(a, tmp / "data", workers=1, statistics={"intervals": settings})
    assert by_keyword.intervals == by_name.intervals
    assert np.isfinite(by_keyword.intervals["combined"]["low"])
