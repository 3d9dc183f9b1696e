"""Trusting drift vectors: the normalised median test and triangles that bridge no gap."""

import numpy as np
from scipy.spatial import Delaunay

from kit.drift.outliers import neighbour_consistent, usable_triangles
from kit.drift.track import DriftResult


def grid_result(u, v, valid=None, step=32.0) -> DriftResult:
    """A DriftResult on a regular grid from (rows, cols) arrays of u and v."""
    rows, cols = u.shape
    y, x = np.mgrid[0:rows, 0:cols] * step
    valid = np.ones(u.shape, bool) if valid is None else valid
    n = u.size
    return DriftResult(
        x=x.ravel().astype(float), y=y.ravel().astype(float), u=u.ravel(), v=v.ravel(),
        quality=np.ones(n), sharpness=np.ones(n), valid=valid.ravel(), method="test",
        grid_shape=(rows, cols),
    )  # fmt: skip


def smooth_field(rows=6, cols=7):
    y, x = np.mgrid[0:rows, 0:cols]
    return 5.0 + 0.3 * x, -2.0 + 0.2 * y


def test_a_smooth_field_passes_and_a_planted_outlier_fails():
    u, v = smooth_field()
    u[3, 3] += 40.0  # a 40 px blunder among neighbours that agree
    keep = neighbour_consistent(grid_result(u, v)).reshape(u.shape)
    assert not keep[3, 3]
    assert keep.sum() == keep.size - 1


def test_isolated_and_invalid_vectors_fail():
    u, v = smooth_field(8, 10)
    valid = np.zeros(u.shape, bool)
    valid[0, 0] = True  # 4 steps from the nearest other valid vector: cannot be checked
    valid[4:7, 5:8] = True
    keep = neighbour_consistent(grid_result(u, v, valid)).reshape(u.shape)
    assert not keep[0, 0]
    assert keep[4:7, 5:8].all() and keep.sum() == 9


def test_the_ice_motion_is_tested_when_geolocated():
    u, v = smooth_field()
    result = grid_result(u + 300.0, v, step=32.0)  # a large smooth viewing-geometry shift
    result.u_ice, result.v_ice = u.ravel().copy(), v.ravel().copy()
    result.u_ice[10] += 30.0
    assert neighbour_consistent(result).sum() == u.size - 1


def test_triangles_that_bridge_a_gap_or_lie_on_no_data_are_dropped():
    x = np.array([0.0, 32, 0, 32, 200])
    y = np.array([0.0, 0, 32, 32, 0])
    triangles = Delaunay(np.stack([x, y], 1)).simplices
    ok = usable_triangles(x, y, triangles, max_edge=1.5 * 32)
    assert ok.sum() == 2  # the square's two triangles, not those reaching the far point
    assert all(4 not in t for t in triangles[ok])
    image = np.zeros((64, 256))
    image[:, :16] = np.nan  # no data left of column 16
    on_data = usable_triangles(x, y, triangles, 1.5 * 32, image)
    assert on_data.sum() == 1  # of the square's triangles, only the one centred on data
    assert x[triangles[on_data]].mean() >= 16
