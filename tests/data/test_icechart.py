"""AutoICE polygon rules on hand-built egg-code tables (one polygon per rule)."""

import numpy as np
import pytest
import xarray as xr

from kit import charts
from kit.data.icechart import convert_polygon_icechart, parse_polygon_codes, polygon_classes
from kit.errors import KitError

HEADER = ";".join(charts.POLYGON_CODE_COLUMNS)
NF = charts.EGG_NOT_FILLED


def row(pid, ct=NF, a=(NF, NF, NF), b=(NF, NF, NF), c=(NF, NF, NF), kind="I"):
    """One polygon_codes row: id, CT, (CA, SA, FA), (CB, SB, FB), (CC, SC, FC), CN, CD, CF, type."""
    values = [pid, ct, *a, *b, *c, NF, NF, NF]
    return ";".join(str(v) for v in values) + f";{kind}"


def classes_of(*rows):
    result = polygon_classes(parse_polygon_codes([HEADER, *rows]))
    return {k: v.tolist() for k, v in result.as_dict().items()}


def test_single_type_ca_defaults_to_ct():
    # CT 9/10, CA not filled, thick first-year ice in big floes: one type holds all of CT.
    out = classes_of(row(1, ct=90, a=(NF, 93, 5)))
    assert out == {"SIC": [9], "SOD": [4], "FLOE": [4]}


def test_dominant_partial_concentration_wins_at_65_percent():
    # 7/10 old ice of 10/10: 70 % >= 65 % -> old ice; floes: 7/10 vast of 10 -> vast.
    out = classes_of(row(2, ct=91, a=(70, 95, 6), b=(30, 87, 3)))
    assert out == {"SIC": [10], "SOD": [5], "FLOE": [5]}


def test_below_threshold_is_ambiguous():
    # 6/10 + 4/10 of different classes: 60 % < 65 % -> masked SOD and FLOE, SIC kept.
    out = classes_of(row(3, ct=91, a=(60, 95, 6), b=(40, 87, 3)))
    assert out == {"SIC": [10], "SOD": [255], "FLOE": [255]}


def test_exactly_65_percent_counts_as_dominant():
    # CA coded as the range 6-7 tenths (midpoint 6.5) of 10/10: exactly 65 % -> dominant.
    out = classes_of(row(4, ct=91, a=(67, 93, 5), b=(35, 81, 2)))
    assert out["SOD"] == [4]
    assert out["FLOE"] == [4]
    # The range 5-6 tenths (5.5) of 10/10 is 55 %: ambiguous.
    out = classes_of(row(5, ct=91, a=(56, 93, 5), b=(45, 81, 2)))
    assert out["SOD"] == [255]


def test_types_merged_by_the_lookup_are_summed():
    # Grey (84) and grey-white (85) ice are both "young ice": 4/10 + 3/10 = 7/10 of 10 -> young.
    # Forms small (3) and medium (4) floe differ: 4/10 vs 3/10 vs 3/10 -> ambiguous FLOE.
    out = classes_of(row(6, ct=91, a=(40, 85, 3), b=(30, 84, 4), c=(30, 81, 2)))
    assert out["SOD"] == [2]
    assert out["FLOE"] == [255]
    # Forms 6 and 7 (vast and giant floe) merge to "vast floe".
    out = classes_of(row(7, ct=80, a=(40, 93, 6), b=(30, 87, 7), c=(10, 81, 2)))
    assert out["FLOE"] == [5]
    assert out["SOD"] == [255]  # 4/8 thick FYI, 3/8 thin FYI


def test_water_polygon_and_ice_free_give_zero_everywhere():
    out = classes_of(row(8, kind="W"), row(9, ct=1, a=(NF, 81, 22)), row(10, ct=0))
    assert out == {"SIC": [0, 0, 0], "SOD": [0, 0, 0], "FLOE": [0, 0, 0]}


def test_land_and_unknown_polygon_types_are_masked():
    out = classes_of(row(11, ct=91, a=(NF, 93, 5), kind="L"), row(12, kind="N"))
    assert out == {"SIC": [255, 255], "SOD": [255, 255], "FLOE": [255, 255]}


def test_not_filled_and_unknown_codes_are_masked():
    out = classes_of(
        row(13, ct=NF),  # no total concentration
        row(14, ct=90, a=(NF, NF, NF)),  # stage and form not filled
        row(15, ct=90, a=(NF, charts.EGG_UNKNOWN, charts.EGG_UNKNOWN)),  # unknown
        row(16, ct=90, a=(NF, 98, 10)),  # glacier ice: no SOD class, bergs for FLOE
    )
    assert out["SIC"] == [255, 9, 9, 9]
    assert out["SOD"] == [255, 255, 255, 255]
    assert out["FLOE"] == [255, 255, 255, 6]


def test_forms_without_floe_size_mask_floe():
    # Fast ice (08) or pancake (22) anywhere in the polygon leaves FLOE undefined.
    out = classes_of(row(17, ct=92, a=(NF, 93, 8)), row(18, ct=91, a=(80, 93, 5), b=(20, 81, 22)))
    assert out["SIC"] == [10, 10]
    assert out["SOD"] == [4, 4]
    assert out["FLOE"] == [255, 255]


def test_range_codes_use_the_midpoint():
    # 79 = 7-9 tenths -> 8; 89 = 8-9 tenths -> 8.5 rounds to 9.
    out = classes_of(row(19, ct=79, a=(NF, 93, 5)), row(20, ct=89, a=(NF, 93, 5)))
    assert out["SIC"] == [8, 9]


def test_convert_paints_pixels_through_polygon_ids():
    codes = [HEADER, row(5, kind="W"), row(7, ct=91, a=(NF, 95, 6)), row(9, kind="L")]
    ids = np.array([[5, 5, 7], [7, 9, np.nan], [42, 7, 5]])
    scene = xr.Dataset(
        {
            "polygon_icechart": (charts.SAR_DIMS, ids),
            "polygon_codes": (("codes",), np.array(codes, dtype=object)),
        }
    )
    out = convert_polygon_icechart(scene)
    assert out.SIC.dtype == np.uint8
    assert out.SIC.values.tolist() == [[0, 0, 10], [10, 255, 255], [255, 10, 0]]
    assert out.SOD.values.tolist() == [[0, 0, 5], [5, 255, 255], [255, 5, 0]]
    assert out.FLOE.values.tolist() == [[0, 0, 5], [5, 255, 255], [255, 5, 0]]


def test_bad_tables_raise_clear_errors():
    with pytest.raises(KitError, match="header lacks"):
        parse_polygon_codes(["id;CT", "1;90"])
    with pytest.raises(KitError, match="fields"):
        parse_polygon_codes([HEADER, "1;90"])
    with pytest.raises(KitError, match="no polygon_icechart"):
        convert_polygon_icechart(xr.Dataset())
