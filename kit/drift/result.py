"""What every drift method returns: `DriftResult`, the vectors at points of image 1 and their
flags. It lives on its own so that the modules that judge results (`kit.drift.outliers`) and the
tracker that makes them (`kit.drift.track`, which re-exports it) import it in one direction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from kit.errors import KitError


@dataclass
class DriftResult:
    """Drift vectors at points of image 1: (x, y) is the column and row of the point, (u, v) its
    position in image 2 minus its position in image 1 (pixels). `quality` is the peak
    correlation, `sharpness` the peak's margin over the best rival correlation (NaN where the
    method has none). With geolocation: start/end lon/lat, displacement (km), speed (m/s) and
    (u_ice, v_ice), the ice motion in image-1 pixel axes - (u, v) without the change of viewing
    geometry between the two acquisitions. `reason` says why a vector is invalid
    (`kit.drift.reasons.Reason` codes, 0 where valid; None when the maker gave none). `sigma`
    is the standard deviation of each displacement component (px) from the shape of the
    correlation peak (`kit.drift.matching.peak_sigma`; NaN for `ft` and `superlim`, which have
    none), `sigma_km` the same in km when geolocated."""

    x: np.ndarray
    y: np.ndarray
    u: np.ndarray
    v: np.ndarray
    quality: np.ndarray
    sharpness: np.ndarray
    valid: np.ndarray
    method: str
    seconds: float = 0.0
    grid_shape: tuple[int, int] | None = None
    lon: np.ndarray | None = None
    lat: np.ndarray | None = None
    lon2: np.ndarray | None = None
    lat2: np.ndarray | None = None
    displacement_km: np.ndarray | None = None
    speed_ms: np.ndarray | None = None
    u_ice: np.ndarray | None = None
    v_ice: np.ndarray | None = None
    dt_seconds: float | None = None
    reason: np.ndarray | None = None
    sigma: np.ndarray | None = None
    sigma_km: np.ndarray | None = None
    extra: dict = field(default_factory=dict)

    def grid(self, name: str) -> np.ndarray:
        """A per-point variable reshaped to the regular grid (only for grid points)."""
        if self.grid_shape is None:
            raise KitError("this drift result is not on a regular grid (points were given)")
        return np.asarray(getattr(self, name)).reshape(self.grid_shape)
