"""Training end to end on tiny synthetic data: checkpoints, resume, DDP, predict and score."""

import csv
import os
import socket

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from kit.cli import main as cli_main
from kit.data import discover
from kit.data.scene_dataset import SceneDataset
from kit.errors import KitError
from kit.experiment.checkpoint import load_checkpoint
from kit.experiment.predict import Predictor
from kit.experiment.submission import predict_dataset
from kit.experiment.train import score_scenes, train
from scoring import score_submission
from tests.tiny_runs import tiny_config, tiny_dataset


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tiny_dataset(tmp_path_factory.mktemp("tiny") / "data")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _config(data_dir, tmp_path, run="run", **sections):
    return tiny_config(data_dir, tmp_path / run, tmp_path / "cache", **sections)


def test_train_checkpoint_predict_score(data_dir, tmp_path):
    config = _config(
        data_dir, tmp_path, loss={"SOD": {"type": "focal", "class_weights": "median_frequency"}}
    )
    result = train(config, progress=False)
    assert result.epochs_run == 2 and result.best_checkpoint.is_file()
    with open(result.out_dir / "metrics.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert all(np.isfinite(float(r["val_combined"])) for r in rows)
    assert any((result.out_dir / "tensorboard").iterdir())

    state = load_checkpoint(result.best_checkpoint)
    assert state["config"]["model"]["filters"] == [8, 8, 16]
    assert state["best_score"] == max(float(r["val_combined"]) for r in rows)

    out = tmp_path / "upload_package.nc"
    predictor = Predictor.from_checkpoints([result.best_checkpoint], device="cpu")
    predict_dataset(predictor, data_dir, out, png_dir=tmp_path / "png", progress=False)
    report = score_submission(out, data_dir)
    assert len(report.scenes) == 2 and np.isfinite(report.combined)
    assert len(list((tmp_path / "png").glob("*.png"))) == 2

    # score_scenes: the same per-scene counts in memory as the scorer reads from the file
    best = predictor.models[0]
    scenes = discover(data_dir)
    test = SceneDataset(config.data, scenes[scenes.split == "test"])
    counts = score_scenes(best, test, config, torch.device("cpu"))
    assert sorted(counts.scenes) == sorted(report.scenes)
    assert counts.report().combined == pytest.approx(report.combined, abs=1e-9)
    mine = counts.report().per_scene
    for scene, scores in report.per_scene.items():
        assert mine[scene] == pytest.approx(scores, abs=1e-9, nan_ok=True)


def test_resume_continues_exactly_where_it_stopped(data_dir, tmp_path):
    straight = train(
        _config(data_dir, tmp_path, "straight", train={"scheduler": "constant"}), progress=False
    )
    first = _config(data_dir, tmp_path, "resumed", train={"scheduler": "constant", "epochs": 1})
    train(first, progress=False)
    resumed = train(first.replace("train", epochs=2), resume=True, progress=False)
    assert resumed.epochs_run == 1 and len(resumed.history) == 2
    for name, value in straight.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[name], value, rtol=0, atol=0)


def test_resume_with_a_different_config_lists_the_mismatch(data_dir, tmp_path):
    config = _config(data_dir, tmp_path, train={"epochs": 1, "val_fraction": 0.0})
    train(config, progress=False)
    changed = _config(data_dir, tmp_path, model={"filters": [8, 8, 8]}, data={"downscale": 3})
    with pytest.raises(
        KitError, match=r"different config.*data\.downscale: 2 -> 3.*model\.filters"
    ):
        train(changed, resume=True, progress=False)
    with pytest.raises(KitError, match="use --resume"):
        train(config, progress=False)
    assert train(config, overwrite=True, progress=False).epochs_run == 1


def test_every_model_type_trains_a_step(data_dir, tmp_path):
    for name, model in {
        "unet": {"type": "unet", "levels": 2, "filters": [4, 4, 4]},
        "smp": {"type": "smp", "arch": "Unet", "encoder": "resnet18"},
    }.items():
        config = _config(data_dir, tmp_path, name, model=model,
                         train={"epochs": 1, "val_fraction": 0.0}, data={"epoch_len": 1})  # fmt: skip
        assert train(config, progress=False).epochs_run == 1


def test_time_budget_stops_early(data_dir, tmp_path):
    config = _config(data_dir, tmp_path, train={"epochs": 50, "time_budget_s": 0.01})
    result = train(config, progress=False)
    assert result.epochs_run == 1 and "val_combined" in result.history[-1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ddp_worker(rank, world_size, port, config, folder):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank))  # fmt: skip
    torch.set_num_threads(1)
    result = train(config, device="cpu", progress=False)
    torch.save(result.model.state_dict(), os.path.join(folder, f"rank{rank}.pt"))
    torch.distributed.destroy_process_group()


def test_ddp_with_gloo_keeps_weights_in_sync(data_dir, tmp_path):
    config = _config(data_dir, tmp_path, "ddp", train={"epochs": 1, "val_fraction": 0.25})
    mp.spawn(_ddp_worker, args=(2, _free_port(), config, str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    for name in ranks[0]:
        torch.testing.assert_close(ranks[0][name], ranks[1][name], rtol=0, atol=0)
    # The two processes drew different batches: one process alone ends elsewhere.
    single = train(_config(data_dir, tmp_path, "single", train={"epochs": 1}), progress=False)
    weights = single.model.state_dict()
    assert any(not torch.equal(weights[n], ranks[0][n]) for n in weights if n.endswith("weight"))
    assert (tmp_path / "ddp" / "best.pt").is_file()


def test_cli_train_and_predict(data_dir, tmp_path, capsys):
    config = tmp_path / "tiny.yaml"
    import yaml

    settings = _config(data_dir, tmp_path, train={"epochs": 1}).to_dict()
    config.write_text(yaml.safe_dump(settings))
    assert cli_main(["train", str(config), "--device", "cpu"]) == 0
    out = tmp_path / "sub.nc"
    checkpoint = str(tmp_path / "run" / "best.pt")
    code = cli_main(["predict", "--checkpoint", checkpoint, "--checkpoint", checkpoint,
                     "--data", str(data_dir), "--out", str(out), "--device", "cpu", "--tile-size", "16",
                     "--tile-overlap", "4"])  # fmt: skip
    assert code == 0 and np.isfinite(score_submission(out, data_dir).combined)
    empty = ["--data", str(tmp_path / "empty"), "--out", str(tmp_path / "other")]
    assert cli_main(["train", str(config), *empty]) == 2
    assert "no such data folder" in capsys.readouterr().err
