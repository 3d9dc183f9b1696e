"""Every `Examples` block of `kit` and `scoring` runs and shows what it claims (doctest).

Each module is imported by name and its docstrings' examples are run with ELLIPSIS and
NORMALIZE_WHITESPACE; a failure names the module and shows doctest's report. Examples write
only inside temporary folders.
"""

from __future__ import annotations

import doctest
import importlib
import io
import pkgutil

import pytest

import kit
import scoring

OPTIONS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE

#: Modules that cannot be imported without optional packages, with the reason; their examples
#: are not run. None at present: every module of kit and scoring imports in the kit's venv.
CANNOT_IMPORT: dict[str, str] = {}


def module_names() -> list[str]:
    names = []
    for package in (kit, scoring):
        names.append(package.__name__)
        names += [m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]
    return sorted(names)


MODULES = module_names()


def run_examples(name: str) -> tuple[int, int, str]:
    """(examples tried, failures, doctest's report) for the docstrings of module `name`."""
    module = importlib.import_module(name)
    runner = doctest.DocTestRunner(optionflags=OPTIONS)
    report = io.StringIO()
    for test in doctest.DocTestFinder().find(module, name):
        runner.run(test, out=report.write)
    results = runner.summarize(verbose=False)
    return results.attempted, results.failed, report.getvalue()


def test_every_module_is_found():
    assert {"kit.device", "kit.data.regrid", "scoring.metrics", "kit.drift.track"} <= set(MODULES)
    assert set(CANNOT_IMPORT) <= set(MODULES), set(CANNOT_IMPORT) - set(MODULES)


@pytest.mark.parametrize("name", [m for m in MODULES if m not in CANNOT_IMPORT])
def test_examples_run(name, one_torch_thread):
    _, failed, report = run_examples(name)
    assert failed == 0, f"{name}: {failed} failing example(s)\n{report}"


@pytest.mark.parametrize(
    "name, function",
    [
        ("kit.device", "resolve_device"),
        ("kit.data.regrid", "to_original_grid"),  # back to an odd 80 m size
        ("scoring.metrics", "r2_from_confusion"),  # R2 of a constant reference
    ],
)
def test_edge_case_examples_exist(name, function):
    module = importlib.import_module(name)
    tests = doctest.DocTestFinder().find(getattr(module, function), f"{name}.{function}")
    assert sum(len(t.examples) for t in tests) >= 2, f"{name}.{function} has no examples"
