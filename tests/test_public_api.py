"""The public API listed in README "Python API": every name imports from where the README says,
and its docstring is numpydoc with the sections its signature and body call for.

numpydoc is not a dependency of the kit, so the sections are read by a small parser: a section
is a title line followed by a line of dashes, as numpydoc writes them.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import textwrap
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
SECTION_TITLE = "## Python API"


def listed_names() -> list[str]:
    """The dotted names in backticks on the bullet lines of the README's "Python API" section."""
    text = README.read_text(encoding="utf-8")
    start = text.index(SECTION_TITLE)
    end = text.find("\n## ", start + len(SECTION_TITLE))
    section = text[start : end if end != -1 else len(text)]
    names = []
    for line in section.splitlines():
        if line.startswith("- "):
            names += re.findall(r"`((?:kit|scoring)(?:\.\w+)+)`", line)
    return names


def resolve(dotted: str):
    """The object `module.name` names, imported from that module exactly."""
    module, _, attribute = dotted.rpartition(".")
    return getattr(importlib.import_module(module), attribute)


def sections(doc: str | None) -> dict[str, list[str]]:
    """numpydoc sections of a docstring: title -> its lines (dedented); "" holds the summary."""
    lines = inspect.cleandoc(doc or "").splitlines()
    found: dict[str, list[str]] = {"": []}
    title, i = "", 0
    while i < len(lines):
        line = lines[i]
        underline = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if line.strip() and underline and set(underline) == {"-"}:
            title = line.strip()
            found[title] = []
            i += 2
            continue
        found[title].append(line)
        i += 1
    return found


def documented_parameters(lines: list[str]) -> set[str]:
    """Names on the unindented lines of a Parameters section (`a, b : int` gives a and b)."""
    names = set()
    for line in lines:
        if line.strip() and not line[0].isspace():
            for name in line.split(" : ")[0].split(","):
                names.add(name.strip().lstrip("*"))
    return names


def _function_node(function) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    try:
        source = textwrap.dedent(inspect.getsource(function))
    except (OSError, TypeError):  # e.g. a dataclass's generated __init__
        return None
    node = ast.parse(source).body[0]
    return node if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else None


def _body_nodes(node) -> list[ast.AST]:
    """Nodes of a function's body, its docstring left out (it may mention `raise`)."""
    return [n for statement in node.body for n in ast.walk(statement)]


def raises(function) -> bool:
    node = _function_node(function)
    return node is not None and any(isinstance(n, ast.Raise) for n in _body_nodes(node))


def returns_something(function) -> bool:
    node = _function_node(function)
    if node is None:
        return False
    for n in _body_nodes(node):
        if isinstance(n, (ast.Yield, ast.YieldFrom)):
            return True
        if isinstance(n, ast.Return) and n.value is not None:
            if not (isinstance(n.value, ast.Constant) and n.value.value is None):
                return True
    return False


def problems(dotted: str) -> list[str]:
    """What the docstring of `dotted` lacks; empty when it is complete."""
    obj = resolve(dotted)
    found = sections(obj.__doc__)
    missing = []
    if inspect.isclass(obj):
        signature = inspect.signature(obj)  # of __init__, self left out
        bodies = [obj.__dict__[m] for m in ("__init__", "__post_init__") if m in obj.__dict__]
    else:
        function = inspect.unwrap(obj)
        signature = inspect.signature(function)
        bodies = [function]
        if returns_something(function) and not {"Returns", "Yields"} & set(found):
            missing.append("a Returns (or Yields) section")
    parameters = [p for p in signature.parameters if p not in ("self", "cls")]
    if parameters:
        if "Parameters" not in found:
            missing.append("a Parameters section")
        else:
            undocumented = set(parameters) - documented_parameters(found["Parameters"])
            if undocumented:
                missing.append(f"Parameters for {', '.join(sorted(undocumented))}")
    if any(raises(body) for body in bodies) and "Raises" not in found:
        missing.append("a Raises section (its body raises)")
    if not any(line.lstrip().startswith(">>>") for line in found.get("Examples", [])):
        missing.append("an Examples section with a >>> example")
    return missing


NAMES = listed_names()


def test_readme_lists_the_api():
    assert len(NAMES) >= 30, NAMES
    assert len(NAMES) == len(set(NAMES)), "a name is listed twice"


@pytest.mark.parametrize("dotted", NAMES)
def test_name_imports_from_where_the_readme_says(dotted):
    obj = resolve(dotted)
    assert callable(obj), f"{dotted} is not a function or class"


@pytest.mark.parametrize("dotted", NAMES)
def test_docstring_is_numpydoc(dotted):
    missing = problems(dotted)
    assert not missing, f"{dotted}: docstring lacks {'; '.join(missing)}"


def test_section_parser():
    doc = """Summary.

    Parameters
    ----------
    a, b : int
        Two.
    *args
        More.

    Returns
    -------
    int

    Examples
    --------
    >>> 1
    1
    """
    found = sections(doc)
    assert set(found) == {"", "Parameters", "Returns", "Examples"}
    assert documented_parameters(found["Parameters"]) == {"a", "b", "args"}
