"""Calibrate a model's probabilities on validation scenes: `autoice calibrate`, end of training.

Temperature scaling (Guo et al. 2017) per classification head, and one factor on the standard
deviation of a SIC regression head (`kit.experiment.uncertainty` says how both are applied),
each fitted by minimising the negative log-likelihood (NLL) of the reference classes on the
**validation** scenes, never on test scenes. The likelihood is taken over a pixel subsample
bounded per scene (`MAX_PIXELS` labelled pixels per scene and chart, drawn with a seed), so
memory does not grow with the scene size: only the pixels drawn are kept of each scene. Each
parameter is fitted on its logarithm, so it stays positive: a grid over `LOG_BOUNDS` first
(the NLL can be flat where a badly calibrated model gives the reference class no probability at
all), then a bounded one-dimensional search (scipy's ``minimize_scalar``) between the grid
points beside the best one; the fit is deterministic.

The result is a `Calibration` record, stored in the checkpoint as plain data (the checkpoint
still loads with ``torch.load(weights_only=True)``) and used by `Predictor.from_checkpoints`
unless told not to (``autoice predict --no-calibration``).

    autoice calibrate --checkpoint runs/demo/best.pt --data data/demo
    autoice calibrate --checkpoint best.pt --data DIR --scenes 20180124T194759_dmi --output cal.pt
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.optimize import minimize_scalar
from tqdm.auto import tqdm

from kit import charts
from kit.data.layouts import discover
from kit.data.scene_dataset import SceneDataset
from kit.data.selection import resolve_data_dir, split_scenes
from kit.errors import KitError
from kit.experiment.checkpoint import checkpoint_config, load_checkpoint, save_checkpoint
from kit.experiment.predict import Predictor
from kit.experiment.uncertainty import (
    CALIBRATION_KEY,
    PROBABILITY_FLOOR,
    Calibration,
    sic_class_probability,
    sic_std,
)
from kit.models.heads import is_regression
from scoring.calibration.counts import LEVELS
from scoring.calibration.reliability import calibration_errors

#: Labelled pixels drawn per validation scene and chart to fit on.
MAX_PIXELS = 20_000
#: Range searched for log(temperature) and log(SIC std factor): factors from 1/148 to 148,
#: and the grid points tried over it before the bounded search.
LOG_BOUNDS = (-5.0, 5.0)
LOG_GRID = 41


# -------------------------------------------------------------------- pixels


def gather_pixels(
    predictor: Predictor,
    dataset: SceneDataset,
    max_pixels: int = MAX_PIXELS,
    seed: int = 0,
    progress: bool = False,
) -> tuple[dict[str, dict[str, np.ndarray]], list[str]]:
    """Uncalibrated predictive distributions and reference classes at sampled labelled pixels.

    A pixel is drawn where the reference chart is labelled (not MASK) and the SAR has data
    (where a prediction is written); at most `max_pixels` per scene and chart, without
    replacement, seeded by `seed` and the scene's position. The distribution of an 80 m pixel
    is that of its working-grid pixel, as the 80 m charts are made.

    Parameters
    ----------
    predictor : Predictor
        The model(s); its calibration is not applied.
    dataset : SceneDataset
        Validation scenes with their reference charts.
    max_pixels : int
        Pixels drawn per scene and chart.
    seed : int
        Seed of the draw.
    progress : bool
        Show a progress bar.

    Returns
    -------
    pixels : dict
        Per chart the model predicts and the scenes label: ``target`` (int64 classes) and
        either ``probabilities`` (float64 ``[n, K]``) or ``mean`` and ``variance``
        (float64 ``[n]``, SIC regression).
    scene_ids : list of str
        The scenes read, in order.

    Raises
    ------
    KitError
        If `max_pixels` is below 1.
    """
    if max_pixels < 1:
        raise KitError(f"pixels per scene must be >= 1, got {max_pixels}")
    factor = predictor.data.downscale
    parts: dict[str, dict[str, list[np.ndarray]]] = {}
    scene_ids = []
    scenes = tqdm(range(len(dataset)), desc="calibrate", unit="scene", disable=not progress)
    for index in scenes:
        item = dataset[index]
        scene_ids.append(item["scene_id"])
        distributions = predictor.distributions(item["x"])
        valid = predictor._valid_80m(
            item["valid"], item["shape"], factor, item["path"], predictor.data.input_scaling
        )
        rng = np.random.default_rng([seed, index])
        for chart, reference in item["charts"].items():
            if chart not in distributions:
                continue
            labelled = np.flatnonzero((reference != charts.MASK) & valid)
            if labelled.size > max_pixels:
                labelled = np.sort(rng.choice(labelled, max_pixels, replace=False))
            rows, cols = np.divmod(labelled, reference.shape[1])
            rows, cols = torch.from_numpy(rows // factor), torch.from_numpy(cols // factor)
            values = distributions[chart][:, rows, cols].double().numpy()
            chart_parts = parts.setdefault(chart, {})
            chart_parts.setdefault("target", []).append(reference.flat[labelled].astype(np.int64))
            if is_regression(predictor.kinds[chart]):
                chart_parts.setdefault("mean", []).append(values[0])
                chart_parts.setdefault("variance", []).append(values[1])
            else:
                chart_parts.setdefault("probabilities", []).append(values.T)
        del item, distributions
    pixels = {c: {k: np.concatenate(v) for k, v in p.items()} for c, p in parts.items()}
    return pixels, scene_ids


# -------------------------------------------------------------------- likelihoods


def classification_nll(probabilities: np.ndarray, target: np.ndarray, temperature: float) -> float:
    """Mean NLL of `target` under ``softmax(log(p) / T)``.

    >>> p = np.array([[0.9, 0.1], [0.6, 0.4]])
    >>> round(classification_nll(p, np.array([0, 1]), 1.0), 4)  # -(log 0.9 + log 0.4) / 2
    0.5108
    """
    logits = np.log(np.clip(probabilities, PROBABILITY_FLOOR, None)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(logits).sum(axis=1))
    return float(np.mean(log_norm - logits[np.arange(len(target)), target]))


def regression_nll(
    mean: np.ndarray, variance: np.ndarray, target: np.ndarray, scale: float
) -> float:
    """Mean NLL of the SIC classes `target` under the binned Gaussian of `mean` and
    ``sic_std(variance, scale)``.

    >>> # std sqrt(0.75 + 0.5**2) = 1: -log P(4.5 < Y < 5.5) = -log 0.3829
    >>> round(regression_nll(np.array([5.0]), np.array([0.75]), np.array([5]), 1.0), 3)
    0.96
    """
    probability = sic_class_probability(mean, sic_std(variance, scale), target)
    return float(-np.log(np.maximum(probability, PROBABILITY_FLOOR)).mean())


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray) -> float:
    """ECE in percent of confidences as an uncertainty file writes them (whole percents),
    with the scorer's definition (`scoring.calibration.calibration_errors`: 10 equal-width
    bins on [0, 1], 1 in the last bin, the pixel-weighted mean of |accuracy - confidence|).

    >>> expected_calibration_error(np.array([0.95, 0.95, 0.55, 0.55]),
    ...                            np.array([True, True, True, False]))  # doctest: +ELLIPSIS
    5.0...
    """
    confidence = np.asarray(confidence, dtype=np.float64)
    if confidence.size == 0:
        return math.nan
    levels = np.rint(confidence * charts.PERCENT_MAX).astype(np.int64)
    totals = np.bincount(levels, minlength=LEVELS)
    right = np.bincount(levels, weights=np.asarray(correct, dtype=np.float64), minlength=LEVELS)
    ece, _ = calibration_errors(totals, right)
    return float(100.0 * ece)


def _minimise(nll) -> float:
    """The positive parameter minimising `nll`: a grid of its logarithm over LOG_BOUNDS, then
    a bounded search between the neighbours of the best grid point."""
    grid = np.linspace(*LOG_BOUNDS, LOG_GRID)
    values = [nll(math.exp(log)) for log in grid]
    best = int(np.argmin(values))
    low, high = grid[max(best - 1, 0)], grid[min(best + 1, LOG_GRID - 1)]
    result = minimize_scalar(lambda log: nll(math.exp(log)), bounds=(low, high), method="bounded",
                             options={"xatol": 1e-4})  # fmt: skip
    chosen = float(result.x) if result.fun <= values[best] else float(grid[best])
    return math.exp(chosen)


# -------------------------------------------------------------------- fitting


def fit_calibration(
    predictor: Predictor,
    dataset: SceneDataset,
    max_pixels: int = MAX_PIXELS,
    seed: int = 0,
    progress: bool = False,
) -> Calibration:
    """Fit temperatures and the SIC std factor by minimising the NLL on `dataset`'s pixels.

    Parameters
    ----------
    predictor : Predictor
        The model(s) to calibrate (their current calibration is ignored); its `tta` setting
        is recorded, since the probabilities differ with and without it.
    dataset : SceneDataset
        Validation scenes with reference charts (never test scenes).
    max_pixels, seed, progress
        As for `gather_pixels`.

    Returns
    -------
    Calibration
        With the NLL and ECE (percent) before and after, per chart, on the fitted pixels.

    Raises
    ------
    KitError
        If the scenes have no labelled pixel of any chart the model predicts.

    Examples
    --------
    >>> import tempfile
    >>> from kit.data import discover
    >>> from kit.data.config import DataConfig
    >>> from kit.data.synthetic import SynthConfig, write_dataset
    >>> from kit.models import ModelConfig, build_model
    >>> tmp = tempfile.TemporaryDirectory()
    >>> _ = write_dataset(tmp.name, SynthConfig(n_train=1, n_test=0, size=(64, 64)),
    ...                   workers=1, progress=False)
    >>> data = DataConfig(variables=("nersc_sar_primary",), downscale=2)
    >>> scenes = SceneDataset(data, discover(tmp.name), cache_dir=tmp.name + "/cache")
    >>> _ = torch.manual_seed(0)
    >>> model = build_model(ModelConfig(filters=(4, 4)), 1, ["SIC", "SOD", "FLOE"])
    >>> predictor = Predictor([model], data, scenes.channels, device="cpu")
    >>> calibration = fit_calibration(predictor, scenes, max_pixels=500)
    >>> sorted(calibration.temperatures), calibration.sic_std_scale > 1  # untrained: too sure
    (['FLOE', 'SOD'], True)
    >>> all(m["nll_after"] <= m["nll_before"] for m in calibration.metrics.values())
    True
    >>> tmp.cleanup()
    """
    pixels, scene_ids = gather_pixels(predictor, dataset, max_pixels, seed, progress)
    if not pixels or not any(len(p["target"]) for p in pixels.values()):
        raise KitError("the validation scenes have no labelled pixel of a predicted chart")
    temperatures, scale, metrics = {}, 1.0, {}
    for chart, p in pixels.items():
        if not len(p["target"]):
            continue
        fitted, metrics[chart] = fit_pixels(p)
        if "mean" in p:
            scale = fitted
        else:
            temperatures[chart] = fitted
    return Calibration(
        temperatures=temperatures,
        sic_std_scale=scale,
        tta=predictor.tta,
        scenes=tuple(scene_ids),
        metrics=metrics,
    )


def fit_pixels(p: dict[str, np.ndarray]) -> tuple[float, dict[str, float]]:
    """Fit one chart's temperature (or SIC std factor) on its pixels (`gather_pixels`).

    Parameters
    ----------
    p : dict of str to numpy.ndarray
        ``target`` classes and ``probabilities`` ``[n, K]`` (a classification head) or
        ``mean`` and ``variance`` ``[n]`` (SIC regression).

    Returns
    -------
    fitted : float
        The temperature, or the SIC standard-deviation factor, minimising the mean NLL.
    metrics : dict of str to float
        ``pixels``, ``nll_before``, ``nll_after``, ``ece_before``, ``ece_after`` (percent).

    Examples
    --------
    A model that is sure of itself (its probabilities cubed) but right only as often as the
    probabilities before cubing say: the fitted temperature undoes the cube.

    >>> rng = np.random.default_rng(0)
    >>> truth = rng.dirichlet(np.ones(4), size=20000)
    >>> target = (truth.cumsum(axis=1) > rng.random((20000, 1))).argmax(axis=1)
    >>> sure = truth**3 / (truth**3).sum(axis=1, keepdims=True)
    >>> temperature, metrics = fit_pixels({"probabilities": sure, "target": target})
    >>> round(temperature, 1), metrics["ece_after"] < metrics["ece_before"]
    (3.0, True)
    """
    target = p["target"]
    if "mean" in p:
        mean, variance = p["mean"], p["variance"]
        written = np.clip(np.rint(mean), 0, charts.SIC_TENTHS)

        def nll(scale: float) -> float:
            return regression_nll(p["mean"], p["variance"], target, scale)

        def confidence(scale: float) -> np.ndarray:
            return sic_class_probability(mean, sic_std(variance, scale), written)

        correct = written == target
    else:
        probabilities = p["probabilities"]
        written = probabilities.argmax(axis=1)
        correct = written == target

        def nll(temperature: float) -> float:
            return classification_nll(probabilities, target, temperature)

        def confidence(temperature: float) -> np.ndarray:
            logits = np.log(np.clip(probabilities, PROBABILITY_FLOOR, None)) / temperature
            logits -= logits.max(axis=1, keepdims=True)
            chosen = np.exp(logits[np.arange(len(written)), written])
            return chosen / np.exp(logits).sum(axis=1)

    fitted = _minimise(nll)
    return fitted, {
        "pixels": float(len(target)),
        "nll_before": nll(1.0),
        "nll_after": nll(fitted),
        "ece_before": expected_calibration_error(confidence(1.0), correct),
        "ece_after": expected_calibration_error(confidence(fitted), correct),
    }


def format_calibration(calibration: Calibration) -> str:
    """A table: per chart, the fitted value, pixels, NLL and ECE before and after.

    >>> print(format_calibration(Calibration({"SOD": 1.25}, metrics={"SOD": {
    ...     "pixels": 100.0, "nll_before": 0.9, "nll_after": 0.8,
    ...     "ece_before": 12.0, "ece_after": 3.5}})))
    chart  fitted       pixels  NLL before  NLL after  ECE before  ECE after
    SOD    T = 1.250       100      0.9000     0.8000       12.0%       3.5%

    A value at the end of the searched range (`LOG_BOUNDS`) is marked: the NLL still fell
    there, so the scenes say little (too few, or one class throughout):

    >>> print(format_calibration(Calibration({"FLOE": math.exp(5.0)}, metrics={"FLOE": {
    ...     "pixels": 9.0, "nll_before": 2.0, "nll_after": 1.9,
    ...     "ece_before": 20.0, "ece_after": 14.0}})).splitlines()[1])
    FLOE   T = 148.413       9      2.0000     1.9000       20.0%      14.0%  at the range's end
    """
    lines = ["chart  fitted       pixels  NLL before  NLL after  ECE before  ECE after"]
    for chart in charts.CHARTS:
        m = calibration.metrics.get(chart)
        if m is None:
            continue
        value = calibration.temperatures.get(chart, calibration.sic_std_scale)
        fitted = f"{'T' if chart in calibration.temperatures else 's'} = {value:.3f}"
        edge = min(abs(math.log(value) - bound) for bound in LOG_BOUNDS) < 1e-3
        lines.append(
            f"{chart:<5}  {fitted:<11}  {int(m['pixels']):>6}  {m['nll_before']:>10.4f}  "
            f"{m['nll_after']:>9.4f}  {m['ece_before']:>9.1f}%  {m['ece_after']:>8.1f}%"
            + ("  at the range's end" if edge else "")
        )
    return "\n".join(lines)


# -------------------------------------------------------------------- checkpoints


def validation_scenes(
    checkpoint: str | os.PathLike, data_dir: str | os.PathLike, scenes=None
) -> pd.DataFrame:
    """The scenes to calibrate a checkpoint on: `scenes` (training-split ids of `data_dir`), or
    else the validation scenes its training drew from `data_dir` (its ``train`` settings).

    Raises
    ------
    KitError
        If `data_dir` is a test folder or holds no training scenes, an id is not a training
        scene of it, or there is no validation scene (training kept none, and none is named).
    """
    if charts.is_test_folder(Path(data_dir).name):
        raise KitError(
            f"--data {data_dir}: a test folder; calibration is fitted on validation scenes only"
        )
    folder = resolve_data_dir(data_dir)
    if scenes:  # any labelled scenes outside the test split, even all of them
        table = discover(folder)
        table = table[table["split"] == "train"].reset_index(drop=True)
        unknown = [s for s in scenes if s not in set(table["scene_id"])]
        if unknown:
            raise KitError(f"--scenes: not among the training-split scenes: {', '.join(unknown)}")
        return table[table["scene_id"].isin(list(scenes))].reset_index(drop=True)
    tc = checkpoint_config(load_checkpoint(checkpoint), checkpoint).train
    _, validation = split_scenes(
        folder, tc.val_scenes, tc.val_fraction, tc.seed,
        setting=f"{checkpoint}: train.val_scenes", val_count=tc.val_count,
    )  # fmt: skip
    if validation.empty:
        raise KitError(
            f"{checkpoint}: its training kept no validation scene of {data_dir}; name the "
            "scenes to calibrate on with --scenes"
        )
    return validation


def calibrate_checkpoint(
    checkpoint: str | os.PathLike,
    data_dir: str | os.PathLike,
    scenes=None,
    output: str | os.PathLike | None = None,
    max_pixels: int = MAX_PIXELS,
    seed: int = 0,
    progress: bool = True,
    **options,
) -> tuple[Path, Calibration]:
    """Fit a checkpoint's calibration on validation scenes and store it (atomically).

    Parameters
    ----------
    checkpoint : str or os.PathLike
        A checkpoint (`autoice train`'s ``best.pt``); any calibration it holds is replaced.
    data_dir : str or os.PathLike
        Its dataset folder (not a test folder).
    scenes : sequence of str, optional
        Ids of training-split scenes to fit on, instead of the training's validation scenes.
    output : str or os.PathLike, optional
        Write the calibrated checkpoint here instead of over `checkpoint`.
    max_pixels, seed, progress
        As for `gather_pixels`.
    **options
        `Predictor` keywords: ``device``, ``tta``, ``tile_size``, ``tile_overlap``,
        and ``cache_dir`` (`Predictor.from_checkpoints`).

    Returns
    -------
    path : pathlib.Path
        The written checkpoint.
    calibration : Calibration
        What was fitted.

    Raises
    ------
    KitError
        From `validation_scenes`, an unreadable checkpoint, or scenes without labels.

    Examples
    --------
    Test scenes are never used to fit (see notebook 07 for a whole run):

    >>> calibrate_checkpoint("runs/demo/best.pt", "data/test")
    Traceback (most recent call last):
    ...
    kit.errors.KitError: --data data/test: a test folder; calibration is fitted on validation scenes only
    """  # noqa: E501
    table = validation_scenes(checkpoint, data_dir, scenes)
    state = load_checkpoint(checkpoint)
    if "tile_size" not in options:
        tc = checkpoint_config(state, checkpoint).train
        options.update(tile_size=tc.tile_size, tile_overlap=tc.tile_overlap)
    predictor = Predictor.from_checkpoints([checkpoint], calibration=False, **options)
    dataset = SceneDataset(predictor.data, table)
    calibration = fit_calibration(predictor, dataset, max_pixels, seed, progress)
    state[CALIBRATION_KEY] = calibration.to_dict()
    return save_checkpoint(output or checkpoint, state), calibration
