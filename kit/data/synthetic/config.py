"""What to generate (`SynthConfig`), the demo configurations and the limits of a set."""

from __future__ import annotations

from dataclasses import dataclass

from kit.config import check_seed
from kit.data.synthetic import formats
from kit.errors import KitError

#: Bump when the generator changes so cached demo sets are regenerated.
GENERATOR_VERSION = 4
METADATA_FILE = "metadata.csv"
CACHE_ENV = "AUTOICE_CACHE"
#: TorchGeo's columns first (`input_path, reference_path, date, ice_service, split, region_id`),
#: then the kit's own.
METADATA_COLUMNS = (
    "input_path", "reference_path", "date", "ice_service", "split", "region_id",
    "scene_id", "original_id", "acquisition", "latitude", "longitude", "height", "width",
    "convention",
)  # fmt: skip
#: Folder of the extra raw-release copies written with `raw=True`.
RAW_FOLDER = "raw"
#: Acquisition times are drawn to the second within the source scene's month over four years
#: from FIRST_YEAR (about 4 x 365 x 86400 ids per service in all).
ACQUISITION_SECONDS = 4 * 365 * 86400
FIRST_YEAR = 2018
#: Most scenes in a set: half the distinct scene ids (2 services x ACQUISITION_SECONDS), so that
#: drawing a new unique id takes two tries at most on average and never loops for ever.
MAX_SCENES = ACQUISITION_SECONDS
#: Peak memory of generating and writing one scene, per SAR pixel: measured 101 to 116 bytes
#: (standard, raw, with raw copies), so 100 is a lower bound.
SCENE_MEMORY_PER_PIXEL = 100
#: Disk of one scene per SAR pixel: its two float32 SAR variables are stored uncompressed, so
#: 8 bytes is a lower bound (measured 10 to 46 bytes).
SCENE_DISK_PER_PIXEL = 8


@dataclass(frozen=True)
class SynthConfig:
    """What to generate: scene counts, SAR grid size (lines, samples), seed, the file
    convention (`standard` ready-to-train by default, `minmax`, `physical` or `raw`), and
    whether to also write raw-release copies into `raw/`."""

    n_train: int = 24
    n_test: int = 20
    size: tuple[int, int] = (1000, 1000)
    seed: int = 0
    raw: bool = False
    convention: str = "standard"

    def __post_init__(self) -> None:
        if self.convention not in formats.WRITE_CONVENTIONS:
            raise KitError(
                f"--convention {self.convention}: unknown; allowed: "
                f"{', '.join(formats.WRITE_CONVENTIONS)}"
            )
        if self.n_train < 0 or self.n_test < 0 or self.n_train + self.n_test == 0:
            raise KitError(
                f"--train {self.n_train} --test {self.n_test}: need at least one scene, "
                "and no negative count"
            )
        if self.n_train + self.n_test > MAX_SCENES:
            raise KitError(
                f"--train {self.n_train} --test {self.n_test}: at most {MAX_SCENES} scenes "
                "(distinct synthetic scene ids)"
            )
        if min(self.size) < 50:
            raise KitError(f"--size {self.size[0]} {self.size[1]}: scenes need >= 50 pixels a side")
        check_seed(f"--seed {self.seed}:", self.seed)


#: The demo set (notebooks, `autoice demo`) and a small quick one (tests, smoke runs).
DEMO_CONFIG = SynthConfig()
QUICK_CONFIG = SynthConfig(n_train=6, n_test=2, size=(400, 400))
