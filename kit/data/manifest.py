"""The data manifest: one row per real AI4Arctic challenge scene, built from the dataset's lists.

Source (the `ai4arctic` folder of the shared data, never copied into the repository):
`dataset.json` (512 training raw names), `testset.json` (20 test raw names) and
`scene_prep_bins/<scene>_bins.npy` (per training scene and chart, a 256-long count of pixels per
chart value). A raw name such as

    S1A_EW_GRDM_1SDH_20180124T194759_20180124T194859_020301_022AA4_1F75_icechart_dmi_201801241950_SouthEast_RIC.nc

gives the scene id `20180124T194759_dmi` and the ready-to-train file `20180124T194759_dmi_prep.nc`.

Irregular cases are kept as rows and explained, never dropped:
- two raw names with the same prep name: the later one gets `duplicate_of` = the first raw name;
- a bins file whose scene is in neither list: a row with split `unlisted`;
- a listed scene without a bins file: empty counts and a note (all test scenes: charts withheld);
- one SAR acquisition charted by both services: two scenes, each noting the other.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from kit import charts
from kit.atomic import atomic_path
from kit.data.layouts import detect_layout, discover
from kit.data.safe_pickle import load_pickled_npy
from kit.errors import KitError, reason

MANIFEST_FILE = charts.MANIFEST_FILE
BINS_DIR = "scene_prep_bins"
BINS_SUFFIX = "_bins.npy"
SPLIT_LISTS = {"train": "dataset.json", "test": "testset.json"}
UNLISTED = "unlisted"

RAW_NAME = charts.RAW_NAME_PATTERN
#: Chart part of the raw name: DMI `<YYYYmmddHHMM>_<Region>_RIC`, CIS `<product>_<time>Z_pl_a`.
_DMI_CHART = re.compile(r"^(?P<time>\d{12})_(?P<source>\w+?)_RIC$")
_CIS_CHART = re.compile(r"^(?P<source>[A-Z]+)_(?P<time>\d{8}T\d{4})Z_pl_a$")

CLASS_COUNT_COLUMNS: tuple[str, ...] = tuple(
    f"{chart}_{value}"
    for chart in charts.CHARTS
    for value in (*range(charts.N_CLASSES[chart]), charts.MASK)
)
MANIFEST_COLUMNS: tuple[str, ...] = (
    "scene_id", "prep_file", "raw_file", "split", "ice_service", "platform",
    "acquisition_start", "acquisition_end", "chart_source", "chart_time", "bins_file",
    "n_pixels", *CLASS_COUNT_COLUMNS, "duplicate_of", "notes",
)  # fmt: skip


def default_manifest_path() -> Path:
    """`data_manifest.csv` at the repository root (beside the `kit` package)."""
    return Path(__file__).resolve().parents[2] / MANIFEST_FILE


def default_source() -> Path:
    """The shared `ai4arctic` folder (it may not exist)."""
    return Path(charts.shared_data_dir()) / "ai4arctic"


def _iso(stamp: str) -> str:
    """`20180124T194759` -> `2018-01-24T19:47:59Z`."""
    return pd.Timestamp(stamp).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_raw_name(name: str) -> dict:
    """Fields of a raw-release file name (KitError if it does not follow the pattern)."""
    match = RAW_NAME.match(name)
    if match is None:
        raise KitError(f"{name}: not an AI4Arctic raw file name")
    chart = match["chart"]
    parsed = (_DMI_CHART if match["service"] == "dmi" else _CIS_CHART).match(chart)
    if parsed:
        raw_time = parsed["time"].replace("T", "")
        chart_time = pd.Timestamp(f"{raw_time[:8]}T{raw_time[8:12]}").strftime("%Y-%m-%dT%H:%MZ")
        source = parsed["source"]
    else:  # unexpected chart naming: keep the whole chart part as its source
        chart_time, source = "", chart
    scene_id = f"{match['start']}_{match['service']}"
    return {
        "scene_id": scene_id,
        "prep_file": scene_id + charts.PREP_SUFFIX,
        "raw_file": name,
        "ice_service": match["service"],
        "platform": match["platform"],
        "acquisition_start": _iso(match["start"]),
        "acquisition_end": _iso(match["stop"]),
        "chart_source": source,
        "chart_time": chart_time,
    }


def _read_list(path: Path) -> list[str]:
    try:
        names = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise KitError(f"{path}: missing (is --source the ai4arctic folder?)") from exc
    except json.JSONDecodeError as exc:
        raise KitError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise KitError(f"{path}: expected a JSON list of raw file names")
    return names


def read_bins(path: Path) -> dict[str, np.ndarray]:
    """Per-chart 256-long pixel counts of one `_bins.npy` file (a pickled dict of arrays, read
    without running code: `kit.data.safe_pickle`)."""
    bins = load_pickled_npy(path)
    try:
        bins = bins.item()
        counts = {c: np.asarray(bins[c], dtype=np.int64) for c in charts.CHARTS}
    except Exception as exc:
        raise KitError(f"{path}: not a scene bins file ({reason(exc)})") from None
    if any(v.shape != (256,) for v in counts.values()):
        raise KitError(f"{path}: expected 256 counts per chart")
    return counts


def _count_fields(counts: dict[str, np.ndarray]) -> tuple[dict, list[str]]:
    """Class-count columns and notes on values outside the classes (which would be dropped)."""
    fields, notes = {}, []
    for chart in charts.CHARTS:
        for value in (*range(charts.N_CLASSES[chart]), charts.MASK):
            fields[f"{chart}_{value}"] = int(counts[chart][value])
        known = list(range(charts.N_CLASSES[chart])) + [charts.MASK]
        other = int(counts[chart].sum() - counts[chart][known].sum())
        if other:
            notes.append(f"{other} {chart} pixels with values outside the classes")
    totals = {int(v.sum()) for v in counts.values()}
    fields["n_pixels"] = max(totals)
    if len(totals) > 1:
        notes.append("charts have different pixel totals")
    return fields, notes


def build_manifest(source: str | os.PathLike) -> pd.DataFrame:
    """The manifest table from an `ai4arctic` folder (dataset.json, testset.json, bins)."""
    source = Path(source)
    if not source.is_dir():
        raise KitError(f"{source}: no such folder (expected the ai4arctic data folder)")
    bins_dir = source / BINS_DIR
    bins_files = {p.name[: -len(BINS_SUFFIX)]: p for p in sorted(bins_dir.glob(f"*{BINS_SUFFIX}"))}
    rows, first_raw = [], {}
    for split, list_name in SPLIT_LISTS.items():
        for name in sorted(_read_list(source / list_name)):
            row = {**parse_raw_name(name), "split": split, "duplicate_of": "", "notes": []}
            scene_id = row["scene_id"]
            if scene_id in first_raw:
                row["duplicate_of"] = first_raw[scene_id]
                row["notes"].append("prep name collides with duplicate_of; one prep file for both")
            else:
                first_raw[scene_id] = name
            rows.append(row)
    for scene_id in sorted(set(bins_files) - set(first_raw)):
        _, service, when = _parse_id(scene_id)
        rows.append(
            {
                "scene_id": scene_id, "prep_file": scene_id + charts.PREP_SUFFIX,
                "raw_file": "", "split": UNLISTED, "ice_service": service, "platform": "",
                "acquisition_start": when, "acquisition_end": "", "chart_source": "",
                "chart_time": "", "duplicate_of": "",
                "notes": ["bins file without a raw name in dataset.json or testset.json"],
            }
        )  # fmt: skip
    _note_shared_acquisitions(rows)
    for row in rows:
        path = bins_files.get(row["scene_id"])
        if path is None:
            row["notes"].append(
                "test scene: charts withheld, no bins file"
                if row["split"] == "test"
                else "no bins file"
            )
            row["bins_file"] = ""
            continue
        fields, notes = _count_fields(read_bins(path))
        row.update(fields, bins_file=f"{BINS_DIR}/{path.name}")
        row["notes"].extend(notes)
    for row in rows:
        row["notes"] = "; ".join(row["notes"])
    table = pd.DataFrame(rows).reindex(columns=list(MANIFEST_COLUMNS))
    for column in ("n_pixels", *CLASS_COUNT_COLUMNS):
        table[column] = table[column].astype("Int64")
    order = {"train": 0, "test": 1, UNLISTED: 2}
    table = table.sort_values(
        ["split", "scene_id", "raw_file"], key=lambda s: s.map(order) if s.name == "split" else s
    )
    return table.fillna({"bins_file": ""}).reset_index(drop=True)


def _parse_id(scene_id: str) -> tuple[str, str, str]:
    from kit.data.scene import parse_scene_id

    scene_id, service, when = parse_scene_id(scene_id)
    return scene_id, service, when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _note_shared_acquisitions(rows: list[dict]) -> None:
    """Note scenes whose SAR acquisition was charted by both services (two scene ids)."""
    by_time: dict[str, list[dict]] = {}
    for row in rows:
        if not row["duplicate_of"]:
            by_time.setdefault(row["scene_id"].split("_")[0], []).append(row)
    for group in by_time.values():
        for row in group:
            others = sorted({r["scene_id"] for r in group} - {row["scene_id"]})
            if others:
                row["notes"].append(f"same SAR acquisition as {', '.join(others)}")


def write_manifest(table: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write the manifest CSV atomically (temporary name, then rename)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False, lineterminator="\n")
    return path


def load_manifest(path: str | os.PathLike | None = None) -> pd.DataFrame:
    """Read a manifest CSV (default: the repository's `data_manifest.csv`)."""
    path = Path(path) if path is not None else default_manifest_path()
    if not path.is_file():
        raise KitError(f"{path}: no data manifest (build it with `autoice manifest build`)")
    table = pd.read_csv(path, keep_default_na=False, dtype=str)
    missing = [c for c in ("scene_id", "split") if c not in table.columns]
    if missing:
        raise KitError(f"{path}: not a data manifest (no column {', '.join(missing)})")
    return table


def check_data(root: str | os.PathLike, manifest: pd.DataFrame) -> dict[str, list[str]]:
    """Compare a user's data folder (either layout) with the manifest.

    Returns lists of scene ids: `present`, `missing` (in the manifest's train/test lists, not
    found) and `unexpected` (found, not in the manifest), plus `wrong_split`.
    """
    found = discover(root)
    listed = manifest[manifest.split.isin(SPLIT_LISTS)].drop_duplicates("scene_id")
    expected = dict(zip(listed.scene_id, listed.split))
    known = set(manifest.scene_id)
    found_split = dict(zip(found.scene_id, found.split))
    return {
        "present": sorted(s for s in found_split if s in known),
        "missing": sorted(s for s in expected if s not in found_split),
        "unexpected": sorted(s for s in found_split if s not in known),
        "wrong_split": sorted(
            s for s, split in found_split.items() if s in expected and expected[s] != split
        ),
        "layout": [detect_layout(root)],
    }
