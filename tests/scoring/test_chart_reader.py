"""`file_contents`: h5py (netCDF-4 files) and netCDF4 report the same variables, shapes,
types and dimensions, whatever the file holds."""

from __future__ import annotations

import netCDF4
import numpy as np
import pytest

from scoring import ScoringError, raw_chunks
from scoring.chart_reader import file_contents


def _awkward_file(path):
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("y", 4)
        ds.createDimension("x", 3)
        ds.createDimension("t", None)
        ds.createVariable("x", "f8", ("x",))[:] = np.arange(3)  # a coordinate variable
        ds.createVariable("chart", "u1", ("y", "x"), zlib=True)[:] = 1
        ds.createVariable("cube", "i2", ("t", "y", "x"))[:] = np.zeros((2, 4, 3))
        ds.createVariable("y_other", "f4", ("x", "y"))  # never written
        ds.createVariable("label", str, ("y",))
        ds.createVariable("t2", "i4", ("y",))
        # a variable named like a dimension but on another one (stored as _nc4_non_coord_)
        ds.createDimension("n", 2)
        ds.createVariable("n", "i4", ("y",))
        ds.createGroup("extra").createVariable("hidden", "i4", ())
    return path


def test_h5py_and_netcdf4_see_the_same_contents(monkeypatch, tmp_path):
    path = _awkward_file(tmp_path / "awkward.nc")
    fast = file_contents(path, "test")
    monkeypatch.setattr(raw_chunks, "h5py_module", lambda: None)
    slow = file_contents(path, "test")
    assert fast.shapes == slow.shapes
    assert fast.dimensions == slow.dimensions == {"y", "x", "t", "n"}
    assert set(fast.shapes) == {"x", "chart", "cube", "y_other", "label", "t2", "n"}
    for name in fast.dtypes:
        numeric = lambda d: getattr(d, "kind", "O") in "biuf" and d is not str  # noqa: E731
        assert numeric(fast.dtypes[name]) == numeric(slow.dtypes[name]), name


def test_not_netcdf_is_one_clear_error(tmp_path):
    bad = tmp_path / "bad.nc"
    bad.write_text("not a netCDF file\n")
    with pytest.raises(ScoringError, match="not a readable netCDF/HDF5 file"):
        file_contents(bad, "submission")
