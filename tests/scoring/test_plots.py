"""`scoring.plots`: the figures show the statistics they are given (values, intervals, labels),
and `autoice score|compare --png` writes them."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from kit.charts import CHARTS
from kit.cli import main
from scoring import score_submission
from scoring.errors import ScoringError
from scoring.plots import (
    SCORE_TITLES,
    UNDECIDED_COLOUR,
    breakdown_heatmap,
    difference_plot,
    forest_plot,
    report_figure,
)
from scoring.statistics import (
    SCORES,
    Bootstrap,
    bootstrap_intervals,
    breakdown,
    intervals_dict,
    paired_bootstrap,
)
from tests.scoring.test_statistics import accumulate, make_scenes

SETTINGS = Bootstrap(resamples=200, seed=5)


def scored(seed: int):
    """A report of made-up scenes with its bootstrap intervals, and its accumulator."""
    acc = accumulate(make_scenes(seed=seed, empty_scene=False))
    report = acc.report()
    report.statistics["intervals"] = intervals_dict(
        bootstrap_intervals(acc, acc.scenes, SETTINGS), SETTINGS
    )
    return report, acc


def bar_of(container) -> tuple[float, float, tuple[float, float] | None]:
    """(x, y, (low, high) of the horizontal error bar or None) of a one-point errorbar."""
    line, _, bars = container.lines
    x, y = float(line.get_xdata()[0]), float(line.get_ydata()[0])
    segments = [s for b in bars if isinstance(b, LineCollection) for s in b.get_segments()]
    if not segments:
        return x, y, None
    (low, y_low), (high, y_high) = segments[0]
    assert y_low == y_high == y
    return x, y, (float(low), float(high))


def test_forest_plot_draws_each_score_and_interval_of_each_submission():
    reports = {"model A": scored(0)[0], "model $B$": scored(1)[0]}
    fig = forest_plot(reports)
    assert isinstance(fig, Figure)
    assert [ax.get_title() for ax in fig.axes] == [SCORE_TITLES[s] for s in SCORES]
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["model A", r"model \$B\$"]  # drawn as written, no mathtext
    for ax, name in zip(fig.axes, SCORES):
        assert len(ax.containers) == 2
        for row, (container, report) in enumerate(zip(ax.containers, reports.values())):
            x, y, (low, high) = bar_of(container)
            point = report.combined if name == "combined" else report.charts[name]
            assert x == pytest.approx(point, abs=1e-9)
            assert low == pytest.approx(report.intervals[name]["low"], abs=1e-9)
            assert high == pytest.approx(report.intervals[name]["high"], abs=1e-9)
            assert y == 1 - row  # first submission on top
    assert "95 %" in fig.get_suptitle() and "200 resamples, seed 5" in fig.get_suptitle()


def test_forest_plot_reads_json_reports_and_refuses_one_without_intervals():
    report = scored(2)[0]
    from_json = json.loads(report.to_json())
    _, _, (low, high) = bar_of(forest_plot(from_json).axes[1].containers[0])
    assert (low, high) == pytest.approx(
        (report.intervals["SOD"]["low"], report.intervals["SOD"]["high"]), abs=1e-9
    )
    report.statistics.pop("intervals", None)
    with pytest.raises(ScoringError, match="'plain' has no intervals"):
        forest_plot({"plain": report})
    with pytest.raises(ScoringError, match="reports: expected"):
        forest_plot({})


def test_difference_plot_shows_the_paired_differences_and_who_wins():
    worse = make_scenes(seed=0, empty_scene=False)
    perfect = {s: {c: (ref, ref) for c, (_, ref) in charts.items()} for s, charts in worse.items()}
    acc_a, acc_b = accumulate(perfect), accumulate(worse)
    comparison = paired_bootstrap(acc_a, acc_b, settings=SETTINGS, names=("good", "worse"))
    fig = difference_plot(comparison)
    (ax,) = fig.axes
    assert [c.get_label() for c in ax.containers] == list(SCORES)
    for container, name in zip(ax.containers, SCORES):
        x, _, (low, high) = bar_of(container)
        assert x == pytest.approx(comparison.difference[name], abs=1e-9)
        assert (low, high) == pytest.approx(
            (comparison.interval[name].low, comparison.interval[name].high), abs=1e-9
        )
        colour = container.lines[0].get_color()
        if low > 0:  # A better in every resample's interval: not the undecided grey
            assert colour != UNDECIDED_COLOUR
        elif low <= 0 <= high:
            assert colour == UNDECIDED_COLOUR
    shares = [t.get_text() for t in ax.texts]
    assert shares == [f"A > B: {100 * comparison.a_better[n]:.1f} %" for n in SCORES]
    assert comparison.interval["combined"].low > 0  # perfect beats noisy in every resample
    same = difference_plot(paired_bootstrap(acc_b, acc_b, settings=SETTINGS)).axes[0]
    assert {c.lines[0].get_color() for c in same.containers} == {UNDECIDED_COLOUR}
    assert "A = good" in ax.get_title() and "B = worse" in ax.get_title()
    assert [line.get_xdata()[0] for line in ax.lines if line.get_linestyle() == "--"] == [0.0]
    assert (
        difference_plot(json.loads(comparison.to_json())).axes[0].texts[0].get_text() == (shares[0])
    )


def test_breakdown_heatmap_cells_are_the_group_scores_undefined_in_grey():
    scenes = make_scenes(seed=4)  # the July scene has no valid pixel
    acc = accumulate(scenes)
    groups = {key: breakdown(acc, acc.scenes, key) for key in ("service", "month")}
    fig = breakdown_heatmap(groups)
    heat = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in heat] == ["by service", "by month"]
    assert len(fig.axes) == 3 and fig.axes[2].get_ylabel() == "score (%)"  # the colour bar
    for ax, by_group in zip(heat, groups.values()):
        expected = np.array(
            [
                [
                    g["combined"] if s == "combined" else g["charts"][s]["score"]
                    for g in by_group.values()
                ]  # fmt: skip
                for s in SCORES
            ]
        )
        (image,) = ax.images
        drawn = np.ma.filled(image.get_array().astype(float), np.nan)
        np.testing.assert_allclose(drawn, expected, atol=1e-9, equal_nan=True)
        texts = [t.get_text() for t in ax.texts]
        assert texts == ["undefined" if math.isnan(v) else f"{v:.3f}" for v in expected.ravel()]
        ticks = [t.get_text() for t in ax.get_xticklabels()]
        assert ticks == [f"{label}\n{g['n_scenes']} scenes" for label, g in by_group.items()]
    assert "undefined" in [t.get_text() for t in heat[1].texts]  # month 07
    lowest = min(g["charts"]["SIC"]["score"] for g in groups["service"].values())
    assert lowest < 0  # R2 of these tiny noisy scenes: the colour bar's arrow says "below 0"
    assert heat[-1].images[0].colorbar.extend == "min"  # one bar, of the last map
    good = {
        "all": {"n_scenes": 1, "combined": 50.0, "charts": {c: {"score": 50.0} for c in CHARTS}}
    }
    assert breakdown_heatmap({"x": good}).axes[0].images[0].colorbar.extend == "neither"
    with pytest.raises(ScoringError, match="no breakdown to draw"):
        breakdown_heatmap({})


def test_report_figure_stacks_forest_plot_and_heat_maps():
    report, acc = scored(3)
    report.statistics["breakdowns"] = {"season": breakdown(acc, acc.scenes, "season")}
    titles = [ax.get_title() for ax in report_figure(report).axes]
    assert titles[:4] == [SCORE_TITLES[s] for s in SCORES] and "by season" in titles
    report.statistics.clear()
    with pytest.raises(ScoringError, match="no intervals or breakdowns"):
        report_figure(report)


def test_cli_score_and_compare_write_png(two_submissions, capsys):
    tmp, a, b, _, _ = two_submissions
    png = tmp / "score.png"
    args = ["score", str(a), "--reference", str(tmp / "data"), "--workers", "1"]
    assert main([*args, "--ci", "--resamples", "50", "--by", "service", "--png", str(png)]) == 0
    assert png.read_bytes().startswith(b"\x89PNG")
    assert not [p for p in tmp.iterdir() if p.name.startswith(".")]  # no temporary left
    cmp_png = tmp / "compare.png"
    cmp = ["compare", str(a), str(b), "--reference", str(tmp / "data"), "--resamples", "50"]
    assert main([*cmp, "--png", str(cmp_png)]) == 0
    assert cmp_png.read_bytes().startswith(b"\x89PNG")
    capsys.readouterr()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--png", "x.png"], "--png draws the score statistics: it needs one of --by, --ci"),
        (["--ci", "--png", "no/such/folder/x.png"], "--png: folder no/such/folder does not exist"),
    ],
)
def test_cli_bad_png_is_one_line_exit_2(two_submissions, capsys, extra, message):
    tmp, a, _, _, _ = two_submissions
    assert main(["score", str(a), "--reference", str(tmp / "data"), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("autoice score: error:") and "\n" not in err and message in err


def test_score_report_scores_match_the_forest_plot(two_submissions):
    tmp, a, _, _, _ = two_submissions
    report = score_submission(a, tmp / "data", ci=Bootstrap(resamples=40), workers=1)
    for ax, name in zip(forest_plot(report).axes, SCORES):
        x, _, _ = bar_of(ax.containers[0])
        assert x == pytest.approx(report.combined if name == "combined" else report.charts[name])
    assert set(CHARTS) < set(SCORES)
