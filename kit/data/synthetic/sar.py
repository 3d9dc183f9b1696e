"""The true surface behind the chart and the SAR image: backscatter, incidence angle,
sub-swaths, thermal noise, speckle and swath footprint (steps 3-4 of
`kit.data.synthetic.scene`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special

from kit.data.synthetic.eggs import EggCodes
from kit.data.synthetic.polygons import smooth_noise

# ---------------------------------------------------------------------------------------------
# 3.-4. The surface and the SAR image
# ---------------------------------------------------------------------------------------------

#: Backscatter per SOD class at 35 degrees: HH dB, HV dB, HH and HV slope (dB/degree), texture
#: amplitude (dB). Index 0 is unused (water has its own wind model).
_ICE_BACKSCATTER = np.array(
    [
        [0.0, 0.0, 0.0, 0.0, 0.0],
        [-20.5, -29.0, -0.40, -0.20, 0.7],  # new ice: smooth, nearly as dark as calm water
        [-13.0, -24.0, -0.28, -0.15, 1.6],  # young ice: bright, rafted
        [-17.0, -26.2, -0.25, -0.12, 1.1],  # thin first-year ice
        [-14.5, -23.2, -0.22, -0.10, 2.0],  # thick first-year ice: ridged
        [-10.0, -19.0, -0.18, -0.08, 2.3],  # old ice: volume scattering, bright in HV
    ],
    dtype=np.float32,
)
#: Floe texture: correlation length (pixels) of the ice/water pattern per FLOE class 1..6.
_FLOE_SCALE = {1: 1.2, 2: 3.0, 3: 7.0, 4: 16.0, 5: 40.0, 6: 2.0}
#: Incidence angles (degrees) of the EW sub-swath boundaries.
_SUBSWATH_EDGES = (26.5, 31.8, 36.6, 41.3)
#: Equivalent number of looks of the 80 m product (speckle strength).
_LOOKS = 8.0


@dataclass
class Surface:
    """The true state per pixel: ice (bool), SOD class 0..5 (0 water), bergs (bool)."""

    ice: np.ndarray
    sod: np.ndarray
    bergs: np.ndarray


def make_surface(
    rng: np.random.Generator, labels: np.ndarray, eggs: EggCodes, land: np.ndarray
) -> Surface:
    """Pixel-level ice and ice type behind the chart (vectorised through polygon lookups).

    A pixel is ice where a Gaussian field lies below the normal quantile of its polygon's
    concentration (so the ice share matches it), with the field's correlation length set by
    the floe size; the ice type is picked the same way from the partial concentrations.
    """
    shape = labels.shape
    with np.errstate(divide="ignore"):
        type_edges = special.ndtri(np.cumsum(eggs.partial_fraction, axis=1)[:, :2])
        ice_edge = special.ndtri(eggs.ice_fraction).astype(np.float32)
    pick = smooth_noise(rng, shape, 18.0)
    kind = (pick > type_edges[labels, 0]).astype(np.int64) + (pick > type_edges[labels, 1])
    texture = eggs.texture[labels, kind]
    floe_field = np.empty(shape, np.float32)
    for cls, scale in _FLOE_SCALE.items():
        where = texture == cls
        if where.any():
            floe_field[where] = smooth_noise(rng, shape, scale)[where]
    ice = (floe_field < ice_edge[labels]) & ~land
    sod = np.where(ice, eggs.true_sod[labels, kind], 0)
    bergs = eggs.bergs[labels] & (smooth_noise(rng, shape, 1.0) > 3.0)
    return Surface(ice=ice, sod=sod, bergs=bergs)


def incidence_angle(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Incidence angle (degrees) rising across range (samples), as in EW mode."""
    near, far = rng.uniform(19.0, 27.0), rng.uniform(39.0, 46.5)
    ramp = np.linspace(near, far, shape[1], dtype=np.float32)
    tilt = np.linspace(-0.3, 0.3, shape[0], dtype=np.float32)[:, None]
    return ramp[None, :] + tilt


def swath_footprint(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Valid-data mask: a slanted strip (the swath edges cross the scene at an angle)."""
    h, w = shape
    rows = np.arange(h, dtype=np.float32)[:, None] / max(h - 1, 1)
    cols = np.arange(w, dtype=np.float32)[None, :] / max(w - 1, 1)
    left = rng.uniform(0.0, 0.08) + rng.uniform(-0.06, 0.06) * rows
    right = 1.0 - rng.uniform(0.0, 0.08) + rng.uniform(-0.06, 0.06) * rows
    valid = (cols >= left) & (cols <= right)
    if rng.random() < 0.3:  # a clipped corner where the chart or the product ends
        valid &= rows + cols > rng.uniform(0.1, 0.3)
    return valid


def make_sar(
    rng: np.random.Generator,
    surface: Surface,
    land: np.ndarray,
    theta: np.ndarray,
    wind_speed: np.ndarray,
    valid: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """HH and HV (dB, float32, NaN outside the swath) from the surface, wind and geometry."""
    shape = land.shape
    dtheta = theta - 35.0
    # Open water: brightness grows with wind speed (Bragg scattering); HV stays near the floor.
    hh = -26.0 + 1.15 * wind_speed - 0.65 * dtheta
    hv = -31.0 + 0.28 * wind_speed - 0.25 * dtheta
    table = _ICE_BACKSCATTER[surface.sod]  # (h, w, 5)
    ridges = smooth_noise(rng, shape, 2.5)
    ice = surface.ice
    hh = np.where(ice, table[..., 0] + table[..., 2] * dtheta + table[..., 4] * ridges, hh)
    hv = np.where(ice, table[..., 1] + table[..., 3] * dtheta + 0.6 * table[..., 4] * ridges, hv)
    hh = np.where(surface.bergs, -4.0, hh)
    hv = np.where(surface.bergs, -13.0, hv)
    relief = smooth_noise(rng, shape, 6.0)
    hh = np.where(land, -8.5 + 3.0 * relief - 0.1 * dtheta, hh)
    hv = np.where(land, -17.5 + 2.5 * relief, hv)

    # Calibration offset, sub-swath seams and the HV thermal-noise floor (scalloped per swath).
    swath = np.digitize(theta, _SUBSWATH_EDGES)
    hh = hh + rng.normal(0, 0.5) + rng.normal(0, 0.25, 5).astype(np.float32)[swath]
    edges = np.array((18.0, *_SUBSWATH_EDGES, 48.0), np.float32)
    position = (theta - edges[swath]) / (edges[swath + 1] - edges[swath])
    floor_db = -31.5 + 1.5 * np.cos(2 * np.pi * position)
    floor_db += rng.normal(0, 0.6, 5).astype(np.float32)[swath]
    hv = 10.0 * np.log10(10 ** (hv / 10) + 0.35 * 10 ** (floor_db / 10))

    # Speckle: log of a gamma variable with `_LOOKS` looks, drawn in dB.
    bias = 10 / np.log(10) * (special.digamma(_LOOKS) - np.log(_LOOKS))
    spread = 10 / np.log(10) * math.sqrt(special.polygamma(1, _LOOKS))
    for band in (hh, hv):
        band += bias + spread * rng.standard_normal(shape, dtype=np.float32)
    hh = np.where(valid, hh, np.nan).astype(np.float32)
    hv = np.where(valid, hv, np.nan).astype(np.float32)
    return hh, hv


# ---------------------------------------------------------------------------------------------
