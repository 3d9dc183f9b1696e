"""The chart schema in kit.charts: classes, variables, lookups and the real dataset's statistics."""

from kit import charts


def test_classes_and_weights():
    assert charts.N_CLASSES == {"SIC": 11, "SOD": 6, "FLOE": 7}
    assert charts.MASK == 255
    assert charts.combined_score({"SIC": 1.0, "SOD": 0.5, "FLOE": 0.0}) == (2 + 1) / 5


def test_variables_grouped_and_with_statistics():
    assert len(charts.SCENE_VARIABLES) == 24 == len(set(charts.SCENE_VARIABLES))
    assert len(charts.AMSR2_VARIABLES) == 14 and len(charts.ERA5_VARIABLES) == 6
    assert set(charts.GLOBAL_MEAN_STD) == set(charts.SCENE_VARIABLES) == set(charts.UNITS)
    assert all(std > 0 for _, std in charts.GLOBAL_MEAN_STD.values())


def test_egg_code_lookups_map_into_the_classes():
    assert set(charts.STAGE_TO_SOD.values()) == set(range(1, 6)) | {0}
    assert set(charts.FORM_TO_FLOE.values()) == set(range(1, 7))
    assert not set(charts.FORMS_WITHOUT_FLOE) & set(charts.FORM_TO_FLOE)
    assert charts.FORM_TO_FLOE[3] == 2 and charts.FORM_TO_FLOE[4] == 3  # small, medium floe
    assert charts.CONCENTRATION_TENTHS[92] == 10 and charts.CONCENTRATION_TENTHS[79] == 8
    assert [charts.sic_class(t) for t in (0, 0.4, 8.5, 10)] == [0, 0, 9, 10]
    assert (
        charts.POLYGON_CODE_COLUMNS[0] == "poly_id"
        and charts.POLYGON_CODE_COLUMNS[-1] == "POLY_TYPE"
    )
