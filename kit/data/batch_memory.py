"""Reusable batch buffers, so that a batch does not cost 100+ MB of fresh memory every time.

A batch of 16 x 24 x 256 x 256 float32 inputs is 100 MB. Written into newly allocated memory it
costs about 2.5 times as much as written into memory used before, because the kernel must
find and zero every page first. `BatchRing` keeps a few slots of batch memory (shared memory
in loader workers) and fills a slot again only once the consumer has let go of every tensor of
the batch it held:

- the producer (`PatchDataset` in a worker, or in the main process) calls `acquire()`, fills the
  slot's tensors and hands out the `RingBatch`;
- the consumer's `RingReceiver.unpack(batch)` gives tensors viewing the slot and marks the slot
  free (in a small shared flag array) when the last of them is garbage-collected.

A consumer that keeps batches (say `list(loader)`) just leaves no slot free, and the producer
falls back to fresh memory: data in use is never overwritten.
"""

from __future__ import annotations

import uuid
import weakref
from dataclasses import dataclass

import numpy as np
import torch

#: Byte alignment of each tensor inside a slot.
ALIGN = 64

#: (name, shape, dtype) of each tensor of a batch, in slot order.
Layout = tuple[tuple[str, tuple[int, ...], torch.dtype], ...]


def _placements(layout: Layout) -> tuple[list[tuple[str, tuple, torch.dtype, int, int]], int]:
    """(name, shape, dtype, byte offset, byte size) of each tensor in a slot; the slot's size."""
    placed, total = [], 0
    for name, shape, dtype in layout:
        nbytes = int(np.prod(shape)) * torch.empty(0, dtype=dtype).element_size()
        placed.append((name, shape, dtype, total, nbytes))
        total += -(-nbytes // ALIGN) * ALIGN
    return placed, total


def _views(memory: torch.Tensor, layout: Layout) -> dict[str, torch.Tensor]:
    """The tensors of a batch as views of one slot's uint8 memory (the producer's side)."""
    return {
        name: memory[start : start + nbytes].view(dtype).view(shape)
        for name, shape, dtype, start, nbytes in _placements(layout)[0]
    }


@dataclass
class RingBatch:
    """A filled slot on its way to the consumer.

    Tensors travel between processes as shared memory whose file descriptor is passed over a
    socket, a round trip each time; so the busy flags and a slot's memory travel only with the
    first batch that uses them, and `RingReceiver` keeps them for the later ones.
    """

    ring: str  # the producing ring's id
    slot: int
    layout: Layout
    memory: torch.Tensor | None  # uint8, the slot; None once the receiver has it
    busy: torch.Tensor | None  # uint8 [slots], 1 while a slot is handed out; None likewise


class RingReceiver:
    """The consumer's side: turns `RingBatch`es into tensors that free their slot when released."""

    def __init__(self) -> None:
        self._memory: dict[tuple[str, int], torch.Tensor] = {}
        self._busy: dict[str, torch.Tensor] = {}

    def unpack(self, batch: RingBatch) -> dict[str, torch.Tensor]:
        """The batch's tensors; the slot becomes free again once all of them are released.

        Parameters
        ----------
        batch : RingBatch
            A batch from `BatchRing.acquire` (in this or a loader worker process).

        Returns
        -------
        dict of str to Tensor
            The tensors of the batch's layout, viewing the slot's memory.
        """
        if batch.busy is not None:
            self._busy[batch.ring] = batch.busy
        if batch.memory is not None:
            self._memory[batch.ring, batch.slot] = batch.memory
        return _unpack(
            self._memory[batch.ring, batch.slot], self._busy[batch.ring], batch.slot, batch.layout
        )


def _unpack(memory: torch.Tensor, busy: torch.Tensor, slot: int, layout: Layout):
    """The consumer's tensors of a slot: numpy views of one root array, which every tensor
    keeps alive and whose collection marks the slot free."""
    root = memory.numpy()
    tensors = {}
    for name, shape, dtype, start, nbytes in _placements(layout)[0]:
        np_dtype = torch.empty(0, dtype=dtype).numpy().dtype
        tensors[name] = torch.from_numpy(root[start : start + nbytes].view(np_dtype).reshape(shape))
    weakref.finalize(root, _free, busy, slot)
    return tensors


def new_tensor(shape: tuple[int, ...], dtype: torch.dtype, shared: bool) -> torch.Tensor:
    """An empty tensor, in shared memory when `shared`.

    Parameters
    ----------
    shape : tuple of int
        Its shape.
    dtype : torch.dtype
        Its element type.
    shared : bool
        Allocate it in shared memory directly (moving a tensor there with `share_memory_()`
        would copy it).

    Returns
    -------
    Tensor
        Uninitialised.
    """
    if not shared:
        return torch.empty(shape, dtype=dtype)
    try:  # as torch's own default_collate does in loader workers
        storage = torch.empty(0, dtype=dtype)._typed_storage()._new_shared(int(np.prod(shape)))
        return torch.empty(0, dtype=dtype).new(storage).view(shape)
    except (AttributeError, RuntimeError):  # private API changed: copy instead
        return torch.empty(shape, dtype=dtype).share_memory_()


def _free(busy: torch.Tensor, slot: int) -> None:
    busy[slot] = 0


class BatchRing:
    """`slots` reusable batch buffers of one `layout` (in shared memory when `shared`)."""

    def __init__(self, layout: Layout, slots: int, shared: bool) -> None:
        self.id = uuid.uuid4().hex
        self.layout = layout
        self.shared = shared
        self.busy = torch.zeros(slots, dtype=torch.uint8)
        if shared:
            self.busy.share_memory_()
        self._memory: list[torch.Tensor | None] = [None] * slots
        self._sent = [False] * slots  # the receiver has this slot's memory
        self._busy_sent = False
        (_, first_shape, _), *_ = layout  # the first tensor: the inputs [B, C, P, P]
        batch, size = first_shape[0], first_shape[-1]
        #: Per slot and patch of the first tensor: (row0, row1, col0, col1) that may hold data
        #: from the slot's last batch; the rest holds the fill value (see `kit.data.patches.crop`).
        self._extents = [np.tile(np.array([0, size, 0, size]), (batch, 1)) for _ in range(slots)]

    def acquire(self) -> tuple[RingBatch, dict[str, torch.Tensor], np.ndarray] | None:
        """A free slot, marked busy until the consumer has released the batch.

        Returns
        -------
        (RingBatch, dict of str to Tensor, ndarray) or None
            The batch to hand out, the producer's tensors viewing the slot, and per patch the
            (row0, row1, col0, col1) that may still hold the slot's last batch; None when every
            slot is in use (the caller then uses fresh memory).
        """
        free = torch.nonzero(self.busy == 0)
        if free.numel() == 0:
            return None
        slot = int(free[0])
        self.busy[slot] = 1
        if self._memory[slot] is None:
            self._memory[slot] = new_tensor(
                (_placements(self.layout)[1],), torch.uint8, self.shared
            )
        memory = self._memory[slot]
        handout = RingBatch(
            self.id,
            slot,
            self.layout,
            None if self._sent[slot] else memory,
            None if self._busy_sent else self.busy,
        )
        self._sent[slot] = self._busy_sent = True
        return handout, _views(memory, self.layout), self._extents[slot]
