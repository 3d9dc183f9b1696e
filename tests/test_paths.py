"""Output paths resolve against the repository root, whatever the working folder."""

from pathlib import Path

from kit.paths import output_path, repo_root


def test_relative_outputs_go_under_the_repository_root(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # e.g. Jupyter started in notebooks/
    root = repo_root()
    assert (root / "pyproject.toml").is_file() and (root / "kit" / "paths.py").is_file()
    assert output_path("outputs/01_explore_data") == root / "outputs" / "01_explore_data"


def test_absolute_outputs_stay_where_they_are(tmp_path):
    assert output_path(tmp_path / "run") == tmp_path / "run"
    assert output_path(Path("~/x")).is_absolute()
