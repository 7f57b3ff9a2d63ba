"""Sanity checks: a constant map and an edge detector are flagged, a gradient map passes."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from captum_rank.checks import UserInputError
from captum_rank.data import load_sample
from captum_rank.metrics import (
    cascading_randomization,
    map_similarity,
    random_logit,
    random_map,
    sobel_map,
    verdict,
)
from captum_rank.zoo import load


def gradient_map(model: nn.Module, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    x = x.clone().requires_grad_(True)
    out = model(x).gather(1, target[:, None]).sum()
    (grad,) = torch.autograd.grad(out, x)
    return grad


def constant_map(model: nn.Module, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return torch.ones_like(x)


@pytest.fixture(scope="module")
def trained() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    model = load("fmnist-natural")
    x, y = load_sample()
    return model, x[::20][:8], y[::20][:8]


def test_gradient_map_passes_on_a_trained_model(trained: tuple) -> None:
    model, x, y = trained
    curves = cascading_randomization(model, gradient_map, x, y, seed=0)
    assert curves.stages[0] != curves.stages[-1]
    assert verdict(curves)
    # Randomising the top layer alone already changes the map; the curve ends low.
    assert curves.spearman[-1].mean() < 0.5
    assert torch.all(curves.spearman <= 1.0)


def test_constant_map_and_edge_detector_are_flagged(trained: tuple) -> None:
    model, x, y = trained
    for control in (constant_map, sobel_map):
        curves = cascading_randomization(model, control, x, y, seed=0)
        assert not verdict(curves)
        torch.testing.assert_close(curves.spearman, torch.ones_like(curves.spearman))
        torch.testing.assert_close(curves.ssim, torch.ones_like(curves.ssim))


def test_random_map_passes_trivially(trained: tuple) -> None:
    model, x, y = trained
    curves = cascading_randomization(model, random_map, x, y)
    assert verdict(curves)


def test_random_logit_separates_gradient_from_edges(trained: tuple) -> None:
    model, x, y = trained
    grad = random_logit(model, gradient_map, x, y, num_classes=10, seed=0)
    edges = random_logit(model, sobel_map, x, y, num_classes=10, seed=0)
    assert all(c != t for c, t in zip(grad.notes["classes"], y.tolist(), strict=True))
    assert float(edges.spearman.mean()) == pytest.approx(1.0)
    assert float(grad.spearman.mean()) < float(edges.spearman.mean())


def test_model_is_not_modified(trained: tuple) -> None:
    model, x, y = trained
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cascading_randomization(model, gradient_map, x[:2], y[:2])
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key])


def test_similarity_is_never_nan_and_is_symmetric_in_identity() -> None:
    a = torch.rand(3, 2, 6, 6)
    s, q = map_similarity(a, a)
    assert torch.all(s == 1) and torch.all(q == 1)
    s, q = map_similarity(torch.zeros_like(a), a)
    assert not torch.isnan(s).any() and not torch.isnan(q).any()
    assert torch.all(s == 0)
    s, _ = map_similarity(a, -a)  # absolute values: a sign flip is the same map
    assert torch.all(s == 1)


def test_errors() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    x = torch.rand(2, 1, 4, 4)
    with pytest.raises(UserInputError, match="layers"):
        cascading_randomization(model, sobel_map, x, 0, layers=["nope"])
    with pytest.raises(UserInputError, match="num_classes"):
        random_logit(model, sobel_map, x, 0, num_classes=1)
    with pytest.raises(UserInputError, match="same shape"):
        map_similarity(x, x[:1])
    with pytest.raises(UserInputError, match="metric"):
        verdict(cascading_randomization(model, sobel_map, x, 0), metric="psnr")


def test_a_stage_may_be_a_block_or_a_group_of_modules() -> None:
    # Deep models are randomised block by block: a stage names a module with nested
    # parameters, or lists several modules; every parameter under them changes at once.
    torch.manual_seed(0)
    block = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.ReLU())
    model = nn.Sequential(block, nn.Flatten(), nn.Linear(2 * 4 * 4, 3), nn.Linear(3, 3)).eval()
    x = torch.rand(2, 1, 4, 4)
    seen: list[list[Tensor]] = []

    def record(m: nn.Module, inputs: Tensor, target: Tensor) -> Tensor:
        seen.append([p.detach().clone() for p in m.parameters()])
        return sobel_map(m, inputs, target)

    curves = cascading_randomization(model, record, x, 0, layers=[["3", "2"], "0"])
    assert curves.stages == ["3 .. 2", "0"]
    trained, after_group, after_block = seen
    changed = [[not torch.equal(a, b) for a, b in zip(trained, later, strict=True)]
               for later in (after_group, after_block)]
    # parameters in order: conv w, conv b, bn w, bn b, linear2 w/b, linear3 w/b
    assert changed[0] == [False, False, False, False, True, True, True, True]
    assert changed[1] == [True] * 8
    assert next(iter(model.parameters())).equal(trained[0])  # the model itself is untouched
    with pytest.raises(UserInputError, match="empty group"):
        cascading_randomization(model, sobel_map, x, 0, layers=[[]])
    with pytest.raises(UserInputError, match="not modules with parameters"):
        cascading_randomization(model, sobel_map, x, 0, layers=[["3", "1"]])
