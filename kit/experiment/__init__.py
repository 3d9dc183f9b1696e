"""Experiments: configuration, training, checkpoints, whole-scene prediction, submissions, panels.

One experiment YAML (`ExperimentConfig`) drives `train`; its checkpoints rebuild the model and
its input pipeline (`Predictor.from_checkpoints`), and `predict_dataset` writes the AutoICE
submission file. The figures (`kit.experiment.panels`) import matplotlib, so they load on first
use. Modules:

- `config`: `ExperimentConfig`, `TrainConfig`, `load_experiment`, tile defaults
- `checkpoint`: what a checkpoint holds, saving, loading, `check_compatible`
- `distributed`: this process's place in a torchrun run
- `train`: the training loop (`train`, `validate`, `score_scenes`, `TrainResult`)
- `predict`: `Predictor` (tiling, test-time augmentation)
- `submission`: `predict_dataset`, a dataset into a submission file (and its uncertainty files, panels)
- `uncertainty`: per-pixel predictive distributions, confidences, SIC intervals, `Calibration`
- `calibration`: fitting the calibration on validation scenes (`autoice calibrate`)
- submissions are written by `scoring.write_submission` (re-exported here)
- `panels`: chart and SAR figures
- `cli`: the `autoice train`, `autoice predict` and `autoice calibrate` commands
"""

from kit.experiment.checkpoint import (
    check_compatible,
    load_checkpoint,
    model_from_checkpoint,
    save_checkpoint,
)
from kit.experiment.config import ExperimentConfig, TrainConfig, load_experiment
from kit.experiment.predict import Predictor
from kit.experiment.submission import predict_dataset
from kit.experiment.train import TrainResult, score_scenes, train, validate
from kit.lazy import lazy_exports
from scoring.files.writer import SubmissionWriter, write_submission

_LAZY = {
    "chart_colour_map": "kit.experiment.panels",
    "draw_chart": "kit.experiment.panels",
    "draw_sar": "kit.experiment.panels",
    "save_scene_panel": "kit.experiment.panels",
}

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


__all__ = [
    "ExperimentConfig",
    "Predictor",
    "SubmissionWriter",
    "TrainConfig",
    "TrainResult",
    "check_compatible",
    "load_checkpoint",
    "load_experiment",
    "model_from_checkpoint",
    "predict_dataset",
    "save_checkpoint",
    "score_scenes",
    "train",
    "validate",
    "write_submission",
    *_LAZY,
]
