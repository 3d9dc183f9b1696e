"""Hostile and careless leaderboard input: foreign database files, read-only copies, team names
that hide, impersonate or overflow, and out-of-range numbers, through the real CLI."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
import yaml

from kit.cli import main
from tests.scoring.builders import make_dataset, submission_arrays, write_submission


@pytest.fixture
def files(tmp_path):
    """(tmp folder, reference folder, two different submissions)."""
    _, preds = make_dataset(tmp_path / "data", "torchgeo", n_scenes=2, shape=(6, 5))
    arrays = submission_arrays(preds)
    first = write_submission(tmp_path / "first.nc", arrays)
    second = write_submission(tmp_path / "second.nc", arrays, chunk_rows=2)  # other bytes
    return tmp_path, tmp_path / "data", first, second


def one_error(capsys, command: str = "leaderboard") -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"autoice {command}: error: ") and "\n" not in err, err
    return err


def submit(sub: Path, team: str, reference: Path, db: Path, *more: str) -> int:
    return main(["leaderboard", "submit", str(sub), "--team", team, "--reference", str(reference),
                 "--db", str(db), *more])  # fmt: skip


# ---------------------------------------------------------------- numbers


@pytest.mark.parametrize("limit", ["-3", "0", "1001"])
def test_bundle_and_submit_refuse_a_daily_limit_out_of_range(files, capsys, limit):
    tmp, reference, sub, _ = files
    out = tmp / "bundle.zip"
    bundle = ["leaderboard", "bundle", "--reference", str(reference), "--out", str(out)]
    assert main([*bundle, "--daily-limit", limit]) == 2
    assert f"daily limit {limit}: must be a whole number from 1 to 1000" in one_error(capsys)
    assert not out.exists()
    assert submit(sub, "team", reference, tmp / "lb.sqlite", "--daily-limit", limit) == 2
    assert f"daily limit {limit}: must be a whole number from 1 to 1000" in one_error(capsys)


def test_bundle_writes_the_daily_limit_given(files, capsys):
    tmp, reference, _, _ = files
    out = tmp / "bundle.zip"
    args = ["leaderboard", "bundle", "--reference", str(reference), "--out", str(out)]
    assert main([*args, "--daily-limit", "1"]) == 0
    with zipfile.ZipFile(out) as bundle:
        config = yaml.safe_load(bundle.read("competition.yaml"))
    assert config["phases"][0]["max_submissions_per_day"] == 1
