"""The submission writer produces files the scorer accepts, atomically, and rejects bad maps."""

import netCDF4
import numpy as np
import pytest

from kit.charts import CHARTS, MASK
from kit.errors import KitError
from scoring import score_submission
from scoring.files.writer import SubmissionWriter, write_submission
from tests.scoring.builders import SCENES, noisy_prediction, random_charts
from tests.scoring.builders import write_submission as write_reference_file


def _reference(tmp_path, rng, shapes):
    refs = {s: random_charts(rng, shape) for s, shape in zip(SCENES, shapes)}
    arrays = {f"{s}_{c}": refs[s][c] for s in refs for c in CHARTS}
    return refs, write_reference_file(tmp_path / "reference.nc", arrays)


def test_written_submission_passes_the_scorer(tmp_path):
    rng = np.random.default_rng(0)
    refs, reference = _reference(tmp_path, rng, [(30, 20), (17, 41)])
    perfect = {s: {c: np.where(r[c] == MASK, 0, r[c]) for c in CHARTS} for s, r in refs.items()}
    out = write_submission(tmp_path / "upload_package.nc", perfect)
    report = score_submission(out, reference)
    assert report.combined == pytest.approx(100.0)

    noisy = {s: noisy_prediction(rng, r) for s, r in refs.items()}
    write_submission(out, noisy)
    assert 0 < score_submission(out, reference).combined < 100


def test_format_is_uint8_zlib_without_fill_value(tmp_path):
    maps = {c: np.full((5, 7), MASK if c == "FLOE" else 1, dtype=np.uint8) for c in CHARTS}
    out = write_submission(tmp_path / "sub.nc", {SCENES[0]: maps})
    with netCDF4.Dataset(out) as ds:
        variable = ds[f"{SCENES[0]}_SIC"]
        assert variable.dtype == np.uint8 and variable.shape == (5, 7)
        assert variable.filters()["zlib"]
        assert "_FillValue" not in variable.ncattrs()
        assert np.ma.getdata(ds[f"{SCENES[0]}_FLOE"][:]).max() == MASK
    assert [p.name for p in tmp_path.iterdir()] == ["sub.nc"]


def test_a_failure_leaves_no_file(tmp_path):
    target = tmp_path / "sub.nc"
    good = {c: np.zeros((4, 4), dtype=np.uint8) for c in CHARTS}
    with pytest.raises(KitError, match="no prediction for chart"):
        with SubmissionWriter(target) as writer:
            writer.add_scene(SCENES[0], good)
            writer.add_scene(SCENES[1], {"SIC": good["SIC"]})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "maps, message",
    [
        ({"SIC": np.full((3, 3), 11), "SOD": 0, "FLOE": 0}, "outside the SIC classes"),
        ({"SIC": np.full((3, 3), np.nan), "SOD": 0, "FLOE": 0}, "NaN"),
        ({"SIC": np.zeros((3, 3)), "SOD": np.zeros((3, 4)), "FLOE": 0}, "one shape"),
    ],
)
def test_bad_maps_are_rejected(tmp_path, maps, message):
    maps = {c: np.zeros((3, 3)) if isinstance(v, int) else v for c, v in maps.items()}
    with pytest.raises(KitError, match=message):
        write_submission(tmp_path / "sub.nc", {SCENES[0]: maps})


def test_missing_output_folder_is_named(tmp_path):
    with pytest.raises(KitError, match="does not exist"):
        SubmissionWriter(tmp_path / "nowhere" / "sub.nc")
