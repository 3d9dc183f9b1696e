import cv2
import numpy as np
import pytest

from kit import resources
from kit.drift.matching import MatchParams, find_peaks, ncc_surfaces, pattern_match, sample_patches
from kit.drift.preprocess import remove_mean_and_clip
from kit.drift.reasons import Reason
from kit.drift.synthetic import DisplacementField, make_pair
from kit.errors import KitError

from .conftest import grid


def test_ncc_equals_opencv_and_excludes_nan():
    rng = np.random.default_rng(0)
    windows = rng.normal(size=(3, 41, 41)).astype(np.float32)
    templates = windows[:, 10:25, 12:27].copy()
    ncc = ncc_surfaces(templates, windows)
    for k in range(3):
        expected = cv2.matchTemplate(windows[k], templates[k], cv2.TM_CCOEFF_NORMED)
        np.testing.assert_allclose(ncc[k], expected, atol=1e-4)
        assert np.unravel_index(np.nanargmax(ncc[k]), ncc[k].shape) == (10, 12)
    windows[0, 0, 0] = np.nan
    assert np.isnan(ncc_surfaces(templates, windows)[0, 0, 0])
    assert np.isfinite(ncc_surfaces(templates, windows)[0, 1, 1])


def test_peak_refinement_is_sub_pixel():
    yy, xx = np.mgrid[0:21, 0:21].astype(float)
    surface = 1 - 0.01 * ((xx - 12.3) ** 2 + (yy - 7.6) ** 2)
    peak = find_peaks(surface[None])
    assert abs(peak.dx[0] - 2.3) < 1e-6 and abs(peak.dy[0] + 2.4) < 1e-6
    assert not peak.on_border[0]
    assert find_peaks((xx + yy)[None]).on_border[0]  # still rising at the corner


def test_rotated_patch_sampling():
    image = np.arange(100 * 100, dtype=np.float32).reshape(100, 100)
    straight = sample_patches(image, np.array([50.0]), np.array([40.0]), 5)
    np.testing.assert_array_equal(straight[0], image[38:43, 48:53])
    turned = sample_patches(image, np.array([50.0]), np.array([40.0]), 5, np.array([90.0]))
    np.testing.assert_allclose(turned[0], np.rot90(image[38:43, 48:53], k=-1), atol=1e-3)
    assert np.isnan(sample_patches(image, np.array([1.0]), np.array([50.0]), 5)).any()


def test_pm_recovers_translation_and_rotation(moving_pair):
    a, b = remove_mean_and_clip(moving_pair.image1), remove_mean_and_clip(moving_pair.image2)
    x, y = grid(a.shape)
    tu, tv = moving_pair.truth(x, y)
    m = pattern_match(a, b, x, y, params=MatchParams(search=24))
    err = np.hypot(m.u - tu, m.v - tv)
    assert m.valid.mean() > 0.8
    assert np.median(err[m.valid]) < 0.4
    assert (err[m.valid] > 3).sum() == 0


def test_constant_and_no_data_images_give_no_valid_vectors(moving_pair):
    a = remove_mean_and_clip(moving_pair.image1)
    x, y = grid(a.shape)
    flat = np.full(a.shape, -15.0, np.float32)
    m = pattern_match(flat, flat, x, y)
    assert not m.valid.any() and (m.reason == Reason.NO_TEXTURE).all()
    m = pattern_match(a, np.full(a.shape, np.nan, np.float32), x, y)
    assert not m.valid.any() and (m.reason == Reason.BORDER_PEAK).all()  # nothing to rise to
    holed = a.copy()
    holed[:, :160] = np.nan
    m = pattern_match(holed, a, x, y)
    assert not m.valid[x < 160 + 17].any()
    assert (m.reason[x < 160 - 17] == Reason.NO_DATA).all()
    np.testing.assert_array_equal(m.valid, m.reason == Reason.VALID)


def test_drift_beyond_the_window_is_invalid_not_wrong():
    shape = (300, 300)
    pair = make_pair(
        displacement=DisplacementField(shape, translation=(30.0, 0.0)), shape=shape, seed=2
    )
    a, b = remove_mean_and_clip(pair.image1), remove_mean_and_clip(pair.image2)
    x, y = grid(shape)
    m = pattern_match(a, b, x, y, params=MatchParams(search=10))
    err = np.hypot(m.u - 30.0, m.v)
    assert m.valid.mean() < 0.1
    assert (err[m.valid] > 3).sum() == 0
    # each invalid vector's reason is one of the peak checks, mostly the border
    assert set(m.reason[~m.valid]) <= {Reason.BORDER_PEAK, Reason.WEAK_PEAK, Reason.AMBIGUOUS_PEAK}
    assert (m.reason == Reason.BORDER_PEAK).mean() > 0.5


def test_weak_and_ambiguous_peaks_are_told_apart(moving_pair):
    a, b = remove_mean_and_clip(moving_pair.image1), remove_mean_and_clip(moving_pair.image2)
    x, y = grid(a.shape)
    strict = pattern_match(a, b, x, y, params=MatchParams(search=24, min_quality=0.999))
    assert (strict.reason == Reason.WEAK_PEAK).all()
    picky = pattern_match(
        a, b, x, y, params=MatchParams(search=24, min_quality=-1, min_sharpness=1.5)
    )
    assert (picky.reason == Reason.AMBIGUOUS_PEAK).all()


def test_points_outside_a_smaller_second_image_are_invalid(moving_pair):
    a, b = remove_mean_and_clip(moving_pair.image1), remove_mean_and_clip(moving_pair.image2)
    x, y = grid(a.shape)
    m = pattern_match(a, b[:200, :], x, y, params=MatchParams(search=24))
    assert not m.valid[y + moving_pair.truth(x, y)[1] > 200].any()
    assert m.valid[y < 120].mean() > 0.8


def test_search_windows_that_cannot_fit_are_refused_with_the_largest_that_fits(monkeypatch):
    monkeypatch.setattr(resources, "memory_bytes", lambda: 16 * 2**30)
    with pytest.raises(KitError) as info:
        MatchParams(search=2000).check()
    assert str(info.value) == (
        "search=2000: matching 128 points in 4035 x 4035 px windows needs at least 77.6 GiB "
        "of memory; this machine has 16.0 GiB (largest search: 898 px with template=35)"
    )
    MatchParams(search=898).check()  # 128 windows of 1831 px: 16.0 GiB
    with pytest.raises(KitError):
        MatchParams(search=899).check()
