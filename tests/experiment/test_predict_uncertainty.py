"""`Predictor`'s predictive distributions and `autoice predict --uncertainty/--probabilities`:
the submission stays bit for bit, the written maps equal a direct computation, nothing partial."""

import warnings
from statistics import NormalDist

import netCDF4
import numpy as np
import pytest
import torch
from torch import nn

from kit import charts
from kit.data.config import DataConfig
from kit.errors import KitError
from kit.experiment.checkpoint import load_checkpoint
from kit.experiment.predict import Predictor
from kit.experiment.submission import predict_dataset
from kit.experiment.uncertainty import SIC_STD_FLOOR, Calibration
from tests.cli_runs import fails
from tests.experiment.scene_memory import HAS_MEMORY_PROBE, NO_PROBE_REASON, memory_after_each_scene
from tests.experiment.test_predict import Pointwise


def _read(path):
    with netCDF4.Dataset(path) as dataset:
        dataset.set_auto_mask(False)
        return {name: np.array(variable[:]) for name, variable in dataset.variables.items()}


def _predictor(checkpoint, tmp_path, **options):
    return Predictor.from_checkpoints(
        [checkpoint], cache_dir=str(tmp_path.parent / "cache"), device="cpu", **options
    )


@pytest.mark.filterwarnings("ignore:.*fitted without test-time augmentation")
@pytest.mark.parametrize("which", ["calibrated_run", "sic_classification_checkpoint"])
@pytest.mark.parametrize("tta", [False, True])
def test_submission_is_bit_identical_with_and_without_uncertainty(request, tmp_path, which, tta):
    """Today's submission (the plain path, uncalibrated) against one written beside uncertainty
    and probabilities files with the stored calibration: the class maps never change."""
    checkpoint = request.getfixturevalue(which)
    checkpoint = checkpoint[0] if isinstance(checkpoint, tuple) else checkpoint
    data = request.getfixturevalue("calibrated_run")[1]
    calibrated = _predictor(checkpoint, tmp_path, tta=tta, calibration=True)
    if not tta:
        assert calibrated.calibration is not None
    plain = predict_dataset(
        _predictor(checkpoint, tmp_path, tta=tta, calibration=False),
        data, tmp_path / "plain.nc", progress=False,
    )  # fmt: skip
    both = predict_dataset(calibrated, data, tmp_path / "with.nc", progress=False,
                           uncertainty=tmp_path / "u.nc", probabilities=tmp_path / "p.nc")  # fmt: skip
    plain, both = _read(plain), _read(both)
    assert sorted(plain) == sorted(both) and len(plain) == 3
    for name in plain:
        assert plain[name].tobytes() == both[name].tobytes(), name


def _expected_maps(predictor, scene, calibration):
    """The uncertainty maps at 80 m, computed directly in numpy (float64) from the working-grid
    distributions, upsampled by repetition (downscale 2, even sizes) and masked."""
    item_x = scene["x"]
    distributions = {c: d.double().numpy() for c, d in predictor.distributions(item_x).items()}
    expected = {}
    for chart, d in distributions.items():
        if predictor.kinds[chart] == "regression":
            mean, variance = d
            std = calibration.sic_std_scale * np.sqrt(variance + SIC_STD_FLOOR**2)
            classes = np.clip(np.round(mean), 0, 10)
            cdf = np.vectorize(lambda v: NormalDist().cdf(v))
            edges = np.arange(10) + 0.5
            cumulative = cdf((edges[:, None, None] - mean) / std)
            probabilities = np.diff(np.concatenate([np.zeros_like(mean)[None], cumulative,
                                                    np.ones_like(mean)[None]]), axis=0)  # fmt: skip
            z = NormalDist().inv_cdf(0.95)
            low = np.minimum(np.clip(np.floor(mean - z * std), 0, 10), classes)
            high = np.maximum(np.clip(np.ceil(mean + z * std), 0, 10), classes)
        else:
            classes = d.argmax(axis=0)
            scaled = np.clip(d, 1e-12, None) ** (1 / calibration.temperature(chart))
            probabilities = scaled / scaled.sum(axis=0)
            if chart == "SIC":
                cumulative = probabilities.cumsum(axis=0)
                low = np.minimum((cumulative <= 0.05).sum(axis=0), classes)
                high = np.maximum((cumulative < 0.95 - 1e-6).sum(axis=0), classes)
        confidence = np.take_along_axis(probabilities, classes[None].astype(int), 0)[0]
        expected[chart] = {"confidence": 100 * confidence, "probabilities": 100 * probabilities}
        if chart == "SIC":
            expected[chart].update(low=low, high=high)
    up = lambda a: np.repeat(np.repeat(a, 2, axis=-2), 2, axis=-1)  # noqa: E731
    return {c: {k: up(v) for k, v in maps.items()} for c, maps in expected.items()}


def _close_percent(got, expected, scored, name):
    """Percent maps agree to rounding (float32 in the kit, float64 here): within 1 everywhere,
    exactly on all but a few pixels."""
    difference = np.abs(got[scored].astype(float) - np.round(expected[scored]))
    assert difference.max() <= 1, name
    assert (difference == 0).mean() > 0.99, name


@pytest.mark.parametrize("which", ["calibrated_run", "sic_classification_checkpoint"])
def test_uncertainty_files_equal_a_direct_computation(request, tmp_path, which):
    from kit.data import SceneDataset
    from kit.data.selection import prediction_scenes

    checkpoint = request.getfixturevalue(which)
    checkpoint = checkpoint[0] if isinstance(checkpoint, tuple) else checkpoint
    data = request.getfixturevalue("calibrated_run")[1]
    predictor = _predictor(checkpoint, tmp_path)
    calibration = predictor.calibration
    assert calibration is not None and calibration != Calibration()
    submission = _read(predict_dataset(predictor, data, tmp_path / "s.nc", progress=False,
                                       uncertainty=tmp_path / "u.nc",
                                       probabilities=tmp_path / "p.nc"))  # fmt: skip
    uncertainty, probabilities = _read(tmp_path / "u.nc"), _read(tmp_path / "p.nc")
    scene = SceneDataset(predictor.data, prediction_scenes(data))[0]
    expected = _expected_maps(predictor, scene, calibration)
    scene_id = scene["scene_id"]
    for chart in charts.CHARTS:
        submitted = submission[charts.submission_variable(scene_id, chart)]
        scored = submitted != charts.MASK
        assert 0 < scored.mean() < 1  # the synthetic scene has no-data pixels
        confidence = uncertainty[charts.confidence_variable(scene_id, chart)]
        np.testing.assert_array_equal(confidence == charts.MASK, ~scored)
        _close_percent(confidence, expected[chart]["confidence"], scored, chart)
        per_class = np.stack([probabilities[charts.probability_variable(scene_id, chart, k)]
                              for k in range(charts.N_CLASSES[chart])])  # fmt: skip
        assert (per_class[:, ~scored] == charts.MASK).all()
        for k in range(charts.N_CLASSES[chart]):
            _close_percent(per_class[k], expected[chart]["probabilities"][k], scored, f"p{k}")
        # the confidence is the written class's probability, as in the probabilities file
        chosen = np.take_along_axis(per_class, np.where(scored, submitted, 0)[None], 0)[0]
        np.testing.assert_array_equal(chosen[scored], confidence[scored])
    low_name, high_name = charts.sic_interval_variables(scene_id)
    low, high = uncertainty[low_name], uncertainty[high_name]
    sic = submission[charts.submission_variable(scene_id, "SIC")]
    scored = sic != charts.MASK
    assert (low[scored] <= sic[scored]).all() and (sic[scored] <= high[scored]).all()
    for got, want in ((low, expected["SIC"]["low"]), (high, expected["SIC"]["high"])):
        assert (got[scored] == want[scored]).mean() > 0.99


def test_an_ensembles_sic_spread_is_the_members_disagreement():
    """Two per-pixel models whose SIC differs by a constant 2: mean between them, variance 1
    (their spread); TTA of a per-pixel model adds none."""
    first, second = Pointwise(), Pointwise()
    nn.init.constant_(second.sic.bias, second.sic.bias.item() + 2 / 3)  # x3 in forward: +2
    x = torch.randn(3, 20, 24)
    predictor = Predictor([first, second], DataConfig(), ["a", "b", "c"], "cpu", tta=True)
    sic = predictor.distributions(x)["SIC"]
    alone = Predictor([first], DataConfig(), ["a", "b", "c"], "cpu").scores(x)["SIC"][0]
    torch.testing.assert_close(sic[0], alone + 1, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(sic[1], torch.ones_like(sic[1]), rtol=1e-3, atol=1e-3)
    one = Predictor([first], DataConfig(), ["a", "b", "c"], "cpu", tta=True).distributions(x)
    assert one["SIC"][1].abs().max() < 1e-3
    classes = predictor.classes(x)
    working = predictor.uncertainty(x)
    for chart in classes:
        np.testing.assert_array_equal(working[chart].classes, classes[chart])


def test_a_failed_prediction_leaves_no_file(calibrated_run, tmp_path, monkeypatch):
    from scoring.files.uncertainty_writer import UncertaintyWriter

    checkpoint, data, _ = calibrated_run

    def broken(self, *args):
        raise KitError("disk full")

    monkeypatch.setattr(UncertaintyWriter, "add_chart", broken)
    with pytest.raises(KitError, match="disk full"):
        predict_dataset(_predictor(checkpoint, tmp_path), data, tmp_path / "s.nc", progress=False,
                        uncertainty=tmp_path / "u.nc", probabilities=tmp_path / "p.nc")  # fmt: skip
    assert list(tmp_path.iterdir()) == []


def test_predict_command_writes_the_files_and_refuses_clashing_paths(
    calibrated_run, tmp_path, capsys
):
    from kit.cli import main

    checkpoint, data, _ = calibrated_run
    base = ["predict", "--checkpoint", checkpoint, "--data", data, "--cache-dir", tmp_path / "c"]
    args = [*base, "--out", tmp_path / "s.nc", "--uncertainty", tmp_path / "u.nc",
            "--png", tmp_path / "panels"]  # fmt: skip
    assert main([str(a) for a in args]) == 0
    assert "u.nc" in capsys.readouterr().out
    calibrated = _read(tmp_path / "u.nc")
    panels = sorted((tmp_path / "panels").glob("*.png"))
    scenes = {n.split("_SIC_confidence")[0] for n in calibrated if n.endswith("_SIC_confidence")}
    assert [p.stem for p in panels] == sorted(scenes)  # one panel a scene, confidence row in it
    args = [*base, "--out", tmp_path / "s2.nc", "--uncertainty", tmp_path / "u2.nc",
            "--no-calibration"]  # fmt: skip
    assert main([str(a) for a in args]) == 0
    plain = _read(tmp_path / "u2.nc")
    assert any((calibrated[n] != plain[n]).any() for n in plain)  # the calibration is used
    first = _read(tmp_path / "s.nc")
    assert all((first[n] == v).all() for n, v in _read(tmp_path / "s2.nc").items())
    capsys.readouterr()
    line = fails(capsys, *base, "--out", tmp_path / "x.nc", "--uncertainty", tmp_path / "x.nc")
    assert "must differ" in line and not (tmp_path / "x.nc").exists()
    line = fails(capsys, *base, "--probabilities", tmp_path)
    assert line.startswith("autoice predict: --probabilities") or "--probabilities" in line


def test_calibration_is_left_out_for_ensembles_and_other_tta(calibrated_run, tmp_path):
    checkpoint, _, _ = calibrated_run
    assert load_checkpoint(checkpoint)["calibration"]["tta"] is False
    with pytest.warns(UserWarning, match="fitted without test-time augmentation"):
        assert _predictor(checkpoint, tmp_path, tta=True).calibration is None
    with pytest.warns(UserWarning, match="ensemble's probabilities are used uncalibrated"):
        ensemble = Predictor.from_checkpoints([checkpoint, checkpoint], device="cpu")
    assert ensemble.calibration is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not asked for: nothing to warn about
        assert _predictor(checkpoint, tmp_path, tta=True, calibration=False).calibration is None


def test_the_scorer_reads_what_predict_writes_and_agrees_on_coverage(calibrated_run, tmp_path):
    """End to end with the scoring side: `score_submission(uncertainty=...)` accepts the files
    and its SIC interval coverage is the share of scored pixels whose reference lies in
    [low, high], computed here from the written files."""
    from kit.data import SceneDataset
    from kit.data.selection import prediction_scenes
    from scoring import score_submission

    checkpoint, data, _ = calibrated_run
    predictor = _predictor(checkpoint, tmp_path)
    paths = {"uncertainty": tmp_path / "u.nc", "probabilities": tmp_path / "p.nc"}
    submission = predict_dataset(predictor, data, tmp_path / "s.nc", progress=False, **paths)
    report = score_submission(submission, data, **paths)
    calibration = report.statistics["calibration"]
    assert set(calibration["charts"]) == set(charts.CHARTS)
    uncertainty, written = _read(paths["uncertainty"]), _read(submission)
    inside, total = 0, 0
    for item in SceneDataset(predictor.data, prediction_scenes(data)):
        scene_id, reference = item["scene_id"], item["charts"]["SIC"]
        low_name, high_name = charts.sic_interval_variables(scene_id)
        low, high = uncertainty[low_name], uncertainty[high_name]
        scored = (reference != charts.MASK) & (
            written[charts.submission_variable(scene_id, "SIC")] != charts.MASK
        )
        inside += int(((low <= reference) & (reference <= high) & scored).sum())
        total += int(scored.sum())
    interval = calibration["sic_interval"]
    assert interval["pixels"] == total > 0
    assert interval["coverage"] == pytest.approx(inside / total)


@pytest.mark.skipif(not HAS_MEMORY_PROBE, reason=NO_PROBE_REASON)
def test_writing_uncertainty_keeps_no_map_of_a_finished_scene(
    calibrated_run, tmp_path, monkeypatch
):
    """Memory after each written scene grows by less than one 80 m map a scene: no map of a
    finished scene is held. (netCDF keeps about 110 kB of metadata per variable until the file
    is closed, 8 variables a scene here, whatever their size.)"""
    checkpoint, _, _ = calibrated_run
    size = 1536
    predictor = _predictor(checkpoint, tmp_path)
    after_scene = memory_after_each_scene(
        monkeypatch, predictor, tmp_path, size, n_scenes=6, uncertainty=tmp_path / "u.nc"
    )
    growth = after_scene[-1] - after_scene[1]  # 4 more scenes, 8 maps each
    assert growth < 4 * size * size, [m // 2**20 for m in after_scene]  # < one map a scene
