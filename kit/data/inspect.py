"""One-screen text summary of a scene file: attributes, variables, valid fraction, class counts."""

from __future__ import annotations

import os

import numpy as np

from kit import charts
from kit.data.conventions import decide_scaling, display_units, no_data
from kit.data.scene import is_raw, open_netcdf, read_variable


def _histogram(values: np.ndarray, chart: str) -> str:
    counts = np.bincount(values.ravel(), minlength=256)
    total = max(int(counts.sum()), 1)
    parts = [
        f"{k}:{100 * counts[k] / total:.1f}%" for k in range(charts.N_CLASSES[chart]) if counts[k]
    ]
    other = total - int(counts[: charts.N_CLASSES[chart]].sum()) - int(counts[charts.MASK])
    parts.append(f"mask:{100 * counts[charts.MASK] / total:.1f}%")
    if other:
        parts.append(f"invalid:{other}px")
    return " ".join(parts)


def summarise_scene(path: str | os.PathLike, input_scaling: str = "auto") -> str:
    """Text summary of one scene (inputs and/or charts), values in the units the file holds
    them in (z-scores, [-1, 1] or physical units). Raises KitError for bad files."""
    ds = open_netcdf(path)
    try:
        lines = [f"{path}"]
        for key in charts.SCENE_ATTRIBUTES:
            if key in ds.attrs:
                lines.append(f"  {key}: {ds.attrs[key]}")
        lines.append("  dims: " + ", ".join(f"{k}={v}" for k, v in ds.sizes.items()))
        has_inputs = any(v in ds for v in charts.SCENE_VARIABLES)
        scaling = decide_scaling(ds, path, input_scaling) if has_inputs else None
        if scaling is not None:
            layout = "raw release, 40 m" if is_raw(ds) else "ready-to-train"
            lines.append(f"  inputs: {scaling.convention} ({scaling.reason}); {layout}")
        lines.append(f"  {'variable':<22}{'shape':>12} {'valid':>7} {'mean':>9} {'std':>8}")
        for name in [v for v in charts.SCENE_VARIABLES if v in ds]:
            data = read_variable(ds, name, path).astype(np.float64)
            valid = ~no_data(data, name, scaling)
            mean = np.mean(data[valid]) if valid.any() else np.nan
            std = np.std(data[valid]) if valid.any() else np.nan
            shape = "x".join(map(str, data.shape))
            lines.append(
                f"  {name:<22}{shape:>12} {valid.mean():7.1%} {mean:9.2f} {std:8.2f}"
                f"  {display_units(name, scaling)}"
            )
        missing = [v for v in charts.SCENE_VARIABLES if v not in ds]
        if len(missing) == len(charts.SCENE_VARIABLES):
            lines.append("  no input variables (a reference charts file)")
        elif missing:
            lines.append(f"  missing inputs: {', '.join(missing)}")
        for chart in charts.CHARTS:
            if chart in ds:
                values = read_variable(ds, chart, path).astype(np.int64)
                lines.append(f"  {chart:<5} {_histogram(values, chart)}")
        if "polygon_icechart" in ds:
            lines.append("  charts: polygon_icechart + polygon_codes (raw; converted when read)")
        elif not any(c in ds for c in charts.CHARTS):
            lines.append("  no charts (test input or unlabelled scene)")
    finally:
        ds.close()
    return "\n".join(lines)
