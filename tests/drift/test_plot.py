"""Quiver plots: honest arrow lengths (pixel units, true length or a stated factor), a scale
key, outliers kept off the colour scale."""

import numpy as np
from matplotlib.quiver import Quiver, QuiverKey

from kit.drift.plot import magnification, nice_number, quiver_figure
from tests.drift.test_outliers import grid_result, smooth_field


def _quiver(fig) -> Quiver:
    ax = fig.axes[0]
    return next(c for c in ax.collections if isinstance(c, Quiver))


def _key(fig) -> QuiverKey:
    return next(a for a in fig.axes[0].get_children() if isinstance(a, QuiverKey))


def test_nice_numbers_and_magnification():
    assert [nice_number(v) for v in (0.7, 1, 3.9, 5, 48)] == [0.5, 1, 2, 5, 20]
    assert magnification(np.array([20.0, 24.0]), spacing=32) == 1
    assert magnification(np.array([1.0, 1.0]), spacing=32) == 20  # 0.8 x 32 / 1 -> 20


def test_long_arrows_are_drawn_at_true_length_in_pixels():
    u, v = smooth_field()
    u, v = 4 * u, 4 * v  # about 20 px against a 32 px grid
    fig = quiver_figure(np.zeros((200, 230)), grid_result(u, v))
    arrows = _quiver(fig)
    assert (arrows.angles, arrows.scale_units, arrows.scale) == ("xy", "xy", 1.0)
    assert "true length" in fig.axes[0].get_title()
    assert _key(fig).text.get_text() == "scale: 20 px"


def test_short_arrows_are_magnified_and_the_key_says_so():
    u, v = smooth_field()
    fig = quiver_figure(np.zeros((200, 230)), grid_result(u / 5, v / 5))
    arrows = _quiver(fig)
    assert arrows.scale == 1 / 20
    assert "arrows drawn x20" in fig.axes[0].get_title()
    assert _key(fig).text.get_text().endswith("(drawn x20)")


def test_left_out_vectors_are_marked_and_stay_off_the_colour_scale():
    u, v = smooth_field()
    u[2, 2] = 500.0
    result = grid_result(u, v)
    keep = np.ones(u.size, bool)
    keep[2 * u.shape[1] + 2] = False
    fig = quiver_figure(np.zeros((200, 230)), result, keep=keep)
    arrows = _quiver(fig)
    assert arrows.N == u.size - 1 and arrows.get_clim()[1] < 20
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["inconsistent or isolated (1)"]
