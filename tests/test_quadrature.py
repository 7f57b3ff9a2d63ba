"""Partitions from Captum's rules: captum_rank/quadrature.py."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from captum_rank.quadrature import SUPPORTED_METHODS, path_partition


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(SUPPORTED_METHODS), st.integers(2, 300))
def test_every_node_lies_in_its_cell(method: str, n_steps: int) -> None:
    partition = path_partition(method, n_steps)
    b, a = partition.boundaries, partition.nodes
    assert len(partition) == n_steps and b.numel() == n_steps + 1
    assert b[0] == 0.0 and b[-1] == 1.0
    assert bool((b[1:] > b[:-1]).all())
    assert bool(((a >= b[:-1] - 1e-6) & (a <= b[1:] + 1e-6)).all())
    assert float(partition.weights.sum()) == pytest.approx(1.0, abs=1e-12)


def test_gauss_legendre_single_node() -> None:
    partition = path_partition("gausslegendre", 1)
    assert partition.nodes.tolist() == [0.5]
    assert partition.boundaries.tolist() == [0.0, 1.0]


@pytest.mark.parametrize("n_steps", [2, 5, 50])
def test_trapezoid_weight_sum_is_reported(n_steps: int) -> None:
    partition = path_partition("riemann_trapezoid", n_steps)
    assert partition.captum_weight_sum == pytest.approx(1 - 1 / n_steps)
    # Normalised, it is the textbook trapezoid rule on nodes spaced 1/(n-1).
    expected = torch.full((n_steps,), 1 / (n_steps - 1), dtype=torch.float64)
    expected[[0, -1]] /= 2
    assert torch.allclose(partition.weights, expected)


@pytest.mark.parametrize(
    "method,n_steps,error,match",
    [
        ("simpson", 10, ValueError, "Unknown `method`"),
        ("gausslegendre", 0, ValueError, "at least 1"),
        ("riemann_left", 1, ValueError, "at least 2"),
        ("gausslegendre", 2.5, TypeError, "n_steps"),
        ("gausslegendre", True, TypeError, "n_steps"),
    ],
)
def test_bad_arguments(method: str, n_steps: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        path_partition(method, n_steps)  # type: ignore[arg-type]
