"""One entry point for every drift method: `track(img1, img2, method, points) -> DriftResult`.

Methods:
- `ft`: ORB feature tracking, interpolated to the points (no correlation measures).
- `pm`: pattern matching around a zero first guess (or the geolocation guess when both images'
  geolocation is given) with a +-`search` px window.
- `ft+pm`: pattern matching around the FT first guess (and with the FT rotation applied to the
  templates) within a small +-`refine_search` px window.
- `superlim`: the learned descriptor tracker alone (see `kit.drift.superlim`).
- `superlim+pm`: the SuperLIM first guess refined by pattern matching with a +-16 px search.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from kit.config import config_from_dict
from kit.drift.features import FeatureParams, feature_track
from kit.drift.io import GcpTransform
from kit.drift.matching import MatchParams, pattern_match
from kit.drift.preprocess import normalise
from kit.errors import KitError

METHODS: tuple[str, ...] = ("ft", "pm", "ft+pm", "superlim", "superlim+pm")
#: The method `track` and `autoice drift` use unless told otherwise.
DEFAULT_METHOD = "ft+pm"
EARTH_RADIUS_KM = 6371.0


@dataclass
class TrackParams:
    """All tunable settings of `track` (pixels and degrees); pass any of them as keywords."""

    grid_step: int = 32
    template: int = MatchParams.template
    search: int = MatchParams.search
    refine_search: int = 8
    superlim_search: int = 16
    angles: tuple[float, ...] = MatchParams.angles
    min_quality: float = MatchParams.min_quality
    min_sharpness: float = MatchParams.min_sharpness
    clip: tuple[float, float] = (1.0, 99.0)
    mean_sigma: float | None = None
    n_features: int = FeatureParams.n_features
    ratio: float = FeatureParams.ratio
    max_drift: float = FeatureParams.max_drift
    max_residual: float = FeatureParams.max_residual
    poly_order: int = FeatureParams.poly_order
    superlim_weights: str | None = None
    superlim_radius: float = 64.0
    superlim_mutual_tol: float = 8.0
    superlim_min_similarity: float = 0.5
    device: str | None = None
    workers: int = 2

    def match_params(self, search: int) -> MatchParams:
        return MatchParams(
            template=self.template,
            search=search,
            angles=tuple(self.angles),
            min_quality=self.min_quality,
            min_sharpness=self.min_sharpness,
            workers=self.workers,
        )

    def feature_params(self) -> FeatureParams:
        return FeatureParams(
            n_features=self.n_features,
            ratio=self.ratio,
            max_drift=self.max_drift,
            max_residual=self.max_residual,
            poly_order=self.poly_order,
        )


def make_params(**params) -> TrackParams:
    """Tracking settings from keywords, checked like every other config.

    Parameters
    ----------
    **params
        Any fields of `TrackParams`; the others keep their defaults.

    Returns
    -------
    TrackParams

    Raises
    ------
    KitError
        For an unknown keyword (``drift: unknown key(s) ...; allowed: ...``) or a value of the
        wrong type (``drift.<name>: ...``).
    """
    return config_from_dict(TrackParams, params, section="drift")


@dataclass
class DriftResult:
    """Drift vectors at points of image 1: (x, y) is the column and row of the point, (u, v) its
    position in image 2 minus its position in image 1 (pixels). `quality` is the peak
    correlation, `sharpness` the peak's margin over the best rival correlation (NaN where the
    method has none). With geolocation: start/end lon/lat, displacement (km), speed (m/s) and
    (u_ice, v_ice), the ice motion in image-1 pixel axes - (u, v) without the change of viewing
    geometry between the two acquisitions."""

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
    extra: dict = field(default_factory=dict)

    def grid(self, name: str) -> np.ndarray:
        """A per-point variable reshaped to the regular grid (only for grid points)."""
        if self.grid_shape is None:
            raise KitError("this drift result is not on a regular grid (points were given)")
        return np.asarray(getattr(self, name)).reshape(self.grid_shape)


def grid_points(
    shape: tuple[int, int], step: int, margin: int = 0
) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """Regular grid of point (cols, rows) every `step` px, `margin` px from the edges."""
    if step < 1:
        raise KitError(f"grid_step={step}: must be a positive number of pixels")
    rows = np.arange(margin, shape[0] - margin, step)
    cols = np.arange(margin, shape[1] - margin, step)
    if rows.size == 0 or cols.size == 0:
        raise KitError(f"image of shape {shape} is too small for a grid with margin {margin}")
    yy, xx = np.meshgrid(rows, cols, indexing="ij")
    return xx.ravel().astype(np.float64), yy.ravel().astype(np.float64), yy.shape


def _as_image(image, name: str) -> np.ndarray:
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 2 or min(image.shape) < 8:
        raise KitError(
            f"{name}: expected a 2-D image of at least 8 x 8 pixels, got shape {image.shape}"
        )
    return image


def _inside_data(image: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Positions that fall on a pixel with data."""
    ok = np.isfinite(x) & np.isfinite(y)
    col = np.where(ok, np.round(x), -1).astype(np.int64)
    row = np.where(ok, np.round(y), -1).astype(np.int64)
    ok &= (col >= 0) & (row >= 0) & (col < image.shape[1]) & (row < image.shape[0])
    out = np.zeros(x.shape, bool)
    out[ok] = np.isfinite(image[row[ok], col[ok]])
    return out


def geometric_guess(geo1: GcpTransform, geo2: GcpTransform, x, y) -> tuple[np.ndarray, np.ndarray]:
    """(u, v) of a point that does not move: where its lon/lat falls in image 2."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    lon, lat = geo1.pixel_to_lonlat(x + 0.5, y + 0.5)
    c2, r2 = geo2.lonlat_to_pixel(lon, lat)
    return c2 - 0.5 - x, r2 - 0.5 - y


def geometric_rotation(geo1: GcpTransform, geo2: GcpTransform, x, y, h: float = 8.0) -> np.ndarray:
    """Rotation (degrees) of image-2 content relative to image 1 for motionless ice: the angle
    between the image grids where the two acquisitions overlap (different orbits)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    u0, v0 = geometric_guess(geo1, geo2, x - h, y)
    u1, v1 = geometric_guess(geo1, geo2, x + h, y)
    return np.degrees(np.arctan2(v1 - v0, 2 * h + u1 - u0))


def haversine_km(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Great-circle distance (km) on a sphere of the mean Earth radius."""
    lon1, lat1, lon2, lat2 = (
        np.radians(np.asarray(a, dtype=np.float64)) for a in (lon1, lat1, lon2, lat2)
    )
    a = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def geolocate(
    result: DriftResult, geo1: GcpTransform, geo2: GcpTransform, dt_seconds: float | None
) -> None:
    """Fill the start/end lon/lat, displacement (km) and, with a time step, speed (m/s).

    Pixel (x, y) is the centre of pixel column x, row y, i.e. GCP position (x + 0.5, y + 0.5)."""
    result.lon, result.lat = geo1.pixel_to_lonlat(result.x + 0.5, result.y + 0.5)
    lon2, lat2 = geo2.pixel_to_lonlat(
        np.nan_to_num(result.x + result.u) + 0.5, np.nan_to_num(result.y + result.v) + 0.5
    )
    missing = ~np.isfinite(result.u)
    result.lon2, result.lat2 = np.where(missing, np.nan, lon2), np.where(missing, np.nan, lat2)
    result.displacement_km = haversine_km(result.lon, result.lat, result.lon2, result.lat2)
    c1, r1 = geo1.lonlat_to_pixel(np.nan_to_num(result.lon2), np.nan_to_num(result.lat2))
    result.u_ice = np.where(missing, np.nan, c1 - 0.5 - result.x)
    result.v_ice = np.where(missing, np.nan, r1 - 0.5 - result.y)
    result.dt_seconds = dt_seconds
    if dt_seconds:
        result.speed_ms = result.displacement_km * 1000.0 / dt_seconds


def track(
    img1,
    img2,
    method: str = DEFAULT_METHOD,
    points: tuple[np.ndarray, np.ndarray] | None = None,
    geo1: GcpTransform | None = None,
    geo2: GcpTransform | None = None,
    dt_seconds: float | None = None,
    **params,
) -> DriftResult:
    """Drift from image 1 to image 2 (backscatter in dB, NaN = no data) at `points` (cols, rows)
    of image 1, by default a regular grid every `grid_step` px. See `TrackParams` for settings."""
    if method not in METHODS:
        raise KitError(
            f"method={method!r}: unknown drift method; choose one of {', '.join(METHODS)}"
        )
    p = make_params(**params)
    start = time.perf_counter()
    a = normalise(_as_image(img1, "img1"), p.clip, p.mean_sigma)
    b = normalise(_as_image(img2, "img2"), p.clip, p.mean_sigma)
    grid_shape = None
    if points is None:
        x, y, grid_shape = grid_points(a.shape, p.grid_step, margin=p.template // 2)
    else:
        x = np.asarray(points[0], dtype=np.float64).ravel()
        y = np.asarray(points[1], dtype=np.float64).ravel()
        if x.shape != y.shape:
            raise KitError(f"points: cols and rows differ in length ({x.size} vs {y.size})")
    quality = sharpness = np.full(x.size, np.nan)
    extra: dict = {}
    # first guess without any matching: zero, or "no motion" by geolocation
    base_u = base_v = base_angle = expected = None
    if geo1 is not None and geo2 is not None:
        base_u, base_v = geometric_guess(geo1, geo2, x, y)
        base_angle = geometric_rotation(geo1, geo2, x, y)

        def expected(px, py):
            return geometric_guess(geo1, geo2, px, py)

    if method == "ft":
        matches = feature_track(a, b, p.feature_params(), expected)
        u, v, _, valid = matches.first_guess(x, y)
        extra["n_matches"] = matches.count
    elif method == "superlim":
        from kit.drift.superlim_matching import superlim_track

        u, v, quality, valid = superlim_track(a, b, x, y, p, base_u, base_v)
    else:
        gu, gv, angle, search = base_u, base_v, base_angle, p.search
        if method == "ft+pm":
            matches = feature_track(a, b, p.feature_params(), expected)
            extra["n_matches"] = matches.count
            if matches.fit is not None:  # else no features (no texture, no overlap): plain PM
                gu, gv, angle, _ = matches.first_guess(x, y)
                search = p.refine_search
        elif method == "superlim+pm":
            from kit.drift.superlim_matching import superlim_first_guess

            guess = superlim_first_guess(a, b, x, y, p, base_u, base_v)
            if guess is not None:
                (gu, gv, angle), search = guess, p.superlim_search
        m = pattern_match(a, b, x, y, gu, gv, angle, p.match_params(search))
        u, v, quality, sharpness, valid = m.u, m.v, m.quality, m.sharpness, m.valid
    valid = np.asarray(valid, bool) & _inside_data(a, x, y) & _inside_data(b, x + u, y + v)
    result = DriftResult(
        x, y, u, v, quality, sharpness, valid, method, grid_shape=grid_shape, extra=extra
    )
    if geo1 is not None and geo2 is not None:
        geolocate(result, geo1, geo2, dt_seconds)
    result.seconds = time.perf_counter() - start
    return result
