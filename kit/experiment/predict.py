"""Whole-scene inference and the `autoice predict` command that writes a submission.

A `Predictor` holds one or more trained models (an ensemble) that share their input pipeline.
It predicts a scene on the working grid tile by tile (tiles overlap and are blended with weights
that fall off towards tile edges, so scenes of any size fit in memory), optionally averages the 8
dihedral transforms (test-time augmentation), turns the averaged scores into classes, brings them
back onto the scene's exact 80 m grid and sets MASK where the SAR has no data.

Averaging is over softmax *probabilities* (classification heads) and regressed values (SIC
regression), never over logits. Asked for an uncertainty file, it also keeps each pixel's
predictive distribution (`kit.experiment.uncertainty`): the averaged class probabilities, and
for SIC regression the mean with the spread of the views and members (plus a Gaussian head's
predicted variance); a stored `Calibration` sharpens or flattens them. Only what is written
(the confidence of the written class, the SIC interval, optionally the class probabilities in
percent) is computed, as uint8 on the working grid, and brought to 80 m like the class maps,
one chart at a time; the class maps are those of the plain prediction, bit for bit.

    autoice predict --checkpoint runs/demo/best.pt --data data/demo/test --out upload_package.nc
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from kit import charts
from kit.data.augment import dihedral
from kit.data.cache import valid_mask
from kit.data.config import DataConfig
from kit.data.regrid import to_original_grid
from kit.data.scene import read_scene_charts
from kit.data.scene_dataset import SceneDataset
from kit.data.selection import prediction_scenes
from kit.device import resolve_device
from kit.errors import KitError
from kit.experiment.checkpoint import load_checkpoint, model_differences, model_from_checkpoint
from kit.experiment.config import TILE_OVERLAP, TILE_SIZE, check_tiles
from kit.experiment.uncertainty import (
    CALIBRATION_KEY,
    Calibration,
    ChartOutput,
    ChartUncertainty,
    chart_uncertainty,
    usable_calibration,
)
from kit.models.heads import is_regression, scores_to_classes, to_scores
from scoring.files.uncertainty_writer import ProbabilityWriter, UncertaintyWriter
from scoring.files.writer import SubmissionWriter

#: Tiles are padded to a multiple of this before the model sees them: every model pools at most
#: 5 times (smp encoders need 32), so small scenes and odd tile edges never pool to nothing.
MODEL_STRIDE = 32


def pad_to_multiple(batch: torch.Tensor, multiple: int) -> torch.Tensor:
    """Pad [B, C, h, w] at the bottom/right, repeating the edge, to a multiple of `multiple`."""
    height, width = batch.shape[-2:]
    pad_h, pad_w = -height % multiple, -width % multiple
    if not (pad_h or pad_w):
        return batch
    return torch.nn.functional.pad(batch, (0, pad_w, 0, pad_h), mode="replicate")


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of side `tile` covering `length` with at least `overlap` shared."""
    if length <= tile:
        return [0]
    step = tile - overlap
    starts = list(range(0, length - tile, step))
    return starts + [length - tile]


def blend_window(height: int, width: int, overlap: int) -> torch.Tensor:
    """Tile weights [h, w]: 1 inside, ramping down linearly over `overlap` pixels at the edges."""

    def ramp(n: int) -> torch.Tensor:
        distance = torch.minimum(torch.arange(n), torch.arange(n).flip(0)) + 1.0
        return (distance / (overlap + 1.0)).clamp(max=1.0)

    return ramp(height)[:, None] * ramp(width)[None, :]


def _regression_moments(score: torch.Tensor) -> torch.Tensor:
    """``[value, value**2, predicted variance]`` of one view's regression output ``[1 or 2, h,
    w]`` (a Gaussian head's second channel is its log-variance)."""
    value = score[:1]
    variance = score[1:2].exp() if score.shape[0] > 1 else torch.zeros_like(value)
    return torch.cat([value, value * value, variance])


def _classes(scores: dict[str, torch.Tensor], kinds) -> dict[str, np.ndarray]:
    batched = {c: s.unsqueeze(0) for c, s in scores.items()}
    return {c: v[0].numpy() for c, v in scores_to_classes(batched, kinds).items()}


class Predictor:
    """Averaged scores, classes and 80 m charts from an ensemble of models with one pipeline.

    The one prediction path of validation, `predict_dataset` and the notebooks: inputs on the
    working grid are predicted in overlapping, blended tiles (any scene size fits in memory),
    optionally averaged over the 8 dihedral transforms, and brought back onto the 80 m grid.
    Usually built with `Predictor.from_checkpoints`.

    Parameters
    ----------
    models : sequence of torch.nn.Module
        One model, or an ensemble whose scores are averaged; all must predict the same charts
        with the same heads (``.kinds``) from the same input channels.
    data : DataConfig
        The input pipeline the models were trained with (downscale factor, input scaling).
    channels : sequence of str
        The input channel names, in the models' order (``SceneDataset.channels``).
    device : str or torch.device, optional
        ``auto`` or None (CUDA when available), ``cpu``, ``cuda`` or ``cuda:N``.
    tta : bool
        Average the scores over the 8 dihedral transforms (test-time augmentation).
    tile_size, tile_overlap : int
        Tile side and overlap on the working grid (defaults `TILE_SIZE`, `TILE_OVERLAP`).
    calibration : Calibration, optional
        Temperatures and SIC standard-deviation factor applied to the predictive
        distributions (`uncertainty`, `scene_uncertainty`); None leaves them as averaged.
        The class maps never depend on it.

    Raises
    ------
    KitError
        If no model is given, the models predict different charts or heads, the tile overlap
        does not fit the tile size, or the device is unknown or unavailable.

    Examples
    --------
    >>> import tempfile
    >>> from kit.data import SceneDataset, discover
    >>> from kit.data.synthetic import SynthConfig, write_dataset
    >>> from kit.models import ModelConfig, build_model
    >>> tmp = tempfile.TemporaryDirectory()
    >>> _ = write_dataset(tmp.name, SynthConfig(n_train=0, n_test=1, size=(100, 100)),
    ...                   workers=1, progress=False)
    >>> data = DataConfig(variables=("nersc_sar_primary", "nersc_sar_secondary"), downscale=2)
    >>> scenes = SceneDataset(data, discover(tmp.name), cache_dir=tmp.name + "/cache")
    >>> _ = torch.manual_seed(0)
    >>> model = build_model(ModelConfig(type="unet", levels=2), 2, ["SIC", "SOD", "FLOE"])
    >>> predictor = Predictor([model], data, scenes.channels, device="cpu", tta=True,
    ...                       tile_size=32, tile_overlap=8)
    >>> item = scenes[0]
    >>> {chart: tuple(s.shape) for chart, s in predictor.scores(item["x"]).items()}
    {'SIC': (11, 50, 50), 'SOD': (6, 50, 50), 'FLOE': (7, 50, 50)}
    >>> maps = predictor.predict_scene(item["x"], item["valid"], item["shape"], item["path"])
    >>> {chart: (m.shape, m.dtype.name) for chart, m in maps.items()}
    {'SIC': ((100, 100), 'uint8'), 'SOD': ((100, 100), 'uint8'), 'FLOE': ((100, 100), 'uint8')}
    >>> charts_one_by_one = predictor.scene_charts(item["x"], item["valid"], item["shape"],
    ...                                            item["path"])
    >>> all(np.array_equal(maps[chart], values) for chart, values in charts_one_by_one)
    True
    >>> Predictor([], data, scenes.channels)
    Traceback (most recent call last):
    ...
    kit.errors.KitError: no model to predict with
    >>> del item
    >>> tmp.cleanup()
    """

    def __init__(
        self,
        models: Sequence[nn.Module],
        data: DataConfig,
        channels: Sequence[str],
        device: str | torch.device | None = None,
        tta: bool = False,
        tile_size: int = TILE_SIZE,
        tile_overlap: int = TILE_OVERLAP,
        calibration: Calibration | None = None,
    ):
        if not models:
            raise KitError("no model to predict with")
        kinds = [dict(m.kinds) for m in models]
        if any(k != kinds[0] for k in kinds):
            raise KitError(f"ensemble models predict different charts or heads: {kinds}")
        check_tiles(tile_size, tile_overlap)
        self.device = resolve_device(device)
        self.models = [m.to(self.device).eval() for m in models]
        self.kinds = kinds[0]
        self.data = data
        self.channels = tuple(channels)
        self.tta = tta
        self.tile_size, self.tile_overlap = tile_size, tile_overlap
        self.calibration = calibration

    @classmethod
    def from_checkpoints(
        cls,
        paths: Sequence[str | os.PathLike],
        cache_dir: str | None = None,
        calibration: bool = True,
        **options,
    ) -> Predictor:
        """A predictor of checkpoints (one, or an ensemble trained on the same inputs).

        Parameters
        ----------
        paths : sequence of str or os.PathLike
            Checkpoint files (``best.pt``); the first one's config gives the input pipeline.
        cache_dir : str, optional
            Scene cache folder instead of the stored ``data.cache_dir``.
        calibration : bool
            Use the calibration stored in the checkpoint (``autoice calibrate``, or the end of
            ``autoice train``), if it has one. An ensemble is used uncalibrated (its members'
            calibrations do not describe their average), with a warning; so is a calibration
            fitted with another test-time augmentation setting than `tta`.
        **options
            `Predictor` keywords: ``device``, ``tta``, ``tile_size``, ``tile_overlap``.

        Returns
        -------
        Predictor

        Raises
        ------
        KitError
            If no path is given, a checkpoint cannot be read or rebuilt, or the checkpoints'
            data settings differ (they cannot share one input pipeline).
        """
        if not paths:
            raise KitError("--checkpoint: at least one checkpoint is needed")
        models, first, calibrations = [], None, []
        for path in paths:
            state = load_checkpoint(path)
            model, config = model_from_checkpoint(state, path)
            if first is None:
                first = (path, state, config)
            else:
                _check_same_inputs(first[0], first[1], path, state)
            models.append(model)
            stored = state.get(CALIBRATION_KEY)
            calibrations.append(
                None if stored is None else Calibration.from_dict(stored, f"{path}: calibration")
            )
        _, state, config = first
        data = (
            config.data
            if cache_dir is None
            else dataclasses.replace(config.data, cache_dir=cache_dir)
        )
        tta = options.get("tta", False)
        chosen = usable_calibration(calibrations, paths, tta) if calibration else None
        return cls(models, data, state["channels"], calibration=chosen, **options)

    # ---------------------------------------------------------------- working grid

    @torch.inference_mode()
    def scores(self, x, moments: bool = False) -> dict[str, torch.Tensor]:
        """Averaged scores `{chart: [K, h, w]}` (CPU) for inputs `x` [C, h, w] (array or tensor).

        `x` may be a memory-mapped array: only one tile at a time is converted to float32.
        With `moments`, a regression chart has 3 channels: the mean (the same values, bit for
        bit, as without), the mean of the squared values and the mean predicted variance.
        """
        n_channels, height, width = x.shape
        if n_channels != len(self.channels):
            raise KitError(
                f"inputs have {n_channels} channels, the model takes {len(self.channels)}"
            )
        sums: dict[str, torch.Tensor] = {}
        total = torch.zeros(height, width)
        for top in tile_starts(height, self.tile_size, self.tile_overlap):
            for left in tile_starts(width, self.tile_size, self.tile_overlap):
                rows = slice(top, min(top + self.tile_size, height))
                cols = slice(left, min(left + self.tile_size, width))
                tile = torch.as_tensor(np.asarray(x[:, rows, cols], dtype=np.float32))
                tile_scores = self._tile_scores(torch.nan_to_num(tile, nan=0.0), moments)
                weight = blend_window(tile.shape[-2], tile.shape[-1], self.tile_overlap)
                for chart, score in tile_scores.items():
                    if chart not in sums:
                        sums[chart] = torch.zeros(score.shape[0], height, width)
                    sums[chart][:, rows, cols] += score * weight
                total[rows, cols] += weight
        return {chart: s / total for chart, s in sums.items()}

    def _tile_scores(self, tile: torch.Tensor, moments: bool = False) -> dict[str, torch.Tensor]:
        height, width = tile.shape[-2:]
        batch = pad_to_multiple(tile.unsqueeze(0).to(self.device), MODEL_STRIDE)
        transforms = range(8) if self.tta else range(1)
        summed: dict[str, torch.Tensor] = {}
        for model in self.models:
            for k in transforms:
                with torch.autocast(self.device.type, enabled=self.device.type == "cuda"):
                    outputs = model(dihedral(batch, k))
                for chart, score in to_scores(outputs, self.kinds).items():
                    score = dihedral(score, k, inverse=True)[0, :, :height, :width].float()
                    if is_regression(self.kinds[chart]):
                        score = _regression_moments(score) if moments else score[:1]
                    summed[chart] = summed[chart] + score if chart in summed else score
        count = len(self.models) * len(transforms)
        return {c: torch.nan_to_num(s / count, nan=0.0).cpu() for c, s in summed.items()}

    def classes(self, x) -> dict[str, np.ndarray]:
        """Class maps `{chart: uint8 [h, w]}` on the working grid."""
        return _classes(self.scores(x), self.kinds)

    def distributions(self, x) -> dict[str, torch.Tensor]:
        """Uncalibrated predictive distributions on the working grid (CPU).

        Returns
        -------
        dict of str to torch.Tensor
            Per classification chart its averaged class probabilities ``[K, h, w]``; for a
            SIC regression ``[2, h, w]``: the mean (tenths) and the variance (spread of the
            views and members plus any predicted variance; `sic_std` makes it a standard
            deviation).
        """
        distributions = {}
        for chart, score in self.scores(x, moments=True).items():
            if is_regression(self.kinds[chart]):
                mean = score[0]
                spread = (score[1] - mean * mean).clamp_min(0.0)
                score = torch.stack([mean, spread + score[2]])
            distributions[chart] = score
        return distributions

    def uncertainty(self, x, probabilities: bool = False) -> dict[str, ChartUncertainty]:
        """Classes and what an uncertainty file holds, per chart, on the working grid.

        Parameters
        ----------
        x : array or torch.Tensor
            Inputs ``[C, h, w]``.
        probabilities : bool
            Also give every class's calibrated probability (percent).

        Returns
        -------
        dict of str to ChartUncertainty
            uint8 maps ``[h, w]``: the classes (equal to `classes`), the calibrated
            confidence of each (percent), for SIC the 90 % interval, and, if asked, the class
            probabilities ``[K, h, w]`` (percent).
        """
        return {
            chart: chart_uncertainty(
                chart, self.kinds[chart], values, self.calibration, probabilities
            )
            for chart, values in self.distributions(x).items()
        }

    # ---------------------------------------------------------------- 80 m grid

    def predict_scene(
        self, x, valid, shape: tuple[int, int], path: str | os.PathLike | None = None
    ) -> dict[str, np.ndarray]:
        """Charts `{chart: uint8 [H, W]}` on the 80 m grid, MASK where the SAR has no data.

        `valid` is the working-grid data mask; with a downscale factor > 1 and the scene `path`
        given, the exact 80 m mask is read from the scene's SAR instead.
        """
        return dict(self.scene_charts(x, valid, shape, path))

    def scene_charts(
        self, x, valid, shape: tuple[int, int], path=None, every_chart: bool = False
    ) -> Iterator[tuple[str, np.ndarray]]:
        """The 80 m charts of `predict_scene`, made one at a time as they are asked for.

        The streaming form, for writing a submission: besides the working-grid scores, only
        the scene's 80 m data mask and the one chart being yielded are in memory.

        Parameters
        ----------
        x, valid, shape, path
            As for `predict_scene`.
        every_chart : bool
            Yield all of SIC, SOD and FLOE; a chart the models do not predict is all MASK.

        Returns
        -------
        iterator of (str, numpy.ndarray)
            ``(chart, uint8 [H, W])`` in the order of `kit.charts.CHARTS`.

        Examples
        --------
        See the class example: the charts are those of `predict_scene`, one at a time.
        """
        factor = self.data.downscale
        classes = self.classes(x)
        invalid = ~self._valid_80m(valid, shape, factor, path, self.data.input_scaling)
        for chart in charts.CHARTS:
            if chart in classes:
                full = np.ascontiguousarray(to_original_grid(classes.pop(chart), shape, factor))
                full[invalid] = charts.MASK
            elif every_chart:
                full = np.full(shape, charts.MASK, dtype=np.uint8)
            else:
                continue
            yield chart, full
            del full

    def scene_uncertainty(
        self,
        x,
        valid,
        shape: tuple[int, int],
        path=None,
        every_chart: bool = False,
        probabilities: bool = False,
    ) -> Iterator[ChartOutput]:
        """The 80 m charts of `scene_charts` with their uncertainty, one chart at a time.

        Everything is computed on the working grid as uint8 (`uncertainty`) and brought to the
        80 m grid as the class maps are, MASK (255) where the SAR has no data; a chart the
        models do not predict (with `every_chart`) is MASK throughout. The class maps are
        those of `scene_charts`, bit for bit.

        Parameters
        ----------
        x, valid, shape, path, every_chart
            As for `scene_charts`.
        probabilities : bool
            Keep every class's probability too (`ChartOutput.probability_maps`).

        Returns
        -------
        iterator of ChartOutput
            In the order of `kit.charts.CHARTS`.

        Examples
        --------
        >>> import tempfile
        >>> from kit.data.synthetic import SynthConfig, write_dataset
        >>> from kit.data import SceneDataset, discover
        >>> from kit.models import ModelConfig, build_model
        >>> tmp = tempfile.TemporaryDirectory()
        >>> _ = write_dataset(tmp.name, SynthConfig(n_train=0, n_test=1, size=(60, 60)),
        ...                   workers=1, progress=False)
        >>> data = DataConfig(variables=("nersc_sar_primary",), downscale=2)
        >>> scenes = SceneDataset(data, discover(tmp.name), cache_dir=tmp.name + "/cache")
        >>> _ = torch.manual_seed(0)
        >>> model = build_model(ModelConfig(filters=(4, 4)), 1, ["SIC", "SOD", "FLOE"])
        >>> predictor = Predictor([model], data, scenes.channels, device="cpu", tta=True)
        >>> item = scenes[0]
        >>> outputs = list(predictor.scene_uncertainty(item["x"], item["valid"],
        ...                                             item["shape"], item["path"]))
        >>> [(o.chart, o.confidence.shape) for o in outputs]
        [('SIC', (60, 60)), ('SOD', (60, 60)), ('FLOE', (60, 60))]
        >>> sic = outputs[0]
        >>> scored = sic.classes != 255  # 255 where the SAR has no data, in every map
        >>> bool(((sic.confidence == 255) == ~scored).all() and (sic.confidence[scored] <= 100).all())
        True
        >>> bool((sic.low[scored] <= sic.classes[scored]).all())
        True
        >>> del item
        >>> tmp.cleanup()
        """
        factor = self.data.downscale
        working = self.uncertainty(x, probabilities)
        invalid = ~self._valid_80m(valid, shape, factor, path, self.data.input_scaling)

        def full(values: np.ndarray) -> np.ndarray:
            values = np.ascontiguousarray(to_original_grid(values, shape, factor))
            values[invalid] = charts.MASK
            return values

        for chart in charts.CHARTS:
            if chart in working:
                part = working.pop(chart)
                interval = part.interval or (None, None)
                yield ChartOutput(
                    chart, full(part.classes), full(part.confidence),
                    *(None if end is None else full(end) for end in interval),
                    _probabilities=part.probabilities, _full=full,
                )  # fmt: skip
            elif every_chart:
                masked = np.full(shape, charts.MASK, dtype=np.uint8)
                ends = (masked, masked) if chart == "SIC" else (None, None)
                none = np.zeros((charts.N_CLASSES[chart], 0), dtype=np.uint8)  # classes only
                yield ChartOutput(chart, masked, masked, *ends, _probabilities=none,
                                  _full=lambda _, masked=masked: masked)  # fmt: skip

    @staticmethod
    def _valid_80m(valid, shape, factor: int, path, input_scaling: str) -> np.ndarray:
        if factor > 1 and path is not None:
            return valid_mask(path, input_scaling)
        return to_original_grid(np.asarray(valid, dtype=bool), shape, factor)


def _check_same_inputs(first_path, first_state, path, state) -> None:
    differences = model_differences(first_state["config"], state["config"], ("data",))
    if differences:
        raise KitError(
            f"{path}: cannot ensemble with {first_path}, their inputs differ "
            f"({first_path} -> {path}): {'; '.join(differences)}"
        )


# -------------------------------------------------------------------- scenes -> submission


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
                maps = _writing_uncertainty(outputs, scene.scene_id, **extra)
            if png_dir is None:
                writer.add_scene_charts(scene.scene_id, scene.shape, maps)
            else:
                maps = dict(maps)
                writer.add_scene(scene.scene_id, maps)
                _save_panel(Path(png_dir), scene, maps, predictor, reference)
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
) -> Iterator[tuple[str, np.ndarray]]:
    """``(chart, classes)`` for the submission, writing each chart's uncertainty as it passes."""
    for output in outputs:
        if uncertainty is not None:
            uncertainty.add_chart(scene_id, output.chart, output.classes, output.confidence,
                                  output.low, output.high)  # fmt: skip
        if probabilities is not None:
            probabilities.add_chart(scene_id, output.chart, output.classes,
                                    output.probability_maps())  # fmt: skip
        yield output.chart, output.classes
        del output


def _save_panel(folder: Path, scene, maps, predictor: Predictor, reference) -> None:
    """The scene's panel: HH in dB and land from the scene file, else (no HH in the file) the
    model's normalised HH input; land and no data greyed on the predicted charts."""
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
                     masked=masked, sar_unit=unit)  # fmt: skip
