"""Whole-scene inference: the `Predictor` (`kit.experiment.submission` writes its predictions
of a dataset into a submission file, as `autoice predict` does).

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
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import nn

from kit import charts
from kit.data.augment import dihedral
from kit.data.cache import valid_mask
from kit.data.config import DataConfig
from kit.data.regrid import to_original_grid
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
            if is_regression(self.kinds[chart]):  # numpy: one thread, as kit.experiment.uncertainty
                mean, squares, predicted = score.numpy()
                spread = np.maximum(squares - mean * mean, 0.0)
                score = torch.from_numpy(np.stack([mean, spread + predicted]))
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
