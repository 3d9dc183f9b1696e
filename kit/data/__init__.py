"""AutoICE data: scene I/O, dataset layouts, ice-chart conversion, synthetic data, manifest."""

from kit.data.layouts import discover
from kit.data.scene import SceneInfo, open_scene, parse_scene_id, scene_info

__all__ = ["SceneInfo", "discover", "open_scene", "parse_scene_id", "scene_info"]
