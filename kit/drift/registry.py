"""The drift methods `track` offers, each registered once with its function and settings.

A drift method is a function with the common signature::

    vectors(image1, image2, x, y, settings, still, extra)
        -> (u, v, quality, sharpness, reason, sigma)

registered with `register_drift_method` next to its code. It gets the two normalised images
(float32, NaN = no data), the columns and rows of the points in image 1, the tracking settings
(a `kit.drift.track.TrackParams`, holding every registered method's own settings too), the
no-motion first guess `still` (``still.u``, ``still.v``, ``still.angle``: where motionless ice
would be and its rotation, all None without geolocation; ``still.expected(x, y)`` gives it at
any points) and a dict `extra` for anything the method wants kept in `DriftResult.extra`. It
returns one value per point: the displacement (u, v) in pixels, the peak correlation and its
margin over the best rival (NaN where the method has none), the `kit.drift.reasons.Reason` code
(0 = valid) and the standard deviation of the displacement (px, NaN where it has none). `track`
then marks vectors off data, and geolocates them.

`track` dispatches through `DRIFT_METHODS`; `TrackParams` validation (`make_params`), the
``--method`` choices and help of `autoice drift`, `drift-eval` and `drift-series` and the
method contract test (tests/drift/test_method_contract.py) all read it. Adding a drift method
is one module with its registered function, imported once by `kit.drift.track`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kit.errors import KitError
from kit.registry import Registry

#: The common signature: (image1, image2, x, y, settings, still, extra) -> (u, v, quality,
#: sharpness, reason, sigma), numpy arrays of one value per point.
VectorsFunction = Callable[..., tuple]


@dataclass(frozen=True)
class DriftSetting:
    """A tracking setting a method brings with it (beyond `TrackParams`' own)."""

    #: Its value unless `track` or the command line is given another (immutable: a number,
    #: a string, a tuple or None).
    default: Any
    #: What it does, for ``--help`` (the methods that use it are put in front).
    help: str
    #: Its type for checking and parsing (default: the type of `default`).
    type: Any = None

    def annotation(self) -> Any:
        """The type the setting is checked against."""
        return self.type if self.type is not None else type(self.default)


@dataclass(frozen=True)
class DriftMethod:
    """One registered drift method: its function and what it reads."""

    name: str
    vectors: VectorsFunction
    #: One line for ``--method`` help and listings.
    description: str
    #: The `TrackParams` settings (and its own) the method reads, for the option help.
    uses: tuple[str, ...] = ()
    #: Settings the method adds to `TrackParams`: name -> `DriftSetting`.
    settings: Mapping[str, DriftSetting] = field(default_factory=dict)
    #: Its valid grid vectors must also pass the normalised median test against their
    #: neighbours (`consistency` > 0): for methods without a correlation check of their own.
    neighbour_check: bool = False
    #: ``searches(settings)``: the pattern-matching search radii (px) it may use, so that the
    #: command line checks their windows fit in memory before any image is read.
    searches: Callable[[Any], Sequence[int]] | None = None


#: Every drift method, in registration order (`kit.drift.track.METHODS`).
DRIFT_METHODS: Registry[DriftMethod] = Registry("drift method")


def register_drift_method(
    name: str,
    *,
    description: str,
    uses: Sequence[str] = (),
    settings: Mapping[str, DriftSetting] | None = None,
    neighbour_check: bool = False,
    searches: Callable[[Any], Sequence[int]] | None = None,
) -> Callable[[VectorsFunction], VectorsFunction]:
    """Register the decorated function as drift method `name`.

    Parameters
    ----------
    name : str
        The method as `track(method=...)` and ``--method`` name it.
    description : str
        One line for the ``--method`` help.
    uses : sequence of str, default ()
        The settings the method reads (`TrackParams` fields or its own): each option's help
        names the methods that use it.
    settings : mapping of str to DriftSetting, optional
        Settings of its own, added to `TrackParams` (as `track` keywords, config keys and
        ``--<name-with-hyphens>`` options); names must be new.
    neighbour_check : bool, default False
        Whether its valid grid vectors must also pass the neighbour consistency test.
    searches : callable, optional
        ``searches(settings)``: the pattern-matching search radii it may use (checked to fit
        in memory by the command line).

    Returns
    -------
    callable
        A decorator that registers its function and returns it unchanged.

    Raises
    ------
    KitError
        If `name` is taken, or a setting of its own is also another method's.

    Examples
    --------
    A method that reports no motion anywhere, with a setting of its own:

    >>> import numpy as np
    >>> from kit.drift.track import track
    >>> with DRIFT_METHODS.restored():
    ...     @register_drift_method(
    ...         "still", description="no motion", uses=("still_quality",),
    ...         settings={"still_quality": DriftSetting(0.5, "quality reported")})
    ...     def still_vectors(image1, image2, x, y, settings, still, extra):
    ...         zero, none = np.zeros(x.size), np.full(x.size, np.nan)
    ...         quality = np.full(x.size, settings.still_quality)
    ...         return zero, zero, quality, none, np.zeros(x.size, np.uint8), none
    ...     image = np.random.default_rng(0).normal(size=(64, 64))
    ...     result = track(image, image, "still", grid_step=16, still_quality=0.9)
    >>> result.quality[:2], bool(result.valid.all())
    (array([0.9, 0.9]), True)
    >>> "still" in DRIFT_METHODS
    False
    """
    own = dict(settings or {})
    for other, entry in DRIFT_METHODS.items():
        shared = sorted(set(own) & set(entry.settings))
        if shared:
            raise KitError(f"drift method {name}: setting {shared[0]} is already {other}'s")

    def decorator(vectors: VectorsFunction) -> VectorsFunction:
        entry = DriftMethod(name, vectors, description, tuple(uses), own, neighbour_check, searches)
        DRIFT_METHODS.add(name, entry)
        return vectors

    return decorator


def added_settings() -> dict[str, DriftSetting]:
    """The settings the registered methods bring with them, by name, in registration order."""
    return {name: s for _, entry in DRIFT_METHODS.items() for name, s in entry.settings.items()}


def users(setting: str) -> tuple[str, ...]:
    """The registered methods that use `setting`, in registration order."""
    return tuple(name for name, entry in DRIFT_METHODS.items() if setting in entry.uses)
