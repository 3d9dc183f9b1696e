"""Reused batch memory: batches from reused slots equal freshly made ones, batches a consumer
keeps are never overwritten, and partial re-padding (`crop` extents) equals a full crop."""

from __future__ import annotations

import gc

import numpy as np
import pytest
import torch

from kit import charts
from kit.data.batch_memory import BatchRing, RingReceiver
from kit.data.config import AugmentConfig
from kit.data.patches import PatchDataset, crop
from tests.data.test_patches import make_config


def _fingerprint(batch) -> list[torch.Tensor]:
    x, y = batch
    return [x.clone(), *(y[c].clone() for c in sorted(y))]


def _assert_same(a, b) -> None:
    assert len(a) == len(b) and all(torch.equal(s, t) for s, t in zip(a, b, strict=True))


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("augment", [False, True], ids=["plain", "augmented"])
def test_batches_in_reused_memory_equal_fresh_batches(tmp_path, train_paths, workers, augment):
    aug = AugmentConfig(dihedral_p=0.5, affine_p=0.5) if augment else AugmentConfig()
    # patches larger than the small scenes: every batch pads, at random offsets
    cfg = make_config(tmp_path, patch_size=160, epoch_len=12, augment=aug)
    dataset = PatchDataset(cfg, train_paths)
    seen = []
    for batch in dataset.loader(num_workers=workers):  # each batch dropped: slots get reused
        seen.append(_fingerprint(batch))
        del batch
    assert len(seen) == 12
    for index, got in enumerate(seen):
        _assert_same(got, _fingerprint(dataset.batch(index)))


def test_kept_batches_are_never_overwritten(tmp_path, train_paths):
    cfg = make_config(tmp_path, patch_size=160, epoch_len=10)
    dataset = PatchDataset(cfg, train_paths)
    kept, copies = [], []
    for i, batch in enumerate(dataset.loader(num_workers=0)):
        if i % 3 == 0:  # keep some batches while the loader goes on
            kept.append(batch)
            copies.append(_fingerprint(batch))
    for batch, copy in zip(kept, copies, strict=True):
        _assert_same(_fingerprint(batch), copy)


def test_slot_is_free_only_after_every_tensor_is_released():
    layout = (("x", (2, 3), torch.float32), ("SIC", (2,), torch.int64))
    ring = BatchRing(layout, slots=1, shared=False)
    handout, views, _ = ring.acquire()
    views["x"].fill_(1.5)
    tensors = RingReceiver().unpack(handout)
    assert torch.equal(tensors["x"], torch.full((2, 3), 1.5))
    assert ring.acquire() is None  # in use
    x_view = tensors["x"][0]  # a view outlives its tensor
    del tensors
    gc.collect()
    assert ring.acquire() is None
    del x_view
    gc.collect()
    assert ring.acquire() is not None


def test_crop_with_extents_equals_a_full_crop():
    rng = np.random.default_rng(0)
    size, fill = 16, charts.NORMALISED_FILL_VALUE
    reused = torch.empty(2, size, size)
    extent = np.array([0, size, 0, size])
    for _ in range(200):
        h, w = rng.integers(1, 24, 2)
        scene = torch.from_numpy(rng.standard_normal((2, h, w)).astype(np.float16))
        top, left = (int(rng.integers(min(0, n - size), max(0, n - size) + 1)) for n in (h, w))
        fresh = torch.empty(2, size, size)
        crop(scene, top, left, size, fill, fresh)
        crop(scene, top, left, size, fill, reused, extent)
        assert torch.equal(fresh, reused)
