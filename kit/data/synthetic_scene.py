"""One synthetic AutoICE scene: land, polygon ice chart with egg codes, and the physics of the inputs.

The recipe, in the order it runs:

1. Land and sea: a smooth random field thresholded into a coastline, cut by fjords, or no land
   at all; `distance_map` is the distance to it, written as the distance index (0 on land).
2. Ice chart: Voronoi polygons with wavy edges over the sea, one land polygon; each sea polygon
   carries a SIGRID-3 egg code drawn from the class shares of the real training scene the spec
   was planned from (`SceneSpec.class_shares`: its ice cover and concentrations from the SIC
   shares, stages from the SOD shares, forms from the FLOE shares) and its place in the pack,
   so the month and the region carry what they carry in the real data. The charts
   SIC/SOD/FLOE come from `convert_polygon_icechart`, so ambiguous polygons are masked exactly as
   in the real data.
3. The "true" surface behind the chart: per pixel, ice or water with the polygon's concentration,
   the ice type drawn from its partial concentrations, and floes whose size follows the form.
4. SAR HH/HV (dB): per-type backscatter with wind-roughened water (bright like ice) and smooth
   new ice (dark like water), incidence-angle trend across range, sub-swath seams, thermal-noise
   floor in HV, speckle, and NaN outside a slanted swath footprint (charts MASK there).
5. AMSR2 brightness temperatures on the 2 km grid mixed from the surface fractions and blurred by
   each channel's footprint; smooth ERA5 fields; lat/lon on the 21 x 21 tie-point grid.

The scene comes out in physical units (dB, K, distance index, NaN = no data); `kit.data.formats`
writes it in each published file convention.

Everything is drawn from one `numpy.random.Generator`, so a scene is fully determined by its seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import cv2
import numpy as np
import xarray as xr
from scipy import ndimage, special

from kit import charts
from kit.data import icechart
from kit.data.conventions import distance_index

# ---------------------------------------------------------------------------------------------
# Season and place
# ---------------------------------------------------------------------------------------------

WINTER, MELT, MINIMUM, FREEZE_UP = "winter", "melt", "minimum", "freeze-up"
_SEASON_OF_MONTH = {
    1: WINTER, 2: WINTER, 3: WINTER, 4: WINTER, 5: WINTER, 6: MELT, 7: MELT,
    8: MINIMUM, 9: MINIMUM, 10: FREEZE_UP, 11: FREEZE_UP, 12: WINTER,
}  # fmt: skip
#: SIGRID-3 stage codes that encode each SOD class, and form codes drawn for each SOD class.
_STAGE_CODES = {1: (81, 82), 2: (83, 84, 85), 3: (87, 88, 89), 4: (91, 93, 86), 5: (95, 96, 97)}
_FORM_CODES = {
    1: ((22, 1, 2), (0.35, 0.15, 0.5)),
    2: ((2, 3, 4), (0.35, 0.4, 0.25)),
    3: ((3, 4, 5, 6), (0.2, 0.35, 0.3, 0.15)),
    4: ((4, 5, 6, 7), (0.15, 0.3, 0.4, 0.15)),
    5: ((4, 5, 6, 7), (0.15, 0.3, 0.35, 0.2)),
}
#: Hidden floe texture of forms that carry no FLOE class (pancake/shuga look like cake ice,
#: fast and level ice like vast floes).
_TEXTURE_OF_FORM = {22: 1, 1: 1, 8: 5, 21: 5}

#: Scene centres per ice service and chart region (lat, lon), for plausible names and lat/lon.
REGIONS: dict[str, dict[str, tuple[float, float]]] = {
    "dmi": {
        "CapeFarewell": (59.8, -44.0), "SouthEast": (63.5, -39.5), "CentralEast": (68.5, -28.0),
        "NorthEast": (76.0, -16.0), "North": (81.5, -25.0), "Qaanaaq": (77.0, -70.0),
        "NorthWest": (73.5, -58.0), "CentralWest": (68.5, -55.0), "SouthWest": (63.0, -51.5),
        "NorthAndCentralEast": (72.0, -20.0),
    },
    "cis": {
        "SGRDIEA": (72.5, -68.0), "SGRDIWA": (72.0, -135.0), "SGRDIHA": (60.0, -85.0),
        "SGRDIFOXE": (67.0, -79.0), "SGRDINFLD": (50.5, -53.0), "SGRDIMID": (71.0, -100.0),
    },
}  # fmt: skip


@dataclass(frozen=True)
class SceneSpec:
    """Everything that names and places one synthetic scene; the pixels follow from `seed`."""

    scene_id: str
    original_id: str
    ice_service: str
    region: str
    acquisition: datetime
    latitude: float
    longitude: float
    heading: float  # degrees, azimuth of the line direction
    seed: int
    shape: tuple[int, int]
    #: Pixel share of each class per chart (SIC 0-10, SOD 0-5, FLOE 0-6; MASK left out) of the
    #: real training scene `source_scene` (data_manifest.csv) that the egg codes follow.
    class_shares: dict[str, tuple[float, ...]]
    source_scene: str = ""

    @property
    def season(self) -> str:
        return _SEASON_OF_MONTH[self.acquisition.month]


@dataclass
class SyntheticScene:
    """A generated scene: inputs, charts, and the raw polygon chart behind them."""

    inputs: xr.Dataset  # the 24 variables (physical units, NaN = no data) + lat/lon, attributes
    charts: xr.Dataset  # SIC, SOD, FLOE (uint8, MASK = 255)
    polygon_icechart: np.ndarray  # polygon id per pixel
    polygon_codes: list[str]  # header + one egg-code row per polygon


# ---------------------------------------------------------------------------------------------
# Random fields
# ---------------------------------------------------------------------------------------------


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], scale: float) -> np.ndarray:
    """Gaussian random field (mean 0, std 1, float32) with correlation length ~`scale` pixels.

    Drawn on a grid coarsened by about scale/2 and upsampled bilinearly, so large scales cost
    little.
    """
    factor = max(1.0, scale / 2.0)
    small = (math.ceil(shape[0] / factor) + 2, math.ceil(shape[1] / factor) + 2)
    field = rng.standard_normal(small, dtype=np.float32)
    sigma = scale / factor
    field = cv2.GaussianBlur(field, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    if factor > 1:
        field = cv2.resize(field, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    else:
        field = field[: shape[0], : shape[1]]
    field -= field.mean()
    field /= field.std() + 1e-6
    return field


def _resize(image: np.ndarray, shape: tuple[int, int], area: bool = False) -> np.ndarray:
    """Resample an image to `shape` (rows, cols): bilinear, or area mean for downsampling."""
    method = cv2.INTER_AREA if area else cv2.INTER_LINEAR
    return cv2.resize(image.astype(np.float32), (shape[1], shape[0]), interpolation=method)


# ---------------------------------------------------------------------------------------------
# 1. Land, sea and distance to land
# ---------------------------------------------------------------------------------------------


def make_land(rng: np.random.Generator, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(land mask, distance to land in km). One in four scenes is open sea with the coast
    beyond the scene edge; the others have a coastline, often with fjords and islands."""
    h, w = shape
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    along = (np.cos(angle) * rows + np.sin(angle) * cols) / max(h, w)  # ~[-1.4, 1.4]
    km = charts.PIXEL_SPACING_M / 1000.0
    if rng.random() < 0.25:
        offset = rng.uniform(10.0, 50.0)
        distance = offset + (along - along.min()) * max(h, w) * km
        return np.zeros(shape, bool), distance.astype(np.float32)

    size = max(h, w)
    field = (
        2.0 * along
        + 0.5 * smooth_noise(rng, shape, size / 5)
        + 0.2 * smooth_noise(rng, shape, size / 18)
    )
    land_share = rng.uniform(0.08, 0.35)
    level = np.quantile(field[:: max(1, h // 100), :: max(1, w // 100)], 1 - land_share)
    land = field > level
    if rng.random() < 0.6:  # fjords: narrow winding channels cut into the land near the coast
        channels = np.abs(smooth_noise(rng, shape, size / 12)) < 0.09
        land &= ~(channels & (field < level + 0.6))
    islands = (smooth_noise(rng, shape, size / 40) > 2.8) & (field > level - 0.5)
    land |= islands
    # Exact Euclidean distance (scipy; OpenCV's threaded version is not bit-reproducible).
    distance = ndimage.distance_transform_edt(~land) * km
    return land, distance.astype(np.float32)


# ---------------------------------------------------------------------------------------------
# 2. Polygon ice chart with egg codes
# ---------------------------------------------------------------------------------------------


def make_polygons(
    rng: np.random.Generator, shape: tuple[int, int], land: np.ndarray
) -> tuple[np.ndarray, int]:
    """Polygon index image (0..n-1 sea polygons, n = the land polygon) and n.

    Voronoi cells of random seeds, computed on a 4x coarser grid with coordinates warped by a
    smooth field so that edges wander like analysts' polygons."""
    h, w = shape
    n = int(np.clip(round(h * w / 260.0**2 * rng.uniform(0.8, 1.6)), 3, 60))
    seeds = rng.uniform(0, 1, (n, 2)) * [h, w]
    coarse = (max(1, h // 4), max(1, w // 4))
    rr, cc = np.mgrid[0 : coarse[0], 0 : coarse[1]].astype(np.float32)
    rr = rr * h / coarse[0] + 0.07 * h * smooth_noise(rng, coarse, coarse[0] / 4)
    cc = cc * w / coarse[1] + 0.07 * w * smooth_noise(rng, coarse, coarse[1] / 4)
    d2 = (rr[..., None] - seeds[:, 0]) ** 2 + (cc[..., None] - seeds[:, 1]) ** 2
    labels = d2.argmin(axis=-1).astype(np.int32)
    labels = cv2.resize(labels, (w, h), interpolation=cv2.INTER_NEAREST)
    labels[land] = n
    return labels, n


@dataclass
class EggCodes:
    """Egg codes per polygon (one row each, columns as kit.charts.POLYGON_CODE_COLUMNS) and the
    hidden truth behind them: ice fraction, partial fractions, true SOD class and floe texture."""

    codes: np.ndarray  # (n, 14) int codes: id, CT, CA, SA, FA, CB, SB, FB, CC, SC, FC, CN, CD, CF
    poly_type: list[str]
    ice_fraction: np.ndarray  # (n,) 0..1
    partial_fraction: np.ndarray  # (n, 3) fractions of the ice per type, sum 1 (or 0)
    true_sod: np.ndarray  # (n, 3) SOD class 1..5 of each type (0 if absent)
    texture: np.ndarray  # (n, 3) floe texture class 1..6 of each type
    bergs: np.ndarray  # (n,) bool: polygon with icebergs


def _concentration_code(tenths: int, rng: np.random.Generator) -> tuple[int, float]:
    """SIGRID-3 code and concentration (tenths) for a concentration, sometimes as a range."""
    if tenths >= 10:
        return (92, 10.0) if rng.random() < 0.3 else (91, 10.0)
    if 2 <= tenths <= 9 and rng.random() < 0.15:
        return 10 * (tenths - 1) + tenths, tenths - 0.5  # e.g. 78: 7-8 tenths
    return 10 * tenths, float(tenths)


def _split_tenths(total: int, n_types: int, rng: np.random.Generator) -> list[int]:
    """Split `total` tenths into n_types positive parts (total >= n_types)."""
    if n_types == 1:
        return [total]
    weights = rng.dirichlet((3.0, 1.0, 0.6)[:n_types])  # usually one clearly dominant type
    parts = np.maximum(1, np.round(weights * total)).astype(int)
    while parts.sum() > total:
        parts[parts.argmax()] -= 1
    while parts.sum() < total:
        parts[parts.argmin()] += 1
    return [int(p) for p in parts]


def _weights(shares: tuple[float, ...], floor: float = 1e-3) -> np.ndarray:
    """Probabilities from class shares (a small floor keeps every class possible)."""
    w = np.asarray(shares, float) + floor
    return w / w.sum()


def _pack_tenths(rng: np.random.Generator, sic_shares: tuple[float, ...], n_ice: int) -> np.ndarray:
    """Concentrations (tenths 1-10) of the ice polygons, deepest in the pack first: drawn from
    the scene's SIC shares of classes 1-10, sorted high to low with some local disorder."""
    tenths = rng.choice(np.arange(1, 11), size=n_ice, p=_weights(sic_shares[1:]))
    order = np.argsort(-(tenths + rng.normal(0, 1.0, n_ice)))
    return tenths[order]


def _form_weights(sod: int, floe_shares: tuple[float, ...]) -> tuple[tuple[int, ...], np.ndarray]:
    """Form codes for a SOD class, their prior weighted by the scene's share of each code's FLOE
    class (forms without a floe size count as cake ice)."""
    forms, prior = _FORM_CODES[sod]
    share = [floe_shares[charts.FORM_TO_FLOE.get(f, 1)] + 0.02 for f in forms]
    w = np.asarray(prior) * share
    return forms, w / w.sum()


def _pack_depth(
    rng: np.random.Generator, labels: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each sea polygon's pixel count (on a 4x coarser grid) and how deep it lies in the ice
    pack: its mean position along a random direction, plus noise."""
    h, w = labels.shape
    counts = np.bincount(labels[::4, ::4].ravel(), minlength=n + 1)[:n]
    rows, cols = np.mgrid[0:h:4, 0:w:4]
    sub = labels[::4, ::4]
    angle = rng.uniform(0, 2 * np.pi)
    proj = np.cos(angle) * rows / h + np.sin(angle) * cols / w
    pack = np.bincount(sub.ravel(), weights=proj.ravel(), minlength=n + 1)[:n] / np.maximum(
        counts, 1
    )
    pack += rng.normal(0, 0.08, n)
    return counts, pack


def _touches_land(labels: np.ndarray, land: np.ndarray, n: int) -> np.ndarray:
    """Which sea polygons reach within 4 pixels of land (where fast ice can form)."""
    touches_land = np.zeros(n, bool)
    if land.any():
        coast = cv2.dilate(land.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool) & ~land
        touches_land[np.unique(labels[coast])] = True
    return touches_land


def _ice_cover(
    rng: np.random.Generator,
    sic_shares: tuple[float, ...],
    counts: np.ndarray,
    pack: np.ndarray,
    n: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Which sea polygons are ice, and their concentration (tenths): the deepest in the pack
    are ice until they cover the scene's ice share by area (polygons cover it by area)."""
    sea_share = counts / max(counts.sum(), 1)
    order = np.argsort(-pack)  # most "pack" first
    covered = np.cumsum(sea_share[order]) - sea_share[order] / 2
    is_ice = np.zeros(n, bool)
    is_ice[order] = covered < 1.0 - sic_shares[0]
    tenths_of = np.zeros(n, int)
    tenths_of[order[is_ice[order]]] = _pack_tenths(rng, sic_shares, int(is_ice.sum()))
    return is_ice, tenths_of


def _blank_eggs(rng: np.random.Generator, n: int) -> EggCodes:
    """Egg codes of n sea polygons and the land polygon: consecutive ids from a random first
    one, every code not filled, every polygon water ("W") but the last, land ("L")."""
    codes = np.full((n + 1, 14), charts.EGG_NOT_FILLED, dtype=np.int64)
    first_id = int(rng.integers(10, 400))
    codes[:, 0] = first_id + np.arange(n + 1)
    return EggCodes(
        codes,
        poly_type=["W"] * n + ["L"],
        ice_fraction=np.zeros(n + 1, np.float32),
        partial_fraction=np.zeros((n + 1, 3), np.float32),
        true_sod=np.zeros((n + 1, 3), np.int64),
        texture=np.ones((n + 1, 3), np.int64),
        bergs=np.zeros(n + 1, bool),
    )


@dataclass(frozen=True)
class _EggPriors:
    """What the source scene's class shares say about its egg codes."""

    floe_shares: tuple[float, ...]
    stage_weights: np.ndarray  # probability of SOD classes 1-5
    n_stages: int  # most ice types per polygon: the real classes (share >= 5 %)
    has_bergs: bool
    winter: bool

    @classmethod
    def of(cls, spec: SceneSpec) -> _EggPriors:
        shares = spec.class_shares
        stage_weights = _weights(shares["SOD"][1:])
        n_stages = max(1, int((stage_weights >= 0.05).sum()))  # secondary types from real classes
        has_bergs = shares["FLOE"][6] > 0
        return cls(shares["FLOE"], stage_weights, n_stages, has_bergs, spec.season == WINTER)


def _code_water(rng: np.random.Generator, eggs: EggCodes, i: int, priors: _EggPriors) -> None:
    """Polygon i is open water: now and then coded as "ice free" or "less than 1/10" on an ice
    polygon; icebergs in some where the scene has them."""
    if rng.random() < 0.2:  # "ice free" / "less than 1/10" coded on an ice polygon
        eggs.poly_type[i] = "I"
        eggs.codes[i, 1] = int(rng.choice([1, 2]))
        eggs.ice_fraction[i] = 0.03
        eggs.partial_fraction[i, 0], eggs.true_sod[i, 0], eggs.texture[i, 0] = 1.0, 1, 1
    eggs.bergs[i] = priors.has_bergs and rng.random() < 0.15


def _stage_code(rng: np.random.Generator, sod: int) -> int:
    """A stage-of-development code of SOD class `sod`; now and then not filled or unknown."""
    stage = int(rng.choice(_STAGE_CODES[sod]))
    if rng.random() < 0.03:
        stage = int(rng.choice([charts.EGG_NOT_FILLED, charts.EGG_UNKNOWN]))
    return stage


def _form_code(
    rng: np.random.Generator,
    sod: int,
    fast: bool,
    all_forms_missing: bool,
    floe_shares: tuple[float, ...],
) -> tuple[int, int]:
    """(form code, true floe texture) of an ice type: fast ice, or drawn from the scene's FLOE
    shares; the code (not the texture) is sometimes not filled."""
    forms, weights = _form_weights(sod, floe_shares)
    form = 8 if fast else int(rng.choice(forms, p=weights))
    texture = _TEXTURE_OF_FORM.get(form, charts.FORM_TO_FLOE.get(form, 3))
    if all_forms_missing or rng.random() < 0.03:
        form = charts.EGG_NOT_FILLED
    return form, texture


def _code_ice(
    rng: np.random.Generator,
    eggs: EggCodes,
    i: int,
    tenths: int,
    coastal: bool,
    priors: _EggPriors,
) -> None:
    """Polygon i is ice of `tenths` concentration: its total concentration, then one to three
    ice types (thickest first) with partial concentration, stage and form."""
    eggs.poly_type[i] = "I"
    fast = coastal and priors.winter and tenths == 10 and rng.random() < 0.35
    eggs.codes[i, 1], conc = _concentration_code(tenths, rng)
    eggs.ice_fraction[i] = conc / 10.0
    n_types = 1 if fast else int(rng.choice([1, 2, 3], p=[0.5, 0.33, 0.17]))
    n_types = min(n_types, tenths, priors.n_stages)
    classes = list(rng.choice(np.arange(1, 6), size=n_types, replace=False, p=priors.stage_weights))
    classes.sort(reverse=True)  # A is the thickest type
    parts = _split_tenths(tenths, n_types, rng)
    parts.sort(reverse=rng.random() < 0.6)
    all_forms_missing = rng.random() < 0.08
    for j, (sod, part) in enumerate(zip(classes, parts)):
        col = 2 + 3 * j  # CA/SA/FA, CB/SB/FB, CC/SC/FC
        if j > 0 or n_types > 1 or rng.random() < 0.35:
            eggs.codes[i, col] = 10 * part if part < 10 else 91
        eggs.codes[i, col + 1] = _stage_code(rng, sod)
        form, texture = _form_code(rng, sod, fast, all_forms_missing, priors.floe_shares)
        eggs.texture[i, j] = texture
        eggs.codes[i, col + 2] = form
        eggs.true_sod[i, j] = sod
        eggs.partial_fraction[i, j] = part
    eggs.partial_fraction[i] /= eggs.partial_fraction[i].sum()


def make_egg_codes(
    rng: np.random.Generator, spec: SceneSpec, labels: np.ndarray, n: int, land: np.ndarray
) -> EggCodes:
    """Draw an egg code per sea polygon.

    The ice pack sits on one side (with a marginal ice zone of lower concentration at its
    edge); ice cover and concentrations follow the SIC shares of the source scene, stages its
    SOD shares, forms its FLOE shares.

    Parameters
    ----------
    rng : numpy.random.Generator
        The scene's generator (the draws, and so the scene, are deterministic in its seed).
    spec : SceneSpec
        The scene: its class shares and season.
    labels : numpy.ndarray
        Polygon index per pixel (0 .. n-1 sea polygons, n land), as from `make_polygons`.
    n : int
        The number of sea polygons.
    land : numpy.ndarray
        Boolean land mask.

    Returns
    -------
    EggCodes
        One row per polygon (the land polygon last) and the truth behind the codes.
    """
    counts, pack = _pack_depth(rng, labels, n)
    coastal = _touches_land(labels, land, n)
    is_ice, tenths_of = _ice_cover(rng, spec.class_shares["SIC"], counts, pack, n)
    eggs = _blank_eggs(rng, n)
    priors = _EggPriors.of(spec)
    for i in range(n):
        if is_ice[i]:
            _code_ice(rng, eggs, i, int(tenths_of[i]), coastal[i], priors)
        else:
            _code_water(rng, eggs, i, priors)
    return eggs


def polygon_code_rows(eggs: EggCodes) -> list[str]:
    """The `polygon_codes` table of the raw release: header row, then one row per polygon."""
    header = ";".join(charts.POLYGON_CODE_COLUMNS)
    rows = [
        ";".join(str(int(v)) for v in row) + f";{kind}"
        for row, kind in zip(eggs.codes, eggs.poly_type)
    ]
    return [header, *rows]


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
    fractions = [_resize(~surface.ice & ~land, shape2, area=True)]
    for cls in range(1, 6):
        fractions.append(_resize(surface.ice & (surface.sod == cls), shape2, area=True))
    fractions.append(_resize(land, shape2, area=True))
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


# ---------------------------------------------------------------------------------------------
# The whole scene
# ---------------------------------------------------------------------------------------------


def generate_scene(spec: SceneSpec) -> SyntheticScene:
    """Generate one scene from its spec (deterministic in `spec.seed`)."""
    rng = np.random.default_rng(spec.seed)
    shape = spec.shape
    shape2 = grid_2km_shape(shape)
    land, distance = make_land(rng, shape)
    labels, n = make_polygons(rng, shape, land)
    eggs = make_egg_codes(rng, spec, labels, n, land)
    surface = make_surface(rng, labels, eggs, land)
    sea = ~land
    ice_share = float(surface.ice.sum() / max(sea.sum(), 1))
    era5 = make_era5(rng, spec, shape2, ice_share)
    wind = np.hypot(
        _resize(era5["u10m_rotated"], shape), _resize(era5["v10m_rotated"], shape)
    ) + 1.2 * smooth_noise(rng, shape, 60.0)
    wind = np.clip(wind, 0.0, 25.0)
    theta = incidence_angle(rng, shape)
    valid = swath_footprint(rng, shape)
    hh, hv = make_sar(rng, surface, land, theta, wind, valid)
    amsr2 = make_amsr2(rng, surface, land, shape2, era5)

    polygon_ids = eggs.codes[labels, 0].astype(np.int32)
    code_rows = polygon_code_rows(eggs)
    raw = xr.Dataset(
        {
            icechart.POLYGON_ICECHART: (charts.SAR_DIMS, polygon_ids),
            icechart.POLYGON_CODES: (("polygon_codes_rows",), np.array(code_rows, dtype=object)),
        }
    )
    chart_ds = icechart.convert_polygon_icechart(raw)[list(charts.CHARTS)]
    for chart in charts.CHARTS:
        chart_ds[chart].values[~valid] = charts.MASK

    geo = geolocation(spec, shape)
    theta = np.where(valid, theta, np.nan).astype(np.float32)
    data = {
        "nersc_sar_primary": (charts.SAR_DIMS, hh),
        "nersc_sar_secondary": (charts.SAR_DIMS, hv),
        "sar_incidenceangle": (charts.SAR_DIMS, theta),
        "distance_map": (charts.SAR_DIMS, distance_index(distance).astype(np.float32)),
        **{k: (charts.GRID_2KM_DIMS, v.astype(np.float32)) for k, v in amsr2.items()},
        **{k: (charts.GRID_2KM_DIMS, np.asarray(v, np.float32)) for k, v in era5.items()},
        **{k: (charts.GEO_GRID_DIMS, v) for k, v in geo.items()},
    }
    inputs = xr.Dataset(data)
    inputs.attrs = {
        "scene_id": spec.scene_id + charts.PREP_SUFFIX,
        "original_id": spec.original_id,
        "ice_service": spec.ice_service,
        "flip": 0,
        "pixel_spacing": charts.PIXEL_SPACING_M,
    }
    return SyntheticScene(inputs, chart_ds, polygon_ids, code_rows)
