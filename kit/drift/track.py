"""One entry point for every drift method: `track(img1, img2, method, points) -> DriftResult`.

Methods:
- `ft`: ORB feature tracking, interpolated to the points (no correlation measures).
- `pm`: pattern matching around a zero first guess (or the geolocation guess when both images'
  geolocation is given) with a +-`search` px window.
- `ft+pm`: pattern matching around the FT first guess (and with the FT rotation applied to the
  templates) within a small +-`refine_search` px window, widened by up to `widen` px where the
  nearby matches predict different motions (a break in the ice between them). A peak below
  `min_quality` is still valid where it lands within `max_residual` px of the agreeing
  predictions of the FT matches or of the strong PM vectors around it
  (`kit.drift.matching.confirm_weak_peaks`).
- `superlim`: the learned descriptor tracker alone (see `kit.drift.superlim`).
- `superlim+pm`: the SuperLIM first guess refined by pattern matching with a +-`superlim_search`
  px search (widened the same way).

Each method is a function registered with `kit.drift.registry.register_drift_method` (below);
`track` dispatches through the registry, and `TrackParams` gains the settings a registered
method brings with it (`params_class`).
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kit.config import config_from_dict
from kit.drift.features import FeatureParams, feature_track
from kit.drift.io import GcpTransform
from kit.drift.local_motion import FirstGuess, LocalParams, fit_local_motion
from kit.drift.matching import MatchParams, MatchResult, confirm_weak_peaks, pattern_match
from kit.drift.outliers import neighbour_consistent
from kit.drift.preprocess import remove_mean_and_clip
from kit.drift.reasons import Reason
from kit.drift.registry import DRIFT_METHODS, added_settings, register_drift_method
from kit.drift.result import DriftResult  # also kit.drift.track.DriftResult, as before
from kit.errors import KitError

# A drift method in a module of its own (importing `kit.drift.registry` and the helpers it
# needs, never this module) registers when imported: add its import line here. The kit's own
# methods are registered below, beside their code.

#: The drift methods, in registration order (the registry itself: names iterate, `in` tests).
METHODS = DRIFT_METHODS
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
    superlim_search: int = 8
    angles: tuple[float, ...] = MatchParams.angles
    min_quality: float = MatchParams.min_quality
    min_sharpness: float = MatchParams.min_sharpness
    clip: tuple[float, float] = (1.0, 99.0)
    mean_sigma: float | None = None
    n_features: int = FeatureParams.n_features
    ratio: float = FeatureParams.ratio
    max_drift: float = FeatureParams.max_drift
    max_residual: float = LocalParams.max_residual
    match_radius: float = LocalParams.radius
    #: `ft+pm`, `superlim+pm`: largest extra search (px) where the predictions of nearby
    #: matches disagree (a shear zone or lead between them); 0 keeps every search at its size.
    widen: int = 24
    superlim_weights: str | None = None
    superlim_radius: float = 64.0
    superlim_mutual_tol: float = 8.0
    superlim_min_similarity: float = 0.5
    #: `ft` and `superlim` on a grid: threshold of the normalised median test against the
    #: neighbouring vectors (`kit.drift.outliers.neighbour_consistent`); 0 turns it off.
    consistency: float = 3.0
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

    def local_params(self) -> LocalParams:
        return LocalParams(radius=self.match_radius, max_residual=self.max_residual)

    def feature_params(self) -> FeatureParams:
        return FeatureParams(
            n_features=self.n_features,
            ratio=self.ratio,
            max_drift=self.max_drift,
            local=self.local_params(),
        )

    @property
    def agree(self) -> float:
        """Range (px) within which the predictions of nearby matches count as agreeing: beyond
        it `ft+pm` and `superlim+pm` widen their search."""
        return 2 * self.max_residual

    @property
    def consistent_spread(self) -> float:
        """Largest range (px) of the nearby predictions at a valid `ft` or `superlim` vector:
        stricter than `agree`, as these vectors are the answer, not a first guess."""
        return 1.5 * self.max_residual


#: What each `TrackParams` setting does, for ``--help`` (`kit.drift.cli` puts the methods that
#: use it in front: the registry's `uses`, or "all methods" for `COMMON_SETTINGS`).
SETTING_HELP = {
    "grid_step": "grid spacing of the vectors (px)",
    "template": "template size (odd, px)",
    "search": "search radius around the zero or geolocation first guess (px); the methods "
    "with a first guess fall back to it where they have none",
    "refine_search": "search radius around the feature-tracking first guess (px)",
    "superlim_search": "search radius around the SuperLIM first guess (px)",
    "angles": "template rotations tried on top of the first guess's, comma-separated degrees, "
    "e.g. 0,-10,10",
    "min_quality": "minimum peak correlation of a valid vector",
    "min_sharpness": "minimum margin of the peak over the best rival correlation",
    "clip": "low,high percentiles the dB images are clipped to before matching",
    "mean_sigma": "remove the local mean with a Gaussian of this sigma (px) before matching "
    "(None: keep it)",
    "n_features": "number of ORB keypoints per image",
    "ratio": "Lowe ratio of the best to the second-best descriptor distance",
    "max_drift": "largest drift of a feature match (px)",
    "max_residual": "largest residual of a match from the affine motion of its neighbourhood "
    "(px); nearby predictions within twice this agree",
    "match_radius": "neighbourhood of a match or point in the local motion model (px)",
    "widen": "largest extra search (px) where nearby matches disagree (a shear zone or lead); "
    "0: off",
    "superlim_weights": "checkpoint (None: the packaged one)",
    "superlim_radius": "descriptor search radius (px)",
    "superlim_mutual_tol": "largest distance of the back-match from the seed (px)",
    "superlim_min_similarity": "minimum descriptor similarity",
    "consistency": "threshold of the normalised median test of a grid vector against its "
    "neighbours (0: off)",
    "device": "torch device (None: the kit's choice)",
    "workers": "FFT worker threads",
}
#: Settings `track` itself applies, whatever the method.
COMMON_SETTINGS = ("grid_step", "clip", "mean_sigma")


@functools.cache
def _extended(added: tuple[tuple[str, Any, Any], ...]) -> type[TrackParams]:
    """`TrackParams` with the settings (name, type, default) registered methods add."""
    fields = [(name, kind, field(default=default)) for name, kind, default in added]
    cls = dataclasses.make_dataclass("TrackParams", fields, bases=(TrackParams,))
    cls.__module__, cls.__doc__ = TrackParams.__module__, TrackParams.__doc__
    return cls


def params_class() -> type[TrackParams]:
    """The class of the tracking settings: `TrackParams`, with the settings of any registered
    method that brings its own (see `kit.drift.registry.DriftSetting`).

    Returns
    -------
    type
        `TrackParams` itself while no method adds a setting (the kit's methods add none), or a
        subclass of it with those settings as further fields.

    Raises
    ------
    KitError
        If a method's own setting is already a `TrackParams` setting, or a method uses one that
        no class field holds.

    Examples
    --------
    >>> params_class() is TrackParams
    True
    """
    own = {f.name for f in dataclasses.fields(TrackParams)}
    added = added_settings()
    for name, entry in DRIFT_METHODS.items():
        taken = sorted(own & set(entry.settings))
        if taken:
            raise KitError(f"drift method {name}: setting {taken[0]} is a TrackParams setting")
        unknown = sorted(set(entry.uses) - own - set(added))
        if unknown:
            raise KitError(f"drift method {name}: uses {unknown[0]}, which is no setting")
    if not added:
        return TrackParams
    return _extended(tuple((k, s.annotation(), s.default) for k, s in added.items()))


def make_params(**params) -> TrackParams:
    """Tracking settings from keywords, checked like every other config.

    Parameters
    ----------
    **params
        Any fields of `TrackParams` (and settings of registered methods: `params_class`); the
        others keep their defaults.

    Returns
    -------
    TrackParams

    Raises
    ------
    KitError
        For an unknown keyword (``drift: unknown key(s) ...; allowed: ...``) or a value of the
        wrong type (``drift.<name>: ...``).
    """
    return config_from_dict(params_class(), params, section="drift")


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


def as_image(image, name: str) -> np.ndarray:
    """`image` as a float32 2-D array of at least 8 x 8 pixels; a KitError naming `name`
    otherwise."""
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


def pixel_size_km(geo: GcpTransform, x, y) -> np.ndarray:
    """Mean of the column and row spacing (km) of an image's pixels at (x, y)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    lon, lat = geo.pixel_to_lonlat(x + 0.5, y + 0.5)
    lon_c, lat_c = geo.pixel_to_lonlat(x + 1.5, y + 0.5)
    lon_r, lat_r = geo.pixel_to_lonlat(x + 0.5, y + 1.5)
    return (haversine_km(lon, lat, lon_c, lat_c) + haversine_km(lon, lat, lon_r, lat_r)) / 2


def geolocate(
    result: DriftResult, geo1: GcpTransform, geo2: GcpTransform, dt_seconds: float | None
) -> None:
    """Fill the start/end lon/lat, displacement (km), sigma in km and, with a time step,
    speed (m/s).

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
    if result.sigma is not None:
        result.sigma_km = result.sigma * pixel_size_km(geo1, result.x, result.y)
    result.dt_seconds = dt_seconds
    if dt_seconds:
        result.speed_ms = result.displacement_km * 1000.0 / dt_seconds


@dataclass
class _NoMotion:
    """The first guess without any matching: zero (all None), or where each point would be if
    the ice did not move, by the two images' geolocation."""

    u: np.ndarray | None = None
    v: np.ndarray | None = None
    #: Rotation (degrees) of image-2 content relative to image 1 at each point.
    angle: np.ndarray | None = None
    #: (u, v) of motionless ice at any (cols, rows), for feature tracking's outlier test.
    expected: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None


def _no_motion(
    geo1: GcpTransform | None, geo2: GcpTransform | None, x: np.ndarray, y: np.ndarray
) -> _NoMotion:
    """The no-motion first guess at points (x, y) of image 1.

    Parameters
    ----------
    geo1, geo2 : GcpTransform or None
        The images' geolocation; without both the guess is zero.
    x, y : numpy.ndarray
        Columns and rows of the points in image 1.

    Returns
    -------
    _NoMotion
    """
    if geo1 is None or geo2 is None:
        return _NoMotion()
    u, v = geometric_guess(geo1, geo2, x, y)
    angle = geometric_rotation(geo1, geo2, x, y)
    return _NoMotion(u, v, angle, functools.partial(geometric_guess, geo1, geo2))


def _check_method(method: str) -> None:
    if method not in DRIFT_METHODS:
        raise KitError(
            f"method={method!r}: unknown drift method; choose one of {', '.join(DRIFT_METHODS)}"
        )


def tracked_points(
    shape: tuple[int, int], points: tuple[np.ndarray, np.ndarray] | None, settings: TrackParams
) -> tuple[np.ndarray, np.ndarray, tuple[int, int] | None]:
    """(cols, rows, grid shape) of the points to track: the given ones (no grid shape), or a
    regular grid every `grid_step` px, half a template from the edges."""
    if points is None:
        return grid_points(shape, settings.grid_step, margin=settings.template // 2)
    x = np.asarray(points[0], dtype=np.float64).ravel()
    y = np.asarray(points[1], dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise KitError(f"points: cols and rows differ in length ({x.size} vs {y.size})")
    return x, y, None


def _windowed_match(
    image1: np.ndarray,
    image2: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    guess: FirstGuess,
    search: int,
    settings: TrackParams,
) -> MatchResult:
    """Pattern matching around a first guess, with windows widened (by up to `widen` px)
    where the nearby predictions disagree so that each of them is within reach; points are
    matched in groups of equal search size."""
    cu, cv, searches = guess.window(search, settings.agree)
    extra = 4 * np.ceil((searches - search) / 4).astype(np.int64)  # steps of 4: few groups
    searches = search + np.minimum(extra, settings.widen)
    result = MatchResult.empty(x.size)
    for size in np.unique(searches):
        part = searches == size
        match = pattern_match(
            image1,
            image2,
            x[part],
            y[part],
            cu[part],
            cv[part],
            guess.angle[part],
            settings.match_params(int(size)),
        )
        result.fill(part, match)
    return _confirmed(result, x, y, guess, settings.match_params(search), settings)


def _confirmed(
    result: MatchResult,
    x: np.ndarray,
    y: np.ndarray,
    guess: FirstGuess,
    params: MatchParams,
    settings: TrackParams,
) -> MatchResult:
    """`result` with its weak peaks confirmed (`confirm_weak_peaks`) where they land within
    `max_residual` of the prediction of the first guess's matches, then of the local motion of
    the strong pattern-matching vectors around them - in both only where those predictions
    agree (`agree`) and at least `min_support` of them are nearby."""

    def agreed(g: FirstGuess) -> tuple[np.ndarray, np.ndarray]:
        ok = (g.spread <= settings.agree) & (g.support >= LocalParams.min_support)
        return np.where(ok, g.u, np.nan), np.where(ok, g.v, np.nan)

    confirm_weak_peaks(result, *agreed(guess), settings.max_residual, params)
    weak = np.flatnonzero(result.reason == Reason.WEAK_PEAK)
    if weak.size == 0:
        return result
    strong = result.valid
    motion = fit_local_motion(
        x[strong],
        y[strong],
        (x + result.u)[strong],
        (y + result.v)[strong],
        settings.local_params(),
        float(np.nanmedian(guess.angle)) if np.isfinite(guess.angle).any() else 0.0,
    )
    if motion is None:
        return result
    part = MatchResult.empty(weak.size)
    for name in vars(part):
        setattr(part, name, getattr(result, name)[weak])
    confirm_weak_peaks(part, *agreed(motion.guess(x[weak], y[weak])), settings.max_residual, params)
    result.fill(weak, part)
    result.valid = result.reason == Reason.VALID
    return result


def _ft_vectors(image1, image2, x, y, settings: TrackParams, still: _NoMotion, extra: dict):
    """`ft`: (u, v, reason) - the local motion model's guess, valid where at least
    `min_support` matches lie within the radius around the point and their predictions
    agree."""
    matches = feature_track(image1, image2, settings.feature_params(), still.expected)
    extra["n_matches"] = matches.count
    guess = matches.guess(x, y)
    reason = np.full(x.size, Reason.VALID, np.uint8)
    reason[(guess.support < LocalParams.min_support) | ~guess.surrounded] = Reason.NO_MATCH
    if settings.consistency > 0:
        reason[(reason == Reason.VALID) & (guess.spread > settings.consistent_spread)] = (
            Reason.INCONSISTENT
        )
    return guess.u, guess.v, reason


def _locally_supported(
    x, y, u, v, reason: np.ndarray, settings: TrackParams, rotation: float = 0.0
) -> np.ndarray:
    """`reason` with valid vectors that the local motion model does not keep (fewer than
    `min_support` neighbours moving like them, or off their neighbourhood's affine motion by
    more than `max_residual` px), or whose neighbours disagree or do not surround them (next
    to a break), marked INCONSISTENT."""
    valid = reason == Reason.VALID
    motion = fit_local_motion(
        x[valid], y[valid], (x + u)[valid], (y + v)[valid], settings.local_params(), rotation
    )
    kept = np.zeros(x.size, bool)
    if motion is not None:
        kept[np.flatnonzero(valid)[motion.source]] = True
        guess = motion.guess(x, y)
        kept &= guess.surrounded & (guess.spread <= settings.consistent_spread)
    return np.where(valid & ~kept, Reason.INCONSISTENT, reason).astype(np.uint8)


# ------------------------------------------------------------------ the methods
# Each has the common signature of `kit.drift.registry` and returns (u, v, quality, sharpness,
# reason, sigma); NaN quality, sharpness and sigma where the method has none.

_PM = ("template", "angles", "min_quality", "min_sharpness", "workers")
_FT = ("n_features", "ratio", "max_drift", "max_residual", "match_radius")
_SUPERLIM = ("superlim_weights", "superlim_radius", "superlim_mutual_tol",
             "superlim_min_similarity", "device", "max_residual", "match_radius")  # fmt: skip


def _missing(x: np.ndarray) -> np.ndarray:
    return np.full(x.size, np.nan)


@register_drift_method(
    "ft",
    description="ORB feature tracking, interpolated to the points by the local motion model",
    uses=(*_FT, "consistency"),
    neighbour_check=True,
)
def _ft(image1, image2, x, y, settings: TrackParams, still: _NoMotion, extra: dict) -> tuple:
    u, v, reason = _ft_vectors(image1, image2, x, y, settings, still, extra)
    return u, v, _missing(x), _missing(x), reason, _missing(x)


def _matched(image1, image2, x, y, settings: TrackParams, still: _NoMotion,
             guess: FirstGuess | None, search: int) -> tuple:  # fmt: skip
    """Pattern matching around `guess` within +-`search` px (widened where nearby predictions
    disagree), or, without a guess, around the no-motion guess with the full `search`."""
    if guess is None:
        match = pattern_match(
            image1,
            image2,
            x,
            y,
            still.u,
            still.v,
            still.angle,
            settings.match_params(settings.search),
        )
    else:
        match = _windowed_match(image1, image2, x, y, guess, search, settings)
    return match.u, match.v, match.quality, match.sharpness, match.reason, match.sigma


@register_drift_method(
    "pm",
    description="pattern matching (cross-correlation) around the zero or geolocation first "
    "guess, +-search px",
    uses=(*_PM, "search"),
    searches=lambda p: [p.search],
)
def _pm(image1, image2, x, y, settings: TrackParams, still: _NoMotion, extra: dict) -> tuple:
    return _matched(image1, image2, x, y, settings, still, None, settings.search)


@register_drift_method(
    "ft+pm",
    description="pm around the feature-tracking first guess, +-refine_search px",
    uses=(*_PM, "search", "refine_search", "widen", *_FT),
    searches=lambda p: [p.search, p.refine_search + p.widen],
)
def _ft_pm(image1, image2, x, y, settings: TrackParams, still: _NoMotion, extra: dict) -> tuple:
    matches = feature_track(image1, image2, settings.feature_params(), still.expected)
    extra["n_matches"] = matches.count
    guess = None if matches.motion is None else matches.guess(x, y)
    return _matched(image1, image2, x, y, settings, still, guess, settings.refine_search)


@register_drift_method(
    "superlim",
    description="a small learned keypoint network (SuperLIM) alone",
    uses=(*_SUPERLIM, "consistency"),
    neighbour_check=True,
)
def _superlim(image1, image2, x, y, settings: TrackParams, still: _NoMotion, extra: dict):
    from kit.drift.superlim_matching import superlim_track

    u, v, quality, reason, rotation = superlim_track(
        image1, image2, x, y, settings, still.u, still.v, angle=still.angle
    )
    if settings.consistency > 0:
        reason = _locally_supported(x, y, u, v, reason, settings, rotation)
    return u, v, quality, _missing(x), reason, _missing(x)


@register_drift_method(
    "superlim+pm",
    description="pm around the SuperLIM first guess, +-superlim_search px",
    uses=(*_PM, "search", "superlim_search", "widen", *_SUPERLIM),
    searches=lambda p: [p.search, p.superlim_search + p.widen],
)
def _superlim_pm(image1, image2, x, y, settings: TrackParams, still: _NoMotion, extra: dict):
    from kit.drift.superlim_matching import superlim_first_guess

    guess = superlim_first_guess(
        image1, image2, x, y, settings, still.u, still.v, angle=still.angle
    )
    return _matched(image1, image2, x, y, settings, still, guess, settings.superlim_search)


def _with_data_checks(
    image1: np.ndarray,
    image2: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    reason: np.ndarray,
) -> np.ndarray:
    """The method's reason codes, with NO_DATA where the point is off data in image 1 or its
    end off data in image 2, and NO_MATCH where a vector marked valid has no displacement."""
    found = np.isfinite(u) & np.isfinite(v)
    on_data = _inside_data(image1, x, y) & (_inside_data(image2, x + u, y + v) | ~found)
    reason = np.where(on_data, reason, Reason.NO_DATA)
    reason = np.where((reason == Reason.VALID) & ~found, Reason.NO_MATCH, reason)
    return reason.astype(np.uint8)


def _check_consistency(result: DriftResult, threshold: float) -> None:
    """Mark valid grid vectors that fail the normalised median test against their neighbours
    INCONSISTENT (methods without a correlation check of their own: ft, superlim)."""
    if result.grid_shape is None:
        return
    failed = result.valid & ~neighbour_consistent(result, threshold=threshold)
    result.reason[failed] = Reason.INCONSISTENT
    result.valid = result.reason == Reason.VALID


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
    """Sea-ice drift from image 1 to image 2, by any registered method (`METHODS`).

    Parameters
    ----------
    img1, img2 : array_like
        2-D backscatter images in dB (NaN = no data), at least 8 x 8 pixels.
    method : str, default "ft+pm"
        One of `METHODS` (see the module docstring; `kit.drift.registry` adds others).
    points : tuple of array_like, optional
        (cols, rows) of image-1 points; default: a grid every `grid_step` px (`grid_shape`).
    geo1, geo2 : GcpTransform, optional
        The images' geolocation: with both, the first guess is "no motion" rather than zero
        and the result gets lon/lat, displacement (km) and the ice motion (u_ice, v_ice).
    dt_seconds : float, optional
        Time from image 1 to image 2; with geolocation it gives the speed (m/s).
    **params
        Any settings of `TrackParams` (template, search, grid_step ...), or of the method
        (`params_class`).

    Returns
    -------
    DriftResult
        One vector per point, `valid` where it passed the checks and starts and ends on data,
        and `reason`, why each other one is invalid (`kit.drift.reasons.Reason`).

    Raises
    ------
    KitError
        For an unknown method or setting, a setting of the wrong type, an image that is not
        2-D and at least 8 x 8, or points (or a grid) that do not fit.

    Examples
    --------
    A synthetic pair whose ice moves 5 px right and 3 px up, tracked on a 3 x 3 grid:

    >>> from kit.drift.synthetic import DisplacementField, make_pair
    >>> pair = make_pair(displacement=DisplacementField((128, 128), translation=(5.0, -3.0)),
    ...                  shape=(128, 128), seed=0)
    >>> result = track(pair.image1, pair.image2, "pm", grid_step=32, search=8)
    >>> result.grid_shape, int(result.valid.sum())
    ((3, 3), 4)
    >>> np.round(result.u[result.valid]), np.round(result.v[result.valid])
    (array([5., 5., 5., 5.]), array([-3., -3., -3., -3.]))
    >>> track(pair.image1, pair.image2, "pm", serach=8)
    Traceback (most recent call last):
    ...
    kit.errors.KitError: drift: unknown key(s) serach; allowed: ...
    """
    _check_method(method)
    entry = DRIFT_METHODS[method]
    settings = make_params(**params)
    start = time.perf_counter()
    image1 = remove_mean_and_clip(as_image(img1, "img1"), settings.clip, settings.mean_sigma)
    image2 = remove_mean_and_clip(as_image(img2, "img2"), settings.clip, settings.mean_sigma)
    x, y, grid_shape = tracked_points(image1.shape, points, settings)
    still = _no_motion(geo1, geo2, x, y)
    extra: dict = {}
    u, v, quality, sharpness, reason, sigma = entry.vectors(
        image1, image2, x, y, settings, still, extra
    )
    reason = _with_data_checks(image1, image2, x, y, u, v, reason)
    valid = reason == Reason.VALID
    result = DriftResult(
        x,
        y,
        u,
        v,
        quality,
        sharpness,
        valid,
        method,
        grid_shape=grid_shape,
        reason=reason,
        sigma=sigma,
        extra=extra,
    )
    if entry.neighbour_check and settings.consistency > 0:
        _check_consistency(result, settings.consistency)
    if geo1 is not None and geo2 is not None:
        geolocate(result, geo1, geo2, dt_seconds)
    result.seconds = time.perf_counter() - start
    return result
