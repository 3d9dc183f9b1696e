import numpy as np

from kit.drift.features import feature_track
from kit.drift.local_motion import fit_local_motion
from kit.drift.preprocess import remove_mean_and_clip

from .conftest import grid


def test_ft_recovers_translation_and_rotation(moving_pair):
    matches = feature_track(
        remove_mean_and_clip(moving_pair.image1), remove_mean_and_clip(moving_pair.image2)
    )
    assert matches.count > 30
    tu, tv = moving_pair.truth(matches.x1, matches.y1)
    err = np.hypot(matches.x2 - matches.x1 - tu, matches.y2 - matches.y1 - tv)
    assert np.median(err) < 1.5
    x, y = grid(moving_pair.image1.shape)
    guess = matches.guess(x, y)
    tu, tv = moving_pair.truth(x, y)
    assert np.median(np.hypot(guess.u - tu, guess.v - tv)) < 1.5
    assert np.median(guess.angle) == np.clip(np.median(guess.angle), 4.0, 6.0)  # truth: 5 deg


def test_local_filter_drops_outliers_and_keeps_both_sides_of_a_lead():
    rng = np.random.default_rng(0)
    x1, y1 = rng.uniform(0, 500, size=(2, 400))
    opening = np.where(x1 + 0.5 * y1 > 350, 15.0, 0.0)  # a lead opening across a slanted line
    x2, y2 = x1 + 10 + 0.01 * y1 + opening, y1 - 5
    x2[:20] += rng.uniform(20, 50, size=20)
    motion = fit_local_motion(x1, y1, x2, y2)
    assert not np.isin(np.arange(20), motion.source).any()
    np.testing.assert_array_equal(motion.points[:, 0], x1[motion.source])
    assert motion.count >= 370  # the 380 good matches, less a few isolated ones
    guess = motion.guess(np.array([100.0, 450.0]), np.array([100.0, 400.0]))
    assert np.allclose(guess.u, [11.0, 29.0], atol=0.5) and np.allclose(guess.v, -5, atol=0.5)
    assert np.all(guess.spread < 1.0)
    across = motion.guess(np.array([250.0]), np.array([200.0]))  # on the line: both sides
    assert across.spread[0] > 10


def test_no_texture_gives_no_matches():
    flat = np.full((200, 200), -20.0, np.float32)
    matches = feature_track(flat, flat)
    assert matches.count == 0 and matches.motion is None
    guess = matches.guess(np.array([50.0]), np.array([50.0]))
    assert np.isnan(guess.u).all() and not guess.support.any()
