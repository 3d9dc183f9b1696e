"""Grid moves: block averaging, chart downscaling rules, 2 km regridding, back to 80 m."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kit import charts
from kit.data.regrid import (
    block_chart,
    block_mean,
    coarse_cell_size,
    coarse_to_working,
    grid_2km_matches,
    to_original_grid,
    working_shape,
)


def test_block_mean_ignores_nan_and_handles_partial_blocks():
    a = np.arange(35, dtype=np.float32).reshape(5, 7)
    a[0, 0] = np.nan
    a[4, 6] = np.nan
    out = block_mean(a, 3)
    assert out.shape == working_shape(a.shape, 3) == (2, 3)
    assert out[0, 0] == pytest.approx(np.nanmean(a[:3, :3]))
    assert out[1, 2] == pytest.approx(np.nanmean(a[3:, 6:]))  # partial block, one NaN
    a[3:, 6:] = np.nan
    assert np.isnan(block_mean(a, 3)[1, 2])


def test_block_chart_mode_and_nearest_rules():
    chart = np.full((4, 4), charts.MASK, dtype=np.uint8)
    chart[0, :2] = 3  # block (0,0): 3,3 and two MASK -> 3 (MASK never wins)
    chart[:2, 2:] = [[1, 2], [2, 1]]  # tie between 1 and 2 -> lower class
    mode = block_chart(chart, 2, "mode")
    assert mode.tolist() == [[3, 1], [charts.MASK, charts.MASK]]
    nearest = block_chart(chart, 2, "nearest")  # centre pixel (1, 1) of each block
    assert nearest.tolist() == [[charts.MASK, 1], [charts.MASK, charts.MASK]]


def test_coarse_to_working_reproduces_cell_centres_and_linear_fields():
    rows, cols = np.meshgrid(np.arange(8.0), np.arange(6.0), indexing="ij")
    coarse = (3 * rows + cols).astype(np.float32)
    shape = (8 * 25, 6 * 25)
    full = coarse_to_working(coarse, shape, 1)
    assert full.shape == shape
    assert full[12, 12] == pytest.approx(coarse[0, 0])  # pixel 12 is the centre of cell 0
    assert full[37, 62] == pytest.approx(coarse[1, 2])
    # Bilinear is exact on a linear field between the first and last cell centres.
    r, c = 100, 80
    assert full[r, c] == pytest.approx(
        3 * ((r + 0.5) / 25 - 0.5) + ((c + 0.5) / 25 - 0.5), abs=1e-4
    )
    down = coarse_to_working(coarse, shape, 5, mode="nearest")
    assert down.shape == (40, 30) and set(np.unique(down)) <= set(np.unique(coarse))


@pytest.mark.parametrize(
    "shape, shape_2km, matches",
    [
        ((5000, 4975), (200, 199), True),  # floor(n / 25), as the real files
        ((130, 160), (5, 6), True),  # floor 5, 6 (round 5, 6)
        ((137, 188), (5, 8), True),  # round of 188 / 25 = 7.5
        ((100, 150), (2, 6), False),
        ((12, 9), (5, 6), False),  # TorchGeo's test fixture
    ],
)
def test_the_25_pixel_rule_accepts_floor_or_round(shape, shape_2km, matches):
    assert grid_2km_matches(shape, shape_2km) is matches
    expected = (25.0, 25.0) if matches else (shape[0] / shape_2km[0], shape[1] / shape_2km[1])
    assert coarse_cell_size(shape, shape_2km) == pytest.approx(expected)


def test_a_grid_off_the_rule_is_regridded_by_extent():
    # 5 x 6 cells over 12 x 9 pixels: 2.4 lines and 1.5 samples per cell. A field linear in
    # the 80 m coordinates, sampled at the cell centres, comes back exactly at every pixel
    # between the outer cell centres, and at the edge value beyond them.
    shape = (12, 9)
    centres_r = (np.arange(5) + 0.5) * 2.4 - 0.5
    centres_c = (np.arange(6) + 0.5) * 1.5 - 0.5
    coarse = (2 * centres_r[:, None] + centres_c[None, :]).astype(np.float32)
    full = coarse_to_working(coarse, shape, 1)
    rows = np.clip(np.arange(12.0), centres_r[0], centres_r[-1])
    cols = np.clip(np.arange(9.0), centres_c[0], centres_c[-1])
    assert np.allclose(full, 2 * rows[:, None] + cols[None, :], atol=1e-5)
    # The working grid of downscale 3 samples the same field at its block centres.
    down = coarse_to_working(coarse, shape, 3)
    rows3 = np.clip(np.arange(4) * 3 + 1.0, centres_r[0], centres_r[-1])
    cols3 = np.clip(np.arange(3) * 3 + 1.0, centres_c[0], centres_c[-1])
    assert np.allclose(down, 2 * rows3[:, None] + cols3[None, :], atol=1e-5)


@pytest.mark.parametrize("shape, factor", [((300, 260), 1), ((300, 260), 7), ((101, 99), 10)])
def test_to_original_grid_is_exact(shape, factor):
    rng = np.random.default_rng(0)
    h, w = working_shape(shape, factor)
    pred = rng.integers(0, 11, (h, w)).astype(np.uint8)
    full = to_original_grid(pred, shape, factor)
    assert full.shape == shape and full.dtype == np.uint8
    # Every 80 m pixel carries the class of the working pixel whose block holds it.
    assert np.array_equal(full[::factor, ::factor], pred)
    assert np.array_equal(block_chart(full, factor, "mode"), pred)
    probs = torch.rand(3, h, w)
    back = to_original_grid(probs, shape, factor, mode="bilinear")
    assert isinstance(back, torch.Tensor) and back.shape == (3, *shape)
    const = to_original_grid(np.full((2, h, w), 0.25, np.float32), shape, factor, mode="bilinear")
    assert np.allclose(const, 0.25)


def test_to_original_grid_rejects_the_wrong_grid():
    with pytest.raises(ValueError, match="not on the working grid"):
        to_original_grid(np.zeros((10, 10)), (300, 260), 10)
