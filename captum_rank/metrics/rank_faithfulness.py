r"""Rank-space faithfulness: delete or insert singular components in a method's order.

RIG's reason to exist is its rank answer, :meth:`RankIntegratedGradients.attribute_ranks`:
how much of the output each singular component of ``x - x'`` carries. This module tests
that answer the way insertion/deletion tests a pixel map. For every matrix (per example
and channel) take ``x - x' = U diag(s) V^T``; the ``C * r`` components
``s_i u_i v_i^T`` (``r = min(H, W)``) are ranked by a score per component (shape
``(N, C, r)``) and, in that order,

* **deletion**: removed from the input, ``x - sum_{i in S_k} s_i u_i v_i^T``, so after
  all are removed the input is the baseline;
* **insertion**: added to the baseline, ``x' + sum_{i in S_k} s_i u_i v_i^T``;

and the target's score is recorded after each step. Orders to compare:

* RIG's rank attributions (``attribute_ranks``);
* RIG's exact rank attributions (:meth:`~captum_rank.RankIntegratedGradients.exact_ranks`,
  ``F(x_i) - F(x_{i-1})`` on the rank-``k`` curve from ``r + 1`` forward passes): the
  value ``attribute_ranks`` converges to, so the row that tells a budget's quadrature
  error apart from what RIG itself says. It is a method row, not an oracle: deleting a
  component from ``x`` changes ``F`` by ``F(x) - F(x - s_i u_i v_i^T)``, which is ``R_i``
  only for an affine model. On colour with per-channel SVDs it has one score per
  component index, ``(N, 1, r)``, which applies to that component of every channel
  (they are removed together, as they enter the ``sequential`` path together);
* IG's attributions projected onto the same components: ``s_i u_i^T g v_i`` with ``g``
  IG's path-averaged gradient; this is exactly ``attribute_ranks(...,
  schedule="linear")``, which sums to IG's total;
* the singular-value order (:func:`singular_values`): largest ``s_i`` first, what a
  rank truncation keeps;
* a random order (the floor).

For a model that is affine in the input, ``F(x) = <W, x> + b``, removing component
``i`` changes the output by exactly ``s_i u_i^T W v_i`` (its exact contribution), so the
deletion curve is ``F(x)`` minus the running sum of those in the chosen order; the
tests check that.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from captum_rank._model_checks import InputGuard
from captum_rank.checks import UserInputError, UserTypeError, boolean, integer, positive_int
from captum_rank.metrics._scoring import (
    ForwardFunc,
    as_target,
    check_forward,
    check_score,
    reference_probabilities,
    score_of,
)
from captum_rank.svd import compute_dtype, reconstruct, thin_svd

__all__ = ["RankCurves", "rank_components", "rank_deletion", "singular_values"]


@dataclass
class RankCurves:
    r"""Curves of the target's score as singular components are removed or inserted.

    Attributes:
        counts: ``(S,)`` number of components removed/inserted at each point.
        total: the number of components per example, ``C * r``.
        curves: ``(N, S)`` the score at each point.
        mode: ``"deletion"`` or ``"insertion"``.
        score: what was recorded.
    """

    counts: Tensor
    total: int
    curves: Tensor
    mode: str
    score: str

    @property
    def fractions(self) -> Tensor:
        r"""``(S,)`` the counts as fractions of all components."""
        return self.counts.double() / self.total

    def auc(self) -> Tensor:
        r"""``(N,)`` trapezoid area on the fraction axis ``[0, 1]`` (deletion: lower is
        more faithful; insertion: higher)."""
        return torch.trapezoid(self.curves.double(), self.fractions.to(self.curves.device),
                               dim=1)

    def to_dict(self) -> dict[str, Any]:
        r"""A JSON-ready dict."""
        return {"counts": self.counts.tolist(), "total": self.total,
                "curves": self.curves.tolist(), "mode": self.mode, "score": self.score,
                "auc": self.auc().tolist()}


def _check_inputs(inputs: Any) -> Tensor:
    if not isinstance(inputs, Tensor):
        raise UserTypeError(f"`inputs` must be a torch.Tensor, got {type(inputs).__name__}.")
    if inputs.dim() < 3 or inputs.shape[0] == 0:
        raise UserInputError(
            "`inputs` must be a non-empty batch of matrices (N, ..., H, W), got shape "
            f"{tuple(inputs.shape)}."
        )
    if not bool(torch.isfinite(inputs).all()):
        raise UserInputError("`inputs` contains NaN or inf; its SVD is undefined. Clean the "
                             "inputs first.")
    return inputs


def rank_components(inputs: Tensor, baselines: Tensor | float | None = None
                    ) -> tuple[Tensor, Tensor, Tensor]:
    r"""The thin SVD of ``x - x'`` per matrix: ``U (N, ..., H, r)``, ``s (N, ..., r)``,
    ``Vh (N, ..., r, W)``, in at least float32.

    Args:
        inputs: ``(N, ..., H, W)``.
        baselines: ``x'``: None (zeros), a number or a broadcastable tensor.

    Returns:
        ``(U, s, Vh)``.

    Examples:
        >>> import torch
        >>> u, s, vh = rank_components(torch.eye(3)[None, None] * 2)
        >>> s
        tensor([[[2., 2., 2.]]])
    """
    x = _check_inputs(inputs).detach()
    base = 0.0 if baselines is None else baselines
    diff = x - (base.detach().to(x.device) if isinstance(base, Tensor) else base)
    return thin_svd(diff.to(compute_dtype(diff.dtype)))


def singular_values(inputs: Tensor, baselines: Tensor | float | None = None) -> Tensor:
    r"""The singular values of ``x - x'`` per matrix, ``(N, ..., r)``: use them as the
    scores of :func:`rank_deletion` for the singular-value order.

    Args:
        inputs: ``(N, ..., H, W)``.
        baselines: ``x'`` (default zeros).

    Returns:
        ``(N, ..., r)``, descending along the last dimension.

    Examples:
        >>> import torch
        >>> singular_values(torch.diag(torch.tensor([1.0, 3.0]))[None, None])
        tensor([[[3., 1.]]])
    """
    return rank_components(inputs, baselines)[1]


def rank_deletion(
    forward_func: ForwardFunc,
    inputs: Tensor,
    rank_scores: Tensor,
    baselines: Tensor | float | None = None,
    target: Any = None,
    additional_forward_args: Any = None,
    *,
    mode: str = "deletion",
    counts: Sequence[int] | None = None,
    steps: int = 16,
    score: str = "probability",
    abs: bool = False,
    internal_batch_size: int | None = None,
) -> RankCurves:
    r"""Remove (or insert) the singular components of ``x - x'`` in the order of a score.

    Protocol: SVD ``x - x' = U diag(s) V^T`` per matrix; the ``C * r`` components of an
    example are ranked by ``rank_scores`` (signed, largest first; ``abs=True`` ranks by
    magnitude; ties keep the order channel by channel, then by singular value). After the
    first ``k`` components in that order (for each ``k`` in ``counts``) are removed from
    ``x`` (``mode="deletion"``) or added to ``x'`` (``mode="insertion"``), the target's
    ``score`` is recorded. Costs ``len(counts)`` forward passes per input, no gradients.

    Args:
        forward_func: the model.
        inputs: ``(N, ..., H, W)``.
        rank_scores: ``(N, ..., r)`` one score per component, e.g.
            ``RankIntegratedGradients(model).attribute_ranks(inputs, ...)``, its
            ``schedule="linear"`` version (IG projected), ``exact_ranks``,
            :func:`singular_values` or ``torch.rand``. Leading dimensions of size 1
            (``(N, 1, r)``, as ``exact_ranks`` returns for colour) give component ``i``
            of every channel the same score: they are ranked side by side.
        baselines: ``x'``, the same as the attributions used (default zeros).
        target: class index, one for all or one per example.
        additional_forward_args: extra arguments for ``forward_func``.
        mode: ``"deletion"`` (default) or ``"insertion"``.
        counts: the numbers of components at which to record, ascending, from 0 to
            ``C * r``. Default: ``steps + 1`` equally spaced counts.
        steps: used when ``counts`` is None. Default: 16.
        score: ``"probability"`` (default), ``"output"``, ``"accuracy"``, ``"retention"``.
        abs: rank by ``|score|``. Default: False.
        internal_batch_size: at most this many inputs per forward pass.

    Returns:
        :class:`RankCurves`.

    Raises:
        UserInputError: shapes that do not match, NaN scores, counts out of range, an
            unknown ``mode`` or ``score``.

    Examples:
        Removing all components reaches the baseline; on an affine model each component
        changes the output by its exact contribution:

        >>> import torch
        >>> from torch import nn
        >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
        <torch._C.Generator object at ...>
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(2 * 5 * 5, 3)).double()
        >>> x = torch.rand(2, 2, 5, 5, dtype=torch.float64)
        >>> curves = rank_deletion(model, x, singular_values(x), target=1, score="output",
        ...                        counts=[0, 10])
        >>> bool(torch.allclose(curves.curves[:, -1], model(torch.zeros_like(x))[:, 1]))
        True
    """
    guard = InputGuard(inputs, "inputs")
    x = _check_inputs(inputs).detach()
    internal_batch_size = check_forward(forward_func, x, additional_forward_args,
                                        internal_batch_size)
    if mode not in ("deletion", "insertion"):
        raise UserInputError(f"`mode` must be 'deletion' or 'insertion', got {mode!r}.")
    score = check_score(score)
    if not isinstance(rank_scores, Tensor):
        raise UserTypeError(
            f"`rank_scores` must be a torch.Tensor, got {type(rank_scores).__name__}.")
    u, s, vh = rank_components(x, baselines)
    shared = (rank_scores.dim() == s.dim() and rank_scores.shape[0] == s.shape[0]
              and rank_scores.shape[-1] == s.shape[-1]
              and all(size == 1 for size in rank_scores.shape[1:-1]))
    if rank_scores.shape != s.shape and not shared:
        raise UserInputError(
            f"`rank_scores` must have shape {tuple(s.shape)} (N, ..., min(H, W)), or size 1 "
            "in the dimensions between N and r (one score per component index, shared by "
            f"the channels), got {tuple(rank_scores.shape)}."
        )
    # A shared score ranks component i of every channel side by side: equal scores keep
    # their flattened (channel, index) order in the stable sort below.
    rank_scores = rank_scores.expand(s.shape)
    if not torch.isfinite(rank_scores).all():
        raise UserInputError("`rank_scores` contains NaN or inf; the order is undefined.")
    zero = (rank_scores.reshape(rank_scores.shape[0], -1) == 0).all(dim=1)
    if bool(zero.any()):
        raise UserInputError(
            f"`rank_scores` of example(s) {zero.nonzero().flatten()[:5].tolist()} are all "
            "zero and rank no component above another; for the singular-value order pass "
            "singular_values(inputs) explicitly.")
    n = x.shape[0]
    total = s[0].numel()
    if counts is None:
        steps = positive_int(steps, "steps")
        count_list = sorted({round(total * j / steps) for j in range(steps + 1)})
    else:
        if isinstance(counts, str | bytes) or not isinstance(counts, Iterable):
            raise UserTypeError(f"`counts` must be a list of integers in [0, {total}], got "
                                f"{type(counts).__name__}.")
        # integer(): 2.7 components is refused, not truncated to 2.
        count_list = [integer(c, f"counts[{i}]", minimum=0, maximum=total)
                      for i, c in enumerate(counts)]
        if not count_list:
            raise UserInputError(f"`counts` is empty; give integers in [0, {total}] (the "
                                 "number of components).")
    t = as_target(target, n, x.device)
    flat = rank_scores.detach().to(x.device).reshape(n, -1)
    if boolean(abs, "abs"):
        flat = flat.abs()
    order = torch.argsort(flat, dim=1, descending=True, stable=True)
    ranks = torch.empty_like(order)
    ranks.scatter_(1, order, torch.arange(total, device=x.device).expand(n, -1))
    ranks = ranks.reshape(s.shape)
    ref = reference_probabilities(forward_func, x, t, score, additional_forward_args,
                                  internal_batch_size)
    b = 0.0 if baselines is None else baselines
    base = (torch.zeros_like(x, dtype=s.dtype)
            + (b.detach().to(x.device, s.dtype) if isinstance(b, Tensor) else b))
    points = []
    for k in count_list:
        chosen = (ranks < k).to(s.dtype)
        gate = 1.0 - chosen if mode == "deletion" else chosen
        point = base + reconstruct(u, s * gate, vh)
        if mode == "deletion" and k == 0:
            point = x.to(point.dtype)
        points.append(score_of(forward_func, point.to(x.dtype), t, score,
                               additional_forward_args, internal_batch_size, ref))
    guard.check()
    return RankCurves(torch.tensor(count_list), total, torch.stack(points, 1), mode, score)
