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
method brings with it (`kit.drift.params.params_class`); geolocation helpers live in
`kit.drift.geolocation`.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from kit.drift.features import feature_track
from kit.drift.geolocation import (
    geolocate,
    geometric_guess,
    geometric_rotation,
)
from kit.drift.io import GcpTransform
from kit.drift.local_motion import FirstGuess, LocalParams, fit_local_motion
from kit.drift.matching import MatchParams, MatchResult, confirm_weak_peaks, pattern_match
from kit.drift.outliers import neighbour_consistent
from kit.drift.params import (  # TrackParams also importable from here, as the drift guide shows
    TrackParams,
    make_params,
)
from kit.drift.preprocess import remove_mean_and_clip
from kit.drift.reasons import Reason
from kit.drift.registry import DRIFT_METHODS, register_drift_method
from kit.drift.result import DriftResult  # also kit.drift.track.DriftResult, as before
from kit.errors import KitError

# A drift method in a module of its own (importing `kit.drift.registry` and the helpers it
# needs, never this module) registers when imported: add its import line here. The kit's own
# methods are registered below, beside their code.

#: The drift methods, in registration order (the registry itself: names iterate, `in` tests).
METHODS = DRIFT_METHODS
#: The method `track` and `autoice drift` use unless told otherwise.
DEFAULT_METHOD = "ft+pm"


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
    from kit.drift.superlim.descriptor_matching import superlim_track

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
    from kit.drift.superlim.descriptor_matching import superlim_first_guess

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
