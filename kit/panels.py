"""Per-scene PNG panels: the SAR image beside the predicted (and optionally reference) charts.

SIC uses cmocean's `ice` map in 11 steps, SOD and FLOE the class colours of `kit.charts`; every
colour bar is labelled with the class names. MASK pixels are drawn light grey. Large scenes are
subsampled for drawing only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import cmocean
import numpy as np
from matplotlib import colormaps
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure

from kit import charts
from kit.atomic import atomic_path

#: Longest side, in pixels, of what is drawn for each panel.
MAX_DRAWN_SIDE = 800
MASKED_COLOUR = "#d9d9d9"


def chart_colour_map(chart: str) -> tuple[ListedColormap, BoundaryNorm]:
    """A discrete colour map and norm with one colour per class of `chart`."""
    n = charts.N_CLASSES[chart]
    if chart == "SIC":
        base = getattr(cmocean.cm, charts.SIC_COLOUR_MAP)
        colours = base(np.linspace(0.0, 1.0, n))
    else:
        colours = list(charts.CLASS_COLOURS[chart])
    cmap = ListedColormap(colours, name=f"autoice_{chart}").with_extremes(bad=MASKED_COLOUR)
    return cmap, BoundaryNorm(np.arange(n + 1) - 0.5, n)


def _thin(image: np.ndarray) -> np.ndarray:
    step = max(1, int(np.ceil(max(image.shape) / MAX_DRAWN_SIDE)))
    return image[::step, ::step]


def draw_chart(ax, chart: str, values: np.ndarray, title: str | None = None) -> None:
    """Draw a chart's class map on `ax` with a colour bar labelled with the class names."""
    fig = ax.figure
    cmap, norm = chart_colour_map(chart)
    values = _thin(np.asarray(values))
    shown = np.ma.masked_where(values == charts.MASK, values)
    image = ax.imshow(shown, cmap=cmap, norm=norm, interpolation="nearest")
    bar = fig.colorbar(image, ax=ax, ticks=np.arange(charts.N_CLASSES[chart]), shrink=0.8)
    bar.ax.set_yticklabels(charts.CLASS_NAMES[chart], fontsize=7)
    ax.set_title(chart if title is None else title)


def draw_sar(ax, sar: np.ndarray, title: str = "SAR (HH)") -> None:
    """Draw a SAR image (dB) in grey with a 2-98 % percentile stretch; no-data light grey."""
    sar = _thin(np.asarray(sar, dtype=np.float32))
    finite = sar[np.isfinite(sar)]
    low, high = np.percentile(finite, (2, 98)) if finite.size else (0.0, 1.0)
    cmap = colormaps["gray"].with_extremes(bad=MASKED_COLOUR)
    ax.imshow(np.ma.masked_invalid(sar), cmap=cmap, vmin=low, vmax=high)
    ax.set_title(title)


def save_scene_panel(
    path: str | os.PathLike,
    scene_id: str,
    sar: np.ndarray,
    predicted: Mapping[str, np.ndarray],
    reference: Mapping[str, np.ndarray] | None = None,
) -> Path:
    """Save a PNG: SAR and each predicted chart; a second row with the reference if given."""
    chart_names = [c for c in charts.CHARTS if c in predicted]
    rows = 2 if reference else 1
    # A bare Figure draws with Agg without switching pyplot's backend (notebooks keep theirs).
    fig = Figure(figsize=(4.2 * (1 + len(chart_names)), 3.8 * rows))
    axes = fig.subplots(rows, 1 + len(chart_names), squeeze=False)
    draw_sar(axes[0, 0], sar)
    for col, chart in enumerate(chart_names, start=1):
        draw_chart(axes[0, col], chart, predicted[chart], f"{chart} predicted")
        if reference:
            draw_chart(axes[1, col], chart, reference[chart], f"{chart} reference")
    if reference:
        axes[1, 0].axis("off")
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(scene_id)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as temporary:
        fig.savefig(temporary, dpi=90, format="png")
    return path
