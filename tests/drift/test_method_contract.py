"""The contract every registered drift method keeps, checked over the registry.

`track(img1, img2, method)` gives one vector per point: arrays of the points' length, `valid`
exactly where `reason` is 0, finite vectors where valid, NaN where a measure is missing, the
method's name, the same result twice, no valid vector off data, and right vectors on a pure
translation. The method-specific accuracy targets are in test_track.py; `CONTRACT` lists the
checks for one method, so a test that registers a method of its own runs them too.
"""

from __future__ import annotations

import numpy as np
import pytest

from kit.drift.params import params_class
from kit.drift.reasons import Reason
from kit.drift.registry import DRIFT_METHODS, DriftMethod
from kit.drift.synthetic import DisplacementField, make_pair
from kit.drift.track import DriftResult, track

SHAPE = (256, 256)
TRUTH = (5.0, -3.0)
PER_POINT = ("x", "y", "u", "v", "quality", "sharpness", "valid", "reason", "sigma")


def translated_pair():
    """A 256 x 256 synthetic pair whose ice moves 5 px right and 3 px up."""
    field = DisplacementField(SHAPE, translation=TRUTH)
    return make_pair(displacement=field, shape=SHAPE, seed=0)


PAIR = translated_pair()


def run(method: str, image1=None, **params) -> DriftResult:
    return track(PAIR.image1 if image1 is None else image1, PAIR.image2, method, grid_step=32,
                 search=12, **params)  # fmt: skip


def check_layout(method: str) -> None:
    """One value per grid point in every per-point array, with the right types."""
    result = run(method)
    n = result.x.size
    assert result.grid_shape is not None and np.prod(result.grid_shape) == n > 0
    assert result.method == method and result.seconds > 0 and isinstance(result.extra, dict)
    for name in PER_POINT:
        assert getattr(result, name).shape == (n,), name
    assert result.valid.dtype == bool and result.reason.dtype == np.uint8
    np.testing.assert_array_equal(result.valid, result.reason == Reason.VALID)
    assert set(np.unique(result.reason)) <= {int(r) for r in Reason}
    for name in ("u", "v"):
        assert np.isfinite(getattr(result, name)[result.valid]).all(), name
    for name in ("quality", "sharpness", "sigma"):  # a value, or NaN where the method has none
        values = getattr(result, name)
        assert not np.isinf(values).any(), name


def check_translation(method: str) -> None:
    """On a pure translation, a quarter of the points or more are valid, their median error
    is under 2 px (superlim's own vectors, the coarsest: 1.4) and at most 5 % of them are
    more than 3 px off (test_track's bound)."""
    result = run(method)
    error = np.hypot(result.u - TRUTH[0], result.v - TRUTH[1])[result.valid]
    assert result.valid.mean() >= 0.25, result.valid.mean()
    assert np.median(error) < 2.0 and np.mean(error > 3.0) <= 0.05


def check_deterministic(method: str) -> None:
    first, second = run(method), run(method)
    for name in PER_POINT:
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name), name)


def check_no_data(method: str) -> None:
    """Points on no data in image 1 are NO_DATA, never valid."""
    empty = np.full(SHAPE, np.nan, np.float32)
    result = run(method, image1=empty)
    assert not result.valid.any() and (result.reason == Reason.NO_DATA).all()


def check_points(method: str) -> None:
    """Given points, one vector each and no grid."""
    x, y = np.array([60.0, 128.0, 190.5]), np.array([64.0, 128.0, 100.0])
    result = track(PAIR.image1, PAIR.image2, method, points=(x, y), search=12)
    assert result.grid_shape is None
    np.testing.assert_array_equal(result.x, x)
    np.testing.assert_array_equal(result.y, y)
    assert all(getattr(result, name).shape == (3,) for name in PER_POINT)


def check_registration(entry: DriftMethod) -> None:
    """What a method registers: a description, and settings it uses that exist."""
    assert entry.description and callable(entry.vectors)
    fields = set(params_class().__dataclass_fields__)
    assert set(entry.uses) <= fields and set(entry.settings) <= fields


#: The shared checks of one method.
CONTRACT = (check_layout, check_translation, check_deterministic, check_no_data, check_points)


@pytest.mark.parametrize("method", DRIFT_METHODS.names())
def test_registration_is_complete(method):
    check_registration(DRIFT_METHODS[method])


@pytest.mark.parametrize("method", DRIFT_METHODS.names())
@pytest.mark.parametrize("check", CONTRACT, ids=lambda check: check.__name__)
def test_method_keeps_the_contract(method, check):
    check(method)
