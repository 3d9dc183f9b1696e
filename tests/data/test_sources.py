"""The scenes a loader is given (`kit.data.sources`): paths or a `discover()` table become
(path, reference) pairs, and scenes lacking a configured variable are all named up front."""

from __future__ import annotations

from pathlib import Path

import pytest
import xarray as xr

from kit import charts
from kit.data.layouts import discover
from kit.data.sources import check_variables, scene_sources
from kit.errors import KitError

VARIABLES = ["nersc_sar_primary", "nersc_sar_secondary", "btemp_36_5h", "aux_time"]


def without(source: str | Path, folder: Path, name: str, drop: list[str]) -> str:
    """A copy of scene file `source` named `name` in `folder`, without the variables `drop`."""
    with xr.open_dataset(source) as ds:
        copy = ds.load().drop_vars(drop)
    path = folder / name
    copy.to_netcdf(path)
    return str(path)


# ------------------------------------------------------------------ scene_sources


def test_paths_have_no_reference_and_keep_their_order(pipeline_table):
    paths = list(pipeline_table.path)[::-1]
    assert scene_sources(paths) == [(str(p), None) for p in paths]
    assert scene_sources([Path(paths[0])]) == [(str(paths[0]), None)]


@pytest.mark.parametrize("kind", [str, Path])
def test_one_path_is_one_scene(pipeline_table, kind):
    path = pipeline_table.path.iloc[0]
    assert scene_sources(kind(path)) == [(str(path), None)]


def test_a_discover_table_brings_the_test_scenes_reference_files(pipeline_root):
    table = discover(pipeline_root)
    sources = scene_sources(table)
    assert [p for p, _ in sources] == list(table.path)
    by_split = dict(zip(table.path, table.split))
    for path, reference in sources:
        if by_split[path] == "test":
            assert reference == path.replace(charts.PREP_SUFFIX, charts.REFERENCE_SUFFIX)
            assert Path(reference).is_file()
        else:
            assert reference is None
    assert sum(r is not None for _, r in sources) == 1  # the one test scene


def test_a_table_without_reference_column_has_no_references(pipeline_table):
    table = pipeline_table.drop(columns=["reference_path"])
    assert scene_sources(table) == [(p, None) for p in pipeline_table.path]


def test_no_scenes_and_tables_without_paths_are_named(pipeline_table):
    with pytest.raises(KitError, match="^no scenes given$"):
        scene_sources([])
    with pytest.raises(
        KitError, match=r"^scene table has no 'path' column \(use kit.data.discover\)$"
    ):
        scene_sources(pipeline_table.drop(columns=["path"]))


# ------------------------------------------------------------------ check_variables


def test_scenes_with_every_variable_pass(train_paths):
    sources = scene_sources(train_paths)
    check_variables(sources, VARIABLES)
    check_variables(sources, [*VARIABLES, "aux_lat", "aux_lon"])  # geolocation is there
    check_variables(sources, list(charts.AUX_VARIABLES))  # derived: need no variable of their own


def test_every_scene_lacking_variables_is_named(tmp_path, train_paths):
    one = without(train_paths[0], tmp_path, "a_prep.nc", ["btemp_36_5h"])
    two = without(train_paths[1], tmp_path, "b_prep.nc", ["nersc_sar_secondary", "btemp_36_5h"])
    with pytest.raises(KitError) as info:
        check_variables(scene_sources([train_paths[2], one, two]), VARIABLES)
    assert str(info.value) == (
        f"2 scene(s) lack configured variables: {one}: missing variable(s) btemp_36_5h; "
        f"{two}: missing variable(s) nersc_sar_secondary, btemp_36_5h"
    )


def test_geolocation_is_needed_only_for_lat_lon_channels(tmp_path, train_paths):
    flat = without(train_paths[0], tmp_path, "flat_prep.nc", [charts.LATITUDE, charts.LONGITUDE])
    check_variables(scene_sources(flat), VARIABLES)
    with pytest.raises(KitError) as info:
        check_variables(scene_sources(flat), [*VARIABLES, "aux_lon"])
    assert f"{flat}: missing variable(s) {charts.LATITUDE}, {charts.LONGITUDE}" in str(info.value)


def test_raw_scenes_are_checked_for_their_own_geolocation_names(tmp_path, tiny_dataset):
    raw = sorted(str(p) for p in (tiny_dataset / "raw").glob("*.nc"))
    check_variables(scene_sources(raw), [*VARIABLES, "aux_lat"])
    bare = without(raw[0], tmp_path, Path(raw[0]).name, [charts.RAW_LATITUDE])
    with pytest.raises(KitError) as info:
        check_variables(scene_sources(bare), [*VARIABLES, "aux_lat"])
    assert str(info.value).endswith(f"{bare}: missing variable(s) {charts.RAW_LATITUDE}")


def test_many_failing_scenes_are_counted_and_five_are_shown(tmp_path, train_paths):
    bare = without(train_paths[0], tmp_path, "bare_prep.nc", ["btemp_36_5h"])
    with pytest.raises(KitError) as info:
        check_variables(scene_sources([bare] * 7), VARIABLES)
    message = str(info.value)
    assert message.startswith("7 scene(s) lack configured variables: ")
    assert message.count("missing variable(s) btemp_36_5h") == 5
    assert message.endswith("; and 2 more")


def test_an_unreadable_scene_is_named(tmp_path):
    broken = tmp_path / "broken_prep.nc"
    broken.write_bytes(b"CDF\x01 truncated")
    with pytest.raises(KitError, match=f"{broken}"):
        check_variables(scene_sources(broken), VARIABLES)
    with pytest.raises(KitError, match="no such file"):
        check_variables(scene_sources(tmp_path / "absent_prep.nc"), VARIABLES)
