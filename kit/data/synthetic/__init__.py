"""Synthetic AutoICE dataset in the real ready-to-train format (TorchGeo / Hugging Face layout).

`write_dataset(out, SynthConfig(...))` writes

    out/metadata.csv                        one row per scene (TorchGeo's columns, then ours)
    out/train/<scene>_prep.nc               24 inputs + lat/lon + SIC/SOD/FLOE (29 variables)
    out/test/<scene>_prep.nc                24 inputs + lat/lon, no charts
    out/test/<scene>_prep_reference.nc      SIC/SOD/FLOE only (scoring; never read as input)
    out/raw/<original raw name>.nc          with raw=True: raw-release copies (40 m, polygons)

The inputs are written in `config.convention` (`kit.data.synthetic.formats`): ready-to-train `standard` by
default (z-scores, 0 = no data, exactly like the real release), `minmax`, `physical`, or `raw`
(the raw-release layout, named by the original raw file name, in `train/` and `test/`).

Scenes are independent and each is determined by (seed, index), so a set is reproducible
file for file. Each scene is planned from a real training scene of `data_manifest.csv`: its
month, ice service and chart region, and its per-scene class shares, which drive the egg codes
(so old ice, new ice and open water follow the real calendar and regions, and the month and
lat/lon inputs carry information as on the real data). `demo_dataset()` generates the default demo set once into a cache folder and
reuses it. The physics of a scene lives in `kit.data.synthetic.scene`.

The package, one module per job (their public names import from `kit.data.synthetic` too):

- `kit.data.synthetic.config`: what to generate (`SynthConfig`, `DEMO_CONFIG`) and the limits;
- `kit.data.synthetic.plan`: each scene named and placed from a real training scene (`plan_scenes`);
- `kit.data.synthetic.spec`: a scene's spec and result (`SceneSpec`, `SyntheticScene`, `REGIONS`);
- `kit.data.synthetic.polygons`: random fields, land and the Voronoi chart polygons;
- `kit.data.synthetic.eggs`: the polygons' SIGRID-3 egg codes;
- `kit.data.synthetic.sar`: the true surface and the SAR image;
- `kit.data.synthetic.coarse`: AMSR2, ERA5 and geolocation;
- `kit.data.synthetic.scene`: one whole scene (`generate_scene`);
- `kit.data.synthetic.formats`: a scene laid out in each published file convention;
- `kit.data.synthetic.writer`: writing a set with worker processes (`write_dataset`);
- `kit.data.synthetic.demo`: the cached demo set (`demo_dataset`).
"""

from kit.data.synthetic import formats
from kit.data.synthetic.coarse import geolocation, grid_2km_shape, make_amsr2, make_era5
from kit.data.synthetic.config import (
    ACQUISITION_SECONDS,
    CACHE_ENV,
    DEMO_CONFIG,
    FIRST_YEAR,
    GENERATOR_VERSION,
    MAX_SCENES,
    METADATA_COLUMNS,
    METADATA_FILE,
    QUICK_CONFIG,
    RAW_FOLDER,
    SCENE_DISK_PER_PIXEL,
    SCENE_MEMORY_PER_PIXEL,
    SynthConfig,
)
from kit.data.synthetic.demo import (
    cache_dir,
    config_summary,
    dataset_key,
    demo_dataset,
    ensure_dataset,
    is_complete,
)
from kit.data.synthetic.eggs import EggCodes, make_egg_codes, polygon_code_rows
from kit.data.synthetic.plan import plan_scenes, source_scenes
from kit.data.synthetic.polygons import make_land, make_polygons, resize, smooth_noise
from kit.data.synthetic.sar import Surface, incidence_angle, make_sar, make_surface, swath_footprint
from kit.data.synthetic.scene import generate_scene
from kit.data.synthetic.spec import (
    FREEZE_UP,
    MELT,
    MINIMUM,
    REGIONS,
    WINTER,
    SceneSpec,
    SyntheticScene,
)
from kit.data.synthetic.writer import check_fits, write_dataset, write_netcdf_atomic

__all__ = [
    "ACQUISITION_SECONDS",
    "CACHE_ENV",
    "DEMO_CONFIG",
    "EggCodes",
    "FIRST_YEAR",
    "FREEZE_UP",
    "GENERATOR_VERSION",
    "MAX_SCENES",
    "MELT",
    "METADATA_COLUMNS",
    "METADATA_FILE",
    "MINIMUM",
    "QUICK_CONFIG",
    "RAW_FOLDER",
    "REGIONS",
    "SCENE_DISK_PER_PIXEL",
    "SCENE_MEMORY_PER_PIXEL",
    "SceneSpec",
    "Surface",
    "SynthConfig",
    "SyntheticScene",
    "WINTER",
    "cache_dir",
    "check_fits",
    "config_summary",
    "dataset_key",
    "demo_dataset",
    "ensure_dataset",
    "formats",
    "generate_scene",
    "geolocation",
    "grid_2km_shape",
    "incidence_angle",
    "is_complete",
    "make_amsr2",
    "make_egg_codes",
    "make_era5",
    "make_land",
    "make_polygons",
    "make_sar",
    "make_surface",
    "plan_scenes",
    "polygon_code_rows",
    "resize",
    "smooth_noise",
    "source_scenes",
    "swath_footprint",
    "write_dataset",
    "write_netcdf_atomic",
]
