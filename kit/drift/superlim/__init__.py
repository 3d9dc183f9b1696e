"""SuperLIM: a small SuperPoint-style network for SAR ice drift, trained self-supervised, and
the drift methods `superlim` and `superlim+pm` built on it.

- `kit.drift.superlim.model`: the network (`SuperLIM`: keypoint scores and unit descriptors at
  1/8 resolution) and its input and outputs.
- `kit.drift.superlim.checkpoint`: saving and loading checkpoints; the packaged weights
  (`DEFAULT_WEIGHTS`, in `weights/`).
- `kit.drift.superlim.train`: self-supervised training on warped SAR patches.
- `kit.drift.superlim.descriptor_matching`: drift vectors by mutual descriptor matching, image 2 first
  turned back by the pair's rotation.

`python -m kit.drift.superlim --help` trains a checkpoint (see the user guide, docs/guide/drift.md).
The public names of the modules are re-exported here.
"""

from kit.drift.superlim.checkpoint import DEFAULT_WEIGHTS, load_superlim, save_superlim
from kit.drift.superlim.descriptor_matching import (
    COARSE_STEP_DEG,
    GRID_STEP,
    MIN_DEROTATION_DEG,
    derotate,
    derotation,
    descriptor_grid,
    estimate_alignment,
    rigid_ransac,
    superlim_first_guess,
    superlim_match,
    superlim_track,
)
from kit.drift.superlim.model import (
    CELL,
    SuperLIM,
    cell_reliability,
    keypoint_map,
    network_input,
    sample_descriptors,
)
from kit.drift.superlim.train import (
    SuperLIMTrainConfig,
    random_affine,
    sample_batch,
    superlim_loss,
    train_superlim,
    training_sources,
)

__all__ = [
    "CELL",
    "COARSE_STEP_DEG",
    "DEFAULT_WEIGHTS",
    "GRID_STEP",
    "MIN_DEROTATION_DEG",
    "SuperLIM",
    "SuperLIMTrainConfig",
    "cell_reliability",
    "derotate",
    "derotation",
    "descriptor_grid",
    "estimate_alignment",
    "keypoint_map",
    "load_superlim",
    "network_input",
    "random_affine",
    "rigid_ransac",
    "sample_batch",
    "sample_descriptors",
    "save_superlim",
    "superlim_first_guess",
    "superlim_loss",
    "superlim_match",
    "superlim_track",
    "train_superlim",
    "training_sources",
]
