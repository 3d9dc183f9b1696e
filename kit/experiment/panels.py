"""Per-scene PNG panels: the SAR image beside the predicted (and optionally reference) charts.

SIC uses cmocean's `ice` map in 11 steps, SOD and FLOE the class colours of `kit.charts`; every
colour bar is labelled with the class names. MASK pixels (no label: land, no data, ambiguous)
and, on predicted charts, land and no-data pixels are drawn light grey, with a legend entry.
The SAR has a colour bar in dB. With a reference, each chart's title carries the scene's
score. With confidence maps (`autoice predict --uncertainty ... --png`), a row below the
predictions shows each chart's confidence in the written class (magma: dark is doubtful).
Large scenes are subsampled for drawing only.
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
from matplotlib.patches import Patch

from kit import charts
from kit.atomic import atomic_path

#: Longest side, in pixels, of what is drawn for each panel.
MAX_DRAWN_SIDE = 800
MASKED_COLOUR = "#d9d9d9"
#: Colour map of the confidence row (dark: doubtful).
CONFIDENCE_COLOUR_MAP = "magma"
#: Legend label of the grey pixels of a reference chart and of a predicted one.
REFERENCE_MASK_LABEL = "no label (land, no data)"
PREDICTED_MASK_LABEL = "land / no data"


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


def draw_chart(
    ax,
    chart: str,
    values: np.ndarray,
    title: str | None = None,
    masked: np.ndarray | None = None,
    mask_label: str = REFERENCE_MASK_LABEL,
) -> None:
    """Draw a chart's class map on `ax` with a colour bar labelled with the class names.

    MASK pixels, and those where `masked` is True, are grey with a legend entry `mask_label`.
    """
    fig = ax.figure
    cmap, norm = chart_colour_map(chart)
    values = np.asarray(values)
    hidden = values == charts.MASK
    if masked is not None:
        hidden = hidden | np.asarray(masked, dtype=bool)
    shown = np.ma.masked_array(_thin(values), mask=_thin(hidden))
    image = ax.imshow(shown, cmap=cmap, norm=norm, interpolation="nearest")
    bar = fig.colorbar(image, ax=ax, ticks=np.arange(charts.N_CLASSES[chart]), shrink=0.8)
    bar.ax.set_yticklabels(charts.CLASS_NAMES[chart], fontsize=7)
    ax.set_title(chart if title is None else title)
    if hidden.any():
        grey = Patch(facecolor=MASKED_COLOUR, edgecolor="0.5", label=mask_label)
        ax.legend(handles=[grey], loc="lower left", fontsize=7, framealpha=0.8)


def draw_confidence(ax, chart: str, confidence: np.ndarray) -> None:
    """Draw a chart's confidence map (percent 0-100 of the written class, MASK where nothing is
    written) on `ax`, MASK grey, with a colour bar in percent.

    Examples
    --------
    >>> figure = Figure()
    >>> ax = figure.subplots()
    >>> draw_confidence(ax, "SOD", np.array([[100, 40], [255, 0]], dtype=np.uint8))
    >>> ax.get_title(), figure.axes[-1].get_ylabel()
    ('SOD confidence', 'confidence of the written class (%)')
    """
    values = _thin(np.asarray(confidence))
    shown = np.ma.masked_array(values, mask=values == charts.MASK)
    cmap = colormaps[CONFIDENCE_COLOUR_MAP].with_extremes(bad=MASKED_COLOUR)
    image = ax.imshow(shown, cmap=cmap, vmin=0, vmax=charts.PERCENT_MAX, interpolation="nearest")
    ax.figure.colorbar(image, ax=ax, shrink=0.8, label="confidence of the written class (%)")
    ax.set_title(f"{chart} confidence")


def draw_sar(
    ax, sar: np.ndarray, title: str = "SAR (HH)", unit: str = "dB", shrink: float = 0.8
) -> None:
    """Draw a SAR image in grey with a 2-98 % percentile stretch and a colour bar in `unit`;
    no-data (NaN) light grey."""
    sar = _thin(np.asarray(sar, dtype=np.float32))
    finite = sar[np.isfinite(sar)]
    low, high = np.percentile(finite, (2, 98)) if finite.size else (0.0, 1.0)
    cmap = colormaps["gray"].with_extremes(bad=MASKED_COLOUR)
    image = ax.imshow(np.ma.masked_invalid(sar), cmap=cmap, vmin=low, vmax=high)
    ax.figure.colorbar(image, ax=ax, shrink=shrink, label=unit, extend="both")
    ax.set_title(title)


def scene_scores(
    predicted: Mapping[str, np.ndarray], reference: Mapping[str, np.ndarray]
) -> dict[str, float]:
    """The challenge scores (percent) of one scene's charts, and `combined` when all three are
    there; a chart with no labelled reference pixel is left out."""
    from scoring.metrics import chart_score, counts_from_histogram, joint_histogram

    scores = {}
    for chart in charts.CHARTS:
        if chart not in predicted or chart not in reference:
            continue
        ref = np.asarray(reference[chart], dtype=np.uint8)
        if not (ref != charts.MASK).any():
            continue
        hist = joint_histogram(ref, np.asarray(predicted[chart], dtype=np.uint8))
        scores[chart] = 100.0 * chart_score(counts_from_histogram(hist, chart), chart)
    if all(c in scores for c in charts.CHARTS):
        scores["combined"] = charts.combined_score(scores)
    return scores


def score_title(chart: str, score: float | None) -> str:
    """`SIC predicted (R² 83.1)`: a predicted chart's title with its metric and score."""
    if score is None:
        return f"{chart} predicted"
    metric = charts.METRIC_NAMES[charts.METRICS[chart]]
    return f"{chart} predicted ({metric} {score:.1f})"


def scene_backdrop(
    path: str | os.PathLike, input_scaling: str = "auto"
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """HH backscatter (dB, NaN = no data) and land (distance index 0) of a scene on its 80 m
    grid, whatever its convention (raw scenes averaged to 80 m); None for a missing variable.
    `input_scaling` is the data config's setting: `auto` decides on the file itself, anything
    else forces the convention, as it does for the model's inputs."""
    from kit.data import file_scaling, open_scene, to_physical
    from kit.data.scene import open_netcdf, read_variable

    scaling = file_scaling(path, input_scaling)  # as the model's inputs were read
    probe = open_netcdf(path)
    try:
        present = [n for n in (charts.SAR_VARIABLES[0], "distance_map") if n in probe]
    finally:
        probe.close()
    ds = open_scene(path, variables=present)
    try:
        found = {
            name: to_physical(read_variable(ds, name, path), name, scaling) for name in present
        }
    finally:
        ds.close()
    index = found.get("distance_map")
    land = None if index is None else np.isfinite(index) & (index < 0.5)
    return found.get(charts.SAR_VARIABLES[0]), land


def scene_panel_figure(
    scene_id: str,
    sar: np.ndarray,
    predicted: Mapping[str, np.ndarray],
    reference: Mapping[str, np.ndarray] | None = None,
    masked: np.ndarray | None = None,
    sar_unit: str = "dB",
    confidence: Mapping[str, np.ndarray] | None = None,
) -> Figure:
    """The panel as a bare Figure: SAR and each predicted chart; a row with each chart's
    confidence if given (`draw_confidence`), and one with the reference if given (the SAR
    spans every row). `masked` (land, no data) is greyed on the predicted charts; with a
    reference, titles carry the scene's scores."""
    chart_names = [c for c in charts.CHARTS if c in predicted]
    scores = scene_scores(predicted, reference) if reference else {}
    layout = [["SAR", *(f"{c} predicted" for c in chart_names)]]
    if confidence:
        layout.append(["SAR", *(f"{c} confidence" for c in chart_names)])
    if reference:
        layout.append(["SAR", *(f"{c} reference" for c in chart_names)])
    rows = len(layout)
    # A bare Figure draws with Agg without switching pyplot's backend (notebooks keep theirs).
    fig = Figure(figsize=(4.4 * (1 + len(chart_names)), 3.9 * rows))
    axes = fig.subplot_mosaic(layout)
    draw_sar(axes["SAR"], sar, unit=sar_unit, shrink=0.8 / rows)
    for chart in chart_names:
        draw_chart(axes[f"{chart} predicted"], chart, predicted[chart],
                   score_title(chart, scores.get(chart)), masked, PREDICTED_MASK_LABEL)  # fmt: skip
        if confidence:
            if chart in confidence:
                draw_confidence(axes[f"{chart} confidence"], chart, confidence[chart])
            else:
                axes[f"{chart} confidence"].set_axis_off()
        if reference:
            draw_chart(axes[f"{chart} reference"], chart, reference[chart], f"{chart} reference")
    for ax in axes.values():
        ax.set_xticks([])
        ax.set_yticks([])
    combined = f" - combined score {scores['combined']:.1f}" if "combined" in scores else ""
    fig.suptitle(scene_id + combined)
    fig.tight_layout()
    return fig


def save_scene_panel(
    path: str | os.PathLike,
    scene_id: str,
    sar: np.ndarray,
    predicted: Mapping[str, np.ndarray],
    reference: Mapping[str, np.ndarray] | None = None,
    masked: np.ndarray | None = None,
    sar_unit: str = "dB",
    confidence: Mapping[str, np.ndarray] | None = None,
) -> Path:
    """Save `scene_panel_figure` as a PNG at `path` (written atomically)."""
    fig = scene_panel_figure(scene_id, sar, predicted, reference, masked, sar_unit, confidence)
    path = Path(path)
    with atomic_path(path) as temporary:
        fig.savefig(temporary, dpi=90, format="png")
    return path
