"""The streaming metric equals scikit-learn's pooled computation (the challenge's definition)."""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.metrics import f1_score, r2_score

from kit.charts import CHARTS, MASK, N_CLASSES, combined_score
from scoring.metrics import (
    ScoreAccumulator,
    as_chart_values,
    bincount_histogram,
    histogram,
    joint_histogram,
)
from tests.scoring.builders import (
    OUT_OF_CLASS_SCORES,
    out_of_class_case,
    random_charts,
    rounding_order_case,
)

TOL = 1e-9


def pooled_sklearn(scenes: list[tuple[np.ndarray, np.ndarray]], chart: str) -> float:
    """The challenge's computation: drop reference 255, concatenate all scenes, score."""
    ref = np.concatenate([r.ravel() for r, _ in scenes]).astype(np.int64)
    pred = np.concatenate([p.ravel() for _, p in scenes]).astype(np.int64)
    valid = ref != MASK
    ref, pred = ref[valid], pred[valid]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if chart == "SIC":
            return r2_score(ref, pred) if ref.size >= 2 else math.nan
        return f1_score(ref, pred, average="weighted") if ref.size else math.nan


def streamed(scenes: list[tuple[np.ndarray, np.ndarray]], chart: str) -> float:
    acc = ScoreAccumulator()
    for i, (ref, pred) in enumerate(scenes):
        acc.update(f"scene{i}", chart, pred, ref)
    return acc.report().charts[chart] / 100.0


def assert_same(ours: float, theirs: float) -> None:
    if math.isnan(theirs):
        assert math.isnan(ours)
    else:
        assert ours == pytest.approx(theirs, rel=TOL, abs=TOL)


@st.composite
def scene_sets(draw):
    """1-4 small scenes of one chart; class subsets make classes missing on either side."""
    chart = draw(st.sampled_from(CHARTS))
    n = N_CLASSES[chart]
    classes = list(range(n))
    ref_classes = draw(st.lists(st.sampled_from(classes), min_size=1, max_size=n, unique=True))
    pred_values = classes + [MASK]
    pred_classes = draw(st.lists(st.sampled_from(pred_values), min_size=1, max_size=n + 1, unique=True))  # fmt: skip
    mask_share = draw(st.sampled_from([0.0, 0.3, 1.0, 0.95]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    scenes = []
    for _ in range(draw(st.integers(1, 4))):
        shape = (draw(st.integers(1, 7)), draw(st.integers(1, 7)))
        ref = rng.choice(np.array(ref_classes, dtype=np.uint8), size=shape)
        scene_mask = draw(st.sampled_from([mask_share, 1.0, 0.0]))  # all-masked scenes too
        ref[rng.random(shape) < scene_mask] = MASK
        pred = rng.choice(np.array(pred_classes, dtype=np.uint8), size=shape)
        if draw(st.booleans()):
            pred = np.where(ref == MASK, pred, ref).astype(np.uint8)  # perfect where valid
        scenes.append((ref, pred))
    return chart, scenes


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scene_sets())
def test_streamed_score_equals_pooled_sklearn(case):
    chart, scenes = case
    assert_same(streamed(scenes, chart), pooled_sklearn(scenes, chart))


def _scene(values_ref, values_pred):
    return np.array(values_ref, dtype=np.uint8)[None, :], np.array(values_pred, dtype=np.uint8)[None, :]  # fmt: skip


ADVERSARIAL = {
    "class never predicted": ("SOD", [_scene([0, 1, 2, 2], [0, 0, 2, 2])]),
    "class only predicted": ("FLOE", [_scene([0, 0, 1, 1], [0, 6, 1, 1])]),
    "single class": ("SOD", [_scene([3, 3, 3], [3, 3, 3])]),
    "single class, wrong": ("SOD", [_scene([3, 3, 3], [1, 3, 2])]),
    "all-masked scene": ("FLOE", [_scene([255, 255], [1, 2]), _scene([1, 2, 2], [1, 2, 0])]),
    "constant reference, perfect": ("SIC", [_scene([10, 10, 10], [10, 10, 10])]),
    "constant reference, imperfect": ("SIC", [_scene([10, 10, 10], [10, 9, 10])]),
    "constant reference across scenes": ("SIC", [_scene([4, 4], [4, 5]), _scene([4], [3])]),
    "no prediction (255) on valid pixels": ("SIC", [_scene([0, 5, 10, 3], [0, 255, 10, 3])]),
    "255 predicted in F1 chart": ("SOD", [_scene([0, 5, 4, 3], [0, 255, 4, 255])]),
    "negative R2": ("SIC", [_scene([0, 10, 0, 10], [10, 0, 10, 0])]),
}


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_adversarial_cases_match_sklearn(name):
    chart, scenes = ADVERSARIAL[name]
    assert_same(streamed(scenes, chart), pooled_sklearn(scenes, chart))


def test_constant_reference_follows_sklearn_convention():
    assert streamed(ADVERSARIAL["constant reference, perfect"][1], "SIC") == 1.0
    assert streamed(ADVERSARIAL["constant reference, imperfect"][1], "SIC") == 0.0


def test_undefined_scores_are_nan_with_warning():
    acc = ScoreAccumulator()
    acc.update("a", "SIC", np.array([[1]]), np.array([[2]]))  # one pixel: R2 undefined
    acc.update("a", "SOD", np.array([[1]]), np.array([[MASK]]))  # no valid pixel
    acc.update("a", "FLOE", np.array([[1]]), np.array([[1]]))
    report = acc.report()
    assert math.isnan(report.charts["SIC"]) and math.isnan(report.charts["SOD"])
    assert report.charts["FLOE"] == 100.0
    assert math.isnan(report.combined)
    assert any("SIC score is undefined" in w for w in report.warnings)
    assert report.to_dict()["charts"]["SIC"] is None  # strict JSON
    assert '"SIC": null' in report.to_json()


def test_report_combines_charts_and_breaks_down_per_scene_and_class():
    rng = np.random.default_rng(1)
    acc = ScoreAccumulator()
    data = {}
    for scene in ("s1", "s2"):
        for chart in CHARTS:
            ref = rng.integers(0, N_CLASSES[chart], (20, 20)).astype(np.uint8)
            pred = np.where(rng.random((20, 20)) < 0.7, ref, 0)
            data[scene, chart] = (ref, pred)
            acc.update(scene, chart, pred.astype(np.int64), ref)
    report = acc.report()
    assert report.combined == pytest.approx(combined_score(report.charts), abs=0)
    expected_combined, expected_charts = starter_kit_compute_metrics(*pooled_charts(data, ("s1", "s2")))  # fmt: skip
    assert (report.combined_rounded, report.charts_rounded) == (expected_combined, expected_charts)
    for scene in ("s1", "s2"):
        for chart in CHARTS:
            expected = 100 * pooled_sklearn([data[scene, chart]], chart)
            assert report.per_scene[scene][chart] == pytest.approx(expected, rel=TOL)
    sod = report.details["SOD"]
    ref = np.concatenate([data[s, "SOD"][0].ravel() for s in ("s1", "s2")])
    pred = np.concatenate([data[s, "SOD"][1].ravel() for s in ("s1", "s2")])
    per_class = f1_score(ref, pred, average=None, labels=range(6))
    for cls, expected in zip(sod.classes, per_class, strict=True):
        assert cls.f1 == pytest.approx(expected, rel=TOL)
        assert cls.support == int((ref == cls.value).sum())
    assert np.array(sod.confusion).sum() == ref.size == sod.n_pixels
    assert sod.confusion_columns[-1].startswith("255")


def test_tiles_of_one_scene_add_up_to_the_whole_scene():
    rng = np.random.default_rng(2)
    ref = rng.integers(0, 11, (30, 17)).astype(np.uint8)
    ref[rng.random(ref.shape) < 0.3] = MASK
    pred = rng.integers(0, 11, (30, 17)).astype(np.uint8)
    whole, tiled = ScoreAccumulator(), ScoreAccumulator()
    whole.update("s", "SIC", pred, ref)
    for rows in (slice(0, 7), slice(7, 30)):
        tiled.update("s", "SIC", pred[rows], ref[rows])
    assert np.array_equal(whole.confusion("SIC"), tiled.confusion("SIC"))


@pytest.mark.parametrize(
    ("pred", "message", "strict"),
    [
        (np.array([[1.0, np.nan]]), "prediction contains NaN", False),
        (np.array([[1.5, 2.0]]), "prediction contains non-integer", False),
        (np.array([["a", "b"]]), "prediction has non-numeric", False),
        (np.array([[1e300, 2.0]]), "prediction has values beyond the 64-bit integer range", False),
        (
            np.array([[-1, 2]]),
            "prediction has 1 pixels with values outside the SOD classes 0-5 (or 255): -1",
            True,
        ),  # fmt: skip
        (
            np.array([[6, 7]]),
            "prediction has 2 pixels with values outside the SOD classes 0-5 (or 255): 6, 7",
            True,
        ),  # fmt: skip
    ],
)
def test_update_rejects_values_that_are_not_classes(pred, message, strict):
    with pytest.raises(ValueError, match=re.escape(f"s SOD {message}")):
        ScoreAccumulator().update("s", "SOD", pred, np.array([[1, 2]], dtype=np.uint8), strict=strict)  # fmt: skip


def test_update_rejects_bad_reference_shape_and_chart():
    acc = ScoreAccumulator()
    with pytest.raises(ValueError, match="reference has values outside the FLOE classes"):
        acc.update("s", "FLOE", np.array([[1]]), np.array([[7]]))
    with pytest.raises(ValueError, match="shape"):
        acc.update("s", "SIC", np.zeros((2, 2)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="unknown chart"):
        acc.update("s", "SIT", np.zeros((2, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="no predictions were added"):
        acc.report(["missing"])


def test_joint_histogram_counts_pairs():
    ref = np.array([0, 0, 255, 3], dtype=np.uint8)
    pred = np.array([0, 1, 7, 3], dtype=np.uint8)
    hist = joint_histogram(ref, pred)
    assert hist.sum() == 4 and hist[0, 0] == hist[0, 1] == hist[255, 7] == hist[3, 3] == 1
    assert as_chart_values(np.array([3.0])).dtype == np.uint8


def test_opencv_and_bincount_histograms_count_the_same(monkeypatch):
    rng = np.random.default_rng(3)
    ref = rng.integers(0, 256, (70, 53), dtype=np.uint8)
    pred = np.where(rng.random((70, 53)) < 0.5, ref, rng.integers(0, 256, (70, 53))).astype(np.uint8)  # fmt: skip
    expected = np.zeros((256, 256), dtype=np.int64)
    np.add.at(expected, (ref.ravel(), pred.ravel()), 1)
    assert (bincount_histogram(ref, pred) == expected).all()
    assert (joint_histogram(ref[:, ::2], pred[:, ::2]) == bincount_histogram(ref[:, ::2], pred[:, ::2])).all()  # fmt: skip
    monkeypatch.setattr(histogram, "OPENCV_STEP", 1000)  # several calcHist slices
    assert (joint_histogram(ref, pred) == expected).all()
    monkeypatch.setattr(histogram, "_opencv", lambda: None)  # a scoring image without OpenCV
    assert (joint_histogram(ref, pred) == expected).all()
    assert joint_histogram(ref[:0], pred[:0]).sum() == 0


@pytest.mark.parametrize("size", [0, 1, 3, 4, 5, 7, 8, 1001])
def test_interleaved_counting_covers_every_pixel_once(monkeypatch, size):
    """Blocky charts, sizes with and without a remainder after the interleaved parts."""
    rng = np.random.default_rng(size)
    ref = np.repeat(rng.integers(0, 12, size // 10 + 1), 10)[:size].astype(np.uint8)
    pred = np.where(rng.random(size) < 0.2, 255, ref).astype(np.uint8)
    expected = np.zeros((256, 256), dtype=np.int64)
    np.add.at(expected, (ref, pred), 1)
    assert (joint_histogram(ref, pred) == expected).all()
    monkeypatch.setattr(histogram, "OPENCV_STEP", 13)  # slices whose parts do not divide evenly
    assert (joint_histogram(ref, pred) == expected).all()


# ------------------------------------------------------------------ the challenge's rounding


def starter_kit_compute_metrics(true: dict, pred: dict) -> tuple[float, dict[str, float]]:
    """The starter kit's `compute_metrics` (functions.py) on pooled 1-D arrays, transcribed:
    each chart score x100 rounded with numpy, then the weighted mean of the ROUNDED chart scores
    rounded again."""
    metrics = {
        "SIC": {"func": lambda true, pred: r2_score(y_true=true, y_pred=pred), "weight": 2},
        "SOD": {"func": lambda true, pred: f1_score(true, pred, average="weighted"), "weight": 2},
        "FLOE": {"func": lambda true, pred: f1_score(true, pred, average="weighted"), "weight": 1},
    }
    scores = {}
    for chart in CHARTS:
        scores[chart] = np.round(
            metrics[chart]["func"](true=true[chart], pred=pred[chart]) * 100, 3
        )
    combined_metric = 0
    sum_weight = 0
    for chart in CHARTS:
        combined_metric += scores[chart] * metrics[chart]["weight"]
        sum_weight += metrics[chart]["weight"]
    return np.round(combined_metric / sum_weight, 3), scores


def pooled_charts(data: dict, scenes) -> tuple[dict, dict]:
    """(true, pred) per chart: the valid pixels of `data[scene, chart] = (ref, pred)`, pooled."""
    true, pred = {}, {}
    for chart in CHARTS:
        ref = np.concatenate([data[s, chart][0].ravel() for s in scenes]).astype(np.int64)
        out = np.concatenate([data[s, chart][1].ravel() for s in scenes]).astype(np.int64)
        true[chart], pred[chart] = ref[ref != MASK], out[ref != MASK]
    return true, pred


def test_combined_score_is_rounded_the_challenge_way_hand_made():
    """See `rounding_order_case` for the arithmetic: the two rounding orders differ here."""
    ref, pred = rounding_order_case()
    acc = ScoreAccumulator()
    for chart in CHARTS:
        acc.update("scene", chart, pred[chart], ref[chart])
    report = acc.report()
    assert report.charts["SOD"] == pytest.approx(100 * 24 / 35, rel=1e-15)
    assert report.charts_rounded == {"SIC": 100.0, "SOD": 68.571, "FLOE": 100.0}
    assert round(report.combined, 3) == 87.429  # rounding the unrounded combined score
    assert report.combined_rounded == 87.428  # the challenge's figure
    assert report.table().splitlines()[-1].endswith("87.428")


def test_rounded_figures_equal_the_starter_kits_on_random_submissions():
    """Seeded random small submissions: the report's rounded figures are exactly what the
    starter kit's `compute_metrics` gives on the pooled pixels, including the cases (about one
    in eight) where rounding the unrounded combined score would give another number."""
    differing = 0
    for seed in range(150):
        rng = np.random.default_rng(seed)
        acc, data = ScoreAccumulator(), {}
        scenes = [f"s{i}" for i in range(int(rng.integers(1, 4)))]
        for scene in scenes:
            shape = (int(rng.integers(2, 7)), int(rng.integers(2, 7)))
            ref = random_charts(rng, shape, mask_share=0.1)
            for chart in CHARTS:
                wrong = rng.random(shape) < rng.random()
                guess = rng.integers(0, N_CLASSES[chart], shape).astype(np.uint8)
                pred = np.where(wrong | (ref[chart] == MASK), guess, ref[chart])
                data[scene, chart] = (ref[chart], pred)
                acc.update(scene, chart, pred, ref[chart])
        report = acc.report()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected, charts = starter_kit_compute_metrics(*pooled_charts(data, scenes))
        assert report.charts_rounded == charts, seed
        assert report.combined_rounded == expected, seed
        differing += report.combined_rounded != round(report.combined, 3)
    assert differing >= 10  # 17 of these 150


# ------------------------------------------------------------------ values outside the classes


def test_out_of_class_values_score_as_wrong_hand_made():
    """`out_of_class_case`: SIC R2 0.15 (11 and 12 enter with their values), FLOE F1 430/539
    (7 is never right, with no weight of its own); the same as scikit-learn on the pixels."""
    ref, pred = out_of_class_case()
    acc = ScoreAccumulator()
    for chart in CHARTS:
        acc.update("s", chart, pred[chart], ref[chart])
    report = acc.report()
    assert report.charts == pytest.approx(OUT_OF_CLASS_SCORES, rel=1e-15)
    for chart in CHARTS:
        assert_same(report.charts[chart] / 100, pooled_sklearn([(ref[chart], pred[chart])], chart))
    assert report.details["SIC"].out_of_class == 2 and report.details["FLOE"].out_of_class == 3
    assert report.details["FLOE"].confusion[1] == [0, 2, 0, 0, 0, 0, 0, 2, 0]  # class 1 row
    assert report.details["FLOE"].confusion_columns[-2:] == ["out of class", "255 (no prediction)"]
    assert report.warnings == [
        "s_SIC: 2 pixels with values outside SIC's classes 0-10 (11, 12, 200) scored as wrong; "
        "1 more where the reference is 255 are not scored",
        "s_FLOE: 3 pixels with values outside FLOE's classes 0-6 (7) scored as wrong; "
        "2 more where the reference is 255 are not scored",
    ]
    for strict_chart in ("SIC", "FLOE"):
        with pytest.raises(ValueError, match=f"s {strict_chart} prediction has [35] pixels"):
            ScoreAccumulator().update("s", strict_chart, pred[strict_chart], ref[strict_chart], strict=True)  # fmt: skip


def test_values_outside_0_255_score_with_their_own_values():
    """Negative and above-255 predictions (wider types) enter R2 as they are:
    SIC errors (0 - -1)^2 + (5 - 300)^2 = 1 + 87025 = 87026, R2 = 1 - 87026 / 200 = -434.13."""
    ref, pred = out_of_class_case()
    sic = pred["SIC"].astype(np.int16)
    sic[0, 3], sic[3, 3], sic[2, 0] = -1, 300, -7
    acc = ScoreAccumulator()
    acc.update("s", "SIC", sic, ref["SIC"])
    assert acc.report(["s"]).charts["SIC"] == pytest.approx(-43413.0, rel=1e-14)
    assert_same(acc.report().charts["SIC"] / 100, pooled_sklearn([(ref["SIC"], sic)], "SIC"))
    counts = acc.counts("SIC")
    assert (counts.out_of_class, counts.out_unscored, counts.out_values) == (2, 1, (-7, -1, 300))
    floe = pred["FLOE"].astype(np.float32)
    floe[floe == 7] = -1.0  # whole floats are integers too
    acc.update("s", "FLOE", floe, ref["FLOE"])
    assert acc.counts("FLOE").out_values == (-1,)
    assert acc.report(["s"]).charts["FLOE"] == pytest.approx(OUT_OF_CLASS_SCORES["FLOE"], rel=1e-15)
    for extreme in (np.array([[-(2**63), 3, 4]]), np.array([[2**64 - 1, 3, 4]], np.uint64)):
        # reference 0 3 10: mean 13/3, total 474/9; errors v^2 + 0 + 6^2: R2 = 1 - 9 (v^2 + 36) / 474
        ref = np.array([[0, 3, 10]], np.uint8)
        acc.update("extreme", "SIC", extreme, ref)
        expected = 1 - 9 * (int(extreme[0, 0]) ** 2 + 36) / 474
        assert acc.report(["extreme"]).charts["SIC"] == pytest.approx(100 * expected, rel=1e-15)
        acc = ScoreAccumulator()


@st.composite
def scene_sets_with_values_outside(draw):
    """`scene_sets` whose predictions also hold values outside the chart's classes: 0-254
    beyond them, and (in a wider signed type) negative or above 255."""
    chart, scenes = draw(scene_sets())
    wide = draw(st.booleans())
    pool = [N_CLASSES[chart], N_CLASSES[chart] + 1, 100, 254] + ([-1, -300, 256, 70000] if wide else [])  # fmt: skip
    values = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=4, unique=True))
    share = draw(st.sampled_from([0.1, 0.5, 1.0]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    out = []
    for ref, pred in scenes:
        pred = pred.astype(np.int32 if wide else np.uint8)
        where = rng.random(pred.shape) < share
        pred[where] = rng.choice(values, size=int(where.sum()))
        out.append((ref, pred))
    return chart, out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scene_sets_with_values_outside())
def test_values_outside_the_classes_score_as_pooled_sklearn(case):
    chart, scenes = case
    assert_same(streamed(scenes, chart), pooled_sklearn(scenes, chart))


def test_out_of_class_values_listed_once_per_variable_capped():
    ref = np.zeros((1, 20), np.uint8)
    pred = np.arange(20, 40, dtype=np.int64)[None, :]
    acc = ScoreAccumulator()
    acc.update("s", "FLOE", pred, ref)
    acc.update("s", "FLOE", pred - 40, ref)  # the same scene again (a second tile)
    [warning] = [w for w in acc.report(["s"]).warnings if w.startswith("s_")]
    assert warning.startswith("s_FLOE: 40 pixels with values outside FLOE's classes 0-6 (-20, -19,")
    assert "-13, ...) scored as wrong" in warning
