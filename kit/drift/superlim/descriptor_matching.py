"""Drift from SuperLIM descriptors: seeded points of image 1 matched densely in image 2.

Large rotations (pairs from different orbits) are taken out first: image 2 is de-rotated about
its centre onto a canvas large enough to hold all of it, matched there, and the matches are
mapped back to image 2. The rotation comes from geolocation (the median of `track`'s geometric
rotation at the points) or, without it, from `estimate_alignment`: a global mutual matching of
SuperLIM descriptors against image 2 turned by every `COARSE_STEP_DEG` degrees, whose best
turn gives a rotation and shift by RANSAC - also the first guess. The network therefore only has
to tolerate the residual rotation (at most half a turn step; the committed checkpoint was
trained with +-15 degrees, see benchmarks/RESULTS.md for why not over the full circle).

The descriptor of each seed point (bilinear in the 1/8-resolution map) is compared with image-2
descriptors on a `step`-pixel grid within `radius` of its first guess; the best candidate is
refined to sub-grid precision with a parabola. A match is kept when it is mutual - searching back
from it in image 1 lands within `mutual_tol` px of the seed - and similar enough. For
`superlim+pm` the kept matches go through the same local motion model as feature tracking
(`kit.drift.local_motion`), giving pattern matching a first guess and a local rotation.
"""

from __future__ import annotations

import warnings
from functools import lru_cache

import cv2
import numpy as np
import torch

from kit.device import resolve_device
from kit.drift.local_motion import fit_local_motion
from kit.drift.matching import MatchParams, find_peaks, sample_patches
from kit.drift.reasons import Reason, first_failure
from kit.drift.superlim.checkpoint import load_superlim
from kit.drift.superlim.model import CELL, network_input, sample_descriptors

GRID_STEP = 4
#: Rotations smaller than this (degrees) are left to the descriptors: no de-rotation.
MIN_DEROTATION_DEG = 5.0
#: Turns of image 2 tried by `estimate_alignment` are multiples of this (degrees).
COARSE_STEP_DEG = 45.0


@lru_cache(maxsize=4)
def _model(path: str | None, device: str):
    return load_superlim(path, device)


@torch.no_grad()
def descriptor_grid(
    model, image: np.ndarray, step: int = GRID_STEP
) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit descriptors (D, ny, nx) of an image on the pixel grid 0, step, 2*step, ..., and the
    network's 1/8-resolution descriptor map they were sampled from."""
    device = next(model.parameters()).device
    _, desc = model(network_input(image).to(device))
    ys = torch.arange(0, image.shape[0], step, device=device, dtype=torch.float32)
    xs = torch.arange(0, image.shape[1], step, device=device, dtype=torch.float32)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    out = sample_descriptors(desc, torch.stack([gx, gy], -1).reshape(1, -1, 2))
    return out[0].T.reshape(-1, len(ys), len(xs)), desc


def _best_on_grid(query, grid, data_ok, cx, cy, radius: float, step: int, chunk: int = 256):
    """For each query descriptor (n, D), the most similar grid descriptor within `radius` px of
    (cx, cy): sub-grid position, similarity and whether the best lies on the search border."""
    d, ny, nx = grid.shape
    k = int(np.ceil(radius / step))
    off = np.arange(-k, k + 1)
    oy, ox = np.meshgrid(off, off, indexing="ij")
    in_circle = np.hypot(ox, oy) * step <= radius
    flat = grid.reshape(d, -1)
    n = len(cx)
    px, py = np.full(n, np.nan), np.full(n, np.nan)
    sim, border = np.full(n, np.nan), np.ones(n, bool)
    for s in range(0, n, chunk):
        sl = slice(s, min(s + chunk, n))
        ix = np.round(cx[sl] / step).astype(np.int64)
        iy = np.round(cy[sl] / step).astype(np.int64)
        gx = ix[:, None, None] + ox[None]
        gy = iy[:, None, None] + oy[None]
        ok = (gx >= 0) & (gy >= 0) & (gx < nx) & (gy < ny) & in_circle[None]
        idx = np.where(ok, gy * nx + gx, 0)
        ok &= data_ok.ravel()[idx]
        cand = flat[:, torch.from_numpy(idx.reshape(-1)).to(flat.device)].reshape(d, *idx.shape)
        q = query[sl].to(flat.device)
        surf = torch.einsum("nd,dnij->nij", q, cand).cpu().numpy()
        surf[~ok] = np.nan
        peak = find_peaks(surf)
        px[sl] = (ix + peak.dx) * step
        py[sl] = (iy + peak.dy) * step
        sim[sl] = peak.quality
        border[sl] = peak.on_border
    return px, py, sim, border


def _data_on_grid(image: np.ndarray, step: int) -> np.ndarray:
    return np.isfinite(image[::step, ::step])


def derotation(shape: tuple[int, int], angle_deg: float) -> tuple[np.ndarray, tuple[int, int]]:
    """2 x 3 affine taking image (x, y) to a canvas where the content is turned back by
    `angle_deg` (counter-clockwise in image axes) about the image centre, and the canvas shape
    (rows, cols), just large enough to hold the whole image."""
    a = np.radians(-angle_deg)
    turn = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    ny, nx = shape
    centre = np.array([(nx - 1) / 2, (ny - 1) / 2])
    corners = (np.array([[0, 0], [nx - 1, 0], [0, ny - 1], [nx - 1, ny - 1]]) - centre) @ turn.T
    cols, rows = (np.ceil(np.abs(corners).max(0) * 2 - 1e-6).astype(int) + 1).tolist()
    shift = np.array([(cols - 1) / 2, (rows - 1) / 2]) - turn @ centre
    return np.hstack([turn, shift[:, None]]), (rows, cols)


def derotate(image: np.ndarray, angle_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Image turned back by `angle_deg` on a larger canvas (NaN = no data, also around it) and
    the 2 x 3 affine from image to canvas positions; the image itself for small angles."""
    if abs((angle_deg + 180) % 360 - 180) < MIN_DEROTATION_DEG:
        return image, np.hstack([np.eye(2), np.zeros((2, 1))])
    matrix, (rows, cols) = derotation(image.shape, angle_deg)
    ok = np.isfinite(image)
    filled = np.where(ok, image, 0).astype(np.float32)
    turned = cv2.warpAffine(filled, matrix, (cols, rows), flags=cv2.INTER_LINEAR)
    cover = cv2.warpAffine(ok.astype(np.float32), matrix, (cols, rows), flags=cv2.INTER_LINEAR)
    turned[cover < 0.999] = np.nan
    return turned, matrix


def _apply(matrix: np.ndarray, x, y) -> tuple[np.ndarray, np.ndarray]:
    return (
        matrix[0, 0] * x + matrix[0, 1] * y + matrix[0, 2],
        matrix[1, 0] * x + matrix[1, 1] * y + matrix[1, 2],
    )


def _inverse(matrix: np.ndarray) -> np.ndarray:
    return cv2.invertAffineTransform(matrix)


def _cells_on_data(image: np.ndarray, desc: torch.Tensor) -> tuple[np.ndarray, torch.Tensor]:
    """(n, 2) pixel (x, y) of the 1/8-resolution cell centres on data and their descriptors."""
    d, h, w = desc.shape[1:]
    ys, xs = np.mgrid[0:h, 0:w]
    x = xs.ravel() * CELL + (CELL - 1) / 2
    y = ys.ravel() * CELL + (CELL - 1) / 2
    col, row = (
        np.minimum(x.astype(int), image.shape[1] - 1),
        np.minimum(y.astype(int), image.shape[0] - 1),
    )
    on = np.isfinite(image[row, col])
    keep = torch.from_numpy(on).to(desc.device)
    return np.stack([x[on], y[on]], 1), desc[0].reshape(d, -1)[:, keep]


def _mutual_nearest(query: torch.Tensor, cells: torch.Tensor, chunk: int = 512):
    """Index pairs (i, j) where query i (D, n) and cell j (D, m) are each other's best match."""
    best_j = torch.empty(query.shape[1], dtype=torch.long)
    col_val = torch.full((cells.shape[1],), -2.0)
    col_idx = torch.zeros(cells.shape[1], dtype=torch.long)
    for s in range(0, query.shape[1], chunk):
        sim = query[:, s : s + chunk].T @ cells
        best_j[s : s + chunk] = sim.argmax(1).cpu()
        val, idx = sim.max(0)
        better = val.cpu() > col_val
        col_val[better], col_idx[better] = val.cpu()[better], idx.cpu()[better] + s
    i = torch.arange(query.shape[1])
    mutual = col_idx[best_j] == i
    return i[mutual].numpy(), best_j[mutual].numpy()


def _rigid(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares rotation and shift (2 x 3) taking points src (n, 2) to dst (Procrustes)."""
    cs, cd = src.mean(0), dst.mean(0)
    h = (src - cs).T @ (dst - cd)
    a = np.arctan2(h[0, 1] - h[1, 0], h[0, 0] + h[1, 1])
    turn = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return np.hstack([turn, (cd - turn @ cs)[:, None]])


def rigid_ransac(
    src: np.ndarray, dst: np.ndarray, tolerance: float, hypotheses: int = 800, seed: int = 0
) -> tuple[int, np.ndarray | None]:
    """Most matches (src -> dst, (n, 2) each) one rotation and shift explains within
    `tolerance` px, and that transform (2 x 3, refitted on them); (0, None) for < 2 matches.
    Hypotheses come from random pairs of matches."""
    n = len(src)
    if n < 2:
        return 0, None
    rng = np.random.default_rng(seed)
    i, j = rng.integers(n, size=(2, hypotheses))
    ds, dd = src[j] - src[i], dst[j] - dst[i]
    a = np.arctan2(dd[:, 1], dd[:, 0]) - np.arctan2(ds[:, 1], ds[:, 0])
    c, s = np.cos(a), np.sin(a)
    tx = dst[i, 0] - (c * src[i, 0] - s * src[i, 1])
    ty = dst[i, 1] - (s * src[i, 0] + c * src[i, 1])
    ex = c[:, None] * src[None, :, 0] - s[:, None] * src[None, :, 1] + tx[:, None]
    ey = s[:, None] * src[None, :, 0] + c[:, None] * src[None, :, 1] + ty[:, None]
    inliers = np.hypot(ex - dst[None, :, 0], ey - dst[None, :, 1]) <= tolerance
    best = inliers[inliers.sum(1).argmax()]
    for _ in range(3):  # refit on the inliers, then take the inliers of the refit
        if best.sum() < 2:
            return 0, None
        fit = _rigid(src[best], dst[best])
        fx, fy = _apply(fit, src[:, 0], src[:, 1])
        best = np.hypot(fx - dst[:, 0], fy - dst[:, 1]) <= tolerance
    return int(best.sum()), fit


def _data_window(image: np.ndarray, size: int) -> tuple[np.ndarray, tuple[int, int]]:
    """The size x size px of an image centred on the centroid of its data (clipped to the
    image; all of a smaller side) and its corner (x, y)."""
    rows, cols = np.nonzero(np.isfinite(image[::8, ::8]))
    centre = (rows.mean() * 8, cols.mean() * 8) if rows.size else (image.shape[0] / 2,) * 2
    y0, x0 = (
        int(np.clip(round(c - size / 2), 0, max(n - size, 0)))
        for c, n in zip(centre, image.shape, strict=True)
    )
    return image[y0 : y0 + size, x0 : x0 + size], (x0, y0)


@torch.no_grad()
def estimate_alignment(
    model,
    image1: np.ndarray,
    image2: np.ndarray,
    step_deg: float = COARSE_STEP_DEG,
    max_cells: int = 2500,
    tolerance: float = 16.0,
    window: int = 512,
) -> tuple[float, np.ndarray] | None:
    """Rotation (degrees) and rigid transform (2 x 3, image-1 to image-2 positions) of a pair
    without geolocation, or None when no turn gives 8 consistent matches.

    Image-1 cell descriptors (at most `max_cells`, evenly spread) are matched mutually against
    all cells of `window` x `window` px of image 2 around its data's centroid (to save time),
    turned back by 0, `step_deg`, 2 `step_deg`, ... degrees; per turn a RANSAC fit of a
    rotation and shift (`rigid_ransac`, `tolerance` px) counts the consistent matches, and the
    best turn's fit is the answer."""
    device = next(model.parameters()).device
    _, desc1 = model(network_input(image1).to(device))
    p1, q = _cells_on_data(image1, desc1)
    pick = np.linspace(0, len(p1) - 1, min(max_cells, len(p1))).astype(int)
    p1, q = p1[pick], q[:, torch.from_numpy(pick).to(q.device)]
    part, (x0, y0) = _data_window(image2, window)
    best: tuple[int, np.ndarray] | None = None
    for angle in np.arange(0.0, 360.0, step_deg):
        turned, matrix = derotate(part, angle)
        _, desc2 = model(network_input(turned).to(device))
        p2, cells = _cells_on_data(turned, desc2)
        i, j = _mutual_nearest(q, cells)
        if len(i) < 8:
            continue
        x2, y2 = _apply(_inverse(matrix), p2[j, 0], p2[j, 1])
        count, fit = rigid_ransac(p1[i], np.stack([x2 + x0, y2 + y0], 1), tolerance)
        if count >= 8 and (best is None or count > best[0]):
            best = (count, fit)
    if best is None:
        return None
    fit = best[1]
    return float(np.degrees(np.arctan2(fit[1, 0], fit[0, 0]))), fit


@torch.no_grad()
def _textured(image: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Seed points whose surroundings (two cells across) vary: on a flat image every
    descriptor is alike and any match would do."""
    patches = sample_patches(image, np.round(x), np.round(y), 2 * CELL + 1)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN patches: off data
        spread = np.nanstd(patches, axis=(1, 2))
    return np.nan_to_num(spread) > MatchParams.min_texture_std


def superlim_match(
    image1,
    image2,
    x,
    y,
    guess_u=None,
    guess_v=None,
    weights=None,
    radius=64.0,
    mutual_tol=8.0,
    min_similarity=0.5,
    device=None,
    rotation_deg: float = 0.0,
):
    """SuperLIM vectors (u, v, similarity, reason) at seed points (x, y) of image 1; `reason`
    holds `kit.drift.reasons.Reason` codes, 0 (VALID) for a kept match. Image 2 is turned back
    by `rotation_deg` (its content's rotation relative to image 1) before matching."""
    model = _model(None if weights is None else str(weights), str(resolve_device(device)))
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    gu = np.zeros_like(x) if guess_u is None else np.nan_to_num(np.asarray(guess_u, float))
    gv = np.zeros_like(y) if guess_v is None else np.nan_to_num(np.asarray(guess_v, float))
    turned, matrix = derotate(image2, rotation_deg)
    grid1, desc1 = descriptor_grid(model, image1)
    grid2, desc2 = descriptor_grid(model, turned)
    seeds = torch.from_numpy(np.stack([x, y], -1)).float().to(desc1.device)[None]
    query = sample_descriptors(desc1, seeds)[0]
    cx, cy = _apply(matrix, x + gu, y + gv)
    px, py, sim, border = _best_on_grid(
        query, grid2, _data_on_grid(turned, GRID_STEP), cx, cy, radius, GRID_STEP
    )
    # mutual check: from the match, search back in image 1 around the seed
    found = np.isfinite(px)
    back_q = (
        torch.from_numpy(np.stack([np.nan_to_num(px), np.nan_to_num(py)], -1))
        .float()
        .to(desc1.device)[None]
    )
    back = sample_descriptors(desc2, back_q)[0]
    bx, by, _, _ = _best_on_grid(
        back, grid1, _data_on_grid(image1, GRID_STEP), x, y, radius, GRID_STEP
    )
    mutual = np.hypot(bx - x, by - y) <= mutual_tol
    reason = first_failure(
        [
            (Reason.NO_TEXTURE, _textured(image1, x, y)),
            (Reason.NO_MATCH, found),
            (Reason.BORDER_PEAK, ~border),
            (Reason.WEAK_PEAK, np.nan_to_num(sim, nan=-1) >= min_similarity),
            (Reason.INCONSISTENT, mutual),
        ],
        x.size,
    )
    ex, ey = _apply(_inverse(matrix), px, py)
    return ex - x, ey - y, sim, reason


def _alignment(image1, image2, x, y, params, guess_u, guess_v, angle):
    """(rotation, guess_u, guess_v) for matching: the geometric rotation (median over the points)
    when given, else `estimate_alignment`'s rotation and, without a guess, its shift."""
    if angle is not None and np.isfinite(angle).any():
        return float(np.nanmedian(angle)), guess_u, guess_v
    model = _model(
        None if params.superlim_weights is None else str(params.superlim_weights),
        str(resolve_device(params.device)),
    )
    found = estimate_alignment(model, image1, image2)
    if found is None:
        return 0.0, guess_u, guess_v
    rotation, fit = found
    if guess_u is None or guess_v is None:
        ex, ey = _apply(fit, x, y)
        guess_u, guess_v = ex - x, ey - y
    return rotation, guess_u, guess_v


def superlim_track(image1, image2, x, y, params, guess_u=None, guess_v=None, angle=None):
    """`track` back end for `superlim`: (u, v, similarity, reason, rotation) using
    TrackParams. `angle`: the geometric rotation of image 2 at the points (degrees) when
    geolocated; without it the rotation is estimated (`estimate_alignment`); `rotation` is the
    pair's rotation used."""
    rotation, guess_u, guess_v = _alignment(image1, image2, x, y, params, guess_u, guess_v, angle)
    return *superlim_match(
        image1,
        image2,
        x,
        y,
        guess_u,
        guess_v,
        weights=params.superlim_weights,
        radius=params.superlim_radius,
        mutual_tol=params.superlim_mutual_tol,
        min_similarity=params.superlim_min_similarity,
        device=params.device,
        rotation_deg=rotation,
    ), rotation


def superlim_first_guess(image1, image2, x, y, params, guess_u=None, guess_v=None, angle=None):
    """First guess for `superlim+pm` (`kit.drift.local_motion.FirstGuess`): the SuperLIM
    matches their neighbours support, predicting at the points by the local motion model
    (None when too few remain)."""
    u, v, _, reason, rotation = superlim_track(
        image1, image2, x, y, params, guess_u, guess_v, angle
    )
    valid = reason == Reason.VALID
    x1, y1 = x[valid], y[valid]
    motion = fit_local_motion(x1, y1, x1 + u[valid], y1 + v[valid], params.local_params(), rotation)
    return None if motion is None else motion.guess(x, y)
