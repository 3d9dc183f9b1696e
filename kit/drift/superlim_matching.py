"""Drift from SuperLIM descriptors: seeded points of image 1 matched densely in image 2.

The descriptor of each seed point (bilinear in the 1/8-resolution map) is compared with image-2
descriptors on a `step`-pixel grid within `radius` of its first guess; the best candidate is
refined to sub-grid precision with a parabola. A match is kept when it is mutual - searching back
from it in image 1 lands within `mutual_tol` px of the seed - and similar enough. For
`superlim+pm` the kept matches are filtered with the same polynomial outlier filter as feature
tracking and interpolated, giving pattern matching a first guess and a local rotation.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from kit.device import resolve_device
from kit.drift.local_motion import fit_local_motion
from kit.drift.matching import find_peaks
from kit.drift.reasons import Reason, first_failure
from kit.drift.superlim import load_superlim, network_input, sample_descriptors

GRID_STEP = 4


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


@torch.no_grad()
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
):
    """SuperLIM vectors (u, v, similarity, reason) at seed points (x, y) of image 1; `reason`
    holds `kit.drift.reasons.Reason` codes, 0 (VALID) for a kept match."""
    model = _model(None if weights is None else str(weights), str(resolve_device(device)))
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    gu = np.zeros_like(x) if guess_u is None else np.nan_to_num(np.asarray(guess_u, float))
    gv = np.zeros_like(y) if guess_v is None else np.nan_to_num(np.asarray(guess_v, float))
    grid1, desc1 = descriptor_grid(model, image1)
    grid2, desc2 = descriptor_grid(model, image2)
    seeds = torch.from_numpy(np.stack([x, y], -1)).float().to(desc1.device)[None]
    query = sample_descriptors(desc1, seeds)[0]
    px, py, sim, border = _best_on_grid(
        query, grid2, _data_on_grid(image2, GRID_STEP), x + gu, y + gv, radius, GRID_STEP
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
            (Reason.NO_MATCH, found),
            (Reason.BORDER_PEAK, ~border),
            (Reason.WEAK_PEAK, np.nan_to_num(sim, nan=-1) >= min_similarity),
            (Reason.INCONSISTENT, mutual),
        ],
        x.size,
    )
    return px - x, py - y, sim, reason


def superlim_track(image1, image2, x, y, params, guess_u=None, guess_v=None):
    """`track` back end for `superlim`: (u, v, similarity, reason) using TrackParams."""
    return superlim_match(
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
    )


def superlim_first_guess(image1, image2, x, y, params, guess_u=None, guess_v=None):
    """First guess for `superlim+pm` (`kit.drift.local_motion.FirstGuess`): the SuperLIM
    matches their neighbours support, predicting at the points by the local motion model
    (None when too few remain)."""
    u, v, _, reason = superlim_track(image1, image2, x, y, params, guess_u, guess_v)
    valid = reason == Reason.VALID
    x1, y1 = x[valid], y[valid]
    motion = fit_local_motion(x1, y1, x1 + u[valid], y1 + v[valid], params.local_params())
    return None if motion is None else motion.guess(x, y)
