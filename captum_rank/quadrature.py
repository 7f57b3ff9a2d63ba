r"""Captum's quadrature rules, turned into a partition of the path.

RIG evaluates gradients at Captum's nodes ``a_s`` and multiplies each by a path
*increment* ``gamma(b_s) - gamma(b_{s-1})`` over a partition ``0 = b_0 < ... < b_S = 1``
whose cells have Captum's weights as lengths and each contain their node. The
increments telescope to ``x - x'`` exactly, so completeness holds up to quadrature error
for every schedule and every ``n_steps``, even with fewer steps than components.

That each cell holds its node is a property of the rules, checked here at run time:
the Riemann rules' nodes are cell ends, midpoints or (trapezoid) midpoints of the
normalised cells; for Gauss-Legendre, the cumulative Christoffel weights interlace the
nodes (the Chebyshev-Markov-Stieltjes separation theorem).

Captum's ``riemann_trapezoid`` weights sum to ``1 - 1/n`` (its nodes are spaced
``1/(n-1)`` but its weights ``1/n``). The partition here is normalised to length 1, which
is the correct trapezoid rule; RIG with the linear schedule therefore equals Captum's
IG times ``n / (n - 1)`` for that one method, and is closer to complete.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
from torch import Tensor

from captum_rank._captum import SUPPORTED_METHODS, approximation_parameters
from captum_rank.checks import UserInputError, one_of
from captum_rank.defaults import check_n_steps

__all__ = ["SUPPORTED_METHODS", "Partition", "check_method", "path_partition"]

# Captum's Gauss-Legendre nodes come from numpy's leggauss, an O(n^3) eigenvalue problem
# run twice (nodes, weights). Measured on one core of a shared 2-core machine (two runs of
# benchmarks/bench_gauss_nodes.py, one in RESULTS.md): 0.4-2.8 s at 1000 steps, 2.8-23 s
# at 2000, 46-130 s at 4000; doubling n costs about 8-16 times.
_GAUSS_WARN_STEPS = 1024
_GAUSS_MAX_STEPS = 4096


def check_method(method: str, n_steps: int) -> int:
    r"""Validate ``method`` and ``n_steps`` the way users need to hear about them.

    Args:
        method (str): one of Captum's approximation methods.
        n_steps (int): number of gradient evaluations along the path (a Python or
            numpy integer).

    Returns:
        int: ``n_steps`` as a Python ``int``.

    Raises:
        UserInputError: for an unknown method, too few steps, or more than 4096
            Gauss-Legendre steps (whose nodes alone would take minutes to compute).
        UserTypeError: if ``n_steps`` is not an integer.

    Warns:
        UserWarning: for more than 1024 Gauss-Legendre steps (seconds to a minute of
            node generation).

    Examples:
        >>> import numpy as np
        >>> check_method("riemann_middle", np.int64(10))
        10
    """
    steps = check_n_steps(n_steps, one_of(method, "method", SUPPORTED_METHODS))
    if method == "gausslegendre" and steps > _GAUSS_WARN_STEPS:
        cost = (
            "Gauss-Legendre nodes cost O(n_steps^3) to compute before the first gradient "
            "(numpy's leggauss, measured on one CPU core: about 1 s at 1000 steps, 3-20 s "
            "at 2000, 1-2 minutes at 4000)"
        )
        fix = (
            "method='riemann_middle' or 'riemann_trapezoid' builds its nodes in O(n_steps) "
            "and converges too at this many steps"
        )
        if steps > _GAUSS_MAX_STEPS:
            raise UserInputError(
                f"`n_steps`={steps} with method='gausslegendre' would spend minutes on its "
                f"nodes: {cost}. Use n_steps <= {_GAUSS_MAX_STEPS}, or {fix}."
            )
        warnings.warn(
            f"`n_steps`={steps} with method='gausslegendre': {cost}; {fix}.",
            UserWarning,
            stacklevel=3,
        )
    return steps


@dataclass(frozen=True)
class Partition:
    r"""Nodes, normalised weights and cell boundaries of a quadrature rule on ``[0, 1]``.

    Attributes:
        nodes (Tensor): ``(S,)`` float64 ``a_s``, where gradients are taken.
        boundaries (Tensor): ``(S + 1,)`` float64 ``b_s``, ``b_0 = 0``, ``b_S = 1``.
        captum_weight_sum (float): what Captum's own weights add up to (1, except
            ``1 - 1/n`` for ``riemann_trapezoid``).
    """

    nodes: Tensor
    boundaries: Tensor
    captum_weight_sum: float

    @property
    def weights(self) -> Tensor:
        """``(S,)`` float64 cell lengths ``b_s - b_{s-1}``, summing to 1."""
        return self.boundaries[1:] - self.boundaries[:-1]

    def __len__(self) -> int:
        return int(self.nodes.numel())


def path_partition(method: str, n_steps: int) -> Partition:
    r"""The partition of ``[0, 1]`` behind Captum's ``method`` with ``n_steps`` nodes.

    Args:
        method (str): ``"gausslegendre"``, ``"riemann_left"``, ``"riemann_right"``,
            ``"riemann_middle"`` or ``"riemann_trapezoid"``.
        n_steps (int): number of nodes.

    Returns:
        Partition: nodes, boundaries and Captum's weight sum.

    Raises:
        UserInputError: for an unknown method or a bad number of steps (see
            :func:`check_method`).

    Examples:
        >>> p = path_partition("riemann_right", 4)
        >>> p.nodes.tolist(), p.boundaries.tolist()
        ([0.25, 0.5, 0.75, 1.0], [0.0, 0.25, 0.5, 0.75, 1.0])
    """
    n_steps = check_method(method, n_steps)
    step_sizes_func, alphas_func = approximation_parameters(method)
    weights = torch.tensor(step_sizes_func(n_steps), dtype=torch.float64)
    nodes = torch.tensor(alphas_func(n_steps), dtype=torch.float64)
    total = float(weights.sum())
    boundaries = torch.cat([torch.zeros(1, dtype=torch.float64), weights.cumsum(0) / total])
    boundaries[-1] = 1.0
    # The telescoping argument needs every node inside its own cell; this holds for
    # all of Captum's rules, and a future rule that broke it should fail loudly.
    # Captum builds Riemann nodes with float32 linspace: allow that rounding.
    slack = 1e-6
    inside = (nodes >= boundaries[:-1] - slack) & (nodes <= boundaries[1:] + slack)
    if not bool(inside.all()):
        raise RuntimeError(
            f"Captum's {method!r} rule with n_steps={n_steps} has a node outside its cell; "
            "the path-increment discretisation does not apply to it."
        )
    return Partition(nodes=nodes, boundaries=boundaries, captum_weight_sum=total)
