import numpy as np

from kit.drift.preprocess import (
    clip_percentiles,
    remove_mean_and_clip,
    remove_spatial_mean,
    to_db,
    to_uint8,
)


def test_to_db_marks_non_positive_as_no_data():
    out = to_db(np.array([1.0, 0.1, 0.0, -1.0, np.nan]))
    np.testing.assert_allclose(out[:2], [0.0, -10.0])
    assert np.isnan(out[2:]).all()


def test_mean_removal_and_clipping_keep_nan():
    rng = np.random.default_rng(0)
    image = rng.normal(-20, 2, size=(64, 64)).astype(np.float32) + np.linspace(0, 5, 64)[None]
    image[0, 0], image[1, 1], image[2, 2] = np.nan, 100.0, -100.0
    flat = remove_spatial_mean(image, sigma=8)
    assert np.isnan(flat[0, 0]) and abs(np.nanmean(flat[:, 20:44])) < 0.5
    assert abs(np.nanmean(remove_spatial_mean(image))) < 1e-4
    clipped = clip_percentiles(image, 1, 99)
    assert np.nanmax(clipped) < 100 and np.nanmin(clipped) > -100
    assert np.isnan(remove_mean_and_clip(image)[0, 0])


def test_to_uint8_reserves_zero_for_no_data():
    out = to_uint8(np.array([[np.nan, 0.0], [1.0, 2.0]], np.float32))
    assert out[0, 0] == 0 and out[0, 1] == 1 and out[1, 1] == 255
    assert (to_uint8(np.full((3, 3), 5.0)) == 128).all()
