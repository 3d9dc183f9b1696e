"""AutoICE conventions as data: charts, classes, fill values, metrics, egg-code lookups, variables.

This module is the single source of truth for every constant of the challenge. It imports nothing
heavy so that the scorer (which must run without torch) and the command line can use it cheaply.
"""

from __future__ import annotations

import re

# --------------------------------------------------------------------------------------------
# Charts, classes and the mask
# --------------------------------------------------------------------------------------------

CHARTS: tuple[str, ...] = ("SIC", "SOD", "FLOE")

#: Chart value meaning "no label" (land, no data, ambiguous polygon). Also the submission's
#: "no prediction" value.
MASK = 255

#: Class names per chart, index = class value.
CLASS_NAMES: dict[str, tuple[str, ...]] = {
    "SIC": tuple(f"{10 * i}%" for i in range(11)),
    "SOD": ("Open water", "New ice", "Young ice", "Thin first-year", "Thick first-year", "Old ice"),
    "FLOE": (
        "Open water",
        "Cake ice",
        "Small floe",
        "Medium floe",
        "Big floe",
        "Vast floe",
        "Bergs",
    ),
}

N_CLASSES: dict[str, int] = {chart: len(names) for chart, names in CLASS_NAMES.items()}

#: SIC class of 100 % (tenths): a SIC fraction in [0, 1] times this is the class value.
SIC_TENTHS = 10

#: Metric per chart: R2 on class values for SIC, support-weighted F1 for SOD and FLOE.
METRICS: dict[str, str] = {"SIC": "r2", "SOD": "f1", "FLOE": "f1"}

#: How each metric is named in tables and figure titles.
METRIC_NAMES: dict[str, str] = {"r2": "R²", "f1": "F1"}

#: Weights of the combined score: (2*SIC + 2*SOD + 1*FLOE) / 5.
CHART_WEIGHTS: dict[str, float] = {"SIC": 2.0, "SOD": 2.0, "FLOE": 1.0}

#: Scores are reported in percent, and also rounded to this many decimals as the challenge did.
SCORE_DECIMALS = 3


def combined_score(chart_scores: dict[str, float]) -> float:
    """Weighted mean of the per-chart scores with the challenge weights."""
    total = sum(CHART_WEIGHTS.values())
    return sum(CHART_WEIGHTS[c] * chart_scores[c] for c in CHARTS) / total


# --------------------------------------------------------------------------------------------
# Scene variables (ready-to-train netCDF)
# --------------------------------------------------------------------------------------------

#: Dimensions of the 80 m SAR grid and of the 2 km AMSR2/ERA5 grid.
SAR_DIMS: tuple[str, str] = ("sar_lines", "sar_samples")
GRID_2KM_DIMS: tuple[str, str] = ("2km_grid_lines", "2km_grid_samples")
#: Dimensions of the 21 x 21 geolocation tie-point grid, in the kit's (line, sample) order. The
#: real ready-to-train files store lat/lon as (sample, line): readers orient them by name.
GEO_GRID_DIMS: tuple[str, str] = ("sar_line_2dgrid_points", "sar_sample_2dgrid_points")
#: The dim order of `sar_grid2d_latitude` / `_longitude` in the real ready-to-train files.
GEO_GRID_FILE_DIMS: tuple[str, str] = GEO_GRID_DIMS[::-1]
#: Tie points per side of the geolocation grid in the real files (smaller scenes: fewer).
GEO_GRID_POINTS = 21
LATITUDE = "sar_grid2d_latitude"
LONGITUDE = "sar_grid2d_longitude"
#: Tie-point positions (line and sample index on the 80 m grid). The real ready-to-train files
#: have none (tie points then span the scene evenly); files of older kit versions do.
GEO_LINE = "sar_grid2d_line"
GEO_SAMPLE = "sar_grid2d_sample"

#: Pixel spacing of the ready-to-train SAR grid (m), and SAR pixels per 2 km cell side. The
#: 2 km grid has floor(n / 25) cells in the real files; readers accept floor or round.
PIXEL_SPACING_M = 80
PIXELS_PER_2KM = 25

SAR_VARIABLES: tuple[str, ...] = ("nersc_sar_primary", "nersc_sar_secondary")
GEO_VARIABLES: tuple[str, ...] = ("sar_incidenceangle", "distance_map")
AMSR2_VARIABLES: tuple[str, ...] = tuple(
    f"btemp_{freq}{pol}"
    for freq in ("6_9", "7_3", "10_7", "18_7", "23_8", "36_5", "89_0")
    for pol in ("h", "v")
)
ERA5_VARIABLES: tuple[str, ...] = (
    "u10m_rotated",
    "v10m_rotated",
    "t2m",
    "skt",
    "tcwv",
    "tclw",
)
#: The 24 input variables of a scene, grouped as in the challenge.
VARIABLE_GROUPS: dict[str, tuple[str, ...]] = {
    "sar": SAR_VARIABLES,
    "geo": GEO_VARIABLES,
    "amsr2": AMSR2_VARIABLES,
    "era5": ERA5_VARIABLES,
}
SCENE_VARIABLES: tuple[str, ...] = SAR_VARIABLES + GEO_VARIABLES + AMSR2_VARIABLES + ERA5_VARIABLES
#: Variables on the 80 m grid and on the 2 km grid.
FULL_GRID_VARIABLES: tuple[str, ...] = SAR_VARIABLES + GEO_VARIABLES
COARSE_GRID_VARIABLES: tuple[str, ...] = AMSR2_VARIABLES + ERA5_VARIABLES
#: Derived spatial-temporal channels a loader can add (MMSeaIce).
AUX_VARIABLES: tuple[str, ...] = ("aux_time", "aux_lat", "aux_lon")
#: Other names configs may use for a variable (MMSeaIce's configs say `aux_long`).
VARIABLE_ALIASES: dict[str, str] = {"aux_long": "aux_lon"}

#: Physical units of each variable (raw release, `physical` convention). `distance_map` is an
#: index: a nonlinear translation of the distance to land into classes, 0 = land (see
#: `DISTANCE_INDEX_EDGES_KM`); files of older kit versions stored kilometres (units "km").
UNITS: dict[str, str] = {
    "nersc_sar_primary": "dB",
    "nersc_sar_secondary": "dB",
    "sar_incidenceangle": "degree",
    "distance_map": "index",
    **{v: "K" for v in AMSR2_VARIABLES},
    "u10m_rotated": "m s-1",
    "v10m_rotated": "m s-1",
    "t2m": "K",
    "skt": "K",
    "tcwv": "kg m-2",
    "tclw": "kg m-2",
}

# --------------------------------------------------------------------------------------------
# Input scaling conventions: how a file encodes its input values (see kit.data.conventions)
# --------------------------------------------------------------------------------------------

#: `standard`: ready-to-train release, z-scores with `GLOBAL_MEAN_STD`, 0 = no data;
#: `minmax`: [-1, 1] with `GLOBAL_MIN_MAX`, 2 = no data (MMSeaIce's description);
#: `physical`: physical units (`UNITS`), NaN = no data (raw release, older kit files).
INPUT_SCALINGS: tuple[str, ...] = ("standard", "minmax", "physical")
#: The no-data value of the inputs under each convention.
NO_DATA_VALUE: dict[str, float] = {"standard": 0.0, "minmax": 2.0, "physical": float("nan")}
#: Units shown for pre-scaled values.
SCALED_UNITS: dict[str, str] = {"standard": "z-score", "minmax": "scaled [-1, 1]"}
#: Attribute of the SAR and incidence-angle variables holding their no-data value, and of the
#: charts holding MASK (read by the official starter kit's notebooks).
VARIABLE_FILL_ATTRIBUTE = "variable_fill_value"
CHART_FILL_ATTRIBUTE = "chart_fill_value"
#: Variables that carry `variable_fill_value` in the ready-to-train files.
FILL_VALUE_VARIABLES: tuple[str, ...] = (
    "nersc_sar_primary",
    "nersc_sar_secondary",
    "sar_incidenceangle",
)

#: Loaders replace no data by the normalised mean (0) and the charts are MASK there.
NORMALISED_FILL_VALUE = 0.0

#: Upper bounds (km) of the distance-to-land index classes 1..41 (0 = land); beyond the last
#: bound the index is 41. The real translation is not published; this stand-in matches its
#: published range (0-41, `GLOBAL_MIN_MAX`): 0.5 km steps to 10 km, then 2.5 km steps.
DISTANCE_INDEX_EDGES_KM: tuple[float, ...] = tuple(
    [0.5 * k for k in range(1, 21)] + [10.0 + 2.5 * k for k in range(1, 21)]
)

#: Global attributes of a ready-to-train file (`scene_id` includes the `_prep.nc` suffix).
SCENE_ATTRIBUTES: tuple[str, ...] = (
    "scene_id", "original_id", "ice_service", "flip", "pixel_spacing",
)  # fmt: skip
#: The 29 variables of a real ready-to-train training file (test inputs: without the charts).
READY_TO_TRAIN_VARIABLES: tuple[str, ...] = (
    CHARTS
    + (LATITUDE, LONGITUDE)
    + tuple(["nersc_sar_primary", "nersc_sar_secondary", "sar_incidenceangle", "distance_map"])
    + AMSR2_VARIABLES
    + ERA5_VARIABLES
)

# --------------------------------------------------------------------------------------------
# The raw release (40 m; AMSR2/ERA5 every 50 pixels; polygon charts; flat tie-point list)
# --------------------------------------------------------------------------------------------

RAW_PIXEL_SPACING_M = 40
RAW_PIXELS_PER_2KM = 50
RAW_GEO_POINTS_DIM = "sar_grid_points"
RAW_LATITUDE = "sar_grid_latitude"
RAW_LONGITUDE = "sar_grid_longitude"
RAW_GEO_LINE = "sar_grid_line"
RAW_GEO_SAMPLE = "sar_grid_sample"

ICE_SERVICES: tuple[str, ...] = ("cis", "dmi")

#: Ready-to-train file names: `<YYYYmmddTHHMMSS>_<service>_prep.nc`, test charts in
#: `<scene>_prep_reference.nc` (TorchGeo / Hugging Face layout).
SCENE_ID_PATTERN = re.compile(r"(?P<time>\d{8}T\d{6})_(?P<service>cis|dmi)")
#: Meteorological seasons of the acquisition month (1-12), named by their months.
SEASONS: dict[int, str] = {
    **dict.fromkeys((12, 1, 2), "DJF"),
    **dict.fromkeys((3, 4, 5), "MAM"),
    **dict.fromkeys((6, 7, 8), "JJA"),
    **dict.fromkeys((9, 10, 11), "SON"),
}
#: The repository's list of real scenes (at its root), and its column naming the ice chart's
#: source region (DMI region, CIS regional product).
MANIFEST_FILE = "data_manifest.csv"
REGION_COLUMN = "chart_source"
#: The ice edge: SIC classes from this one up (20 %: above 15 % concentration) are ice.
ICE_EDGE_SIC_CLASS = 2
PREP_SUFFIX = "_prep.nc"
REFERENCE_SUFFIX = "_prep_reference.nc"

#: The one rule of which folders hold a dataset's test scenes, used by `kit.data.discover` and
#: the scorer alike: a folder named `test` (TorchGeo / Hugging Face mirror, DTU copies) or
#: `test_data` (DTU release, the folder the starter kit's `test_upload` reads), in any case.
#: The scorer prefers them in this order.
TEST_FOLDERS: tuple[str, ...] = ("test", "test_data")


def is_test_folder(name: str) -> bool:
    """Whether a folder of this name holds test scenes (`TEST_FOLDERS`, any case).

    Parameters
    ----------
    name : str
        The folder's own name (not a path).

    Returns
    -------
    bool
        True for `test` and `test_data` in any case; False for other names, even those that
        merely contain "test" (`latest`, `tests_old`).

    Examples
    --------
    >>> [is_test_folder(n) for n in ("test", "Test_Data", "train", "latest", "tests")]
    [True, True, False, False, False]
    """
    return name.lower() in TEST_FOLDERS


#: Raw-release file names, e.g. `S1A_EW_GRDM_1SDH_20190430T101830_20190430T101930_027018_030AD3_9C47_
#: icechart_cis_SGRDIEA_20190430T1020Z_pl_a.nc`; the ready-to-train name is `<start>_<service>_prep.nc`.
RAW_NAME_PATTERN = re.compile(
    r"^(?P<platform>S1[AB])_(?P<mode>\w\w)_GRD\w_1SD[HV]_(?P<start>\d{8}T\d{6})_"
    r"(?P<stop>\d{8}T\d{6})_(?P<orbit>\d{6})_(?P<datatake>[0-9A-F]{6})_(?P<crc>[0-9A-F]{4})_"
    r"icechart_(?P<service>cis|dmi)_(?P<chart>.+)\.nc$"
)

#: Real dataset global mean/std per variable, in the variables' physical units.
#: Origin: `global_meanstd.npy` of the official AutoICE starter kit (AI4Arctic Sea Ice
#: Challenge Dataset, DTU / ESA 2022-2023), as found in ../shared/data/ai4arctic/.
GLOBAL_MEAN_STD: dict[str, tuple[float, float]] = {
    "nersc_sar_primary": (-14.5082551552228, 5.6597459193818676),
    "nersc_sar_secondary": (-24.701205147144236, 4.746759305258515),
    "sar_incidenceangle": (33.99801788456536, 8.322267212079046),
    "distance_map": (23.627669500714102, 14.99018630794473),
    "btemp_6_9h": (148.8469796145295, 61.64846862537627),
    "btemp_6_9v": (203.51944545494723, 38.66643206594044),
    "btemp_7_3h": (149.89896504342093, 61.67544463178433),
    "btemp_7_3v": (204.20534015176978, 38.66622047733582),
    "btemp_10_7h": (153.89169240998876, 60.875249835766844),
    "btemp_10_7v": (208.90408657387925, 36.24495931413019),
    "btemp_18_7h": (165.6802621430742, 52.617873035841676),
    "btemp_18_7v": (218.5868342822609, 28.060389755926906),
    "btemp_23_8h": (182.20893715257156, 42.88716195392868),
    "btemp_23_8v": (226.39646658494573, 22.117582324875166),
    "btemp_36_5h": (185.19472368457747, 38.6444384529263),
    "btemp_36_5v": (228.20590185866286, 17.652645265307164),
    "btemp_89_0h": (212.53745842027274, 22.584971395547413),
    "btemp_89_0v": (241.25747874607808, 16.31096214404262),
    "u10m_rotated": (0.6747986162545088, 4.749646758314658),
    "v10m_rotated": (0.6075565949388854, 5.196104947581429),
    "t2m": (268.6265490976146, 9.469170769562306),
    "skt": (268.91015184833424, 10.305256438427369),
    "tcwv": (7.747741728107202, 5.268575011079001),
    "tclw": (0.041245511364735726, 0.07112806794202754),
}

#: Real dataset global min/max per variable, in physical units: the [-1, 1] scaling of the
#: `minmax` convention. Origin: `misc/global_minmax.npy` of the official AutoICE starter kit,
#: release 1.0.0 (its later commits ship the file without values).
GLOBAL_MIN_MAX: dict[str, tuple[float, float]] = {
    "nersc_sar_primary": (-380.12262, 25.2275),
    "nersc_sar_secondary": (-463.14328, 23.286842),
    "sar_incidenceangle": (18.04494281065483, 47.40532474096656),
    "distance_map": (0.0, 41.0),
    "btemp_6_9h": (73.890625, 267.375),
    "btemp_6_9v": (145.3828125, 276.7890625),
    "btemp_7_3h": (74.4609375, 261.03125),
    "btemp_7_3v": (145.59375, 277.3046875),
    "btemp_10_7h": (79.3515625, 264.84375),
    "btemp_10_7v": (151.609375, 275.4296875),
    "btemp_18_7h": (93.671875, 273.2109375),
    "btemp_18_7v": (162.3984375, 280.3671875),
    "btemp_23_8h": (107.7734375, 279.15625),
    "btemp_23_8v": (163.875, 283.484375),
    "btemp_36_5h": (125.2890625, 279.5625),
    "btemp_36_5v": (149.890625, 285.0078125),
    "btemp_89_0h": (135.1015625, 285.7421875),
    "btemp_89_0v": (141.0546875, 289.0),
    "u10m_rotated": (-18.483667333189334, 19.10090034339477),
    "v10m_rotated": (-22.303737140420502, 19.573442430014524),
    "t2m": (230.6836700439453, 292.468994140625),
    "skt": (221.91246032714844, 298.3706359863281),
    "tcwv": (0.27193906903266907, 38.94947052001953),
    "tclw": (0.0, 1.1839295625686646),
}

# --------------------------------------------------------------------------------------------
# SIGRID-3 egg codes -> AutoICE classes (raw release: `polygon_icechart` + `polygon_codes`)
# --------------------------------------------------------------------------------------------

#: Columns of the raw release's `polygon_codes` table, in order (its header row, `;`-separated).
POLYGON_CODE_COLUMNS: tuple[str, ...] = (
    "poly_id", "CT", "CA", "SA", "FA", "CB", "SB", "FB", "CC", "SC", "FC", "CN", "CD", "CF", "POLY_TYPE",
)  # fmt: skip
#: Partial concentration / stage / form columns of the three thickest ice types.
PARTIAL_CONCENTRATION_COLUMNS: tuple[str, ...] = ("CA", "CB", "CC")
STAGE_COLUMNS: tuple[str, ...] = ("SA", "SB", "SC")
FORM_COLUMNS: tuple[str, ...] = ("FA", "FB", "FC")

#: Egg-code value for "not filled" and "unknown" (both give MASK).
EGG_NOT_FILLED = -9
EGG_UNKNOWN = 99
#: `POLY_TYPE` values: water and ice polygons (land and others give MASK).
POLY_TYPE_WATER = "W"
POLY_TYPE_ICE = "I"

#: SIGRID-3 concentration code -> concentration in tenths (0-10). Exact codes first, then the
#: range codes `LU` ("L/10 to U/10"), which map to the range's midpoint.
CONCENTRATION_TENTHS: dict[int, float] = {
    0: 0.0,  # ice free
    1: 0.0,  # less than 1/10 (open water)
    2: 0.0,  # bergy water
    55: 0.0,  # ice free (SIGRID-3 alias)
    **{10 * t: float(t) for t in range(1, 10)},  # 10 -> 1/10 ... 90 -> 9/10
    91: 10.0,  # 9+/10
    92: 10.0,  # 10/10, compact or fast ice
    **{
        10 * lo + hi: (lo + hi) / 2.0
        for lo in range(1, 10)
        for hi in range(lo + 1, 10)
    },  # e.g. 12 -> 1.5, 79 -> 8.0, 89 -> 8.5
    81: 9.0,  # 8/10 to 10/10 (range whose upper bound "10" is written as 1)
}  # fmt: skip


def sic_class(tenths: float) -> int:
    """SIC class (0-10) of a concentration in tenths; halves round up (8.5 -> 9)."""
    return int(min(10, max(0, int(tenths + 0.5))))


#: SIGRID-3 stage of development code -> SOD class.
STAGE_TO_SOD: dict[int, int] = {
    55: 0,  # ice free
    80: 0,  # no stage of development
    81: 1, 82: 1,  # new ice, nilas / ice rind
    83: 2, 84: 2, 85: 2,  # young ice, grey, grey-white
    87: 3, 88: 3, 89: 3,  # thin first-year (and its two stages)
    86: 4, 91: 4, 93: 4,  # first-year, medium and thick first-year
    95: 5, 96: 5, 97: 5,  # old, second-year, multi-year
}  # fmt: skip
#: Stages of development with no AutoICE class: glacier ice (98) and unknown (99) give MASK.

#: SIGRID-3 form of ice code -> FLOE class (AutoICE starter-kit table). Codes absent here give
#: MASK; the forms in FORMS_WITHOUT_FLOE additionally mask the whole polygon's FLOE wherever
#: they occur, because the chart then gives no floe size for part of its ice.
FORM_TO_FLOE: dict[int, int] = {
    2: 1,  # ice cake
    3: 2,  # small floe
    4: 3,  # medium floe
    5: 4,  # big floe
    6: 5, 7: 5,  # vast floe, giant floe
    9: 6, 10: 6,  # growlers / floebergs / floebits, icebergs
}  # fmt: skip
#: Forms that carry no floe size: shuga / small ice cake (1), fast ice (8), level ice (21),
#: pancake ice (22).
FORMS_WITHOUT_FLOE: tuple[int, ...] = (1, 8, 21, 22)

#: SOD and FLOE take a class only where it holds at least this share of the polygon's ice.
DOMINANCE_THRESHOLD = 0.65

#: Class given to water polygons and to SIC-0 polygons in every chart.
WATER_CLASS = 0


# --------------------------------------------------------------------------------------------
# Plotting
# --------------------------------------------------------------------------------------------

#: Colours per class for SOD and FLOE maps (SIC uses cmocean's `ice` colour map).
CLASS_COLOURS: dict[str, tuple[str, ...]] = {
    "SOD": ("#0b3d91", "#f0e442", "#e69f00", "#56b4e9", "#009e73", "#cc79a7"),
    "FLOE": ("#0b3d91", "#f0e442", "#e69f00", "#56b4e9", "#009e73", "#cc79a7", "#d55e00"),
}
SIC_COLOUR_MAP = "ice"  # cmocean name


#: File name of an AutoICE submission: one netCDF with a `<scene_id>_<chart>` variable per test
#: scene and chart (2-D integer class values, MASK meaning "no prediction").
SUBMISSION_FILE_NAME = "upload_package.nc"


def submission_variable(scene_id: str, chart: str) -> str:
    """Name of a chart's variable in an AutoICE submission file, e.g. `20180124T194759_dmi_SIC`."""
    return f"{scene_id}_{chart}"


# --------------------------------------------------------------------------------------------
# Uncertainty files written beside a submission (same scenes, same 80 m grids, uint8, zlib)
# --------------------------------------------------------------------------------------------

#: Central probability of the SIC predictive interval in an uncertainty file (90 %).
SIC_INTERVAL_PROBABILITY = 0.9
#: Largest confidence or probability value (percent); MASK (255) where the submission has 255.
PERCENT_MAX = 100


def confidence_variable(scene_id: str, chart: str) -> str:
    """Name of the confidence map (percent, 0-100) of a chart in an uncertainty file.

    >>> confidence_variable("20180124T194759_dmi", "SOD")
    '20180124T194759_dmi_SOD_confidence'
    """
    return f"{submission_variable(scene_id, chart)}_confidence"


def sic_interval_variables(scene_id: str) -> tuple[str, str]:
    """Names of the low and high ends of the SIC predictive interval (SIC classes 0-10).

    >>> sic_interval_variables("20180124T194759_dmi")
    ('20180124T194759_dmi_SIC_low', '20180124T194759_dmi_SIC_high')
    """
    chart = submission_variable(scene_id, "SIC")
    return f"{chart}_low", f"{chart}_high"


def probability_variable(scene_id: str, chart: str, k: int) -> str:
    """Name of the probability map (percent, 0-100) of class `k` of a chart in a probabilities
    file.

    >>> probability_variable("20180124T194759_dmi", "FLOE", 3)
    '20180124T194759_dmi_FLOE_p3'
    """
    return f"{submission_variable(scene_id, chart)}_p{k}"


# --------------------------------------------------------------------------------------------
# Where the shared reference data lives (never copied into the repository)
# --------------------------------------------------------------------------------------------

#: Environment variable that points at the shared data folder (the one holding `ai4arctic/` and
#: `s1_pairs/`); by default `../shared/data` beside the repository checkout.
SHARED_DATA_ENV = "AUTOICE_SHARED_DATA"


def shared_data_dir() -> str:
    """Path of the shared reference data folder (it may not exist; callers check and skip)."""
    import os

    default = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")
    return os.path.abspath(os.environ.get(SHARED_DATA_ENV, default))
