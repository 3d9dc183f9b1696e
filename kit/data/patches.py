"""Training patches: random crops from cached scenes, yielded as whole batches.

`PatchDataset(config, scenes)` is a torch `IterableDataset`; each item is one batch
`(x float32 [B, C, P, P], {chart: int64 [B, P, P]})` with MASK (255) where a chart has no label.
Use it with `batch_size=None` (see `PatchDataset.loader`).

Sampling follows AI4SeaIce (eq. 5): a scene is drawn with probability proportional to its number
of labelled pixels (working grid, any configured chart), then a uniformly random crop; crops
without a labelled pixel, or with a labelled share below `min_valid_fraction`, are redrawn.
Scenes smaller than the patch are placed at a random offset inside it and padded (inputs 0,
charts MASK). Batch `i` of epoch `e` on rank `r` is drawn from its own random stream seeded by
(seed, e, r, i), so the batches are the same whatever the number of workers; call
`set_epoch(e)` every epoch (as with `DistributedSampler`) to get new batches.
"""

from __future__ import annotations

import copy
import math
import os
import warnings
from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from kit import charts, resources
from kit.data.augment import Augmenter
from kit.data.batch_memory import BatchRing, Layout, RingBatch, RingReceiver, new_tensor
from kit.data.cache import CachedScene, SceneCache
from kit.data.config import DataConfig
from kit.data.sources import check_variables, scene_sources
from kit.errors import KitError

#: Crops tried for one patch before giving up (only reachable with a high min_valid_fraction).
MAX_ATTEMPTS = 1000
#: Bytes per patch pixel of a batch, per input channel (float32) and per chart (int64 labels
#: and the uint8 chart crops they are drawn into).
INPUT_BYTES, CHART_BYTES = 4, 9


def batch_bytes(config: DataConfig) -> int:
    """Bytes of one batch, a lower bound: one input channel per variable (the month may add one)."""
    per_pixel = INPUT_BYTES * len(config.variables) + CHART_BYTES * len(config.charts)
    return config.batch_size * config.patch_size**2 * per_pixel


def check_batches_fit(config: DataConfig) -> None:
    """Refuse, before any scene is read, batches that cannot fit in this machine's memory:
    every loader process (or the main one, without workers) holds at least one batch."""
    copies = max(1, config.num_workers)
    per_pixel = batch_bytes(config) // config.patch_size**2 * copies
    largest = math.isqrt(resources.memory_bytes() // per_pixel)
    workers = f" in each of {copies} loader workers" if config.num_workers else ""
    resources.require_memory(
        per_pixel * config.patch_size**2,
        f"data.patch_size {config.patch_size}: a batch of {config.batch_size} patches{workers}",
        f"largest patch_size for this batch_size: {largest}",
    )


def load_scenes(
    config: DataConfig,
    sources: list[tuple[str, str | None]],
    cache: SceneCache,
    progress: bool = True,
) -> list[CachedScene]:
    """Cached scenes (built on first use, with a progress bar when there are several and
    `progress`)."""
    from tqdm.auto import tqdm

    check_variables(sources, config.variables)
    quiet = not progress or len(sources) < 4
    bar = tqdm(sources, desc="scene cache", unit="scene", disable=quiet, leave=False)
    return [cache.get(path, ref) for path, ref in bar]


def crop(array, top: int, left: int, size: int, fill, out, extent=None) -> None:
    """Copy the [size, size] window at (top, left) of `array` [..., h, w] into `out` (NumPy or
    torch, converting the dtype), padding what lies outside the array with `fill`.

    `extent` (optional, an int array [row0, row1, col0, col1], updated in place) is where `out`
    may hold anything but `fill` from an earlier crop into the same memory: then only that
    part is padded again, not the whole margin (reused batch memory, `kit.data.batch_memory`).
    """
    h, w = array.shape[-2:]
    r0, c0 = max(top, 0), max(left, 0)
    r1, c1 = min(top + size, h), min(left + size, w)
    new = (r0 - top, r1 - top, c0 - left, c1 - left)
    _fill_outside(out, (0, size, 0, size) if extent is None else tuple(extent), new, fill)
    out[..., new[0] : new[1], new[2] : new[3]] = array[..., r0:r1, c0:c1]
    if extent is not None:
        extent[:] = new


def _fill_outside(out, old: tuple, new: tuple, fill) -> None:
    """Set to `fill` the part of rectangle `old` outside rectangle `new` ((row0, row1, col0,
    col1) each, in the last two axes of `out`)."""
    o0, o1, p0, p1 = old
    n0, n1, m0, m1 = new
    if o0 >= o1 or p0 >= p1:
        return
    if o0 < n0:
        out[..., o0 : min(o1, n0), p0:p1] = fill
    if n1 < o1:
        out[..., max(o0, n1) : o1, p0:p1] = fill
    top, bottom = max(o0, n0), min(o1, n1)
    if top < bottom:
        if p0 < m0:
            out[..., top:bottom, p0 : min(p1, m0)] = fill
        if m1 < p1:
            out[..., top:bottom, max(p0, m1) : p1] = fill


def _offset(rng: np.random.Generator, n: int, size: int) -> int:
    """Random start of a window of `size` on an axis of `n` (negative: the scene is smaller)."""
    low, high = min(0, n - size), max(0, n - size)
    return int(rng.integers(low, high + 1))


def _new_tensor(shape, dtype) -> torch.Tensor:
    """An empty tensor; in a loader worker, directly in shared memory (saves a copy on send)."""
    return new_tensor(shape, dtype, shared=get_worker_info() is not None)


class PatchDataset(IterableDataset):
    """Random patch batches for training: `epoch_len` whole batches per epoch and rank.

    Scenes are drawn in proportion to their labelled pixels, then cropped at random (see the
    module docstring); batch `i` of epoch `e` on rank `r` depends only on (seed, e, r, i), so
    runs are reproducible whatever the number of loader workers. Each item is one batch
    ``(x float32 [B, C, P, P], {chart: int64 [B, P, P]})``, MASK (255) where unlabelled;
    iterate `loader()` (or a DataLoader with ``batch_size=None``).

    Parameters
    ----------
    config : DataConfig
        Variables, charts, patch geometry, augmentations, seed, epoch length.
    scenes : table or sequence of paths
        A `discover()` table (e.g. its training rows) or scene file paths.
    rank, world_size : int, optional
        This process's place in a distributed run, so that ranks draw different batches;
        default from ``torch.distributed`` when initialised, else 0 and 1.
    cache_dir : str or os.PathLike, optional
        Scene cache folder (default ``config.resolved_cache_dir()``); each scene is converted
        into it on first use.
    progress : bool
        Show a progress bar while several scenes are converted.

    Raises
    ------
    KitError
        If batches cannot fit in memory, a scene lacks a configured variable or chart, no
        scene has a labelled pixel, or `rank` is not in ``0 .. world_size - 1``.

    Examples
    --------
    >>> import tempfile
    >>> from kit.data import discover
    >>> from kit.data.synthetic import SynthConfig, write_dataset
    >>> tmp = tempfile.TemporaryDirectory()
    >>> _ = write_dataset(tmp.name, SynthConfig(n_train=1, n_test=0, size=(100, 100)),
    ...                   workers=1, progress=False)
    >>> config = DataConfig(variables=("nersc_sar_primary", "nersc_sar_secondary"),
    ...                     patch_size=32, batch_size=2, downscale=2, epoch_len=3)
    >>> patches = PatchDataset(config, discover(tmp.name), cache_dir=tmp.name + "/cache")
    >>> patches.channels, len(patches)
    (('nersc_sar_primary', 'nersc_sar_secondary'), 3)
    >>> patches.set_epoch(0)
    >>> for x, y in patches.loader():
    ...     pass
    >>> tuple(x.shape), x.dtype, {chart: tuple(v.shape) for chart, v in y.items()}
    ((2, 2, 32, 32), torch.float32, {'SIC': (2, 32, 32), 'SOD': (2, 32, 32), 'FLOE': (2, 32, 32)})
    >>> del x, y
    >>> tmp.cleanup()
    """

    def __init__(
        self,
        config: DataConfig,
        scenes,
        rank: int | None = None,
        world_size: int | None = None,
        cache_dir: str | os.PathLike | None = None,
        progress: bool = True,
    ):
        check_batches_fit(config)
        self.config = config
        self.rank, self.world_size = _distributed(rank, world_size)
        self.epoch = 0
        cache = SceneCache(config, cache_dir)
        self.channels: tuple[str, ...] = cache.channels
        self.scenes = [
            s
            for s in load_scenes(config, scene_sources(scenes), cache, progress)
            if self._usable(s)
        ]
        if not self.scenes:
            raise KitError("no scene with labelled pixels to train on")
        counts = np.array([s.valid_label_pixels for s in self.scenes], dtype=np.float64)
        self.probabilities = counts / counts.sum()
        self.augment = Augmenter(config.augment)
        self._tensors: dict[str, torch.Tensor] = {}  # per process, filled lazily
        #: Reusable batch slots per process; set by `PatchLoader` only (see `kit.data.batch_memory`).
        self.ring_slots = 0
        self._batch_ring: BatchRing | None = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_tensors": {}, "_batch_ring": None}

    def _usable(self, scene: CachedScene) -> bool:
        missing = [c for c in self.config.charts if c not in scene.chart_names]
        if missing:
            raise KitError(f"{scene.path}: no chart {', '.join(missing)} to train on")
        if scene.valid_label_pixels == 0:
            warnings.warn(f"{scene.path}: no labelled pixel; scene skipped", stacklevel=3)
            return False
        return True

    @property
    def in_channels(self) -> int:
        return len(self.channels)

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose batches to draw (call before iterating each epoch)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.config.epoch_len

    def __iter__(self) -> Iterator[tuple[torch.Tensor, dict[str, torch.Tensor]] | RingBatch]:
        info = get_worker_info()
        worker, n_workers = (0, 1) if info is None else (info.id, info.num_workers)
        ring = self._ring(shared=info is not None)
        for index in range(worker, self.config.epoch_len, n_workers):
            acquired = ring.acquire() if ring is not None else None
            if acquired is None:
                yield self.batch(index)
                continue
            handout, views, extents = acquired
            x = views.pop("x")
            self._fill(index, x, views, extents)
            yield handout

    def batch(self, index: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Batch `index` of the current epoch on this rank (deterministic), in new tensors."""
        cfg = self.config
        size, n = cfg.patch_size, cfg.batch_size
        x = _new_tensor((n, self.in_channels, size, size), torch.float32)
        labels = {chart: _new_tensor((n, size, size), torch.int64) for chart in cfg.charts}
        self._fill(index, x, labels)
        return x, labels

    def _fill(
        self,
        index: int,
        x: torch.Tensor,
        labels: dict[str, torch.Tensor],
        extents: np.ndarray | None = None,
    ) -> None:
        """Write batch `index` of the current epoch on this rank into `x` and `labels`.

        `extents` [B, 4]: where each patch of `x` may hold data from an earlier batch written
        into the same memory (see `crop`), kept up to date; None for new memory.
        """
        cfg = self.config
        rng = np.random.default_rng([cfg.seed, self.epoch, self.rank, index])
        size, n = cfg.patch_size, cfg.batch_size
        y = np.empty((len(cfg.charts), n, size, size), dtype=np.uint8)  # charts contiguous
        for i in range(n):
            scene, top, left = self._draw(rng, y[:, i])
            extent = None if extents is None else extents[i]
            crop(self._inputs(scene), top, left, size, charts.NORMALISED_FILL_VALUE, x[i], extent)
        y_t = torch.from_numpy(y)
        if self.augment.active:
            augmented, swapped = self.augment(x, y_t.transpose(0, 1), rng)
            if augmented is not x:
                x.copy_(augmented)
            y_t = swapped.transpose(0, 1)
            if extents is not None:
                extents[:] = (0, size, 0, size)  # transforms move data anywhere
        for k, chart in enumerate(cfg.charts):
            labels[chart].copy_(y_t[k])

    def _layout(self) -> Layout:
        """Shapes and dtypes of a batch's tensors, for `BatchRing`."""
        size, n = self.config.patch_size, self.config.batch_size
        x = ("x", (n, self.in_channels, size, size), torch.float32)
        return (x, *((chart, (n, size, size), torch.int64) for chart in self.config.charts))

    def _ring(self, shared: bool) -> BatchRing | None:
        """This process's batch ring, when iterated by `PatchLoader` (else None)."""
        if not self.ring_slots:
            return None
        if self._batch_ring is None:
            self._batch_ring = BatchRing(self._layout(), self.ring_slots, shared)
        return self._batch_ring

    def _inputs(self, scene: CachedScene) -> torch.Tensor:
        """The scene's cached inputs as a (zero-copy) float16 tensor."""
        if scene.entry not in self._tensors:
            self._tensors[scene.entry] = torch.from_numpy(scene.x)
        return self._tensors[scene.entry]

    def _draw(self, rng: np.random.Generator, y_out: np.ndarray) -> tuple[CachedScene, int, int]:
        """Pick a scene and a crop with enough labelled pixels; its charts go into y_out."""
        size, need = self.config.patch_size, self.config.min_valid_fraction
        for _ in range(MAX_ATTEMPTS):
            scene = self.scenes[rng.choice(len(self.scenes), p=self.probabilities)]
            h, w = scene.working_shape
            top, left = _offset(rng, h, size), _offset(rng, w, size)
            crop(scene.charts, top, left, size, charts.MASK, y_out)
            labelled = (y_out != charts.MASK).any(axis=0)
            if labelled.any() and labelled.mean() >= need:
                return scene, top, left
        raise KitError(
            f"no patch with a labelled share >= min_valid_fraction={need} found in "
            f"{MAX_ATTEMPTS} draws; lower min_valid_fraction or the patch size"
        )

    def loader(self, **kwargs) -> PatchLoader:
        """An iterable of batches with `config.num_workers` loader workers (DataLoader options
        in `kwargs`), filling reusable batch memory (see `PatchLoader`)."""
        kwargs.setdefault("num_workers", self.config.num_workers)
        return PatchLoader(self, **kwargs)


#: Most loader workers chosen automatically for a GPU (`loader_options`).
GPU_WORKERS = 8


def loader_options(
    config: DataConfig, device: torch.device, cpus: int | None = None, processes: int = 1
) -> dict:
    """DataLoader options for training batches that go to `device` (`PatchDataset.loader`).

    On the CPU: ``data.num_workers`` workers and batches in reusable memory, as always. On a
    GPU the loader must keep up with a fast step: batches come in pinned memory (so that
    ``non_blocking`` copies overlap the computation), and ``data.num_workers: 0`` means
    "choose": one worker per core left over, shared among the `processes` training on this
    machine, at most `GPU_WORKERS` (a set number is kept). Workers are not persistent:
    each epoch's loader starts afresh, so that the workers draw that epoch's batches
    (`PatchDataset.set_epoch`).

    Parameters
    ----------
    config : DataConfig
        The data settings (``num_workers``).
    device : torch.device
        Where the batches go.
    cpus : int, optional
        Usable cores (default: those this process may run on).
    processes : int
        Training processes on this machine (torchrun's ``LOCAL_WORLD_SIZE``).

    Returns
    -------
    dict
        ``num_workers`` and ``pin_memory``; ``prefetch_factor`` (batches in flight per
        worker) where there are workers on a GPU.

    Examples
    --------
    >>> config = DataConfig()
    >>> loader_options(config, torch.device("cpu"))
    {'num_workers': 0, 'pin_memory': False}
    >>> loader_options(config, torch.device("cuda"), cpus=16)
    {'num_workers': 8, 'pin_memory': True, 'prefetch_factor': 2}
    """
    if device.type != "cuda":
        return {"num_workers": config.num_workers, "pin_memory": False}
    workers = config.num_workers
    if workers == 0:
        if cpus is None:
            affinity = getattr(os, "sched_getaffinity", None)
            cpus = len(affinity(0)) if affinity else os.cpu_count() or 1
        workers = max(1, min(GPU_WORKERS, cpus // max(1, processes) - 1))
    return {"num_workers": workers, "pin_memory": True, "prefetch_factor": 2}


class PatchLoader:
    """Batches of a `PatchDataset` through a torch DataLoader, in reusable memory.

    Each worker (or the main process, without workers) fills a few reusable slots
    (`kit.data.batch_memory`) instead of allocating 100+ MB per batch, which makes batches
    about twice as fast to produce. A slot is refilled only after the consumer released every
    tensor of the batch it held, so keeping batches is safe (they then come in new memory).
    With `pin_memory=True` batches are copied to pinned memory anyway, and no ring is used.
    """

    def __init__(self, dataset: PatchDataset, **dataloader_options) -> None:
        self.dataset = dataset
        self.options = dataloader_options

    def __len__(self) -> int:
        return len(self.dataset)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, dict[str, torch.Tensor]]]:
        # The current epoch, a ring of its own (copying goes through __getstate__), and the
        # caller's object left alone.
        dataset = copy.copy(self.dataset)
        if not self.options.get("pin_memory"):
            in_flight = self.options.get("prefetch_factor") or 2
            dataset.ring_slots = in_flight + 2 if self.options.get("num_workers") else 2
        receiver = RingReceiver()
        for item in DataLoader(dataset, batch_size=None, **self.options):
            if isinstance(item, RingBatch):
                tensors = receiver.unpack(item)
                x = tensors.pop("x")
                item = (x, tensors)
            yield item


def _distributed(rank: int | None, world_size: int | None) -> tuple[int, int]:
    """(rank, world size): as given, else from torch.distributed when it is initialised."""
    dist = torch.distributed
    ready = dist.is_available() and dist.is_initialized()
    if rank is None:
        rank = dist.get_rank() if ready else 0
    if world_size is None:
        world_size = dist.get_world_size() if ready else 1
    if not 0 <= rank < world_size:
        raise KitError(f"rank {rank} is not in 0..{world_size - 1}")
    return rank, world_size
