"""On-disk scene cache: each scene converted once into memory-mappable arrays for random crops.

For one scene and one set of data settings (variables, charts, downscale factor, regridding,
normalisation, month encoding) the cache holds, on the working grid:

- `x`: float16 [C, h, w], normalised, no data replaced by 0 (the normalised mean); the file's
  input convention (standard, minmax or physical: `kit.data.conventions`) is decided once and
  part of the entry's identity, so values are standardised exactly once;
  SAR and geo variables area-averaged over the downscale blocks ignoring NaN, AMSR2/ERA5
  regridded from 2 km, lat/lon/month channels added (see `kit.data.spatiotemporal`);
- `charts`: uint8 [K, h, w], MASK where there is no label (rule: `kit.data.regrid`);
- `valid`: bool [h, w], where the SAR has data (0, 2 or NaN marks no data, by convention).

Variables on the 80 m grid are read and downscaled in row blocks of whole working-grid rows
(`row_blocks`), so building an entry never holds a channel of a 5000 x 5000 scene at 80 m.

Entries live in `<cache_dir>/<scene_id>-<path hash>/<settings hash>/` and their file names start
with a hash of the source files' size and modification time: a changed scene gets new files and
the stale ones are removed. Files are written under temporary names and renamed into place
(`kit.atomic.atomic_paths`), the metadata file last, so that concurrent workers never see half
an entry (they may build the same entry twice; the result is identical). Arrays are opened with
`np.load(mmap_mode='r')`, so datasets larger than the memory work.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kit import charts
from kit.atomic import atomic_paths, is_temporary
from kit.data.config import DataConfig
from kit.data.conventions import Scaling, file_scaling, no_data, to_zscore
from kit.data.regrid import block_any, block_chart, block_mean, coarse_to_working, working_shape
from kit.data.scene import (
    is_raw,
    open_netcdf,
    open_scene,
    parse_scene_id,
    read_charts,
    read_variable,
)
from kit.data.spatiotemporal import encode_month, lat_lon_channels, month_channels
from kit.errors import KitError

#: Bump when the cached content or layout changes, so that old entries are rebuilt.
CACHE_FORMAT = 2
#: Settings of `DataConfig` that change the cached arrays.
CACHE_SETTINGS = (
    "variables", "charts", "downscale", "upsampling", "chart_downscale", "normalisation",
    "month_encoding", "input_scaling",
)  # fmt: skip
#: The files of an entry, after its hash prefix; renamed into place in this order, so the
#: metadata file, last, says that the entry is complete.
ENTRY_FILES = ("x.npy", "valid.npy", "charts.npy", "json")
#: `minmax` normalisation maps [mean - K std, mean + K std] onto [-1, 1].
MINMAX_STD_SPAN = 3.0
#: About this many 80 m pixels of a variable are read at once (8 MB of float32).
ROW_BLOCK_PIXELS = 1 << 21


@dataclass(frozen=True)
class CachedScene:
    """One scene on the working grid, its arrays memory-mapped read-only from the cache."""

    scene_id: str
    path: str
    x: np.ndarray  # float16 [C, h, w]
    charts: np.ndarray  # uint8 [K, h, w]
    valid: np.ndarray  # bool [h, w]
    shape: tuple[int, int]  # 80 m grid
    channels: tuple[str, ...]
    chart_names: tuple[str, ...]
    valid_label_pixels: int
    entry: str  # cache files' common stem: <folder>/<prefix>

    def __reduce__(self):  # pickle (spawned loader workers) by reopening, not copying, arrays
        return (load_entry, (self.entry, self.path))

    @property
    def working_shape(self) -> tuple[int, int]:
        return tuple(self.valid.shape)


def channel_names(config: DataConfig) -> tuple[str, ...]:
    """Ordered input channel names for a config (`aux_time` may expand to two channels)."""
    names: list[str] = []
    for variable in config.variables:
        if variable == "aux_time":
            names.extend(month_channels(config.month_encoding))
        else:
            names.append(variable)
    return tuple(names)


def settings_key(config: DataConfig) -> str:
    """Short hash of the settings that determine the cached arrays."""
    settings = {name: getattr(config, name) for name in CACHE_SETTINGS}
    settings["format"] = CACHE_FORMAT
    settings["mean_std"] = {v: charts.GLOBAL_MEAN_STD[v] for v in config.variables if v in charts.GLOBAL_MEAN_STD}  # fmt: skip
    settings["min_max"] = {v: charts.GLOBAL_MIN_MAX[v] for v in config.variables if v in charts.GLOBAL_MIN_MAX}  # fmt: skip
    return _hash(settings)


def _hash(value) -> str:
    return hashlib.sha1(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def load_entry(entry: str, path: str) -> CachedScene:
    """Open a complete cache entry (its files share the stem `entry`) memory-mapped."""
    meta = json.loads(Path(f"{entry}.json").read_text())
    # Copy-on-write maps: read-only on disk, yet writable arrays that torch can wrap.
    arrays = {n: np.load(f"{entry}.{n}.npy", mmap_mode="c") for n in ("x", "charts", "valid")}
    return CachedScene(
        scene_id=meta["scene_id"],
        path=path,
        x=arrays["x"],
        charts=arrays["charts"],
        valid=arrays["valid"],
        shape=tuple(meta["shape"]),
        channels=tuple(meta["channels"]),
        chart_names=tuple(meta["chart_names"]),
        valid_label_pixels=int(meta["valid_label_pixels"]),
        entry=entry,
    )


def _file_identity(path: str | None) -> list | None:
    if path is None:
        return None
    stat = os.stat(path)
    return [os.path.realpath(path), stat.st_size, stat.st_mtime_ns]


def row_blocks(
    shape: tuple[int, int], factor: int, block_pixels: int | None = None
) -> Iterator[tuple[slice, slice]]:
    """Row blocks of an 80 m grid made of whole working-grid rows: (80 m rows, working rows).

    Each block is downscaled on its own (the downscale blocks never straddle two row blocks),
    so converting a scene block by block gives exactly what converting it whole gives.

    Parameters
    ----------
    shape : tuple of int
        (H, W) of the 80 m grid.
    factor : int
        The downscale factor of the working grid.
    block_pixels : int, optional
        About how many 80 m pixels a block holds (at least one working row); default
        `ROW_BLOCK_PIXELS`.

    Returns
    -------
    iterator of (slice, slice)
        The block's rows on the 80 m grid and on the working grid, top to bottom.

    Examples
    --------
    >>> [(r.start, r.stop, w.start, w.stop) for r, w in row_blocks((25, 7), 10, 150)]
    [(0, 20, 0, 2), (20, 25, 2, 3)]
    """
    height, width = shape
    block_pixels = ROW_BLOCK_PIXELS if block_pixels is None else block_pixels
    per_block = max(1, block_pixels // max(1, width * factor))  # working rows
    rows = working_shape(shape, factor)[0]
    for top in range(0, rows, per_block):
        bottom = min(rows, top + per_block)
        yield slice(top * factor, min(height, bottom * factor)), slice(top, bottom)


def apply_normalisation(z: np.ndarray, method: str) -> np.ndarray:
    """Bring z-scores (`kit.data.conventions.to_zscore`) to the configured normalisation."""
    if method == "meanstd":
        return z
    if method == "minmax":
        return np.clip(z / MINMAX_STD_SPAN, -1.0, 1.0)
    raise ValueError(f"unknown normalisation {method!r}; allowed: 'meanstd', 'minmax'")


class SceneCache:
    """Converts scenes on first use and returns memory-mapped `CachedScene`s afterwards."""

    def __init__(self, config: DataConfig, cache_dir: str | os.PathLike | None = None):
        self.config = config
        self.root = Path(cache_dir) if cache_dir else config.resolved_cache_dir()
        self.key = settings_key(config)
        self.channels = channel_names(config)

    def entry_dir(self, path: str | os.PathLike) -> Path:
        scene_id = parse_scene_id(Path(path).name)[0]
        where = _hash(os.path.realpath(path))[:8]
        return self.root / f"{scene_id}-{where}" / self.key

    def get(self, path: str | os.PathLike, reference_path: str | None = None) -> CachedScene:
        """The cached scene, built (or rebuilt, if the source files changed) when needed."""
        path = str(path)
        if not os.path.isfile(path):
            raise KitError(f"{path}: no such file")
        scaling = file_scaling(path, self.config.input_scaling)
        identity = {
            "scene": _file_identity(path),
            "reference": _file_identity(reference_path),
            "scaling": [scaling.convention, scaling.distance_units],
        }
        folder = self.entry_dir(path)
        prefix = _hash(identity)
        meta_path = folder / f"{prefix}.json"
        if not meta_path.is_file():
            self._build(path, reference_path, folder, prefix, identity, scaling)
        return load_entry(str(folder / prefix), path)

    def _build(self, path, reference_path, folder: Path, prefix: str, identity, scaling) -> None:
        targets = [folder / f"{prefix}.{name}" for name in ENTRY_FILES]
        with atomic_paths(targets) as (x_tmp, valid_tmp, charts_tmp, meta_tmp):
            meta = self._write_arrays(path, reference_path, scaling, x_tmp, valid_tmp, charts_tmp)
            meta["identity"] = identity
            meta["settings"] = {name: getattr(self.config, name) for name in CACHE_SETTINGS}
            meta["input_scaling"] = {"convention": scaling.convention, "reason": scaling.reason}
            meta_tmp.write_text(json.dumps(meta, indent=1))
        _remove_stale(folder, prefix)

    def _write_arrays(self, path, reference_path, scaling, x_file, valid_file, charts_file):
        """Write the entry's arrays to the given files; return the scene's part of the metadata."""
        config = self.config
        ds = open_scene(path, variables=config.variables)
        try:
            scene_id = parse_scene_id(ds.attrs.get("scene_id", Path(path).name))[0]
            shape = (ds.sizes[charts.SAR_DIMS[0]], ds.sizes[charts.SAR_DIMS[1]])
            grid = working_shape(shape, config.downscale)
            x = np.lib.format.open_memmap(
                x_file, mode="w+", dtype=np.float16, shape=(len(self.channels), *grid)
            )
            channels = self._channels(ds, path, shape, scene_id, scaling)
            for index, values in enumerate(channels):
                x[index] = values
            x.flush()
            del x
            valid = self._valid(ds, path, shape, scaling)
            chart_arrays, chart_names = self._charts(ds, path, reference_path)
        finally:
            ds.close()
        labelled = (
            (chart_arrays != charts.MASK).any(axis=0)
            if len(chart_names)
            else np.zeros(grid, dtype=bool)
        )
        for file, array in ((valid_file, valid), (charts_file, chart_arrays)):
            with open(file, "wb") as fh:
                np.save(fh, array)
        return {
            "scene_id": scene_id,
            "shape": list(shape),
            "channels": list(self.channels),
            "chart_names": list(chart_names),
            "valid_label_pixels": int(labelled.sum()),
        }

    def _channels(self, ds, path, shape, scene_id, scaling: Scaling):
        """Yield each input channel on the working grid, normalised, float32, no NaN."""
        config, factor = self.config, self.config.downscale
        lat_lon = None
        for variable in config.variables:
            if variable == "aux_time":
                grid = working_shape(shape, factor)
                for value in encode_month(parse_scene_id(scene_id)[2].month, config.month_encoding):
                    yield np.full(grid, value, dtype=np.float32)
                continue
            if variable in ("aux_lat", "aux_lon"):
                if lat_lon is None:
                    lat_lon = lat_lon_channels(ds, factor, path)
                yield lat_lon[0 if variable == "aux_lat" else 1]
                continue
            if variable in charts.COARSE_GRID_VARIABLES:
                z = to_zscore(read_variable(ds, variable, path), variable, scaling)
                values = apply_normalisation(z, config.normalisation)
                values = np.nan_to_num(values, nan=charts.NORMALISED_FILL_VALUE)
                values = coarse_to_working(values, shape, factor, config.upsampling)
            else:
                values = self._full_grid_channel(ds, variable, path, shape, scaling)
            yield np.nan_to_num(values, nan=charts.NORMALISED_FILL_VALUE)

    def _full_grid_channel(self, ds, variable: str, path, shape, scaling: Scaling) -> np.ndarray:
        """An 80 m variable on the working grid (float32, NaN where a block has no data), read,
        normalised and area-averaged one row block at a time."""
        factor = self.config.downscale
        out = np.empty(working_shape(shape, factor), dtype=np.float32)
        for rows, working_rows in row_blocks(shape, factor):
            z = to_zscore(read_variable(ds, variable, path, rows), variable, scaling)
            # NaN (no data) is ignored by the average
            out[working_rows] = block_mean(
                apply_normalisation(z, self.config.normalisation), factor
            )
        return out

    def _valid(self, ds, path, shape, scaling: Scaling) -> np.ndarray:
        factor = self.config.downscale
        valid = np.ones(working_shape(shape, factor), dtype=bool)
        name = charts.SAR_VARIABLES[0]
        if name in ds:
            for rows, working_rows in row_blocks(shape, factor):
                values = read_variable(ds, name, path, rows)
                valid[working_rows] = block_any(~no_data(values, name, scaling), factor)
        return valid

    def _charts(self, ds, path, reference_path) -> tuple[np.ndarray, tuple[str, ...]]:
        """The configured charts present in the scene (or its reference file), downscaled."""
        shape = (ds.sizes[charts.SAR_DIMS[0]], ds.sizes[charts.SAR_DIMS[1]])
        found = read_charts(ds, path, reference_path, self.config.charts, shape)
        grid = working_shape(shape, self.config.downscale)
        names = tuple(c for c in self.config.charts if c in found)
        stack = np.empty((len(names), *grid), dtype=np.uint8)
        for i, name in enumerate(names):
            stack[i] = block_chart(found[name], self.config.downscale, self.config.chart_downscale)
        return stack, names


def valid_mask(path: str | os.PathLike, input_scaling: str = "auto") -> np.ndarray:
    """Where the scene's SAR has data, on its 80 m grid (bool [H, W]); all True without SAR.

    The SAR is read in row blocks: only the mask is ever held whole.
    """
    scaling = file_scaling(path, input_scaling)
    name = charts.SAR_VARIABLES[0]
    ds = open_netcdf(path)
    if is_raw(ds):  # 40 m: read the 80 m view
        ds.close()
        ds = open_scene(path, variables=[name])
    try:
        shape = (ds.sizes[charts.SAR_DIMS[0]], ds.sizes[charts.SAR_DIMS[1]])
        valid = np.ones(shape, dtype=bool)
        if name in ds:
            for rows, _ in row_blocks(shape, 1):
                valid[rows] = ~no_data(read_variable(ds, name, path, rows), name, scaling)
        return valid
    finally:
        ds.close()


def _remove_stale(folder: Path, keep_prefix: str) -> None:
    """Delete entries of older versions of the source files (open memmaps stay readable); the
    temporary files of entries being written (by another worker) are left alone."""
    for entry in folder.iterdir():
        if not entry.name.startswith(keep_prefix) and not is_temporary(entry.name):
            try:
                entry.unlink()
            except OSError:
                pass
