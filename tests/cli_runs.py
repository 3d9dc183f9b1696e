"""Running `autoice` in a test: the one check every bad-input test of the command line makes."""

from __future__ import annotations

from kit.cli import main


def fails(capsys, *args) -> str:
    """Run `autoice ARGS`; assert exit status 2 and one line without traceback; return it."""
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    assert code == 2, captured.err
    assert "Traceback" not in captured.err
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    return lines[0]
