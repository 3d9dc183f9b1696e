"""Package exports: one lazy-export helper (`kit.lazy`) behind `kit.data`, `kit.experiment` and
`kit.drift`; each exported name is the object of the module that defines it, and the heavy
modules load only on first use."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from kit.lazy import lazy_exports

PACKAGES = ("kit.data", "kit.experiment", "kit.drift", "kit.models")


@pytest.mark.parametrize("package", PACKAGES)
def test_every_exported_name_is_its_defining_modules_object(package):
    module = importlib.import_module(package)
    assert module.__all__, package
    for name in module.__all__:
        value = getattr(module, name)
        assert name in dir(module)
        home = getattr(value, "__module__", None)
        if home is not None and home.startswith(package):
            assert getattr(importlib.import_module(home), name) is value, (package, name)


def test_kit_drift_track_stays_the_module_of_the_track_function():
    """The package does not re-export the function `track` under its module's name, so
    `kit.drift.track` is the module however it is reached (API reference: `kit.drift.track.track`)."""
    import kit.drift
    import kit.drift.track as by_import

    track_module = importlib.import_module("kit.drift.track")
    assert kit.drift.track is track_module is by_import is sys.modules["kit.drift.track"]
    assert callable(kit.drift.track.track)
    assert "track" not in kit.drift.__all__


def test_an_unknown_name_is_an_attribute_error_naming_the_package():
    getattr_, dir_ = lazy_exports("kit.drift", {"track_series": "kit.drift.trajectories"})
    assert "track_series" in dir_()
    with pytest.raises(AttributeError, match="module 'kit.drift' has no attribute 'tracks'"):
        getattr_("tracks")
    import kit.drift

    with pytest.raises(AttributeError, match="'kit.drift' has no attribute"):
        kit.drift.no_such_name  # noqa: B018


def test_importing_the_packages_loads_the_heavy_modules_only_on_first_use():
    code = (
        "import sys, kit.drift, kit.data\n"
        "print('torch' in sys.modules, 'xarray' in sys.modules, 'kit.data.patches' in sys.modules)\n"
        "kit.drift.track_series\n"
        "print('xarray' in sys.modules, 'torch' in sys.modules)\n"
        "kit.data.PatchDataset\n"
        "print('kit.data.patches' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    # kit.data imports xarray itself; kit.drift never imports torch until load_superlim.
    assert out[0] == "False" and out[2] == "False"
    assert out[3:] == ["True", "False", "True"]
