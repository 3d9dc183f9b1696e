"""Codabench: the scoring program that runs on Codabench (`program`: `main`, `score_codabench`),
its per-submission results page (`details`) and the competition bundle that ships it with the
reference charts (`bundle`). The public names of `program` are importable from here.

Examples
--------
>>> from scoring.codabench import SPLIT_FILE_NAME
>>> SPLIT_FILE_NAME
'split.csv'
"""

from __future__ import annotations

from scoring.codabench.program import (
    DETAILS_FILE_NAME,
    SPLIT_FILE_NAME,
    UNCERTAINTY_FILE_NAME,
    find_submission_file,
    find_uncertainty_file,
    main,
    score_codabench,
)

__all__ = [
    "DETAILS_FILE_NAME",
    "SPLIT_FILE_NAME",
    "UNCERTAINTY_FILE_NAME",
    "find_submission_file",
    "find_uncertainty_file",
    "main",
    "score_codabench",
]
