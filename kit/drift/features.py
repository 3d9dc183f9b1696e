"""Feature tracking (FT): ORB keypoints matched between the two images.

ORB finds corners at several scales and describes each by a rotation-aware binary descriptor, so
it tolerates the rotation of ice between passes. Matches go through three filters: Lowe's ratio
test (the best match must be clearly better than the second), a maximum drift, and a polynomial
least-squares fit of image-2 positions on image-1 positions whose large residuals are dropped
iteratively. The result is a sparse but robust set of vectors, interpolated to any points as the
first guess for pattern matching.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.interpolate import LinearNDInterpolator

from kit.drift.io import Polynomial2D
from kit.drift.preprocess import to_uint8


@dataclass
class FeatureParams:
    """ORB and filtering settings (distances in pixels)."""

    n_features: int = 6000
    patch_size: int = 34
    scale_factor: float = 1.2
    n_levels: int = 8
    fast_threshold: int = 5
    ratio: float = 0.75
    max_drift: float = 300.0
    poly_order: int = 2
    max_residual: float = 5.0
    min_matches: int = 8


@dataclass
class FeatureMatches:
    """Filtered keypoint matches (image-1 and image-2 positions) and the fitted smooth map."""

    x1: np.ndarray
    y1: np.ndarray
    x2: np.ndarray
    y2: np.ndarray
    fit: Polynomial2D | None
    #: Every match that passed the ratio and maximum-drift tests, before the polynomial
    #: filter: (n, 4) columns x1, y1, x2, y2 (None when not kept).
    candidates: np.ndarray | None = None

    def local_agreement(self, x, y, u, v, radius: float, tolerance: float) -> np.ndarray:
        """Whether each vector (u, v) at (x, y) agrees with the local evidence: the median
        displacement of the candidate matches within `radius` px differs from it by at most
        `tolerance` px. Points with fewer than 3 candidates nearby pass (nothing to test).

        The polynomial filter drops every match on the far side of a shear zone or lead, and
        the interpolation then carries the near side's motion smoothly across it; the
        candidates still hold the far side's matches, so such vectors disagree with them."""
        from scipy.spatial import cKDTree

        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        ok = np.ones(x.shape, bool)
        if self.candidates is None or len(self.candidates) < 3:
            return ok
        c = self.candidates
        du, dv = c[:, 2] - c[:, 0], c[:, 3] - c[:, 1]
        near = cKDTree(c[:, :2]).query_ball_point(np.stack([x, y], 1), radius)
        for k, idx in enumerate(near):
            if len(idx) >= 3 and np.isfinite(u[k]):
                miss = np.hypot(np.median(du[idx]) - u[k], np.median(dv[idx]) - v[k])
                ok[k] = miss <= tolerance
        return ok

    @property
    def count(self) -> int:
        return int(self.x1.size)

    def first_guess(self, x, y) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(u, v, rotation in degrees, inside) at points: linear interpolation of the matches
        inside their convex hull, the polynomial fit outside it (`inside` says which)."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if self.fit is None:
            nan = np.full(x.shape, np.nan)
            return nan, nan, nan, np.zeros(x.shape, bool)
        px, py = self.fit(x, y)
        u, v = px - x, py - y
        inside = np.zeros(x.shape, bool)
        if self.count >= 3:
            try:
                interp = LinearNDInterpolator(
                    np.stack([self.x1, self.y1], 1),
                    np.stack([self.x2 - self.x1, self.y2 - self.y1], 1),
                )
                iu = interp(x, y)
                inside = np.isfinite(iu[..., 0])
                u, v = np.where(inside, iu[..., 0], u), np.where(inside, iu[..., 1], v)
            except Exception:  # degenerate (collinear) matches: keep the polynomial
                pass
        return u, v, self.rotation(x, y), inside

    def rotation(self, x, y, h: float = 1.0) -> np.ndarray:
        """Local rotation (degrees, counter-clockwise in image axes) of the fitted map."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        ax, ay = self.fit(x + h, y)
        bx, by = self.fit(x - h, y)
        cx, cy = self.fit(x, y + h)
        dx, dy = self.fit(x, y - h)
        j11, j21 = (ax - bx) / (2 * h), (ay - by) / (2 * h)
        j12, j22 = (cx - dx) / (2 * h), (cy - dy) / (2 * h)
        return np.degrees(np.arctan2(j21 - j12, j11 + j22))


def detect(image_u8: np.ndarray, params: FeatureParams):
    """ORB keypoints and descriptors of an 8-bit image (0 = no data is masked out)."""
    orb = cv2.ORB_create(
        nfeatures=params.n_features,
        scaleFactor=params.scale_factor,
        nlevels=params.n_levels,
        edgeThreshold=params.patch_size,
        patchSize=params.patch_size,
        fastThreshold=params.fast_threshold,
    )
    mask = (image_u8 > 0).astype(np.uint8) * 255
    keypoints, descriptors = orb.detectAndCompute(image_u8, mask)
    return keypoints, descriptors


def filter_polynomial(x1, y1, x2, y2, order: int, max_residual: float, min_matches: int):
    """Iteratively fit x2, y2 = P(x1, y1) and drop matches with residual > max_residual.

    Returns the kept mask and the final fit (None when fewer than `min_matches` survive)."""
    keep = np.ones(x1.size, bool)
    n_terms = (order + 1) * (order + 2) // 2
    for _ in range(10):
        if keep.sum() < max(min_matches, n_terms + 1):
            return np.zeros(x1.size, bool), None
        src = np.stack([x1[keep], y1[keep]], 1)
        fit = Polynomial2D.fit(src, np.stack([x2[keep], y2[keep]], 1), order)
        fx, fy = fit(x1, y1)
        res = np.hypot(fx - x2, fy - y2)
        # tighten from a robust scale of the residuals down to max_residual
        scale = 1.4826 * np.median(res[keep])
        new_keep = res <= max(max_residual, 3 * scale) if _ < 5 else res <= max_residual
        if np.array_equal(new_keep, keep):
            break
        keep = new_keep
    if keep.sum() < max(min_matches, n_terms + 1):
        return np.zeros(x1.size, bool), None
    return keep, fit


def feature_track(
    image1: np.ndarray, image2: np.ndarray, params: FeatureParams | None = None, expected=None
) -> FeatureMatches:
    """ORB matches between two normalised images (NaN = no data), filtered as described above.

    `expected(x, y) -> (u, v)` is the displacement without drift (e.g. from geolocation); the
    maximum-drift filter applies to the difference from it (zero by default)."""
    params = params or FeatureParams()
    kp1, d1 = detect(to_uint8(image1), params)
    kp2, d2 = detect(to_uint8(image2), params)
    empty = np.zeros(0)
    if d1 is None or d2 is None or len(kp1) < 2 or len(kp2) < 2:
        return FeatureMatches(empty, empty, empty, empty, None)
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    pairs = matcher.knnMatch(d1, d2, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < params.ratio * p[1].distance]
    if not good:
        return FeatureMatches(empty, empty, empty, empty, None)
    p1 = np.array([kp1[m.queryIdx].pt for m in good], dtype=np.float64)
    p2 = np.array([kp2[m.trainIdx].pt for m in good], dtype=np.float64)
    base = np.zeros_like(p1) if expected is None else np.stack(expected(p1[:, 0], p1[:, 1]), 1)
    near = np.hypot(*(p2 - p1 - base).T) <= params.max_drift
    p1, p2 = p1[near], p2[near]
    keep, fit = filter_polynomial(
        p1[:, 0],
        p1[:, 1],
        p2[:, 0],
        p2[:, 1],
        params.poly_order,
        params.max_residual,
        params.min_matches,
    )
    return FeatureMatches(
        p1[keep, 0], p1[keep, 1], p2[keep, 0], p2[keep, 1], fit, np.concatenate([p1, p2], 1)
    )
