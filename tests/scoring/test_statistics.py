"""Bootstrap intervals, paired comparisons and breakdowns equal plain computations on pixels."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    jaccard_score,
    precision_recall_fscore_support,
)

from kit.charts import CHARTS, MASK, N_CLASSES, combined_score
from kit.cli import main
from scoring import score_submission
from scoring.errors import ScoringError
from scoring.metrics import ScoreAccumulator
from scoring.scorer import compare_submissions
from scoring.statistics import (
    Bootstrap,
    batch_scores,
    bootstrap_intervals,
    bootstrap_scores,
    breakdown,
    chart_statistics,
    paired_bootstrap,
    paired_bootstrap_runs,
    resample_counts,
    scene_groups,
)
from tests.scoring.builders import (
    noisy_prediction,
    random_charts,
    submission_arrays,
    write_submission,
)
from tests.scoring.test_metrics import pooled_sklearn

TOL = 1e-9
SCENES = (
    "20180124T194759_dmi",
    "20180410T101830_cis",
    "20180716T084512_dmi",
    "20181003T120000_cis",
    "20181205T091500_dmi",
)


def make_scenes(seed=0, empty_scene=True, constant_sic=False):
    """Scene -> chart -> (pred, ref) of varied sizes, with out-of-class predictions; the
    third scene (if `empty_scene`) has no valid pixel, and SOD class 5 only in the last."""
    rng = np.random.default_rng(seed)
    scenes = {}
    for i, scene in enumerate(SCENES):
        shape = (6 + 3 * i, 5 + i)
        ref = random_charts(rng, shape, mask_share=0.2)
        ref["SOD"][ref["SOD"] == 5] = 4
        if i == len(SCENES) - 1:
            ref["SOD"][0, :] = 5
        if constant_sic:
            ref["SIC"] = np.where(ref["SIC"] == MASK, MASK, 10).astype(np.uint8)
        if empty_scene and i == 2:
            ref = {chart: np.full(shape, MASK, np.uint8) for chart in CHARTS}
        pred = noisy_prediction(rng, ref, flip=0.2 + 0.1 * i)
        pred["SIC"][0, 0] = 200  # out of class: R2 takes the value, F1 a wrong label
        pred["FLOE"][1, 1] = 9
        pred["SOD"][-1, -1] = MASK
        scenes[scene] = {chart: (pred[chart], ref[chart]) for chart in CHARTS}
    return scenes


def accumulate(scenes) -> ScoreAccumulator:
    acc = ScoreAccumulator()
    for scene, charts in scenes.items():
        for chart, (pred, ref) in charts.items():
            acc.update(scene, chart, pred, ref)
    return acc


def plain_bootstrap(scenes, resamples, seed) -> dict[str, np.ndarray]:
    """The textbook loop: draw scene indices, pool the drawn scenes' pixels, score them."""
    ids = list(scenes)
    indices = np.random.default_rng(seed).integers(0, len(ids), size=(resamples, len(ids)))
    out = {name: [] for name in (*CHARTS, "combined")}
    for row in indices:
        charts = {}
        for chart in CHARTS:
            pairs = [(scenes[ids[i]][chart][1], scenes[ids[i]][chart][0]) for i in row]
            charts[chart] = 100 * pooled_sklearn(pairs, chart)
            out[chart].append(charts[chart])
        out["combined"].append(combined_score(charts))
    return {name: np.array(values) for name, values in out.items()}


def plain_interval(samples, confidence):
    defined = samples[~np.isnan(samples)]
    tail = 100 * (1 - confidence) / 2
    return np.percentile(defined, [tail, 100 - tail])


@pytest.mark.parametrize("constant_sic", [False, True])
def test_bootstrap_equals_a_plain_bootstrap_over_pooled_pixels(constant_sic):
    scenes = make_scenes(seed=1, constant_sic=constant_sic)
    acc = accumulate(scenes)
    settings = Bootstrap(resamples=150, confidence=0.9, seed=7)
    fast = bootstrap_scores(acc, list(scenes), settings)
    plain = plain_bootstrap(scenes, 150, 7)
    intervals = bootstrap_intervals(acc, list(scenes), settings)
    for name in (*CHARTS, "combined"):
        assert np.array_equal(np.isnan(fast[name]), np.isnan(plain[name]))
        np.testing.assert_allclose(fast[name], plain[name], rtol=0, atol=TOL, equal_nan=True)
        low, high = plain_interval(plain[name], 0.9)
        assert abs(intervals[name].low - low) < TOL and abs(intervals[name].high - high) < TOL
    # SOD class 5 lives in the last scene only: some resamples lack it, and they still agree
    counts = resample_counts(len(scenes), 150, 7)
    assert (counts[:, -1] == 0).any() and (counts[:, -1] > 0).any()
    if constant_sic:  # R2 of a constant reference: 1.0 or 0.0 as in scikit-learn
        assert set(np.unique(fast["SIC"][~np.isnan(fast["SIC"])])) <= {0.0, 100.0}


def test_resamples_of_only_the_empty_scene_are_undefined_and_left_out():
    scenes = {s: c for s, c in make_scenes(seed=2).items() if s in SCENES[1:3]}
    acc = accumulate(scenes)
    settings = Bootstrap(resamples=64, seed=3)
    fast = bootstrap_scores(acc, list(scenes), settings)
    only_empty = resample_counts(2, 64, 3)[:, 0] == 0
    assert only_empty.any() and np.isnan(fast["SOD"][only_empty]).all()
    assert not np.isnan(fast["SOD"][~only_empty]).any()
    interval = bootstrap_intervals(acc, list(scenes), settings)["SOD"]
    assert interval.undefined == int(only_empty.sum())
    # the non-empty scene alone is every defined resample: the interval is its score
    score = acc.report([SCENES[1]]).charts["SOD"]
    assert abs(interval.low - score) < TOL and abs(interval.high - score) < TOL


def test_one_scene_gives_the_point_score_and_seeds_repeat():
    scenes = {SCENES[0]: make_scenes(seed=4)[SCENES[0]]}
    acc = accumulate(scenes)
    report = acc.report()
    first = bootstrap_intervals(acc, acc.scenes, Bootstrap(resamples=20, seed=5))
    for chart in CHARTS:
        assert abs(first[chart].low - report.charts[chart]) < TOL
        assert abs(first[chart].high - report.charts[chart]) < TOL
    acc = accumulate(make_scenes(seed=4))
    again = [
        bootstrap_intervals(acc, acc.scenes, Bootstrap(resamples=50, seed=s)) for s in (5, 5, 6)
    ]
    assert again[0] == again[1] and again[0] != again[2]


def test_batch_scores_equal_the_exact_metric_on_every_pool():
    acc = accumulate(make_scenes(seed=8))
    for chart in CHARTS:
        for scene in acc.scenes:
            counts = acc.counts(chart, [scene])
            score = batch_scores(
                counts.confusion[None].astype(float),
                np.array([float(sum(counts.out_squared_error))]),
                chart,
            )[0]
            expected = acc.report([scene]).charts[chart]
            assert (math.isnan(score) and math.isnan(expected)) or abs(score - expected) < TOL


@pytest.mark.parametrize("bad", [{"resamples": 0}, {"resamples": 2.5}, {"confidence": 1.0},
                                 {"confidence": 0}, {"confidence": math.nan}, {"seed": -1}])  # fmt: skip
def test_bad_settings_are_one_line_errors(bad):
    with pytest.raises(ScoringError) as info:
        Bootstrap(**bad)
    assert "\n" not in str(info.value) and next(iter(bad)) in str(info.value)


def test_paired_bootstrap_equals_a_plain_paired_loop():
    scenes_a = make_scenes(seed=9)
    scenes_b = {
        s: {c: (np.where(ref == MASK, 0, ref).astype(np.uint8) if c == "SOD" else pred, ref)
            for c, (pred, ref) in charts.items()}
        for s, charts in make_scenes(seed=9).items()
    }  # fmt: skip
    a, b = accumulate(scenes_a), accumulate(scenes_b)
    result = paired_bootstrap(a, b, settings=Bootstrap(resamples=120, seed=11))
    plain_a, plain_b = plain_bootstrap(scenes_a, 120, 11), plain_bootstrap(scenes_b, 120, 11)
    for name in (*CHARTS, "combined"):
        diff = plain_a[name] - plain_b[name]
        defined = diff[~np.isnan(diff)]
        low, high = plain_interval(diff, 0.95)
        assert abs(result.interval[name].low - low) < TOL
        assert abs(result.interval[name].high - high) < TOL
        assert result.a_better[name] == pytest.approx((defined > 0).mean(), abs=1e-12)
        assert result.ties[name] == pytest.approx((defined == 0).mean(), abs=1e-12)
    assert result.ties["SIC"] == 1.0 and result.a_better["SOD"] == 0.0  # B is perfect on SOD
    assert result.difference["SOD"] < 0 and result.interval["SOD"].high < 0
    assert json.loads(result.to_json())["a_better"]["SOD"] == 0.0


def test_paired_bootstrap_lists_scenes_only_one_side_holds():
    scenes = make_scenes(seed=12)
    a = accumulate(scenes)
    b = accumulate({s: c for s, c in scenes.items() if s != SCENES[1]})
    with pytest.raises(ScoringError, match=f"only in A: {SCENES[1]}; only in B: none"):
        paired_bootstrap(a, b)


def plain_run_means(runs, resamples, seed, stream):
    """The textbook two-level loop: draw scene indices (as `plain_bootstrap`), draw runs with
    replacement, score each drawn run on the drawn scenes' pooled pixels and average."""
    ids = list(runs[0])
    scene_rows = np.random.default_rng(seed).integers(0, len(ids), size=(resamples, len(ids)))
    run_rows = np.random.default_rng([seed, stream]).integers(
        0, len(runs), size=(resamples, len(runs))
    )
    out = {name: [] for name in (*CHARTS, "combined")}
    for scene_row, run_row in zip(scene_rows, run_rows):
        per_run = []
        for r in run_row:
            charts = {}
            for chart in CHARTS:
                pairs = [(runs[r][ids[i]][chart][1], runs[r][ids[i]][chart][0]) for i in scene_row]
                charts[chart] = 100 * pooled_sklearn(pairs, chart)
            per_run.append({**charts, "combined": combined_score(charts)})
        for name in out:
            out[name].append(np.mean([scores[name] for scores in per_run]))
    return {name: np.array(values) for name, values in out.items()}


def test_paired_bootstrap_runs_equals_a_plain_loop_over_scenes_and_runs():
    runs_a = [make_scenes(seed=s, empty_scene=False) for s in (20, 21, 22)]
    runs_b = [make_scenes(seed=s, empty_scene=False) for s in (30, 31)]
    for run in runs_b:  # B: worse on SOD (half its pixels predicted as class 0)
        for charts in run.values():
            pred, ref = charts["SOD"]
            charts["SOD"] = (np.where(np.arange(pred.size).reshape(pred.shape) % 2, 0, pred), ref)
    result = paired_bootstrap_runs(
        [accumulate(r) for r in runs_a], [accumulate(r) for r in runs_b],
        settings=Bootstrap(resamples=60, seed=7), names=("multi", "base"),
    )  # fmt: skip
    plain_a, plain_b = plain_run_means(runs_a, 60, 7, 1), plain_run_means(runs_b, 60, 7, 2)
    for name in (*CHARTS, "combined"):
        diff = plain_a[name] - plain_b[name]
        low, high = plain_interval(diff, 0.95)
        assert abs(result.interval[name].low - low) < TOL
        assert abs(result.interval[name].high - high) < TOL
        assert result.a_better[name] == pytest.approx((diff > 0).mean(), abs=1e-12)
        means = [accumulate(r).report() for r in runs_a]
        point = np.mean([m.combined if name == "combined" else m.charts[name] for m in means])
        assert result.a[name] == pytest.approx(point, abs=TOL)
    assert result.runs == (3, 2) and result.verdicts()["SOD"] == "better"
    assert "mean of 3 runs" in result.table() and "scenes and runs" in result.table()
    assert json.loads(result.to_json())["verdicts"]["SOD"] == "better"


def test_paired_bootstrap_runs_of_one_run_each_is_the_paired_bootstrap():
    a, b = accumulate(make_scenes(seed=40)), accumulate(make_scenes(seed=41))
    settings = Bootstrap(resamples=150, seed=3)
    single, runs = (
        paired_bootstrap(a, b, settings=settings),
        paired_bootstrap_runs([a], [b], settings=settings),
    )
    for name in (*CHARTS, "combined"):
        assert runs.interval[name] == single.interval[name]
        assert runs.difference[name] == pytest.approx(single.difference[name], abs=TOL)


def test_paired_bootstrap_runs_pairs_runs_and_refuses_mismatches():
    runs = [accumulate(make_scenes(seed=s)) for s in (50, 51)]
    paired = paired_bootstrap_runs(runs, runs, settings=Bootstrap(resamples=50), pair_runs=True)
    assert all(paired.interval[n].low == paired.interval[n].high == 0 for n in paired.interval)
    with pytest.raises(
        ScoringError, match="pair_runs needs as many runs of A as of B, got 2 and 1"
    ):
        paired_bootstrap_runs(runs, runs[:1], pair_runs=True)
    with pytest.raises(ScoringError, match="B: no runs"):
        paired_bootstrap_runs(runs, [])
    fewer = accumulate({s: c for s, c in make_scenes(seed=52).items() if s != SCENES[0]})
    with pytest.raises(ScoringError, match=f"only in A run 1: {SCENES[0]}"):
        paired_bootstrap_runs(runs, [fewer])


def pooled(scenes, chart, members):
    ref = np.concatenate([scenes[s][chart][1].ravel() for s in members]).astype(np.int64)
    pred = np.concatenate([scenes[s][chart][0].ravel() for s in members]).astype(np.int64)
    return ref[ref != MASK], pred[ref != MASK]


def test_chart_statistics_equal_scikit_learn_on_pooled_pixels():
    scenes = make_scenes(seed=13)
    acc = accumulate(scenes)
    for chart in CHARTS:
        ref, pred = pooled(scenes, chart, list(scenes))
        stats = chart_statistics(acc.counts(chart), chart)
        labels = list(range(N_CLASSES[chart]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p, r, f, s = precision_recall_fscore_support(ref, pred, labels=labels, zero_division=0)
            iou = jaccard_score(ref, pred, labels=labels, average=None, zero_division=0)
        for k, entry in enumerate(stats["classes"]):
            assert entry["support"] == s[k]
            for key, expected in (("precision", p), ("recall", r), ("f1", f), ("iou", iou)):
                assert entry[key] is None or abs(entry[key] - expected[k]) < TOL
        assert abs(stats["overall_accuracy"] - accuracy_score(ref, pred)) < TOL
        assert stats["n_pixels"] == ref.size
        if chart == "SIC":
            for k, entry in enumerate(stats["classes"]):
                mine = (ref == k) & (pred <= 10)
                errors = pred[mine] - k
                assert entry["excluded"] == int(((ref == k) & (pred > 10)).sum())
                if errors.size:
                    assert abs(entry["mae"] - np.abs(errors).mean()) < TOL
                    assert abs(entry["bias"] - errors.mean()) < TOL
            ice_ref, ice_pred = ref >= 2, (pred >= 2) & (pred <= 10)
            assert abs(stats["ice_edge_f1"] - f1_score(ice_ref, ice_pred)) < TOL
        else:
            present = (s > 0) | (np.isin(labels, pred))
            assert abs(stats["mean_iou"] - iou[present].mean()) < TOL


def test_breakdown_by_service_pools_each_groups_scenes():
    scenes = make_scenes(seed=14)
    acc = accumulate(scenes)
    groups = breakdown(acc, list(scenes), "service")
    assert list(groups) == ["cis", "dmi"]
    assert groups["cis"]["scenes"] == [SCENES[1], SCENES[3]] and groups["dmi"]["n_scenes"] == 3
    for group in groups.values():
        report = acc.report(group["scenes"])
        assert abs(group["combined"] - report.combined) < TOL
        for chart in CHARTS:
            ref, pred = pooled(scenes, chart, group["scenes"])
            assert group["charts"][chart]["n_pixels"] == ref.size
            assert abs(group["charts"][chart]["score"] - 100 * pooled_sklearn([(ref, pred)], chart)) < TOL  # fmt: skip


def test_scene_groups_by_month_season_region_and_file(tmp_path):
    assert scene_groups(SCENES, "month") == dict(zip(SCENES, ["01", "04", "07", "10", "12"]))
    assert list(scene_groups(SCENES, "season").values()) == ["DJF", "MAM", "JJA", "SON", "DJF"]
    regions = scene_groups(["20180108T184332_dmi"], "region")  # from data_manifest.csv
    assert regions == {"20180108T184332_dmi": "CentralEast"}
    with pytest.raises(ScoringError, match=r"no chart_source for 1 scenes: 20180101T000000_dmi$"):
        scene_groups(["20180108T184332_dmi", "20180101T000000_dmi"], "region")
    groups = tmp_path / "groups.csv"
    groups.write_text("scene_id,region,basin\n" + "".join(f"{s},R{i},B\n" for i, s in enumerate(SCENES[:3])))  # fmt: skip
    assert scene_groups(SCENES[:2], "region", groups_file=groups) == {SCENES[0]: "R0", SCENES[1]: "R1"}  # fmt: skip
    with pytest.raises(ScoringError) as info:
        scene_groups(SCENES, "basin", groups_file=groups)
    message = str(info.value)
    assert (
        message == f"groups file {groups}: no column basin for 2 scenes: {SCENES[3]}, {SCENES[4]}"
    )
    with pytest.raises(ScoringError, match="unknown grouping key 'platform'"):
        scene_groups(SCENES, "platform", groups_file=groups)
    with pytest.raises(ScoringError, match="not of the form"):
        scene_groups(["scene_a"], "season")


# ------------------------------------------------------------------------------------------
# Files and the command line
# ------------------------------------------------------------------------------------------


def test_score_submission_ci_equals_a_plain_bootstrap_in_the_reports_order(two_submissions):
    tmp, a, _, scenes, _ = two_submissions
    report = score_submission(a, tmp / "data", ci=Bootstrap(resamples=100, seed=2), workers=1)
    ordered = {s: scenes[s] for s in report.scenes}
    plain = plain_bootstrap(ordered, 100, 2)
    for name in (*CHARTS, "combined"):
        low, high = plain_interval(plain[name], 0.95)
        assert abs(report.intervals[name]["low"] - low) < TOL
        assert abs(report.intervals[name]["high"] - high) < TOL
    assert report.intervals["resamples"] == 100 and report.breakdowns == {}


def test_cli_score_ci_and_by_write_json_and_table(two_submissions, capsys):
    tmp, a, _, _, _ = two_submissions
    out = tmp / "report.json"
    args = ["score", str(a), "--reference", str(tmp / "data"), "--workers", "1"]
    assert main([*args, "--ci", "--resamples", "300", "--by", "service,season", "--json", str(out)]) == 0  # fmt: skip
    table = capsys.readouterr().out
    data = json.loads(out.read_text())
    assert data["intervals"]["resamples"] == 300 and data["intervals"]["confidence"] == 0.95
    combined = data["intervals"]["combined"]
    assert combined["low"] <= data["combined"] <= combined["high"]
    assert f"[{combined['low']:.3f}, {combined['high']:.3f}]" in table
    assert set(data["breakdowns"]) == {"service", "season"}
    assert "by service" in table and "by season" in table
    expected = score_submission(a, tmp / "data", ci=Bootstrap(resamples=300), by=["service"])
    assert data["intervals"]["SIC"] == expected.intervals["SIC"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--by", "planet"], "unknown grouping key 'planet'"),
        (["--ci", "--confidence", "95"], "--confidence: confidence must lie between 0 and 1"),
        (["--ci", "--resamples", "many"], "--resamples: expected a whole number, got 'many'"),
        (["--seed", "3"], "need --ci"),
    ],
)
def test_cli_bad_statistics_options_are_one_line_exit_2(two_submissions, capsys, extra, message):
    tmp, a, _, _, _ = two_submissions
    assert main(["score", str(a), "--reference", str(tmp / "data"), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("autoice score: error:") and "\n" not in err and message in err


def test_cli_groups_file_not_covering_the_scenes_lists_them(two_submissions, capsys):
    tmp, a, _, scenes, _ = two_submissions
    first, *rest = sorted(scenes)
    groups = tmp / "groups.csv"
    groups.write_text(f"scene_id,region\n{first},Fram Strait\n")
    args = ["score", str(a), "--reference", str(tmp / "data"), "--by", "region", "--groups", str(groups)]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.endswith(f"no column region for 2 scenes: {', '.join(rest)}")


def test_compare_equals_a_plain_paired_bootstrap_and_cli_writes_json(two_submissions, capsys):
    tmp, a, b, scenes_a, scenes_b = two_submissions
    result = compare_submissions(a, b, tmp / "data", settings=Bootstrap(resamples=80, seed=4))
    order = result.scenes
    plain_a = plain_bootstrap({s: scenes_a[s] for s in order}, 80, 4)
    plain_b = plain_bootstrap({s: scenes_b[s] for s in order}, 80, 4)
    for name in (*CHARTS, "combined"):
        low, high = plain_interval(plain_a[name] - plain_b[name], 0.95)
        assert abs(result.interval[name].low - low) < TOL
        assert abs(result.interval[name].high - high) < TOL
    out = tmp / "compare.json"
    args = ["compare", str(a), str(b), "--reference", str(tmp / "data"), "--json", str(out)]
    assert main([*args, "--resamples", "80", "--seed", "4"]) == 0
    table = capsys.readouterr().out
    data = json.loads(out.read_text())
    assert data["difference"]["combined"] == pytest.approx(result.difference["combined"], abs=TOL)
    assert data["a_better"] == result.a_better and "A - B" in table and "A > B" in table


def test_compare_different_scene_sets_is_one_line_exit_2(two_submissions, capsys):
    tmp, a, _, scenes, _ = two_submissions
    dropped = sorted(scenes)[0]
    partial = {s: {c: p for c, (p, _) in charts.items()} for s, charts in scenes.items() if s != dropped}  # fmt: skip
    c = write_submission(tmp / "c.nc", submission_arrays(partial))
    assert main(["compare", str(a), str(c), "--reference", str(tmp / "data")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("autoice compare: error:") and "\n" not in err
    assert f"only in {a}: {dropped}; only in {c}: none" in err
