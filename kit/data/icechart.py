"""Raw-release polygon ice charts -> the AutoICE SIC / SOD / FLOE charts.

A raw AI4Arctic scene holds `polygon_icechart` (a polygon id per pixel) and `polygon_codes`, a
table of SIGRID-3 egg codes per polygon: its first row is the header (`id;CT;CA;SA;FA;...;
POLY_TYPE`), every other row one polygon. The AutoICE rules, applied per polygon:

- SIC is the total concentration CT as a class 0-10. Water polygons and CT "ice free" give 0 in
  all three charts.
- SOD and FLOE come from the partial concentrations CA/CB/CC of the three thickest ice types
  (CA defaults to CT when only one type is given). Types whose stage (form) falls in the same
  class have their partial concentrations summed; a class is given only if it holds at least
  `DOMINANCE_THRESHOLD` of CT, otherwise the polygon is ambiguous (MASK).
- Not-filled (-9) and unknown (99) codes, land and other polygon types give MASK.

Everything is computed once per polygon and painted with one lookup array indexed by polygon id.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from kit import charts
from kit.errors import KitError

POLYGON_ICECHART = "polygon_icechart"
POLYGON_CODES = "polygon_codes"
_SEPARATOR = ";"
#: Class code used inside this module for "type present but no class" (never written out).
_NO_CLASS = -1


@dataclass(frozen=True)
class PolygonClasses:
    """Chart classes per polygon (rows of the code table), uint8 with MASK where undefined."""

    ids: np.ndarray
    sic: np.ndarray
    sod: np.ndarray
    floe: np.ndarray

    def as_dict(self) -> dict[str, np.ndarray]:
        return {"SIC": self.sic, "SOD": self.sod, "FLOE": self.floe}


#: Header names of the code table that mean the same column (the real raw files say `poly_id`).
_HEADER_ALIASES = {"poly_id": "id"}
#: Columns the chart rules read; the others (CN, CD, CF) may hold free text such as `08-9`.
_USED_COLUMNS = (
    "id", "CT", *charts.PARTIAL_CONCENTRATION_COLUMNS, *charts.STAGE_COLUMNS,
    *charts.FORM_COLUMNS, "POLY_TYPE",
)  # fmt: skip


def parse_polygon_codes(rows) -> dict[str, np.ndarray]:
    """The `polygon_codes` table as columns: integer codes, `POLY_TYPE` as upper-case strings.

    `rows` is a sequence of `;`-separated strings whose first row is the header (`id` or
    `poly_id` first). Only the columns the chart rules use are parsed.
    """
    text = [r.decode() if isinstance(r, bytes) else str(r) for r in np.asarray(rows).ravel()]
    if not text:
        raise KitError("polygon_codes is empty (expected a header row)")
    header = [h.strip() for h in text[0].split(_SEPARATOR)]
    header = [_HEADER_ALIASES.get(h, h) for h in header]
    missing = [c for c in _USED_COLUMNS if c not in header]
    if missing:
        raise KitError(f"polygon_codes header lacks column(s) {', '.join(missing)}")
    cells = [[c.strip() for c in row.split(_SEPARATOR)] for row in text[1:] if row.strip()]
    if any(len(row) != len(header) for row in cells):
        raise KitError(f"polygon_codes has rows without {len(header)} fields")
    table = np.array(cells, dtype=object).reshape(len(cells), len(header))
    columns: dict[str, np.ndarray] = {}
    for i, name in enumerate(header):
        if name == "POLY_TYPE":
            columns[name] = np.char.upper(table[:, i].astype(str))
        elif name in _USED_COLUMNS:
            columns[name] = _as_codes(table[:, i], name)
    return columns


def _as_codes(values: np.ndarray, name: str) -> np.ndarray:
    """Integer codes of one column; empty cells count as not filled."""
    filled = np.where(values == "", str(charts.EGG_NOT_FILLED), values)
    try:
        return filled.astype(float).astype(np.int64)
    except ValueError as exc:
        raise KitError(f"polygon_codes column {name} holds a non-numeric code ({exc})") from exc


def _lookup(codes: np.ndarray, table: dict[int, float], missing: float) -> np.ndarray:
    """Map codes through a dict, `missing` where a code is not in it (vectorised)."""
    keys = np.fromiter(table.keys(), dtype=np.int64)
    values = np.fromiter(table.values(), dtype=float)
    order = np.argsort(keys)
    keys, values = keys[order], values[order]
    pos = np.clip(np.searchsorted(keys, codes), 0, len(keys) - 1)
    return np.where(keys[pos] == codes, values[pos], missing)


def polygon_classes(columns: dict[str, np.ndarray]) -> PolygonClasses:
    """SIC/SOD/FLOE class per polygon from the parsed code table (the AutoICE rules)."""
    ct = _lookup(columns["CT"], charts.CONCENTRATION_TENTHS, np.nan)
    partial = np.stack(
        [_lookup(columns[c], charts.CONCENTRATION_TENTHS, np.nan)
         for c in charts.PARTIAL_CONCENTRATION_COLUMNS],
        axis=1,
    )  # fmt: skip
    # Only one ice type: CA is often left empty and means all of CT.
    single = np.isnan(partial[:, 0]) & (ct > 0)
    partial[single, 0] = ct[single]
    partial = np.nan_to_num(partial, nan=0.0)

    stages = np.stack([columns[c] for c in charts.STAGE_COLUMNS], axis=1)
    forms = np.stack([columns[c] for c in charts.FORM_COLUMNS], axis=1)
    sod_class = _lookup(stages, charts.STAGE_TO_SOD, _NO_CLASS).astype(int)
    floe_class = _lookup(forms, charts.FORM_TO_FLOE, _NO_CLASS).astype(int)

    sod = _dominant_class(partial, sod_class, ct, charts.N_CLASSES["SOD"])
    floe = _dominant_class(partial, floe_class, ct, charts.N_CLASSES["FLOE"])
    no_floe_size = np.isin(forms, charts.FORMS_WITHOUT_FLOE) & (partial > 0)
    floe[no_floe_size.any(axis=1)] = charts.MASK

    sic = np.full(ct.shape, charts.MASK, dtype=np.uint8)
    known = np.isfinite(ct)
    sic[known] = np.floor(np.clip(ct[known], 0, 10) + 0.5).astype(np.uint8)

    poly_type = columns["POLY_TYPE"]
    ice = poly_type == charts.POLY_TYPE_ICE
    water = (poly_type == charts.POLY_TYPE_WATER) | (ice & known & (ct <= 0))
    for chart in (sic, sod, floe):
        chart[~(ice | water)] = charts.MASK  # land and anything else
        chart[water] = charts.WATER_CLASS
    return PolygonClasses(columns["id"], sic, sod, floe)


def _dominant_class(
    partial: np.ndarray, classes: np.ndarray, ct: np.ndarray, n_classes: int
) -> np.ndarray:
    """Per polygon, the class holding >= the dominance threshold of CT once merged, else MASK."""
    onehot = classes[:, :, None] == np.arange(n_classes)[None, None, :]
    share = (partial[:, :, None] * onehot).sum(axis=1)  # (polygons, classes), tenths
    best = share.argmax(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = share.max(axis=1) / ct
    dominant = np.isfinite(fraction) & (fraction >= charts.DOMINANCE_THRESHOLD - 1e-9)
    return np.where(dominant, best, charts.MASK).astype(np.uint8)


def paint(polygon_ids: np.ndarray, ids: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Chart image: each pixel gets its polygon's value (MASK for ids not in the table / NaN)."""
    polygon_ids = np.asarray(polygon_ids)
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(polygon_ids) & (polygon_ids >= 0)
    top = int(max(np.max(polygon_ids, where=valid, initial=0), ids.max(initial=0))) + 1
    pixel_ids = np.where(valid, polygon_ids, top).astype(np.int64)
    lut = np.full(top + 1, charts.MASK, dtype=np.uint8)  # entry `top`: pixels without polygon
    keep = ids >= 0
    lut[ids[keep]] = values[keep]
    return lut[pixel_ids]


def convert_polygon_icechart(scene: xr.Dataset) -> xr.Dataset:
    """The scene with SIC, SOD and FLOE (uint8, MASK = 255) added from its polygon ice chart."""
    for name in (POLYGON_ICECHART, POLYGON_CODES):
        if name not in scene:
            where = scene.encoding.get("source", "scene")
            raise KitError(f"{where}: no {name} variable (not a raw-release scene?)")
    classes = polygon_classes(parse_polygon_codes(scene[POLYGON_CODES].values))
    ids_image = scene[POLYGON_ICECHART]
    painted = {
        chart: xr.DataArray(
            paint(ids_image.values, classes.ids, values),
            dims=ids_image.dims,
            attrs={"long_name": f"{chart} chart", "mask_value": charts.MASK},
        )
        for chart, values in classes.as_dict().items()
    }
    return scene.assign(painted)
