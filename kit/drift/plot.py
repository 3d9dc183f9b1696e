"""Quiver plot of drift vectors over the first SAR image (a bare matplotlib Figure, so a
notebook's backend is left alone)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kit.atomic import atomic_path
from kit.drift.track import DriftResult


def quiver_plot(image_db: np.ndarray, result: DriftResult, path, title: str | None = None) -> Path:
    """Save valid vectors as arrows (coloured by displacement) over image 1; invalid points are
    small red crosses. Without geolocation the arrows are the pixel displacement at true length;
    with it, the ice motion (viewing geometry removed), scaled to be visible."""
    import cmocean
    from matplotlib.figure import Figure  # a bare Figure leaves the caller's backend alone

    path = Path(path)
    ok = np.isfinite(image_db)
    lo, hi = np.percentile(image_db[ok], [1, 99]) if ok.any() else (0, 1)
    fig = Figure(figsize=(8, 8 * image_db.shape[0] / image_db.shape[1] + 0.5))
    ax = fig.subplots()
    ax.imshow(image_db, cmap="gray", vmin=lo, vmax=hi)
    v = result.valid
    if result.u_ice is not None:  # geolocated: ice motion, arrows scaled to be visible
        du, dv = result.u_ice, result.v_ice
        magnitude, label = result.displacement_km, "displacement (km)"
        scaling = {"scale": None}
    else:  # pixel displacement at true length
        du, dv = result.u, result.v
        magnitude, label = np.hypot(du, dv), "displacement (pixels)"
        scaling = {"scale": 1, "scale_units": "xy"}
    arrows = ax.quiver(
        result.x[v],
        result.y[v],
        du[v],
        dv[v],
        magnitude[v],
        cmap=cmocean.cm.thermal,
        angles="xy",
        width=0.003,
        **scaling,
    )
    ax.plot(result.x[~v], result.y[~v], "x", color="red", markersize=3, label="invalid")
    fig.colorbar(arrows, ax=ax, shrink=0.8, label=label)
    ax.set_title(title or f"Sea-ice drift ({result.method}): {v.sum()} of {v.size} vectors valid")
    ax.set_xlabel("column (pixel)")
    ax.set_ylabel("row (pixel)")
    if (~v).any():
        ax.legend(loc="lower right")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format=path.suffix.lstrip(".") or "png")
    return path
