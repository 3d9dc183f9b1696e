"""Image pairs with exactly known drift, for testing and benchmarking the trackers.

A base image (a real SAR image or a synthetic SAR-like texture, in dB) is warped with a known
smooth displacement field - translation, rotation about the image centre, simple shear, a smooth
random deformation and optionally a straight discontinuity such as a lead or a shear zone - and
each image then gets its own independent speckle. The field gives the true (u, v) at any point of
image 1, so every method can be scored by its end-point error.

Conventions: x is the column and y the row of a pixel centre; (u, v) is the position in image 2
minus the position in image 1, in pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage


@dataclass
class DisplacementField:
    """A known displacement (u, v)(x, y) of image-1 positions, in pixels.

    `deformation` is the amplitude (px) of a smooth random field with a correlation length of
    about `deformation_scale` px. A discontinuity is a line through the image centre at
    `jump_angle_deg` (from the x axis); points on its left side move by an extra `jump` (u, v).
    A jump along the line is a shear zone, across it an opening lead or a ridge. The line is
    straight, or with `jump_radius` > 0 a circle of that radius (px) tangent to the straight
    line at the centre and curving to its left (the left side is the inside).
    """

    shape: tuple[int, int]
    translation: tuple[float, float] = (0.0, 0.0)
    rotation_deg: float = 0.0
    shear: float = 0.0
    deformation: float = 0.0
    deformation_scale: float = 150.0
    jump: tuple[float, float] = (0.0, 0.0)
    jump_angle_deg: float = 0.0
    jump_radius: float = 0.0
    seed: int = 0
    _smooth: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.deformation:
            rng = np.random.default_rng(self.seed)
            step = max(self.deformation_scale / 4, 4.0)
            ny = int(np.ceil(self.shape[0] / step)) + 2
            nx = int(np.ceil(self.shape[1] / step)) + 2
            noise = ndimage.gaussian_filter(rng.normal(size=(2, ny, nx)), (0, 2, 2), mode="wrap")
            noise /= np.abs(noise).max(axis=(1, 2), keepdims=True) + 1e-12
            self._smooth = noise * self.deformation
            self._step = step

    @property
    def centre(self) -> tuple[float, float]:
        return ((self.shape[1] - 1) / 2, (self.shape[0] - 1) / 2)

    def __call__(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """True displacement (u, v) at image-1 positions (x, y), arrays of any shape."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        cx, cy = self.centre
        dx, dy = x - cx, y - cy
        a = np.radians(self.rotation_deg)
        u = np.cos(a) * dx - np.sin(a) * dy - dx + self.shear * dy + self.translation[0]
        v = np.sin(a) * dx + np.cos(a) * dy - dy + self.translation[1]
        if self._smooth is not None:
            coords = np.stack([y / self._step, x / self._step])
            u = u + ndimage.map_coordinates(self._smooth[0], coords, order=3, mode="nearest")
            v = v + ndimage.map_coordinates(self._smooth[1], coords, order=3, mode="nearest")
        if self.jump != (0.0, 0.0):
            left = self._side(x, y) > 0
            u = u + np.where(left, self.jump[0], 0.0)
            v = v + np.where(left, self.jump[1], 0.0)
        return u, v

    def _side(self, x, y) -> np.ndarray:
        """Signed distance (px) from the discontinuity, positive on its left side."""
        cx, cy = self.centre
        b = np.radians(self.jump_angle_deg)
        dx, dy = np.asarray(x, np.float64) - cx, np.asarray(y, np.float64) - cy
        if self.jump_radius <= 0:
            return np.cos(b) * dy - np.sin(b) * dx
        r = self.jump_radius
        return r - np.hypot(dx + r * np.sin(b), dy - r * np.cos(b))

    def break_distance(self, x, y) -> np.ndarray:
        """Distance (px) of image-1 positions from the discontinuity (inf without one), and
        which side they are on: (distance, left)."""
        if self.jump == (0.0, 0.0):
            shape = np.broadcast(np.asarray(x), np.asarray(y)).shape
            return np.full(shape, np.inf), np.zeros(shape, bool)
        side = self._side(x, y)
        return np.abs(side), side > 0


def random_field(
    shape: tuple[int, int],
    max_drift: float = 40.0,
    max_rotation_deg: float = 10.0,
    deformation: float = 3.0,
    discontinuity: bool = False,
    seed: int = 0,
) -> DisplacementField:
    """A random field: translation up to `max_drift` px, rotation up to +-`max_rotation_deg`
    about the centre, a small shear and smooth deformation, optionally a shear-zone jump."""
    rng = np.random.default_rng(seed)
    r = max_drift * np.sqrt(rng.uniform())
    t = rng.uniform(0, 2 * np.pi)
    jump = tuple(rng.uniform(-8, 8, size=2)) if discontinuity else (0.0, 0.0)
    return DisplacementField(
        shape=shape,
        translation=(r * np.cos(t), r * np.sin(t)),
        rotation_deg=rng.uniform(-max_rotation_deg, max_rotation_deg),
        shear=rng.uniform(-0.01, 0.01),
        deformation=deformation,
        jump=jump,
        jump_angle_deg=rng.uniform(0, 180),
        seed=seed,
    )


def synthetic_texture(shape: tuple[int, int] = (512, 512), seed: int = 0) -> np.ndarray:
    """A SAR-like backscatter texture in dB without speckle: floes of different backscatter,
    a power-law (fractal) roughness, bright ridges and dark leads."""
    rng = np.random.default_rng(seed)
    ny, nx = shape
    # fractal roughness from power-law filtered noise
    fy = np.fft.fftfreq(ny)[:, None]
    fx = np.fft.rfftfreq(nx)[None, :]
    f = np.hypot(fx, fy)
    f[0, 0] = 1.0
    spectrum = np.fft.rfft2(rng.normal(size=shape)) / f**1.0
    spectrum[0, 0] = 0
    rough = np.fft.irfft2(spectrum, s=shape)
    rough = 2.5 * rough / rough.std()
    # floes: Voronoi cells with their own mean level
    n_floes = max(8, ny * nx // 6000)
    seeds = rng.uniform(0, 1, size=(n_floes, 2)) * (ny, nx)
    yy, xx = np.mgrid[0:ny, 0:nx]
    from scipy.spatial import cKDTree

    dist, label = cKDTree(seeds).query(np.stack([yy.ravel(), xx.ravel()], 1), k=2)
    levels = rng.normal(0, 3.0, size=n_floes)
    floes = levels[label[:, 0]].reshape(shape)
    edge = (dist[:, 1] - dist[:, 0]).reshape(shape)
    ridges = (
        4.0
        * np.exp(-(edge**2) / 4.0)
        * (rng.uniform(size=n_floes)[label[:, 0]].reshape(shape) > 0.5)
    )
    leads = (
        -6.0
        * np.exp(-(edge**2) / 9.0)
        * (rng.uniform(size=n_floes)[label[:, 0]].reshape(shape) > 0.8)
    )
    db = -18.0 + floes + rough + ndimage.gaussian_filter(ridges + leads, 0.8)
    return db.astype(np.float32)


def speckle(db: np.ndarray, looks: float, rng: np.random.Generator) -> np.ndarray:
    """Multiply the linear intensity by independent gamma speckle with `looks` looks (mean 1)."""
    noise = rng.gamma(looks, 1.0 / looks, size=db.shape)
    with np.errstate(invalid="ignore"):
        return (db + 10.0 * np.log10(noise)).astype(np.float32)


def _linear_part(displacement, shape: tuple[int, int]) -> np.ndarray:
    """The 2 x 2 linear part of p -> p + d(p), by least squares over a 9 x 9 grid of the
    image (any field: rotation, shear, deformation, breaks, chains of fields)."""
    yy, xx = np.meshgrid(*(np.linspace(0, n - 1, 9) for n in shape), indexing="ij")
    x, y = xx.ravel(), yy.ravel()
    u, v = displacement(x, y)
    design = np.stack([x, y, np.ones_like(x)], 1)
    coef, *_ = np.linalg.lstsq(design, np.stack([x + u, y + v], 1), rcond=None)
    return coef[:2].T


def warp_image(
    image: np.ndarray, displacement: DisplacementField, iterations: int = 12
) -> np.ndarray:
    """Image 2 such that image2(p + d(p)) = image(p): inverse mapping by Newton-like iteration
    with the field's linear part (`_linear_part`) as the Jacobian, so it converges at any
    rotation (a plain fixed-point iteration diverges beyond 60 degrees).

    Pixels of image 2 that no point of image 1 reaches (outside it, or inside an opened lead) are
    NaN; the caller decides what to put there.
    """
    ny, nx = image.shape
    y2, x2 = np.mgrid[0:ny, 0:nx].astype(np.float64)
    x1, y1 = x2.copy(), y2.copy()
    inv = np.linalg.inv(_linear_part(displacement, image.shape))
    for _ in range(iterations):
        u, v = displacement(x1, y1)
        rx, ry = x2 - x1 - u, y2 - y1 - v
        x1, y1 = x1 + inv[0, 0] * rx + inv[0, 1] * ry, y1 + inv[1, 0] * rx + inv[1, 1] * ry
    u, v = displacement(x1, y1)
    miss = np.hypot(x1 + u - x2, y1 + v - y2) > 0.25
    finite = np.isfinite(image)
    filled = np.where(finite, image, np.nanmean(image) if finite.any() else 0.0)
    out = ndimage.map_coordinates(filled, [y1, x1], order=3, mode="constant", cval=np.nan)
    nodata = ndimage.map_coordinates((~finite).astype(np.float32), [y1, x1], order=1, cval=1.0)
    outside = (x1 < 0) | (x1 > nx - 1) | (y1 < 0) | (y1 > ny - 1)
    out[outside | miss | (nodata > 0.01)] = np.nan
    return out.astype(np.float32)


@dataclass
class SyntheticPair:
    """Two images in dB (NaN = no data) and the field that maps image 1 onto image 2."""

    image1: np.ndarray
    image2: np.ndarray
    field: DisplacementField

    def truth(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """True (u, v) at image-1 positions (x, y)."""
        return self.field(x, y)


def make_pair(
    base: np.ndarray | None = None,
    displacement: DisplacementField | None = None,
    shape: tuple[int, int] = (512, 512),
    looks: float = 10.0,
    seed: int = 0,
) -> SyntheticPair:
    """An image pair with exactly known drift, to test and benchmark the trackers.

    `base` is warped with `displacement` into image 2; image-2 pixels that image 1 does not
    reach are NaN (no data), except where a lead opened inside the scene (dark open water).
    Each image then gets its own speckle.

    Parameters
    ----------
    base : numpy.ndarray, optional
        Image 1 before speckle, in dB (NaN = no data); default a `synthetic_texture`.
    displacement : DisplacementField, optional
        The drift; default a `random_field` (up to 40 px of translation, 10 degrees of
        rotation, with smooth deformation).
    shape : tuple of int
        (rows, cols) of the synthetic texture; unused when `base` is given.
    looks : float
        Number of looks of the gamma speckle (mean 1) added to each image independently;
        0 for none.
    seed : int
        Seed of the texture, the random field and the speckle.

    Returns
    -------
    SyntheticPair
        ``image1``, ``image2`` (float32, dB) and the field; ``truth(x, y)`` gives the true
        (u, v) at image-1 positions.

    Examples
    --------
    5 px to the right and 3 px up: image 2 has no data in its first 5 columns and last 3 rows.

    >>> field = DisplacementField((128, 128), translation=(5.0, -3.0))
    >>> pair = make_pair(displacement=field, shape=(128, 128), seed=0)
    >>> pair.image1.shape, pair.image2.dtype
    ((128, 128), dtype('float32'))
    >>> [float(d) for d in pair.truth(10, 20)]
    [5.0, -3.0]
    >>> no_data = np.isnan(pair.image2)
    >>> int(no_data.all(axis=0).sum()), int(no_data.all(axis=1).sum())
    (5, 3)
    """
    rng = np.random.default_rng(seed)
    if base is None:
        base = synthetic_texture(shape, seed=seed)
    base = np.asarray(base, dtype=np.float32)
    if displacement is None:
        displacement = random_field(base.shape, seed=seed)
    image2 = warp_image(base, displacement)
    opened = np.isnan(image2) & _reached_area(base.shape, displacement)
    image2[opened] = np.nanpercentile(base, 1)  # an opened lead is open water: dark
    if looks:
        image1, image2 = speckle(base, looks, rng), speckle(image2, looks, rng)
    else:
        image1 = base.copy()
    return SyntheticPair(image1, image2, displacement)


def _reached_area(shape: tuple[int, int], displacement: DisplacementField) -> np.ndarray:
    """Image-2 pixels inside the convex outline of the warped image-1 frame."""
    from matplotlib.path import Path

    ny, nx = shape
    t = np.linspace(0, 1, 64)
    xs = np.concatenate(
        [t * (nx - 1), np.full_like(t, nx - 1), (1 - t) * (nx - 1), np.zeros_like(t)]
    )
    ys = np.concatenate(
        [np.zeros_like(t), t * (ny - 1), np.full_like(t, ny - 1), (1 - t) * (ny - 1)]
    )
    u, v = displacement(xs, ys)
    outline = Path(np.stack([xs + u, ys + v], 1))
    yy, xx = np.mgrid[0:ny, 0:nx]
    return outline.contains_points(np.stack([xx.ravel(), yy.ravel()], 1)).reshape(shape)


@dataclass
class ComposedField:
    """The displacement from time 0 to the end of a chain of fields: each field moves the
    positions the previous ones reached, p_{k+1} = p_k + field_k(p_k)."""

    fields: list

    def __call__(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """Total displacement (u, v) of time-0 positions (x, y) through every field."""
        x0 = np.asarray(x, dtype=np.float64)
        y0 = np.asarray(y, dtype=np.float64)
        xs, ys = x0, y0
        for step in self.fields:
            u, v = step(xs, ys)
            xs, ys = xs + u, ys + v
        return xs - x0, ys - y0


@dataclass
class SyntheticSeries:
    """Images in dB (NaN = no data) of ice moved by one known field per step."""

    images: list[np.ndarray]
    fields: list[DisplacementField]

    def positions(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """True (cols, rows) of time-0 points (x, y) at every time: arrays (n_points, n_time)."""
        xs = [np.asarray(x, dtype=np.float64).ravel()]
        ys = [np.asarray(y, dtype=np.float64).ravel()]
        for step in self.fields:
            u, v = step(xs[-1], ys[-1])
            xs.append(xs[-1] + u)
            ys.append(ys[-1] + v)
        return np.stack(xs, axis=1), np.stack(ys, axis=1)


def make_series(
    base: np.ndarray | None = None,
    fields: list[DisplacementField] | None = None,
    steps: int = 3,
    shape: tuple[int, int] = (512, 512),
    max_drift: float = 15.0,
    max_rotation_deg: float = 3.0,
    looks: float = 10.0,
    seed: int = 0,
) -> SyntheticSeries:
    """A series of images with exactly known trajectories: image k is `base` warped once by the
    composition of the first k fields (not image k-1 warped again, which would blur the texture
    a little more at every step), then given its own speckle.

    `fields` default to `steps` `random_field`s (translation up to `max_drift` px, rotation up
    to `max_rotation_deg`, smooth deformation; seeds `seed`, `seed + 1`, ...). Pixels no point
    of `base` reaches are NaN."""
    rng = np.random.default_rng(seed)
    if base is None:
        base = synthetic_texture(shape, seed=seed)
    base = np.asarray(base, dtype=np.float32)
    if fields is None:
        fields = [
            random_field(base.shape, max_drift, max_rotation_deg, seed=seed + k)
            for k in range(steps)
        ]
    images = [base] + [warp_image(base, ComposedField(fields[: k + 1])) for k in range(len(fields))]
    if looks:
        images = [speckle(image, looks, rng) for image in images]
    return SyntheticSeries(images, list(fields))
