import numpy as np
import pytest
from scipy import ndimage

from kit.drift.synthetic import DisplacementField, make_pair, random_field, synthetic_texture


def test_field_is_exact_for_translation_and_rotation():
    f = DisplacementField((101, 101), translation=(3.0, -2.0), rotation_deg=90.0)
    u, v = f(np.array([50.0, 60.0]), np.array([50.0, 50.0]))  # centre, and 10 px to its right
    np.testing.assert_allclose([u[0], v[0]], [3.0, -2.0], atol=1e-12)
    np.testing.assert_allclose([u[1], v[1]], [3.0 - 10.0, -2.0 + 10.0], atol=1e-12)


def test_discontinuity_jumps_across_the_line():
    f = DisplacementField((100, 100), jump=(0.0, 6.0), jump_angle_deg=90.0)
    u, v = f(np.array([30.0, 70.0]), np.array([50.0, 50.0]))
    assert v[0] - v[1] == 6.0 or v[1] - v[0] == 6.0


def test_warped_image_follows_the_truth_without_speckle():
    field = random_field((200, 200), max_drift=10, max_rotation_deg=5, seed=3)
    pair = make_pair(shape=(200, 200), displacement=field, looks=0, seed=3)
    yy, xx = np.mgrid[60:140:7, 60:140:7].astype(float)
    u, v = pair.truth(xx, yy)
    a = ndimage.map_coordinates(pair.image1, [yy, xx], order=1)
    b = ndimage.map_coordinates(np.nan_to_num(pair.image2), [yy + v, xx + u], order=3)
    still = ndimage.map_coordinates(np.nan_to_num(pair.image2), [yy, xx], order=3)
    assert np.median(np.abs(a - b)) < 0.3  # dB; interpolation only
    assert np.median(np.abs(a - still)) > 5 * np.median(np.abs(a - b))


def test_speckle_is_independent_between_images():
    pair = make_pair(shape=(128, 128), displacement=DisplacementField((128, 128)), looks=4, seed=1)
    clean = synthetic_texture((128, 128), seed=1)
    n1, n2 = pair.image1 - clean, pair.image2 - clean
    ok = np.isfinite(n2)
    assert abs(np.corrcoef(n1[ok], n2[ok])[0, 1]) < 0.05
    assert n1.std() > 1.0


@pytest.mark.parametrize("rotation", [60.0, 120.0, 180.0])
def test_warp_follows_large_rotations(rotation):
    field = DisplacementField((160, 160), translation=(3.0, -2.0), rotation_deg=rotation)
    pair = make_pair(displacement=field, shape=(160, 160), looks=0, seed=1)
    yy, xx = np.mgrid[50:110:7, 50:110:7].astype(float)
    u, v = pair.truth(xx, yy)
    b = ndimage.map_coordinates(np.nan_to_num(pair.image2), [yy + v, xx + u], order=3)
    assert np.median(np.abs(pair.image1[50:110:7, 50:110:7] - b)) < 0.3  # interpolation only
