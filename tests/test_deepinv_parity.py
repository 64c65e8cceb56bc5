"""Parity with the authors' library: deepinv (Tachella et al.) maintains the EI and MC losses the paper
builds on. On the same tensors, with the same gains and the same network, the suite's eq. 11 (gradients
through both terms, ``stop_gradient=False``) and eq. 7 give the values and the parameter gradients of
``deepinv.loss.EILoss(no_grad=False)`` and ``deepinv.loss.MCLoss`` with a clipping physics ``A = eta``
and an amplitude transform ``T(x) = g x``, both written here in deepinv's terms (deepinv ships neither).

deepinv is a test extra (``pip install -e ".[test]"``), never a runtime dependency. deepinv imports
torchvision when it is imported, though its losses do not use it; where the installed torchvision cannot
load its compiled operators (PyPI's torchvision beside a CPU-only torch build), the test gives deepinv an
empty torchvision package and says so in its output.
"""

from __future__ import annotations

import importlib.machinery
import sys
import types

import pytest
import torch

TOL = 1e-6


class _EmptyPackages:
    """A meta-path finder that answers ``torchvision`` and its submodules with empty packages."""

    def find_spec(self, name, path=None, target=None):
        if name == "torchvision" or name.startswith("torchvision."):
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        module = types.ModuleType(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module):
        pass


@pytest.fixture(scope="module")
def dinv():
    try:
        import torchvision  # noqa: F401
    except ImportError:
        pass  # not installed: deepinv's own import says so below
    except Exception as exc:  # installed but its compiled operators do not load with this torch build
        print(f"torchvision cannot load ({type(exc).__name__}: {exc}); deepinv gets an empty torchvision")
        for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
            del sys.modules[name]
        sys.meta_path.insert(0, _EmptyPackages())
    try:
        import deepinv
    except ImportError as exc:
        pytest.skip(f"deepinv is not installed ({exc}): pip install -e '.[test]' installs it")
    return deepinv


def _setup(seed=0):
    from declipbench.models import MaskedReconstructor
    from declipbench.models.unet import UNet
    from declipbench.physics import Thresholds

    th = Thresholds.symmetric(0.5)
    torch.manual_seed(seed)
    net = UNet(dim=2, in_channels=1, channels=4, depth=2)
    model = MaskedReconstructor(net, th)
    x = torch.randn(3, 1, 16, 16, dtype=torch.float64)
    model = model.double()
    return th, model, x, torch.clamp(x, -0.5, 0.5)


def _physics(dinv, th):
    return dinv.physics.Physics(A=lambda x, **kw: torch.clamp(x, th.low, th.high))


def _gain_transform(dinv, gains):
    class AmplitudeGain(dinv.transform.Transform):
        """``T(x) = g x``, one gain per item (fixed here, drawn by ``p_g`` in training)."""

        def _get_params(self, x):
            return {"g": gains}

        def _transform(self, x, g=None, **params):
            return g.view(-1, *([1] * (x.ndim - 1))).to(x) * x

    return AmplitudeGain()


def _grads(model):
    return [p.grad.detach().clone() for p in model.parameters()]


def test_eq11_through_both_terms_equals_deepinv_eiloss_in_value_and_gradient(dinv):
    from declipbench.losses import LOSSES
    from declipbench.losses.ei import ei_loss

    th, model, _, y = _setup()
    gains = torch.tensor([1.3, 2.0, 3.7], dtype=torch.float64)

    model.zero_grad()
    ours = ei_loss(model(y), model, th, gains, stop_gradient=False)
    ours.backward()
    g_ours = _grads(model)

    model.zero_grad()
    theirs = dinv.loss.EILoss(transform=_gain_transform(dinv, gains), apply_noise=False, no_grad=False)(
        x_net=model(y), physics=_physics(dinv, th), model=lambda m, physics: model(m))
    theirs.backward()
    g_theirs = _grads(model)

    assert ours.item() > 0
    assert ours.item() == pytest.approx(theirs.item(), rel=TOL, abs=TOL)
    assert any(float(g.abs().max()) > 0 for g in g_ours)
    for a, b in zip(g_ours, g_theirs):
        assert torch.allclose(a, b, rtol=TOL, atol=TOL)

    # the suite's loss object (per-item values, averaged by the training loop) gives the same value when
    # its generator draws these gains
    loss = LOSSES["ei"](g_min=1.0, g_max=4.0)
    gen = torch.Generator().manual_seed(5)
    drawn = torch.rand(3, generator=torch.Generator().manual_seed(5), dtype=torch.float64) * 3.0 + 1.0
    value = loss(model(y), y, model=model, physics=th, generator=gen).mean()
    reference = dinv.loss.EILoss(transform=_gain_transform(dinv, drawn), apply_noise=False)(
        x_net=model(y), physics=_physics(dinv, th), model=lambda m, physics: model(m))
    assert value.item() == pytest.approx(reference.item(), rel=TOL, abs=TOL)


def test_the_detached_target_equals_deepinv_no_grad_and_differs_from_both_terms(dinv):
    """``stop_gradient`` is deepinv's ``no_grad=True``: same value, other gradient."""
    from declipbench.losses.ei import ei_loss

    th, model, _, y = _setup(1)
    gains = torch.tensor([1.5, 2.5, 3.0], dtype=torch.float64)
    model.zero_grad()
    ei_loss(model(y), model, th, gains, stop_gradient=True).backward()
    detached = _grads(model)
    model.zero_grad()
    dinv.loss.EILoss(transform=_gain_transform(dinv, gains), apply_noise=False, no_grad=True)(
        x_net=model(y), physics=_physics(dinv, th), model=lambda m, physics: model(m)).backward()
    for a, b in zip(detached, _grads(model)):
        assert torch.allclose(a, b, rtol=TOL, atol=TOL)
    model.zero_grad()
    ei_loss(model(y), model, th, gains, stop_gradient=False).backward()
    assert any(not torch.allclose(a, b, rtol=1e-3, atol=1e-9) for a, b in zip(detached, _grads(model)))


def test_eq7_equals_deepinv_mcloss_with_a_clipping_physics_under_the_masking_blend(dinv):
    """deepinv's MCLoss is ``||A(x_hat) - y||^2``, i.e. eq. 6 with ``A = eta``. Under eq. 13's masking blend
    (the estimate equals y on reliable samples) it is eq. 7 sample by sample: on a clipped-high sample
    ``(min(x_hat, tau) - tau)^2 = max(tau - x_hat, 0)^2``, the one-sided penalty, and low symmetrically; so
    values and gradients agree. Without the blend they differ where a reliable sample's estimate leaves
    ``(-tau, tau)`` (eq. 6's gradient vanishes there, eq. 7's does not), which the test checks too."""
    from declipbench.losses.mc import mc_loss

    th, model, x, y = _setup(2)
    model.zero_grad()
    ours = mc_loss(model(y), y, th)
    ours.backward()
    g_ours = _grads(model)
    model.zero_grad()
    theirs = dinv.loss.MCLoss()(y=y, x_net=model(y), physics=_physics(dinv, th))
    theirs.backward()
    assert ours.item() > 0
    assert ours.item() == pytest.approx(theirs.item(), rel=TOL, abs=TOL)
    for a, b in zip(g_ours, _grads(model)):
        assert torch.allclose(a, b, rtol=TOL, atol=TOL)

    x_hat = y.clone()
    reliable = y.abs() < th.high
    x_hat[reliable] = 2.0  # reliable estimates beyond tau: eq. 7 penalises them, eq. 6 only down to tau
    assert float(mc_loss(x_hat, y, th)) > float(dinv.loss.MCLoss()(y=y, x_net=x_hat, physics=_physics(dinv, th)))
