"""Reading Sentinel-1 sigma0 GeoTIFFs with ground control points (GCPs).

The drift test images carry no affine georeferencing, only a grid of GCPs (pixel position ->
lon/lat or projected metres). `GcpTransform` fits a low-order polynomial both ways between pixel
coordinates and a projected (metre) plane on those GCPs, so any sub-pixel position can be
geolocated and any map position can be put back into the image.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from kit.errors import KitError


def polynomial_terms(a: np.ndarray, b: np.ndarray, order: int) -> np.ndarray:
    """Design matrix of all monomials a**i * b**j with i + j <= order (columns, one per term)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    cols = [a**i * b**j for i in range(order + 1) for j in range(order + 1 - i)]
    return np.stack(cols, axis=-1)


@dataclass
class Polynomial2D:
    """A 2-D -> 2-D polynomial map fitted by least squares, with inputs centred and scaled."""

    order: int
    centre: np.ndarray  # (2,) input centre
    scale: np.ndarray  # (2,) input scale
    coeffs: np.ndarray  # (n_terms, 2)

    @classmethod
    def fit(cls, src: np.ndarray, dst: np.ndarray, order: int) -> Polynomial2D:
        """Fit dst ~ P(src) for (n, 2) arrays of matching points.

        The order is lowered until the points determine every term (e.g. GCPs on only three
        rows cannot fix a cubic in the row direction), so the map never wiggles between them."""
        src = np.asarray(src, dtype=np.float64)
        dst = np.asarray(dst, dtype=np.float64)
        centre = src.mean(axis=0)
        scale = np.maximum(src.std(axis=0), 1e-12)
        for k in range(order, 0, -1):
            a = polynomial_terms(*((src - centre) / scale).T, k)
            if np.linalg.matrix_rank(a) == a.shape[1]:
                break
        coeffs, *_ = np.linalg.lstsq(a, dst, rcond=None)
        return cls(k, centre, scale, coeffs)

    def __call__(self, p: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = (np.asarray(p, dtype=np.float64) - self.centre[0]) / self.scale[0]
        q = (np.asarray(q, dtype=np.float64) - self.centre[1]) / self.scale[1]
        out = polynomial_terms(p, q, self.order) @ self.coeffs
        return out[..., 0], out[..., 1]


def _reproject(xs: np.ndarray, ys: np.ndarray, src_crs, dst_crs) -> tuple[np.ndarray, np.ndarray]:
    """Transform coordinate arrays of any shape between two CRSs (GDAL through rasterio)."""
    from rasterio.warp import transform

    xs = np.asarray(xs, dtype=np.float64)
    ys = np.asarray(ys, dtype=np.float64)
    shape = xs.shape
    ox, oy = transform(src_crs, dst_crs, xs.ravel(), ys.ravel())
    return np.reshape(ox, shape), np.reshape(oy, shape)


LONLAT_CRS = "EPSG:4326"


@dataclass
class GcpTransform:
    """Pixel (col, row) <-> projected metres (x, y) <-> lon/lat, fitted on an image's GCPs.

    `crs` is the metre plane the polynomials work in: the GCPs' own CRS when it is projected, or
    a polar stereographic plane centred on the scene when the GCPs are in lon/lat (a polynomial
    in degrees would bend badly near the pole).
    """

    crs: str
    to_xy: Polynomial2D
    to_pixel: Polynomial2D
    rms_residual_px: float

    @classmethod
    def from_gcps(cls, cols, rows, gx, gy, gcp_crs, order: int = 3) -> GcpTransform:
        """Fit the transform on GCPs given as pixel (cols, rows) and CRS coordinates (gx, gy)."""
        cols, rows = np.asarray(cols, float), np.asarray(rows, float)
        gx, gy = np.asarray(gx, float), np.asarray(gy, float)
        n_terms = (order + 1) * (order + 2) // 2
        if len(cols) < n_terms:
            raise KitError(f"{len(cols)} GCPs are too few for an order-{order} polynomial")
        from rasterio.crs import CRS

        src = CRS.from_user_input(gcp_crs)
        if src.is_geographic:
            lon0 = float(
                np.degrees(np.arctan2(np.sin(np.radians(gx)).mean(), np.cos(np.radians(gx)).mean()))
            )
            lat0 = 90.0 if np.mean(gy) >= 0 else -90.0
            plane = f"+proj=stere +lat_0={lat0:g} +lon_0={lon0:.6f} +k=1 +x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs"
            mx, my = _reproject(gx, gy, src, plane)
        else:
            plane = src.to_wkt()
            mx, my = gx, gy
        pix = np.stack([cols, rows], axis=1)
        met = np.stack([mx, my], axis=1)
        to_xy = Polynomial2D.fit(pix, met, order)
        to_pixel = Polynomial2D.fit(met, pix, order)
        c, r = to_pixel(mx, my)  # how well the fitted map reproduces the GCPs themselves
        rms = float(np.sqrt(np.mean((c - cols) ** 2 + (r - rows) ** 2)))
        return cls(plane, to_xy, to_pixel, rms)

    def pixel_to_xy(self, cols, rows) -> tuple[np.ndarray, np.ndarray]:
        """Projected metres in `self.crs` of pixel positions (sub-pixel allowed)."""
        return self.to_xy(cols, rows)

    def xy_to_pixel(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """Pixel (cols, rows) of projected positions in `self.crs`."""
        return self.to_pixel(x, y)

    def pixel_to_lonlat(self, cols, rows) -> tuple[np.ndarray, np.ndarray]:
        """Longitude and latitude (degrees) of pixel positions."""
        return _reproject(*self.to_xy(cols, rows), self.crs, LONLAT_CRS)

    def lonlat_to_pixel(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        """Pixel (cols, rows) of lon/lat positions."""
        return self.to_pixel(*_reproject(lon, lat, LONLAT_CRS, self.crs))

    def pixel_spacing_m(self) -> float:
        """Mean ground distance between neighbouring pixels at the image centre (m)."""
        c, r = self.to_xy.centre
        x0, y0 = self.to_xy(c, r)
        x1, y1 = self.to_xy(c + 1, r)
        x2, y2 = self.to_xy(c, r + 1)
        return float((np.hypot(x1 - x0, y1 - y0) + np.hypot(x2 - x0, y2 - y0)) / 2)


@dataclass
class S1Image:
    """One Sentinel-1 image: linear sigma0 (NaN = no data), its geolocation and start time."""

    path: Path
    sigma0: np.ndarray
    geo: GcpTransform | None
    time: datetime | None


_TIME_IN_NAME = re.compile(r"_(\d{8}T\d{6})")


def _start_time(tags: dict, path: Path) -> datetime | None:
    value = tags.get("time_coverage_start")
    if value:
        try:
            return datetime.fromisoformat(value.rstrip("Z"))
        except ValueError:
            pass
    match = _TIME_IN_NAME.search(path.name)
    return datetime.strptime(match.group(1), "%Y%m%dT%H%M%S") if match else None


def read_s1_geotiff(path, band: int = 1, order: int = 3) -> S1Image:
    """Read a sigma0 GeoTIFF with GCPs: the image (float32, NaN for no data) and its transform.

    Sentinel-1 drift images carry ground control points rather than an affine transform; they
    are fitted into a `GcpTransform`, so drift can be geolocated in km and m/s. Non-positive
    and nodata values become NaN. Without GCPs (or without their CRS) the image is still
    returned, with ``geo=None`` (drift then stays in pixels).

    Parameters
    ----------
    path : str or os.PathLike
        The GeoTIFF of linear sigma0.
    band : int
        The band to read, from 1.
    order : int
        Polynomial order of the GCP fit (lowered when the GCPs cannot determine it).

    Returns
    -------
    S1Image
        ``path``, ``sigma0`` (float32 [rows, cols], NaN = no data), ``geo`` (`GcpTransform`
        or None) and ``time``, the start time from the ``time_coverage_start`` tag or a
        ``_YYYYMMDDTHHMMSS`` stamp in the file name (None without either).

    Raises
    ------
    KitError
        If the file is missing or not a readable GeoTIFF, has no such band, is not a 2-D
        image of at least 2 x 2, or has too few GCPs for the polynomial.

    Examples
    --------
    >>> import tempfile
    >>> import rasterio
    >>> from rasterio.control import GroundControlPoint
    >>> gcps = [GroundControlPoint(row=r, col=c, x=1000.0 + 40 * c, y=5000.0 - 40 * r)
    ...         for r in (0, 25, 50) for c in (0, 20, 40, 60)]
    >>> image = np.full((50, 60), 0.01, np.float32)
    >>> image[:5] = 0.0  # no data
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = Path(tmp, "S1A_EW_GRDM_1SDH_20200101T000000.tif")
    ...     with rasterio.open(path, "w", driver="GTiff", width=60, height=50, count=1,
    ...                        dtype="float32") as ds:
    ...         ds.write(image, 1)
    ...         ds.gcps = (gcps, rasterio.crs.CRS.from_epsg(3413))
    ...     s1 = read_s1_geotiff(path)
    ...     read_s1_geotiff(path, band=2)
    Traceback (most recent call last):
    ...
    kit.errors.KitError: .../S1A_EW_GRDM_1SDH_20200101T000000.tif: has 1 band(s), band 2 asked for
    >>> int(np.isnan(s1.sigma0).sum()), s1.time.isoformat()
    (300, '2020-01-01T00:00:00')
    >>> round(s1.geo.pixel_spacing_m(), 3)
    40.0
    """
    import rasterio
    from rasterio.errors import RasterioIOError

    path = Path(path)
    if not path.is_file():
        raise KitError(f"{path}: no such image file")
    try:
        with rasterio.open(path) as ds:
            if band < 1 or band > ds.count:
                raise KitError(f"{path}: has {ds.count} band(s), band {band} asked for")
            image = ds.read(band).astype(np.float32)
            nodata = ds.nodata
            gcps, gcp_crs = ds.gcps
            tags = ds.tags()
    except RasterioIOError as exc:
        raise KitError(f"{path}: not a readable GeoTIFF ({exc})") from None
    if image.ndim != 2 or min(image.shape) < 2:
        raise KitError(f"{path}: expected a 2-D image, got shape {image.shape}")
    bad = ~np.isfinite(image) | (image <= 0)
    if nodata is not None:
        bad |= image == nodata
    image[bad] = np.nan
    geo = None
    if gcps and gcp_crs is not None:
        cols = [g.col for g in gcps]
        rows = [g.row for g in gcps]
        geo = GcpTransform.from_gcps(
            cols, rows, [g.x for g in gcps], [g.y for g in gcps], gcp_crs, order
        )
    return S1Image(path, image, geo, _start_time(tags, path))


@dataclass(frozen=True)
class ImagePair:
    """Two images of a drift pair, in time order, and the hours between their start times."""

    first: Path
    second: Path
    hours: float


def image_start_time(path) -> datetime | None:
    """An image's acquisition start: its `time_coverage_start` tag, else a `_YYYYMMDDTHHMMSS`
    stamp in its file name (None when neither is there); reads no pixels."""
    import rasterio
    from rasterio.errors import RasterioIOError

    path = Path(path)
    try:
        with rasterio.open(path) as ds:
            tags = ds.tags()
    except RasterioIOError:
        tags = {}
    return _start_time(tags, path)


def find_pairs(folder, max_hours: float = 72.0, pattern: str = "*.tif") -> list[ImagePair]:
    """Drift pairs in a folder of images: each image with the next one in time, when they start
    at most `max_hours` apart. Images without a known start time are left out."""
    folder = Path(folder)
    if not folder.is_dir():
        raise KitError(f"{folder}: no such folder of images")
    if max_hours <= 0:
        raise KitError(f"max_hours={max_hours}: must be a positive number of hours")
    timed = [(t, p) for p in sorted(folder.glob(pattern)) if (t := image_start_time(p))]
    timed.sort()
    pairs = []
    for (t1, p1), (t2, p2) in zip(timed, timed[1:]):
        hours = (t2 - t1).total_seconds() / 3600.0
        if 0 < hours <= max_hours:
            pairs.append(ImagePair(p1, p2, hours))
    return pairs
