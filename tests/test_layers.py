"""The import layers of the guide hold: charts -> data -> models/train/infer/drift -> cli; scoring
depends only on kit.charts and never on torch."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Layers above models/training: the command line and what drives it.
TOP = ("kit.cli", "kit.batch", "kit.demo")
#: What the modelling modules beside train/infer must not import.
BELOW_TRAINING = ("kit.train", "kit.infer", "kit.drift", *TOP)

#: For each layer, the kit modules it must not import (a lower layer never imports a higher one).
FORBIDDEN = {
    "kit/charts.py": ("kit.", "numpy", "torch", "xarray", "pandas", "scoring"),
    "kit/errors.py": ("kit.", "numpy", "torch", "xarray", "scoring"),
    "kit/data": ("kit.models", *BELOW_TRAINING, "scoring"),
    "kit/models": BELOW_TRAINING,
    "kit/drift": ("kit.data", "kit.models", "kit.train", "kit.infer", *TOP, "scoring"),
    "kit/experiment.py": BELOW_TRAINING,
    "kit/checkpoint.py": BELOW_TRAINING,
    "kit/submission.py": BELOW_TRAINING,
    "kit/panels.py": BELOW_TRAINING,
    "kit/train.py": ("kit.drift", *TOP),
    "kit/infer.py": ("kit.drift", *TOP),
    "scoring": (
        "torch",
        "kit.data",
        "kit.models",
        "kit.train",
        "kit.infer",
        "kit.drift",
        "kit.batch",
        "kit.demo",
    ),
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def python_files(target: str) -> list[Path]:
    path = ROOT / target
    return [path] if path.suffix == ".py" else sorted(path.rglob("*.py"))


@pytest.mark.parametrize("target", sorted(FORBIDDEN))
def test_layer_imports_only_downwards(target):
    files = python_files(target)
    assert files, f"{target} has no Python files"
    offences = []
    for file in files:
        for name in imported_modules(file):
            for banned in FORBIDDEN[target]:
                stem = banned.rstrip(".")
                if name == stem or name.startswith(stem + "."):
                    offences.append(f"{file.relative_to(ROOT)} imports {name}")
    assert not offences, "layering broken:\n" + "\n".join(sorted(set(offences)))
