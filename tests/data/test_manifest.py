"""data_manifest.csv: rebuilt identically from the shared source; irregular cases kept."""

import json

import numpy as np
import pandas as pd
import pytest

from kit.data import manifest
from kit.errors import KitError

SOURCE = manifest.default_source()
RAW = (
    "S1A_EW_GRDM_1SDH_20180124T194759_20180124T194859_020301_022AA4_1F75_icechart_dmi_"
    "201801241950_SouthEast_RIC.nc"
)


@pytest.mark.skipif(
    not (SOURCE / "dataset.json").is_file(),
    reason=f"shared AI4Arctic lists not found at {SOURCE} (set AUTOICE_SHARED_DATA)",
)
def test_rebuilt_manifest_is_identical(tmp_path):
    built = manifest.write_manifest(manifest.build_manifest(SOURCE), tmp_path / "m.csv")
    assert built.read_bytes() == manifest.default_manifest_path().read_bytes()


def test_committed_manifest_covers_the_challenge():
    table = manifest.load_manifest()
    counts = table.split.value_counts().to_dict()
    assert counts["train"] == 512 and counts["test"] == 20
    assert table.loc[table.split == "test", "bins_file"].eq("").all()
    train = table[table.split == "train"]
    sic = train[[f"SIC_{v}" for v in (*range(11), 255)]].astype(int).sum(axis=1)
    assert (sic == train.n_pixels.astype(int)).all()
    assert list(table.columns) == list(manifest.MANIFEST_COLUMNS)


def test_parse_raw_name():
    row = manifest.parse_raw_name(RAW)
    assert row["scene_id"] == "20180124T194759_dmi"
    assert row["prep_file"] == "20180124T194759_dmi_prep.nc"
    assert row["platform"] == "S1A" and row["chart_source"] == "SouthEast"
    assert row["acquisition_start"] == "2018-01-24T19:47:59Z"
    cis = manifest.parse_raw_name(
        "S1B_EW_GRDM_1SDH_20190216T214030_20190216T214134_014977_01BF9D_F6BE_icechart_cis_"
        "SGRDIEA_20190216T2129Z_pl_a.nc"
    )
    assert cis["chart_source"] == "SGRDIEA" and cis["chart_time"] == "2019-02-16T21:29Z"
    with pytest.raises(KitError, match="not an AI4Arctic raw file name"):
        manifest.parse_raw_name("foo.nc")


def _bins(total=10):
    counts = {c: np.zeros(256, np.int64) for c in ("SIC", "SOD", "FLOE")}
    for c in counts:
        counts[c][0], counts[c][255] = total - 3, 3
    return np.array(counts, dtype=object)


def test_collisions_unlisted_bins_and_missing_bins(tmp_path):
    collide = RAW.replace("_1F75_", "_AAAA_")  # same acquisition -> same prep name
    other = RAW.replace("20180124T194759", "20180125T101010")
    (tmp_path / "dataset.json").write_text(json.dumps([RAW, collide, other]))
    (tmp_path / "testset.json").write_text(json.dumps([]))
    bins = tmp_path / "scene_prep_bins"
    bins.mkdir()
    np.save(bins / "20180124T194759_dmi_bins.npy", _bins())
    np.save(bins / "20190101T000000_cis_bins.npy", _bins())
    table = manifest.build_manifest(tmp_path).set_index("raw_file")
    assert table.loc[collide, "duplicate_of"] == RAW
    assert "collides" in table.loc[collide, "notes"]
    assert table.loc[other, "notes"] == "no bins file" and pd.isna(table.loc[other, "SIC_0"])
    unlisted = table[table.split == manifest.UNLISTED]
    assert unlisted.scene_id.tolist() == ["20190101T000000_cis"]
    assert table.loc[RAW, "SIC_0"] == 7 and table.loc[RAW, "SIC_255"] == 3


def test_check_reports_present_missing_unexpected(tiny_dataset):
    meta = pd.read_csv(tiny_dataset / "metadata.csv")
    fake = pd.DataFrame(
        {
            "scene_id": [meta.scene_id[0], "20180124T194759_dmi"],
            "split": ["train", "test"],
        }
    )
    report = manifest.check_data(tiny_dataset, fake)
    assert report["present"] == [meta.scene_id[0]]
    assert report["missing"] == ["20180124T194759_dmi"]
    assert sorted(report["unexpected"]) == sorted(meta.scene_id[1:])
    assert report["layout"] == ["torchgeo"]


def test_bad_source(tmp_path):
    with pytest.raises(KitError, match="no such folder"):
        manifest.build_manifest(tmp_path / "nope")
    with pytest.raises(KitError, match="dataset.json: missing"):
        manifest.build_manifest(tmp_path)
