"""AutoICE data: scene I/O, dataset layouts, ice-chart conversion, synthetic data, manifest,
and scene selection (training/validation split, scenes to predict) and the training data pipeline
(config, scene cache, patches, augmentations, class weights).

The torch-based names (`PatchDataset`, `SceneDataset`, `Augmenter`, `to_original_grid`) are
imported on first use, so that `import kit.data` stays light.
"""

from kit.data.cache import CachedScene, SceneCache, channel_names
from kit.data.class_weights import (
    AI4SEAICE_SIC_WEIGHTS,
    class_weights,
    count_classes,
    manifest_counts,
    median_frequency_weights,
)
from kit.data.config import AugmentConfig, DataConfig
from kit.data.conventions import Scaling, decide_scaling, file_scaling, to_physical, to_zscore
from kit.data.layouts import discover
from kit.data.scene import (
    SceneInfo,
    open_scene,
    parse_scene_id,
    read_geo_grid,
    read_scene_charts,
    scene_info,
)
from kit.data.selection import prediction_scenes, resolve_data_dir, split_scenes
from kit.lazy import lazy_exports

_LAZY = {
    "PatchDataset": "kit.data.patches",
    "SceneDataset": "kit.data.scene_dataset",
    "Augmenter": "kit.data.augment",
    "to_original_grid": "kit.data.regrid",
}

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


__all__ = [
    "AI4SEAICE_SIC_WEIGHTS",
    "AugmentConfig",
    "CachedScene",
    "DataConfig",
    "SceneCache",
    "SceneInfo",
    "Scaling",
    "decide_scaling",
    "file_scaling",
    "read_geo_grid",
    "read_scene_charts",
    "to_physical",
    "to_zscore",
    "channel_names",
    "class_weights",
    "count_classes",
    "discover",
    "manifest_counts",
    "median_frequency_weights",
    "open_scene",
    "parse_scene_id",
    "prediction_scenes",
    "resolve_data_dir",
    "scene_info",
    "split_scenes",
    *_LAZY,
]
