"""Sea-ice drift between two SAR images: feature tracking, pattern matching, SuperLIM, their
combinations, and trajectories through a series.

`kit.drift.track.track` is the entry point for a pair (`TrackParams`, `DriftResult`): the
function is not re-exported here, so that `kit.drift.track` always names its module (as
`import kit.drift.track` and the API reference expect). Methods register with
`register_drift_method` (`DRIFT_METHODS` lists them). `read_s1_geotiff` reads a Sentinel-1
GeoTIFF with its ground control points; `make_pair` and `make_series` build synthetic images
with a known displacement, and `evaluate` scores a method against it. `track_series` follows
points through a series (`Trajectories`, `trajectory_deformation`, `write_trajectories`).

The trajectory names (xarray) and `load_superlim` (torch) are imported on first use, so that
`import kit.drift` never imports torch.
"""

from kit.drift.io import read_s1_geotiff
from kit.drift.metrics import evaluate
from kit.drift.registry import DRIFT_METHODS, register_drift_method
from kit.drift.result import DriftResult
from kit.drift.synthetic import make_pair, make_series
from kit.drift.track import TrackParams
from kit.lazy import lazy_exports

_LAZY = {
    "Trajectories": "kit.drift.trajectories",
    "track_series": "kit.drift.trajectories",
    "trajectory_deformation": "kit.drift.trajectories",
    "write_trajectories": "kit.drift.trajectories",
    "load_superlim": "kit.drift.superlim",
}

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

__all__ = [
    "DRIFT_METHODS",
    "DriftResult",
    "TrackParams",
    "evaluate",
    "make_pair",
    "make_series",
    "read_s1_geotiff",
    "register_drift_method",
    *_LAZY,
]
