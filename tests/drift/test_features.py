import numpy as np

from kit.drift.features import feature_track, filter_polynomial
from kit.drift.preprocess import normalise

from .conftest import grid


def test_ft_recovers_translation_and_rotation(moving_pair):
    matches = feature_track(normalise(moving_pair.image1), normalise(moving_pair.image2))
    assert matches.count > 30
    tu, tv = moving_pair.truth(matches.x1, matches.y1)
    err = np.hypot(matches.x2 - matches.x1 - tu, matches.y2 - matches.y1 - tv)
    assert np.median(err) < 1.5
    x, y = grid(moving_pair.image1.shape)
    u, v, rotation, inside = matches.first_guess(x, y)
    tu, tv = moving_pair.truth(x, y)
    assert np.median(np.hypot(u - tu, v - tv)) < 1.5
    assert np.median(rotation) == np.clip(np.median(rotation), 4.0, 6.0)  # truth: 5 degrees


def test_polynomial_filter_drops_outliers():
    rng = np.random.default_rng(0)
    x1, y1 = rng.uniform(0, 500, size=(2, 200))
    x2, y2 = x1 + 10 + 0.01 * y1, y1 - 5
    x2[:20] += rng.uniform(20, 50, size=20)
    keep, fit = filter_polynomial(x1, y1, x2, y2, order=2, max_residual=3.0, min_matches=8)
    assert not keep[:20].any() and keep[20:].all()
    assert fit is not None


def test_no_texture_gives_no_matches():
    flat = np.full((200, 200), -20.0, np.float32)
    matches = feature_track(flat, flat)
    assert matches.count == 0 and matches.fit is None
    u, _, _, inside = matches.first_guess(np.array([50.0]), np.array([50.0]))
    assert np.isnan(u).all() and not inside.any()
