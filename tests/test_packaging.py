"""Packaging: environment.yml lists the same dependencies as pyproject.toml."""

import re
from pathlib import Path

import pytest
import yaml

tomllib = pytest.importorskip("tomllib", reason="tomllib needs Python >= 3.11")

ROOT = Path(__file__).resolve().parents[1]
#: conda-forge names of pip packages that are published under another name.
CONDA_NAME = {"torch": "pytorch", "opencv-python-headless": "opencv"}


def _name(requirement: str) -> str:
    """Normalised distribution name of a requirement string ('netCDF4>=1.6' -> 'netcdf4')."""
    name = re.split(r"[\s<>=!~\[;]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    pip_deps = project["dependencies"] + extras["dev"] + extras["docs"]
    expected = {CONDA_NAME.get(_name(d), _name(d)) for d in pip_deps}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = {_name(d) for d in env["dependencies"] if isinstance(d, str)} - {"python", "pip"}
    pip_only = [d for d in env["dependencies"] if isinstance(d, dict)]
    pip_only = (
        {_name(d) for d in pip_only[0]["pip"] if not d.startswith("-")} if pip_only else set()
    )
    assert conda | pip_only == expected


def test_console_script_and_packages():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["autoice"] == "kit.cli:main"
    assert project["tool"]["setuptools"]["packages"]["find"]["include"] == ["kit*", "scoring*"]
