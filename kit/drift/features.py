"""Feature tracking (FT): ORB keypoints matched between the two images.

ORB finds corners at several scales and describes each by a rotation-aware binary descriptor, so
it tolerates the rotation of ice between passes. Matches go through three filters: Lowe's ratio
test (the best match must be clearly better than the second), a maximum drift, and the local
motion model (`kit.drift.local_motion`): a match is kept when its neighbours move like it. The
result is a sparse but robust set of vectors, each with the affine motion of its neighbourhood,
that predicts the first guess for pattern matching at any point - on both sides of a shear zone
or a lead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from kit.drift.local_motion import FirstGuess, LocalMotion, LocalParams, fit_local_motion
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
    local: LocalParams = field(default_factory=LocalParams)


@dataclass
class FeatureMatches:
    """Keypoint matches kept by the local motion model (image-1 and image-2 positions) and the
    model itself (None when too few matches agree)."""

    x1: np.ndarray
    y1: np.ndarray
    x2: np.ndarray
    y2: np.ndarray
    motion: LocalMotion | None

    @property
    def count(self) -> int:
        return int(self.x1.size)

    def guess(self, x, y) -> FirstGuess:
        """First guesses at points (see `kit.drift.local_motion.FirstGuess`); NaN guesses and
        no support when there is no model."""
        if self.motion is None:
            n = np.asarray(x).size
            nan, nan2 = np.full(n, np.nan), np.full((n, 2), np.nan)
            none = np.zeros(n, np.int64)
            return FirstGuess(nan, nan, nan, nan2, nan2, none, none.astype(bool))
        return self.motion.guess(x, y)


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


def overall_rotation(turns: np.ndarray) -> float:
    """The pair's rotation (degrees) from the change of orientation of matched keypoints: their
    circular mean (wrong matches, uniformly spread, do not bias it); 0 without matches."""
    if turns.size == 0:
        return 0.0
    a = np.radians(turns)
    return float(np.degrees(np.arctan2(np.sin(a).mean(), np.cos(a).mean())))


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
    turn = np.array([kp2[m.trainIdx].angle - kp1[m.queryIdx].angle for m in good])
    base = np.zeros_like(p1) if expected is None else np.stack(expected(p1[:, 0], p1[:, 1]), 1)
    near = np.hypot(*(p2 - p1 - base).T) <= params.max_drift
    p1, p2 = p1[near], p2[near]
    motion = fit_local_motion(*p1.T, *p2.T, params.local, overall_rotation(turn[near]))
    kept = (
        (np.zeros((0, 2)), np.zeros((0, 2)))
        if motion is None
        else (motion.points, motion.points + motion.displacement)
    )
    return FeatureMatches(*kept[0].T, *kept[1].T, motion)
