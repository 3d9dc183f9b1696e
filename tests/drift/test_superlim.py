import numpy as np
import pytest
import torch
from scipy import ndimage

from kit.drift.io import read_s1_geotiff
from kit.drift.metrics import scored_errors
from kit.drift.preprocess import remove_mean_and_clip, to_db
from kit.drift.superlim import (
    DEFAULT_WEIGHTS,
    SuperLIM,
    SuperLIMTrainConfig,
    keypoint_map,
    load_superlim,
    network_input,
    sample_batch,
    save_superlim,
    superlim_loss,
    train_superlim,
)
from kit.drift.superlim.matching import _apply, _inverse, derotate, estimate_alignment, rigid_ransac
from kit.drift.synthetic import DisplacementField, make_pair, synthetic_texture
from kit.drift.track import track

#: superlim+pm's valid fraction on the rotated 400 px crops (measured 0.93-1.00 at 0, 60, 120
#: and 180 degrees; before de-rotation 0.00-0.02 at 60-180 degrees, every kept vector wrong)
MIN_VALID_ROTATED = 0.85


def test_forward_shapes_and_unit_descriptors():
    model = SuperLIM().eval()
    with torch.no_grad():
        logits, desc = model(torch.zeros(2, 1, 64, 96))
    assert logits.shape == (2, 65, 8, 12) and desc.shape == (2, 64, 8, 12)
    norms = desc.norm(dim=1)
    assert torch.allclose(norms[norms > 0], torch.ones_like(norms[norms > 0]), atol=1e-5)
    heat = keypoint_map(logits)
    assert heat.shape == (2, 1, 64, 96) and float(heat.max()) <= 1.0
    assert network_input(np.ones((30, 41))).shape == (1, 1, 32, 48)


def test_training_batch_follows_the_affine():
    cfg = SuperLIMTrainConfig(batch=2, patch=64, looks=1e6)
    sources = [synthetic_texture((256, 256), seed=0)]
    p1, p2, mats = sample_batch(sources, np.random.default_rng(0), cfg)
    assert p1.shape == p2.shape == (2, 1, 64, 64) and mats.shape == (2, 2, 3)
    # patch-2 at A(p) shows what patch-1 shows at p (up to the random gain, removed by ranks)
    c = 31.5
    a = mats[0].numpy()
    q = a[:, :2] @ np.array([40 - c, 30 - c]) + a[:, 2] + c
    ref = p1[0, 0].numpy()
    assert abs(p2[0, 0, int(round(q[1])), int(round(q[0]))] - ref[30, 40]) < 1.0


def test_a_few_training_steps_lower_the_loss_on_a_fixed_batch():
    torch.manual_seed(0)
    cfg = SuperLIMTrainConfig(batch=4, patch=64)
    p1, p2, mats = sample_batch(
        [synthetic_texture((256, 256), seed=1)], np.random.default_rng(1), cfg
    )
    model = SuperLIM()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(6):
        loss, parts = superlim_loss(model, p1, p2, mats, cfg)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        assert set(parts) == {"descriptor", "keypoint", "consistency", "match_accuracy"}
    assert np.isfinite(losses).all() and losses[-1] < losses[0]


def test_train_save_and_load(tmp_path):
    cfg = SuperLIMTrainConfig(steps=2, batch=2, patch=64, device="cpu")
    model, history = train_superlim(cfg, [synthetic_texture((256, 256), seed=2)], progress=False)
    assert len(history) == 2 and np.isfinite(history[-1]["loss"])
    path = tmp_path / "s.pt"
    save_superlim(model, path, cfg)
    loaded = load_superlim(path, device="cpu")
    x = torch.randn(1, 1, 32, 32)
    with torch.no_grad():
        np.testing.assert_allclose(
            loaded(x)[1].numpy(), model(x)[1].numpy(), atol=2e-2
        )  # float16 storage


def test_committed_checkpoint_is_small_and_loads():
    assert DEFAULT_WEIGHTS.stat().st_size < 5 * 1024 * 1024
    model = load_superlim(device="cpu")
    assert isinstance(model, SuperLIM) and not model.training


# ------------------------------------------------------------------------------------------
# Large rotations: de-rotation of image 2 (geolocation or `estimate_alignment`)
# ------------------------------------------------------------------------------------------


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
