"""SIGRID-3 egg codes for the chart polygons, drawn from the class shares of a real training
scene (step 2 of `kit.data.synthetic.scene`)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from kit import charts
from kit.data.synthetic.spec import WINTER, SceneSpec

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
