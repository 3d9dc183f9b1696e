"""Geolocation of drift vectors: where motionless ice falls in image 2 (the geometric first
guess and rotation between two orbits), and vectors in lon/lat, km and m/s (`geolocate`)."""

from __future__ import annotations

import numpy as np

from kit.drift.io import GcpTransform
from kit.drift.result import DriftResult

EARTH_RADIUS_KM = 6371.0


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
