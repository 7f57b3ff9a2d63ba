"""Rank-space deletion/insertion against an affine model's exact per-component answer."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from captum_rank import RankIntegratedGradients
from captum_rank.checks import UserInputError
from captum_rank.metrics import rank_components, rank_deletion, singular_values


def affine(c: int, h: int, w: int, seed: int) -> tuple[nn.Module, np.ndarray, float]:
    rng = np.random.default_rng(seed)
    weight = rng.normal(size=(c, h, w))
    bias = float(rng.normal())
    model = nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, 1)).double()
    with torch.no_grad():
        model[1].weight.copy_(torch.tensor(weight.reshape(1, -1)))
        model[1].bias.fill_(bias)
    return model, weight, bias


def exact_contributions(x: np.ndarray, base: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """s_i u_i^T W v_i per channel and component, with numpy's SVD (the oracle)."""
    out = []
    for xc, bc, wc in zip(x, base, weight, strict=True):
        u, s, vh = np.linalg.svd(xc - bc, full_matrices=False)
        out.append([s[i] * u[:, i] @ wc @ vh[i] for i in range(len(s))])
    return np.array(out)


@pytest.mark.parametrize("shape", [(1, 6, 6), (3, 5, 7), (2, 8, 4)])
def test_affine_deletion_matches_exact_component_contributions(shape: tuple) -> None:
    c, h, w = shape
    model, weight, bias = affine(c, h, w, seed=c * 10 + h)
    rng = np.random.default_rng(5)
    x = rng.random((1, c, h, w))
    base = np.full((1, c, h, w), 0.3)
    contributions = exact_contributions(x[0], base[0], weight)
    scores = torch.tensor(rng.normal(size=contributions.shape))[None]
    total = contributions.size
    counts = list(range(total + 1))
    curves = rank_deletion(model, torch.tensor(x), scores, torch.tensor(base), 0,
                           score="output", counts=counts)
    order = np.argsort(-scores[0].numpy().reshape(-1), kind="stable")
    f_x = float((weight * x[0]).sum() + bias)
    expected = f_x - np.concatenate([[0.0], np.cumsum(contributions.reshape(-1)[order])])
    np.testing.assert_allclose(curves.curves[0].numpy(), expected, atol=1e-9)
    inserted = rank_deletion(model, torch.tensor(x), scores, torch.tensor(base), 0,
                             score="output", counts=counts, mode="insertion")
    f_base = float((weight * base[0]).sum() + bias)
    expected_ins = f_base + np.concatenate([[0.0],
                                            np.cumsum(contributions.reshape(-1)[order])])
    np.testing.assert_allclose(inserted.curves[0].numpy(), expected_ins, atol=1e-9)


def test_rig_rank_attributions_are_the_exact_contributions_and_the_best_order() -> None:
    model, weight, _ = affine(2, 6, 6, seed=3)
    x = torch.rand(1, 2, 6, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    ranks = RankIntegratedGradients(model).attribute_ranks(x, target=0, n_steps=8)
    exact = exact_contributions(x[0].numpy(), np.zeros((2, 6, 6)), weight)
    np.testing.assert_allclose(ranks[0].numpy(), exact, atol=1e-8)
    best = rank_deletion(model, x, ranks, None, 0, score="output", steps=12)
    by_sv = rank_deletion(model, x, singular_values(x), None, 0, score="output", steps=12)
    rand = rank_deletion(model, x, torch.rand_like(ranks), None, 0, score="output", steps=12)
    assert float(best.auc()[0]) <= float(by_sv.auc()[0]) + 1e-9
    assert float(best.auc()[0]) <= float(rand.auc()[0]) + 1e-9


def test_random_order_sits_at_its_expected_value() -> None:
    # Affine score, random order: E[curve(k)] = F(x) - (k / K) (F(x) - F(x')).
    model, _, _ = affine(1, 6, 6, seed=7)
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(1, 1, 6, 6, dtype=torch.float64, generator=gen).expand(400, -1, -1, -1)
    scores = torch.rand(400, 1, 6, dtype=torch.float64, generator=gen)
    curves = rank_deletion(model, x, scores, None, 0, score="output", counts=list(range(7)))
    with torch.no_grad():
        f_x, f_0 = float(model(x[:1])[0, 0]), float(model(torch.zeros_like(x[:1]))[0, 0])
    expected = (f_x + f_0) / 2
    auc = curves.auc().numpy()
    assert abs(auc.mean() - expected) < 4 * auc.std(ddof=1) / np.sqrt(len(auc)) + 1e-12


def test_components_match_torch_svd_and_reach_the_baseline() -> None:
    x = torch.rand(2, 3, 5, 4, dtype=torch.float64)
    u, s, vh = rank_components(x, 0.5)
    torch.testing.assert_close((u * s.unsqueeze(-2)) @ vh, x - 0.5)
    torch.testing.assert_close(s, torch.linalg.svdvals(x - 0.5))


def test_errors() -> None:
    model, _, _ = affine(1, 4, 4, seed=0)
    x = torch.rand(1, 1, 4, 4, dtype=torch.float64)
    with pytest.raises(UserInputError, match="rank_scores"):
        rank_deletion(model, x, torch.rand(1, 1, 3), None, 0)
    with pytest.raises(UserInputError, match="counts"):
        rank_deletion(model, x, torch.rand(1, 1, 4), None, 0, counts=[0, 9])
    with pytest.raises(UserInputError, match="mode"):
        rank_deletion(model, x, torch.rand(1, 1, 4), None, 0, mode="both")
    with pytest.raises(UserInputError, match="NaN"):
        rank_deletion(model, x, torch.full((1, 1, 4), float("nan")), None, 0)
