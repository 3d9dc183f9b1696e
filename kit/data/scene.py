"""Open and validate one ready-to-train AutoICE scene (`<YYYYmmddTHHMMSS>_<service>_prep.nc`),
and read its ice charts (from the scene, or else from its `_prep_reference.nc`).

`open_scene` is lazy (xarray) and checks the file before anyone trains on it for hours: a file that
is not netCDF, is truncated, lacks a variable or has inconsistent shapes gives one `KitError`
that names the file and the problem.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import xarray as xr

from kit import charts
from kit.data.raw import ready_from_raw
from kit.data.regrid import grid_2km_matches
from kit.data.scene_files import (  # kept importable from here, where they were
    needs_geolocation,
    parse_scene_id,
    read_variable,
)
from kit.errors import KitError

#: First bytes of the two netCDF flavours: classic/64-bit (CDF) and netCDF-4 (HDF5).
_NETCDF_MAGIC = (b"CDF\x01", b"CDF\x02", b"CDF\x05", b"\x89HDF\r\n\x1a\n")


@dataclass(frozen=True)
class SceneInfo:
    """What a scene is, read from its name and attributes (no pixel data)."""

    scene_id: str
    ice_service: str
    acquisition: datetime
    shape: tuple[int, int]
    shape_2km: tuple[int, int]
    has_charts: bool
    path: str

    @property
    def month(self) -> int:
        return self.acquisition.month


def is_scene_file_name(name: str) -> bool:
    """True for a ready-to-train (`*_prep.nc`) or raw-release scene file name."""
    base = os.path.basename(str(name))
    return base.endswith(charts.PREP_SUFFIX) or charts.RAW_NAME_PATTERN.match(base) is not None


def check_netcdf_file(path: str | os.PathLike) -> Path:
    """The path, if it exists and starts like a netCDF file; else a KitError naming it."""
    path = Path(path)
    if not path.is_file():
        raise KitError(f"{path}: no such file")
    with open(path, "rb") as fh:
        head = fh.read(8)
    if not any(head.startswith(magic) for magic in _NETCDF_MAGIC):
        raise KitError(f"{path}: not a netCDF file")
    return path


def open_netcdf(path: str | os.PathLike) -> xr.Dataset:
    """Open a netCDF file lazily, turning library errors into a KitError naming the file."""
    path = check_netcdf_file(path)
    try:
        return xr.open_dataset(path, mask_and_scale=True, cache=False)
    except Exception as exc:  # netCDF4/HDF5 raise OSError, RuntimeError, ValueError ...
        raise KitError(f"{path}: unreadable or truncated netCDF ({exc})") from exc


def open_scene(
    path: str | os.PathLike,
    variables: Iterable[str] | None = None,
    require_charts: bool = False,
) -> xr.Dataset:
    """Open a scene and validate it: lazily for ready-to-train files, converted to the 80 m
    ready-to-train grid in memory for raw-release files (`kit.data.raw`).

    `variables` are the input variables that must be present (default: all 24; `aux_lat` /
    `aux_lon` also require the geolocation grid). Variables the caller does not use are not
    checked. Charts are checked when present, and required with `require_charts`.
    """
    variables = list(charts.SCENE_VARIABLES if variables is None else variables)
    ds = open_netcdf(path)
    try:
        if is_raw(ds):
            converted = ready_from_raw(ds, path, variables)
            ds.close()
            ds = converted
        validate_scene(ds, path, variables)
        if require_charts:
            missing = [c for c in charts.CHARTS if c not in ds]
            if missing:
                raise KitError(f"{path}: no ice chart variable(s) {', '.join(missing)}")
    except Exception:
        ds.close()
        raise
    return ds


def is_raw(ds: xr.Dataset) -> bool:
    """True for a raw-release scene (polygon chart or flat tie-point list, 40 m grid)."""
    return "polygon_icechart" in ds or charts.RAW_GEO_POINTS_DIM in ds.dims


def validate_scene(ds: xr.Dataset, path: str | os.PathLike, variables: Iterable[str]) -> None:
    """Raise KitError if the scene lacks a variable, attribute or has inconsistent shapes."""
    variables = list(variables)
    wanted = [v for v in variables if v not in charts.AUX_VARIABLES]
    unknown = [v for v in wanted if v not in charts.SCENE_VARIABLES]
    if unknown:
        raise KitError(
            f"unknown variable(s) {', '.join(unknown)}; known: scene variables of kit.charts"
        )
    geo = [charts.LATITUDE, charts.LONGITUDE] if needs_geolocation(variables) else []
    missing = [v for v in dict.fromkeys(wanted + geo) if v not in ds]
    if missing:
        raise KitError(f"{path}: missing variable(s) {', '.join(missing)}")

    full = [v for v in wanted if v in charts.FULL_GRID_VARIABLES] + [
        c for c in charts.CHARTS if c in ds
    ]
    for name in full:
        _expect_dims(ds, path, name, (charts.SAR_DIMS,))
    for name in (v for v in wanted if v in charts.COARSE_GRID_VARIABLES):
        _expect_dims(ds, path, name, (charts.GRID_2KM_DIMS,))
    for name in geo:
        _expect_dims(ds, path, name, (charts.GEO_GRID_DIMS, charts.GEO_GRID_FILE_DIMS))

    coarse = [v for v in wanted if v in charts.COARSE_GRID_VARIABLES]
    if coarse and all(d in ds.sizes for d in charts.SAR_DIMS):
        _check_2km_grid(ds, path)
    sizes = [ds.sizes.get(d, 0) for d in charts.SAR_DIMS]
    if full and min(sizes) == 0:
        raise KitError(f"{path}: empty SAR grid {tuple(sizes)}")


def _expect_dims(ds: xr.Dataset, path, name: str, allowed: tuple[tuple[str, str], ...]) -> None:
    if tuple(ds[name].dims) not in allowed:
        expected = " or ".join(str(d) for d in allowed)
        raise KitError(
            f"{path}: variable {name} has dims {tuple(ds[name].dims)}, expected {expected}"
        )


def _check_2km_grid(ds: xr.Dataset, path) -> None:
    """Check the 2 km grid of a scene that will be read (a 2 km variable is configured).

    An empty grid is a KitError. A grid that does not have floor or round of n / 25 cells on
    each axis (`kit.data.regrid.grid_2km_matches`) is regridded by extent, as covering the
    scene, with one warning naming the file (`kit.data.regrid.coarse_cell_size`).
    """
    shape = tuple(int(ds.sizes[d]) for d in charts.SAR_DIMS)
    shape_2km = tuple(int(ds.sizes.get(d, 0)) for d in charts.GRID_2KM_DIMS)
    if min(shape_2km) == 0:
        raise KitError(f"{path}: empty 2 km grid {shape_2km} ({', '.join(charts.GRID_2KM_DIMS)})")
    if not grid_2km_matches(shape, shape_2km):
        expected = " x ".join(f"{n / charts.PIXELS_PER_2KM:.3g}" for n in shape)
        warnings.warn(
            f"{path}: the 2 km grid has {shape_2km[0]} x {shape_2km[1]} cells, not about "
            f"{expected} (one per {charts.PIXELS_PER_2KM} pixels of the {shape[0]} x {shape[1]} "
            "scene); AMSR2/ERA5 regridded by extent, as covering the scene",
            stacklevel=3,
        )


def read_geo_grid(ds: xr.Dataset, name: str, path=None) -> np.ndarray:
    """A lat/lon tie-point variable as a (line, sample) array, whichever dim order the file has."""
    values = read_variable(ds, name, path)
    return values.T if tuple(ds[name].dims) == charts.GEO_GRID_FILE_DIMS else values


def scene_info(path: str | os.PathLike) -> SceneInfo:
    """Describe a scene file (validated lightly: only what the description needs)."""
    ds = open_netcdf(path)
    try:
        scene_id, service, when = parse_scene_id(ds.attrs.get("scene_id", Path(path).name))
        shape = tuple(int(ds.sizes.get(d, 0)) for d in charts.SAR_DIMS)
        shape_2km = tuple(int(ds.sizes.get(d, 0)) for d in charts.GRID_2KM_DIMS)
        has_charts = all(c in ds for c in charts.CHARTS) or "polygon_icechart" in ds
        if is_raw(ds):  # 40 m grid: describe the 80 m grid the kit works on
            shape = tuple(-(-n // 2) for n in shape)
    finally:
        ds.close()
    return SceneInfo(scene_id, service, when, shape, shape_2km, has_charts, str(path))


def read_scene_charts(
    path: str | os.PathLike,
    reference_path: str | os.PathLike | None = None,
    wanted: Iterable[str] = charts.CHARTS,
) -> dict[str, np.ndarray]:
    """The ice charts of a scene on its 80 m grid, from the scene or its reference file.

    Parameters
    ----------
    path : str or path-like
        The scene file (ready-to-train, or raw release: converted to the 80 m grid).
    reference_path : str or path-like, optional
        Its `_prep_reference.nc`, read for the charts the scene itself lacks.
    wanted : iterable of str
        The charts to read (default: SIC, SOD, FLOE).

    Returns
    -------
    dict of str to ndarray
        `{chart: uint8 [H, W]}` for the wanted charts found, MASK where a file has no value;
        empty when neither file has any.

    Raises
    ------
    KitError
        When a file is unreadable, or a reference chart's shape differs from the scene's grid.

    Examples
    --------
    >>> import tempfile
    >>> from kit.data import discover
    >>> from kit.data.synthetic import SynthConfig, write_dataset
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = write_dataset(tmp, SynthConfig(n_train=0, n_test=1, size=(60, 80)),
    ...                       workers=1, progress=False)
    ...     scene = discover(tmp).iloc[0]  # a TorchGeo test scene: charts in a reference file
    ...     alone = read_scene_charts(scene.path, wanted=["SOD"])
    ...     found = read_scene_charts(scene.path, scene.reference_path, wanted=["SOD"])
    >>> alone, {chart: (v.shape, v.dtype.name) for chart, v in found.items()}
    ({}, {'SOD': ((60, 80), 'uint8')})
    """
    shape = scene_info(path).shape  # the 80 m grid, also for a raw test scene without charts
    ds = open_scene(path, variables=[])
    try:
        return read_charts(ds, path, reference_path, wanted, shape)
    finally:
        ds.close()


def read_charts(
    ds: xr.Dataset,
    path: str | os.PathLike,
    reference_path: str | os.PathLike | None,
    wanted: Iterable[str],
    shape: tuple[int, int],
) -> dict[str, np.ndarray]:
    """The ice charts of an open scene, or else from its reference file.

    Parameters
    ----------
    ds : xarray.Dataset
        The open scene, on the 80 m grid (`open_scene`).
    path : str or path-like
        Its file, named by errors.
    reference_path : str or path-like or None
        Its `_prep_reference.nc`, opened (and closed) only when the scene lacks a wanted chart.
    wanted : iterable of str
        The charts to read.
    shape : tuple of int
        The scene's 80 m grid (H, W), which reference charts must match.

    Returns
    -------
    dict of str to ndarray
        `{chart: uint8 [H, W]}` for the wanted charts found, MASK where a file has no value.

    Raises
    ------
    KitError
        When a file is unreadable, or a reference chart's shape differs from `shape`.
    """
    wanted = list(wanted)
    found = {c: _chart_values(ds, c, path) for c in wanted if c in ds}
    missing = [c for c in wanted if c not in found]
    if missing and reference_path:
        ref = open_netcdf(reference_path)
        try:
            for name in (c for c in missing if c in ref):
                values = _chart_values(ref, name, reference_path)
                if values.shape != tuple(shape):
                    raise KitError(
                        f"{reference_path}: chart {name} has shape {values.shape}, "
                        f"scene {path} has {tuple(shape)}"
                    )
                found[name] = values
        finally:
            ref.close()
    return found


def _chart_values(ds: xr.Dataset, name: str, path) -> np.ndarray:
    values = read_variable(ds, name, path)
    if np.issubdtype(values.dtype, np.floating):  # masked fill decoded as NaN
        values = np.where(np.isfinite(values), values, charts.MASK)
    return values.astype(np.uint8)
