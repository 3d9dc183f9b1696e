"""Per-scene PNG panels: the SAR image beside the predicted (and optionally reference) charts.

SIC uses cmocean's `ice` map in 11 steps, SOD and FLOE the class colours of `kit.charts`; every
colour bar is labelled with the class names. MASK pixels are drawn light grey. Large scenes are
subsampled for drawing only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import cmocean  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import BoundaryNorm, ListedColormap  # noqa: E402

from kit import charts  # noqa: E402

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


def _draw_chart(ax, fig, chart: str, values: np.ndarray, title: str) -> None:
    cmap, norm = chart_colour_map(chart)
    values = _thin(np.asarray(values))
    shown = np.ma.masked_where(values == charts.MASK, values)
    image = ax.imshow(shown, cmap=cmap, norm=norm, interpolation="nearest")
    bar = fig.colorbar(image, ax=ax, ticks=np.arange(charts.N_CLASSES[chart]), shrink=0.8)
    bar.ax.set_yticklabels(charts.CLASS_NAMES[chart], fontsize=7)
    ax.set_title(title)


def _draw_sar(ax, sar: np.ndarray) -> None:
    sar = _thin(np.asarray(sar, dtype=np.float32))
    finite = sar[np.isfinite(sar)]
    low, high = np.percentile(finite, (2, 98)) if finite.size else (0.0, 1.0)
    cmap = plt.get_cmap("gray").with_extremes(bad=MASKED_COLOUR)
    ax.imshow(np.ma.masked_invalid(sar), cmap=cmap, vmin=low, vmax=high)
    ax.set_title("SAR (HH)")


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
    fig, axes = plt.subplots(
        rows,
        1 + len(chart_names),
        figsize=(4.2 * (1 + len(chart_names)), 3.8 * rows),
        squeeze=False,
    )
    _draw_sar(axes[0, 0], sar)
    for col, chart in enumerate(chart_names, start=1):
        _draw_chart(axes[0, col], fig, chart, predicted[chart], f"{chart} predicted")
        if reference:
            _draw_chart(axes[1, col], fig, chart, reference[chart], f"{chart} reference")
    if reference:
        axes[1, 0].axis("off")
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(scene_id)
    fig.tight_layout()
    path = Path(path)
    temporary = path.with_name(f".{path.name}.part")
    fig.savefig(temporary, dpi=90, format="png")
    plt.close(fig)
    os.replace(temporary, path)
    return path
