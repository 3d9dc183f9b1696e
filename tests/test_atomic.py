"""kit.atomic: the final file appears whole or not at all, and no temporary file is left."""

import csv
import doctest
import json
import os
import re
import stat

import pytest

import kit.atomic
from kit.atomic import (
    atomic_open,
    atomic_path,
    atomic_paths,
    check_output_file,
    is_temporary,
    write_atomic,
    write_json_atomic,
)
from kit.errors import KitError


def names(folder):
    return sorted(p.name for p in folder.iterdir())


def test_docstring_examples():
    assert doctest.testmod(kit.atomic).failed == 0


def test_success_replaces_the_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and is_temporary(tmp.name)
        tmp.write_text("new")
        assert not target.exists()
    assert target.read_text() == "new"
    assert names(target.parent) == ["out.txt"]


def test_failure_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert names(tmp_path) == ["out.txt"]


def test_temporaries_are_unique_and_recognised(tmp_path):
    target = tmp_path / "out.nc"
    with atomic_path(target) as first, atomic_path(target) as second:
        assert first != second
        assert first.name.startswith(".out.nc.") and first.name.endswith(".part")
    with atomic_path(tmp_path / "nb.ipynb", keep_suffix=True) as kept:
        assert kept.name.endswith(".part.ipynb") and is_temporary(kept.name)
        kept.write_text("{}")
    for name in ("out.nc", ".out.nc", ".out.nc.part", "out.nc.0a1b2c3d.part", ".x.zzzzzzzz.part"):
        assert not is_temporary(name), name


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_the_written_file_gets_the_mode_of_any_new_file(tmp_path, umask):
    """Not mkstemp's 0600: checkpoints, CSVs and panels are ordinary files (0644 under 022)."""
    old = os.umask(umask)
    try:
        with atomic_path(tmp_path / "out.txt") as tmp:
            tmp.write_text("x")
        write_atomic(tmp_path / "whole.txt", "x")
        with atomic_open(tmp_path / "streamed.txt") as fh:
            fh.write("x")
        (tmp_path / "plain.txt").write_text("x")
    finally:
        os.umask(old)
    for name in ("out.txt", "whole.txt", "streamed.txt", "plain.txt"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~umask, name


def test_folders_are_created_unless_refused(tmp_path):
    deep = tmp_path / "a" / "b" / "out.txt"
    assert write_atomic(deep, "x") == deep and deep.read_text() == "x"
    missing = tmp_path / "missing" / "out.txt"
    with pytest.raises(FileNotFoundError, match=r"out.txt: folder .*missing does not exist"):
        write_atomic(missing, "x", make_folder=False)
    with (
        pytest.raises(FileNotFoundError, match="does not exist"),
        atomic_open(missing, make_folder=False),
    ):
        pytest.fail("the block must not run")
    assert names(tmp_path) == ["a"]


def test_write_atomic_text_is_utf8_and_bytes_are_kept(tmp_path):
    write_atomic(tmp_path / "t.txt", "glace de mer: ÅØ ∑\n")
    assert (tmp_path / "t.txt").read_bytes() == "glace de mer: ÅØ ∑\n".encode()
    write_atomic(tmp_path / "b.bin", b"\x00\xff")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\xff"
    assert names(tmp_path) == ["b.bin", "t.txt"]


def test_write_json_atomic(tmp_path):
    path = write_json_atomic(tmp_path / "r.json", {"b": 1, "a": [1.5, None]})
    assert path.read_text() == '{\n  "b": 1,\n  "a": [\n    1.5,\n    null\n  ]\n}\n'
    write_json_atomic(path, {"x": 1}, indent=None)
    assert json.loads(path.read_text()) == {"x": 1}
    with pytest.raises(ValueError, match="not JSON compliant"):
        write_json_atomic(path, {"x": float("nan")}, allow_nan=False)
    assert path.read_text() == '{"x": 1}\n' and names(tmp_path) == ["r.json"]


def test_atomic_open_streams_text_and_bytes(tmp_path):
    target = tmp_path / "rows.csv"
    with atomic_open(target, newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["epoch", "loss"])
        fh.flush()
        assert not target.exists()  # nothing under the final name while streaming
        writer.writerow([1, "0.5"])
    assert fh.closed and target.read_bytes() == b"epoch,loss\r\n1,0.5\r\n"
    with atomic_open(tmp_path / "b.bin", "wb") as fh:
        fh.write(b"\x01\x02")
    assert (tmp_path / "b.bin").read_bytes() == b"\x01\x02"
    assert names(tmp_path) == ["b.bin", "rows.csv"]


def test_atomic_open_failure_keeps_the_old_file(tmp_path):
    target = tmp_path / "log.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_open(target) as fh:
        fh.write("half")
        raise RuntimeError("crash")
    assert fh.closed and target.read_text() == "old" and names(tmp_path) == ["log.txt"]


@pytest.mark.parametrize("mode", ["a", "r", "w+", "x", "ab"])
def test_atomic_open_refuses_other_modes(tmp_path, mode):
    with (
        pytest.raises(ValueError, match=rf"atomic_open .*out.txt: mode '{re.escape(mode)}'"),
        atomic_open(tmp_path / "out.txt", mode),
    ):
        pass
    assert names(tmp_path) == []


def test_atomic_paths_renames_all_in_order_on_success(tmp_path):
    targets = [tmp_path / "entry" / "x.npy", tmp_path / "entry" / "meta.json"]
    with atomic_paths(targets) as temporaries:
        assert len(temporaries) == 2 and all(is_temporary(t.name) for t in temporaries)
        for temporary, content in zip(temporaries, ("data", "meta")):
            temporary.write_text(content)
        assert names(tmp_path / "entry") == sorted(t.name for t in temporaries)
    assert [t.read_text() for t in targets] == ["data", "meta"]
    assert names(tmp_path / "entry") == ["meta.json", "x.npy"]


def test_atomic_paths_failure_changes_no_target(tmp_path):
    old, new = tmp_path / "old.txt", tmp_path / "new.txt"
    old.write_text("old")
    with pytest.raises(RuntimeError), atomic_paths([old, new]) as (t_old, t_new):
        t_old.write_text("replaced")
        t_new.write_text("created")
        raise RuntimeError("crash before the commit")
    assert old.read_text() == "old" and names(tmp_path) == ["old.txt"]


def test_atomic_paths_a_rename_failing_midway_keeps_the_earlier_ones(tmp_path):
    """Several renames are not one atomic step: the files before the failing one are in place,
    the later ones are not, and no temporary is left."""
    (tmp_path / "blocked").mkdir()
    (tmp_path / "blocked" / "inside").write_text("")  # a non-empty folder cannot be replaced
    first, blocked, last = tmp_path / "first.txt", tmp_path / "blocked", tmp_path / "last.txt"
    with pytest.raises(OSError), atomic_paths([first, blocked, last]) as temporaries:
        for temporary in temporaries:
            temporary.write_text("x")
    assert first.read_text() == "x" and not last.exists() and blocked.is_dir()
    assert names(tmp_path) == ["blocked", "first.txt"]


def test_atomic_paths_skips_a_temporary_the_block_deleted(tmp_path):
    kept, declined = tmp_path / "run.log", tmp_path / "notebook.ipynb"
    declined.write_text("previous")
    with atomic_paths([declined, kept], keep_suffix=True) as (t_declined, t_kept):
        t_kept.write_text("log")
        t_declined.unlink()  # nothing to write there this time
    assert kept.read_text() == "log" and declined.read_text() == "previous"
    assert names(tmp_path) == ["notebook.ipynb", "run.log"]


def test_atomic_paths_refuses_a_target_given_twice(tmp_path):
    with (
        pytest.raises(ValueError, match="given twice"),
        atomic_paths([tmp_path / "a", tmp_path / "a"]),
    ):
        pass
    assert names(tmp_path) == []


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
