"""AMSR2 brightness temperatures, ERA5 fields on the 2 km grid, and the geolocation tie
points (step 5 of `kit.data.synthetic.scene`)."""

from __future__ import annotations

import math

import cv2
import numpy as np

from kit import charts
from kit.data.synthetic.polygons import resize, smooth_noise
from kit.data.synthetic.sar import Surface
from kit.data.synthetic.spec import FREEZE_UP, MELT, MINIMUM, WINTER, SceneSpec

# 5. AMSR2, ERA5, geolocation
# ---------------------------------------------------------------------------------------------

#: Brightness temperature (K) per surface (rows: water, SOD 1..5, land) and AMSR2 channel
#: (columns in kit.charts.AMSR2_VARIABLES order: 6.9h, 6.9v, 7.3h, 7.3v, ... 89.0h, 89.0v).
_TB = np.array(
    [
        [80, 155, 81, 156, 87, 162, 105, 185, 125, 200, 140, 210, 195, 240],  # water
        [180, 225, 182, 226, 188, 230, 200, 235, 205, 236, 205, 235, 215, 232],  # new ice
        [215, 240, 216, 240, 220, 243, 225, 245, 225, 244, 222, 241, 220, 235],  # young ice
        [230, 248, 230, 248, 232, 249, 233, 249, 232, 248, 228, 245, 222, 236],  # thin FYI
        [235, 252, 235, 252, 236, 252, 236, 251, 234, 249, 230, 246, 222, 236],  # thick FYI
        [225, 245, 224, 244, 220, 240, 205, 228, 200, 222, 185, 208, 175, 195],  # old ice
        [245, 258, 245, 258, 244, 257, 242, 255, 240, 252, 236, 248, 230, 244],  # land
    ],
    dtype=np.float32,
)
#: Footprint blur (2 km cells, Gaussian sigma) per frequency, one per channel pair.
_FOOTPRINT = (5.0, 5.0, 3.5, 2.2, 2.0, 1.2, 0.6)


def grid_2km_shape(shape: tuple[int, int]) -> tuple[int, int]:
    """Shape of the 2 km grid of a SAR grid as in the real files: floor(n / 25) cells per axis
    (at least 1)."""
    return tuple(max(1, n // charts.PIXELS_PER_2KM) for n in shape)


def make_era5(
    rng: np.random.Generator, spec: SceneSpec, shape2: tuple[int, int], ice_share: float
) -> dict[str, np.ndarray]:
    """Smooth ERA5 fields on the 2 km grid (plausible for the season, latitude and ice)."""
    big = max(shape2) * 1.5

    def smooth(amplitude: float) -> np.ndarray:
        return amplitude * smooth_noise(rng, shape2, big)

    u = rng.normal(0.7, 4.5) + smooth(1.5)
    v = rng.normal(0.6, 5.0) + smooth(1.5)
    base = {WINTER: 257.0, MELT: 273.0, MINIMUM: 274.0, FREEZE_UP: 264.0}[spec.season]
    t2m = base - 0.35 * (spec.latitude - 70.0) - 5.0 * ice_share + rng.normal(0, 3.0) + smooth(1.2)
    skt = t2m - 1.0 * ice_share + rng.normal(0, 1.0) + smooth(0.8)
    tcwv = np.maximum(0.5, 2.0 + 0.4 * (t2m - 250.0) + rng.normal(0, 1.5) + smooth(0.8))
    tclw = np.maximum(0.0, rng.gamma(1.0, 0.04) + smooth(0.02))
    return {
        "u10m_rotated": u, "v10m_rotated": v, "t2m": t2m, "skt": skt, "tcwv": tcwv, "tclw": tclw,
    }  # fmt: skip


def make_amsr2(
    rng: np.random.Generator,
    surface: Surface,
    land: np.ndarray,
    shape2: tuple[int, int],
    era5: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """AMSR2 brightness temperatures on the 2 km grid, mixed from surface fractions."""
    fractions = [resize(~surface.ice & ~land, shape2, area=True)]
    for cls in range(1, 6):
        fractions.append(resize(surface.ice & (surface.sod == cls), shape2, area=True))
    fractions.append(resize(land, shape2, area=True))
    stack = np.stack(fractions, axis=-1)
    stack /= np.maximum(stack.sum(axis=-1, keepdims=True), 1e-6)
    tb = stack @ _TB  # (h2, w2, 14)
    wind = np.hypot(era5["u10m_rotated"], era5["v10m_rotated"])
    water = stack[..., 0]
    out = {}
    for k, name in enumerate(charts.AMSR2_VARIABLES):
        freq = k // 2
        band = tb[..., k].copy()
        band += water * (0.9 if name.endswith("h") else 0.3) * wind * (freq >= 3)
        if freq in (4, 6):  # 23.8 and 89 GHz see water vapour
            band += (1.5 if freq == 4 else 1.0) * era5["tcwv"] * (0.3 + 0.7 * water)
        band = cv2.GaussianBlur(band, (0, 0), _FOOTPRINT[freq], borderType=cv2.BORDER_REPLICATE)
        band += rng.normal(0, 0.6, shape2).astype(np.float32)
        out[name] = band
    return out


def geolocation(spec: SceneSpec, shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """Latitude and longitude on the 21 x 21 tie-point grid, (line, sample) order, spread
    evenly from the first to the last SAR pixel as in the real ready-to-train files."""
    h, w = shape
    points = charts.GEO_GRID_POINTS
    lines = np.linspace(0, h - 1, points)
    samples = np.linspace(0, w - 1, points)
    line2d, sample2d = np.meshgrid(lines, samples, indexing="ij")
    km = charts.PIXEL_SPACING_M / 1000.0
    y = (line2d - (h - 1) / 2) * km  # along track
    x = (sample2d - (w - 1) / 2) * km  # across track
    heading = math.radians(spec.heading)
    north = y * math.cos(heading) - x * math.sin(heading)
    east = y * math.sin(heading) + x * math.cos(heading)
    lat = spec.latitude + north / 111.32
    lon = spec.longitude + east / (111.32 * np.cos(np.radians(lat)))
    lon = (lon + 180.0) % 360.0 - 180.0
    return {charts.LATITUDE: lat.astype(np.float64), charts.LONGITUDE: lon.astype(np.float64)}
