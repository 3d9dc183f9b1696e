"""Torch files hold plain data: what the writers check and the one-line reader errors."""

import re
from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

from kit.errors import KitError
from kit.experiment.checkpoint import save_checkpoint
from kit.safeload import check_plain, load_plain, load_weights, require_keys, weights_mismatch


def test_check_plain_accepts_what_weights_only_loads(tmp_path):
    state = {"a": [1, 2.0, "x", None, True, (torch.ones(2),)], "b": OrderedDict(w=torch.zeros(1))}
    check_plain(state)
    torch.save(state, tmp_path / "s.pt")
    assert load_plain(tmp_path / "s.pt", "file")["a"][:5] == [1, 2.0, "x", None, True]


@pytest.mark.parametrize("value", [np.float64(1.0), np.zeros(2), type("Config", (), {})()])
def test_the_checkpoint_writer_refuses_anything_else(tmp_path, value):
    with pytest.raises(TypeError, match=re.escape("/history[0]/val: ")):
        save_checkpoint(tmp_path / "c.pt", {"history": [{"val": value}]})
    assert not (tmp_path / "c.pt").exists()


def test_load_plain_errors_are_one_line(tmp_path):
    with pytest.raises(KitError, match="nope.pt: no such file$"):
        load_plain(tmp_path / "nope.pt", "file")
    (tmp_path / "text.pt").write_text("hello\nworld")
    with pytest.raises(KitError, match="text.pt: not a readable file") as caught:
        load_plain(tmp_path / "text.pt", "file")
    assert "\n" not in str(caught.value)


def test_require_keys_names_every_missing_key():
    require_keys({"a": 1, "b": 2}, ["a", "b"], "f.pt", "checkpoint")
    with pytest.raises(KitError, match="^f.pt: checkpoint lacks b, c$"):
        require_keys({"a": 1}, ["a", "b", "c"], "f.pt", "checkpoint")
    with pytest.raises(KitError, match="^f.pt: not a checkpoint \\(holds a list, not a dict\\)$"):
        require_keys([], ["a"], "f.pt", "checkpoint")


def test_weights_mismatch_lists_the_first_keys():
    model = nn.Sequential(*(nn.Linear(2, 2) for _ in range(3)))
    assert weights_mismatch(model, model.state_dict()) is None
    weights = {"0.weight": torch.zeros(3, 3), "x": torch.zeros(1), "y": 1}
    assert weights_mismatch(model, weights) == (
        "missing 0.bias, 1.weight, 1.bias (+2 more); unexpected x, y; not tensors y; "
        "shape file vs model 0.weight [3, 3] vs [2, 2]"
    )
    assert weights_mismatch(model, [1]) == "weights are a list, not a dict of tensors"
    with pytest.raises(KitError, match=r"^f.pt: no fit \(missing 0.bias"):
        load_weights(model, weights, "f.pt", "no fit")
