"""SuperLIM's self-supervised training (homographic/affine adaptation).

Training needs no labels: a SAR patch and a randomly warped copy of it, each with its own
speckle, form a pair whose correspondence is known exactly. Descriptors learn by a contrastive
loss (each cell's descriptor must be most similar to the descriptor at its true position in the
warped patch, against all other cells more than a cell away); the score map learns where
descriptor matching is reliable, and to be consistent under the warp.

Run `python -m kit.drift.superlim --help` to train a checkpoint (see the user guide, docs/guide/drift.md).
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from kit.device import resolve_device
from kit.drift.preprocess import remove_mean_and_clip, to_db
from kit.drift.superlim.model import (
    CELL,
    SuperLIM,
    cell_reliability,
    keypoint_map,
    sample_descriptors,
)
from kit.drift.synthetic import synthetic_texture


@dataclass
class SuperLIMTrainConfig:
    """SuperLIM's self-supervised training settings; the defaults made the committed checkpoint.

    (The segmentation models' training settings are `kit.experiment.config.TrainConfig`.)
    """

    steps: int = 500
    batch: int = 8
    patch: int = 96
    lr: float = 2e-3
    #: Matching turns image 2 back by the pair's rotation first (`kit.drift.superlim.descriptor_matching`),
    #: so only the residual must be learnt; full-circle training made the descriptors much less
    #: discriminative on the real 2016 pair (benchmarks/RESULTS.md, "(f)").
    max_rotation_deg: float = 15.0
    max_shift: float = 12.0
    max_scale: float = 0.08
    max_shear: float = 0.05
    looks: float = 8.0
    temperature: float = 0.1
    negative_radius: float = 8.0
    consistency_weight: float = 10.0
    seed: int = 0
    device: str | None = None


def training_sources(
    paths: list[str] | None = None, synthetic: int = 4, seed: int = 0
) -> list[np.ndarray]:
    """Normalised dB images to cut training patches from: the given GeoTIFFs (the shared S1
    images by default, when present), or `synthetic` synthetic textures when there are none."""
    from kit.charts import shared_data_dir
    from kit.drift.io import read_s1_geotiff

    if paths is None:
        paths = sorted(glob.glob(os.path.join(shared_data_dir(), "s1_pairs", "*.tif")))
    sources = [remove_mean_and_clip(to_db(read_s1_geotiff(p).sigma0)) for p in paths]
    if not sources:
        sources = [
            remove_mean_and_clip(synthetic_texture((512, 512), seed=seed + i))
            for i in range(synthetic)
        ]
    return sources


def random_affine(rng: np.random.Generator, cfg: SuperLIMTrainConfig) -> np.ndarray:
    """A random affine warp within the limits of `cfg`.

    Parameters
    ----------
    rng : numpy.random.Generator
        The source of randomness.
    cfg : SuperLIMTrainConfig
        Uses `max_rotation_deg`, `max_scale`, `max_shear` and `max_shift`.

    Returns
    -------
    numpy.ndarray
        2 x 3 matrix mapping patch-1 offsets from the centre to patch-2 offsets.
    """
    a = np.radians(rng.uniform(-cfg.max_rotation_deg, cfg.max_rotation_deg))
    s = 1 + rng.uniform(-cfg.max_scale, cfg.max_scale)
    shear = rng.uniform(-cfg.max_shear, cfg.max_shear)
    lin = (
        s
        * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        @ np.array([[1, shear], [0, 1]])
    )
    return np.hstack([lin, rng.uniform(-cfg.max_shift, cfg.max_shift, size=(2, 1))])


def _augment(patch: np.ndarray, rng: np.random.Generator, looks: float) -> np.ndarray:
    """Independent speckle (additive in dB) and a random gain, standardised, NaN -> 0."""
    noisy = patch + 10 * np.log10(rng.gamma(looks, 1 / looks, size=patch.shape)) * rng.uniform(
        0.3, 1.0
    )
    noisy *= rng.uniform(0.8, 1.25)
    ok = np.isfinite(noisy)
    out = np.zeros(patch.shape, np.float32)
    if ok.sum() > 1:
        out[ok] = (noisy[ok] - noisy[ok].mean()) / (noisy[ok].std() + 1e-6)
    return out


def sample_batch(sources: list[np.ndarray], rng: np.random.Generator, cfg: SuperLIMTrainConfig):
    """A training batch of patches, their warped copies and the warps.

    Parameters
    ----------
    sources : list of numpy.ndarray
        Normalised images to cut patches from (see `training_sources`).
    rng : numpy.random.Generator
        The source of randomness.
    cfg : SuperLIMTrainConfig
        Uses `batch`, `patch`, `looks` and the warp limits.

    Returns
    -------
    tuple of torch.Tensor
        patch1 and patch2 (B, 1, patch, patch), each with its own speckle, and the (B, 2, 3)
        affines A with patch2(A p) = patch1(p) (offsets from the centres).
    """
    n = cfg.patch
    c = (n - 1) / 2
    oy, ox = np.mgrid[0:n, 0:n].astype(np.float64) - c
    p1, p2, mats = [], [], []
    margin = int(np.ceil(n * 0.8 + cfg.max_shift)) + 2
    for _ in range(cfg.batch):
        src = sources[rng.integers(len(sources))]
        cy = rng.uniform(margin, src.shape[0] - margin)
        cx = rng.uniform(margin, src.shape[1] - margin)
        a = random_affine(rng, cfg)
        inv = np.linalg.inv(a[:, :2])
        # patch-2 pixel q shows the source at centre + A^-1 (q - t)
        qx, qy = ox - a[0, 2], oy - a[1, 2]
        sx = inv[0, 0] * qx + inv[0, 1] * qy
        sy = inv[1, 0] * qx + inv[1, 1] * qy
        filled = np.nan_to_num(src)
        one = ndimage.map_coordinates(filled, [cy + oy, cx + ox], order=1)
        two = ndimage.map_coordinates(filled, [cy + sy, cx + sx], order=1)
        p1.append(_augment(one, rng, cfg.looks))
        p2.append(_augment(two, rng, cfg.looks))
        mats.append(a)
    to = torch.from_numpy
    return to(np.stack(p1))[:, None], to(np.stack(p2))[:, None], to(np.stack(mats)).float()


def _cell_centres(h: int, w: int, device) -> torch.Tensor:
    """(h*w, 2) pixel (x, y) of the centres of 8 x 8 cells."""
    ys, xs = torch.meshgrid(
        torch.arange(h, device=device), torch.arange(w, device=device), indexing="ij"
    )
    return torch.stack([xs, ys], -1).reshape(-1, 2).float() * CELL + (CELL - 1) / 2


def _sample(maps: torch.Tensor, xy: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear samples (B, C, N) of full-resolution maps at pixel positions xy (B, N, 2)."""
    h, w = size
    grid = torch.stack([(2 * xy[..., 0] + 1) / w - 1, (2 * xy[..., 1] + 1) / h - 1], -1)[:, None]
    return F.grid_sample(maps, grid, align_corners=False)[:, :, 0]


def _warp_points(mats: torch.Tensor, points: torch.Tensor, centre: float) -> torch.Tensor:
    """Pixel positions (B, N, 2) in patch 2 of `points` (N, 2) of patch 1, by each batch item's
    2 x 3 affine matrix acting on offsets from the patch centre."""
    return (
        torch.einsum("bij,nj->bni", mats[:, :, :2], points - centre) + mats[:, None, :, 2] + centre
    )


def superlim_loss(
    model: SuperLIM,
    p1: torch.Tensor,
    p2: torch.Tensor,
    mats: torch.Tensor,
    cfg: SuperLIMTrainConfig,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The self-supervised training loss of a batch of warped patch pairs.

    Contrastive descriptor loss + keypoint reliability loss + warp consistency of the scores.

    Parameters
    ----------
    model : SuperLIM
        The network being trained.
    p1, p2 : torch.Tensor
        Patches (B, 1, n, n) and their warped copies, as made by `sample_batch`.
    mats : torch.Tensor
        (B, 2, 3) affine matrices: patch-2 offset from the centre = A @ patch-1 offset + t.
    cfg : SuperLIMTrainConfig
        Uses `negative_radius`, `temperature` and `consistency_weight`.

    Returns
    -------
    loss : torch.Tensor
        The scalar loss to minimise.
    parts : dict of str to float
        Its terms ("descriptor", "keypoint", "consistency") and "match_accuracy", the share
        of cells whose best match in patch 2 is the right one.
    """
    batch, _, side, _ = p1.shape
    logits, descriptors = model(torch.cat([p1, p2]))
    logits1, logits2 = logits[:batch], logits[batch:]
    descriptor_map1, descriptor_map2 = descriptors[:batch], descriptors[batch:]
    cells_high, cells_wide = descriptor_map1.shape[-2:]
    centres = _cell_centres(cells_high, cells_wide, p1.device)  # (N, 2)
    centre = (side - 1) / 2
    warped_centres = _warp_points(mats, centres, centre)
    lowest, highest = CELL / 2, side - 1 - CELL / 2  # a whole cell inside patch 2
    centre_inside = ((warped_centres >= lowest) & (warped_centres <= highest)).all(-1)  # (B, N)
    cell_descriptors1 = descriptor_map1.flatten(2).transpose(1, 2)  # (B, N, D)
    positive = (cell_descriptors1 * sample_descriptors(descriptor_map2, warped_centres)).sum(-1)
    cell_descriptors2 = descriptor_map2.flatten(2)  # (B, D, M)
    similarity = torch.bmm(cell_descriptors1, cell_descriptors2)  # (B, N, M)
    distance = torch.cdist(warped_centres, centres[None].expand(batch, -1, -1))
    negatives = similarity.masked_fill(distance < cfg.negative_radius, float("-inf"))
    contrastive_logits = torch.cat([positive[..., None], negatives], -1) / cfg.temperature
    descriptor_loss = F.cross_entropy(
        contrastive_logits[centre_inside],
        torch.zeros(int(centre_inside.sum()), dtype=torch.long, device=p1.device),
    )
    with torch.no_grad():  # a cell is reliable when its best image-2 cell is the right one
        best = similarity.argmax(-1)
        correct = (distance.gather(-1, best[..., None])[..., 0] < cfg.negative_radius).float()
    reliability = cell_reliability(logits1).flatten(1).clamp(1e-4, 1 - 1e-4)
    keypoint_loss = F.binary_cross_entropy(reliability[centre_inside], correct[centre_inside])
    # scores of patch 1 must move with the image: compare with patch 2's scores at warped pixels
    scores1, scores2 = keypoint_map(logits1), keypoint_map(logits2)
    ys, xs = torch.meshgrid(
        torch.arange(side, device=p1.device), torch.arange(side, device=p1.device), indexing="ij"
    )
    pixels = torch.stack([xs, ys], -1).reshape(-1, 2).float()
    warped_pixels = _warp_points(mats, pixels, centre)
    pixel_inside = ((warped_pixels >= 0) & (warped_pixels <= side - 1)).all(-1)
    scores2_at_warped = _sample(scores2, warped_pixels, (side, side))[:, 0]
    squared_change = (scores1.flatten(1) - scores2_at_warped) ** 2
    consistency = squared_change[pixel_inside].mean() * cfg.consistency_weight
    parts = {
        "descriptor": descriptor_loss,
        "keypoint": keypoint_loss,
        "consistency": consistency,
        "match_accuracy": correct[centre_inside].mean(),
    }
    loss = descriptor_loss + keypoint_loss + consistency
    return loss, {k: float(v.detach()) for k, v in parts.items()}


def train_superlim(
    cfg: SuperLIMTrainConfig | None = None,
    sources: list[np.ndarray] | None = None,
    progress: bool = True,
) -> tuple[SuperLIM, list[dict]]:
    """Train a SuperLIM network on synthetic warps of `sources`.

    Parameters
    ----------
    cfg : SuperLIMTrainConfig, optional
        Training settings; the defaults made the committed checkpoint.
    sources : list of numpy.ndarray, optional
        Normalised images to cut patches from; default: `training_sources(seed=cfg.seed)`.
    progress : bool, default True
        Show a progress bar.

    Returns
    -------
    model : SuperLIM
        The trained network, in eval mode.
    history : list of dict
        Per step: "step", "loss" and the loss parts of `superlim_loss`.
    """
    from tqdm import tqdm

    cfg = cfg or SuperLIMTrainConfig()
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    sources = sources if sources is not None else training_sources(seed=cfg.seed)
    device = resolve_device(cfg.device)
    model = SuperLIM().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=max(cfg.steps, 1))
    history = []
    model.train()
    bar = tqdm(range(cfg.steps), desc="SuperLIM training", disable=not progress)
    for step in bar:
        p1, p2, mats = (t.to(device) for t in sample_batch(sources, rng, cfg))
        loss, parts = superlim_loss(model, p1, p2, mats, cfg)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        history.append({"step": step, "loss": float(loss), **parts})
        bar.set_postfix(loss=f"{float(loss):.3f}", acc=f"{parts['match_accuracy']:.2f}")
    model.eval()
    return model, history
