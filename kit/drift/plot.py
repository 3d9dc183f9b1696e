"""Quiver plot of drift vectors over the first SAR image (a bare matplotlib Figure, so a
notebook's backend is left alone).

Arrows are drawn in image pixels (`angles="xy", scale_units="xy"`): at true length when they
are long enough to see, else magnified by a stated factor; a scale key (`quiverkey`) gives a
reference length in pixels, or in km for geolocated pairs (lower left). The colour scale spans the 2nd to
98th percentile of the drawn arrows, so a few outliers cannot flatten it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kit.atomic import atomic_path
from kit.drift.track import DriftResult

#: Shortest median arrow (as a share of the grid spacing) drawn without magnification.
MIN_ARROW_SHARE = 0.5


def nice_number(value: float) -> float:
    """The largest of 1, 2, 5 x 10^n not above `value` (`value` > 0)."""
    exponent = np.floor(np.log10(value))
    base = 10.0**exponent
    return float(max(m for m in (1.0, 2.0, 5.0) if m * base <= value * (1 + 1e-9)) * base)


def grid_spacing(result: DriftResult) -> float:
    """The spacing of the drift points (px): the smallest step between distinct columns."""
    steps = np.diff(np.unique(np.asarray(result.x, float)))
    return float(steps.min()) if steps.size else 32.0


def magnification(lengths: np.ndarray, spacing: float) -> float:
    """1 when the median arrow is visible at true length, else a 1-2-5 factor that draws it at
    about 0.8 of the grid spacing."""
    lengths = lengths[np.isfinite(lengths) & (lengths > 0)]
    if not lengths.size or np.median(lengths) >= MIN_ARROW_SHARE * spacing:
        return 1.0
    return nice_number(0.8 * spacing / np.median(lengths))


def _arrows(result: DriftResult):
    """(du, dv) in pixels, their colour values, colour bar label and km per pixel (or None)."""
    if result.u_ice is not None and result.displacement_km is not None:
        du, dv = result.u_ice, result.v_ice
        pixels = np.hypot(du, dv)
        ratio = result.displacement_km / np.where(pixels > 0, pixels, np.nan)
        ok = np.isfinite(ratio) & result.valid
        km_per_px = float(np.median(ratio[ok])) if ok.any() else None
        return du, dv, result.displacement_km, "ice displacement (km)", km_per_px
    return result.u, result.v, np.hypot(result.u, result.v), "displacement (pixels)", None


def quiver_plot(
    image_db: np.ndarray,
    result: DriftResult,
    path,
    title: str | None = None,
    keep: np.ndarray | None = None,
) -> Path:
    """Save `quiver_figure` at `path` (PNG unless the suffix names another format)."""
    fig = quiver_figure(image_db, result, title, keep)
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format=path.suffix.lstrip(".") or "png")
    return path


def quiver_figure(
    image_db: np.ndarray,
    result: DriftResult,
    title: str | None = None,
    keep: np.ndarray | None = None,
):
    """The vectors in `keep` (default: the valid ones) as arrows coloured by displacement over
    image 1, with a scale key; valid vectors left out of `keep` (e.g. inconsistent with their
    neighbours) are orange dots, invalid points small red crosses. A bare Figure, which leaves
    the caller's matplotlib backend alone."""
    import cmocean
    from matplotlib.figure import Figure

    valid = np.asarray(result.valid, bool)
    keep = valid if keep is None else np.asarray(keep, bool) & valid
    du, dv, magnitude, label, km_per_px = _arrows(result)
    spacing = grid_spacing(result)
    factor = magnification(np.hypot(du, dv)[keep], spacing)

    ok = np.isfinite(image_db)
    lo, hi = np.percentile(image_db[ok], [1, 99]) if ok.any() else (0, 1)
    fig = Figure(figsize=(8, 8 * image_db.shape[0] / image_db.shape[1] + 0.8))
    ax = fig.subplots()
    ax.imshow(image_db, cmap="gray", vmin=lo, vmax=hi)
    low, top = np.percentile(magnitude[keep], [2, 98]) if keep.any() else (0.0, 1.0)
    arrows = ax.quiver(
        result.x[keep], result.y[keep], du[keep], dv[keep], magnitude[keep],
        cmap=cmocean.cm.thermal, clim=(low, max(top, low + 1e-6)), angles="xy", scale_units="xy",
        scale=1 / factor, width=0.003,
    )  # fmt: skip
    _scale_key(ax, arrows, np.hypot(du, dv)[keep], km_per_px, factor)
    rejected = valid & ~keep
    if rejected.any():
        ax.plot(result.x[rejected], result.y[rejected], "o", color="orange", markersize=3,
                label=f"inconsistent or isolated ({rejected.sum()})")  # fmt: skip
    if (~valid).any():
        ax.plot(result.x[~valid], result.y[~valid], "x", color="red", markersize=2.5, alpha=0.6,
                label=f"invalid ({(~valid).sum()})")  # fmt: skip
    fig.colorbar(arrows, ax=ax, shrink=0.8, label=label, extend="both")
    scale = "true length" if factor == 1 else f"arrows drawn x{factor:g}"
    ax.set_title(
        title or f"Sea-ice drift ({result.method}): {keep.sum()} of {keep.size} vectors ({scale})",
    )
    ax.set_xlabel("column (pixel)")
    ax.set_ylabel("row (pixel)")
    if (~keep).any():
        ax.legend(loc="lower right", fontsize="small")
    return fig


def _scale_key(ax, arrows, lengths_px: np.ndarray, km_per_px: float | None, factor: float):
    """A `quiverkey` in a white box at the lower left: a 1-2-5 length near 1.5 median arrows,
    in km or pixels, drawn with the arrows' scale."""
    from matplotlib.patches import Rectangle

    lengths_px = lengths_px[np.isfinite(lengths_px) & (lengths_px > 0)]
    median = float(np.median(lengths_px)) if lengths_px.size else 1.0
    if km_per_px:
        key_km = nice_number(1.5 * median * km_per_px)
        length, text = key_km / km_per_px, f"{key_km:g} km"
    else:
        length = nice_number(1.5 * median)
        text = f"{length:g} px"
    if factor != 1:
        text += f" (drawn x{factor:g})"
    left, right = ax.get_xlim()
    share = length * factor / abs(right - left)  # the key arrow's length in axes widths
    box = Rectangle((0.01, 0.01), share + 0.33, 0.07, transform=ax.transAxes, facecolor="white",
                    alpha=0.85, edgecolor="0.5", zorder=4)  # fmt: skip
    ax.add_patch(box)
    key = ax.quiverkey(arrows, 0.03 + share, 0.045, length, f"scale: {text}", labelpos="E",
                       coordinates="axes", fontproperties={"size": "small"})  # fmt: skip
    key.set_zorder(5)
