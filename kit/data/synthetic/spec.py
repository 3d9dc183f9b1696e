"""What names and places one synthetic scene (`SceneSpec`), the generated scene
(`SyntheticScene`), the seasons and the chart regions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import xarray as xr

# ---------------------------------------------------------------------------------------------
# Season and place
# ---------------------------------------------------------------------------------------------

WINTER, MELT, MINIMUM, FREEZE_UP = "winter", "melt", "minimum", "freeze-up"
_SEASON_OF_MONTH = {
    1: WINTER, 2: WINTER, 3: WINTER, 4: WINTER, 5: WINTER, 6: MELT, 7: MELT,
    8: MINIMUM, 9: MINIMUM, 10: FREEZE_UP, 11: FREEZE_UP, 12: WINTER,
}  # fmt: skip


#: Scene centres per ice service and chart region (lat, lon), for plausible names and lat/lon.
REGIONS: dict[str, dict[str, tuple[float, float]]] = {
    "dmi": {
        "CapeFarewell": (59.8, -44.0), "SouthEast": (63.5, -39.5), "CentralEast": (68.5, -28.0),
        "NorthEast": (76.0, -16.0), "North": (81.5, -25.0), "Qaanaaq": (77.0, -70.0),
        "NorthWest": (73.5, -58.0), "CentralWest": (68.5, -55.0), "SouthWest": (63.0, -51.5),
        "NorthAndCentralEast": (72.0, -20.0),
    },
    "cis": {
        "SGRDIEA": (72.5, -68.0), "SGRDIWA": (72.0, -135.0), "SGRDIHA": (60.0, -85.0),
        "SGRDIFOXE": (67.0, -79.0), "SGRDINFLD": (50.5, -53.0), "SGRDIMID": (71.0, -100.0),
    },
}  # fmt: skip


@dataclass(frozen=True)
class SceneSpec:
    """Everything that names and places one synthetic scene; the pixels follow from `seed`."""

    scene_id: str
    original_id: str
    ice_service: str
    region: str
    acquisition: datetime
    latitude: float
    longitude: float
    heading: float  # degrees, azimuth of the line direction
    seed: int
    shape: tuple[int, int]
    #: Pixel share of each class per chart (SIC 0-10, SOD 0-5, FLOE 0-6; MASK left out) of the
    #: real training scene `source_scene` (data_manifest.csv) that the egg codes follow.
    class_shares: dict[str, tuple[float, ...]]
    source_scene: str = ""

    @property
    def season(self) -> str:
        return _SEASON_OF_MONTH[self.acquisition.month]


@dataclass
class SyntheticScene:
    """A generated scene: inputs, charts, and the raw polygon chart behind them."""

    inputs: xr.Dataset  # the 24 variables (physical units, NaN = no data) + lat/lon, attributes
    charts: xr.Dataset  # SIC, SOD, FLOE (uint8, MASK = 255)
    polygon_icechart: np.ndarray  # polygon id per pixel
    polygon_codes: list[str]  # header + one egg-code row per polygon
