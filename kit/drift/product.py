"""The drift product: a CF-style netCDF file of vectors, their quality and (when known) lon/lat.

Vectors on a regular grid are written on (y, x) dimensions, scattered points on a `point`
dimension. Pixel displacements are always there; with geolocation the start and end lon/lat, the
displacement in km and, with a time step, the speed and its eastward/northward components.
Invalid vectors are NaN in every displacement and speed variable (and the end positions); the
`reason` flag variable says why each is invalid (`kit.drift.reasons.Reason`), and `quality`
and `sharpness` are kept for all vectors as diagnostics.
The file is written under a temporary name and moved into place, so a failed write loses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from kit.atomic import atomic_path
from kit.drift.geolocation import EARTH_RADIUS_KM
from kit.drift.reasons import FLAG_MEANINGS, Reason
from kit.drift.result import DriftResult


def east_north_km(lon1, lat1, lon2, lat2) -> tuple[np.ndarray, np.ndarray]:
    """Eastward and northward displacement (km) between two positions (local flat-Earth)."""
    dlon = (np.asarray(lon2) - np.asarray(lon1) + 180.0) % 360.0 - 180.0
    lat_mid = np.radians((np.asarray(lat1) + np.asarray(lat2)) / 2)
    east = EARTH_RADIUS_KM * np.radians(dlon) * np.cos(lat_mid)
    north = EARTH_RADIUS_KM * np.radians(np.asarray(lat2) - np.asarray(lat1))
    return east, north


@dataclass(frozen=True)
class _Layout:
    """Dimensions of the product's variables: (y, x) for a grid, `point` for scattered points."""

    dims: tuple[str, ...]
    shape: tuple[int, ...]

    @classmethod
    def of(cls, result: DriftResult) -> _Layout:
        if result.grid_shape:
            return cls(("y", "x"), result.grid_shape)
        return cls(("point",), (result.x.size,))

    def variable(self, values, **attributes) -> xr.Variable:
        """A float32 variable of one value per point, with these attributes."""
        return xr.Variable(
            self.dims, np.asarray(values, dtype=np.float32).reshape(self.shape), attributes
        )


def _valid_only(result: DriftResult, values) -> np.ndarray:
    """`values` (one per point) with NaN where the vector is invalid (all NaN for None)."""
    if values is None:
        return np.full(result.x.shape, np.nan)
    return np.where(np.asarray(result.valid, bool), np.asarray(values, np.float64), np.nan)


def _vector_variables(result: DriftResult, layout: _Layout) -> dict[str, xr.Variable]:
    """Point positions, pixel displacements (NaN where invalid), their quality measures, the
    validity flag and (when the result has them) the reason codes of invalid vectors."""
    var = layout.variable
    data = {
        "col": var(result.x, long_name="column of the point in image 1", units="1"),
        "row": var(result.y, long_name="row of the point in image 1", units="1"),
        "u": var(
            _valid_only(result, result.u),
            long_name="displacement along image columns",
            units="pixel",
        ),
        "v": var(
            _valid_only(result, result.v), long_name="displacement along image rows", units="pixel"
        ),
        "quality": var(result.quality, long_name="peak normalised cross-correlation", units="1"),
        "sigma": var(
            _valid_only(result, result.sigma),
            long_name="standard deviation of each displacement component, from the shape of "
            "the correlation peak",
            units="pixel",
        ),
        "sharpness": var(
            result.sharpness, long_name="peak correlation minus best rival correlation", units="1"
        ),
        "valid": xr.Variable(
            layout.dims,
            result.valid.reshape(layout.shape).astype(np.int8),
            {
                "long_name": "vector passed the quality checks",
                "flag_values": np.array([0, 1], np.int8),
                "flag_meanings": "invalid valid",
            },
        ),
    }
    if result.reason is not None:
        data["reason"] = xr.Variable(
            layout.dims,
            np.asarray(result.reason, np.int8).reshape(layout.shape),
            {
                "long_name": "why the vector is invalid",
                "flag_values": np.array([r.value for r in Reason], np.int8),
                "flag_meanings": FLAG_MEANINGS,
            },
        )
    return data


def _geolocated_variables(result: DriftResult, layout: _Layout) -> dict[str, xr.Variable]:
    """Start and end lon/lat, displacement (km) and, with a time step, the velocity; all but
    the start NaN where the vector is invalid."""
    var = layout.variable
    lon2, lat2 = _valid_only(result, result.lon2), _valid_only(result, result.lat2)
    data = {
        "lon": var(
            result.lon, standard_name="longitude", units="degrees_east", long_name="start longitude"
        ),
        "lat": var(
            result.lat, standard_name="latitude", units="degrees_north", long_name="start latitude"
        ),
        "lon2": var(lon2, units="degrees_east", long_name="end longitude (image 2)"),
        "lat2": var(lat2, units="degrees_north", long_name="end latitude (image 2)"),
        "displacement": var(
            _valid_only(result, result.displacement_km),
            long_name="sea-ice displacement",
            units="km",
        ),
        "sigma_km": var(
            _valid_only(result, result.sigma_km),
            long_name="standard deviation of each displacement component",
            units="km",
        ),
    }
    if result.speed_ms is not None:
        east, north = east_north_km(result.lon, result.lat, lon2, lat2)
        scale = 1000.0 / result.dt_seconds
        data["speed"] = var(
            _valid_only(result, result.speed_ms), standard_name="sea_ice_speed", units="m s-1"
        )
        data["ve"] = var(east * scale, standard_name="eastward_sea_ice_velocity", units="m s-1")
        data["vn"] = var(north * scale, standard_name="northward_sea_ice_velocity", units="m s-1")
    return data


def _global_attributes(result: DriftResult, attrs: dict | None) -> dict:
    """CF conventions, title, method, processing time, time step, then the caller's `attrs`."""
    return {
        "Conventions": "CF-1.8",
        "title": "Sea-ice drift",
        "method": result.method,
        "processing_seconds": float(result.seconds),
        **({"time_step_seconds": float(result.dt_seconds)} if result.dt_seconds else {}),
        **(attrs or {}),
    }


def drift_dataset(result: DriftResult, attrs: dict | None = None) -> xr.Dataset:
    """The drift result as an xarray Dataset with CF attributes.

    Parameters
    ----------
    result : DriftResult
        What `track` returned; a grid result is written on (y, x), scattered points on `point`.
    attrs : dict, optional
        Extra global attributes (e.g. the source images), after the kit's own.

    Returns
    -------
    xarray.Dataset
        Positions, displacements (NaN where invalid), quality, validity and the reason code of
        invalid vectors; with geolocation also lon/lat (the
        coordinates of every other variable), displacement (km) and, with a time step, speed
        and its eastward/northward components.
    """
    layout = _Layout.of(result)
    data = _vector_variables(result, layout)
    if result.lon is not None:
        data |= _geolocated_variables(result, layout)
        for name in data:
            if name not in ("lon", "lat"):
                data[name].attrs["coordinates"] = "lon lat"
    ds = xr.Dataset(data)
    ds.attrs = _global_attributes(result, attrs)
    return ds


def write_drift_netcdf(result: DriftResult, path, attrs: dict | None = None) -> Path:
    """Write the drift product to `path` (atomically: temporary file, then rename)."""
    path = Path(path)
    ds = drift_dataset(result, attrs)
    encoding = {name: {"zlib": True, "complevel": 4} for name in ds.data_vars}
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, engine="netcdf4", encoding=encoding)
    return path
