"""kit.atomic: the final file appears whole or not at all, and no temporary file is left."""

import os
import stat

import pytest

from kit.atomic import atomic_path, check_output_file
from kit.errors import KitError


def test_success_replaces_the_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    with atomic_path(target) as tmp:
        tmp.write_text("new")
        assert not target.exists()
    assert target.read_text() == "new"
    assert [p.name for p in target.parent.iterdir()] == ["out.txt"]


def test_failure_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_the_written_file_gets_the_mode_of_any_new_file(tmp_path, umask):
    """Not mkstemp's 0600: checkpoints, CSVs and panels are ordinary files (0644 under 022)."""
    old = os.umask(umask)
    try:
        with atomic_path(tmp_path / "out.txt") as tmp:
            tmp.write_text("x")
        (tmp_path / "plain.txt").write_text("x")
    finally:
        os.umask(old)
    mode = stat.S_IMODE((tmp_path / "out.txt").stat().st_mode)
    assert mode == stat.S_IMODE((tmp_path / "plain.txt").stat().st_mode) == 0o666 & ~umask


def test_output_file_check_names_the_setting(tmp_path):
    (tmp_path / "a_folder").mkdir()
    with pytest.raises(KitError, match=r"^--out .*a_folder: is a folder"):
        check_output_file(tmp_path / "a_folder", "--out")
    with pytest.raises(KitError, match=r"^--out .*: folder .*missing does not exist"):
        check_output_file(tmp_path / "missing" / "x.nc", "--out")
    (tmp_path / "file").write_text("")
    with pytest.raises(KitError, match="is a file, not a folder"):
        check_output_file(tmp_path / "file" / "x.nc", "--out", make_folder=True)
    deep = tmp_path / "new" / "deeper" / "x.nc"
    assert check_output_file(deep, "--out", make_folder=True) == deep
