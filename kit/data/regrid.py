"""Moving arrays between the 80 m SAR grid, the working grid and the 2 km AMSR2/ERA5 grid.

The working grid of downscale factor `f` tiles the 80 m grid with `f` x `f` blocks starting at
the top-left corner; the last row/column of blocks may be partial. Working pixel `j` therefore
has its centre at 80 m coordinate `(j + 0.5) * f - 0.5`, and 2 km cell `i` at
`(i + 0.5) * 25 - 0.5` (one cell per 25 pixels, as in the ready-to-train files). A 2 km grid
whose size does not follow that rule (`grid_2km_matches`; TorchGeo's test fixture has 5 x 6
cells on 12 x 9 pixels) is taken to cover the scene's extent: `n / m` pixels per cell on an
axis of `n` pixels and `m` cells (`coarse_cell_size`).

Charts are downscaled by the most frequent valid class of each block ("mode"; ties go to the
lower class; a block with no valid pixel is MASK) or by the block's centre pixel ("nearest").
"""

from __future__ import annotations

import math

import numpy as np

from kit import charts


def working_shape(shape: tuple[int, int], factor: int) -> tuple[int, int]:
    """Shape of the working grid for an 80 m grid of `shape` (partial edge blocks count)."""
    return (math.ceil(shape[0] / factor), math.ceil(shape[1] / factor))


def _blocks(array: np.ndarray, factor: int, fill) -> np.ndarray:
    """View `array` [H, W] as [h, f, w, f] blocks, padding the partial edges with `fill`."""
    h, w = working_shape(array.shape, factor)
    pad = ((0, h * factor - array.shape[0]), (0, w * factor - array.shape[1]))
    if any(p[1] for p in pad):
        array = np.pad(array, pad, constant_values=fill)
    return array.reshape(h, factor, w, factor)


def block_mean(array: np.ndarray, factor: int) -> np.ndarray:
    """Area average of each block ignoring NaN (float32); NaN where a block has no data."""
    array = np.asarray(array, dtype=np.float32)
    if factor == 1:
        return array
    blocks = _blocks(array, factor, np.nan)
    finite = np.isfinite(blocks)
    total = np.where(finite, blocks, 0.0).sum(axis=(1, 3), dtype=np.float64)
    count = finite.sum(axis=(1, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan).astype(np.float32)


def block_any(mask: np.ndarray, factor: int) -> np.ndarray:
    """True where any pixel of the block is True."""
    if factor == 1:
        return np.asarray(mask, dtype=bool)
    return _blocks(np.asarray(mask, dtype=bool), factor, False).any(axis=(1, 3))


def block_chart(chart: np.ndarray, factor: int, rule: str = "mode") -> np.ndarray:
    """Downscale a uint8 chart (MASK = no label) by the block's mode or its centre pixel."""
    chart = np.asarray(chart, dtype=np.uint8)
    if factor == 1:
        return chart
    if rule == "nearest":
        h, w = working_shape(chart.shape, factor)
        rows = np.minimum(np.arange(h) * factor + factor // 2, chart.shape[0] - 1)
        cols = np.minimum(np.arange(w) * factor + factor // 2, chart.shape[1] - 1)
        return chart[np.ix_(rows, cols)]
    if rule != "mode":
        raise ValueError(f"unknown chart downscale rule {rule!r}; allowed: 'mode', 'nearest'")
    blocks = _blocks(chart, factor, charts.MASK)
    classes = np.unique(chart)
    classes = classes[classes != charts.MASK]
    best = np.full(blocks.shape[::2], charts.MASK, dtype=np.uint8)
    best_count = np.zeros(blocks.shape[::2], dtype=np.int32)
    for value in classes:  # ascending, so ties keep the lower class
        count = (blocks == value).sum(axis=(1, 3), dtype=np.int32)
        better = count > best_count
        best[better] = value
        best_count[better] = count[better]
    return best


def axis_weights(
    positions: np.ndarray, n_in: int, mode: str = "bilinear", extrapolate: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices (i0, i1) and weight t to interpolate at fractional `positions` of an axis of n_in.

    value = a[i0] * (1 - t) + a[i1] * t. Outside [0, n_in - 1] the edge value is kept, or the
    edge segment's line is continued with `extrapolate` (used for geolocation).
    """
    positions = np.asarray(positions, dtype=np.float64)
    if n_in == 1:
        zeros = np.zeros(positions.shape, dtype=np.int64)
        return zeros, zeros, np.zeros(positions.shape)
    if mode == "nearest":
        index = np.clip(np.rint(positions), 0, n_in - 1).astype(np.int64)
        return index, index, np.zeros(positions.shape)
    if not extrapolate:
        positions = np.clip(positions, 0, n_in - 1)
    i0 = np.clip(np.floor(positions), 0, n_in - 2).astype(np.int64)
    return i0, i0 + 1, positions - i0


def interpolate_separable(
    array: np.ndarray,
    row_positions: np.ndarray,
    col_positions: np.ndarray,
    mode: str = "bilinear",
    extrapolate: bool = False,
) -> np.ndarray:
    """Bilinear (or nearest) interpolation of a 2-D array at a rectilinear set of positions."""
    array = np.asarray(array, dtype=np.float64)
    r0, r1, rt = axis_weights(row_positions, array.shape[0], mode, extrapolate)
    if mode == "nearest":  # a gather: no weights to apply (5x faster on an 80 m grid)
        c0 = axis_weights(col_positions, array.shape[1], mode, extrapolate)[0]
        return array[r0][:, c0].astype(np.float32)
    rows = array[r0] * (1 - rt)[:, None] + array[r1] * rt[:, None]
    c0, c1, ct = axis_weights(col_positions, array.shape[1], mode, extrapolate)
    return (rows[:, c0] * (1 - ct) + rows[:, c1] * ct).astype(np.float32)


def working_centres(n_working: int, factor: int) -> np.ndarray:
    """80 m pixel coordinates of the working grid's pixel centres along one axis."""
    return (np.arange(n_working) + 0.5) * factor - 0.5


def grid_2km_matches(shape: tuple[int, int], shape_2km: tuple[int, int]) -> bool:
    """Whether a 2 km grid follows one cell per 25 pixels of an 80 m grid of `shape`.

    The real files have floor(n / 25) cells on an axis of n pixels; readers accept floor or
    round, i.e. n / 25 within one cell (and 2 % on very large axes).

    Examples
    --------
    >>> grid_2km_matches((5000, 4999), (200, 199)), grid_2km_matches((12, 9), (5, 6))
    (True, False)
    """
    for n_sar, n_km in zip(shape, shape_2km):
        expected = n_sar / charts.PIXELS_PER_2KM
        if abs(n_km - expected) > 1.0 + 0.02 * expected:
            return False
    return True


def coarse_cell_size(shape: tuple[int, int], shape_2km: tuple[int, int]) -> tuple[float, float]:
    """80 m pixels per 2 km cell along (lines, samples): 25 when the grid follows that rule
    (`grid_2km_matches`), else the scene's extent divided by the cells (`n / m` per axis).

    Examples
    --------
    >>> coarse_cell_size((130, 160), (5, 6)), coarse_cell_size((12, 9), (5, 6))
    ((25.0, 25.0), (2.4, 1.5))
    """
    if grid_2km_matches(shape, shape_2km):
        return (float(charts.PIXELS_PER_2KM),) * 2
    return tuple(n_sar / max(n_km, 1) for n_sar, n_km in zip(shape, shape_2km))


def coarse_to_working(
    coarse: np.ndarray, shape: tuple[int, int], factor: int, mode: str = "bilinear"
) -> np.ndarray:
    """Regrid a 2 km array onto the working grid of an 80 m grid of `shape`: one cell per 25
    pixels, or by extent when the grid's size does not follow that rule (`coarse_cell_size`)."""
    h, w = working_shape(shape, factor)
    row_scale, col_scale = coarse_cell_size(shape, np.shape(coarse))
    rows = (working_centres(h, factor) + 0.5) / row_scale - 0.5
    cols = (working_centres(w, factor) + 0.5) / col_scale - 0.5
    return interpolate_separable(coarse, rows, cols, mode)


def to_original_grid(array, shape: tuple[int, int], factor: int, mode: str = "nearest"):
    """Bring a working-grid array [..., h, w] back exactly onto the 80 m grid [..., H, W].

    Predictions are made on the downscaled working grid but scored on the 80 m grid; this is
    the inverse of the downscaling, also for sizes that are not a multiple of `factor` (the
    partial edge blocks are cut back to the original size).

    Parameters
    ----------
    array : numpy.ndarray or torch.Tensor
        Values on the working grid, ``[..., h, w]`` with ``(h, w) = working_shape(shape,
        factor)``; leading dimensions (classes, batch) are kept.
    shape : tuple of int
        ``(H, W)`` of the 80 m grid.
    factor : int
        The downscale factor of the working grid (1 returns `array` itself).
    mode : {'nearest', 'bilinear'}
        'nearest' repeats each working pixel over its block (class ids, masks,
        probabilities); 'bilinear' interpolates between block centres (probabilities or
        logits, as MMSeaIce did; the result is float32).

    Returns
    -------
    numpy.ndarray or torch.Tensor
        ``[..., H, W]``, of the same kind as `array`.

    Raises
    ------
    ValueError
        If `array` is not on the working grid of `shape` and `factor`, or `mode` is unknown.

    Examples
    --------
    An odd 80 m size: 81 x 79 pixels at downscale 10 are 9 x 8 working pixels, the last row
    and column of blocks partial; the way back gives exactly 81 x 79 again.

    >>> import numpy as np
    >>> working = np.arange(72, dtype=np.uint8).reshape(9, 8)
    >>> full = to_original_grid(working, (81, 79), 10)
    >>> full.shape, full.dtype
    ((81, 79), dtype('uint8'))
    >>> int(full[80, 78]) == int(working[8, 7]), int(full[9, 9]), int(full[10, 10])
    (True, 0, 9)
    >>> to_original_grid(working, (81, 79), 10, mode="bilinear").shape
    (81, 79)
    >>> to_original_grid(working, (100, 79), 10)
    Traceback (most recent call last):
    ...
    ValueError: array of shape (9, 8) is not on the working grid (10, 8) of an 80 m grid ...
    """
    import torch

    height, width = shape
    h, w = working_shape(shape, factor)
    if tuple(array.shape[-2:]) != (h, w):
        raise ValueError(
            f"array of shape {tuple(array.shape)} is not on the working grid {(h, w)} of an "
            f"80 m grid {shape} with downscale {factor}"
        )
    if factor == 1:
        return array
    if mode == "nearest":
        if isinstance(array, torch.Tensor):
            full = array.repeat_interleave(factor, -2).repeat_interleave(factor, -1)
        else:
            full = np.repeat(np.repeat(array, factor, axis=-2), factor, axis=-1)
        return full[..., :height, :width]
    if mode != "bilinear":
        raise ValueError(f"unknown mode {mode!r}; allowed: 'nearest', 'bilinear'")
    tensor = torch.as_tensor(array)
    lead = tensor.shape[:-2]
    flat = tensor.reshape(1, -1, h, w).float()
    full = torch.nn.functional.interpolate(
        flat, size=(h * factor, w * factor), mode="bilinear", align_corners=False
    )[..., :height, :width].reshape(*lead, height, width)
    return full if isinstance(array, torch.Tensor) else full.numpy()
