import numpy as np
import pytest

from kit.drift.metrics import EPEStats, endpoint_error, evaluate, format_table, forward_backward
from kit.drift.track import DriftResult


def test_endpoint_error_and_stats():
    epe = endpoint_error([3.0, 0.0, 1.0, np.nan], [4.0, 0.5, 1.0, 0.0], [0, 0, 1, 0], [0, 0, 1, 0])
    np.testing.assert_allclose(epe[:3], [5.0, 0.5, 0.0])
    stats = EPEStats.of(epe)
    assert stats.n == 4 and stats.median == 0.5
    assert stats.under_1px == 0.5 and stats.under_3px == 0.5  # NaN counts as wrong
    assert stats.p90 == 5.0  # the 'lower' percentile, so no interpolation towards inf


def test_evaluate_scores_only_matchable_points_and_splits_valid():
    image = np.zeros((200, 200), np.float32)
    x = np.array([100.0, 100.0, 100.0, 5.0])
    y = np.array([50.0, 100.0, 150.0, 100.0])  # the last one is too close to the edge
    u = np.array([2.0, 2.5, 10.0, 2.0])
    v = np.zeros(4)
    valid = np.array([True, True, False, True])
    result = DriftResult(x, y, u, v, np.ones(4), np.ones(4), valid, "test", seconds=1.0)
    ev = evaluate(
        result, lambda x, y: (np.full_like(x, 2.0), np.zeros_like(y)), image, image, template=35
    )
    assert ev.n_points == 3
    assert ev.fraction_valid == pytest.approx(2 / 3)
    assert ev.valid.median == pytest.approx(0.0) and ev.valid.n == 2
    assert ev.invalid_that_are_wrong == 1.0 and ev.valid_that_are_wrong == 0.0
    assert "valid_median" in format_table([ev.row()], ["method", "valid_median"])


def test_forward_backward_is_consistent_on_a_synthetic_pair(moving_pair):
    c = forward_backward(moving_pair.image1, moving_pair.image2, "pm", grid_step=48, search=24)
    assert c.fraction_valid_both > 0.5
    assert c.median < 0.5
