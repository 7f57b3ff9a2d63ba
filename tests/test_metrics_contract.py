"""Issue 17, point 5: the metrics' contract.

* No metric, rival or control changes numpy's or torch's global random state: each draws
  from its own ``seed``/``generator`` (Quantus and Captum, which draw from numpy's global
  generator, get it seeded for the call and restored), and the same seed gives the same
  result whatever the global state.
* The metric signatures use the typed protocols :class:`ForwardFunc` and
  :class:`ExplainFunc`.
* The sanity checks' Spearman correlation is scipy's.
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr
from torch import nn

from captum_rank.metrics import (
    ExplainFunc,
    ForwardFunc,
    cascading_randomization,
    diffid,
    diffid_scores,
    faithfulness_correlation,
    insertion_deletion,
    map_similarity,
    quantus_explain,
    random_logit,
    random_map,
    rank_deletion,
    rivals,
    road,
    singular_values,
    sobel_map,
)

X = torch.rand(2, 3, 6, 6, generator=torch.Generator().manual_seed(0))
A = torch.rand(2, 3, 6, 6, generator=torch.Generator().manual_seed(1))


def _model() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 2, 3, padding=1), nn.ReLU(), nn.Flatten(),
                         nn.Linear(2 * 36, 4)).eval()


M = _model()
Y = torch.tensor([0, 3])

CALLS: dict[str, Callable[[], Any]] = {
    "insertion_deletion": lambda: insertion_deletion(
        M, X, A, Y, steps=2, generator=torch.Generator().manual_seed(0)),
    "diffid": lambda: diffid(M, X, A, Y),
    "diffid_scores": lambda: diffid_scores(M, X, A, Y),
    "road": lambda: road(M, X, A, Y, percentages=[30, 60], seed=5),
    "faithfulness_correlation": lambda: faithfulness_correlation(
        M, X, A, Y, nr_runs=4, subset_size=10, seed=5),
    "rank_deletion": lambda: rank_deletion(M, X, singular_values(X), target=Y, steps=3),
    "cascading_randomization": lambda: cascading_randomization(M, sobel_map, X, Y, seed=5),
    "random_logit": lambda: random_logit(M, sobel_map, X, Y, num_classes=4, seed=5),
    "random_map with a generator": lambda: random_map(
        M, X, Y, generator=torch.Generator().manual_seed(0)),
    "integrated_gradients": lambda: rivals.integrated_gradients(4)(M, X, Y),
    "rank_integrated_gradients": lambda: rivals.rank_integrated_gradients(4)(M, X, Y),
    "gradient_shap": lambda: rivals.gradient_shap(4, seed=5)(M, X, Y),
    "guided_ig": lambda: rivals.guided_ig(4)(M, X, Y),
    "blur_ig": lambda: rivals.blur_ig(4)(M, X, Y),
    "quantus_explain": lambda: quantus_explain(M, X.numpy(), Y.numpy(), n_steps=4),
}


def _states() -> tuple[Any, torch.Tensor]:
    return np.random.get_state(), torch.get_rng_state()  # noqa: NPY002 - what is checked


def _same(a: tuple[Any, torch.Tensor], b: tuple[Any, torch.Tensor]) -> bool:
    (np_a, torch_a), (np_b, torch_b) = a, b
    numpy_same = all(
        np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y
        for x, y in zip(np_a, np_b, strict=True))
    return numpy_same and torch.equal(torch_a, torch_b)


def _values(result: Any) -> Any:
    if isinstance(result, dict):
        return {key: _values(value) for key, value in result.items()}
    if hasattr(result, "to_dict"):
        return result.to_dict()
    return result.tolist() if isinstance(result, torch.Tensor | np.ndarray) else result


@pytest.mark.parametrize("name", list(CALLS))
def test_global_random_state_is_left_alone(name: str) -> None:
    np.random.seed(123)  # noqa: NPY002 - a caller's state, to be kept
    torch.manual_seed(123)
    before = _states()
    first = CALLS[name]()
    assert _same(before, _states()), f"{name} changed numpy's or torch's global RNG state"
    # Its own seed decides the result, not the global state.
    np.random.seed(7)  # noqa: NPY002
    torch.manual_seed(7)
    assert _values(CALLS[name]()) == _values(first)


def test_seeds_change_what_is_drawn() -> None:
    noisy = functools.partial(road, M, X, A, Y, percentages=[30, 60], noise=5.0)
    assert noisy(seed=1).to_dict() == noisy(seed=1).to_dict()
    maps = [rivals.gradient_shap(4, seed=s)(M, X, Y) for s in (1, 1, 2)]
    assert torch.equal(maps[0], maps[1]) and not torch.equal(maps[0], maps[2])


def test_road_still_equals_quantus_after_seeding_numpy() -> None:
    # The seed gives the numbers Quantus' own ROAD gives after np.random.seed(seed): runs
    # recorded before (benchmarks/results) are reproduced.
    quantus = pytest.importorskip("quantus")
    one = nn.Sequential(nn.Flatten(), nn.Linear(36, 4)).eval()
    x = torch.rand(4, 1, 6, 6, generator=torch.Generator().manual_seed(2))
    a = torch.randn(4, 1, 6, 6, generator=torch.Generator().manual_seed(3))
    y = one(x).argmax(1)
    ours = road(one, x, a, y, percentages=[20, 60], seed=9, noise=0.3)
    metric = quantus.ROAD(percentages=[20, 60], noise=0.3, return_aggregate=False,
                          disable_warnings=True, display_progressbar=False)
    np.random.seed(9)  # noqa: NPY002 - quantus draws from the global RNG
    theirs = metric(model=one, x_batch=x.numpy(), y_batch=y.numpy(), a_batch=a.numpy(),
                    device="cpu", channel_first=True, batch_size=4)
    np.testing.assert_allclose(ours.curves.double().mean(0).numpy(), [theirs[20], theirs[60]])


def test_signatures_use_the_protocols() -> None:
    for metric in (insertion_deletion, diffid, diffid_scores, road, rank_deletion):
        assert typing.get_type_hints(metric)["forward_func"] is ForwardFunc, metric.__name__
    for check in (cascading_randomization, random_logit):
        assert typing.get_type_hints(check)["explain"] is ExplainFunc, check.__name__
    for factory in (rivals.integrated_gradients, rivals.rank_integrated_gradients,
                    rivals.gradient_shap, rivals.guided_ig, rivals.blur_ig):
        assert typing.get_type_hints(factory)["return"] is ExplainFunc, factory.__name__
        assert isinstance(factory(4), ExplainFunc)
    assert isinstance(M, ForwardFunc) and isinstance(torch.sin, ForwardFunc)
    assert isinstance(sobel_map, ExplainFunc) and not isinstance("sobel", ExplainFunc)


def test_spearman_is_scipys_with_ties_and_constant_maps() -> None:
    rng = np.random.default_rng(0)
    # Rounded maps have many ties: average ranks, as scipy uses.
    a = torch.tensor(rng.normal(size=(3, 1, 7, 7)).round(1))
    b = torch.tensor(rng.normal(size=(3, 1, 7, 7)).round(1))
    rho, _ = map_similarity(a, b)
    for i in range(3):
        expected = spearmanr(a[i].abs().ravel().numpy(), b[i].abs().ravel().numpy()).statistic
        assert rho[i].item() == pytest.approx(expected, abs=1e-12)
    flat = torch.ones(1, 1, 5, 5)
    varying = torch.rand(1, 1, 5, 5, generator=torch.Generator().manual_seed(0))
    assert map_similarity(flat, flat)[0].tolist() == [1.0]
    assert map_similarity(flat, varying)[0].tolist() == [0.0]  # scipy: NaN, here 0
