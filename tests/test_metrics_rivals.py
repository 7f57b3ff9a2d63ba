"""The rival methods behind one signature, against their definitions."""

from __future__ import annotations

import torch
from captum.attr import IntegratedGradients
from torch import nn

from captum_rank.metrics.rivals import (
    blur_ig,
    gradient_shap,
    guided_ig,
    integrated_gradients,
    rank_integrated_gradients,
)


def model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.Softplus(), nn.Flatten(),
                         nn.Linear(3 * 6 * 6, 4)).double()


def test_every_rival_is_complete_or_close_on_a_smooth_model() -> None:
    net = model()
    x = torch.rand(2, 2, 6, 6, dtype=torch.float64)
    t = torch.tensor([1, 3])
    gap = (net(x) - net(torch.zeros_like(x))).gather(1, t[:, None])[:, 0].detach()
    for explain in (integrated_gradients(64), rank_integrated_gradients(64),
                    guided_ig(64, max_dist=0.0)):
        total = explain(net, x, t).sum((1, 2, 3))
        torch.testing.assert_close(total, gap, rtol=1e-2, atol=1e-3)


def test_guided_ig_with_no_deviation_is_ig_and_gradient_shap_is_seeded() -> None:
    net = model()
    x = torch.rand(1, 2, 6, 6, dtype=torch.float64)
    ig = IntegratedGradients(net).attribute(x, target=2, n_steps=200, method="riemann_left")
    gig = guided_ig(200, max_dist=0.0)(net, x, torch.tensor([2]))
    torch.testing.assert_close(gig, ig, rtol=0.05, atol=2e-3)
    first = gradient_shap(8, seed=1)(net, x, torch.tensor([2]))
    assert torch.equal(first, gradient_shap(8, seed=1)(net, x, torch.tensor([2])))


def test_blur_ig_is_finite_with_the_input_shape() -> None:
    net = model()
    x = torch.rand(2, 2, 6, 6, dtype=torch.float64)
    out = blur_ig(8)(net, x, torch.tensor([0, 1]))
    assert out.shape == x.shape and torch.isfinite(out).all()
