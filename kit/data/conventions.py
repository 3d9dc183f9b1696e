"""How a scene file encodes its input values, decided once per file and applied exactly once.

Three conventions exist (`kit.charts.INPUT_SCALINGS`):

| convention | values                                   | no data | who writes it                       |
|------------|------------------------------------------|---------|-------------------------------------|
| standard   | z-scores with `GLOBAL_MEAN_STD`          | 0       | ready-to-train release (DTU)        |
| minmax     | [-1, 1] with `GLOBAL_MIN_MAX`            | 2       | ready-to-train as MMSeaIce used it  |
| physical   | dB, K, degrees, distance index (`UNITS`) | NaN     | raw release, older kit files        |

The rule (`decide_scaling`), in order:

1. an explicit setting (`DataConfig.input_scaling` other than `auto`) wins;
2. attributes: the `variable_fill_value` of the SAR and incidence-angle variables (0 -> standard,
   2 -> minmax, NaN -> physical), and a `polygon_icechart` variable (raw release -> physical).
   Variables whose attributes disagree are an error naming the file and the variables;
3. only when no attribute tells, the values (with a warning): NaN in an input -> physical; every
   input value within [-1, 1] apart from exact 2s -> minmax; otherwise each variable whose values
   clearly fit one of z-scores or physical units votes, and votes that disagree are an error.

`to_zscore` then turns any convention into z-scores with NaN where there is no data, so the kit
standardises exactly once whatever the file holds. NaN counts as no data in every convention (a
stray NaN in a pre-scaled file is masked, never propagated).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import xarray as xr

from kit import charts
from kit.errors import KitError

AUTO = "auto"
#: Settings accepted by `DataConfig.input_scaling`.
SCALING_SETTINGS: tuple[str, ...] = (AUTO, *charts.INPUT_SCALINGS)
#: Rows read per band when values must be looked at (three bands per full-grid variable).
_SAMPLE_ROWS = 32
#: A variable votes for a convention when its median squared z-score under that convention is
#: at most this, and under the other at least `_CLEAR_RATIO` times larger (and above this).
_PLAUSIBLE = 9.0
_CLEAR_RATIO = 4.0


@dataclass(frozen=True)
class Scaling:
    """The convention of one file and how it was decided (for messages and `inspect`)."""

    convention: str
    reason: str
    #: Units of `distance_map` in a physical file: "index" (real files) or "km" (older kit files).
    distance_units: str = "index"


# ---------------------------------------------------------------------------------------------
# Deciding
# ---------------------------------------------------------------------------------------------


def decide_scaling(ds: xr.Dataset, path, setting: str = AUTO) -> Scaling:
    """The input convention of an open scene (see the module docstring for the rule)."""
    if setting not in SCALING_SETTINGS:
        raise KitError(
            f"input_scaling: invalid value {setting!r}; allowed: {', '.join(SCALING_SETTINGS)}"
        )
    distance_units = _distance_units(ds)
    if setting != AUTO:
        return Scaling(setting, "set by input_scaling", distance_units)
    by_attribute = _from_attributes(ds, path)
    if by_attribute is not None:
        return Scaling(by_attribute[0], by_attribute[1], distance_units)
    convention, reason = _from_values(ds, path)
    warnings.warn(
        f"{path}: no {charts.VARIABLE_FILL_ATTRIBUTE} attribute; input scaling '{convention}' "
        f"decided from the values ({reason}). Set input_scaling in the data config to be sure.",
        stacklevel=2,
    )
    return Scaling(convention, f"decided from the values ({reason})", distance_units)


def _distance_units(ds: xr.Dataset) -> str:
    units = ds["distance_map"].attrs.get("units", "") if "distance_map" in ds else ""
    return "km" if str(units).strip().lower() == "km" else "index"


def _fill_convention(value) -> str | None:
    try:
        value = float(np.asarray(value).ravel()[0])
    except (TypeError, ValueError, IndexError):
        return None
    if math.isnan(value):
        return "physical"
    return {0.0: "standard", 2.0: "minmax"}.get(value)


def _from_attributes(ds: xr.Dataset, path) -> tuple[str, str] | None:
    """(convention, reason) from the fill-value attributes, None when no attribute tells."""
    votes: dict[str, list[str]] = {}
    for name in charts.FILL_VALUE_VARIABLES:
        if name in ds and charts.VARIABLE_FILL_ATTRIBUTE in ds[name].attrs:
            value = ds[name].attrs[charts.VARIABLE_FILL_ATTRIBUTE]
            convention = _fill_convention(value)
            if convention is None:
                raise KitError(
                    f"{path}: variable {name} has {charts.VARIABLE_FILL_ATTRIBUTE}={value!r}, "
                    "which is no known convention (0 standard, 2 minmax, NaN physical); "
                    "set input_scaling in the data config"
                )
            votes.setdefault(convention, []).append(f"{name}.{charts.VARIABLE_FILL_ATTRIBUTE}")
    if "polygon_icechart" in ds or charts.RAW_GEO_POINTS_DIM in ds.dims:
        votes.setdefault("physical", []).append("the raw-release layout")
    if len(votes) > 1:
        said = "; ".join(f"{', '.join(names)} say {c}" for c, names in votes.items())
        raise KitError(f"{path}: variables disagree on the input scaling: {said}")
    if not votes:
        return None
    ((convention, sources),) = votes.items()
    return convention, f"from {sources[0]}"


def _input_names(ds: xr.Dataset) -> list[str]:
    return [v for v in charts.SCENE_VARIABLES if v in ds]


def sample_values(ds: xr.Dataset, name: str) -> np.ndarray:
    """Some values of a variable, cheaply: three bands of rows of a full-grid variable, all of
    a coarse one (float64)."""
    var = ds[name]
    if var.ndim != 2 or var.shape[0] <= 4 * _SAMPLE_ROWS:
        return np.asarray(var.values, dtype=np.float64)
    n = var.shape[0]
    bands = [
        np.asarray(var[start : start + _SAMPLE_ROWS].values, dtype=np.float64)
        for start in (n // 4, n // 2, 3 * n // 4 - _SAMPLE_ROWS)
    ]
    return np.concatenate(bands)


def _from_values(ds: xr.Dataset, path) -> tuple[str, str]:
    names = _input_names(ds)
    if not names:
        raise KitError(f"{path}: no input variable to decide the input scaling from")
    samples = {name: sample_values(ds, name) for name in names}
    with_nan = [n for n, v in samples.items() if np.isnan(v).any()]
    if with_nan:
        return "physical", f"NaN in {with_nan[0]}"
    outside = [n for n, v in samples.items() if (np.abs(v[v != 2.0]) > 1.0).any()]
    if not outside:
        return "minmax", "every input value within [-1, 1]"
    votes: dict[str, list[str]] = {}
    for name, values in samples.items():
        vote = _vote(name, values)
        if vote:
            votes.setdefault(vote, []).append(name)
    if len(votes) > 1:
        said = "; ".join(f"{', '.join(v)} look {c}" for c, v in votes.items())
        raise KitError(
            f"{path}: variables disagree on the input scaling ({said}); "
            "set input_scaling in the data config"
        )
    if not votes:
        raise KitError(
            f"{path}: cannot decide the input scaling from the values; "
            f"set input_scaling ({', '.join(charts.INPUT_SCALINGS)}) in the data config"
        )
    ((convention, names),) = votes.items()
    return convention, f"{len(names)} variable(s) such as {names[0]} look {convention}"


def _vote(name: str, values: np.ndarray) -> str | None:
    """`standard` or `physical` when the values clearly fit one and not the other."""
    values = values[(values != 0.0) & np.isfinite(values)]
    if values.size == 0:
        return None
    mean, std = charts.GLOBAL_MEAN_STD[name]
    scores = {
        "standard": float(np.median(values**2)),
        "physical": float(np.median(((values - mean) / std) ** 2)),
    }
    best, other = sorted(scores, key=scores.get)
    if scores[best] <= _PLAUSIBLE and scores[other] >= max(_PLAUSIBLE, _CLEAR_RATIO * scores[best]):
        return best
    return None


# ---------------------------------------------------------------------------------------------
# Applying
# ---------------------------------------------------------------------------------------------


def no_data(values: np.ndarray, name: str, scaling: Scaling) -> np.ndarray:
    """True where a variable's values mean "no data" under the file's convention."""
    values = np.asarray(values)
    missing = ~np.isfinite(values)
    if scaling.convention == "minmax":
        missing |= values == charts.NO_DATA_VALUE["minmax"]
    elif scaling.convention == "standard" and name in charts.FILL_VALUE_VARIABLES:
        missing |= values == charts.NO_DATA_VALUE["standard"]
    return missing


def to_zscore(values: np.ndarray, name: str, scaling: Scaling) -> np.ndarray:
    """A variable as z-scores of `GLOBAL_MEAN_STD` (float32), NaN where there is no data."""
    values = np.asarray(values, dtype=np.float32)
    missing = no_data(values, name, scaling)
    mean, std = charts.GLOBAL_MEAN_STD[name]
    if scaling.convention == "standard":
        z = values.copy()
    elif scaling.convention == "minmax":
        low, high = charts.GLOBAL_MIN_MAX[name]
        physical = low + (values.astype(np.float64) + 1.0) * 0.5 * (high - low)
        z = ((physical - mean) / std).astype(np.float32)
    else:
        if name == "distance_map" and scaling.distance_units == "km":
            values = distance_index(values).astype(np.float32)
        z = (values - np.float32(mean)) / np.float32(std)
    z[missing] = np.nan
    return z


def to_physical(values: np.ndarray, name: str, scaling: Scaling) -> np.ndarray:
    """A variable in its physical units (`kit.charts.UNITS`; float32), NaN where there is no
    data - for looking at a file of any convention in dB, K and degrees."""
    z = to_zscore(values, name, scaling)
    mean, std = charts.GLOBAL_MEAN_STD[name]
    return (z * np.float32(std) + np.float32(mean)).astype(np.float32)


def from_physical(values: np.ndarray, name: str, convention: str) -> np.ndarray:
    """Physical values (NaN = no data) written in `convention` (float32) - the writer's side."""
    values = np.asarray(values, dtype=np.float64)
    missing = ~np.isfinite(values)
    if convention == "physical":
        return values.astype(np.float32)
    if convention == "standard":
        mean, std = charts.GLOBAL_MEAN_STD[name]
        out = ((values - mean) / std).astype(np.float32)
        out[out == 0.0] = np.nextafter(np.float32(0), np.float32(1))  # valid never reads as no data
    elif convention == "minmax":
        low, high = charts.GLOBAL_MIN_MAX[name]
        out = np.clip(2.0 * (values - low) / (high - low) - 1.0, -1.0, 1.0)
    else:
        raise KitError(f"unknown input convention {convention!r}; allowed: {charts.INPUT_SCALINGS}")
    out[missing] = charts.NO_DATA_VALUE[convention]
    return out.astype(np.float32)


def distance_index(km: np.ndarray) -> np.ndarray:
    """Distance to land (km) as the distance index: 0 on land (0 km), 1..41 further out."""
    km = np.asarray(km, dtype=np.float64)
    index = 1 + np.searchsorted(np.asarray(charts.DISTANCE_INDEX_EDGES_KM), km, side="left")
    index = np.where(km <= 0.0, 0, index).astype(np.float64)
    return np.where(np.isfinite(km), index, np.nan)


def stored_units(name: str, convention: str, distance_units: str = "index") -> str:
    """Units of a variable's values in a file of `convention`: `kit.charts.SCALED_UNITS` for the
    pre-scaled conventions, else its physical units (`kit.charts.UNITS`; `distance_map`:
    `distance_units`, "index" or "km" in older kit files).

    Examples
    --------
    >>> [stored_units("distance_map", c) for c in charts.INPUT_SCALINGS]
    ['z-score', 'scaled [-1, 1]', 'index']
    """
    if convention in charts.SCALED_UNITS:
        return charts.SCALED_UNITS[convention]
    if name == "distance_map":
        return distance_units
    return charts.UNITS.get(name, "")


def display_units(name: str, scaling: Scaling) -> str:
    """Units of a variable as stored in a file of this convention (for `inspect`)."""
    return stored_units(name, scaling.convention, scaling.distance_units)


def file_scaling(path, setting: str = AUTO) -> Scaling:
    """The input convention of a scene file (opens it; attributes are usually enough)."""
    from kit.data.scene import open_netcdf

    ds = open_netcdf(path)
    try:
        return decide_scaling(ds, path, setting)
    finally:
        ds.close()
