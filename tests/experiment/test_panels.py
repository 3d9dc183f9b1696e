"""Scene panels: titles with the scene's scores, grey land / no data with a legend entry, a SAR
colour bar with units, and no empty cell."""

import numpy as np
from matplotlib.figure import Figure

from kit import charts
from kit.experiment.panels import (
    PREDICTED_MASK_LABEL,
    REFERENCE_MASK_LABEL,
    draw_chart,
    scene_panel_figure,
    scene_scores,
    score_title,
)


def _maps(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        c: rng.integers(0, charts.N_CLASSES[c], (20, 30)).astype(np.uint8) for c in charts.CHARTS
    }


def _legend_labels(ax) -> list[str]:
    legend = ax.get_legend()
    return [] if legend is None else [t.get_text() for t in legend.get_texts()]


def test_perfect_prediction_scores_100_in_every_title():
    reference = _maps()
    fig = scene_panel_figure("20180124T194759_dmi", np.zeros((20, 30)), reference, reference)
    titles = {ax.get_title() for ax in fig.axes}
    assert {
        "SIC predicted (R² 100.0)",
        "SOD predicted (F1 100.0)",
        "FLOE predicted (F1 100.0)",
    } <= titles
    assert fig._suptitle.get_text() == "20180124T194759_dmi - combined score 100.0"


def test_scene_scores_follow_the_metric():
    reference, predicted = _maps(0), _maps(1)
    scores = scene_scores(predicted, reference)
    assert set(scores) == {*charts.CHARTS, "combined"}
    assert scores["SOD"] < 50  # random classes
    assert scores["combined"] == charts.combined_score(scores)
    assert score_title("FLOE", None) == "FLOE predicted"


def test_land_is_grey_with_a_legend_entry_on_predicted_charts():
    predicted = _maps()
    land = np.zeros((20, 30), bool)
    land[:, :5] = True
    fig = scene_panel_figure("s", np.zeros((20, 30)), predicted, masked=land)
    ax = next(a for a in fig.axes if a.get_title().startswith("SOD"))
    shown = ax.get_images()[0].get_array()
    assert shown.mask[:, :5].all() and not shown.mask[:, 5:].any()
    assert _legend_labels(ax) == [PREDICTED_MASK_LABEL]


def test_no_legend_entry_without_grey_pixels():
    fig = Figure()
    ax = fig.subplots()
    draw_chart(ax, "SIC", _maps()["SIC"])
    assert _legend_labels(ax) == []
    values = _maps()["SIC"]
    values[0, 0] = charts.MASK
    draw_chart(ax, "SIC", values)
    assert _legend_labels(ax) == [REFERENCE_MASK_LABEL]


def test_sar_has_a_colour_bar_with_units_and_no_cell_is_empty():
    sar = np.linspace(-30, 0, 600).reshape(20, 30)
    sar[0, 0] = np.nan
    fig = scene_panel_figure("s", sar, _maps(), _maps())
    labels = [ax.get_ylabel() for ax in fig.axes]
    assert "dB" in labels
    drawn = [ax for ax in fig.axes if ax.get_images()]
    assert len(drawn) == 7  # SAR spanning both rows and 3 x 2 charts: no empty cell
    assert len(fig.axes) == 2 * len(drawn)  # each with its colour bar, nothing else


def test_scene_backdrop_is_the_same_from_the_raw_and_the_ready_to_train_file(tiny_dataset):
    import pandas as pd

    from kit.experiment.panels import scene_backdrop

    row = pd.read_csv(tiny_dataset / "metadata.csv").query("split == 'train'").iloc[0]
    sar, land = scene_backdrop(tiny_dataset / row.input_path)  # z-scores, 0 = no data
    raw_sar, raw_land = scene_backdrop(tiny_dataset / "raw" / row.original_id)  # dB at 40 m
    assert sar.shape == raw_sar.shape == land.shape == (100, 150)
    assert np.isnan(sar).any() and -30 < np.nanmean(sar) < 0  # dB, no data as NaN
    assert np.array_equal(np.isnan(sar), np.isnan(raw_sar))
    assert np.allclose(sar, raw_sar, equal_nan=True, atol=1e-3)
    assert np.array_equal(land, raw_land)


def test_scene_backdrop_reads_the_file_as_the_config_says(tiny_dataset):
    """`input_scaling` forced in the data config reaches the panel's backdrop too: a forced
    convention is applied as given, not decided again from the file."""
    import pandas as pd
    import xarray as xr

    from kit.experiment.panels import scene_backdrop

    row = pd.read_csv(tiny_dataset / "metadata.csv").query("split == 'train'").iloc[0]
    path = tiny_dataset / row.input_path
    auto, _ = scene_backdrop(path)
    forced, _ = scene_backdrop(path, "standard")
    assert np.array_equal(auto, forced, equal_nan=True)  # the file says standard itself
    as_physical, _ = scene_backdrop(path, "physical")  # told the values are dB already
    with xr.open_dataset(path) as ds:
        stored = ds["nersc_sar_primary"].values
    assert np.allclose(as_physical, stored, equal_nan=True, atol=1e-5)
    assert not np.allclose(as_physical, auto, equal_nan=True)


def test_confidence_row_sits_between_predictions_and_reference():
    predicted = _maps()
    confidence = {c: np.full((20, 30), 80, np.uint8) for c in charts.CHARTS}
    confidence["SOD"][:5] = charts.MASK  # nothing written there: grey
    fig = scene_panel_figure(
        "20180124T194759_dmi", np.zeros((20, 30)), predicted, _maps(1), confidence=confidence
    )
    axes = {ax.get_title(): ax for ax in fig.axes}
    rows = {title.split(" (")[0]: ax.get_position().y0 for title, ax in axes.items() if title}
    for chart in charts.CHARTS:
        assert rows[f"{chart} reference"] < rows[f"{chart} confidence"] < rows[f"{chart} predicted"]
    image = axes["SOD confidence"].get_images()[0]
    shown = image.get_array()
    assert shown.mask[:5].all() and not shown.mask[5:].any() and shown[5:].min() == 80
    assert image.get_clim() == (0, charts.PERCENT_MAX)
    labels = [ax.get_ylabel() for ax in fig.axes]
    assert labels.count("confidence of the written class (%)") == len(charts.CHARTS)


def test_no_confidence_row_without_confidence_maps():
    fig = scene_panel_figure("20180124T194759_dmi", np.zeros((20, 30)), _maps(), _maps(1))
    assert not [ax for ax in fig.axes if ax.get_title().endswith("confidence")]
