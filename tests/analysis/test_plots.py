import numpy as np

from keelrl.analysis.plots import mean_confidence_band


def test_band_is_the_student_t_interval_of_the_mean():
    curves = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])    # 3 seeds, 2 points: mean 3, 4; sd 2
    mean, lo, hi = mean_confidence_band(curves)
    half = 4.302652729911275 * 2.0 / np.sqrt(3)                # t_{0.975, 2} · s / √n
    np.testing.assert_allclose(mean, [3.0, 4.0])
    np.testing.assert_allclose(hi - mean, [half, half])
    np.testing.assert_allclose(mean - lo, [half, half])


def test_one_seed_has_no_band():
    mean, lo, hi = mean_confidence_band(np.array([[1.0, 2.0]]))
    assert (lo == mean).all() and (hi == mean).all()
