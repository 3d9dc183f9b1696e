"""Weak correlation peaks confirmed by an independent first guess (issue 23, item 8): `ft+pm`
on real Sentinel-1 images warped with a 6 degree rotation and smooth deformation."""

import os

import numpy as np
import pytest

from kit.drift.io import read_s1_geotiff
from kit.drift.matching import MatchParams, MatchResult, confirm_weak_peaks, pattern_match
from kit.drift.preprocess import remove_mean_and_clip, to_db
from kit.drift.reasons import Reason
from kit.drift.synthetic import DisplacementField, make_pair, speckle, synthetic_texture
from kit.drift.track import track

#: (image, looks of the added speckle): ft+pm valid on 441 points, measured before / after
#: weak peaks could be confirmed: 0.882 / 0.934 and 0.837 / 0.955, no valid vector > 3 px off.
ROTATED_CASES = [
    ("S1B_EW_GRDM_1SDH_20200123T120618.tif", 3.0),
    ("S1B_EW_GRDM_1SDH_20200125T114955.tif", 4.0),
]


def test_a_weak_peak_needs_a_guess_it_lands_on_a_sharp_peak_and_the_floor():
    m = MatchResult.empty(6)
    m.u[:], m.v[:] = [5.0, 8.5, 5.0, 5.0, 5.0, 5.0], 0.0
    m.quality[:] = [0.25, 0.25, 0.25, 0.15, 0.25, 0.5]
    m.sharpness[:] = [0.15, 0.15, 0.02, 0.15, 0.15, 0.15]
    m.reason[:] = [Reason.WEAK_PEAK] * 5 + [Reason.AMBIGUOUS_PEAK]
    guess_u = np.array([6.0, 6.0, 6.0, 6.0, np.nan, 6.0])
    confirm_weak_peaks(m, guess_u, np.zeros(6), tolerance=2.0)
    # confirmed; off the guess; not sharp; under the floor; no guess; not weak but ambiguous
    assert m.valid.tolist() == [True, False, False, False, False, False]
    assert m.reason[1:].tolist() == [Reason.WEAK_PEAK] * 4 + [Reason.AMBIGUOUS_PEAK]
    # the floor is never above min_quality
    strict = MatchResult.empty(1)
    strict.u[:], strict.v[:], strict.quality[:], strict.sharpness[:] = 5.0, 0.0, 0.12, 0.15
    strict.reason[:] = Reason.WEAK_PEAK
    confirm_weak_peaks(strict, np.array([5.0]), np.zeros(1), 2.0, MatchParams(min_quality=0.1))
    assert strict.valid.all()


def test_unrelated_images_give_no_confirmed_vectors():
    """Two speckled textures with nothing in common: their peaks are noise, and none lands
    sharp and strong enough within 2 px of the guess (measured: 0 of 729)."""
    rng = np.random.default_rng(0)
    a = remove_mean_and_clip(speckle(synthetic_texture((600, 600), seed=1), 3, rng))
    b = remove_mean_and_clip(speckle(synthetic_texture((600, 600), seed=2), 3, rng))
    yy, xx = np.mgrid[40:561:20, 40:561:20]
    x, y = xx.ravel().astype(float), yy.ravel().astype(float)
    m = pattern_match(a, b, x, y, params=MatchParams(search=8))
    assert (m.reason == Reason.WEAK_PEAK).mean() > 0.4
    confirm_weak_peaks(m, np.zeros(x.size), np.zeros(x.size), 2.0)
    assert m.valid.mean() <= 0.01


@pytest.mark.parametrize("name,looks", ROTATED_CASES)
def test_ft_pm_keeps_90_percent_of_a_rotated_warped_real_image(real_tiffs, name, looks):
    db = to_db(read_s1_geotiff(os.path.join(os.path.dirname(real_tiffs[0]), name)).sigma0)
    base = np.ascontiguousarray(db[150:850, 150:850])
    field = DisplacementField(
        base.shape, translation=(4.0, -3.0), rotation_deg=6.0, deformation=3.0, seed=0
    )
    pair = make_pair(base, field, looks=looks, seed=0)
    yy, xx = np.mgrid[50:651:30, 50:651:30]  # 441 points, all of them matchable
    x, y = xx.ravel().astype(float), yy.ravel().astype(float)
    result = track(pair.image1, pair.image2, "ft+pm", points=(x, y))
    err = np.hypot(*np.subtract(pair.truth(x, y), (result.u, result.v)))
    assert x.size == 441
    assert result.valid.mean() >= 0.9
    assert np.mean(err[result.valid] > 3) <= 0.01
    # some of the valid vectors are confirmed weak peaks, and they are right
    confirmed = result.valid & (result.quality < MatchParams.min_quality)
    assert confirmed.sum() >= 10 and err[confirmed].max() < 1.5
