"""The public/private split of the test scenes.

Leaderboards show the public score while a competition runs and rank by the private one at the
end. The split is read from a small file (CSV with `scene_id,split` rows, or YAML mapping
`public:` and `private:` to lists of scene ids) or, by default, drawn as a seeded 50/50 split
of the sorted scene ids, so every organiser gets the same split for the same scenes.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np

from scoring.errors import ScoringError

PUBLIC, PRIVATE, ALL = "public", "private", "all"
SPLITS: tuple[str, ...] = (PUBLIC, PRIVATE)
#: Seed of the default split.
DEFAULT_SPLIT_SEED = 2023


def default_split(scene_ids: list[str], seed: int = DEFAULT_SPLIT_SEED) -> dict[str, str]:
    """Seeded 50/50 split (public gets the extra scene of an odd count): scene id -> split."""
    ordered = sorted(scene_ids)
    order = np.random.default_rng(seed).permutation(len(ordered))
    n_public = (len(ordered) + 1) // 2
    return {ordered[i]: PUBLIC if rank < n_public else PRIVATE for rank, i in enumerate(order)}


def read_split(path: str | os.PathLike) -> dict[str, str]:
    """Read a split file (.csv or .yaml/.yml): scene id -> "public" | "private"."""
    path = Path(path)
    if not path.is_file():
        raise ScoringError(f"split file {path}: no such file")
    if path.suffix.lower() == ".csv":
        rows = list(csv.DictReader(io.StringIO(_text(path), newline="")))
        if rows and not {"scene_id", "split"} <= set(rows[0]):
            raise ScoringError(f"split file {path}: needs columns scene_id and split")
        pairs = [(row["scene_id"], row["split"]) for row in rows]
    elif path.suffix.lower() in (".yaml", ".yml"):
        data = _yaml(path) or {}
        if not isinstance(data, dict) or not set(data) <= set(SPLITS):
            raise ScoringError(f"split file {path}: expected keys {' and '.join(SPLITS)}")
        for name, ids in data.items():
            if ids is not None and not isinstance(ids, list):
                raise ScoringError(f"split file {path}: {name} must be a list of scene ids")
        pairs = [(str(s), name) for name, ids in data.items() for s in ids or []]
    else:
        raise ScoringError(f"split file {path}: expected a .csv or .yaml file")
    split: dict[str, str] = {}
    for scene_id, name in pairs:
        if name not in SPLITS:
            raise ScoringError(f"split file {path}: scene {scene_id} has unknown split {name!r}")
        if split.setdefault(scene_id, name) != name:
            raise ScoringError(f"split file {path}: scene {scene_id} is in both splits")
    return split


def _text(path: Path) -> str:
    """The UTF-8 text of a split file, or a one-line error naming it."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ScoringError(f"split file {path}: not UTF-8 text (byte offset {exc.start})") from None


def _yaml(path: Path):
    """The parsed YAML of a split file, or a one-line error naming it, its line and column."""
    import yaml

    try:
        return yaml.safe_load(_text(path))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise ScoringError(f"split file {path}: not valid YAML ({where}{problem})") from None


def resolve_split(
    scene_ids: list[str], split_file: str | os.PathLike | None = None
) -> dict[str, str]:
    """The split of `scene_ids`: from `split_file` if given (it must cover exactly those
    scenes), else the default seeded split."""
    if split_file is None:
        return default_split(scene_ids)
    split = read_split(split_file)
    missing = sorted(set(scene_ids) - set(split))
    extra = sorted(set(split) - set(scene_ids))
    if missing or extra:
        raise ScoringError(
            f"split file {split_file}: does not match the reference scenes "
            f"(missing: {', '.join(missing) or 'none'}; unknown: {', '.join(extra) or 'none'})"
        )
    return split


def scenes_of(split: dict[str, str], name: str) -> list[str]:
    """Sorted scene ids of split `name` ("public", "private" or "all")."""
    if name == ALL:
        return sorted(split)
    if name not in SPLITS:
        raise ScoringError(f"unknown split {name!r}; expected public, private or all")
    return sorted(s for s, n in split.items() if n == name)
