import numpy as np
import pytest
import torch

from declipbench.losses import ei_loss, mc_loss, naive_mc_loss, sample_gains, supervised_loss
from declipbench.physics import Thresholds, clip

TH = Thresholds.symmetric(1.0)


def test_mc_loss_hand_computed():
    y = torch.tensor([0.5, 1.0, -1.0, 1.0])  # reliable, high, low, high
    x_hat = torch.tensor([0.7, 0.6, -0.2, 1.5])
    # reliable: (0.7-0.5)^2 = 0.04; high: phi(1-0.6)=0.16; low: phi(-0.2-(-1))=0.64; high beyond tau: 0
    expected = (0.04 + 0.16 + 0.64 + 0.0) / 4
    assert mc_loss(x_hat, y, TH).item() == pytest.approx(expected, rel=1e-6)


def test_mc_loss_zero_for_consistent_estimate():
    x = torch.linspace(-3, 3, 101)
    y = clip(x, TH)
    assert mc_loss(x, y, TH).item() == 0.0
    # anything beyond the threshold on clipped samples is consistent too (eq. 8: MC cannot learn it)
    assert mc_loss(torch.where(y.abs() >= 1, 5 * y, y), y, TH).item() == 0.0


def test_mc_loss_gradient_on_wrong_side_of_tau():
    y = torch.tensor([1.0, -1.0])
    x_hat = torch.tensor([0.5, -0.5], requires_grad=True)  # inside the band although clipped
    mc_loss(x_hat, y, TH).backward()
    assert x_hat.grad[0] < 0 and x_hat.grad[1] > 0  # descent pushes them out past +-tau
    # naive MC has the same minimisers here but no gradient once beyond tau
    x2 = torch.tensor([1.5, -1.5], requires_grad=True)
    naive_mc_loss(x2, y, TH).backward()
    assert torch.all(x2.grad == 0)


def test_naive_mc_loss_hand_computed():
    y = torch.tensor([0.5, 1.0])
    x_hat = torch.tensor([0.0, 3.0])
    assert naive_mc_loss(x_hat, y, TH).item() == pytest.approx(0.25 / 2)


def test_supervised_loss_hand_computed():
    assert supervised_loss(torch.tensor([1.0, 2.0]), torch.tensor([0.0, 0.0])).item() == pytest.approx(2.5)


def test_ei_loss_zero_for_ideal_equivariant_reconstructor():
    # toy signal set: multiples of one fixed waveform s, invariant to amplitude scaling. The ideal
    # reconstructor recovers a*s from eta(a*s) exactly (the amplitude is the slope at a reliable sample).
    s = torch.sin(torch.linspace(0.1, 3.0, 64))

    def ideal(y):
        a = y[:, 0] / s[0]  # the first sample is never clipped for the amplitudes used here
        return a[:, None] * s[None, :]

    a = torch.tensor([1.5, 2.0, 3.0])
    x = a[:, None] * s[None, :]
    y = clip(x, TH)
    x_hat = ideal(y)
    torch.testing.assert_close(x_hat, x)
    g = torch.tensor([1.2, 1.7, 2.0])
    assert ei_loss(x_hat, ideal, TH, g).item() == pytest.approx(0.0, abs=1e-10)
    # a non-equivariant reconstructor (identity) pays
    assert ei_loss(x_hat, lambda y: y, TH, g).item() > 0.1


def test_ei_loss_hand_computed_and_gradients_through_both_terms():
    x_hat = torch.tensor([[0.5, 2.0]], requires_grad=True)
    g = torch.tensor([2.0])
    loss = ei_loss(x_hat, lambda y: y, TH, g)  # f = identity: f(eta(g x)) = eta(g x) = [1, 1]
    # g x = [1, 4]; error [0, 3] -> mean 9/2
    assert loss.item() == pytest.approx(4.5)
    loss.backward()
    # d/dx_hat of mean((g x - clip(g x))^2): only the second entry, 2*(4-1)*g/2 = 6
    torch.testing.assert_close(x_hat.grad, torch.tensor([[0.0, 6.0]]))


def test_sample_gains_ranges_and_seed():
    g1 = sample_gains(10000, 1.0, 3.0, "uniform", torch.Generator().manual_seed(0))
    g2 = sample_gains(10000, 1.0, 3.0, "uniform", torch.Generator().manual_seed(0))
    torch.testing.assert_close(g1, g2)
    assert g1.min() >= 1.0 and g1.max() <= 3.0
    assert g1.mean().item() == pytest.approx(2.0, abs=0.03)
    lg = sample_gains(10000, 1.0, 4.0, "log_uniform", torch.Generator().manual_seed(0))
    assert torch.log(lg).mean().item() == pytest.approx(np.log(4.0) / 2, abs=0.03)
    with pytest.raises(ValueError, match="unknown gain distribution"):
        sample_gains(3, 1, 2, "gaussian", torch.Generator())


def test_ei_target_weights_and_weighted_residual():
    from declipbench.losses import ei_target_weights

    y = torch.tensor([[0.5, 1.0, -1.0, 0.2]])
    w = ei_target_weights(y, TH, 0.25)
    torch.testing.assert_close(w, torch.tensor([[1.0, 0.25, 0.25, 1.0]]))
    # weight 0 on the clipped samples: only residuals whose target is measured data count
    x_hat = torch.tensor([[0.8, 3.0, -1.0, 0.2]])
    g = torch.tensor([2.0])
    full = ei_loss(x_hat, lambda v: v, TH, g, reduction="item")
    kept = ei_loss(x_hat, lambda v: v, TH, g, reduction="item", sample_weight=ei_target_weights(y, TH, 0.0))
    # g x = [1.6, 6, -2, 0.4]; identity f returns eta: residuals [0.6, 5, -1, 0]
    assert full.item() == pytest.approx((0.36 + 25 + 1) / 4)
    assert kept.item() == pytest.approx(0.36 / 4)


def test_item_reduction_matches_mean():
    y = torch.tensor([[0.5, 1.0], [0.2, -1.0]])
    x_hat = torch.tensor([[0.7, 0.6], [0.1, -0.5]])
    per_item = mc_loss(x_hat, y, TH, reduction="item")
    assert per_item.shape == (2,)
    assert per_item.mean().item() == pytest.approx(mc_loss(x_hat, y, TH).item())


# --------------------------------------------------------------------------------- loss objects
def test_every_registered_loss_has_the_one_signature():
    from declipbench.losses import LOSSES

    assert {"mc", "naive_mc", "ei", "supervised"} <= set(LOSSES)
    y = torch.tensor([[0.5, 1.0, -1.0, 0.2], [1.0, 0.3, -0.4, -1.0]])
    x = torch.tensor([[0.5, 1.4, -1.2, 0.2], [1.1, 0.3, -0.4, -2.0]])
    x_hat = torch.tensor([[0.6, 1.2, -0.8, 0.2], [1.3, 0.3, -0.4, -1.0]])
    for name, cls in LOSSES.items():
        loss = cls(**{k: v.default for k, v in cls.declaration().items()})
        value = loss(x_hat, y, x, model=lambda v: v, physics=TH, generator=torch.Generator().manual_seed(0))
        assert value.shape == (2,) and torch.all(value >= 0), name
        assert loss.weight == 1.0 and cls.name == name


def test_loss_objects_compute_the_functions_of_the_paper():
    from declipbench.losses.ei import EILoss
    from declipbench.losses.mc import MCLoss
    from declipbench.losses.supervised import SupervisedLoss

    y = torch.tensor([[0.5, 1.0, -1.0, 0.2]])
    x_hat = torch.tensor([[0.8, 3.0, -1.0, 0.2]])
    x = torch.tensor([[0.5, 2.0, -1.5, 0.2]])
    f = lambda v: 0.9 * v  # noqa: E731
    torch.testing.assert_close(MCLoss()(x_hat, y, model=f, physics=TH), mc_loss(x_hat, y, TH, reduction="item"))
    torch.testing.assert_close(SupervisedLoss()(x_hat, y, x, model=f, physics=TH),
                               supervised_loss(x_hat, x, reduction="item"))
    ei = EILoss(g_min=1.0, g_max=3.0, distribution="uniform", stop_gradient=False, core_weight=1.0)
    got = ei(x_hat, y, model=f, physics=TH, generator=torch.Generator().manual_seed(7))
    g = sample_gains(1, 1.0, 3.0, "uniform", torch.Generator().manual_seed(7))
    torch.testing.assert_close(got, ei_loss(x_hat, f, TH, g, reduction="item"))
    with pytest.raises(ValueError, match="needs the clean signals"):
        SupervisedLoss()(x_hat, y, None, model=f, physics=TH)


def test_a_new_loss_is_a_class_and_a_name():
    """Registering a class is all it takes for a variant's ``losses:`` list and the parameters to know it."""
    from declipbench.losses import LOSSES, Loss, register
    from declipbench.foundation.parameters import Param
    from declipbench.pipeline.plugins import method_params
    from declipbench.training.learned import NetworkMethod

    @register
    class L1Loss(Loss):
        name = "l1_test"
        needs_clean = True
        parameters = {"power": Param(1.0, float, above=0)}

        def __call__(self, x_hat, y, x=None, *, model, physics, generator=None):
            return (x_hat - x).abs().pow(self.params["power"]).flatten(1).mean(1)

    class Pairs(NetworkMethod):
        supervision = "pairs"

    try:
        p = method_params(Pairs, {"losses": ["supervised", "l1_test"], "l1_test": {"weight": 0.5}}, "w")
        assert p["l1_test"] == {"weight": 0.5, "power": 1.0}
        terms = NetworkMethod.losses(p)
        assert [t.name for t in terms] == ["supervised", "l1_test"] and terms[1].weight == 0.5
    finally:
        del LOSSES["l1_test"]


def test_ei_leaves_out_items_mostly_above_the_threshold_as_the_authors_2024_code():
    """``max_saturated_fraction`` (the first author's ``no_div``, 0.7): an item whose g x_hat is above the
    upper threshold on at least that fraction of samples is left out; the batch mean is then the mean over
    the kept items."""
    x_hat = torch.tensor([[2.0, 2.0, 2.0, 0.1], [0.2, 0.1, -0.3, 0.4], [0.5, -0.2, 0.3, 0.0]])
    g = torch.tensor([1.0, 2.0, 1.5])
    f = lambda v: 0.8 * v  # noqa: E731
    per_item = ei_loss(x_hat, f, TH, g, reduction="item", max_saturated_fraction=0.7)
    assert per_item[0].item() == 0.0  # 3 of 4 samples of g x_hat above 1: left out
    full = ei_loss(x_hat, f, TH, g, reduction="item")
    torch.testing.assert_close(per_item[1:], full[1:] * 3 / 2)  # scaled: mean over the 2 kept items
    torch.testing.assert_close(per_item.mean(), full[1:].mean())
    torch.testing.assert_close(ei_loss(x_hat, f, TH, g, max_saturated_fraction=0.7), full[1:].mean())
    # at 0.8 nothing is left out; when every item is, the term is 0 and still differentiable
    torch.testing.assert_close(ei_loss(x_hat, f, TH, g, reduction="item", max_saturated_fraction=0.8), full)
    xh = x_hat[:1].clone().requires_grad_(True)
    zero = ei_loss(xh, f, TH, g[:1], reduction="item", max_saturated_fraction=0.5)
    zero.sum().backward()
    assert zero.item() == 0.0 and xh.grad is not None and not xh.grad.any()


def test_ei_target_on_clipped_samples_can_be_the_measurement():
    """``target_on_clipped: measurement`` (the first author's ``use_mask``): where y is clipped the target
    g x_hat is g y, so no gradient reaches the estimate there."""
    from declipbench.losses.ei import EILoss

    y = torch.tensor([[0.5, 1.0, -1.0, 0.2]])
    x_hat = torch.tensor([[0.5, 3.0, -2.0, 0.2]], requires_grad=True)
    f = lambda v: 0.9 * v  # noqa: E731
    ei = EILoss(g_min=1.5, g_max=1.5, target_on_clipped="measurement")
    got = ei(x_hat, y, model=f, physics=TH, generator=torch.Generator().manual_seed(0))
    want = ei_loss(torch.tensor([[0.5, 1.0, -1.0, 0.2]]), f, TH, torch.tensor([1.5]), reduction="item")
    torch.testing.assert_close(got, want)
    got.sum().backward()
    assert x_hat.grad[0, 1] == 0 and x_hat.grad[0, 2] == 0 and x_hat.grad[0, 0] != 0
