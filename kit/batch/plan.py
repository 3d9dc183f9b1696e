"""Plan files and their runs: reading and checking a plan (`load_plan`), the notebooks'
quick-mode overrides, and the runs a plan expands to (notebooks x sets x grid, `expand_plan`).
"""

from __future__ import annotations

import ast
import hashlib
import itertools
import json
import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from kit.config import config_from_dict, load_yaml
from kit.errors import KitError, named

#: Set by the batch runner for every run, so a plan may not set it.
OUTPUT_PARAMETER = "output_dir"
#: In `sets`, names the set (used in the run id and the tables; not passed to the notebook).
LABEL_KEY = "label"
#: Prefix of the parameter columns in the tables.
PARAM_PREFIX = "param."
#: The notebooks' switch to CI sizes. A plan may not set, beside `quick: true`, a parameter
#: the notebook reassigns under `if quick:` (the plan's value would be silently replaced).
QUICK_PARAMETER = "quick"
#: The notebooks' device parameter: a run with `cuda` or `cuda:N` asks for a GPU.
DEVICE_PARAMETER = "device"


@dataclass(frozen=True)
class PlanFile:
    """A plan file's keys as written, checked by `config_from_dict` (unknown keys, the types of
    `kernel` and `cell_timeout`); `load_plan` checks the rest and makes a `BatchPlan`."""

    name: Any = None
    notebooks: Any = None
    parameters: Any = None
    sets: Any = None
    grid: Any = None
    kernel: str | None = None
    cell_timeout: int | None = None
    gpus_per_run: float = 1.0


#: Keys a plan file may have.
PLAN_KEYS = tuple(f.name for f in fields(PlanFile))


@dataclass
class BatchPlan:
    """A validated plan: which notebooks to run with which parameter sets."""

    path: Path
    name: str
    notebooks: list[Path]
    parameters: dict[str, Any] = field(default_factory=dict)
    sets: list[dict[str, Any]] = field(default_factory=list)
    grid: dict[str, list[Any]] = field(default_factory=dict)
    kernel: str | None = None
    cell_timeout: int | None = None
    gpus_per_run: float = 1.0


@dataclass
class RunSpec:
    """One notebook run: its id (the folder name), notebook, label and parameters."""

    run_id: str
    notebook: Path
    label: str | None
    parameters: dict[str, Any]


def load_plan(path: str | os.PathLike) -> BatchPlan:
    """Read and validate a plan file.

    Parameters
    ----------
    path : str or os.PathLike
        The plan YAML file; notebook paths in it are relative to its folder.

    Returns
    -------
    BatchPlan
        The checked plan, notebooks resolved to absolute paths.

    Raises
    ------
    KitError
        Naming the file (and the key): a missing or unreadable file, unknown keys, values of
        the wrong kind, notebooks that are missing or lack a `parameters` cell, parameters a
        notebook does not declare or that its quick mode would replace.
    """
    path = Path(path)
    if not path.is_file():
        raise KitError(f"{path}: plan file not found")
    with named(str(path)):
        written = config_from_dict(PlanFile, load_yaml(path), section="")
    plan = BatchPlan(
        path=path,
        name=_plan_name(path, written.name),
        notebooks=_plan_notebooks(path, written.notebooks),
        parameters=_plan_mapping(path, "parameters", written.parameters),
        sets=_plan_sets(path, written.sets),
        grid=_plan_grid(path, written.grid),
        kernel=written.kernel,
        cell_timeout=written.cell_timeout,
        gpus_per_run=written.gpus_per_run,
    )
    if not 0 < plan.gpus_per_run <= 1:
        raise KitError(
            f"{path}: gpus_per_run must be in (0, 1] (0.5: two runs share a card), "
            f"got {plan.gpus_per_run:g}"
        )
    _check_parameter_names(plan)
    return plan


def _plan_name(path: Path, value: Any) -> str:
    """The plan's name, which names its default output folder `outputs/batch/<name>`: one plain
    folder name, so that no plan writes outside that folder (no `/`, `..` or absolute path)."""
    if not value:
        return path.stem
    name = str(value)
    if Path(name).name != name or name == ".." or "\0" in name:
        raise KitError(
            f"{path}: name {name!r} must be a plain folder name (no '/', '..' or absolute path); "
            "it names the output folder outputs/batch/<name>"
        )
    return name


def _plan_notebooks(path: Path, value: Any) -> list[Path]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise KitError(f"{path}: 'notebooks' must be a non-empty list of notebook files")
    notebooks = []
    for entry in value:
        nb = (path.parent / str(entry)).resolve()
        if nb.suffix != ".ipynb":
            raise KitError(f"{path}: notebooks: {entry} is not an .ipynb file")
        if not nb.is_file():
            raise KitError(f"{path}: notebooks: {entry} not found (looked at {nb})")
        notebooks.append(nb)
    if len(set(notebooks)) != len(notebooks):
        raise KitError(f"{path}: notebooks: a notebook is listed twice")
    return notebooks


def _plan_mapping(path: Path, key: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise KitError(f"{path}: '{key}' must be a mapping of parameter name to value")
    for name in value:
        if not isinstance(name, str) or not name.isidentifier():
            raise KitError(f"{path}: {key}: {name!r} is not a valid parameter name")
    if OUTPUT_PARAMETER in value:
        raise KitError(f"{path}: {key}: '{OUTPUT_PARAMETER}' is set per run by autoice batch")
    return dict(value)


def _plan_sets(path: Path, value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not value:
        raise KitError(f"{path}: 'sets' must be a non-empty list of parameter mappings")
    sets = [_plan_mapping(path, f"sets[{i}]", entry) for i, entry in enumerate(value)]
    labels = [s[LABEL_KEY] for s in sets if LABEL_KEY in s]
    if len(set(map(str, labels))) != len(labels):
        raise KitError(f"{path}: sets: labels must be unique")
    return sets


def _plan_grid(path: Path, value: Any) -> dict[str, list[Any]]:
    grid = _plan_mapping(path, "grid", value)
    for name, values in grid.items():
        if not isinstance(values, list) or not values:
            raise KitError(f"{path}: grid: '{name}' must be a non-empty list of values")
    if LABEL_KEY in grid:
        raise KitError(f"{path}: grid: '{LABEL_KEY}' belongs in 'sets', not in the grid")
    return grid


def _check_parameter_names(plan: BatchPlan) -> None:
    """Every parameter must exist in every notebook's `parameters` cell (catches typos early),
    and none may be one that the notebook's quick mode replaces in a run with `quick: true`."""
    import papermill

    names = set(plan.parameters) | set(plan.grid)
    for s in plan.sets:
        names |= set(s) - {LABEL_KEY}
    overlap = set(plan.grid) & {n for s in plan.sets for n in s}
    if overlap:
        raise KitError(f"{plan.path}: {', '.join(sorted(overlap))} in both 'sets' and 'grid'")
    for nb in plan.notebooks:
        declared = papermill.inspect_notebook(str(nb))
        if not declared:
            raise KitError(f"{nb}: no cell tagged 'parameters', so it cannot be parameterised")
        unknown = sorted(names - set(declared))
        if unknown:
            raise KitError(
                f"{plan.path}: parameter(s) {', '.join(unknown)} not in {nb.name}; "
                f"it declares: {', '.join(sorted(declared))}"
            )
        _check_quick(plan, nb, _literal(declared.get(QUICK_PARAMETER, {}).get("default")))


def _check_quick(plan: BatchPlan, nb: Path, quick_default: Any) -> None:
    """Refuse runs that set `quick: true` and a parameter that quick mode replaces."""
    replaced = quick_overrides(nb)
    for label, _, params in _parameter_sets(plan):
        clash = sorted(set(params) & replaced - {QUICK_PARAMETER})
        if clash and bool(params.get(QUICK_PARAMETER, quick_default)):
            where = f" (set {label!r})" if label else ""
            raise KitError(
                f"{plan.path}: quick: true makes {nb.name} replace {', '.join(clash)}{where} "
                "by its CI sizes; set quick: false or remove those parameters"
            )


def quick_overrides(notebook: str | os.PathLike) -> set[str]:
    """The names a notebook assigns under `if quick:` (read from its code, never run)."""
    import nbformat

    names: set[str] = set()
    for cell in nbformat.read(notebook, as_version=4).cells:
        if cell.cell_type != "code" or "parameters" in cell.metadata.get("tags", []):
            continue
        source = "\n".join(
            "" if line.lstrip().startswith(("%", "!")) else line
            for line in cell.source.splitlines()
        )  # IPython magics and shell lines are not Python
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and _tests_quick(node.test):
                names |= {
                    n.id
                    for stmt in node.body
                    for n in ast.walk(stmt)
                    if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
                }
    return names


def _tests_quick(test: ast.expr) -> bool:
    """`if quick:` or `if quick and ...:`."""
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And):
        return any(_tests_quick(v) for v in test.values)
    return isinstance(test, ast.Name) and test.id == QUICK_PARAMETER


def _literal(text: Any) -> Any:
    """A notebook parameter's default as papermill reports it (source text), or None."""
    try:
        return ast.literal_eval(text) if isinstance(text, str) else None
    except (ValueError, SyntaxError):
        return None


def _parameter_sets(plan: BatchPlan) -> list[tuple[str | None, dict[str, Any], dict[str, Any]]]:
    """Each run's (label, the parameters naming it, all its parameters), for any notebook."""
    grid_names = list(plan.grid)
    combos = [dict(zip(grid_names, vals)) for vals in itertools.product(*plan.grid.values())]
    runs = []
    for pset in plan.sets or [{}]:
        label = str(pset[LABEL_KEY]) if LABEL_KEY in pset else None
        varying = {k: v for k, v in pset.items() if k != LABEL_KEY}
        for combo in combos:
            named = combo if label else {**varying, **combo}  # a label names its set
            runs.append((label, named, {**plan.parameters, **varying, **combo}))
    return runs


def expand_plan(plan: BatchPlan, out_dir: str | os.PathLike) -> list[RunSpec]:
    """The runs of a plan: notebooks x sets x grid, each with its own `output_dir`."""
    out_dir = Path(out_dir).resolve()
    runs: list[RunSpec] = []
    for nb in plan.notebooks:
        for label, varying, params in _parameter_sets(plan):
            run_id = _run_id(nb, label, varying, params)
            params = {**params, OUTPUT_PARAMETER: str(out_dir / run_id)}
            runs.append(RunSpec(run_id, nb, label, params))
    ids = [r.run_id for r in runs]
    if len(set(ids)) != len(ids):
        raise KitError(f"{plan.path}: two runs have identical parameters; remove the duplicate")
    return runs


def _run_id(nb: Path, label: str | None, varying: dict[str, Any], params: dict) -> str:
    """A readable, deterministic folder name: notebook, set label and varying parameters."""
    parts = [label] if label else []
    parts += [f"{k}-{json.dumps(v, sort_keys=True)}" for k, v in varying.items()]
    slug = re.sub(r"[^A-Za-z0-9.=+-]+", "_", "_".join(parts)).strip("_") or "default"
    if len(slug) > 60:
        digest = hashlib.sha1(json.dumps(params, sort_keys=True, default=str).encode())
        slug = f"{slug[:51]}_{digest.hexdigest()[:8]}"
    return f"{nb.stem}__{slug}"
