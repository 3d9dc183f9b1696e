"""The drift product: a CF-style netCDF file of vectors, their quality and (when known) lon/lat.

Vectors on a regular grid are written on (y, x) dimensions, scattered points on a `point`
dimension. Pixel displacements are always there; with geolocation the start and end lon/lat, the
displacement in km and, with a time step, the speed and its eastward/northward components.
The file is written under a temporary name and moved into place, so a failed write loses nothing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from kit.atomic import atomic_path
from kit.drift.track import EARTH_RADIUS_KM, DriftResult


def east_north_km(lon1, lat1, lon2, lat2) -> tuple[np.ndarray, np.ndarray]:
    """Eastward and northward displacement (km) between two positions (local flat-Earth)."""
    dlon = (np.asarray(lon2) - np.asarray(lon1) + 180.0) % 360.0 - 180.0
    lat_mid = np.radians((np.asarray(lat1) + np.asarray(lat2)) / 2)
    east = EARTH_RADIUS_KM * np.radians(dlon) * np.cos(lat_mid)
    north = EARTH_RADIUS_KM * np.radians(np.asarray(lat2) - np.asarray(lat1))
    return east, north


def drift_dataset(result: DriftResult, attrs: dict | None = None) -> xr.Dataset:
    """The drift result as an xarray Dataset with CF attributes."""
    dims: tuple[str, ...] = ("y", "x") if result.grid_shape else ("point",)
    shape = result.grid_shape or (result.x.size,)

    def var(values, **attributes):
        return xr.Variable(dims, np.asarray(values, dtype=np.float32).reshape(shape), attributes)

    data = {
        "col": var(result.x, long_name="column of the point in image 1", units="1"),
        "row": var(result.y, long_name="row of the point in image 1", units="1"),
        "u": var(result.u, long_name="displacement along image columns", units="pixel"),
        "v": var(result.v, long_name="displacement along image rows", units="pixel"),
        "quality": var(result.quality, long_name="peak normalised cross-correlation", units="1"),
        "sharpness": var(
            result.sharpness, long_name="peak correlation minus best rival correlation", units="1"
        ),
        "valid": xr.Variable(
            dims,
            result.valid.reshape(shape).astype(np.int8),
            {
                "long_name": "vector passed the quality checks",
                "flag_values": np.array([0, 1], np.int8),
                "flag_meanings": "invalid valid",
            },
        ),
    }
    if result.lon is not None:
        data["lon"] = var(
            result.lon, standard_name="longitude", units="degrees_east", long_name="start longitude"
        )
        data["lat"] = var(
            result.lat, standard_name="latitude", units="degrees_north", long_name="start latitude"
        )
        data["lon2"] = var(result.lon2, units="degrees_east", long_name="end longitude (image 2)")
        data["lat2"] = var(result.lat2, units="degrees_north", long_name="end latitude (image 2)")
        data["displacement"] = var(
            result.displacement_km, long_name="sea-ice displacement", units="km"
        )
        if result.speed_ms is not None:
            east, north = east_north_km(result.lon, result.lat, result.lon2, result.lat2)
            scale = 1000.0 / result.dt_seconds
            data["speed"] = var(result.speed_ms, standard_name="sea_ice_speed", units="m s-1")
            data["ve"] = var(east * scale, standard_name="eastward_sea_ice_velocity", units="m s-1")
            data["vn"] = var(
                north * scale, standard_name="northward_sea_ice_velocity", units="m s-1"
            )
        for name in data:
            if name not in ("lon", "lat"):
                data[name].attrs["coordinates"] = "lon lat"
    ds = xr.Dataset(data)
    ds.attrs = {
        "Conventions": "CF-1.8",
        "title": "Sea-ice drift",
        "method": result.method,
        "processing_seconds": float(result.seconds),
        **({"time_step_seconds": float(result.dt_seconds)} if result.dt_seconds else {}),
        **(attrs or {}),
    }
    return ds


def write_drift_netcdf(result: DriftResult, path, attrs: dict | None = None) -> Path:
    """Write the drift product to `path` (atomically: temporary file, then rename)."""
    path = Path(path)
    ds = drift_dataset(result, attrs)
    encoding = {name: {"zlib": True, "complevel": 4} for name in ds.data_vars}
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, engine="netcdf4", encoding=encoding)
    return path
