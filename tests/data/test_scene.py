"""open_scene validation: every bad-file case gives one KitError naming the file and the problem;
read_scene_charts: charts from the scene, or else from its reference file."""

import warnings

import numpy as np
import pytest
import xarray as xr

from kit import charts
from kit.data import open_scene, parse_scene_id, read_scene_charts, scene_info
from kit.data.synthetic import write_netcdf_atomic
from kit.errors import KitError


@pytest.fixture()
def good_scene(tiny_dataset):
    return sorted((tiny_dataset / "train").glob("*_prep.nc"))[0]


def _rewrite(src, dst, change):
    with xr.open_dataset(src) as ds:
        changed = change(ds.load())
    write_netcdf_atomic(changed, dst)
    return dst


def test_good_scene_opens_with_all_variables(good_scene):
    ds = open_scene(good_scene, require_charts=True)
    assert set(charts.SCENE_VARIABLES) <= set(ds.data_vars)
    info = scene_info(good_scene)
    assert info.has_charts and info.shape == (100, 150) and info.shape_2km == (4, 6)
    assert ds.attrs["scene_id"] == info.scene_id + charts.PREP_SUFFIX  # as in the real files


def test_not_netcdf(tmp_path):
    path = tmp_path / "20180124T194759_dmi_prep.nc"
    path.write_text("this is not a netCDF file\n")
    with pytest.raises(KitError, match=r"20180124T194759_dmi_prep\.nc: not a netCDF file"):
        open_scene(path)


def test_missing_file(tmp_path):
    with pytest.raises(KitError, match="no such file"):
        open_scene(tmp_path / "20180124T194759_dmi_prep.nc")


def test_truncated_file(good_scene, tmp_path):
    data = good_scene.read_bytes()
    path = tmp_path / good_scene.name
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(KitError, match=rf"{good_scene.name}: unreadable or truncated"):
        open_scene(path)


def test_missing_variable(good_scene, tmp_path):
    path = _rewrite(good_scene, tmp_path / good_scene.name, lambda d: d.drop_vars("btemp_36_5h"))
    with pytest.raises(KitError, match=rf"{good_scene.name}: missing variable\(s\) btemp_36_5h"):
        open_scene(path)
    assert open_scene(path, variables=["nersc_sar_primary"])  # not needed: fine


def test_missing_charts_when_required(good_scene, tmp_path):
    path = _rewrite(good_scene, tmp_path / good_scene.name, lambda d: d.drop_vars("FLOE"))
    with pytest.raises(KitError, match=r"no ice chart variable\(s\) FLOE"):
        open_scene(path, require_charts=True)


def test_a_2km_grid_off_the_25_pixel_rule_warns_once_and_only_when_read(good_scene, tmp_path):
    def shrink(ds):
        return ds.isel({"2km_grid_lines": slice(0, 2)})

    path = _rewrite(good_scene, tmp_path / good_scene.name, shrink)
    with pytest.warns(UserWarning) as caught:
        open_scene(path).close()  # all variables: 20 on the 2 km grid
    assert len(caught) == 1
    message = str(caught[0].message)
    assert message.startswith(f"{path}: the 2 km grid has 2 x 6 cells, not about 4 x 6")
    assert "regridded by extent" in message
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no 2 km variable configured: the grid is not looked at
        open_scene(path, variables=[*charts.SAR_VARIABLES, "distance_map"]).close()


def test_empty_2km_grid_is_an_error_only_when_a_2km_variable_is_configured(good_scene, tmp_path):
    def empty(ds):
        return ds.isel({"2km_grid_samples": slice(0, 0)})

    path = _rewrite(good_scene, tmp_path / good_scene.name, empty)
    with pytest.raises(KitError, match=rf"{good_scene.name}: empty 2 km grid \(4, 0\)"):
        open_scene(path, variables=["nersc_sar_primary", "t2m"])
    open_scene(path, variables=["nersc_sar_primary"]).close()


def test_variable_on_the_wrong_grid(good_scene, tmp_path):
    def swap(ds):
        hh = ds.nersc_sar_primary.values[:4, :6]
        return ds.assign(nersc_sar_primary=(charts.GRID_2KM_DIMS, hh))

    path = _rewrite(good_scene, tmp_path / good_scene.name, swap)
    with pytest.raises(KitError, match=r"variable nersc_sar_primary has dims"):
        open_scene(path)


def test_atomic_write_leaves_no_temporary_file(tmp_path):
    ds = xr.Dataset({"x": (("a",), np.arange(3.0))})
    write_netcdf_atomic(ds, tmp_path / "out.nc")
    bad = xr.Dataset({"x": (("a",), np.array([object()], dtype=object))})
    with pytest.raises(ValueError):  # xarray cannot encode arbitrary objects
        write_netcdf_atomic(bad, tmp_path / "out.nc")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.nc"]  # old file intact, no tmp
    assert xr.open_dataset(tmp_path / "out.nc").x.values.tolist() == [0.0, 1.0, 2.0]


def test_parse_scene_id():
    scene_id, service, when = parse_scene_id("/x/20180124T194759_dmi_prep_reference.nc")
    assert (scene_id, service, when.month) == ("20180124T194759_dmi", "dmi", 1)
    with pytest.raises(KitError, match="not an AutoICE scene name"):
        parse_scene_id("S1A_nothing.nc")


def test_charts_are_read_from_the_scene(good_scene):
    found = read_scene_charts(good_scene)
    assert list(found) == list(charts.CHARTS)
    with xr.open_dataset(good_scene) as ds:
        for chart, values in found.items():
            assert values.dtype == np.uint8 and values.shape == (100, 150)
            expected = np.nan_to_num(ds[chart].values, nan=charts.MASK).astype(np.uint8)
            np.testing.assert_array_equal(values, expected)
    assert list(read_scene_charts(good_scene, wanted=["SOD"])) == ["SOD"]


def test_charts_missing_in_the_scene_come_from_its_reference_file(tiny_dataset, tmp_path):
    scene = sorted((tiny_dataset / "test").glob("*_prep.nc"))[0]
    reference = scene.with_name(scene.name.replace(charts.PREP_SUFFIX, charts.REFERENCE_SUFFIX))
    assert read_scene_charts(scene) == {}  # a test scene holds no charts
    found = read_scene_charts(scene, reference)
    assert list(found) == list(charts.CHARTS)
    assert all(v.shape == scene_info(scene).shape for v in found.values())
    small = _rewrite(reference, tmp_path / reference.name, lambda ds: ds.isel(sar_lines=slice(50)))
    with pytest.raises(KitError, match=f"{small}: chart SIC has shape .* scene {scene} has"):
        read_scene_charts(scene, small)
    (tmp_path / "broken.nc").write_bytes(b"junk")
    with pytest.raises(KitError, match="broken.nc: not a netCDF file"):
        read_scene_charts(scene, tmp_path / "broken.nc")
