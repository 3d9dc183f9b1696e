"""The `kit.drift.superlim` package: its re-exports and its training command line."""

import importlib
import subprocess
import sys

import kit.drift.superlim as superlim

MODULES = ("model", "checkpoint", "train", "descriptor_matching")


def test_the_package_re_exports_the_public_names_of_its_modules():
    """`from kit.drift.superlim import X` names the same object as the module that defines X,
    for every public function and class of the modules."""
    defined = {}
    for name in MODULES:
        module = importlib.import_module(f"kit.drift.superlim.{name}")
        for attribute, value in vars(module).items():
            if getattr(value, "__module__", None) == module.__name__ and callable(value):
                if not attribute.startswith("_"):
                    defined[attribute] = value
    assert {"SuperLIM", "load_superlim", "train_superlim", "superlim_track"} <= set(defined)
    assert set(defined) <= set(superlim.__all__), set(defined) - set(superlim.__all__)
    for attribute, value in defined.items():
        assert getattr(superlim, attribute) is value, attribute


def test_training_command_line_runs_as_the_package():
    out = subprocess.run(
        [sys.executable, "-m", "kit.drift.superlim", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "--max-rotation-deg" in out and "--out" in out
