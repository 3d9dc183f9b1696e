"""SAR preprocessing for drift retrieval: dB, spatial-mean removal, percentile clipping.

Matching works on texture, not on absolute backscatter, so each image is brought to a common,
outlier-free range first. NaN marks no data throughout and survives every step.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def to_db(sigma0: np.ndarray) -> np.ndarray:
    """Linear sigma0 to decibels; non-positive or non-finite values become NaN."""
    sigma0 = np.asarray(sigma0, dtype=np.float32)
    out = np.full(sigma0.shape, np.nan, dtype=np.float32)
    ok = np.isfinite(sigma0) & (sigma0 > 0)
    out[ok] = 10.0 * np.log10(sigma0[ok])
    return out


def remove_spatial_mean(image: np.ndarray, sigma: float | None = None) -> np.ndarray:
    """Subtract the mean: the global one, or a NaN-aware Gaussian local mean of width `sigma` px.

    The local form removes slow trends such as the incidence-angle fall-off across a swath.
    """
    image = np.asarray(image, dtype=np.float32)
    ok = np.isfinite(image)
    if not ok.any():
        return image.copy()
    if sigma is None:
        return image - np.float32(image[ok].mean())
    filled = np.where(ok, image, 0).astype(np.float32)
    weight = ndimage.gaussian_filter(ok.astype(np.float32), sigma)
    mean = ndimage.gaussian_filter(filled, sigma) / np.maximum(weight, 1e-6)
    return np.where(ok, image - mean, np.nan).astype(np.float32)


def clip_percentiles(image: np.ndarray, low: float = 1.0, high: float = 99.0) -> np.ndarray:
    """Clip to the [low, high] percentiles of the valid pixels (bright targets, dark noise)."""
    image = np.asarray(image, dtype=np.float32)
    ok = np.isfinite(image)
    if not ok.any():
        return image.copy()
    lo, hi = np.percentile(image[ok], [low, high])
    return np.where(ok, np.clip(image, lo, hi), np.nan).astype(np.float32)


def remove_mean_and_clip(
    db: np.ndarray, clip: tuple[float, float] = (1.0, 99.0), mean_sigma: float | None = None
) -> np.ndarray:
    """The drift preprocessing chain on a dB image: mean removal, then percentile clipping."""
    return clip_percentiles(remove_spatial_mean(db, mean_sigma), *clip)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Stretch the valid range to 1..255 for OpenCV feature detectors; no data becomes 0."""
    image = np.asarray(image, dtype=np.float32)
    ok = np.isfinite(image)
    out = np.zeros(image.shape, dtype=np.uint8)
    if not ok.any():
        return out
    lo, hi = float(image[ok].min()), float(image[ok].max())
    if hi <= lo:
        out[ok] = 128
        return out
    out[ok] = np.round(1 + 254 * (image[ok] - lo) / (hi - lo)).astype(np.uint8)
    return out
