"""Calibration figures of an uncertainty file, checked against a direct numpy computation of
their definitions (issue 24) on hand-made and seeded cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import f1_score, r2_score

from kit.charts import CHARTS, MASK, METRICS, N_CLASSES
from scoring.calibration import calibration_intervals, calibration_statistics
from scoring.scorer import score_all_scenes
from scoring.statistics import Bootstrap, resample_counts
from tests.scoring.uncertainty_builders import calibration_case, write_uint8_file


def pooled_pixels(case, chart, scenes=None):
    """The scored pixels (reference not 255) of `scenes`, pooled: reference, prediction,
    confidence (0 where the submission is 255), and for SIC low/high."""
    scenes = sorted(case["refs"]) if scenes is None else scenes
    out = {k: [] for k in ("ref", "pred", "conf", "low", "high", "probs")}
    for scene in scenes:
        ref = case["refs"][scene][chart]
        keep = ref != MASK
        pred = case["preds"][scene][chart]
        conf = case["maps"][scene][chart].astype(int)
        out["ref"].append(ref[keep].astype(int))
        out["pred"].append(pred[keep].astype(int))
        out["conf"].append(np.where(pred == MASK, 0, conf)[keep])
        if chart == "SIC":
            out["low"].append(case["maps"][scene]["low"][keep].astype(int))
            out["high"].append(case["maps"][scene]["high"][keep].astype(int))
        if case["prob_maps"] is not None:
            out["probs"].append(case["prob_maps"][scene][chart][:, keep].astype(int))
    pooled = {k: np.concatenate(v) for k, v in out.items() if k != "probs" and v}
    if out["probs"]:
        pooled["probs"] = np.concatenate(out["probs"], axis=1)
    return pooled


def direct_ece(conf, right):
    c = conf / 100.0
    bins = np.minimum(np.floor(c * 10 + 1e-9).astype(int), 9)
    ece, gaps, table = 0.0, [], []
    for b in range(10):
        at = bins == b
        if not at.any():
            table.append(None)
            continue
        gap = abs(right[at].mean() - c[at].mean())
        ece += at.sum() / c.size * gap
        gaps.append(gap)
        table.append((int(at.sum()), c[at].mean(), right[at].mean()))
    return ece, max(gaps), table


def direct_aurc(conf, right, points=400_000):
    """Numerical integral of risk(c): the first c*N pixels by confidence, ties at the boundary
    level counted at that level's error rate."""
    n = conf.size
    levels = np.arange(100, -1, -1)
    counts = np.array([(conf == v).sum() for v in levels], float)
    errors = np.array([(~right[conf == v]).sum() for v in levels], float)
    ends = np.cumsum(counts)
    cum_err = np.cumsum(errors)
    m = (np.arange(points) + 0.5) / points * n  # pixels kept (midpoint rule)
    j = np.searchsorted(ends, m)  # level holding the m-th pixel
    before = ends[j] - counts[j]
    err = cum_err[j] - errors[j] + (m - before) * errors[j] / counts[j]
    return float(np.mean(err / m))


def direct_selective(ref, pred, conf, chart, q):
    for t in range(100, -1, -1):
        keep = conf >= t
        if keep.sum() >= q * conf.size:
            break
    r, p = ref[keep], pred[keep]
    if METRICS[chart] == "r2":
        score = r2_score(r, p)
    else:
        score = f1_score(r, p, average="weighted")
    return t, keep.mean(), (r == p).mean(), 100 * score


def check_against_direct(stats, case, scenes=None):
    for chart in CHARTS:
        px = pooled_pixels(case, chart, scenes)
        got = stats["charts"][chart]
        right = px["ref"] == px["pred"]
        ece, mce, table = direct_ece(px["conf"], right)
        assert got["n_pixels"] == px["ref"].size
        assert got["accuracy"] == pytest.approx(right.mean(), abs=1e-12)
        assert got["ece"] == pytest.approx(ece, abs=1e-12)
        assert got["mce"] == pytest.approx(mce, abs=1e-12)
        for row, expected in zip(got["reliability"], table):
            if expected is None:
                assert row["pixels"] == 0 and row["accuracy"] is None
            else:
                assert (row["pixels"], row["mean_confidence"], row["accuracy"]) == pytest.approx(
                    expected, abs=1e-12
                )
        assert got["aurc"] == pytest.approx(direct_aurc(px["conf"], right), abs=2e-5)
        for q in (0.5, 0.8, 0.9):
            t, coverage, accuracy, score = direct_selective(
                px["ref"], px["pred"], px["conf"], chart, q
            )
            sel = got["selective"][f"{round(100 * q)}"]
            assert sel["threshold"] == t
            assert sel["coverage"] == pytest.approx(coverage, abs=1e-12)
            assert sel["accuracy"] == pytest.approx(accuracy, abs=1e-12)
            assert sel["score"] == pytest.approx(score, abs=1e-9)
        curve = got["risk_coverage"]
        assert curve[-1]["coverage"] == pytest.approx(1.0)
        assert curve[-1]["risk"] == pytest.approx(1 - right.mean(), abs=1e-12)
        if case["prob_maps"] is not None:
            has = px["pred"] != MASK
            p = px["probs"][:, has] / 100.0
            onehot = np.eye(N_CLASSES[chart])[px["ref"][has]].T
            brier = ((p - onehot) ** 2).sum(axis=0).mean()
            p_ref = p[px["ref"][has], np.arange(has.sum())]
            nll = -np.log(np.maximum(p_ref, 0.005)).mean()
            assert got["probabilities"]["brier"] == pytest.approx(brier, abs=1e-12)
            assert got["probabilities"]["nll"] == pytest.approx(nll, abs=1e-12)
            assert got["probabilities"]["pixels"] == has.sum()
    px = pooled_pixels(case, "SIC", scenes)
    has = px["pred"] != MASK
    covered = (px["low"] <= px["ref"]) & (px["ref"] <= px["high"])
    interval = stats["sic_interval"]
    assert interval["coverage"] == pytest.approx(covered[has].mean(), abs=1e-12)
    assert interval["mean_width"] == pytest.approx((px["high"] - px["low"])[has].mean(), abs=1e-12)
    assert interval["no_interval"] == (~has).sum()


@pytest.mark.parametrize("workers", [1, 2])
def test_pooled_scenes_match_the_definitions(tmp_path, workers):
    case = calibration_case(tmp_path)
    scored = score_all_scenes(case["sub"], case["root"], workers=workers,
                              uncertainty=case["unc"], probabilities=case["probs"])  # fmt: skip
    stats = calibration_statistics(scored.calibration, scored.reference.scene_ids)
    check_against_direct(stats, case)
    # a subset of scenes pools only those
    two = scored.reference.scene_ids[:2]
    check_against_direct(calibration_statistics(scored.calibration, two), case, two)


def test_one_scene(tmp_path):
    case = calibration_case(tmp_path, n_scenes=1, shape=(20, 15))
    scored = score_all_scenes(case["sub"], case["root"], workers=1, uncertainty=case["unc"],
                              probabilities=case["probs"])  # fmt: skip
    check_against_direct(calibration_statistics(scored.calibration, scored.reference.scene_ids), case)  # fmt: skip


def test_all_confident(tmp_path):
    """Every confidence 100: ECE = MCE = error rate, the most confident 50 % are all pixels."""
    case = calibration_case(tmp_path, levels=[100], no_prediction=0.0, probabilities=False)
    scored = score_all_scenes(case["sub"], case["root"], workers=1, uncertainty=case["unc"])
    stats = calibration_statistics(scored.calibration, scored.reference.scene_ids)
    check_against_direct(stats, case)
    for chart in CHARTS:
        got = stats["charts"][chart]
        assert got["ece"] == pytest.approx(1 - got["accuracy"])
        assert got["mce"] == pytest.approx(1 - got["accuracy"])
        assert got["aurc"] == pytest.approx(1 - got["accuracy"])
        assert got["selective"]["50"]["coverage"] == 1.0
        assert got["selective"]["50"]["score"] == pytest.approx(scored.accumulator.report().charts[chart])  # fmt: skip
        assert [r["pixels"] > 0 for r in got["reliability"]] == [False] * 9 + [True]


def test_empty_bins_are_reported_as_empty(tmp_path):
    case = calibration_case(tmp_path, levels=[35, 95], probabilities=False)
    scored = score_all_scenes(case["sub"], case["root"], workers=1, uncertainty=case["unc"])
    stats = calibration_statistics(scored.calibration, scored.reference.scene_ids)
    check_against_direct(stats, case)
    table = stats["charts"]["SOD"]["reliability"]
    assert [r["pixels"] > 0 for r in table] == [True] + [False] * 2 + [True] + [False] * 5 + [True]
    assert table[5] == {"low": 0.5, "high": 0.6, "pixels": 0, "mean_confidence": None,
                        "accuracy": None, "gap": None}  # fmt: skip
    assert table[0]["mean_confidence"] == 0.0  # the scored pixels left at 255: level 0


def test_constant_reference(tmp_path):
    """A constant reference (all SIC 100 %): R2 follows scikit-learn's convention (1 if perfect,
    else 0) on the selected pixels too."""
    case = calibration_case(tmp_path, n_scenes=2, probabilities=True)
    for charts in case["refs"].values():
        for chart, ref in charts.items():
            ref[ref != MASK] = N_CLASSES[chart] - 1
    from tests.scoring.builders import write_scene

    for scene, charts in case["refs"].items():
        write_scene(case["root"] / "test" / f"{scene}_prep_reference.nc", charts, with_input=False)
    scored = score_all_scenes(case["sub"], case["root"], workers=1, uncertainty=case["unc"],
                              probabilities=case["probs"])  # fmt: skip
    stats = calibration_statistics(scored.calibration, scored.reference.scene_ids)
    check_against_direct(stats, case)


def test_out_of_class_predictions_enter_the_selective_r2(tmp_path):
    """Predicted values outside the classes (scored as wrong) keep their own value in R2."""
    case = calibration_case(tmp_path, n_scenes=1, probabilities=False, no_prediction=0.0)
    scene = next(iter(case["preds"]))
    pred = case["preds"][scene]["SIC"]
    ref = case["refs"][scene]["SIC"]
    pred[(ref != MASK) & (np.arange(pred.size).reshape(pred.shape) % 7 == 0)] = 37
    from tests.scoring.builders import submission_arrays, write_submission

    write_submission(case["sub"], submission_arrays(case["preds"]))
    scored = score_all_scenes(case["sub"], case["root"], workers=1, uncertainty=case["unc"])
    check_against_direct(calibration_statistics(scored.calibration, [scene]), case)


def test_bootstrap_intervals_resample_scenes_exactly(tmp_path):
    case = calibration_case(tmp_path)
    scored = score_all_scenes(case["sub"], case["root"], workers=1, uncertainty=case["unc"],
                              probabilities=case["probs"])  # fmt: skip
    scenes = scored.reference.scene_ids
    settings = Bootstrap(resamples=25, confidence=0.9, seed=3)
    boot = calibration_intervals(scored.calibration, scenes, settings)
    draws = resample_counts(len(scenes), settings.resamples, settings.seed)
    for chart in CHARTS:
        direct = {"ece": [], "score_80": [], "brier": [], "aurc": []}
        for row in draws:
            drawn = [s for s, k in zip(scenes, row) for _ in range(k)]
            stats = calibration_statistics(scored.calibration, drawn)["charts"][chart]
            direct["ece"].append(stats["ece"])
            direct["score_80"].append(stats["selective"]["80"]["score"])
            direct["brier"].append(stats["probabilities"]["brier"])
            direct["aurc"].append(stats["aurc"])
        for name, values in direct.items():
            low, high = np.percentile(values, [5, 95])
            got = boot["charts"][chart][name]
            assert (got["low"], got["high"]) == pytest.approx((low, high), abs=1e-9), name
    interval = boot["sic_interval"]["coverage"]
    assert 0 <= interval["low"] <= interval["high"] <= 1
    assert set(boot["charts"]["SOD"]) >= {"ece", "mce", "aurc", "accuracy_50", "score_90", "nll"}


def test_aurc_of_distinct_confidences_is_the_integral(tmp_path):
    """Hand-made: 4 pixels at 90, 70, 50, 30 %, wrong, right, wrong, right."""
    from scoring.calibration import area_under_risk_coverage

    totals, correct = np.zeros(101), np.zeros(101)
    totals[[90, 70, 50, 30]] = 1
    correct[[70, 30]] = 1
    # risk(m) for m pixels kept: level 1 (0..1): 1; (1..2): 1/m; (2..3): (m-1)/m; (3..4): 2/m
    expected = (1 + math.log(2) + (1 - math.log(3 / 2)) + 2 * math.log(4 / 3)) / 4
    assert float(area_under_risk_coverage(totals, correct)) == pytest.approx(expected)


def _counts(scored):
    return {
        (scene, chart): scored.accumulator.scene_counts(scene, chart)
        for scene in scored.reference.scene_ids
        for chart in CHARTS
    }


@pytest.mark.parametrize("dtype", ["u1", "i2"])
def test_scores_are_the_same_with_an_uncertainty_file(tmp_path, dtype):
    """The scorer counts a block once for both (the calibration's codes give the challenge's
    pairs): every count equals plain scoring's, out-of-class and wide values included."""
    from tests.scoring.builders import submission_arrays, write_submission

    case = calibration_case(tmp_path, probabilities=False)
    scene = sorted(case["preds"])[1]
    pred = case["preds"][scene]["FLOE"].astype(np.int16)
    pred[0, :3] = [9, 8, 7]
    if dtype == "i2":
        pred[1, :2] = [-4, 300]
    case["preds"][scene]["FLOE"] = pred
    arrays = {k: v.astype(dtype) for k, v in submission_arrays(case["preds"]).items()}
    write_submission(case["sub"], arrays)
    plain = score_all_scenes(case["sub"], case["root"], workers=1)
    with_unc = score_all_scenes(case["sub"], case["root"], workers=1, uncertainty=case["unc"])
    for key, counts in _counts(plain).items():
        other = _counts(with_unc)[key]
        assert np.array_equal(counts.confusion, other.confusion), key
        assert counts.out_squared_error == other.out_squared_error
        assert (counts.out_unscored, counts.out_values) == (other.out_unscored, other.out_values)
    report = with_unc.report().to_dict()
    assert "calibration" in report and "calibration" not in plain.report().to_dict()
    report.pop("calibration")
    assert plain.report().to_dict() == report
    check_against_direct(calibration_statistics(with_unc.calibration, sorted(case["refs"])), case)


def test_an_invalid_reference_is_named_as_without_uncertainty(tmp_path):
    from scoring.errors import ScoringError
    from tests.scoring.builders import write_scene

    case = calibration_case(tmp_path, n_scenes=1, probabilities=False)
    scene = sorted(case["refs"])[0]
    case["refs"][scene]["SOD"][0, 0] = 9
    write_scene(case["root"] / "test" / f"{scene}_prep_reference.nc", case["refs"][scene], with_input=False)  # fmt: skip
    messages = []
    for extra in ({}, {"uncertainty": case["unc"]}):
        with pytest.raises(ScoringError) as error:
            score_all_scenes(case["sub"], case["root"], workers=1, **extra)
        messages.append(str(error.value))
    assert messages[0] == messages[1] and "outside the SOD classes" in messages[0]


def test_a_pool_without_pixels_is_undefined_not_a_crash():
    from scoring.calibration import IntervalCounts, LevelCounts, chart_calibration, interval_summary

    figures = chart_calibration(LevelCounts.empty("SOD"), "SOD")
    assert math.isnan(figures["ece"]) and math.isnan(figures["aurc"]) and figures["n_pixels"] == 0
    assert figures["risk_coverage"] == [] and all(r["accuracy"] is None for r in figures["reliability"])  # fmt: skip
    assert math.isnan(figures["selective"]["50"]["accuracy"])
    assert math.isnan(interval_summary(IntervalCounts.empty())["coverage"])


def test_submission_problems_come_before_the_uncertainty_files(tmp_path):
    from scoring.errors import ScoringError
    from tests.scoring.builders import submission_arrays, write_submission

    case = calibration_case(tmp_path, n_scenes=2, probabilities=False)
    arrays = submission_arrays(case["preds"])
    arrays.pop(next(iter(arrays)))
    write_submission(case["sub"], arrays)
    other = write_uint8_file(tmp_path / "other.nc", {"x": np.zeros((2, 2), np.uint8)})
    with pytest.raises(ScoringError, match="^submission .* missing 1 variables"):
        score_all_scenes(case["sub"], case["root"], workers=1, uncertainty=other)
    write_submission(case["sub"], submission_arrays(case["preds"]))
    with pytest.raises(ScoringError, match="^uncertainty file .* missing 10 variables"):
        score_all_scenes(case["sub"], case["root"], workers=1, uncertainty=other)


def test_breakdowns_pool_each_group_as_the_challenge(tmp_path):
    from scoring.calibration import calibration_breakdown

    case = calibration_case(tmp_path)
    scored = score_all_scenes(case["sub"], case["root"], workers=1, uncertainty=case["unc"],
                              probabilities=case["probs"])  # fmt: skip
    scenes = scored.reference.scene_ids
    groups = calibration_breakdown(scored.calibration, scenes, "service")
    assert sorted(groups) == ["cis", "dmi"]
    for label, group in groups.items():
        members = [s for s in scenes if s.endswith(label)]
        assert group["scenes"] == members and group["n_scenes"] == len(members)
        stats = calibration_statistics(scored.calibration, members)
        check_against_direct(stats, case, members)
        for chart in CHARTS:
            assert group["charts"][chart]["ece"] == stats["charts"][chart]["ece"]
            assert "reliability" not in group["charts"][chart]
