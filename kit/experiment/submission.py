"""Predicting a dataset into an AutoICE submission file, as `autoice predict` does.

`predict_dataset` runs a `Predictor` over the scenes to predict (the test split, else all
scenes), writes each scene's 80 m charts into the submission as they come (memory stays flat
in the number of scenes), optionally the uncertainty and probabilities files beside it
(`scoring.files.uncertainty_writer`), and a PNG panel per scene.

    autoice predict --checkpoint runs/demo/best.pt --data data/demo/test --out upload_package.nc
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from kit import charts
from kit.data.scene import read_scene_charts
from kit.data.scene_dataset import SceneDataset
from kit.data.selection import prediction_scenes
from kit.errors import KitError
from kit.experiment.predict import Predictor
from kit.experiment.uncertainty import ChartOutput
from scoring.files.uncertainty_writer import ProbabilityWriter, UncertaintyWriter
from scoring.files.writer import SubmissionWriter


def predict_dataset(
    predictor: Predictor,
    data_dir: str | os.PathLike,
    out: str | os.PathLike,
    png_dir: str | os.PathLike | None = None,
    progress: bool = True,
    uncertainty: str | os.PathLike | None = None,
    probabilities: str | os.PathLike | None = None,
) -> Path:
    """Predict the scenes of `data_dir` and write the submission file `out`.

    What `autoice predict` does: the scenes to predict are the folder's test split if it has
    one, else all its scenes (`prediction_scenes`); each is predicted whole and its 80 m charts
    are written into one AutoICE submission file, atomically. Charts the model does not
    predict are written as MASK (no prediction), with a warning.

    Parameters
    ----------
    predictor : Predictor
        The model(s) and their input pipeline (`Predictor.from_checkpoints`).
    data_dir : str or os.PathLike
        A dataset folder in any layout `discover()` reads.
    out : str or os.PathLike
        The submission file to write (``upload_package.nc``).
    png_dir : str or os.PathLike, optional
        Also save a figure per scene (SAR and predicted charts, and the reference charts when
        the scene has all three) into this folder.
    progress : bool
        Show a progress bar.
    uncertainty : str or os.PathLike, optional
        Also write this uncertainty file: per scene and chart the calibrated confidence of
        the written class, and the SIC 90 % interval (`scoring.files.uncertainty_writer`).
    probabilities : str or os.PathLike, optional
        Also write this file of every class's calibrated probability (percent).

    Returns
    -------
    pathlib.Path
        The written submission file (unchanged by `uncertainty` and `probabilities`); all
        files are written atomically, and none is left if the prediction fails.

    Raises
    ------
    KitError
        If the folder holds no scenes, a scene lacks an input the predictor needs, or the
        submission cannot be written.

    Examples
    --------
    >>> import tempfile
    >>> import netCDF4
    >>> from kit.data.synthetic import SynthConfig, write_dataset
    >>> from kit.experiment import ExperimentConfig, save_checkpoint
    >>> from kit.models import build_model
    >>> folder = tempfile.TemporaryDirectory()
    >>> tmp = Path(folder.name)
    >>> _ = write_dataset(tmp / "data", SynthConfig(n_train=1, n_test=1, size=(100, 100)),
    ...                   workers=1, progress=False)
    >>> config = ExperimentConfig.from_dict({
    ...     "data": {"variables": ["nersc_sar_primary", "nersc_sar_secondary"], "downscale": 2},
    ...     "model": {"type": "unet", "levels": 2}})
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> model = build_model(config.model, 2, config.data.charts)  # untrained, for the shapes
    >>> _ = save_checkpoint(tmp / "best.pt", {
    ...     "config": config.to_dict(), "channels": list(config.data.variables),
    ...     "model": model.state_dict()})
    >>> predictor = Predictor.from_checkpoints([tmp / "best.pt"], cache_dir=str(tmp / "cache"),
    ...                                        device="cpu", tile_size=64, tile_overlap=16)
    >>> path = predict_dataset(predictor, tmp / "data", tmp / "upload_package.nc",
    ...                        progress=False)
    >>> with netCDF4.Dataset(path) as submission:  # the test scene only
    ...     sorted(submission.variables)
    ['20180203T043352_cis_FLOE', '20180203T043352_cis_SIC', '20180203T043352_cis_SOD']
    >>> _ = predict_dataset(predictor, tmp / "data", tmp / "again.nc", progress=False,
    ...                     uncertainty=tmp / "uncertainty.nc")
    >>> with netCDF4.Dataset(tmp / "uncertainty.nc") as file:
    ...     sorted(file.variables)  # doctest: +NORMALIZE_WHITESPACE
    ['20180203T043352_cis_FLOE_confidence', '20180203T043352_cis_SIC_confidence',
     '20180203T043352_cis_SIC_high', '20180203T043352_cis_SIC_low',
     '20180203T043352_cis_SOD_confidence']
    >>> folder.cleanup()
    """
    table = prediction_scenes(data_dir)
    dataset = SceneDataset(predictor.data, table)
    absent = [c for c in charts.CHARTS if c not in predictor.kinds]
    if absent:
        warnings.warn(f"the model predicts no {', '.join(absent)}: written as MASK", stacklevel=2)
    if png_dir is not None:
        Path(png_dir).mkdir(parents=True, exist_ok=True)
    # The submission is entered first, so it is renamed last: once it is there, so are the rest.
    with ExitStack() as files:
        writer = files.enter_context(SubmissionWriter(out))
        extra = {
            "uncertainty": None if uncertainty is None else UncertaintyWriter(uncertainty),
            "probabilities": None if probabilities is None else ProbabilityWriter(probabilities),
        }
        _check_distinct([writer.path, *(w.path for w in extra.values() if w is not None)])
        extra = {k: w if w is None else files.enter_context(w) for k, w in extra.items()}
        scenes = tqdm(dataset.inputs(), total=len(dataset), desc="predict", unit="scene",
                      disable=not progress)  # fmt: skip
        # The confidence maps of the scene for its panel (only with both --png and a file).
        confidence: dict[str, np.ndarray] = {}
        for scene, reference in scenes:
            # Each 80 m chart is made, written and dropped in turn (memory flat in the number
            # of scenes); the panels need all of them, so they are kept only for a panel.
            if extra["uncertainty"] is None and extra["probabilities"] is None:
                maps = predictor.scene_charts(
                    scene.x, scene.valid, scene.shape, scene.path, every_chart=True
                )
            else:
                outputs = predictor.scene_uncertainty(
                    scene.x, scene.valid, scene.shape, scene.path, every_chart=True,
                    probabilities=extra["probabilities"] is not None,
                )  # fmt: skip
                panel = confidence if png_dir is not None else None
                maps = _writing_uncertainty(outputs, scene.scene_id, **extra, kept=panel)
            if png_dir is None:
                writer.add_scene_charts(scene.scene_id, scene.shape, maps)
            else:
                maps = dict(maps)
                writer.add_scene(scene.scene_id, maps)
                _save_panel(Path(png_dir), scene, maps, predictor, reference, confidence)
            confidence.clear()
            del scene, maps  # nothing of a finished scene is kept
    return Path(out)


def _check_distinct(paths: list[Path]) -> None:
    resolved = [p.resolve() for p in paths]
    if len(set(resolved)) != len(resolved):
        raise KitError(
            f"the submission, uncertainty and probabilities files must differ, got "
            f"{', '.join(map(str, paths))}"
        )


def _writing_uncertainty(
    outputs: Iterator[ChartOutput],
    scene_id: str,
    uncertainty: UncertaintyWriter | None,
    probabilities: ProbabilityWriter | None,
    kept: dict[str, np.ndarray] | None = None,
) -> Iterator[tuple[str, np.ndarray]]:
    """``(chart, classes)`` for the submission, writing each chart's uncertainty as it passes
    (and keeping its confidence map in `kept`, for the scene's panel, when given)."""
    for output in outputs:
        if kept is not None and output.confidence is not None:
            kept[output.chart] = output.confidence
        if uncertainty is not None:
            uncertainty.add_chart(scene_id, output.chart, output.classes, output.confidence,
                                  output.low, output.high)  # fmt: skip
        if probabilities is not None:
            probabilities.add_chart(scene_id, output.chart, output.classes,
                                    output.probability_maps())  # fmt: skip
        yield output.chart, output.classes
        del output


def _save_panel(folder: Path, scene, maps, predictor: Predictor, reference, confidence) -> None:
    """The scene's panel: HH in dB and land from the scene file, else (no HH in the file) the
    model's normalised HH input; land and no data greyed on the predicted charts; a row of
    confidence maps when an uncertainty file is written."""
    from kit.experiment.panels import (  # matplotlib only when asked for
        save_scene_panel,
        scene_backdrop,
    )

    sar, land = scene_backdrop(scene.path, predictor.data.input_scaling)
    unit = "dB"
    if sar is None:
        channel = charts.SAR_VARIABLES[0]
        index = predictor.channels.index(channel) if channel in predictor.channels else 0
        valid = np.asarray(scene.valid)
        sar = np.where(valid, np.asarray(scene.x[index], dtype=np.float32), np.nan)
        unit = "normalised"
    masked = None if land is None or land.shape != tuple(scene.shape) else land
    truth = read_scene_charts(scene.path, reference)  # shown only when all charts are there
    complete = truth if len(truth) == len(charts.CHARTS) else None
    save_scene_panel(folder / f"{scene.scene_id}.png", scene.scene_id, sar, maps, complete,
                     masked=masked, sar_unit=unit, confidence=confidence or None)  # fmt: skip
