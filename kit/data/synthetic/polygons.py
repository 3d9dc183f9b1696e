"""Random fields, land and sea, and the Voronoi polygons of the ice chart (steps 1-2 of
`kit.data.synthetic.scene`)."""

from __future__ import annotations

import math

import cv2
import numpy as np
from scipy import ndimage

from kit import charts

# ---------------------------------------------------------------------------------------------
# Random fields
# ---------------------------------------------------------------------------------------------


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], scale: float) -> np.ndarray:
    """Gaussian random field (mean 0, std 1, float32) with correlation length ~`scale` pixels.

    Drawn on a grid coarsened by about scale/2 and upsampled bilinearly, so large scales cost
    little.
    """
    factor = max(1.0, scale / 2.0)
    small = (math.ceil(shape[0] / factor) + 2, math.ceil(shape[1] / factor) + 2)
    field = rng.standard_normal(small, dtype=np.float32)
    sigma = scale / factor
    field = cv2.GaussianBlur(field, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    if factor > 1:
        field = cv2.resize(field, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    else:
        field = field[: shape[0], : shape[1]]
    field -= field.mean()
    field /= field.std() + 1e-6
    return field


def resize(image: np.ndarray, shape: tuple[int, int], area: bool = False) -> np.ndarray:
    """Resample an image to `shape` (rows, cols): bilinear, or area mean for downsampling."""
    method = cv2.INTER_AREA if area else cv2.INTER_LINEAR
    return cv2.resize(image.astype(np.float32), (shape[1], shape[0]), interpolation=method)


# ---------------------------------------------------------------------------------------------
# 1. Land, sea and distance to land
# ---------------------------------------------------------------------------------------------


def make_land(rng: np.random.Generator, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(land mask, distance to land in km). One in four scenes is open sea with the coast
    beyond the scene edge; the others have a coastline, often with fjords and islands."""
    h, w = shape
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    along = (np.cos(angle) * rows + np.sin(angle) * cols) / max(h, w)  # ~[-1.4, 1.4]
    km = charts.PIXEL_SPACING_M / 1000.0
    if rng.random() < 0.25:
        offset = rng.uniform(10.0, 50.0)
        distance = offset + (along - along.min()) * max(h, w) * km
        return np.zeros(shape, bool), distance.astype(np.float32)

    size = max(h, w)
    field = (
        2.0 * along
        + 0.5 * smooth_noise(rng, shape, size / 5)
        + 0.2 * smooth_noise(rng, shape, size / 18)
    )
    land_share = rng.uniform(0.08, 0.35)
    level = np.quantile(field[:: max(1, h // 100), :: max(1, w // 100)], 1 - land_share)
    land = field > level
    if rng.random() < 0.6:  # fjords: narrow winding channels cut into the land near the coast
        channels = np.abs(smooth_noise(rng, shape, size / 12)) < 0.09
        land &= ~(channels & (field < level + 0.6))
    islands = (smooth_noise(rng, shape, size / 40) > 2.8) & (field > level - 0.5)
    land |= islands
    # Exact Euclidean distance (scipy; OpenCV's threaded version is not bit-reproducible).
    distance = ndimage.distance_transform_edt(~land) * km
    return land, distance.astype(np.float32)


# ---------------------------------------------------------------------------------------------
# 2. Polygon ice chart with egg codes
# ---------------------------------------------------------------------------------------------


def make_polygons(
    rng: np.random.Generator, shape: tuple[int, int], land: np.ndarray
) -> tuple[np.ndarray, int]:
    """Polygon index image (0..n-1 sea polygons, n = the land polygon) and n.

    Voronoi cells of random seeds, computed on a 4x coarser grid with coordinates warped by a
    smooth field so that edges wander like analysts' polygons."""
    h, w = shape
    n = int(np.clip(round(h * w / 260.0**2 * rng.uniform(0.8, 1.6)), 3, 60))
    seeds = rng.uniform(0, 1, (n, 2)) * [h, w]
    coarse = (max(1, h // 4), max(1, w // 4))
    rr, cc = np.mgrid[0 : coarse[0], 0 : coarse[1]].astype(np.float32)
    rr = rr * h / coarse[0] + 0.07 * h * smooth_noise(rng, coarse, coarse[0] / 4)
    cc = cc * w / coarse[1] + 0.07 * w * smooth_noise(rng, coarse, coarse[1] / 4)
    d2 = (rr[..., None] - seeds[:, 0]) ** 2 + (cc[..., None] - seeds[:, 1]) ** 2
    labels = d2.argmin(axis=-1).astype(np.int32)
    labels = cv2.resize(labels, (w, h), interpolation=cv2.INTER_NEAREST)
    labels[land] = n
    return labels, n
