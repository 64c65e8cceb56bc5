import math

import numpy as np
import pytest
import torch

from declipbench.metrics.sdr import sdr_db, sdr_db_items
from declipbench.physics import Thresholds, clip, clipped_mask, has_clipping, haar_orthogonal, masks, tau_for_input_sdr


def test_clip_symmetric_hand_case():
    th = Thresholds.symmetric(0.5)
    x = np.array([-1.0, -0.5, -0.2, 0.0, 0.49, 0.5, 2.0])
    np.testing.assert_array_equal(clip(x, th), [-0.5, -0.5, -0.2, 0.0, 0.49, 0.5, 0.5])
    t = torch.tensor(x)
    np.testing.assert_array_equal(clip(t, th).numpy(), clip(x, th))


def test_clip_upper_only_for_images():
    th = Thresholds.upper(1.0)
    np.testing.assert_array_equal(clip(np.array([-0.1, 0.3, 1.0, 4.0]), th), [0.0, 0.3, 1.0, 1.0])


def test_masks_partition_samples():
    th = Thresholds.symmetric(0.5)
    y = clip(np.array([-1.0, -0.5, -0.2, 0.0, 0.5, 0.7]), th)
    r, h, low = masks(y, th)
    np.testing.assert_array_equal(r, [False, False, True, True, False, False])
    np.testing.assert_array_equal(h, [False, False, False, False, True, True])
    np.testing.assert_array_equal(low, [True, True, False, False, False, False])
    assert np.all(r.astype(int) + h + low == 1)
    np.testing.assert_array_equal(clipped_mask(y, th), h | low)


def test_has_clipping_per_item():
    th = Thresholds.symmetric(0.1)
    y = clip(np.array([[0.0, 0.05], [0.0, 0.3]]), th)
    np.testing.assert_array_equal(has_clipping(y, th), [False, True])


@pytest.mark.parametrize("bad", [0.0, -1.0])
def test_thresholds_reject_non_positive_tau(bad):
    with pytest.raises(ValueError, match="tau"):
        Thresholds.symmetric(bad)


def test_sdr_hand_computed():
    x = np.array([3.0, 4.0])  # ||x||^2 = 25
    x_hat = np.array([3.0, 3.0])  # error energy 1
    assert sdr_db(x, x_hat) == pytest.approx(10 * math.log10(25.0))
    assert sdr_db(x, x) == math.inf


def test_sdr_of_items_is_the_sdr_of_each_item_exactly():
    """One SDR formula: the per-item version (validation SDR, measurement manifests, figures) gives the
    very numbers of the per-signal one (tables, surveys), bit for bit, images included."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 300)).astype(np.float32)
    x_hat = x + 0.1 * rng.standard_normal((5, 300)).astype(np.float32)
    x_hat[2] = x[2]
    per_item = sdr_db_items(x, x_hat)
    assert per_item[2] == math.inf
    assert list(per_item) == [sdr_db(a, b) for a, b in zip(x, x_hat)]
    imgs = rng.random((3, 3, 8, 8))
    assert list(sdr_db_items(imgs, imgs * 0.9)) == [sdr_db(a, a * 0.9) for a in imgs]


@pytest.mark.parametrize("target", [1.0, 3.0, 5.0, 7.0, 10.0, 15.0, 20.0])
def test_tau_for_input_sdr_hits_target(target):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(4000) * np.hanning(4000)
    tau = tau_for_input_sdr(x, target)
    assert 0 < tau < 0.99 * np.abs(x).max()
    assert sdr_db(x, np.clip(x, -tau, tau)) == pytest.approx(target, abs=1e-3)


def test_tau_for_input_sdr_to_machine_precision():
    """tol=0 (the survey experiments, as clip_sdr.m's fzero): the threshold is within a few floats of the
    root, far tighter than the default tolerance, which leaves it ~1e-7 of the peak away."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal(4000) * np.hanning(4000)
    exact = tau_for_input_sdr(x, 5.0, tol=0.0, max_iter=2000)
    f = lambda t: sdr_db(x, np.clip(x, -t, t)) - 5.0  # noqa: E731
    ulp = np.spacing(exact)
    assert f(exact - 4 * ulp) <= 0 <= f(exact + 4 * ulp)
    assert abs(tau_for_input_sdr(x, 5.0) - exact) > 100 * ulp          # the default stops earlier
    with pytest.raises(ValueError, match="tol"):
        tau_for_input_sdr(x, 5.0, tol=-1.0)


def test_tau_for_input_sdr_out_of_range_is_clear():
    x = np.sin(np.linspace(0, 20, 1000))
    with pytest.raises(ValueError, match="outside the reachable range"):
        tau_for_input_sdr(x, 200.0)


def test_haar_matrix_is_orthogonal_and_varies_with_seed():
    q1 = haar_orthogonal(50, np.random.default_rng(1))
    q2 = haar_orthogonal(50, np.random.default_rng(2))
    np.testing.assert_allclose(q1.T @ q1, np.eye(50), atol=1e-10)
    assert not np.allclose(q1, q2)


def test_haar_sign_fix_gives_unbiased_entries():
    # without the sign fix, R's diagonal is positive and Q is not Haar-distributed (E[Q_11] < 0 with
    # LAPACK's convention); with it, E[Q_11] = 0.
    rng = np.random.default_rng(0)
    vals = np.array([haar_orthogonal(4, rng)[0, 0] for _ in range(3000)])
    assert abs(vals.mean()) < 0.05
    raw = np.array([np.linalg.qr(rng.standard_normal((4, 4)))[0][0, 0] for _ in range(3000)])
    assert abs(raw.mean()) > 0.2  # the test can tell the difference
