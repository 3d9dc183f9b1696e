"""SuperLIM matching (`kit.drift.superlim.descriptor_matching`) and the `superlim+pm` method on large
rotations: de-rotation of image 2 (geolocation or `estimate_alignment`)."""

import numpy as np
import pytest
from scipy import ndimage

from kit.drift.io import read_s1_geotiff
from kit.drift.metrics import scored_errors
from kit.drift.preprocess import remove_mean_and_clip, to_db
from kit.drift.superlim.checkpoint import load_superlim
from kit.drift.superlim.descriptor_matching import (
    _apply,
    _inverse,
    derotate,
    estimate_alignment,
    rigid_ransac,
)
from kit.drift.synthetic import DisplacementField, make_pair, synthetic_texture
from kit.drift.track import track

#: superlim+pm's valid fraction on the rotated 400 px crops (measured 0.93-1.00 at 0, 60, 120
#: and 180 degrees; before de-rotation 0.00-0.02 at 60-180 degrees, every kept vector wrong)
MIN_VALID_ROTATED = 0.85


@pytest.mark.parametrize("angle", [7.0, 61.0, 180.0, -120.0])
def test_derotation_turns_content_back_and_maps_positions_both_ways(angle):
    image = ndimage.gaussian_filter(synthetic_texture((90, 130), seed=4), 2.0)
    image[:10, :10] = np.nan
    turned, matrix = derotate(image, angle)
    assert np.isnan(turned).any() and np.isfinite(turned).mean() > 0.4
    x, y = np.array([40.0, 100.0, 64.0]), np.array([30.0, 60.0, 44.5])
    cx, cy = _apply(matrix, x, y)
    back = ndimage.map_coordinates(np.nan_to_num(turned), [cy, cx], order=1)
    np.testing.assert_allclose(back, ndimage.map_coordinates(image, [y, x], order=1), atol=1.0)
    np.testing.assert_allclose(_apply(_inverse(matrix), cx, cy), (x, y), atol=1e-9)
    # a unit step along x in the image is a step turned by -angle on the canvas
    ex, ey = _apply(matrix, x + 1, y)
    turn = np.degrees(np.arctan2(ey - cy, ex - cx)) + angle
    np.testing.assert_allclose((turn + 180) % 360 - 180, 0, atol=1e-6)


def test_rigid_ransac_ignores_outliers():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 500, size=(60, 2))
    a = np.radians(130.0)
    turn = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    dst = src @ turn.T + [400.0, -20.0]
    dst[:25] = rng.uniform(0, 500, size=(25, 2))  # 25 of 60 wrong
    count, fit = rigid_ransac(src, dst, tolerance=4.0)
    assert count == 35
    np.testing.assert_allclose(fit, np.hstack([turn, [[400.0], [-20.0]]]), atol=1e-6)


def _rotated_crop_pair(real_tiffs, rotation: float, size: int = 400):
    """A crop of a real image and its copy rotated about the centre and shifted (7, -4) px."""
    db = to_db(read_s1_geotiff(real_tiffs[2]).sigma0)[300 : 300 + size, 300 : 300 + size]
    field = DisplacementField((size, size), translation=(7.0, -4.0), rotation_deg=rotation)
    return make_pair(db, field, seed=int(rotation))


@pytest.mark.parametrize("rotation", [60.0, 120.0, 180.0])
def test_alignment_is_estimated_without_geolocation(real_tiffs, rotation):
    pair = _rotated_crop_pair(real_tiffs, rotation)
    found = estimate_alignment(
        load_superlim(device="cpu"),
        remove_mean_and_clip(pair.image1),
        remove_mean_and_clip(pair.image2),
    )
    assert found is not None
    angle, fit = found
    assert abs((angle - rotation + 180) % 360 - 180) < 2.0
    x, y = np.array([100.0, 300.0]), np.array([100.0, 300.0])
    ex, ey = _apply(fit, x, y)
    tu, tv = pair.truth(x, y)
    assert np.hypot(ex - x - tu, ey - y - tv).max() < 6.0


@pytest.mark.parametrize("rotation", [0.0, 60.0, 120.0, 180.0])
def test_superlim_pm_tracks_large_rotations(real_tiffs, rotation):
    """Before de-rotation superlim+pm kept at most 2 % of these vectors at 60, 120 and 180
    degrees, all of them wrong."""
    pair = _rotated_crop_pair(real_tiffs, rotation)
    result = track(pair.image1, pair.image2, "superlim+pm", grid_step=24)
    epe, valid = scored_errors(result, pair.truth, pair.image1, pair.image2)
    assert valid.mean() >= MIN_VALID_ROTATED
    assert (epe[valid] > 3).mean() <= 0.01


def test_2016_pair_superlim_pm_matches_ft_pm(real_tiffs):
    """The 2016 pair (different orbits, contents rotated ~61 degrees), with geolocation: at
    least as many valid vectors as ft+pm, at most 1 % of those both keep more than 3 px apart."""
    one, two = (read_s1_geotiff(real_tiffs[i]) for i in (1, 0))  # S1B 10:18 -> S1A 14:24
    db1, db2 = to_db(one.sigma0), to_db(two.sigma0)
    ref = track(db1, db2, "ft+pm", geo1=one.geo, geo2=two.geo)
    slim = track(db1, db2, "superlim+pm", geo1=one.geo, geo2=two.geo)
    assert slim.valid.mean() >= ref.valid.mean()
    both = slim.valid & ref.valid
    assert (np.hypot(slim.u - ref.u, slim.v - ref.v)[both] > 3).mean() <= 0.01
