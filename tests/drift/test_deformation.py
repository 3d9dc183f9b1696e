import numpy as np

from kit.drift.deformation import grid_deformation, triangle_strain_rates


def linear_field():
    yy, xx = np.mgrid[0:10, 0:12].astype(float)
    return xx, yy, 0.01 * xx + 0.02 * yy, -0.03 * xx + 0.04 * yy


def test_grid_deformation_of_a_linear_field():
    _, _, u, v = linear_field()
    d = grid_deformation(u, v, spacing=2.0, dt=0.5)  # gradients per 2 px, rates per 0.5
    np.testing.assert_allclose(d.divergence, (0.01 + 0.04) / 2 / 0.5)
    np.testing.assert_allclose(d.shear, np.hypot(0.01 - 0.04, 0.02 - 0.03) / 2 / 0.5)
    np.testing.assert_allclose(d.total, np.hypot(d.divergence, d.shear))


def test_triangle_strain_rates_of_a_linear_field_and_rotation():
    x, y, u, v = linear_field()
    d = triangle_strain_rates(x, y, u, v)
    assert d.triangles.shape[1] == 3 and len(d.divergence) == len(d.triangles)
    np.testing.assert_allclose(d.divergence, 0.05, atol=1e-12)
    a = np.radians(
        2.0
    )  # a rigid rotation: no shear, divergence 2 (cos a - 1) (finite displacement)
    ur = np.cos(a) * x - np.sin(a) * y - x
    vr = np.sin(a) * x + np.cos(a) * y - y
    r = triangle_strain_rates(x, y, ur, vr)
    assert np.abs(r.shear).max() < 1e-12
    np.testing.assert_allclose(r.divergence, 2 * (np.cos(a) - 1), atol=1e-12)
