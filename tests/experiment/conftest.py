"""Fixtures of the uncertainty tests: a tiny trained, calibrated run and an untrained model whose
SIC is a classification head."""

import pytest
import torch


@pytest.fixture(scope="session")
def calibrated_run(tmp_path_factory):
    """A tiny multi-task run (SIC regression) trained one epoch with one validation scene; its
    best.pt carries the calibration fitted at the end of training. (checkpoint, data, config)"""
    from kit.experiment.train import train
    from tests.tiny_runs import tiny_config, tiny_dataset

    root = tmp_path_factory.mktemp("calibrated")
    data = tiny_dataset(root / "data", n_train=3, n_test=1)
    config = tiny_config(data, root / "run", root / "cache",
                         train={"epochs": 1, "val_fraction": 0.34}, data={"epoch_len": 2})  # fmt: skip
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = train(config, progress=False)
    finally:
        torch.set_num_threads(threads)
    return result.best_checkpoint, data, config


@pytest.fixture(scope="session")
def sic_classification_checkpoint(calibrated_run, tmp_path_factory):
    """An untrained `unet` (SIC, SOD, FLOE classification heads) on the same inputs, saved with
    a hand-set calibration."""
    from kit.experiment import ExperimentConfig, load_checkpoint, save_checkpoint
    from kit.experiment.uncertainty import CALIBRATION_KEY, Calibration
    from kit.models import build_model

    checkpoint, data, trained = calibrated_run
    channels = load_checkpoint(checkpoint)["channels"]
    config = ExperimentConfig.from_dict(
        {**trained.to_dict(), "model": {"type": "unet", "filters": [4, 8]}}
    )
    torch.manual_seed(4)
    model = build_model(config.model, len(channels), config.data.charts)
    calibration = Calibration({"SIC": 2.0, "SOD": 0.5, "FLOE": 1.5})
    path = tmp_path_factory.mktemp("unet") / "best.pt"
    save_checkpoint(path, {"config": config.to_dict(), "channels": channels,
                           "model": model.state_dict(), CALIBRATION_KEY: calibration.to_dict()})  # fmt: skip
    return path
