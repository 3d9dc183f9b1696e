"""Which drift vectors and triangles to trust beyond each vector's own quality flag.

- `neighbour_consistent`: the normalised median test of particle image velocimetry (Westerweel
  & Scarano 2005): a valid grid vector is an outlier when it differs from the median of its
  valid neighbours by more than `threshold` times their typical spread around that median.
- `usable_triangles`: Delaunay triangles of scattered vectors that do not bridge gaps (water,
  no data, rejected vectors): every edge at most `max_edge` long and the centre on image data.
"""

from __future__ import annotations

import numpy as np

from kit.drift.result import DriftResult


def _motion(result: DriftResult) -> tuple[np.ndarray, np.ndarray]:
    """The ice motion in pixels when geolocated (viewing geometry removed), else (u, v)."""
    if result.u_ice is not None and result.v_ice is not None:
        return np.asarray(result.u_ice, float), np.asarray(result.v_ice, float)
    return np.asarray(result.u, float), np.asarray(result.v, float)


def neighbour_consistent(
    result: DriftResult, threshold: float = 3.0, noise_px: float = 0.5, max_radius: int = 3
) -> np.ndarray:
    """Valid vectors that pass the normalised median test against their nearest valid grid
    neighbours: the 3 x 3 window, widened up to `max_radius` steps until it holds at least 3
    of them; a vector with fewer (isolated) cannot be checked and fails. `noise_px` is the
    expected matching noise (sub-pixel wiggles of a smooth field pass). Results without a
    grid are returned as `valid`."""
    valid = np.asarray(result.valid, bool)
    if result.grid_shape is None:
        return valid.copy()
    rows, cols = result.grid_shape
    u, v = (np.where(valid, a, np.nan).reshape(rows, cols) for a in _motion(result))
    keep = np.zeros((rows, cols), dtype=bool)
    for r, c in zip(*np.nonzero(valid.reshape(rows, cols))):
        for radius in range(1, max_radius + 1):
            window = (
                slice(max(r - radius, 0), r + radius + 1),
                slice(max(c - radius, 0), c + radius + 1),
            )
            nu, nv = u[window].copy(), v[window].copy()
            nu[r - window[0].start, c - window[1].start] = np.nan  # the vector itself
            others = np.isfinite(nu)
            if others.sum() >= 3:
                keep[r, c] = _passes(u[r, c], v[r, c], nu[others], nv[others], threshold, noise_px)
                break
    return keep.ravel()


def _passes(u, v, nu, nv, threshold: float, noise_px: float) -> bool:
    """The normalised median test of one vector against its neighbours' vectors."""
    mu, mv = np.median(nu), np.median(nv)
    spread = np.median(np.hypot(nu - mu, nv - mv))
    return bool(np.hypot(u - mu, v - mv) <= threshold * (spread + noise_px))


def usable_triangles(
    x: np.ndarray,
    y: np.ndarray,
    triangles: np.ndarray,
    max_edge: float,
    image: np.ndarray | None = None,
) -> np.ndarray:
    """True for triangles (n, 3 indices into x, y) whose edges are all at most `max_edge` and
    whose centre lies on finite `image` data (when an image is given)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    px, py = x[triangles], y[triangles]
    edges = np.hypot(px - np.roll(px, 1, axis=1), py - np.roll(py, 1, axis=1))
    ok = edges.max(axis=1) <= max_edge
    if image is not None:
        rows = np.clip(np.round(py.mean(axis=1)).astype(int), 0, image.shape[0] - 1)
        cols = np.clip(np.round(px.mean(axis=1)).astype(int), 0, image.shape[1] - 1)
        ok &= np.isfinite(image[rows, cols])
    return ok
