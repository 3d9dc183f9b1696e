"""open_chart_file: raw values of a submission or reference file, or one ScoringError naming it."""

from __future__ import annotations

import netCDF4
import numpy as np
import pytest

from scoring import ScoringError
from scoring.files.chart_reader import open_chart_file


def test_values_are_raw_not_masked(tmp_path):
    path = tmp_path / "charts.nc"
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("y", 2)
        ds.createDimension("x", 3)
        ds.createVariable("SIC", "u1", ("y", "x"), fill_value=255)[:] = [[0, 255, 10], [1, 2, 3]]
    with open_chart_file(path, "submission") as ds:
        values = ds["SIC"][:]
    assert not np.ma.isMaskedArray(values)
    np.testing.assert_array_equal(values, [[0, 255, 10], [1, 2, 3]])


def test_unreadable_files_are_named_with_their_role(tmp_path):
    with pytest.raises(ScoringError, match=r"^reference .*absent.nc: no such file$"):
        open_chart_file(tmp_path / "absent.nc", "reference")
    with pytest.raises(ScoringError, match=r"^submission .*: not a regular file \(a folder\)"):
        open_chart_file(tmp_path, "submission")
    (tmp_path / "text.nc").write_text("not netCDF")
    with pytest.raises(ScoringError, match=r"^submission .*text.nc: not a readable netCDF/HDF5"):
        open_chart_file(tmp_path / "text.nc", "submission")
