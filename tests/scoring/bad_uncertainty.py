"""Bad uncertainty files for the leaderboard and Codabench tests: each breaks one rule of
`scoring.files.uncertainty` on a `calibration_case`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kit.charts import MASK, confidence_variable, sic_interval_variables
from tests.scoring.uncertainty_builders import uncertainty_variables, write_uint8_file

#: What each bad file breaks, and a piece of the one-line error it must give.
BAD_KINDS = {
    "other_scenes": "a file for other scenes?",
    "confidence_above_100": "values outside 0-100 (120)",
    "255_where_classified": "1 pixels of 255 where the submission has a class",
    "low_above_high": "1 pixels with low > high",
}


def bad_uncertainty_file(case: dict, kind: str, path: Path) -> Path:
    """The case's uncertainty file with one problem of `kind` (a key of `BAD_KINDS`)."""
    variables = uncertainty_variables(case["maps"])
    scene = sorted(case["maps"])[0]
    sic = case["preds"][scene]["SIC"]
    classified = np.argwhere((sic != MASK) & (sic < 10))[0]
    if kind == "other_scenes":  # the first scene's variables under another scene's id
        variables = {
            name.replace(scene, "20200101T000000_dmi"): values for name, values in variables.items()
        }
    elif kind == "confidence_above_100":
        name = confidence_variable(scene, "SOD")
        values = variables[name].copy()
        values[values != MASK] = 120
        variables[name] = values
    elif kind == "255_where_classified":
        name = confidence_variable(scene, "SIC")
        variables[name] = variables[name].copy()
        variables[name][tuple(classified)] = MASK
    elif kind == "low_above_high":
        low, high = sic_interval_variables(scene)
        variables[low], variables[high] = variables[low].copy(), variables[high].copy()
        value = sic[tuple(classified)]
        variables[low][tuple(classified)] = value + 1
        variables[high][tuple(classified)] = value
    else:
        raise ValueError(kind)
    return write_uint8_file(path, variables)
