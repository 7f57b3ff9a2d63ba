r"""Rank-band maps: the pixel map split by the rank components whose entry produced it.

On the rank-``k`` curve (``schedule="sequential"``; or a curve schedule with one matrix per
example) component ``i`` of ``x - x' = U diag(s) V^T`` enters alone in segment ``i``, from
``x_{i-1}`` to ``x_i = x' + low_rank(x - x', i)``. With ``c_i = s_i u_i v_i^T`` (component
``i`` of every channel) and ``gbar_i`` the mean gradient over segment ``i``, the path
integral is

    ``A = sum_i c_i * gbar_i``   and   ``<c_i, gbar_i> = R_i = F(x_i) - F(x_{i-1})``,

the second by the fundamental theorem of calculus on the segment. A *band* ``B`` (a run
of consecutive components, e.g. ``1-4``, ``5-16``, ``17-r``) has the map
``A_B = sum_{i in B} c_i * gbar_i``: the bands sum to the pixel map, and each band's total
is the exact ``R`` summed over the band. That is the question of "A Singular Value
Perspective on Model Robustness" as a picture: where in the image the low-rank and the
high-rank evidence lies.

:func:`band_attributions` estimates each ``gbar_i`` by Gauss-Legendre on its own segment
(``segment_steps`` gradients per segment, so ``r * segment_steps`` per example), runs one
segment (or as many as ``internal_batch_size`` allows) per model call, and keeps only the
band sums. The exact ``R`` (``r + 1`` forward passes, :mod:`captum_rank.exact`) comes with
the result, so the quadrature error of every band total is visible
(:attr:`RankBands.total_error`). ``calibrate=True`` adds to each ``c_i * gbar_i`` the
smallest correction (``alpha_i c_i * c_i``, minimal in the L2 norm of ``gbar_i``) that makes
``<c_i, gbar_i> = R_i`` exactly: completeness per component at no extra evaluation.

The module has no model code: the engine hands it the one model-call contract
(:class:`~captum_rank.model_call.ModelCall`), as it hands the other rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
import torch
from torch import Tensor

from captum_rank.checks import UserInputError, UserTypeError, integer
from captum_rank.exact import check_exact
from captum_rank.model_call import ModelCall, Rows
from captum_rank.path import PathGeometry
from captum_rank.schedules import RankSchedule

__all__ = [
    "BandsLike",
    "RankBands",
    "StepsLike",
    "band_attributions",
    "bands_from_ranks",
    "check_segment_steps",
    "default_band_edges",
    "describe_steps",
    "resolve_bands",
    "resolve_segment_steps",
]

#: Band edges: ``None`` (:func:`default_band_edges`) or the last component (1-based) of
#: every band but the last, e.g. ``(8, 32)`` for ``1-8``, ``9-32``, ``33-r``.
BandsLike = Sequence[int] | None

#: Gauss-Legendre gradients per segment: one number for every segment, or one per
#: component from the first on, the last repeated for the rest (e.g. ``(64, 16, 4)``). On
#: photos the first components' segments hold most of the quadrature error
#: (``benchmarks/bench_segment_errors.py``), so orders that fall with the component index
#: converge for far fewer rows than one order everywhere.
StepsLike = int | Sequence[int]


def check_segment_steps(segment_steps: StepsLike, name: str = "segment_steps"
                        ) -> int | tuple[int, ...]:
    r"""``segment_steps`` checked: a positive int, or a non-empty sequence of them.

    Examples:
        >>> check_segment_steps(4), check_segment_steps([64, 16, 4])
        (4, (64, 16, 4))
        >>> check_segment_steps([8, 0])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        captum_rank.checks.UserInputError: `segment_steps` must be an integer >= 1, ...
    """
    if isinstance(segment_steps, (str, bytes)) or not isinstance(
            segment_steps, (int, Sequence)) or isinstance(segment_steps, bool):
        raise UserTypeError(
            f"`{name}` must be a positive int or a sequence of them (one per component from "
            f"the first, the last repeated), got {type(segment_steps).__name__}.")
    if not isinstance(segment_steps, Sequence):
        return integer(segment_steps, name, minimum=1)
    if len(segment_steps) == 0:
        raise UserInputError(
            f"`{name}` is an empty sequence; give at least one order, e.g. (64, 16, 4).")
    return tuple(integer(q, name, minimum=1) for q in segment_steps)


def resolve_segment_steps(segment_steps: StepsLike, r: int) -> tuple[int, ...]:
    r"""One Gauss-Legendre order per component ``1..r``.

    Examples:
        >>> resolve_segment_steps(2, 3), resolve_segment_steps((8, 4), 4)
        ((2, 2, 2), (8, 4, 4, 4))
    """
    checked = check_segment_steps(segment_steps)
    if isinstance(checked, int):
        return (checked,) * r
    if len(checked) > r:
        raise UserInputError(
            f"`segment_steps` gives {len(checked)} orders for {r} components; give at most "
            f"one per component (the last is repeated for the rest).")
    return checked + (checked[-1],) * (r - len(checked))


def describe_steps(steps: int | Sequence[int]) -> str:
    r"""``segment_steps`` in words, one phrase per run of equal orders.

    Examples:
        >>> describe_steps(8)
        '8 Gauss-Legendre gradients per component'
        >>> describe_steps((64, 16, 16, 4, 4))
        'Gauss-Legendre gradients per component: 64 (component 1), 16 (2-3), 4 (4-5)'
    """
    if isinstance(steps, int):
        return f"{steps} Gauss-Legendre gradients per component"
    runs: list[tuple[int, int, int]] = []
    for index, q in enumerate(steps, start=1):
        if runs and runs[-1][2] == q:
            runs[-1] = (runs[-1][0], index, q)
        else:
            runs.append((index, index, q))
    words = [f"{q} ({'component ' + str(a) if a == b else f'{a}-{b}'})" for a, b, q in runs]
    return "Gauss-Legendre gradients per component: " + ", ".join(words)

#: Default edges: bands of 1-4, 5-16, 17-64, 65-r components (those below ``r``).
_DEFAULT_EDGES = (4, 16, 64)


def default_band_edges(r: int) -> tuple[int, ...]:
    r"""The default band edges for ``r`` components: ``4, 16, 64`` below ``r``.

    Each band is four times as wide as the one before, so that the head (the shape), the
    middle and the fine detail of an image each get a band at any size.

    Args:
        r (int): the number of components.

    Returns:
        tuple of int: the last component of every band but the last.

    Examples:
        >>> default_band_edges(28), default_band_edges(224)
        ((4, 16), (4, 16, 64))
    """
    return tuple(edge for edge in _DEFAULT_EDGES if edge < r)


def resolve_bands(bands: BandsLike, r: int) -> tuple[tuple[int, int], ...]:
    r"""``(first, last)`` components (1-based, inclusive) of every band.

    Args:
        bands (sequence of int or None): the last component of every band but the last,
            strictly increasing, each in ``1 .. r - 1``; ``None``: :func:`default_band_edges`.
        r (int): the number of components.

    Returns:
        tuple: one ``(first, last)`` per band; together they cover ``1 .. r``.

    Raises:
        UserInputError: for edges out of order or outside ``1 .. r - 1``.
        UserTypeError: for edges that are not integers.

    Examples:
        >>> resolve_bands((8, 32), 224)
        ((1, 8), (9, 32), (33, 224))
        >>> resolve_bands(None, 10)
        ((1, 4), (5, 10))
    """
    if bands is None:
        edges = default_band_edges(r)
    elif isinstance(bands, str) or not isinstance(bands, Sequence | np.ndarray | Tensor):
        raise UserTypeError(
            f"`bands` must be a sequence of component indices (the last component of every "
            f"band but the last, e.g. (8, 32)) or None, got {type(bands).__name__}."
        )
    else:
        edges = tuple(integer(int(e) if isinstance(e, Tensor | np.integer) else e, "bands")
                      for e in bands)
    if any(e < 1 or e >= r for e in edges) or any(b <= a for a, b in pairwise(edges)):
        raise UserInputError(
            f"`bands` {tuple(edges)} must be strictly increasing component indices in "
            f"1 .. {r - 1} (the input has r = {r} components); each is the last component "
            "of a band, and the last band ends at r. For example bands=(8, 32)."
        )
    starts = (1, *(e + 1 for e in edges))
    ends = (*edges, r)
    return tuple(zip(starts, ends, strict=True))


def bands_from_ranks(ranks: Tensor, fractions: Sequence[float] = (0.5, 0.9)) -> tuple[int, ...]:
    r"""Band edges from a rank spectrum: where the cumulative ``|R|`` reaches each fraction.

    ``ranks`` is a spectrum such as :meth:`~captum_rank.RankIntegratedGradients.exact_ranks`
    returns (any leading dimensions; the last is the component). The shares of the examples
    are averaged, so one set of bands serves the batch.

    Args:
        ranks (Tensor): ``(..., r)`` rank attributions.
        fractions (sequence of float): increasing shares in ``(0, 1)``. Default: 0.5, 0.9.

    Returns:
        tuple of int: edges for :func:`resolve_bands` (duplicates and ``r`` dropped).

    Raises:
        UserInputError: for fractions outside ``(0, 1)``.

    Examples:
        >>> import torch
        >>> bands_from_ranks(torch.tensor([[6.0, -2.0, 1.5, 0.5]]))
        (1, 3)
    """
    if any(not 0.0 < float(f) < 1.0 for f in fractions):
        raise UserInputError(f"`fractions` {tuple(fractions)} must lie in (0, 1).")
    magnitude = ranks.detach().to(torch.float64).abs().reshape(-1, ranks.shape[-1])
    total = magnitude.sum(-1, keepdim=True).clamp_min(torch.finfo(torch.float64).tiny)
    share = (magnitude / total).cumsum(-1).mean(0)
    r = int(ranks.shape[-1])
    edges: list[int] = []
    for fraction in fractions:
        edge = int(torch.searchsorted(share, torch.tensor(float(fraction),
                                                          dtype=share.dtype))) + 1
        if edge < r and (not edges or edge > edges[-1]):
            edges.append(edge)
    return tuple(edges)


@dataclass(frozen=True)
class RankBands:
    r"""The pixel map of the rank-``k`` curve, split by rank band.

    Attributes:
        bands (tuple): ``(first, last)`` components (1-based, inclusive) of every band.
        maps (Tensor): ``(B, N, ...)`` one map per band, in the input's shape and dtype;
            ``maps.sum(0)`` is the pixel map.
        totals (Tensor): ``(N, B)`` float64 sum of each band's map.
        exact_totals (Tensor): ``(N, B)`` float64 exact ``R`` summed over each band.
        exact_ranks (Tensor): ``(N, r)`` float64 exact ``R_i = F(x_i) - F(x_{i-1})``
            (summed over the channels).
        segment_totals (Tensor): ``(N, r)`` float64 ``<c_i, gbar_i>`` per component, as
            estimated (before calibration).
        segment_steps (int or tuple of int): Gauss-Legendre gradients per segment (one
            number for all, or one per component).
        evaluations (Tensor): ``(N,)`` gradient rows (forward and backward) per example.
        forward_rows (int): forward-only rows per example for the exact ``R`` (``r + 1``).
        calibrated (bool): whether every component was calibrated to its exact ``R_i``.

    Examples:
        >>> import torch
        >>> bands = RankBands(((1, 1), (2, 2)), torch.ones(2, 1, 1, 2, 2),
        ...                   torch.full((1, 2), 4.0, dtype=torch.float64),
        ...                   torch.full((1, 2), 4.0, dtype=torch.float64),
        ...                   torch.full((1, 2), 4.0, dtype=torch.float64),
        ...                   torch.full((1, 2), 4.0, dtype=torch.float64), 2,
        ...                   torch.tensor([4]), 3, False)
        >>> bands.labels, tuple(bands.pixels.shape), float(bands.total_error.max())
        (['1', '2'], (1, 1, 2, 2), 0.0)
    """

    bands: tuple[tuple[int, int], ...]
    maps: Tensor
    totals: Tensor
    exact_totals: Tensor
    exact_ranks: Tensor
    segment_totals: Tensor
    segment_steps: int | tuple[int, ...]
    evaluations: Tensor
    forward_rows: int
    calibrated: bool

    @property
    def labels(self) -> list[str]:
        r"""``"1-4"``, ``"5-16"``, ... (a single component as ``"3"``)."""
        return [str(a) if a == b else f"{a}-{b}" for a, b in self.bands]

    @property
    def pixels(self) -> Tensor:
        r"""The pixel map, the sum of the band maps."""
        return self.maps.sum(0)

    @property
    def estimated_totals(self) -> Tensor:
        r"""``(N, B)`` each band's total from the quadrature alone (before calibration)."""
        return torch.stack([self.segment_totals[:, first - 1:last].sum(-1)
                            for first, last in self.bands], dim=1)

    @property
    def total_error(self) -> Tensor:
        r"""``(N, B)`` quadrature error of each band's total, ``|estimated - exact|``
        relative to ``|F(x) - F(x')|`` (before calibration, which removes it)."""
        change = self.exact_ranks.sum(-1, keepdim=True).abs()
        scale = torch.where(change > 0, change, torch.ones_like(change))
        return (self.estimated_totals - self.exact_totals).abs() / scale

    @property
    def shares(self) -> Tensor:
        r"""``(N, B)`` each band's share of the L1 mass of the pixel map."""
        mass = self.maps.detach().to(torch.float64).abs().flatten(2).sum(-1).T
        return mass / mass.sum(-1, keepdim=True).clamp_min(torch.finfo(torch.float64).tiny)

    def to_dict(self) -> dict[str, Any]:
        r"""A JSON-able summary (no maps).

        Returns:
            dict: bands, labels, totals, exact and estimated totals, relative total errors
            (before calibration), L1 shares,
            evaluations and forward rows per example, segment steps, calibrated.
        """
        return {
            "bands": [list(b) for b in self.bands],
            "labels": self.labels,
            "totals": self.totals.tolist(),
            "exact_totals": self.exact_totals.tolist(),
            "estimated_totals": self.estimated_totals.tolist(),
            "total_error": self.total_error.tolist(),
            "shares": self.shares.tolist(),
            "evaluations": [int(v) for v in self.evaluations],
            "forward_rows": self.forward_rows,
            "segment_steps": (self.segment_steps if isinstance(self.segment_steps, int)
                              else list(self.segment_steps)),
            "calibrated": self.calibrated,
        }


def _gauss_legendre(order: int, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """Nodes and weights of Gauss-Legendre on ``[0, 1]`` (weights sum to 1)."""
    nodes, weights = np.polynomial.legendre.leggauss(order)
    return (torch.tensor((nodes + 1) / 2, dtype=dtype),
            torch.tensor(weights / 2, dtype=dtype))


def band_attributions(
    inputs: Tensor,
    baseline: Tensor,
    schedule: RankSchedule,
    model: ModelCall,
    exact_ranks: Tensor,
    bands: BandsLike = None,
    segment_steps: StepsLike = 4,
    calibrate: bool = False,
) -> RankBands:
    r"""Rank-band maps of ``inputs`` on the rank-``k`` curve (see the module's text).

    Args:
        inputs (Tensor): ``(N, ..., H, W)`` validated inputs ``x``.
        baseline (Tensor): ``x'``, broadcastable to ``inputs``.
        schedule (RankSchedule): a rank-``k`` curve schedule
            (:func:`captum_rank.exact.check_exact`); only its matrix form (per channel or
            joint) matters.
        model (ModelCall): the model, its target and extra arguments; its
            ``internal_batch_size`` bounds the rows per call (whole segments of the batch
            share a call where they fit; None: one segment per call).
        exact_ranks (Tensor): ``(N, ..., r)`` exact ``R`` of these inputs.
        bands (sequence of int or None): band edges (:func:`resolve_bands`).
        segment_steps (int or sequence of int): Gauss-Legendre gradients per segment, or
            one order per component from the first (the last repeated for the rest; see
            :data:`StepsLike`). Default: 4.
        calibrate (bool): make each component's total its exact ``R_i``. Default: False.

    Returns:
        RankBands: the band maps and totals.

    Raises:
        UserInputError: for a schedule off the rank-``k`` curve, bad ``bands`` or
            ``segment_steps``.

    Examples:
        >>> import torch
        >>> from captum_rank.schedules import SequentialSchedule
        >>> weights = torch.arange(16.0, dtype=torch.float64).reshape(1, 1, 4, 4)
        >>> from captum_rank.model_call import ModelCall
        >>> model = ModelCall(lambda x: (x * weights).sum((1, 2, 3)), num_examples=1)  # <W, x>
        >>> x = torch.rand(1, 1, 4, 4, dtype=torch.float64)
        >>> u, s, vh = torch.linalg.svd(x)
        >>> exact = (s * ((u.mT @ weights) * vh).sum(-1))  # R_i = s_i u_i^T W v_i
        >>> result = band_attributions(x, torch.zeros(()), SequentialSchedule(), model,
        ...                            exact, bands=(1,), segment_steps=1)
        >>> result.labels, bool(torch.allclose(result.pixels, weights * x))
        (['1', '2-4'], True)
        >>> bool(torch.allclose(result.totals, result.exact_totals))
        True
    """
    check_exact(schedule, inputs)
    checked_steps = check_segment_steps(segment_steps)
    geometry = PathGeometry.build(inputs, baseline, schedule)
    U, S, Vh = geometry.svd()
    n = int(inputs.shape[0])
    r = int(S.shape[-1])
    orders = resolve_segment_steps(checked_steps, r)
    spans = resolve_bands(bands, r)
    exact = exact_ranks.detach().to(device="cpu", dtype=torch.float64).reshape(n, -1)
    if exact.shape[-1] != r:
        raise UserInputError(
            f"`exact_ranks` has {exact.shape[-1]} components per example, the input {r}.")
    work = geometry.work_dtype
    band_of = torch.empty(r, dtype=torch.long)
    for b, (first, last) in enumerate(spans):
        band_of[first - 1:last] = b
    maps = torch.zeros((len(spans), *geometry.delta.shape), dtype=work, device=inputs.device)
    segment_totals = torch.zeros(n, r, dtype=torch.float64)
    evaluations = torch.zeros(n, dtype=torch.long)
    sum_dims = tuple(range(1, geometry.delta.dim()))
    # Components of zero weight in every example move nothing: no evaluation.
    live = [i for i in range(r) if bool((S[..., i] > 0).any())]
    running = torch.zeros_like(geometry.delta)
    # One Gauss-Legendre rule per order, not one per model call.
    rules = {q: tuple(t.to(inputs.device) for t in _gauss_legendre(q, work))
             for q in set(orders)}
    for chosen, q in _calls(live, orders, n, model.internal_batch_size):
        nodes, weights = rules[q]
        rows_per_segment = n * q
        examples = torch.arange(n, device=inputs.device).repeat(q)
        terms = [_component(U, S, Vh, i) for i in chosen]
        starts = []
        for term in terms:
            # A running sum of the components: x_{i-1} in O(HW) per segment.
            starts.append(geometry.baseline + running)
            running = running + term
        points = torch.cat([
            (start.unsqueeze(0) + nodes.reshape(-1, *[1] * start.dim()) * term.unsqueeze(0))
            .reshape(rows_per_segment, *geometry.delta.shape[1:])
            for start, term in zip(starts, terms, strict=True)
        ])
        flat = geometry.as_input(points).detach()
        row_examples = examples.repeat(len(chosen))
        # A segment with more rows than internal_batch_size (64 gradients of 4 photos) is
        # split too: one backward pass's activations are what runs out of memory.
        grad = torch.cat([
            model.gradients((flat[rows],), Rows.of_examples(row_examples[rows]))[0].detach()
            for rows in model.batches(len(row_examples))
        ]).to(work).reshape(len(chosen), q, *geometry.delta.shape)
        mean = (grad * weights.reshape(1, -1, *[1] * geometry.delta.dim())).sum(1)
        for offset, (i, term) in enumerate(zip(chosen, terms, strict=True)):
            piece = term * mean[offset]
            total = piece.sum(sum_dims).to(device="cpu", dtype=torch.float64)
            segment_totals[:, i] = total
            if calibrate:
                norm = (term * term).sum(sum_dims).to(device="cpu", dtype=torch.float64)
                alpha = torch.where(norm > 0, (exact[:, i] - total) / norm.clamp_min(
                    torch.finfo(torch.float64).tiny), torch.zeros_like(norm))
                shape = (n, *[1] * (geometry.delta.dim() - 1))
                piece = piece + alpha.to(device=piece.device, dtype=work).reshape(shape) \
                    * term * term
            maps[int(band_of[i])] += piece
        evaluations += q * len(chosen)
    out_maps = torch.stack([geometry.as_input(m) for m in maps])
    totals = torch.stack([m.to(torch.float64).flatten(1).sum(-1).cpu() for m in maps], dim=1)
    exact_totals = torch.stack(
        [exact[:, first - 1:last].sum(-1) for first, last in spans], dim=1)
    return RankBands(spans, out_maps, totals, exact_totals, exact, segment_totals,
                     checked_steps if isinstance(checked_steps, int) else orders,
                     evaluations, r + 1, bool(calibrate))


def _calls(live: list[int], orders: tuple[int, ...], n: int,
           internal_batch_size: int | None) -> list[tuple[list[int], int]]:
    """The model calls: consecutive live segments of one order, as many per call as
    ``internal_batch_size`` holds (at least one; one per call without a bound)."""
    calls: list[tuple[list[int], int]] = []
    for i in live:
        q = orders[i]
        per_call = 1 if internal_batch_size is None else max(
            1, int(internal_batch_size) // (n * q))
        if calls and calls[-1][1] == q and len(calls[-1][0]) < per_call:
            calls[-1][0].append(i)
        else:
            calls.append(([i], q))
    return calls


def _component(U: Tensor, S: Tensor, Vh: Tensor, i: int) -> Tensor:
    """``c_i = s_i u_i v_i^T`` of every matrix, ``(N, ..., H, W)``."""
    return (U[..., :, i:i + 1] * S[..., None, i:i + 1]) @ Vh[..., i:i + 1, :]
