import numpy as np

from kit.drift.local_motion import LocalParams, fit_local_motion


def _sheared_matches(n=400, jump=20.0, seed=0):
    """Matches of a block sliding `jump` px along the line y = 250, rotated 3 degrees."""
    rng = np.random.default_rng(seed)
    x1, y1 = rng.uniform(0, 500, size=(2, n))
    a = np.radians(3.0)
    x2 = 250 + np.cos(a) * (x1 - 250) - np.sin(a) * (y1 - 250) + 5 + np.where(y1 > 250, jump, 0)
    y2 = 250 + np.sin(a) * (x1 - 250) + np.cos(a) * (y1 - 250) - 2
    return x1, y1, x2, y2


def test_guess_follows_each_side_and_the_rotation():
    x1, y1, x2, y2 = _sheared_matches()
    motion = fit_local_motion(x1, y1, x2, y2)
    assert motion.count == 400
    np.testing.assert_allclose(motion.rotation(), 3.0, atol=0.05)
    x, y = np.array([100.0, 400.0, 100.0]), np.array([100.0, 100.0, 400.0])
    guess = motion.guess(x, y)
    a = np.radians(3.0)
    tu = np.cos(a) * (x - 250) - np.sin(a) * (y - 250) - (x - 250) + 5 + np.where(y > 250, 20, 0)
    np.testing.assert_allclose(guess.u, tu, atol=0.01)
    assert guess.surrounded.all() and np.all(guess.spread < 0.01)


def test_window_widens_only_across_the_break():
    x1, y1, x2, y2 = _sheared_matches()
    guess = fit_local_motion(x1, y1, x2, y2).guess(
        np.array([100.0, 100.0]), np.array([100.0, 252.0])
    )
    cu, _, search = guess.window(8, agree=4.0)
    assert search[0] == 8 and guess.spread[0] < 4
    # at the break the predictions of both sides are within reach of the widened window
    assert guess.spread[1] > 15 and search[1] >= 8 + guess.spread[1] / 2
    assert guess.lo[1, 0] >= cu[1] - search[1] and guess.hi[1, 0] <= cu[1] + search[1]


def test_points_beyond_the_matches_are_not_surrounded():
    x1, y1, x2, y2 = _sheared_matches()
    inside = y1 < 250  # only the matches of one side: a point across the line has none nearby
    motion = fit_local_motion(x1[inside], y1[inside], x2[inside], y2[inside])
    guess = motion.guess(np.array([250.0, 250.0]), np.array([200.0, 280.0]))
    assert guess.surrounded.tolist() == [True, False]


def test_too_few_or_unsupported_matches_give_no_model():
    rng = np.random.default_rng(1)
    x1, y1 = rng.uniform(0, 500, size=(2, 50))
    x2, y2 = x1 + rng.uniform(-100, 100, 50), y1 + rng.uniform(-100, 100, 50)  # random: no support
    assert fit_local_motion(x1, y1, x2, y2) is None
    assert fit_local_motion(x1[:3], y1[:3], x1[:3], y1[:3], LocalParams()) is None


def test_a_match_on_the_point_itself_does_not_surround_it():
    # a grid of matches; the edge column is not surrounded even though a match sits on it
    yy, xx = np.mgrid[0:320:32, 0:320:32].astype(float)
    x1, y1 = xx.ravel(), yy.ravel()
    motion = fit_local_motion(x1, y1, x1 + 3, y1 - 2)
    guess = motion.guess(np.array([0.0, 160.0]), np.array([160.0, 160.0]))
    assert guess.surrounded.tolist() == [False, True]
