"""Breakdowns: the scores and detailed statistics of each group of scenes (by ice service,
month, season, region or a column of a groups file), with bootstrap intervals."""

from __future__ import annotations

import argparse
import csv
import io
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from kit.charts import (
    CHARTS,
    ICE_EDGE_SIC_CLASS,
    MANIFEST_FILE,
    METRICS,
    N_CLASSES,
    REGION_COLUMN,
    SCENE_ID_PATTERN,
    SEASONS,
    combined_score,
)
from scoring.errors import ScoringError
from scoring.metrics.challenge import (
    ChartCounts,
    ScoreAccumulator,
    chart_score,
    class_scores,
    ratio,
)
from scoring.metrics.formatting import format_score
from scoring.metrics.report import SCORES
from scoring.registry import ScoreStatistic, register_statistic
from scoring.statistics.bootstrap import listing

#: Grouping keys of `breakdown`; "region" is the manifest's chart source region.
GROUP_KEYS: tuple[str, ...] = ("service", "month", "season", "region")


# Breakdowns: scores and detailed statistics per group of scenes
# ------------------------------------------------------------------------------------------


def default_manifest() -> Path:
    """The repository's `data_manifest.csv` (beside the `scoring` package)."""
    return Path(__file__).resolve().parents[2] / MANIFEST_FILE


def scene_groups(
    scenes: Sequence[str],
    key: str,
    *,
    groups_file: str | os.PathLike | None = None,
    manifest: str | os.PathLike | None = None,
) -> dict[str, str]:
    """Scene id -> group label for grouping `key`.

    - "service": "dmi" or "cis", from the scene id's suffix;
    - "month": "01"-"12", and "season": "DJF", "MAM", "JJA" or "SON", from the acquisition
      time the scene id starts with (``20180124T194759_dmi`` is January, DJF);
    - "region": the chart's source region, the `chart_source` column of `manifest` (default
      the repository's `data_manifest.csv`);
    - any other key: the column of that name in `groups_file`, a CSV with a `scene_id`
      column (a `region` column there takes precedence over the manifest).

    Raises ScoringError (one line) for an unknown key, or scenes the source does not cover
    (listed).

    Examples
    --------
    >>> scene_groups(["20180124T194759_dmi", "20190730T101830_cis"], "season")
    {'20180124T194759_dmi': 'DJF', '20190730T101830_cis': 'JJA'}
    >>> scene_groups(["20180124T194759_dmi"], "platform")
    Traceback (most recent call last):
    ...
    scoring.errors.ScoringError: unknown grouping key 'platform'; expected service, month, season or region (or a column of --groups FILE)
    """
    if groups_file is not None:
        table = _read_groups_file(groups_file)
        if key in table:
            return _covered(scenes, table[key], f"groups file {groups_file}", f"column {key}")
    if key in ("service", "month", "season"):
        labels, unknown = {}, []
        for scene in scenes:
            match = SCENE_ID_PATTERN.fullmatch(scene)
            if match is None:
                unknown.append(scene)
                continue
            month = int(match["time"][4:6])
            labels[scene] = {"service": match["service"], "month": f"{month:02d}"}.get(
                key, SEASONS.get(month, "")
            )
        if unknown:
            raise ScoringError(
                f"--by {key}: scene ids not of the form <YYYYmmddTHHMMSS>_<dmi|cis>: "
                f"{listing(unknown)}"
            )
        return labels
    if key == "region":
        path = default_manifest() if manifest is None else Path(manifest)
        return _covered(scenes, _manifest_regions(path), f"manifest {path}", REGION_COLUMN)
    raise ScoringError(
        f"unknown grouping key {key!r}; expected {', '.join(GROUP_KEYS[:-1])} or "
        f"{GROUP_KEYS[-1]} (or a column of --groups FILE)"
    )


def _covered(scenes: Sequence[str], table: Mapping[str, str], source: str, column: str):
    missing = [s for s in scenes if not table.get(s)]
    if missing:
        raise ScoringError(f"{source}: no {column} for {len(missing)} scenes: {listing(missing)}")
    return {s: table[s] for s in scenes}


def _read_groups_file(path: str | os.PathLike) -> dict[str, dict[str, str]]:
    """Column -> scene id -> label of a grouping CSV (`scene_id` plus label columns)."""
    rows, fields = _csv_rows(path, "groups file")
    if "scene_id" not in fields or len(fields) < 2:
        raise ScoringError(
            f"groups file {path}: needs a scene_id column and at least one group column"
        )
    table: dict[str, dict[str, str]] = {name: {} for name in fields if name != "scene_id"}
    for row in rows:
        scene = (row.get("scene_id") or "").strip()
        for name in table:
            if scene in table[name]:
                raise ScoringError(f"groups file {path}: scene {scene} is listed twice")
            table[name][scene] = (row.get(name) or "").strip()
    return table


def _manifest_regions(path: Path) -> dict[str, str]:
    rows, fields = _csv_rows(path, "manifest")
    if "scene_id" not in fields or REGION_COLUMN not in fields:
        raise ScoringError(f"manifest {path}: needs columns scene_id and {REGION_COLUMN}")
    return {row["scene_id"]: (row[REGION_COLUMN] or "").strip() for row in rows}


def _csv_rows(path: str | os.PathLike, what: str) -> tuple[list[dict], list[str]]:
    path = Path(path)
    if not path.is_file():
        raise ScoringError(f"{what} {path}: no such file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ScoringError(f"{what} {path}: not UTF-8 text (byte offset {exc.start})") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise ScoringError(f"{what} {path}: not valid CSV ({exc})") from None
    return rows, [name.strip() for name in reader.fieldnames or []]


def chart_statistics(counts: ChartCounts, chart: str) -> dict:
    """Detailed statistics of one chart's pooled counts (all ratios as fractions, None if 0/0).

    - every chart: the challenge score (percent), pixel count, overall accuracy and per class
      precision, recall, F1, IoU and support (out-of-class and no-prediction pixels are wrong);
    - SOD and FLOE: mean IoU over the classes present in the reference or the prediction;
    - SIC: per reference class the mean absolute error and bias (prediction - reference, in
      classes) over the pixels predicted with a SIC class (`excluded`: those predicted out of
      class or 255), and the ice-edge F1: SIC class 2 (20 %) and above as ice, 0-1 as water,
      the F1 of "ice" (a prediction out of class or 255 is not ice).

    Examples
    --------
    >>> acc = ScoreAccumulator()
    >>> acc.update("20180124T194759_dmi", "SIC", np.array([0, 1, 3, 10]), np.array([0, 2, 2, 10]))
    >>> stats = chart_statistics(acc.counts("SIC"), "SIC")
    >>> stats["ice_edge_f1"], stats["overall_accuracy"]
    (0.8, 0.5)
    >>> stats["classes"][2]["mae"], stats["classes"][2]["bias"]
    (1.0, 0.0)
    """
    confusion = counts.confusion
    n = N_CLASSES[chart]
    tp = np.diag(confusion[:, :n])
    support = confusion.sum(axis=1)
    total = int(support.sum())
    classes = [
        {**asdict(score), "iou": ratio(tp[k], score.support + score.predicted - tp[k])}
        for k, score in enumerate(class_scores(confusion, chart))
    ]
    stats = {
        "score": 100.0 * chart_score(counts, chart),
        "n_pixels": total,
        "overall_accuracy": ratio(tp.sum(), total),
    }
    if METRICS[chart] == "f1":
        ious = [c["iou"] for c in classes if c["iou"] is not None]
        stats["mean_iou"] = float(np.mean(ious)) if ious else None
    else:
        values = np.arange(n)
        for k, entry in enumerate(classes):
            scored = confusion[k, :n]
            pixels = int(scored.sum())
            errors = values - k
            entry["mae"] = ratio(int((scored * np.abs(errors)).sum()), pixels)
            entry["bias"] = ratio(int((scored * errors).sum()), pixels)
            entry["excluded"] = int(confusion[k, n:].sum())
        ice = slice(ICE_EDGE_SIC_CLASS, n)
        ice_tp = int(confusion[ice, ice].sum())
        ice_ref = int(support[ice].sum())
        ice_pred = int(confusion[:, ice].sum())
        stats["ice_edge_f1"] = ratio(2 * ice_tp, ice_ref + ice_pred)
    stats["classes"] = classes
    return stats


def breakdown(
    accumulator: ScoreAccumulator,
    scenes: Sequence[str],
    key: str,
    *,
    groups_file: str | os.PathLike | None = None,
    manifest: str | os.PathLike | None = None,
) -> dict[str, dict]:
    """Scores and statistics per group of `scenes` (`scene_groups`).

    Parameters
    ----------
    accumulator : ScoreAccumulator
        Holds a confusion matrix per scene and chart.
    scenes : sequence of str
        The scenes to group.
    key : str
        "service", "month", "season", "region", or a column of `groups_file`.
    groups_file, manifest : str or os.PathLike, optional
        Where group labels come from (see `scene_groups`).

    Returns
    -------
    dict
        Group label -> ``{"scenes": [...], "n_scenes", "combined", "charts": {chart:
        chart_statistics}}``, groups in sorted order; scores in percent.

    Raises
    ------
    ScoringError
        For an unknown key or scenes the source does not cover (from `scene_groups`).

    Examples
    --------
    >>> acc = ScoreAccumulator()
    >>> for scene, wrong in (("20180124T194759_dmi", 0), ("20180730T101830_cis", 1)):
    ...     for chart in CHARTS:
    ...         acc.update(scene, chart, np.array([0, 1, 1, wrong]), np.array([0, 1, 1, 0]))
    >>> groups = breakdown(acc, acc.scenes, "service")
    >>> list(groups), groups["dmi"]["combined"], groups["cis"]["charts"]["SOD"]["n_pixels"]
    (['cis', 'dmi'], 100.0, 4)
    """
    labels = scene_groups(scenes, key, groups_file=groups_file, manifest=manifest)
    result = {}
    for label in sorted(set(labels.values())):
        members = [s for s in scenes if labels[s] == label]
        charts = {c: chart_statistics(accumulator.counts(c, members), c) for c in CHARTS}
        scores = {c: charts[c]["score"] for c in CHARTS}
        combined = combined_score({c: np.float64(v) for c, v in scores.items()})
        result[label] = {
            "scenes": members,
            "n_scenes": len(members),
            "combined": float(combined),
            "charts": charts,
        }
    return result


def _nan(value) -> float:
    return math.nan if value is None else value


# The ``breakdowns`` score statistic (`scoring.registry`)
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BreakdownRequest:
    """What ``breakdowns`` is asked for: the grouping keys, and where labels come from.

    Parameters
    ----------
    keys : tuple of str
        Grouping keys (`GROUP_KEYS` or columns of `groups_file`), in the order asked.
    groups_file : str or os.PathLike, optional
        A CSV with a ``scene_id`` column and group columns.
    """

    keys: tuple[str, ...]
    groups_file: str | os.PathLike | None = None


def check_breakdowns(scenes: Sequence[str], request: BreakdownRequest) -> None:
    """Raise `ScoringError` for a key or groups file that cannot label every scene (before
    any statistic is computed).

    Examples
    --------
    >>> check_breakdowns(["20180124T194759_dmi"], BreakdownRequest(("platform",)))
    Traceback (most recent call last):
    ...
    scoring.errors.ScoringError: unknown grouping key 'platform'; expected service, month, season or region (or a column of --groups FILE)
    """  # noqa: E501
    for key in request.keys:
        scene_groups(scenes, key, groups_file=request.groups_file)


def score_breakdowns(
    accumulator: ScoreAccumulator, scenes: Sequence[str], request: BreakdownRequest
) -> dict[str, dict]:
    """The ``breakdowns`` statistic: grouping key -> `breakdown` of `scenes` by that key.

    Examples
    --------
    >>> acc = ScoreAccumulator()
    >>> for scene in ("20180124T194759_dmi", "20180730T101830_cis"):
    ...     for chart in CHARTS:
    ...         acc.update(scene, chart, np.array([0, 1]), np.array([0, 1]))
    >>> list(score_breakdowns(acc, acc.scenes, BreakdownRequest(("service",)))["service"])
    ['cis', 'dmi']
    """
    return {
        key: breakdown(accumulator, scenes, key, groups_file=request.groups_file)
        for key in request.keys
    }


def breakdown_table(key: str, groups: Mapping[str, dict]) -> str:
    """A breakdown as text: one row per group with scenes, pixels and scores."""
    head = f"{'by ' + key:<14}{'scenes':>7}{'SIC pixels':>12}" + "".join(f"{c:>10}" for c in SCORES)
    lines = [head]
    for label, group in groups.items():
        pixels = group["charts"]["SIC"]["n_pixels"]
        scores = [group["charts"][c]["score"] for c in CHARTS] + [group["combined"]]
        lines.append(
            f"{label:<14}{group['n_scenes']:>7}{pixels:>12}"
            + "".join(f"{format_score(s):>10}" for s in scores)
        )
    return "\n".join(lines)


def breakdowns_table(breakdowns: Mapping[str, Mapping[str, dict]]) -> str:
    """Every breakdown as text (`breakdown_table`), one block per grouping key."""
    return "\n\n".join(breakdown_table(key, groups) for key, groups in breakdowns.items())


def _add_breakdown_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--by", action="append", default=[], metavar="KEY",
        help="scores and statistics per group: service, month, season, region, or a column "
        "of --groups (repeat or separate with commas)",
    )  # fmt: skip
    parser.add_argument(
        "--groups", metavar="FILE",
        help="CSV with a scene_id column and group columns (e.g. region) for --by",
    )  # fmt: skip


def breakdown_request(args: argparse.Namespace) -> BreakdownRequest | None:
    """The request that ``--by`` (repeated or comma-separated) and ``--groups`` make; None
    without ``--by``.

    Examples
    --------
    >>> breakdown_request(argparse.Namespace(by=["service,season", "month"], groups=None))
    BreakdownRequest(keys=('service', 'season', 'month'), groups_file=None)
    """
    keys = tuple(key.strip() for value in args.by for key in value.split(",") if key.strip())
    return BreakdownRequest(keys, args.groups) if keys else None


#: Scores and statistics per group of scenes, one table per grouping key.
BREAKDOWNS = register_statistic(
    ScoreStatistic(
        name="breakdowns",
        summary="scores and statistics per group of scenes",
        options="--by",
        compute=score_breakdowns,
        check=check_breakdowns,
        table=breakdowns_table,
        add_arguments=_add_breakdown_arguments,
        from_args=breakdown_request,
    )
)
