"""Raw-chunk reading: identical values to netCDF4 for every layout it takes, a fallback for the
layouts it does not, and one clear error for corrupt chunks."""

from __future__ import annotations

import netCDF4
import numpy as np
import pytest

from scoring import ScoringError
from scoring.files import raw_chunks
from scoring.files.chart_reader import ChartFile, NetcdfRows

SHAPE = (23, 17)


def _write(path, values, **options):
    with netCDF4.Dataset(path, "w", format=options.pop("format", "NETCDF4")) as ds:
        ds.createDimension("y", values.shape[0])
        ds.createDimension("x", values.shape[1])
        ds.createVariable("v", values.dtype, ("y", "x"), **options)[:] = values
    return path


def _values(dtype, seed=0):
    rng = np.random.default_rng(seed)
    blocky = np.kron(rng.integers(0, 12, (6, 5)), np.ones((4, 4)))[: SHAPE[0], : SHAPE[1]]
    return (blocky * (1 if np.dtype(dtype).kind in "iu" else 0.5)).astype(dtype)


def _read_in_blocks(reader, rows_per_block):
    return np.concatenate(
        [
            reader.read(slice(start, min(SHAPE[0], start + rows_per_block)))
            for start in range(0, SHAPE[0], rows_per_block)
        ]
    )


@pytest.mark.parametrize("dtype", ["u1", "i2", "i8", "f4"])
@pytest.mark.parametrize("chunks", [SHAPE, (4, 17), (5, 6)], ids=["one", "rows", "tiles"])
@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("zlib", [True, False])
def test_raw_chunks_read_what_netcdf4_reads(tmp_path, dtype, chunks, shuffle, zlib):
    values = _values(dtype)
    path = _write(tmp_path / "f.nc", values, zlib=zlib, shuffle=shuffle, chunksizes=chunks)
    with ChartFile(path, "test") as file:
        reader = file.rows("v", "test variable v")
        assert isinstance(reader, raw_chunks.ChunkRows)
        for rows_per_block in (1, 3, 7, 23):  # aligned and unaligned with the chunks
            np.testing.assert_array_equal(_read_in_blocks(reader, rows_per_block), values)
        assert reader.read(slice(5, 5)).shape == (0, SHAPE[1])


def test_zlib_does_the_work_without_libdeflate(monkeypatch, tmp_path):
    values = _values("i2")
    path = _write(tmp_path / "f.nc", values, zlib=True, chunksizes=(4, 17))
    monkeypatch.setattr(raw_chunks, "deflate", None)
    with ChartFile(path, "test") as file:
        np.testing.assert_array_equal(_read_in_blocks(file.rows("v", "v"), 5), values)


@pytest.mark.parametrize(
    "options",
    [
        {"contiguous": True},
        {"zlib": True, "fletcher32": True},
        {"zlib": True, "endian": "big"},
        {"format": "NETCDF3_CLASSIC"},
    ],
    ids=["contiguous", "fletcher32", "big-endian", "netcdf3"],
)
def test_other_layouts_fall_back_to_netcdf4(tmp_path, options):
    values = _values(">i2" if options.get("endian") == "big" else "i2")
    path = _write(tmp_path / "f.nc", values, **options)
    with ChartFile(path, "test") as file:
        reader = file.rows("v", "v")
        assert isinstance(reader, NetcdfRows)
        np.testing.assert_array_equal(_read_in_blocks(reader, 4), values)


def test_partly_written_variable_falls_back_to_netcdf4(tmp_path):
    path = tmp_path / "f.nc"
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("y", SHAPE[0])
        ds.createDimension("x", SHAPE[1])
        v = ds.createVariable("v", "u1", ("y", "x"), zlib=True, chunksizes=(4, 17), fill_value=7)
        v[:4] = 1  # only the first chunk is stored; the rest is the fill value
    expected = np.full(SHAPE, 7, np.uint8)
    expected[:4] = 1
    with ChartFile(path, "test") as file:
        reader = file.rows("v", "v")
        assert isinstance(reader, NetcdfRows)
        np.testing.assert_array_equal(_read_in_blocks(reader, 4), expected)


def test_corrupt_chunk_is_one_clear_error(tmp_path):
    import h5py

    path = _write(tmp_path / "f.nc", _values("u1"), zlib=True, chunksizes=(4, 17))
    with h5py.File(path, "r") as f:
        info = f["v"].id.get_chunk_info(1)
    data = bytearray(path.read_bytes())
    start = info.byte_offset + 2  # past the zlib header: garble the compressed stream
    data[start : start + info.size - 2] = bytes(info.size - 2)
    path.write_bytes(bytes(data))
    with ChartFile(path, "test") as file:
        reader = file.rows("v", "submission variable v")
        with pytest.raises(ScoringError) as error:
            _read_in_blocks(reader, 4)
    message = str(error.value)
    assert message.startswith("submission variable v: ") and "rows 4" in message
    assert "corrupt" in message


def test_filter_identifiers_are_hdf5s():
    from h5py import h5z

    assert (raw_chunks.FILTER_DEFLATE, raw_chunks.FILTER_SHUFFLE) == (
        h5z.FILTER_DEFLATE,
        h5z.FILTER_SHUFFLE,
    )


def test_not_hdf5_is_not_opened_with_h5py(tmp_path):
    path = _write(tmp_path / "f.nc", _values("i2"), format="NETCDF3_CLASSIC")
    assert raw_chunks.open_hdf5(path) is None


def test_without_h5py_everything_reads_through_netcdf4(monkeypatch, tmp_path):
    values = _values("u1")
    path = _write(tmp_path / "f.nc", values, zlib=True)
    monkeypatch.setattr(raw_chunks, "h5py_module", lambda: None)
    with ChartFile(path, "test") as file:
        reader = file.rows("v", "v")
        assert isinstance(reader, NetcdfRows)
        np.testing.assert_array_equal(_read_in_blocks(reader, 4), values)
