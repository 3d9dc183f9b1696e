import numpy as np
import pytest

from kit.drift.geolocation import haversine_km
from kit.drift.io import GcpTransform
from kit.drift.reasons import FLAG_MEANINGS, Reason
from kit.drift.synthetic import DisplacementField, make_pair
from kit.drift.track import METHODS, grid_points, track
from kit.errors import KitError

from .conftest import grid

# median end-point error each method must reach on the 5-degree, (6.4, -4.2) px test pair
MEDIAN_EPE = {"ft": 1.5, "pm": 0.4, "ft+pm": 0.3, "superlim": 4.0, "superlim+pm": 0.3}
# superlim's own vectors are its matches: the outer ring of this 10 x 10 grid has none beyond
# it, is not surrounded and so is invalid (36 of 100 points)
MIN_VALID = {"superlim": 0.6}


@pytest.mark.parametrize("method", METHODS)
def test_each_method_recovers_translation_and_rotation(moving_pair, method):
    x, y = grid(moving_pair.image1.shape)
    result = track(moving_pair.image1, moving_pair.image2, method, points=(x, y), search=24)
    tu, tv = moving_pair.truth(x, y)
    err = np.hypot(result.u - tu, result.v - tv)
    assert result.valid.mean() > MIN_VALID.get(method, 0.7), method
    assert np.median(err[result.valid]) < MEDIAN_EPE[method]
    assert np.mean(err[result.valid] > 3) < 0.05
    assert result.method == method and result.seconds > 0
    np.testing.assert_array_equal(result.valid, result.reason == Reason.VALID)


def test_default_grid_and_result_layout(moving_pair):
    result = track(moving_pair.image1, moving_pair.image2, "ft+pm", grid_step=40)
    assert result.grid_shape is not None
    assert result.grid("u").shape == result.grid_shape
    assert result.x.min() >= 17 and result.x.max() <= 320 - 17
    with pytest.raises(KitError, match="not on a regular grid"):
        track(moving_pair.image1, moving_pair.image2, "pm", points=grid((320, 320))).grid("u")


def test_no_texture_and_no_data_pairs_give_no_valid_vectors():
    flat = np.full((200, 200), -20.0, np.float32)
    empty = np.full((200, 200), np.nan, np.float32)
    # ft finds no features: no match; the pm methods fall back to plain pm: no texture
    expected = {"ft": Reason.NO_MATCH, "pm": Reason.NO_TEXTURE}
    for method in ("ft", "pm", "ft+pm", "superlim+pm"):
        result = track(flat, flat, method, grid_step=30)
        assert not result.valid.any()
        assert (result.reason == expected.get(method, Reason.NO_TEXTURE)).all(), method
        result = track(empty, flat, method, grid_step=30)
        assert not result.valid.any() and (result.reason == Reason.NO_DATA).all(), method


def test_half_empty_scene_marks_the_empty_half_no_data(moving_pair):
    image1 = moving_pair.image1.copy()
    image1[:, :150] = np.nan
    for method in ("ft", "ft+pm"):
        result = track(image1, moving_pair.image2, method, grid_step=40)
        assert (result.reason[result.x < 150] == Reason.NO_DATA).all(), method
        assert result.valid[result.x > 190].mean() > 0.4, method


def test_flag_meanings_follow_the_codes():
    meanings = FLAG_MEANINGS.split()
    assert meanings[0] == "valid" and len(meanings) == len(Reason)
    assert meanings[Reason.BORDER_PEAK] == "border_peak"


def test_bad_arguments_are_named():
    image = np.zeros((64, 64), np.float32)
    with pytest.raises(KitError, match="method='nope'"):
        track(image, image, "nope")
    with pytest.raises(
        KitError, match=r"drift: unknown key\(s\) templte; allowed: grid_step, template"
    ):
        track(image, image, "pm", templte=21)
    with pytest.raises(KitError, match="img2: expected a 2-D image"):
        track(image, np.zeros(10), "pm")
    with pytest.raises(KitError, match="grid_step"):
        grid_points((64, 64), 0)


def test_geolocated_result_gives_km_and_speed(moving_pair):
    rows, cols = np.mgrid[0:321:40, 0:321:40]
    geo = GcpTransform.from_gcps(
        cols.ravel(), rows.ravel(), 40.0 * cols.ravel(), -40.0 * rows.ravel(), "EPSG:3413"
    )
    result = track(
        moving_pair.image1, moving_pair.image2, "ft+pm", geo1=geo, geo2=geo, dt_seconds=3600.0
    )
    v = result.valid
    expected_km = 0.040 * np.hypot(result.u[v], result.v[v])  # 40 m pixels (stereographic scale ~1)
    np.testing.assert_allclose(result.displacement_km[v], expected_km, rtol=0.03)
    np.testing.assert_allclose(result.speed_ms[v], result.displacement_km[v] / 3.6, rtol=1e-9)
    assert np.all(result.lat > 80)
    # same geometry for both images: the ice motion is the pixel displacement
    np.testing.assert_allclose(result.u_ice[v], result.u[v], atol=1e-3)
    np.testing.assert_allclose(result.v_ice[v], result.v[v], atol=1e-3)


def test_haversine():
    assert haversine_km(0, 0, 0, 1) == pytest.approx(111.19, abs=0.01)
    assert haversine_km(10, 89, 190, 89) == pytest.approx(2 * 111.19, abs=0.02)


def _broken_pair(kind: str, radius: float = 0.0, seed: int = 3):
    """A 600 x 600 synthetic pair with an 18 px shear or opening along a line at 30 degrees
    (curved with `radius`), and the same warp without the break."""
    b = np.radians(30.0 if kind == "shear" else 120.0)
    common = dict(translation=(6.0, -4.0), rotation_deg=2.0, jump_angle_deg=30.0)
    broken = DisplacementField(
        (600, 600), jump=(18 * np.cos(b), 18 * np.sin(b)), jump_radius=radius, **common
    )
    whole = DisplacementField((600, 600), **common)
    return (
        make_pair(displacement=broken, shape=(600, 600), seed=seed),
        make_pair(displacement=whole, shape=(600, 600), seed=seed),
    )


@pytest.mark.parametrize("kind,radius", [("shear", 0.0), ("opening", 350.0)])
def test_ft_plus_pm_tracks_both_sides_of_a_break(kind, radius):
    pair, whole = _broken_pair(kind, radius)
    result = track(pair.image1, pair.image2, "ft+pm")
    reference = track(whole.image1, whole.image2, "ft+pm")
    tu, tv = pair.truth(result.x, result.y)
    err = np.hypot(result.u - tu, result.v - tv)
    dist, left = pair.field.break_distance(result.x, result.y)
    for side in (left, ~left):
        far = side & (dist >= 30)
        # one polynomial for all matches kept about a third of the moved side
        assert result.valid[far].mean() >= max(0.7, reference.valid[far].mean() - 0.05)
        assert np.median(err[result.valid & side]) < 0.3
    assert np.mean(err[result.valid] > 3) <= 0.01


def test_ft_valid_vectors_are_right_at_a_break():
    pair, _ = _broken_pair("shear")
    result = track(pair.image1, pair.image2, "ft")
    err = np.hypot(*(np.subtract(pair.truth(result.x, result.y), (result.u, result.v))))
    assert np.mean(err[result.valid] > 3) <= 0.01 and result.valid.mean() > 0.25
    dist, _ = pair.field.break_distance(result.x, result.y)
    near = dist < 16
    assert result.valid[near].mean() < 0.5 * result.valid[~near].mean()
    assert (result.reason[near] == Reason.INCONSISTENT).any()
