"""Scene planning: each synthetic scene named and placed from a real training scene of
`data_manifest.csv` (`plan_scenes`)."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from kit import charts
from kit.data.manifest import load_manifest
from kit.data.synthetic.config import FIRST_YEAR, GENERATOR_VERSION, SynthConfig
from kit.data.synthetic.spec import REGIONS, SceneSpec
from kit.errors import KitError

# ---------------------------------------------------------------------------------------------
# Scene names
# ---------------------------------------------------------------------------------------------


def _orbit(platform: str, when: datetime) -> int:
    """Approximate absolute orbit number (175 orbits per 12-day cycle since launch)."""
    launch = datetime(2014, 4, 3) if platform == "S1A" else datetime(2016, 4, 25)
    return int((when - launch).total_seconds() / 86400.0 * 175 / 12)


def _original_id(
    rng: np.random.Generator, service: str, region: str, start: datetime
) -> tuple[str, str]:
    """(raw file name, platform) in the style of the AI4Arctic raw release."""
    platform = "S1A" if rng.random() < 0.5 else "S1B"
    stop = start + timedelta(seconds=int(rng.integers(40, 62)))
    fmt = "%Y%m%dT%H%M%S"
    orbit = _orbit(platform, start)
    datatake = int(rng.integers(0x010000, 0x04FFFF))
    crc = int(rng.integers(0, 0xFFFF))
    chart_time = start + timedelta(minutes=int(rng.integers(-40, 40)))
    if service == "dmi":
        chart = f"dmi_{chart_time:%Y%m%d%H%M}_{region}_RIC"
    else:
        chart = f"cis_{region}_{chart_time:%Y%m%dT%H%M}Z_pl_a"
    name = (
        f"{platform}_EW_GRDM_1SDH_{start.strftime(fmt)}_{stop.strftime(fmt)}_"
        f"{orbit:06d}_{datatake:06X}_{crc:04X}_icechart_{chart}.nc"
    )
    return name, platform


@functools.cache
def source_scenes() -> pd.DataFrame:
    """The real training scenes with class counts (data_manifest.csv), one row each: scene_id,
    ice_service, month, chart_source and the pixel share of every class per chart."""
    table = load_manifest()
    table = table[(table.split == "train") & (table.duplicate_of == "") & (table.SIC_0 != "")]
    out = table[["scene_id", "ice_service", "chart_source"]].reset_index(drop=True)
    out["month"] = table.acquisition_start.str[5:7].astype(int).to_numpy()
    for chart in charts.CHARTS:
        columns = [f"{chart}_{k}" for k in range(charts.N_CLASSES[chart])]
        counts = table[columns].astype(float).to_numpy()
        shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
        out[columns] = shares
    if out.empty:
        raise KitError("data_manifest.csv: no training scene with class counts to plan from")
    return out


def _shares(row: pd.Series) -> dict[str, tuple[float, ...]]:
    return {
        c: tuple(float(row[f"{c}_{k}"]) for k in range(charts.N_CLASSES[c])) for c in charts.CHARTS
    }


def _start_in_month(rng: np.random.Generator, month: int) -> datetime:
    """A random second of `month` in one of the four years from FIRST_YEAR."""
    first = datetime(FIRST_YEAR + int(rng.integers(0, 4)), month, 1)
    following = datetime(first.year + month // 12, month % 12 + 1, 1)
    return first + timedelta(seconds=int(rng.integers(0, (following - first).total_seconds())))


def plan_scenes(config: SynthConfig) -> list[tuple[str, SceneSpec]]:
    """(split, spec) for every scene: each drawn from a real training scene (its month, service,
    region and class shares), with a unique plausible name, place and seed per (seed, index)."""
    sources = source_scenes()
    plans, used = [], set()
    splits = ["train"] * config.n_train + ["test"] * config.n_test
    for index, split in enumerate(splits):
        rng = np.random.default_rng([config.seed, index, GENERATOR_VERSION])
        row = sources.iloc[int(rng.integers(len(sources)))]
        service = str(row.ice_service)
        while True:
            start = _start_in_month(rng, int(row.month))
            scene_id = f"{start:%Y%m%dT%H%M%S}_{service}"
            if scene_id not in used:
                used.add(scene_id)
                break
        region = str(row.chart_source)
        if region not in REGIONS[service]:
            region = str(rng.choice(sorted(REGIONS[service])))
        lat, lon = REGIONS[service][region]
        original_id, _ = _original_id(rng, service, region, start)
        spec = SceneSpec(
            scene_id=scene_id,
            original_id=original_id,
            ice_service=service,
            region=region,
            acquisition=start,
            latitude=float(np.clip(lat + rng.normal(0, 1.0), 45.0, 84.0)),
            longitude=float(lon + rng.normal(0, 2.0)),
            heading=float(rng.choice([-1, 1]) * rng.uniform(150, 200)),
            seed=int(np.random.SeedSequence([config.seed, index]).generate_state(1)[0]),
            shape=(int(config.size[0]), int(config.size[1])),
            class_shares=_shares(row),
            source_scene=str(row.scene_id),
        )
        plans.append((split, spec))
    return plans


# ---------------------------------------------------------------------------------------------
