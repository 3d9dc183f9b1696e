"""Pattern matching (PM): maximum normalised cross-correlation between image patches.

For each point, a template around it in image 1 is compared with every position of a search
window around its first guess in image 2. All points of a batch are correlated at once with FFTs
(numerator) and integral images (local means and variances), so the cost per vector is a few
small FFTs rather than a Python-level call. NaN (no data) is handled exactly: a template with any
NaN is invalid and search positions whose window touches NaN are excluded.

Validity of a vector: enough peak correlation (`quality`), a peak that stands out from the rest of
the correlation surface (`sharpness`: its margin over the best rival position), a template with
texture, and a peak that is not on the border of the searched area - a border peak means the true match is probably
outside the window, so the vector would be wrong however high its correlation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.fft as sfft
from scipy import ndimage

from kit import resources
from kit.drift.reasons import Reason, first_failure
from kit.errors import KitError

#: Peak memory of matching one point, per pixel of its search window (FFTs, integral images,
#: correlation surface): measured 47 to 56 bytes, so 40 is a lower bound.
WINDOW_BYTES_PER_PIXEL = 40


@dataclass
class MatchParams:
    """Pattern-matching settings (sizes in pixels, angles in degrees)."""

    template: int = 35
    search: int = 16
    angles: tuple[float, ...] = (0.0,)
    min_quality: float = 0.3
    min_sharpness: float = 0.08
    #: Lowest peak correlation of a vector that an independent first guess confirms
    #: (`confirm_weak_peaks`); never above `min_quality`.
    confirm_quality: float = 0.2
    min_texture_std: float = 1e-3
    batch: int = 128
    workers: int = 2

    def check(self) -> None:
        if self.template < 5 or self.template % 2 == 0:
            raise KitError(f"template={self.template}: must be an odd number of pixels >= 5")
        if self.search < 1:
            raise KitError(f"search={self.search}: must be a positive number of pixels")
        if not self.angles:
            raise KitError("angles: give at least one template rotation, e.g. (0,)")
        self.check_memory()

    def check_memory(self) -> None:
        """Refuse a search window whose batch of points cannot fit in this machine's memory."""
        side = self.template + 2 * self.search
        per_pixel = self.batch * WINDOW_BYTES_PER_PIXEL
        largest = (math.isqrt(resources.memory_bytes() // per_pixel) - self.template) // 2
        resources.require_memory(
            per_pixel * side**2,
            f"search={self.search}: matching {self.batch} points in {side} x {side} px windows",
            f"largest search: {largest} px with template={self.template}",
        )


@dataclass
class MatchResult:
    """Per-point outcome of pattern matching; (u, v) are NaN where nothing could be matched."""

    u: np.ndarray
    v: np.ndarray
    quality: np.ndarray
    sharpness: np.ndarray
    valid: np.ndarray
    angle: np.ndarray
    #: Why each vector is invalid (`kit.drift.reasons.Reason` codes, 0 where valid).
    reason: np.ndarray | None = None
    #: Curvature of the correlation peak along x and y (see `Peak`).
    curvature_x: np.ndarray | None = None
    curvature_y: np.ndarray | None = None
    #: Standard deviation of each displacement component (px) from the peak's shape
    #: (`peak_sigma`), NaN where there is no peak.
    sigma: np.ndarray | None = None

    @classmethod
    def empty(cls, n: int) -> MatchResult:
        """n unmatched points, to be filled part by part (`fill`)."""
        nan = np.full(n, np.nan)
        return cls(
            nan.copy(),
            nan.copy(),
            nan.copy(),
            nan.copy(),
            np.zeros(n, bool),
            nan.copy(),
            np.full(n, Reason.NO_MATCH, np.uint8),
            nan.copy(),
            nan.copy(),
            nan.copy(),
        )

    def fill(self, where: np.ndarray, part: MatchResult) -> None:
        """Copy the result of matching the points `where` selects into this one."""
        for name, values in vars(part).items():
            getattr(self, name)[where] = values


def sample_patches(
    image: np.ndarray,
    cx: np.ndarray,
    cy: np.ndarray,
    size: int,
    angle_deg: np.ndarray | None = None,
) -> np.ndarray:
    """(n, size, size) patches centred on (cx, cy), optionally rotated by `angle_deg` per point.

    A patch rotated by a means image content rotated by a about the centre; patches reaching
    outside the image or touching NaN contain NaN. Integer centres without rotation are cut out
    directly; anything else is bilinearly interpolated.
    """
    half = size // 2
    cx = np.asarray(cx, dtype=np.float64)
    cy = np.asarray(cy, dtype=np.float64)
    offs = np.arange(-half, half + 1, dtype=np.float64)
    integral = np.all(cx == np.round(cx)) and np.all(cy == np.round(cy))
    if angle_deg is None and integral:
        idx = offs.astype(np.int64)
        rows = cy.astype(np.int64)[:, None, None] + idx[None, :, None]
        cols = cx.astype(np.int64)[:, None, None] + idx[None, None, :]
        inside = (rows >= 0) & (rows < image.shape[0]) & (cols >= 0) & (cols < image.shape[1])
        out = image[np.clip(rows, 0, image.shape[0] - 1), np.clip(cols, 0, image.shape[1] - 1)]
        out = out.astype(np.float32)
        out[~inside] = np.nan
        return out
    oy, ox = np.meshgrid(offs, offs, indexing="ij")
    if angle_deg is None:
        dx, dy = ox[None], oy[None]
    else:
        a = np.radians(np.asarray(angle_deg, dtype=np.float64))[:, None, None]
        # content of image 2 rotated by a: image-1 offset = R(-a) @ image-2 offset
        dx = np.cos(a) * ox + np.sin(a) * oy
        dy = -np.sin(a) * ox + np.cos(a) * oy
    coords = np.stack([cy[:, None, None] + dy, cx[:, None, None] + dx])
    return ndimage.map_coordinates(image.astype(np.float32), coords, order=1, cval=np.nan)


def _box_sums(a: np.ndarray, t: int) -> np.ndarray:
    """Sums of every t x t window of each (n, s, s) slice, shape (n, s-t+1, s-t+1): running
    sums along rows, then along columns (float64, exact for the window sizes used here)."""
    c = np.cumsum(a, axis=1, dtype=np.float64)
    rows = np.concatenate([c[:, t - 1 : t], c[:, t:] - c[:, :-t]], axis=1)
    c = np.cumsum(rows, axis=2)
    return np.concatenate([c[:, :, t - 1 : t], c[:, :, t:] - c[:, :, :-t]], axis=2)


def ncc_surfaces(templates: np.ndarray, windows: np.ndarray, workers: int = 1) -> np.ndarray:
    """Normalised cross-correlation of each template at every position of its search window.

    templates (n, t, t) must be NaN-free; windows (n, s, s) may hold NaN. Returns (n, s-t+1,
    s-t+1) with NaN where the window position touches NaN or has no variance.
    """
    n, t, _ = templates.shape
    s = windows.shape[1]
    nan = np.isnan(windows)
    w = np.where(nan, 0.0, windows).astype(np.float32)
    valid_count = np.maximum((~nan).sum(axis=(1, 2)), 1)
    w -= (w.sum(axis=(1, 2)) / valid_count).astype(np.float32)[:, None, None]
    w[nan] = 0.0
    t0 = templates - templates.mean(axis=(1, 2), keepdims=True)
    size = sfft.next_fast_len(s, real=True)
    spec = sfft.rfft2(w, s=(size, size), workers=workers)
    spec *= sfft.rfft2(t0[:, ::-1, ::-1], s=(size, size), workers=workers)
    num = sfft.irfft2(spec, s=(size, size), workers=workers)[:, t - 1 : s, t - 1 : s]
    area = t * t
    local_sum = _box_sums(w, t)
    local_var = _box_sums(w * w, t) - local_sum**2 / area
    t_norm = np.sqrt((t0.astype(np.float64) ** 2).sum(axis=(1, 2)))[:, None, None]
    if nan.any():
        touches_nan = _box_sums(nan.astype(np.float32), t) > 0.5
    else:
        touches_nan = np.zeros(local_sum.shape, bool)
    with np.errstate(invalid="ignore", divide="ignore"):
        ncc = num / (t_norm * np.sqrt(local_var))
    ncc[touches_nan | (local_var <= 1e-9 * area) | ~np.isfinite(ncc)] = np.nan
    return ncc.astype(np.float32)


@dataclass
class Peak:
    """Sub-pixel peak of correlation surfaces: offset from the surface centre and its measures."""

    dx: np.ndarray
    dy: np.ndarray
    quality: np.ndarray
    sharpness: np.ndarray
    on_border: np.ndarray
    #: Curvature of the surface at the peak along x and y: minus the second differences
    #: (positive for a maximum, NaN on the border).
    curvature_x: np.ndarray | None = None
    curvature_y: np.ndarray | None = None


def find_peaks(surfaces: np.ndarray, exclusion: int = 3) -> Peak:
    """Maximum of each surface, refined by a parabola through its neighbours along x and y.

    A peak on the surface border, or next to an excluded (NaN) position, is flagged `on_border`:
    the correlation may still rise beyond it. `sharpness` is the peak minus the highest correlation
    more than `exclusion` px away from it.
    """
    n, h, w = surfaces.shape
    flat = np.where(np.isnan(surfaces), -np.inf, surfaces).reshape(n, -1)
    idx = flat.argmax(axis=1)
    quality = flat[np.arange(n), idx]
    py, px = np.divmod(idx, w)
    padded = np.pad(surfaces, ((0, 0), (1, 1), (1, 1)), constant_values=np.nan)
    r = np.arange(n)
    c0 = padded[r, py + 1, px + 1]
    left, right = padded[r, py + 1, px], padded[r, py + 1, px + 2]
    up, down = padded[r, py, px + 1], padded[r, py + 2, px + 1]
    on_border = (
        ~np.isfinite(quality) | np.isnan(left) | np.isnan(right) | np.isnan(up) | np.isnan(down)
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        sx = (left - right) / (2 * (left - 2 * c0 + right))
        sy = (up - down) / (2 * (up - 2 * c0 + down))
    sx = np.where(np.isfinite(sx), np.clip(sx, -0.5, 0.5), 0.0)
    sy = np.where(np.isfinite(sy), np.clip(sy, -0.5, 0.5), 0.0)
    # sharpness: how far the peak stands above the best correlation away from it (an ambiguous or
    # flat surface has a rival peak of nearly the same height)
    yy, xx = np.ogrid[0:h, 0:w]
    near = (np.abs(yy[None] - py[:, None, None]) <= exclusion) & (
        np.abs(xx[None] - px[:, None, None]) <= exclusion
    )
    rival = np.where(near.reshape(n, -1), -np.inf, flat).max(axis=1)
    with np.errstate(invalid="ignore"):
        sharpness = np.where(np.isfinite(rival), quality - rival, np.nan)
    quality = np.where(np.isfinite(quality), quality, np.nan)
    return Peak(
        px + sx - (w - 1) / 2,
        py + sy - (h - 1) / 2,
        quality,
        sharpness,
        on_border,
        -(left - 2 * c0 + right),
        -(up - 2 * c0 + down),
    )


#: Scale of `peak_sigma`, calibrated on warped pairs (`benchmarks/bench_drift.py`, 8 pairs of
#: synthetic textures and crops of a real S1 image, pm and ft+pm, 5273 valid vectors): the
#: least-squares fit gave 1.005 and 95.6 % of the component errors fall within 2 sigma at 1.0,
#: so the peak-shape formula is used as it is.
SIGMA_SCALE = 1.0


def peak_sigma(quality, curvature_x, curvature_y, template: int) -> np.ndarray:
    """Standard deviation (px) of each displacement component from the correlation peak's shape.

    Near its maximum the correlation surface is a parabola ``q - a x**2 / 2`` with curvature
    ``a``; noise of standard deviation ``e`` on its slope moves the maximum by ``e / a``. For a
    normalised cross-correlation of ``n = template**2`` pixels whose signal part is ``q`` (the
    peak correlation) and noise part ``1 - q``, ``e**2 ~ (1 - q) / (n q)``, so the variance
    along x is ``(1 - q) / (n q a_x**2)``. The two axes are averaged into one sigma per
    component, scaled by `SIGMA_SCALE`.

    Parameters
    ----------
    quality : numpy.ndarray
        Peak correlation per vector.
    curvature_x, curvature_y : numpy.ndarray
        Minus the second differences of the surface at the peak (`Peak`).
    template : int
        Template size (px).

    Returns
    -------
    numpy.ndarray
        Sigma (px) per vector; NaN without a peak or where the surface is not curved down.

    Examples
    --------
    A sharp, strong peak is known to a few hundredths of a pixel, a flat, weak one to a pixel:

    >>> np.round(peak_sigma(np.array([0.9, 0.3]), np.array([0.3, 0.01]),
    ...                     np.array([0.3, 0.01]), 35), 3).tolist()
    [0.032, 4.364]
    """
    q = np.clip(np.asarray(quality, np.float64), 1e-3, 1 - 1e-6)
    with np.errstate(invalid="ignore", divide="ignore"):
        ax = np.where(np.asarray(curvature_x) > 0, curvature_x, np.nan)
        ay = np.where(np.asarray(curvature_y) > 0, curvature_y, np.nan)
        noise = (1 - q) / (float(template) ** 2 * q)
        return SIGMA_SCALE * np.sqrt(noise * (1 / ax**2 + 1 / ay**2) / 2)


@dataclass
class _BestPeaks:
    """Each point's best peak so far over the template rotations tried, and whether any of
    its templates was free of no data and had texture."""

    result: MatchResult
    quality: np.ndarray  # -inf where no peak yet
    on_border: np.ndarray
    on_data: np.ndarray
    textured: np.ndarray

    @classmethod
    def none(cls, n: int) -> _BestPeaks:
        empty = MatchResult(
            *(np.full(n, np.nan) for _ in range(4)),
            np.zeros(n, bool),
            np.zeros(n),
            curvature_x=np.full(n, np.nan),
            curvature_y=np.full(n, np.nan),
        )
        return cls(
            empty, np.full(n, -np.inf), np.ones(n, bool), np.zeros(n, bool), np.zeros(n, bool)
        )

    def reasons(self, params: MatchParams) -> np.ndarray:
        """Reason codes: template on data, textured, peak inside the searched area, enough
        quality and sharpness, in that order of precedence."""
        return first_failure(
            [
                (Reason.NO_DATA, self.on_data),
                (Reason.NO_TEXTURE, self.textured),
                (Reason.BORDER_PEAK, ~self.on_border),
                (
                    Reason.WEAK_PEAK,
                    np.nan_to_num(self.result.quality, nan=-1) >= params.min_quality,
                ),
                (
                    Reason.AMBIGUOUS_PEAK,
                    np.nan_to_num(self.result.sharpness, nan=-1) >= params.min_sharpness,
                ),
            ],
            self.quality.size,
        )


@dataclass
class _Points:
    """The points to match: positions in image 1, integer centres of their search windows in
    image 2, and the guessed template rotation (degrees, or None)."""

    x: np.ndarray
    y: np.ndarray
    window_x: np.ndarray
    window_y: np.ndarray
    base_angle: np.ndarray | None

    @classmethod
    def from_guess(cls, x, y, guess_u, guess_v, guess_angle) -> _Points:
        """Points at (x, y), windows moved by the first guess (zero where none or not finite)."""
        x = np.asarray(x, dtype=np.float64).ravel()
        y = np.asarray(y, dtype=np.float64).ravel()
        guess_u, guess_v = _guess(guess_u, x.size), _guess(guess_v, x.size)
        unknown = ~(np.isfinite(guess_u) & np.isfinite(guess_v))
        guess_u, guess_v = np.where(unknown, 0.0, guess_u), np.where(unknown, 0.0, guess_v)
        angle = None if guess_angle is None else np.asarray(guess_angle, dtype=np.float64).ravel()
        return cls(x, y, np.round(x + guess_u), np.round(y + guess_v), angle)

    def rotations(self, angle: float) -> np.ndarray | None:
        """Per-point template rotation: `angle` on top of the guessed one; None for none."""
        if angle == 0.0 and self.base_angle is None:
            return None
        return np.full(self.x.size, angle) + (0.0 if self.base_angle is None else self.base_angle)


def _guess(guess: np.ndarray | None, n: int) -> np.ndarray:
    """A first-guess displacement per point as float64, zero when none is given."""
    return np.zeros(n) if guess is None else np.asarray(guess, dtype=np.float64).ravel()


def _textured_templates(
    image1: np.ndarray, x: np.ndarray, y: np.ndarray, rotation, params: MatchParams
) -> tuple[np.ndarray, np.ndarray]:
    """Templates of image 1 at (x, y), which of them are free of NaN (on data) and which are
    usable: on data and with more texture than `min_texture_std`."""
    templates = sample_patches(image1, x, y, params.template, rotation)
    on_data = ~np.isnan(templates).any(axis=(1, 2))
    usable = on_data & (
        np.nanstd(np.where(on_data[:, None, None], templates, 0.0), axis=(1, 2))
        > params.min_texture_std
    )
    return templates, on_data, usable


def _match_batch(
    image1: np.ndarray,
    image2: np.ndarray,
    points: _Points,
    batch: slice,
    angle: float,
    rotation: np.ndarray | None,
    params: MatchParams,
    best: _BestPeaks,
) -> None:
    """Match one batch of points with one template rotation; keep the peaks that beat `best`."""
    rotated = None if rotation is None else rotation[batch]
    templates, on_data, usable = _textured_templates(
        image1, points.x[batch], points.y[batch], rotated, params
    )
    best.on_data[batch] |= on_data
    best.textured[batch] |= usable
    if not usable.any():
        return
    idx = np.flatnonzero(usable) + batch.start
    window_x, window_y = points.window_x, points.window_y
    side = params.template + 2 * params.search
    windows = sample_patches(image2, window_x[idx], window_y[idx], side)
    peak = find_peaks(ncc_surfaces(templates[usable], windows, params.workers))
    better = np.nan_to_num(peak.quality, nan=-np.inf) > best.quality[idx]
    improved = idx[better]
    best.quality[improved] = peak.quality[better]
    best.result.u[improved] = window_x[improved] + peak.dx[better] - points.x[improved]
    best.result.v[improved] = window_y[improved] + peak.dy[better] - points.y[improved]
    best.result.quality[improved] = peak.quality[better]
    best.result.sharpness[improved] = peak.sharpness[better]
    guessed = 0.0 if points.base_angle is None else points.base_angle[improved]
    best.result.angle[improved] = angle + guessed
    best.on_border[improved] = peak.on_border[better]
    best.result.curvature_x[improved] = peak.curvature_x[better]
    best.result.curvature_y[improved] = peak.curvature_y[better]


def pattern_match(
    image1: np.ndarray,
    image2: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    guess_u: np.ndarray | None = None,
    guess_v: np.ndarray | None = None,
    guess_angle: np.ndarray | None = None,
    params: MatchParams | None = None,
) -> MatchResult:
    """Match templates of image 1 around (x, y) inside windows of image 2 around the first guess.

    Parameters
    ----------
    image1, image2 : numpy.ndarray
        Normalised 2-D float images (NaN = no data).
    x, y : numpy.ndarray
        Columns and rows of the points in image 1.
    guess_u, guess_v : numpy.ndarray, optional
        First-guess displacement (px) per point; zero by default and where not finite.
    guess_angle : numpy.ndarray, optional
        Rotation (degrees) of the templates per point; `params.angles` are tried on top of it
        and the best peak is kept.
    params : MatchParams, optional
        Template and search sizes, angles, validity thresholds.

    Returns
    -------
    MatchResult
        Per point: (u, v) NaN where nothing could be matched, the peak's quality and
        sharpness, validity, the reason code of invalid vectors and the template angle of the
        best peak.

    Raises
    ------
    KitError
        If `params` is invalid or its search windows cannot fit in memory.
    """
    params = params or MatchParams()
    params.check()
    points = _Points.from_guess(x, y, guess_u, guess_v, guess_angle)
    n = points.x.size
    best = _BestPeaks.none(n)
    for angle in params.angles:
        rotation = points.rotations(angle)
        for start in range(0, n, params.batch):
            batch = slice(start, min(start + params.batch, n))
            _match_batch(image1, image2, points, batch, angle, rotation, params, best)
    best.result.reason = best.reasons(params)
    best.result.valid = best.result.reason == Reason.VALID
    best.result.sigma = peak_sigma(
        best.result.quality, best.result.curvature_x, best.result.curvature_y, params.template
    )
    return best.result


def confirm_weak_peaks(
    result: MatchResult,
    guess_u: np.ndarray,
    guess_v: np.ndarray,
    tolerance: float,
    params: MatchParams | None = None,
) -> MatchResult:
    """Weak peaks that an independent first guess confirms, marked valid.

    `min_quality` guards against a wrong peak when nothing else is known. Speckle and little
    texture lower the correlation of right matches too (on 4-look warped real images right
    peaks fall to 0.2), while noise peaks inside a small search window land anywhere in it.
    A weak peak is kept when it still stands out (`min_sharpness`), reaches `confirm_quality`
    and lies within `tolerance` px of a first guess made from other data (the local motion
    model of feature matches): two independent measurements agree. Where the guess is NaN
    (its predictions disagree, e.g. next to a break) nothing is confirmed.

    Parameters
    ----------
    result : MatchResult
        Pattern matching around the first guess; its reasons and validity are updated.
    guess_u, guess_v : numpy.ndarray
        The first-guess displacement per point (NaN: no confirmation).
    tolerance : float
        Largest distance (px) of a confirmed peak from the guess.
    params : MatchParams, optional
        The thresholds the matching used.

    Returns
    -------
    MatchResult
        `result`, updated in place.

    Examples
    --------
    >>> m = MatchResult.empty(3)
    >>> m.u[:], m.v[:] = [5.0, 5.0, 9.0], [0.0, 0.0, 0.0]
    >>> m.quality[:], m.sharpness[:] = [0.25, 0.1, 0.25], [0.15, 0.15, 0.15]
    >>> m.reason[:] = Reason.WEAK_PEAK
    >>> confirm_weak_peaks(m, np.full(3, 5.5), np.zeros(3), 2.0).valid.tolist()
    [True, False, False]
    """
    params = params or MatchParams()
    floor = min(params.confirm_quality, params.min_quality)
    with np.errstate(invalid="ignore"):
        confirmed = (
            (result.reason == Reason.WEAK_PEAK)
            & (np.nan_to_num(result.quality, nan=-1) >= floor)
            & (np.nan_to_num(result.sharpness, nan=-1) >= params.min_sharpness)
            & (np.hypot(result.u - guess_u, result.v - guess_v) <= tolerance)
        )
    result.reason[confirmed] = Reason.VALID
    result.valid = result.reason == Reason.VALID
    return result
