"""Scoring submission files: reference layouts, streaming, and every validation case."""

from __future__ import annotations

import numpy as np
import pytest

from kit.charts import CHARTS, MASK
from kit.charts import submission_variable as var
from scoring import (
    ScoreAccumulator,
    ScoringError,
    find_reference,
    score_submission,
)
from scoring.files import chart_reader, raw_chunks
from scoring.splits import default_split
from tests.scoring.builders import (
    OUT_OF_CLASS_SCORES,
    SCENES,
    TRAINING_SCENES,
    make_dataset,
    out_of_class_case,
    submission_arrays,
    write_scene,
    write_submission,
)


def expected_report(refs, preds, scenes=None):
    acc = ScoreAccumulator()
    for scene in scenes or sorted(refs):
        for chart in CHARTS:
            acc.update(scene, chart, preds[scene][chart], refs[scene][chart])
    return acc.report()


@pytest.fixture
def dataset(tmp_path):
    refs, preds = make_dataset(tmp_path / "data", "torchgeo")
    sub = write_submission(tmp_path / "upload_package.nc", submission_arrays(preds))
    return tmp_path / "data", sub, refs, preds


@pytest.mark.parametrize("layout", ["torchgeo", "dtu", "dtu_release", "flat"])
def test_scores_each_reference_layout(tmp_path, layout):
    refs, preds = make_dataset(tmp_path / "data", layout)
    sub = write_submission(tmp_path / "sub.nc", submission_arrays(preds))
    report = score_submission(sub, tmp_path / "data")
    expected = expected_report(refs, preds)
    assert report.charts == expected.charts
    assert report.combined == expected.combined
    assert sorted(report.per_scene) == sorted(refs)
    assert report.warnings == []


def test_dtu_release_is_scored_against_test_data_not_training_scenes(tmp_path):
    """The DTU release: training scenes (with charts) in the data folder, test scenes in
    `test_data/`. Only the test scenes are reference scenes, so a test submission scores."""
    refs, preds = make_dataset(tmp_path / "data", "dtu_release")
    reference = find_reference(tmp_path / "data")
    assert reference.scene_ids == sorted(refs)
    assert not set(reference.scene_ids) & set(TRAINING_SCENES)
    assert all("/test_data/" in s.path for s in reference.scenes.values())
    sub = write_submission(tmp_path / "upload_package.nc", submission_arrays(preds))
    report = score_submission(sub, tmp_path / "data")
    assert report.scenes == sorted(refs)
    assert report.charts == expected_report(refs, preds).charts


def test_test_data_prefers_prep_reference_files(tmp_path):
    """In `test_data/`, a scene's `_prep_reference.nc` wins over charts in its `_prep.nc`."""
    refs, preds = make_dataset(tmp_path / "data", "dtu_release", n_scenes=1)
    scene = next(iter(refs))
    write_scene(tmp_path / "data" / "test_data" / f"{scene}_prep_reference.nc", preds[scene])
    sub = write_submission(tmp_path / "upload_package.nc", submission_arrays(preds))
    report = score_submission(sub, tmp_path / "data")
    assert report.combined == 100.0  # scored against the _prep_reference.nc charts


def test_single_netcdf_reference(tmp_path, dataset):
    _, sub, refs, preds = dataset
    ref_file = write_submission(
        tmp_path / "reference.nc", submission_arrays(refs)
    )  # same <scene>_<chart> form
    report = score_submission(sub, ref_file)
    assert report.charts == expected_report(refs, preds).charts


@pytest.mark.parametrize("fast", [True, False], ids=["raw-chunks", "netcdf4"])
def test_row_blocks_stream_to_the_same_scores(monkeypatch, tmp_path, dataset, fast):
    root, _, refs, preds = dataset
    sub = write_submission(tmp_path / "chunked.nc", submission_arrays(preds), chunk_rows=2)
    whole = score_submission(sub, root)
    if not fast:  # every variable through netCDF4
        monkeypatch.setattr(raw_chunks.ChunkRows, "open", classmethod(lambda *a: None))
    monkeypatch.setattr(chart_reader, "BLOCK_PIXELS", 20)  # about 2 rows per block
    calls = []
    for reader in (raw_chunks.ChunkRows, chart_reader.NetcdfRows):
        original = reader.read
        monkeypatch.setattr(
            reader, "read", lambda self, rows, _o=original: calls.append(rows) or _o(self, rows)
        )
    blocked = score_submission(sub, root, workers=1)  # the patches live in this process
    assert blocked.charts == whole.charts == expected_report(refs, preds).charts
    assert max(r.stop - r.start for r in calls) == 2 and len(calls) > 2 * 3 * 3 * 2


def test_integer_dtypes_other_than_uint8_are_accepted(tmp_path, dataset):
    root, _, refs, preds = dataset
    arrays = {k: v.astype(np.int64) for k, v in submission_arrays(preds).items()}
    sub = write_submission(tmp_path / "int64.nc", arrays)
    assert score_submission(sub, root).charts == expected_report(refs, preds).charts


def test_split_scores_cover_only_that_split(dataset):
    root, sub, refs, preds = dataset
    split = default_split(sorted(refs))
    public = sorted(s for s, n in split.items() if n == "public")
    report = score_submission(sub, root, split="public")
    assert report.split == "public" and report.scenes == public
    assert report.charts == expected_report(refs, preds, public).charts


# ------------------------------------------------------------------ validation


def _invalid(sub, root, strict: bool = False) -> str:
    with pytest.raises(ScoringError) as info:
        score_submission(sub, root, strict=strict)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_not_netcdf(tmp_path, dataset):
    root = dataset[0]
    bad = tmp_path / "upload_package.nc"
    bad.write_text("scene,SIC\n1,2\n")
    assert "not a readable netCDF/HDF5 file" in _invalid(bad, root)


def test_truncated_file(tmp_path, dataset):
    root, sub, _, _ = dataset
    data = sub.read_bytes()
    truncated = tmp_path / "truncated.nc"
    truncated.write_bytes(data[: len(data) // 2])
    message = _invalid(truncated, root)
    assert "truncated" in message


def test_missing_variables_are_all_listed(tmp_path, dataset):
    root, _, _, preds = dataset
    arrays = submission_arrays(preds)
    scenes = sorted(preds)
    removed = [var(scenes[0], "SIC"), var(scenes[1], "FLOE"), var(scenes[2], "SOD")]
    for name in removed:
        del arrays[name]
    message = _invalid(write_submission(tmp_path / "sub.nc", arrays), root)
    assert "missing 3 variables" in message
    assert all(name in message for name in removed)


def test_wrong_shape_and_dimensions(tmp_path, dataset):
    root, _, _, preds = dataset
    arrays = submission_arrays(preds)
    scenes = sorted(preds)
    arrays[var(scenes[0], "SIC")] = arrays[var(scenes[0], "SIC")][:-1]
    arrays[var(scenes[1], "SOD")] = arrays[var(scenes[1], "SOD")].ravel()
    message = _invalid(write_submission(tmp_path / "sub.nc", arrays), root)
    assert f"{var(scenes[0], 'SIC')} has shape (11, 9), expected (12, 9)" in message
    assert f"{var(scenes[1], 'SOD')} has 1 dimensions, expected 2" in message


@pytest.mark.parametrize(
    ("values", "problem", "strict"),
    [
        (np.full((12, 9), 1.5, dtype=np.float32), "contains non-integer values", False),
        (np.where(np.eye(12, 9) > 0, np.nan, 1.0), "contains NaN or infinite values", False),
        (np.full((12, 9), 11, dtype=np.uint8), "has 108 pixels with values outside the SIC classes 0-10 (or 255): 11", True),
        (np.full((12, 9), -3, dtype=np.int16), "has 108 pixels with values outside the SIC classes 0-10 (or 255): -3", True),
        (np.full((12, 9), 300, dtype=np.int32), "has 108 pixels with values outside the SIC classes 0-10 (or 255): 300", True),
        (np.full((12, 9), 3e9, dtype=np.float64), "has 108 pixels with values outside the SIC classes 0-10 (or 255): 3000000000", True),
    ],
)  # fmt: skip
def test_bad_values_are_named_with_variable(tmp_path, dataset, values, problem, strict):
    root, _, _, preds = dataset
    arrays = submission_arrays(preds)
    name = var(sorted(preds)[1], "SIC")
    arrays[name] = values
    message = _invalid(write_submission(tmp_path / "sub.nc", arrays), root, strict=strict)
    assert f"{name} {problem}" in message


def test_problems_in_several_variables_are_all_reported(tmp_path, dataset):
    root, _, _, preds = dataset
    arrays = submission_arrays(preds)
    a, b, c = var(sorted(preds)[0], "SOD"), var(sorted(preds)[2], "FLOE"), var(sorted(preds)[1], "SIC")  # fmt: skip
    arrays[a] = np.full((12, 9), 9, dtype=np.uint8)
    arrays[b] = np.full((12, 9), 7, dtype=np.uint8)
    arrays[c] = np.full((12, 9), 0.5)
    message = _invalid(write_submission(tmp_path / "sub.nc", arrays), root, strict=True)
    assert a in message and b in message and c in message
    assert a not in _invalid(write_submission(tmp_path / "sub.nc", arrays), root)  # not strict


# ------------------------------------------------------------------ values outside the classes


@pytest.fixture
def out_of_class_files(tmp_path):
    """`out_of_class_case` as a reference folder and submission files of several integer
    types and layouts: the same counts must come out of every path."""
    ref, pred = out_of_class_case()
    scene = SCENES[0]
    (tmp_path / "data").mkdir()
    write_scene(tmp_path / "data" / f"{scene}_prep.nc", ref)
    arrays = submission_arrays({scene: pred})
    files = {"uint8": write_submission(tmp_path / "u8.nc", arrays)}
    files["uint8 chunked"] = write_submission(tmp_path / "u8c.nc", arrays, chunk_rows=1)
    files["int64"] = write_submission(tmp_path / "i8.nc", {k: v.astype(np.int64) for k, v in arrays.items()})  # fmt: skip
    return tmp_path / "data", files, scene


@pytest.mark.parametrize("fast", [True, False], ids=["raw-chunks", "netcdf4"])
@pytest.mark.parametrize("kind", ["uint8", "uint8 chunked", "int64"])
def test_out_of_class_values_score_as_wrong_with_a_warning(monkeypatch, out_of_class_files, kind, fast):  # fmt: skip
    root, files, scene = out_of_class_files
    if not fast:
        monkeypatch.setattr(raw_chunks.ChunkRows, "open", classmethod(lambda *a: None))
    report = score_submission(files[kind], root, workers=1)
    assert report.charts == pytest.approx(OUT_OF_CLASS_SCORES, rel=1e-15)
    assert report.details["SIC"].out_of_class == 2 and report.details["FLOE"].out_of_class == 3
    assert report.warnings == [
        f"{scene}_SIC: 2 pixels with values outside SIC's classes 0-10 (11, 12, 200) scored as "
        "wrong; 1 more where the reference is 255 are not scored",
        f"{scene}_FLOE: 3 pixels with values outside FLOE's classes 0-6 (7) scored as wrong; "
        "2 more where the reference is 255 are not scored",
    ]
    with pytest.raises(ScoringError) as error:
        score_submission(files[kind], root, workers=1, strict=True)
    assert (
        f"{scene}_SIC has 3 pixels with values outside the SIC classes 0-10 (or 255): 11, 12, 200; "
        f"{scene}_FLOE has 5 pixels with values outside the FLOE classes 0-6 (or 255): 7"
    ) in str(error.value)


def test_values_beyond_uint8_score_with_their_own_values(tmp_path, out_of_class_files):
    """int16: -1 and 300 for SIC's 11 and 12 (R2 1 - (1 + 295^2) / 200 = -434.13), -7 where
    the reference is 255; uint16 FLOE with 7 -> 65535; float whole values; in worker processes."""
    root, _, scene = out_of_class_files
    ref, pred = out_of_class_case()
    sic = pred["SIC"].astype(np.int16)
    sic[0, 3], sic[3, 3], sic[2, 0] = -1, 300, -7
    floe = pred["FLOE"].astype(np.uint16)
    floe[floe == 7] = 65535
    arrays = {var(scene, "SIC"): sic, var(scene, "SOD"): pred["SOD"].astype(np.float32),
              var(scene, "FLOE"): floe}  # fmt: skip
    sub = write_submission(tmp_path / "wide.nc", arrays)
    report = score_submission(sub, root, workers=2)
    assert report.charts == pytest.approx({**OUT_OF_CLASS_SCORES, "SIC": -43413.0}, rel=1e-14)
    assert report.warnings[0].startswith(f"{scene}_SIC: 2 pixels with values outside SIC's classes 0-10 (-7, -1, 300)")  # fmt: skip
    assert report.warnings[1].startswith(f"{scene}_FLOE: 3 pixels with values outside FLOE's classes 0-6 (65535)")  # fmt: skip
    with pytest.raises(ScoringError, match=f"{scene}_SIC has 3 pixels .*: -7, -1, 300"):
        score_submission(sub, root, workers=2, strict=True)


def test_whole_float_values_are_accepted(tmp_path, dataset):
    root, _, refs, preds = dataset
    arrays = {k: v.astype(np.float32) for k, v in submission_arrays(preds).items()}
    report = score_submission(write_submission(tmp_path / "f.nc", arrays), root)
    assert report.charts == expected_report(refs, preds).charts


def test_no_prediction_pixels_score_as_wrong_with_a_warning(tmp_path, dataset):
    root, _, refs, preds = dataset
    scene = sorted(preds)[0]
    sod = preds[scene]["SOD"].copy()
    valid = refs[scene]["SOD"] != MASK
    sod[valid] = MASK
    preds = {**preds, scene: {**preds[scene], "SOD": sod}}
    report = score_submission(write_submission(tmp_path / "s.nc", submission_arrays(preds)), root)
    assert report.charts == expected_report(refs, preds).charts
    assert report.details["SOD"].no_prediction == int(valid.sum())
    assert any(f"SOD: {int(valid.sum())} pixels" in w and "no prediction" in w for w in report.warnings)  # fmt: skip


def test_extra_variables_warn_and_are_ignored(tmp_path, dataset):
    root, _, refs, preds = dataset
    arrays = submission_arrays(preds)
    arrays["20990101T000000_dmi_SIC"] = np.zeros((3, 3), dtype=np.uint8)
    report = score_submission(write_submission(tmp_path / "x.nc", arrays), root)
    assert report.charts == expected_report(refs, preds).charts
    assert any("1 extra variables are ignored: 20990101T000000_dmi_SIC" in w for w in report.warnings)  # fmt: skip


def test_reference_problems_are_named(tmp_path, dataset):
    _, sub, _, _ = dataset
    with pytest.raises(ScoringError, match="no such file or folder"):
        score_submission(sub, tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ScoringError, match="no reference charts found"):
        score_submission(sub, tmp_path / "empty")
    with pytest.raises(ScoringError, match="submission .*missing.nc: no such file"):
        score_submission(tmp_path / "missing.nc", dataset[0])


def test_reference_with_invalid_classes_is_rejected(tmp_path):
    refs, preds = make_dataset(tmp_path / "data", "flat", n_scenes=1)
    scene = next(iter(refs))
    bad = {**refs[scene], "FLOE": np.full((12, 9), 9, dtype=np.uint8)}
    from tests.scoring.builders import write_scene

    write_scene(tmp_path / "data" / f"{scene}_prep.nc", bad)
    sub = write_submission(tmp_path / "s.nc", submission_arrays(preds))
    with pytest.raises(ScoringError, match=r"reference .* variable FLOE has values outside"):
        score_submission(sub, tmp_path / "data")


def test_worker_processes_give_the_same_report_and_errors(tmp_path, dataset):
    root, sub, _, preds = dataset
    alone, pooled = (score_submission(sub, root, workers=n) for n in (1, 2))
    assert pooled.to_json() == alone.to_json()
    arrays = submission_arrays(preds)
    arrays[var(sorted(preds)[1], "SIC")] = np.full((12, 9), 12, dtype=np.uint8)
    bad = write_submission(tmp_path / "bad.nc", arrays)
    alone, pooled = (score_submission(bad, root, workers=n) for n in (1, 2))
    assert pooled.to_json() == alone.to_json() and "scored as wrong" in alone.warnings[0]
    messages = []
    for n in (1, 2):
        with pytest.raises(ScoringError) as error:
            score_submission(bad, root, workers=n, strict=True)
        messages.append(str(error.value))
    assert messages[0] == messages[1] and "SIC classes" in messages[0]
    with pytest.raises(ScoringError, match="workers must be at least 1"):
        score_submission(sub, root, workers=0)


def test_worker_that_cannot_open_the_submission_raises_the_reason(monkeypatch, tmp_path, dataset):
    from scoring import scorer

    root = dataset[0]
    monkeypatch.setattr(scorer, "keep_freed_buffers", lambda: True)  # leave this process's heap
    missing = tmp_path / "gone.nc"
    scorer._open_in_worker(str(missing))
    monkeypatch.setattr(scorer, "_worker_submission", scorer._worker_submission)  # restored after
    assert scorer._worker_submission is None
    scene = next(iter(find_reference(root).scenes.values()))
    with pytest.raises(ScoringError, match="gone.nc: no such file"):
        scorer._score_in_worker(scene)
