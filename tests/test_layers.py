"""The import floors of the guide hold; a lower floor never imports a higher one.

    ground    kit/charts.py, errors.py, atomic.py, config.py, textio.py, paths.py, resources.py,
              safeload.py, device.py, registry.py, lazy.py
    data      kit/data/
    modelling kit/models/, kit/drift/ (apart), then kit/experiment/ (uses data, models, scoring)
    top       kit/cli.py, kit/train_entry.py, kit/batch/, kit/cluster.py, kit/demo.py

`scoring/` depends only on the ground floor and never on torch.

Among the modules of `kit/` and `scoring/` there is no import circle, counting the imports
inside function bodies (they may defer an import, never hide a circle), and no module imports
another module's private (underscore) name.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: The top floor: the command line and what drives it.
TOP = ("kit.cli", "kit.train_entry", "kit.batch", "kit.cluster", "kit.demo")
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
    "kit/lazy.py",
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
        ROOT / p for p in ("kit/cli.py", "kit/train_entry.py", "kit/cluster.py", "kit/demo.py")
    }
    for folder in ("kit/data", "kit/models", "kit/drift", "kit/experiment", "kit/batch"):
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


#: The packages whose modules are checked for circles and private imports.
OWN_PACKAGES = ("kit", "scoring")


def module_name(path: Path) -> str:
    """`kit/data/scene.py` -> `kit.data.scene`; `kit/data/__init__.py` -> `kit.data`."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def own_modules() -> dict[str, Path]:
    """Every module of the kit and the scorer, by dotted name."""
    return {module_name(p): p for pkg in OWN_PACKAGES for p in python_files(pkg)}


def imports_of(
    path: Path, modules: dict[str, Path], text: str | None = None
) -> list[tuple[str, list[str], int]]:
    """Every import of `path` (or of `text` read as if it were `path`), at any depth, function
    bodies too: (module, names, line).

    Relative imports are resolved. In `from package import name`, a `name` that is a module of
    its own counts as an import of that module; the package itself counts only when some name
    is not a module (a name of its __init__).
    """
    own = module_name(path)
    package = own if path.name == "__init__.py" else own.rpartition(".")[0]
    tree = ast.parse(path.read_text() if text is None else text, filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join([*parts[: len(parts) - node.level + 1], *([base] if base else [])])
            names = [alias.name for alias in node.names]
            submodules = [n for n in names if f"{base}.{n}" in modules]
            if len(submodules) < len(names):
                found.append((base, [n for n in names if n not in submodules], node.lineno))
            found += [(f"{base}.{n}", [], node.lineno) for n in submodules]
    return found


def own_import_graph() -> dict[str, set[str]]:
    """Module -> the kit/scoring modules it imports (a package import counts as its __init__)."""
    modules = own_modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for target, _, _ in imports_of(path, modules):
            if target in modules and target != name:
                graph[name].add(target)
    return graph


def test_no_module_imports_a_private_name_from_another():
    """A name with a leading underscore belongs to its module: share it by making it public."""
    modules = own_modules()
    offences = []
    for name, path in modules.items():
        for target, names, line in imports_of(path, modules):
            if not target.startswith(tuple(p + "." for p in OWN_PACKAGES) + OWN_PACKAGES):
                continue
            private = [n for n in names if n.startswith("_") and f"{target}.{n}" not in modules]
            private += [p for p in target.split(".") if p.startswith("_") and p != "__init__"]
            if private and target != name:
                offences.append(f"{path.relative_to(ROOT)}:{line} imports {private} from {target}")
    assert not offences, "private names imported across modules:\n" + "\n".join(offences)


def import_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles of `graph`: each strongly connected group of two or more modules,
    shown as one circle through it (Tarjan's algorithm, then a path back to the start)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_circle_through(graph, group) for group in groups]


def _circle_through(graph: dict[str, set[str]], group: list[str]) -> list[str]:
    """One circle from the group's first module back to itself, inside the group."""
    start, members = group[0], set(group)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for target in sorted(graph[node] & members):
            if target == start:
                return [*paths[node], start]
            if target not in paths:
                paths[target] = [*paths[node], target]
                queue.append(target)
    return group


def test_import_circles_are_found_inside_functions_too():
    """The checker itself: a circle closed by an import inside a function still counts."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert import_circles(graph) == [["a", "b", "c", "a"]]
    assert import_circles({"a": {"b"}, "b": set()}) == []
    text = "def f():\n    from . import charts\n    from .data import scene, discover\n"
    found = {m for m, _, _ in imports_of(ROOT / "kit/probe.py", own_modules(), text)}
    assert found == {"kit.charts", "kit.data.scene", "kit.data"}


def test_no_import_circles_in_kit_and_scoring():
    """No module of kit/ or scoring/ reaches itself through its imports, counting the imports
    inside function bodies and `from package import module` (importing a package runs its
    __init__)."""
    circles = import_circles(own_import_graph())
    assert not circles, "import circles:\n" + "\n".join(" -> ".join(c) for c in circles)
