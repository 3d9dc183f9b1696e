"""Sea-ice deformation from a drift field: divergence, shear and total deformation.

With velocity gradients ux = du/dx, uy = du/dy, vx = dv/dx, vy = dv/dy:
divergence = ux + vy, shear = sqrt((ux - vy)^2 + (uy + vx)^2), total = sqrt(div^2 + shear^2).
Units follow the inputs: displacements and distances in the same unit give dimensionless strain
over the image interval; divide by the interval (`dt`) for rates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import Delaunay


@dataclass
class Deformation:
    """Strain invariants per grid cell or per triangle (`triangles` (n, 3) indices, else None)."""

    divergence: np.ndarray
    shear: np.ndarray
    total: np.ndarray
    triangles: np.ndarray | None = None


def _invariants(ux, uy, vx, vy, dt: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    div = (ux + vy) / dt
    shear = np.hypot(ux - vy, uy + vx) / dt
    return div, shear, np.hypot(div, shear)


def grid_deformation(
    u: np.ndarray, v: np.ndarray, spacing: float = 1.0, dt: float = 1.0
) -> Deformation:
    """Deformation of a drift field on a regular grid (rows, cols) with `spacing` between nodes;
    centred differences inside, one-sided at the edges, NaN where neighbours are missing."""
    u = np.asarray(u, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    uy, ux = np.gradient(u, spacing)
    vy, vx = np.gradient(v, spacing)
    return Deformation(*_invariants(ux, uy, vx, vy, dt))


def triangle_strain_rates(
    x: np.ndarray,
    y: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    dt: float = 1.0,
    min_area: float = 1e-6,
    triangles: np.ndarray | None = None,
) -> Deformation:
    """Deformation per Delaunay triangle of scattered vectors (a linear field in each triangle).

    `triangles` ((n, 3) indices) replaces the Delaunay triangulation, e.g. to keep the same
    triangles of ice through a series. Degenerate triangles (area below `min_area` in squared
    position units) and triangles with a NaN corner get NaN."""
    x, y, u, v = (np.asarray(a, dtype=np.float64).ravel() for a in (x, y, u, v))
    tri = Delaunay(np.stack([x, y], 1)).simplices if triangles is None else np.asarray(triangles)
    p = np.stack([x[tri], y[tri]], -1)  # (n, 3, 2)
    edges = p[:, 1:] - p[:, :1]  # (n, 2, 2) rows: edge vectors
    det = edges[:, 0, 0] * edges[:, 1, 1] - edges[:, 0, 1] * edges[:, 1, 0]
    ok = np.abs(det) / 2 > min_area
    safe = np.where(ok, det, 1.0)
    inv = (
        np.stack(
            [
                np.stack([edges[:, 1, 1], -edges[:, 0, 1]], -1),
                np.stack([-edges[:, 1, 0], edges[:, 0, 0]], -1),
            ],
            -2,
        )
        / safe[:, None, None]
    )

    def gradient(values):
        dv = values[tri][:, 1:] - values[tri][:, :1]  # (n, 2)
        g = np.einsum("nij,nj->ni", inv, dv)  # (d/dx, d/dy)
        g[~ok] = np.nan
        return g[:, 0], g[:, 1]

    ux, uy = gradient(u)
    vx, vy = gradient(v)
    return Deformation(*_invariants(ux, uy, vx, vy, dt), triangles=tri)
