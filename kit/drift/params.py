"""The tracking settings: `TrackParams` (every tunable setting of `kit.drift.track.track`, in
pixels and degrees), their help texts, and the class that adds the settings registered drift
methods bring (`params_class`, `make_params`)."""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from typing import Any

from kit.config import config_from_dict
from kit.drift.features import FeatureParams
from kit.drift.local_motion import LocalParams
from kit.drift.matching import MatchParams
from kit.drift.registry import DRIFT_METHODS, added_settings
from kit.errors import KitError


@dataclass
class TrackParams:
    """All tunable settings of `track` (pixels and degrees); pass any of them as keywords."""

    grid_step: int = 32
    template: int = MatchParams.template
    search: int = MatchParams.search
    refine_search: int = 8
    superlim_search: int = 8
    angles: tuple[float, ...] = MatchParams.angles
    min_quality: float = MatchParams.min_quality
    min_sharpness: float = MatchParams.min_sharpness
    clip: tuple[float, float] = (1.0, 99.0)
    mean_sigma: float | None = None
    n_features: int = FeatureParams.n_features
    ratio: float = FeatureParams.ratio
    max_drift: float = FeatureParams.max_drift
    max_residual: float = LocalParams.max_residual
    match_radius: float = LocalParams.radius
    #: `ft+pm`, `superlim+pm`: largest extra search (px) where the predictions of nearby
    #: matches disagree (a shear zone or lead between them); 0 keeps every search at its size.
    widen: int = 24
    superlim_weights: str | None = None
    superlim_radius: float = 64.0
    superlim_mutual_tol: float = 8.0
    superlim_min_similarity: float = 0.5
    #: `ft` and `superlim` on a grid: threshold of the normalised median test against the
    #: neighbouring vectors (`kit.drift.outliers.neighbour_consistent`); 0 turns it off.
    consistency: float = 3.0
    device: str | None = None
    workers: int = 2

    def match_params(self, search: int) -> MatchParams:
        return MatchParams(
            template=self.template,
            search=search,
            angles=tuple(self.angles),
            min_quality=self.min_quality,
            min_sharpness=self.min_sharpness,
            workers=self.workers,
        )

    def local_params(self) -> LocalParams:
        return LocalParams(radius=self.match_radius, max_residual=self.max_residual)

    def feature_params(self) -> FeatureParams:
        return FeatureParams(
            n_features=self.n_features,
            ratio=self.ratio,
            max_drift=self.max_drift,
            local=self.local_params(),
        )

    @property
    def agree(self) -> float:
        """Range (px) within which the predictions of nearby matches count as agreeing: beyond
        it `ft+pm` and `superlim+pm` widen their search."""
        return 2 * self.max_residual

    @property
    def consistent_spread(self) -> float:
        """Largest range (px) of the nearby predictions at a valid `ft` or `superlim` vector:
        stricter than `agree`, as these vectors are the answer, not a first guess."""
        return 1.5 * self.max_residual


#: What each `TrackParams` setting does, for ``--help`` (`kit.drift.cli` puts the methods that
#: use it in front: the registry's `uses`, or "all methods" for `COMMON_SETTINGS`).
SETTING_HELP = {
    "grid_step": "grid spacing of the vectors (px)",
    "template": "template size (odd, px)",
    "search": "search radius around the zero or geolocation first guess (px); the methods "
    "with a first guess fall back to it where they have none",
    "refine_search": "search radius around the feature-tracking first guess (px)",
    "superlim_search": "search radius around the SuperLIM first guess (px)",
    "angles": "template rotations tried on top of the first guess's, comma-separated degrees, "
    "e.g. 0,-10,10",
    "min_quality": "minimum peak correlation of a valid vector",
    "min_sharpness": "minimum margin of the peak over the best rival correlation",
    "clip": "low,high percentiles the dB images are clipped to before matching",
    "mean_sigma": "remove the local mean with a Gaussian of this sigma (px) before matching "
    "(None: keep it)",
    "n_features": "number of ORB keypoints per image",
    "ratio": "Lowe ratio of the best to the second-best descriptor distance",
    "max_drift": "largest drift of a feature match (px)",
    "max_residual": "largest residual of a match from the affine motion of its neighbourhood "
    "(px); nearby predictions within twice this agree",
    "match_radius": "neighbourhood of a match or point in the local motion model (px)",
    "widen": "largest extra search (px) where nearby matches disagree (a shear zone or lead); "
    "0: off",
    "superlim_weights": "checkpoint (None: the packaged one)",
    "superlim_radius": "descriptor search radius (px)",
    "superlim_mutual_tol": "largest distance of the back-match from the seed (px)",
    "superlim_min_similarity": "minimum descriptor similarity",
    "consistency": "threshold of the normalised median test of a grid vector against its "
    "neighbours (0: off)",
    "device": "torch device (None: the kit's choice)",
    "workers": "FFT worker threads",
}
#: Settings `track` itself applies, whatever the method.
COMMON_SETTINGS = ("grid_step", "clip", "mean_sigma")


@functools.cache
def _extended(added: tuple[tuple[str, Any, Any], ...]) -> type[TrackParams]:
    """`TrackParams` with the settings (name, type, default) registered methods add."""
    fields = [(name, kind, field(default=default)) for name, kind, default in added]
    cls = dataclasses.make_dataclass("TrackParams", fields, bases=(TrackParams,))
    cls.__module__, cls.__doc__ = TrackParams.__module__, TrackParams.__doc__
    return cls


def params_class() -> type[TrackParams]:
    """The class of the tracking settings: `TrackParams`, with the settings of any registered
    method that brings its own (see `kit.drift.registry.DriftSetting`).

    Returns
    -------
    type
        `TrackParams` itself while no method adds a setting (the kit's methods add none), or a
        subclass of it with those settings as further fields.

    Raises
    ------
    KitError
        If a method's own setting is already a `TrackParams` setting, or a method uses one that
        no class field holds.

    Examples
    --------
    >>> params_class() is TrackParams
    True
    """
    own = {f.name for f in dataclasses.fields(TrackParams)}
    added = added_settings()
    for name, entry in DRIFT_METHODS.items():
        taken = sorted(own & set(entry.settings))
        if taken:
            raise KitError(f"drift method {name}: setting {taken[0]} is a TrackParams setting")
        unknown = sorted(set(entry.uses) - own - set(added))
        if unknown:
            raise KitError(f"drift method {name}: uses {unknown[0]}, which is no setting")
    if not added:
        return TrackParams
    return _extended(tuple((k, s.annotation(), s.default) for k, s in added.items()))


def make_params(**params) -> TrackParams:
    """Tracking settings from keywords, checked like every other config.

    Parameters
    ----------
    **params
        Any fields of `TrackParams` (and settings of registered methods: `params_class`); the
        others keep their defaults.

    Returns
    -------
    TrackParams

    Raises
    ------
    KitError
        For an unknown keyword (``drift: unknown key(s) ...; allowed: ...``) or a value of the
        wrong type (``drift.<name>: ...``).
    """
    return config_from_dict(params_class(), params, section="drift")
