"""The import floors of the guide hold; a lower floor never imports a higher one.

    ground    kit/charts.py, errors.py, atomic.py, config.py, textio.py, paths.py, resources.py,
              safeload.py, device.py, registry.py
    data      kit/data/
    modelling kit/models/, kit/drift/ (apart), then kit/experiment/ (uses data, models, scoring)
    top       kit/cli.py, kit/train.py, kit/batch.py, kit/cluster.py, kit/demo.py

`scoring/` depends only on the ground floor and never on torch.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: The top floor: the command line and what drives it.
TOP = ("kit.cli", "kit.train", "kit.batch", "kit.cluster", "kit.demo")
#: Everything above the data floor.
ABOVE_DATA = ("kit.models", "kit.experiment", "kit.drift", *TOP)
#: Modules of the ground floor; they import nothing of the kit but each other.
GROUND = (
    "kit/charts.py",
    "kit/errors.py",
    "kit/atomic.py",
    "kit/config.py",
    "kit/textio.py",
    "kit/paths.py",
    "kit/resources.py",
    "kit/safeload.py",
    "kit/device.py",
    "kit/registry.py",
)
GROUND_MODULES = tuple(p.removesuffix(".py").replace("/", ".") for p in GROUND)

#: For each floor, what it must not import.
FORBIDDEN = {
    "kit/charts.py": ("kit.", "numpy", "torch", "xarray", "pandas", "scoring"),
    "kit/errors.py": ("kit.", "numpy", "torch", "xarray", "scoring"),
    **{path: ("kit.data", *ABOVE_DATA, "scoring") for path in GROUND[2:]},
    "kit/data": (*ABOVE_DATA, "scoring"),
    "kit/models": ("kit.experiment", "kit.drift", *TOP, "scoring"),
    "kit/drift": ("kit.data", "kit.models", "kit.experiment", *TOP, "scoring"),
    "kit/experiment": ("kit.drift", *TOP),
}


def test_scoring_uses_only_the_ground_floor_and_never_torch():
    offences = []
    for file in python_files("scoring"):
        for name in imported_modules(file):
            top = name.split(".")[0]
            if name == "torch" or name.startswith("torch."):
                offences.append(f"{file.relative_to(ROOT)} imports {name}")
            elif top == "kit" and name != "kit" and not name.startswith(GROUND_MODULES):
                offences.append(f"{file.relative_to(ROOT)} imports {name}")
    assert not offences, "scoring reaches above the ground floor:\n" + "\n".join(offences)


def test_every_kit_module_is_on_a_floor():
    placed = {ROOT / p for p in GROUND} | {ROOT / "kit/__init__.py"}
    placed |= {
        ROOT / p
        for p in ("kit/cli.py", "kit/train.py", "kit/batch.py", "kit/cluster.py", "kit/demo.py")
    }
    for folder in ("kit/data", "kit/models", "kit/drift", "kit/experiment"):
        placed |= set((ROOT / folder).rglob("*.py"))
    unplaced = sorted(
        str(p.relative_to(ROOT)) for p in (ROOT / "kit").rglob("*.py") if p not in placed
    )
    assert not unplaced, f"add these to a floor in tests/test_layers.py: {unplaced}"


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
