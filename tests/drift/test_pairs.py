"""Finding drift pairs in a folder of Sentinel-1 images by their start times."""

import numpy as np
import pytest
import rasterio

from kit.drift.io import find_pairs, image_start_time
from kit.errors import KitError

pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")


def write_tif(path, tags=None):
    profile = {"driver": "GTiff", "width": 8, "height": 8, "count": 1, "dtype": "float32"}
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(np.ones((1, 8, 8), np.float32))
        if tags:
            ds.update_tags(**tags)
    return path


def test_consecutive_images_within_the_gap_are_paired(tmp_path):
    names = [
        "S1A_EW_GRDM_1SDH_20200125T114955.tif",  # listed out of time order on purpose
        "S1B_EW_GRDM_1SDH_20161005T101835.tif",
        "S1A_EW_GRDM_1SDH_20161005T142446.tif",
        "S1B_EW_GRDM_1SDH_20200123T120618.tif",
        "no_time_in_this_name.tif",
    ]
    for name in names:
        write_tif(tmp_path / name)
    pairs = find_pairs(tmp_path, max_hours=72)
    assert [(p.first.name, p.second.name) for p in pairs] == [
        (names[1], names[2]),
        (names[3], names[0]),
    ]
    assert pairs[0].hours == pytest.approx(4 + 6 / 60 + 11 / 3600)
    assert pairs[1].hours == pytest.approx(48 - 16 / 60 - 23 / 3600)
    assert [p.first.name for p in find_pairs(tmp_path, max_hours=24)] == [names[1]]


def test_the_time_tag_wins_over_the_file_name(tmp_path):
    path = write_tif(
        tmp_path / "x_20200101T000000.tif", {"time_coverage_start": "2021-03-04T05:06:07Z"}
    )
    assert image_start_time(path).isoformat() == "2021-03-04T05:06:07"


def test_a_missing_folder_is_named(tmp_path):
    with pytest.raises(KitError, match="no_such"):
        find_pairs(tmp_path / "no_such")


def test_real_pairs_are_found(real_tiffs):
    pairs = find_pairs(real_tiffs[0].rsplit("/", 1)[0])
    assert len(pairs) == 2 and all(p.hours < 48 for p in pairs)
