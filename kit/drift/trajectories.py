"""Lagrangian trajectories: points of ice followed through an ordered series of images.

Each pair of consecutive images is tracked with `kit.drift.track.track`, the points of a pair
being where the previous pair left them, so a trajectory is a chain of drift vectors. A
trajectory whose vector is invalid at some step is lost there and stays lost: its positions
are NaN from then on and `reason` keeps the `kit.drift.reasons.Reason` of that step. The
uncertainty accumulates as the root-sum-square of the per-step `sigma` (the steps' matching
errors are independent), so `sigma` at time k is that of the position relative to time 0.

With geolocation every position also gets lon/lat and its position in the first image's
pixel grid (`x_first`, `y_first`), a frame common to all times in which deformation is measured
on triangles of trajectories that follow the ice.
"""

from __future__ import annotations

import time as clock
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import xarray as xr

from kit.atomic import atomic_path
from kit.drift.deformation import triangle_strain_rates
from kit.drift.geolocation import haversine_km
from kit.drift.io import GcpTransform
from kit.drift.outliers import usable_triangles
from kit.drift.params import make_params
from kit.drift.reasons import FLAG_MEANINGS, Reason
from kit.drift.track import DEFAULT_METHOD, DriftResult, as_image, track, tracked_points
from kit.errors import KitError

SECONDS_PER_DAY = 86400.0


@dataclass
class Trajectories:
    """Positions of `n` trajectories at `m` times, arrays (n, m); NaN once a trajectory is lost.

    `x`, `y` are the column and row in each time's own image, `x_first`, `y_first` the same
    positions in the first image's pixel grid (equal to x, y without geolocation). `valid` is
    True while a trajectory is tracked, `reason` 0 while valid and then the `Reason` code of
    the step where it was lost. `sigma` (px) is the standard deviation of each position
    component relative to time 0 (root-sum-square of the steps' `sigma`; NaN for methods
    without one), `sigma_km` the same in km. `grid_shape` is that of the starting grid (None
    for given points)."""

    x: np.ndarray
    y: np.ndarray
    valid: np.ndarray
    reason: np.ndarray
    sigma: np.ndarray
    x_first: np.ndarray
    y_first: np.ndarray
    method: str
    times: list[datetime] | None = None
    lon: np.ndarray | None = None
    lat: np.ndarray | None = None
    sigma_km: np.ndarray | None = None
    grid_shape: tuple[int, int] | None = None
    seconds: float = 0.0

    @property
    def kept(self) -> np.ndarray:
        """Trajectories tracked to the last time."""
        return self.valid[:, -1].copy()

    def displacement_px(self) -> np.ndarray:
        """Start-to-end displacement of each trajectory in first-image pixels (NaN if lost)."""
        return np.hypot(
            self.x_first[:, -1] - self.x_first[:, 0], self.y_first[:, -1] - self.y_first[:, 0]
        )

    def displacement_km(self) -> np.ndarray | None:
        """Start-to-end great-circle displacement (km; NaN if lost), None without lon/lat."""
        if self.lon is None:
            return None
        return haversine_km(self.lon[:, 0], self.lat[:, 0], self.lon[:, -1], self.lat[:, -1])


def _naive_utc(t: datetime) -> datetime:
    """A time in UTC without time zone (what netCDF time units expect)."""
    return t.astimezone(timezone.utc).replace(tzinfo=None) if t.tzinfo else t


def _check_lengths(n: int, geos, times, names) -> None:
    for label, given in (("geos", geos), ("times", times), ("names", names)):
        if given is not None and len(given) != n:
            raise KitError(f"{label}: {len(given)} given for {n} images")


def _check_times(times: Sequence[datetime | None], names: Sequence[str]) -> None:
    """Every image has a time, each after the previous one."""
    for k, t in enumerate(times):
        if t is None:
            raise KitError(
                f"{names[k]}: no acquisition time (time_coverage_start tag or a "
                "_YYYYMMDDTHHMMSS stamp in the file name)"
            )
        if k and t <= times[k - 1]:
            how = "at the same time as" if t == times[k - 1] else "before"
            raise KitError(
                f"{names[k]}: acquired {t.isoformat()}, {how} {names[k - 1]} "
                f"({times[k - 1].isoformat()}); give the images in time order, each time once"
            )


def check_series(
    images: Sequence,
    geos: Sequence[GcpTransform | None] | None = None,
    times: Sequence[datetime | None] | None = None,
    names: Sequence[str] | None = None,
) -> list[np.ndarray]:
    """The images of a series as float32 arrays, after checking that there are at least two
    of the same size, that `times` (when given) strictly increase and that every image has
    geolocation when `geos` is given (km asked for). Errors name the image by `names`
    (default ``images[k]``)."""
    n = len(images)
    _check_lengths(n, geos, times, names)
    names = list(names) if names is not None else [f"images[{k}]" for k in range(n)]
    if n < 2:
        alone = f" ({names[0]})" if n else ""
        raise KitError(f"images: a series needs at least two images, got {n}{alone}")
    arrays = [as_image(image, name) for image, name in zip(images, names)]
    for name, image in zip(names[1:], arrays[1:]):
        if image.shape != arrays[0].shape:
            raise KitError(
                f"{name}: {image.shape[0]} x {image.shape[1]} pixels, but {names[0]} has "
                f"{arrays[0].shape[0]} x {arrays[0].shape[1]}; the images of a series must "
                "have the same size"
            )
    if times is not None:
        _check_times([_naive_utc(t) if t else None for t in times], names)
    for name, geo in zip(names, geos or []):
        if geo is None:
            raise KitError(f"{name}: no geolocation (GCPs); lon/lat and km need it")
    return arrays


def _geolocated(
    traj: Trajectories, geos: Sequence[GcpTransform]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(lon, lat, x_first, y_first) of every valid position; NaN elsewhere."""
    lon, lat, xf, yf = (np.full(traj.x.shape, np.nan) for _ in range(4))
    for k, geo in enumerate(geos):
        ok = traj.valid[:, k]
        lon[ok, k], lat[ok, k] = geo.pixel_to_lonlat(traj.x[ok, k] + 0.5, traj.y[ok, k] + 0.5)
        c, r = geos[0].lonlat_to_pixel(lon[ok, k], lat[ok, k])
        xf[ok, k], yf[ok, k] = c - 0.5, r - 0.5
    return lon, lat, xf, yf


def track_series(
    images: Sequence,
    points: tuple[np.ndarray, np.ndarray] | None = None,
    method: str = DEFAULT_METHOD,
    geos: Sequence[GcpTransform | None] | None = None,
    times: Sequence[datetime | None] | None = None,
    names: Sequence[str] | None = None,
    **params,
) -> Trajectories:
    """Follow points of ice through an ordered series of images.

    Each image is tracked to the next with `kit.drift.track.track`, from where the previous
    step left the points; a trajectory lost at one step (invalid vector) stays lost.

    Parameters
    ----------
    images : sequence of array_like
        Two or more 2-D backscatter images in dB (NaN = no data), all the same size, in time
        order.
    points : tuple of array_like, optional
        (cols, rows) of the starting points in the first image; default a grid every
        `grid_step` px, half a template from the edges.
    method : str, default "ft+pm"
        A method of `kit.drift.track.METHODS`.
    geos : sequence of GcpTransform, optional
        Every image's geolocation: positions then get lon/lat, `sigma_km` and a common frame
        (`x_first`, `y_first`); an image without one is an error.
    times : sequence of datetime, optional
        Acquisition times, strictly increasing; they give the time steps.
    names : sequence of str, optional
        What to call each image in errors (e.g. its file); default ``images[k]``.
    **params
        Settings of `kit.drift.track.TrackParams` for every step.

    Returns
    -------
    Trajectories
        Positions (trajectory x time), validity, reason codes and accumulated sigma.

    Raises
    ------
    KitError
        For fewer than two images, images of different sizes, times that do not strictly
        increase, an image without geolocation when `geos` is given, or a bad setting.

    Examples
    --------
    Three images of a texture moving 4 px right, then 3 px down:

    >>> from kit.drift.synthetic import DisplacementField, make_series
    >>> shape = (160, 160)
    >>> series = make_series(fields=[DisplacementField(shape, translation=(4.0, 0.0)),
    ...                              DisplacementField(shape, translation=(0.0, 3.0))],
    ...                      shape=shape, seed=0)
    >>> traj = track_series(series.images, method="pm", grid_step=48, search=8)
    >>> traj.x.shape, int(traj.kept.sum())
    ((9, 3), 4)
    >>> np.round(traj.x[4] - traj.x[4, 0]) + 0, np.round(traj.y[4] - traj.y[4, 0]) + 0
    (array([0., 4., 4.]), array([0., 0., 3.]))

    The corner trajectory's match is on the border of its search window at the first step
    (the template runs off the image): lost for good.

    >>> traj.valid[0].tolist(), [Reason(r).name for r in traj.reason[0]]
    ([True, False, False], ['VALID', 'BORDER_PEAK', 'BORDER_PEAK'])
    >>> track_series(series.images[:1])
    Traceback (most recent call last):
    ...
    kit.errors.KitError: images: a series needs at least two images, got 1 (images[0])
    """
    arrays = check_series(images, geos, times, names)
    settings = make_params(**params)
    times = [_naive_utc(t) for t in times] if times is not None else None
    start = clock.perf_counter()
    x0, y0, grid_shape = tracked_points(arrays[0].shape, points, settings)
    chain = _Chain.start(x0, y0, len(arrays), geolocated=bool(geos))
    for k in range(len(arrays) - 1):
        idx = np.flatnonzero(chain.reason[:, k] == Reason.VALID)
        if not idx.size:
            break
        step = track(
            arrays[k], arrays[k + 1], method, points=(chain.x[idx, k], chain.y[idx, k]),
            geo1=geos[k] if geos else None, geo2=geos[k + 1] if geos else None,
            dt_seconds=(times[k + 1] - times[k]).total_seconds() if times else None, **params,
        )  # fmt: skip
        chain.extend(k, idx, step)
    traj = chain.trajectories(method, times, grid_shape)
    if geos:
        traj.lon, traj.lat, traj.x_first, traj.y_first = _geolocated(traj, geos)
    traj.seconds = clock.perf_counter() - start
    return traj


@dataclass
class _Chain:
    """Positions (n, m), reason codes and accumulated variances while a series is followed."""

    x: np.ndarray
    y: np.ndarray
    reason: np.ndarray
    variance: np.ndarray
    variance_km: np.ndarray | None

    @classmethod
    def start(cls, x0: np.ndarray, y0: np.ndarray, m: int, geolocated: bool) -> _Chain:
        """Points at time 0 (those not finite are lost from the start, as no data)."""
        x, y, variance = (np.full((x0.size, m), np.nan) for _ in range(3))
        x[:, 0], y[:, 0], variance[:, 0] = x0, y0, 0.0
        variance_km = variance.copy() if geolocated else None
        reason = np.zeros((x0.size, m), np.uint8)
        reason[~(np.isfinite(x0) & np.isfinite(y0))] = Reason.NO_DATA
        return cls(x, y, reason, variance, variance_km)

    def extend(self, k: int, idx: np.ndarray, step: DriftResult) -> None:
        """Add time k + 1 from the drift `step` of trajectories `idx`: the end of each valid
        vector, its variance added; the others lost with their reason for all later times."""
        ok, lost = idx[step.valid], idx[~step.valid]
        self.x[ok, k + 1] = (step.x + step.u)[step.valid]
        self.y[ok, k + 1] = (step.y + step.v)[step.valid]
        self.variance[ok, k + 1] = self.variance[ok, k] + step.sigma[step.valid] ** 2
        if self.variance_km is not None:
            km = step.sigma_km[step.valid]
            self.variance_km[ok, k + 1] = self.variance_km[ok, k] + km**2
        self.reason[lost, k + 1 :] = step.reason[~step.valid][:, None]

    def trajectories(self, method: str, times, grid_shape) -> Trajectories:
        """The result, NaN wherever a trajectory is lost."""
        valid = self.reason == Reason.VALID
        x, y = np.where(valid, self.x, np.nan), np.where(valid, self.y, np.nan)
        traj = Trajectories(
            x, y, valid, self.reason, np.where(valid, np.sqrt(self.variance), np.nan),
            x.copy(), y.copy(), method, times, grid_shape=grid_shape,
        )  # fmt: skip
        if self.variance_km is not None:
            traj.sigma_km = np.where(valid, np.sqrt(self.variance_km), np.nan)
        return traj


def end_point_errors(traj: Trajectories, true_x: np.ndarray, true_y: np.ndarray) -> np.ndarray:
    """Distance (px) of each trajectory's last position from the true one (arrays shaped like
    `traj.x`, e.g. `SyntheticSeries.positions`); NaN for trajectories not kept to the end."""
    return np.hypot(traj.x[:, -1] - true_x[:, -1], traj.y[:, -1] - true_y[:, -1])


@dataclass
class SeriesDeformation:
    """Divergence and shear (n_triangles, n_steps) of triangles of trajectories (`triangles`,
    (n, 3) trajectory indices) from each time to the next; NaN where a corner is lost. `units`
    is "day-1" (rates) with times, else "per step" (strain over one step)."""

    triangles: np.ndarray
    divergence: np.ndarray
    shear: np.ndarray
    units: str


def _following_triangles(traj: Trajectories, max_edge: float | None) -> np.ndarray:
    """Delaunay triangles of the starting positions that bridge no gap (`usable_triangles`):
    every edge at most `max_edge` (default twice the median shortest edge, so a grid keeps its
    cells and the thin triangles of the hull go)."""
    from scipy.spatial import Delaunay

    x0, y0 = traj.x_first[:, 0], traj.y_first[:, 0]
    start = np.flatnonzero(np.isfinite(x0) & np.isfinite(y0))
    if start.size < 3:
        raise KitError(f"trajectories: {start.size} start positions, deformation needs 3")
    tri = start[Delaunay(np.stack([x0[start], y0[start]], 1)).simplices]
    if max_edge is None:
        px, py = x0[tri], y0[tri]
        edges = np.hypot(px - np.roll(px, 1, axis=1), py - np.roll(py, 1, axis=1))
        max_edge = 2.0 * float(np.median(edges.min(axis=1)))
    return tri[usable_triangles(x0, y0, tri, max_edge)]


def trajectory_deformation(traj: Trajectories, max_edge: float | None = None) -> SeriesDeformation:
    """Divergence and shear of triangles that follow the ice: the Delaunay triangles of the
    starting points, measured from each time to the next in the first image's pixel grid
    (`kit.drift.deformation.triangle_strain_rates` with fixed triangles)."""
    tri = _following_triangles(traj, max_edge)
    steps = traj.x.shape[1] - 1
    divergence, shear = np.full((len(tri), steps), np.nan), np.full((len(tri), steps), np.nan)
    for k in range(steps):
        days = (
            (traj.times[k + 1] - traj.times[k]).total_seconds() / SECONDS_PER_DAY
            if traj.times
            else 1.0
        )
        xk, yk = traj.x_first[:, k], traj.y_first[:, k]
        strain = triangle_strain_rates(
            xk, yk, traj.x_first[:, k + 1] - xk, traj.y_first[:, k + 1] - yk, days,
            triangles=tri,
        )  # fmt: skip
        divergence[:, k], shear[:, k] = strain.divergence, strain.shear
    return SeriesDeformation(tri, divergence, shear, "day-1" if traj.times else "per step")


def _float_variable(values, **attrs) -> xr.Variable:
    return xr.Variable(("trajectory", "time"), np.asarray(values, np.float32), attrs)


def _position_variables(traj: Trajectories) -> dict[str, xr.Variable]:
    """x, y, sigma, validity and reason codes (NaN positions where lost)."""
    return {
        "x": _float_variable(traj.x, long_name="column of the position in its image", units="1"),
        "y": _float_variable(traj.y, long_name="row of the position in its image", units="1"),
        "sigma": _float_variable(
            traj.sigma,
            units="pixel",
            long_name="standard deviation of each position component relative to the start "
            "(root-sum-square of the steps' sigma)",
        ),  # fmt: skip
        "valid": xr.Variable(
            ("trajectory", "time"),
            traj.valid.astype(np.int8),
            {
                "long_name": "trajectory tracked up to this time",
                "flag_values": np.array([0, 1], np.int8),
                "flag_meanings": "lost valid",
            },
        ),  # fmt: skip
        "reason": xr.Variable(
            ("trajectory", "time"),
            traj.reason.astype(np.int8),
            {
                "long_name": "why the trajectory was lost (reason of the step where it was)",
                "flag_values": np.array([r.value for r in Reason], np.int8),
                "flag_meanings": FLAG_MEANINGS,
            },
        ),  # fmt: skip
    }


def _geolocated_variables(traj: Trajectories) -> dict[str, xr.Variable]:
    dims = ("trajectory", "time")
    return {
        "lon": xr.Variable(dims, traj.lon, {"standard_name": "longitude", "units": "degrees_east"}),
        "lat": xr.Variable(dims, traj.lat, {"standard_name": "latitude", "units": "degrees_north"}),
        "sigma_km": _float_variable(
            traj.sigma_km,
            units="km",
            long_name="standard deviation of each position component relative to the start",
        ),  # fmt: skip
    }


def _deformation_variables(deformation: SeriesDeformation) -> dict[str, xr.Variable]:
    """The triangles' corners (trajectory numbers) and their divergence and shear per step."""
    kind = "rate" if deformation.units == "day-1" else "strain over the step"
    units = deformation.units if deformation.units == "day-1" else "1"

    def per_step(values: np.ndarray, name: str) -> xr.Variable:
        long_name = f"{name} {kind} of the triangle from time step to step + 1"
        attrs = {"long_name": long_name, "units": units}
        return xr.Variable(("triangle", "step"), values.astype(np.float32), attrs)

    return {
        "triangle_corners": xr.Variable(
            ("triangle", "corner"),
            deformation.triangles.astype(np.int32),
            {"long_name": "trajectory numbers of the triangle's corners"},
        ),
        "divergence": per_step(deformation.divergence, "divergence"),
        "shear": per_step(deformation.shear, "maximum shear"),
    }


def trajectory_dataset(
    traj: Trajectories, attrs: dict | None = None, deformation: SeriesDeformation | None = None
) -> xr.Dataset:
    """The trajectories as a CF-1.8 `featureType = "trajectory"` Dataset on (trajectory, time):
    x, y, sigma, valid, reason and, when geolocated, lon/lat and sigma_km; with `deformation`
    also the triangles that follow the ice and their divergence and shear per step (triangle,
    step); `attrs` are extra global attributes."""
    data = _position_variables(traj)
    if traj.lon is not None:
        data |= _geolocated_variables(traj)
        for name in data:
            if name not in ("lon", "lat"):
                data[name].attrs["coordinates"] = "time lat lon"
    coords = {
        "trajectory": xr.Variable(
            "trajectory",
            np.arange(traj.x.shape[0], dtype=np.int32),
            {"cf_role": "trajectory_id", "long_name": "trajectory number"},
        ),  # fmt: skip
    }
    if traj.times:
        coords["time"] = xr.Variable(
            "time", np.array(traj.times, dtype="datetime64[ns]"),
            {"standard_name": "time", "long_name": "acquisition time of the image"},
        )  # fmt: skip
    else:
        coords["time"] = xr.Variable(
            "time", np.arange(traj.x.shape[1], dtype=np.int32),
            {"long_name": "index of the image in the series", "units": "1"},
        )  # fmt: skip
    if deformation is not None:
        data |= _deformation_variables(deformation)
    ds = xr.Dataset(data, coords=coords)
    ds.attrs = {
        "Conventions": "CF-1.8",
        "featureType": "trajectory",
        "title": "Sea-ice trajectories",
        "method": traj.method,
        "processing_seconds": float(traj.seconds),
        **(attrs or {}),
    }
    return ds


def write_trajectories(
    path,
    traj: Trajectories,
    attrs: dict | None = None,
    deformation: SeriesDeformation | None = None,
) -> Path:
    """Write `trajectory_dataset` to `path` as netCDF (atomically: temporary file, rename)."""
    path = Path(path)
    ds = trajectory_dataset(traj, attrs, deformation)
    encoding = {name: {"zlib": True, "complevel": 4} for name in ds.data_vars}
    if traj.times:
        first = traj.times[0].isoformat(sep=" ")
        encoding["time"] = {"units": f"seconds since {first}", "dtype": "float64"}
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, engine="netcdf4", encoding=encoding)
    return path


def trajectory_figure(image_db: np.ndarray, traj: Trajectories, title: str | None = None):
    """Trajectories as lines over the first image (first-image pixels), coloured by their
    start-to-end displacement (km when geolocated); a dot at each start, a red cross where a
    trajectory was lost. A bare Figure, which leaves the caller's matplotlib backend alone."""
    import cmocean
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure

    km = traj.displacement_km()
    length, label = (
        (km, "displacement (km)")
        if km is not None
        else (traj.displacement_px(), "displacement (pixels)")
    )
    ok = np.isfinite(image_db)
    lo, hi = np.percentile(image_db[ok], [1, 99]) if ok.any() else (0, 1)
    fig = Figure(figsize=(8, 8 * image_db.shape[0] / image_db.shape[1] + 0.8))
    ax = fig.subplots()
    ax.imshow(image_db, cmap="gray", vmin=lo, vmax=hi)
    kept = traj.kept
    lines = [np.stack([traj.x_first[i], traj.y_first[i]], 1) for i in np.flatnonzero(kept)]
    top = float(np.nanmax(length[kept])) if kept.any() else 1.0
    collection = LineCollection(lines, array=length[kept], cmap=cmocean.cm.thermal, linewidths=1.5)
    collection.set_clim(0.0, max(top, 1e-6))
    ax.add_collection(collection)
    ax.plot(traj.x_first[:, 0], traj.y_first[:, 0], ".", color="white", markersize=3)
    lost = ~kept & traj.valid[:, 0]
    last = traj.valid.sum(axis=1) - 1
    ax.plot(
        traj.x_first[lost, last[lost]],
        traj.y_first[lost, last[lost]],
        "x",
        color="red",
        markersize=4,
    )
    fig.colorbar(collection, ax=ax, shrink=0.8, label=label)
    ax.set_xlim(-0.5, image_db.shape[1] - 0.5)
    ax.set_ylim(image_db.shape[0] - 0.5, -0.5)
    steps = traj.x.shape[1] - 1
    plural = "s" if steps != 1 else ""
    kept_text = f"{int(kept.sum())} of {kept.size} trajectories kept over {steps} step{plural}"
    ax.set_title(title or f"{traj.method}: {kept_text}")
    return fig


def plot_trajectories(
    image_db: np.ndarray, traj: Trajectories, path, title: str | None = None
) -> Path:
    """Save `trajectory_figure` at `path` (PNG unless the suffix names another format)."""
    path = Path(path)
    fig = trajectory_figure(image_db, traj, title)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format=path.suffix.lstrip(".") or "png")
    return path
