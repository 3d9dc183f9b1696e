"""The public API listed in the API reference (docs/api/index.rst): every name imports from
where the reference says, and its docstring is numpydoc with the sections its signature and
body call for.

The names are the entries of the page's `autosummary` lists, from which Sphinx generates one
page per name (`make docs`; tests/test_docs.py checks that each gets one). numpydoc is not a
dependency of the tests, so the sections are read by a small parser: a section is a title line
followed by a line of dashes, as numpydoc writes them.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import textwrap
from pathlib import Path

import pytest

API_PAGE = Path(__file__).resolve().parents[1] / "docs" / "api" / "index.rst"


def listed_names(text: str | None = None) -> list[str]:
    """The dotted names listed under the `.. autosummary::` directives of the API page: the
    indented lines after the directive and its options, up to the first unindented line."""
    lines = (API_PAGE.read_text(encoding="utf-8") if text is None else text).splitlines()
    names, inside = [], False
    for line in lines:
        if line.startswith(".. autosummary::"):
            inside = True
        elif inside and line.strip() and not line[0].isspace():
            inside = False
        elif inside and line.strip() and not line.strip().startswith(":"):
            names += re.findall(r"^\s+~?((?:kit|scoring)(?:\.\w+)+)\s*$", line)
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


def test_the_api_page_lists_the_api():
    assert len(NAMES) >= 30, NAMES
    assert len(NAMES) == len(set(NAMES)), "a name is listed twice"


def test_listed_names_reads_only_autosummary_entries():
    page = """Title
=====

``kit.not.listed`` in prose, and a toctree:

.. toctree::

   kit.not.either

.. autosummary::
   :toctree: generated
   :nosignatures:

   kit.data.discover
   ~scoring.score_submission

After the list ``kit.nor.this``.

   kit.indented.after.text
"""
    assert listed_names(page) == ["kit.data.discover", "scoring.score_submission"]


@pytest.mark.parametrize("dotted", NAMES)
def test_name_imports_from_where_the_api_page_says(dotted):
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
