"""A piecewise motion model from sparse matches, for first guesses that survive broken ice.

One smooth map fitted to all matches (a polynomial) follows the majority of the ice: across a
shear zone or an opening lead it discards the matches of the other side as outliers and carries
the majority's motion over them. Here every match instead gets the affine motion of its own
neighbourhood, fitted to the nearby matches that move like it, so matches on both sides of a
break are kept, each with the motion of its side, and isolated wrong matches (which no
neighbour supports) are dropped.

At a point, every nearby match predicts the displacement by its own affine motion. Where they
agree, their median is the first guess; where they disagree (the point lies near a break) the
guess is the middle of their range and `FirstGuess.spread` says how wide a search must be to
reach every prediction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from kit.drift.io import Polynomial2D

#: Order of the polynomial trend used beyond the matches.
TREND_ORDER = 2


@dataclass
class LocalParams:
    """Settings of the local motion model (pixels)."""

    #: Neighbourhood of a match or a point.
    radius: float = 64.0
    #: At most this many nearest matches per neighbourhood.
    neighbours: int = 32
    #: Largest distance of a match from its neighbourhood's affine motion.
    max_residual: float = 2.0
    #: Other matches that must move like a match for it to be kept.
    min_support: int = 3
    #: First, coarse test of "moves like it": beyond the pair's overall rotation, the
    #: displacement of a neighbour d px away may differ by 2 * max_residual + gradient * d
    #: (local rotation and strain of up to about 10 degrees).
    gradient: float = 0.2
    #: Ridge (px^2) on the affine gradient terms, for neighbourhoods of nearly collinear matches.
    ridge: float = 1.0


@dataclass
class FirstGuess:
    """Displacement guesses at points: the median prediction of the nearby matches (u, v), the
    range of their predictions (lo/hi per component, without the outer tenth on each side), the
    rotation of the smooth trend of all matches (degrees, counter-clockwise in image axes), the number of matches within the radius and whether
    they surround the point (no empty half-plane around it: interpolation, not extrapolation -
    a point just across a break from matches of the other side only is not surrounded)."""

    u: np.ndarray
    v: np.ndarray
    angle: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    support: np.ndarray
    surrounded: np.ndarray

    @property
    def spread(self) -> np.ndarray:
        """Largest range (px) of the nearby predictions over u and v: 0 where they agree."""
        return np.max(self.hi - self.lo, axis=1)

    def window(self, search: int, agree: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(centre u, centre v, search per point) of pattern-matching windows that reach every
        nearby prediction with `search` px to spare: the guess itself where the predictions
        agree within `agree` px, else the middle of their range with a wider search."""
        spread = self.spread
        wide = spread > agree
        mid = (self.lo + self.hi) / 2
        cu = np.where(wide, mid[:, 0], self.u)
        cv = np.where(wide, mid[:, 1], self.v)
        return cu, cv, np.where(wide, search + np.ceil(spread / 2), search).astype(np.int64)


@dataclass
class LocalMotion:
    """Kept matches: image-1 positions (n, 2), displacements (n, 2) and the gradient of the
    displacement of each one's neighbourhood, jacobian[i, c, j] = d(displacement c)/d(axis j)."""

    points: np.ndarray
    displacement: np.ndarray
    jacobian: np.ndarray
    params: LocalParams
    #: The smooth trend of all kept matches (image-1 to image-2 positions), for points the
    #: matches do not surround.
    trend: Polynomial2D
    #: Position of each kept match in the matches given to `fit_local_motion`.
    source: np.ndarray

    @property
    def count(self) -> int:
        return int(self.points.shape[0])

    def rotation(self) -> np.ndarray:
        """Local rotation (degrees) at each match: the angle of its neighbourhood's map."""
        j = self.jacobian
        return np.degrees(np.arctan2(j[:, 1, 0] - j[:, 0, 1], 2 + j[:, 0, 0] + j[:, 1, 1]))

    def _trend_rotation(self, x, y, h: float = 1.0) -> np.ndarray:
        """Rotation (degrees) of the smooth trend at (x, y): for the templates, a smooth
        rotation matches better than the local fits' (each from a few noisy matches)."""
        ax, ay = self.trend(x + h, y)
        bx, by = self.trend(x - h, y)
        cx, cy = self.trend(x, y + h)
        dx, dy = self.trend(x, y - h)
        return np.degrees(np.arctan2((ay - by) - (cx - dx), (ax - bx) + (cy - dy)))

    def guess(self, x, y) -> FirstGuess:
        """First guesses at points (x, y) of image 1 from the matches within the radius (the
        nearest three when there are none: extrapolation)."""
        q = np.stack([np.asarray(x, np.float64).ravel(), np.asarray(y, np.float64).ravel()], 1)
        k = min(self.params.neighbours, self.count)
        dist, idx = cKDTree(self.points).query(q, k=k)
        dist, idx = dist.reshape(len(q), k), idx.reshape(len(q), k)
        near = dist <= self.params.radius
        support = near.sum(1)
        near[:, : min(3, k)] |= (support == 0)[:, None]
        offset = q[:, None, :] - self.points[idx]
        pred = self.displacement[idx] + np.einsum("nkcj,nkj->nkc", self.jacobian[idx], offset)
        pred[~near] = np.nan
        surrounded = _surrounded(-offset, near)
        # beyond the matches a local motion is an extrapolation: the smooth trend of all of
        # them is as likely, so the guess (and the search) must cover it too
        tx, ty = self.trend(q[:, 0], q[:, 1])
        trend = np.where(surrounded[:, None], np.nan, np.stack([tx, ty], 1) - q)
        # the range leaves out the outer tenth of the predictions on each side: one stray
        # match must not widen the search, a break (a side with more) still does
        lo, hi = _nan_percentiles(pred, (10.0, 90.0))
        lo, hi = np.fmin(lo, trend), np.fmax(hi, trend)
        pred = np.concatenate([pred, trend[:, None, :]], axis=1)
        median = np.nanmedian(pred, axis=1)
        return FirstGuess(
            median[:, 0],
            median[:, 1],
            self._trend_rotation(q[:, 0], q[:, 1]),
            lo,
            hi,
            support,
            surrounded,
        )


def _nan_percentiles(values: np.ndarray, percents: tuple[float, ...]) -> np.ndarray:
    """`numpy.nanpercentile(values, percents, axis=1)` (linear interpolation) of an (n, k, c)
    array, vectorised: numpy's NaN path loops over the rows in Python."""
    ordered = np.sort(values, axis=1)  # NaN last
    count = np.isfinite(ordered).sum(axis=1, keepdims=True)  # (n, 1, c)
    out = []
    for p in percents:
        pos = np.maximum(count - 1, 0) * (p / 100.0)
        below = np.floor(pos).astype(np.int64)
        above = np.minimum(below + 1, np.maximum(count - 1, 0))
        a = np.take_along_axis(ordered, below, axis=1)
        b = np.take_along_axis(ordered, above, axis=1)
        t = pos - below
        # numpy's interpolation, for identical numbers: from the nearer of the two values
        value = np.where(t >= 0.5, b - (b - a) * (1 - t), a + (b - a) * t)[:, 0, :]
        out.append(np.where(count[:, 0, :] > 0, value, np.nan))
    return np.stack(out)


def _surrounded(offset: np.ndarray, near: np.ndarray) -> np.ndarray:
    """Whether the directions of each row's `near` offsets (n, k, 2) leave no gap of half a
    turn or more: the point is inside their convex hull. A match on the point itself shows no
    direction and is left out."""
    near = near & np.any(offset != 0, axis=2)
    count = near.sum(1)
    # missing directions sort last as copies of the largest one: they add no gap
    angle = np.where(near, np.arctan2(offset[..., 1], offset[..., 0]), np.inf)
    angle = np.sort(angle, axis=1)
    last = np.take_along_axis(angle, np.maximum(count - 1, 0)[:, None], 1)
    last[count == 0] = 0.0
    angle = np.where(np.isfinite(angle), angle, last)
    inner = np.diff(angle, axis=1).max(axis=1, initial=0.0)
    wrap = 2 * np.pi - (angle[:, -1] - angle[:, 0])
    return (count >= 3) & (np.maximum(inner, wrap) < np.pi)


def _affine(points, values, idx, weight, ridge: float) -> np.ndarray:
    """Weighted least-squares affine fits, one per row of `idx`: (n, 3, 2) coefficients
    [offset, d/dx, d/dy] of `values` about each row's own point."""
    dx = points[idx] - points[:, None, :]
    design = np.concatenate([np.ones(dx.shape[:2] + (1,)), dx], axis=2)
    w = weight.astype(np.float64)
    normal = np.einsum("nki,nk,nkj->nij", design, w, design) + np.diag([1e-9, ridge, ridge])
    rhs = np.einsum("nki,nk,nkc->nic", design, w, values[idx])
    return np.linalg.solve(normal, rhs)


def fit_local_motion(
    x1, y1, x2, y2, params: LocalParams | None = None, rotation: float = 0.0
) -> LocalMotion | None:
    """The matches (x1, y1) -> (x2, y2) that their neighbours support, each with its
    neighbourhood's affine motion; None when fewer than `min_support + 1` remain.

    `rotation` (degrees, as `LocalMotion.rotation`) is the pair's overall rotation, e.g. from
    geolocation or the keypoints' orientations: images of different orbits are rotated by
    tens of degrees, beyond what the coarse neighbour test allows for.

    Examples
    --------
    Two blocks of ice sliding past each other (a 20 px shear along y = 100), plus one wrong
    match: both blocks are kept with their own motion, the wrong match is dropped.

    >>> rng = np.random.default_rng(0)
    >>> x1, y1 = rng.uniform(0, 200, (2, 300))
    >>> x2, y2 = x1 + np.where(y1 > 100, 20.0, 0.0), y1 + 3.0
    >>> x2[0] += 40
    >>> motion = fit_local_motion(x1, y1, x2, y2)
    >>> motion.count
    299
    >>> g = motion.guess([50.0, 50.0], [20.0, 180.0])
    >>> np.round(g.u, 1).tolist(), np.round(g.v, 1).tolist()
    ([0.0, 20.0], [3.0, 3.0])
    """
    params = params or LocalParams()
    points = np.stack([np.asarray(x1, np.float64), np.asarray(y1, np.float64)], 1)
    disp = np.stack([np.asarray(x2, np.float64), np.asarray(y2, np.float64)], 1) - points
    source = np.arange(len(points))
    for _ in range(2):  # the second pass refits without the matches the first one dropped
        if len(points) < params.min_support + 1:
            return None
        keep, coef = _supported(points, disp, params, rotation)
        points, disp, source, coef = points[keep], disp[keep], source[keep], coef[keep]
    if len(points) < params.min_support + 1:
        return None
    trend = Polynomial2D.fit(points, points + disp, TREND_ORDER)
    jacobian = np.transpose(coef[:, 1:, :], (0, 2, 1))
    return LocalMotion(points, disp, jacobian, params, trend, source)


def _supported(points, disp, params: LocalParams, rotation: float) -> tuple[np.ndarray, np.ndarray]:
    """(kept mask, affine coefficients) of matches: a match is kept when at least
    `min_support` neighbours lie within `max_residual` of its neighbourhood's affine fit and it
    does itself."""
    k = min(params.neighbours + 1, len(points))
    dist, idx = cKDTree(points).query(points, k=k, distance_upper_bound=params.radius)
    present = np.isfinite(dist)
    idx = np.where(present, idx, 0)
    a = np.radians(rotation)
    turn = np.array([[np.cos(a) - 1, -np.sin(a)], [np.sin(a), np.cos(a) - 1]])
    offset = points[idx] - points[:, None, :]
    gap = np.linalg.norm(disp[idx] - disp[:, None, :] - offset @ turn.T, axis=2)
    close = present & (gap <= 2 * params.max_residual + params.gradient * dist)
    # the first fit leans on the nearest matches: far ones across a break can pass the coarse
    # test, near ones cannot
    weight = close / (1.0 + np.where(present, dist, 0.0) / 16.0)
    for _ in range(3):
        coef = _affine(points, disp, idx, weight, params.ridge)
        dx = points[idx] - points[:, None, :]
        fitted = coef[:, None, 0, :] + np.einsum("nkj,njc->nkc", dx, coef[:, 1:, :])
        close = present & (np.linalg.norm(disp[idx] - fitted, axis=2) <= params.max_residual)
        weight = close
    own = np.linalg.norm(disp - coef[:, 0, :], axis=1) <= params.max_residual
    return own & (close.sum(1) - 1 >= params.min_support), coef
