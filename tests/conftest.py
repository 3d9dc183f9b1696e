"""Shared fixtures: a tiny synthetic dataset (TorchGeo layout) generated once per session."""

import pytest

from kit.data.synthetic import SynthConfig, write_dataset

TINY = SynthConfig(n_train=2, n_test=1, size=(100, 150), seed=3, raw=True)


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    """Folder with 2 training and 1 test scene of 100x150 pixels (and raw files)."""
    root = tmp_path_factory.mktemp("tiny")
    write_dataset(root, TINY, workers=1, progress=False)
    return root


@pytest.fixture
def one_torch_thread():
    """Torch on one thread for the test (tiny models: threads only add overhead and noise)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
