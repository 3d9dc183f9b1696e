"""`autoice manifest build` reads the pickled `_bins.npy` files without running code."""

import json
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

from kit.cli import main
from tests.security.payloads import PAYLOADS, one_error_line

RAW = (
    "S1A_EW_GRDM_1SDH_20180124T194759_20180124T194859_020301_022AA4_1F75_icechart_dmi_"
    "201801241950_SouthEast_RIC.nc"
)


def _source(tmp_path: Path, bins: dict) -> Path:
    """An ai4arctic-like folder: the two lists and one scene's bins file holding `bins`."""
    source = tmp_path / "ai4arctic"
    (source / "scene_prep_bins").mkdir(parents=True)
    (source / "dataset.json").write_text(json.dumps([RAW]))
    (source / "testset.json").write_text(json.dumps([]))
    path = source / "scene_prep_bins" / "20180124T194759_dmi_bins.npy"
    np.save(path, np.array(bins, dtype=object))  # np.save pickles object arrays
    return path


def _counts() -> dict:
    return {chart: np.arange(256, dtype=np.int64) for chart in ("SIC", "SOD", "FLOE")}


def _build(path: Path, tmp_path: Path) -> int:
    source = path.parents[1]
    return main(["manifest", "build", "--source", str(source), "--out", str(tmp_path / "m.csv")])


@pytest.mark.parametrize("payload", PAYLOADS)
def test_manifest_build_refuses_a_payload_without_running_it(tmp_path, capsys, payload):
    marker = tmp_path / "marker"
    path = _source(tmp_path, {**_counts(), "SIC": payload(marker)})
    assert _build(path, tmp_path) == 2
    line = one_error_line(capsys.readouterr().err, "manifest", path)
    assert "refused to unpickle" in line and ("exec" in line or "system" in line)
    assert not marker.exists() and not (tmp_path / "m.csv").exists()


def test_manifest_build_refuses_any_other_class(tmp_path, capsys):
    path = _source(tmp_path, OrderedDict(_counts()))
    assert _build(path, tmp_path) == 2
    line = one_error_line(capsys.readouterr().err, "manifest", path)
    assert line.endswith(
        "refused to unpickle collections.OrderedDict: only numpy arrays are allowed, "
        "and other objects could run code"
    )


def test_manifest_build_reads_bins_in_the_real_format(tmp_path, capsys):
    path = _source(tmp_path, _counts())
    assert _build(path, tmp_path) == 0, capsys.readouterr().err
    assert "SIC_10" in (tmp_path / "m.csv").read_text()
