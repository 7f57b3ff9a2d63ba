r"""The adaptive rule: model evaluations placed where the output changes along the path.

A gradient evaluation at a path point ``gamma(a)`` runs the model forward there, so it
returns ``F(gamma(a))`` for free. Between two consecutive nodes ``a_j < a_{j+1}`` the path
integral of the gradient is then known *exactly* (the fundamental theorem of calculus):
``F(gamma(a_{j+1})) - F(gamma(a_j))``. The rule compares it with its own estimate of that
interval, the trapezoid in path increments::

    A_j = (G_j + G_{j+1}) / 2 * (gamma(a_{j+1}) - gamma(a_j))

and the difference ``e_j = sum(A_j) - (F_{j+1} - F_j)`` is the interval's exact share of
the completeness error: ``sum_j e_j = sum A - (F(x) - F(x'))``. The rule starts from an
even grid in the schedule's parameter (both ends included, so ``F(x)`` and ``F(x')`` come
with it), then repeatedly bisects the intervals with the largest ``|e_j|``, keeping every
gradient it has computed. It stops when an example's budget of ``n_steps`` evaluations is
spent or, with a ``tolerance``, as soon as ``|delta| <= tolerance * |F(x) - F(x')|``; an
example that has converged costs nothing more.

A small completeness error does not make a converged *map*: errors of opposite sign in
different pixels cancel in the sum. Because the nodes are kept, the map on every other
node (a nested rule with half the evaluations) costs nothing, and its distance to the map
on all nodes, ``||A_n - A_{n/2}|| / ||A_n||``, estimates the map's own error (for a rule of
order ``p`` it is about ``2^p - 1`` times the error of ``A_n``: about equal on the rough
integrands of ReLU networks, three times on smooth ones, so it errs on the safe side).
With a ``map_tolerance`` the rule refines until that estimate is below it.

The increments still telescope to ``x - x'``, so completeness is quadrature error only,
and rank attributions come from the same sums. The price is memory: the rule keeps every
node's point and gradient until the end (``2 n_steps`` input-sized tensors per example),
where the fixed rules stream.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from captum_rank.model_call import ModelCall, Rows
from captum_rank.options import RigOptions
from captum_rank.path import PathGeometry, PathPlan

__all__ = ["Convergence", "adaptive_walk", "initial_nodes"]


@dataclass(frozen=True)
class Convergence:
    r"""How each example of one adaptive run converged.

    Attributes:
        evaluations (Tensor): ``(N,)`` model evaluations spent on each example (one
            evaluation is one forward and backward pass of one path point).
        delta (Tensor): ``(N,)`` completeness error ``sum A - (F(x) - F(x'))``, from the
            outputs at the path's two ends (no extra forward pass).
        output_change (Tensor): ``(N,)`` ``F(x) - F(x')``.
        tolerance (float or None): the requested relative tolerance, if any.
        budget (int): the ``n_steps`` each example could spend.
        map_error (Tensor or None): ``(N,)`` estimated relative L2 error of each pixel map,
            ``||A_n - A_{n/2}|| / ||A_n||`` from the nested rule on every other node (inf
            with fewer than three nodes).
        map_tolerance (float or None): the requested map tolerance, if any.

    Examples:
        >>> import torch
        >>> c = Convergence(torch.tensor([5, 9]), torch.tensor([0.01, 0.3]),
        ...                 torch.tensor([2.0, 3.0]), tolerance=0.05, budget=9)
        >>> c.reached.tolist(), c.failed
        ([True, False], [1])
    """

    evaluations: Tensor
    delta: Tensor
    output_change: Tensor
    tolerance: float | None
    budget: int
    map_error: Tensor | None = None
    map_tolerance: float | None = None

    @property
    def relative_error(self) -> Tensor:
        r"""``|delta| / |F(x) - F(x')|`` per example (inf where the output does not change
        but ``delta`` is not zero, 0 where both are zero)."""
        scale = self.output_change.abs()
        error = self.delta.abs()
        safe = torch.where(scale > 0, scale, torch.ones_like(scale))
        ratio = error / safe
        return torch.where(scale > 0, ratio, torch.where(error > 0, math.inf, 0.0))

    @property
    def reached(self) -> Tensor:
        r"""``(N,)`` bool: every requested tolerance was met (all ``False`` without one)."""
        if self.tolerance is None and self.map_tolerance is None:
            return torch.zeros_like(self.delta, dtype=torch.bool)
        reached = torch.ones_like(self.delta, dtype=torch.bool)
        if self.tolerance is not None:
            reached &= self.delta.abs() <= self.tolerance * self.output_change.abs()
        if self.map_tolerance is not None:
            if self.map_error is None:
                raise RuntimeError("A map tolerance was set but no map error was estimated.")
            reached &= self.map_error <= self.map_tolerance
        return reached

    @property
    def failed(self) -> list[int]:
        r"""Indices of the examples that missed a requested tolerance (none without one)."""
        if self.tolerance is None and self.map_tolerance is None:
            return []
        return [int(i) for i in torch.nonzero(~self.reached).flatten()]

    def warn_unreached(self, stacklevel: int) -> None:
        r"""Warn, naming the examples, when some missed a requested tolerance.

        Args:
            stacklevel (int): ``warnings.warn``'s, counted from the caller of this method.
        """
        failed = self.failed
        if not failed:
            return
        shown = ", ".join(str(i) for i in failed[:20]) + (" ..." if len(failed) > 20 else "")
        asked = ", ".join(f"{name}={value}" for name, value in (
            ("tolerance", self.tolerance), ("map_tolerance", self.map_tolerance))
            if value is not None)
        warnings.warn(
            f"{len(failed)} of {len(self.delta)} examples did not reach "
            f"{asked} within n_steps={self.budget} evaluations: examples {shown}. "
            "Their relative completeness errors and estimated map errors are in "
            "`last_convergence.relative_error` and `.map_error`; raise `n_steps` or the "
            "tolerance.",
            stacklevel=stacklevel + 1,
        )

    def to_dict(self) -> dict[str, Any]:
        r"""A JSON-able summary.

        Returns:
            dict: evaluations, delta, output change, relative error, map error, reached,
            tolerances, budget, all as plain lists and numbers.
        """
        map_error = [] if self.map_error is None else [float(v) for v in self.map_error]
        return {
            "evaluations": [int(v) for v in self.evaluations],
            "delta": [float(v) for v in self.delta],
            "output_change": [float(v) for v in self.output_change],
            "relative_error": [float(v) for v in self.relative_error],
            "reached": [bool(v) for v in self.reached],
            "tolerance": self.tolerance,
            "map_error": map_error,
            "map_tolerance": self.map_tolerance,
            "budget": self.budget,
        }


def initial_nodes(n_steps: int, tolerance: float | None,
                  map_tolerance: float | None = None) -> int:
    r"""How many evenly spaced nodes (ends included) the adaptive rule starts from.

    A quarter of the budget without a tolerance (the rest is placed by bisection); with
    a completeness tolerance, 3 (the ends and the middle), so easy examples stop early;
    with a map tolerance, 9, so that the first estimate of the map's error (9 nodes
    against their 5 even ones) is not a guess from two or three gradients.

    Args:
        n_steps (int): the budget, at least 2.
        tolerance (float or None): the relative completeness tolerance, if any.
        map_tolerance (float or None): the map tolerance, if any.

    Returns:
        int: between 2 and ``n_steps``.

    Examples:
        >>> initial_nodes(32, None), initial_nodes(32, 0.01), initial_nodes(2, None)
        (8, 3, 2)
        >>> initial_nodes(32, None, 0.1)
        9
    """
    if map_tolerance is not None:
        return min(n_steps, 9)
    if tolerance is not None:
        return min(n_steps, 3)
    return max(2, min(n_steps, round(n_steps / 4)))


@dataclass
class _Track:
    """One input tensor's nodes for every example, in slots: ``(N, capacity, ...)``.

    Slots are filled in the order nodes are evaluated, never moved: an interval names
    its two end slots, so a bisection writes one new slot and two interval entries
    instead of re-sorting every stored point and gradient.
    """

    geometry: PathGeometry
    points: Tensor  # (N, M, *matrix) work dtype, model device
    grads: Tensor  # (N, M, *matrix)
    gates: Tensor  # (N, M, *lead, r)
    projections: Tensor | None  # (N, M, *lead, r): u_i^T G v_i per node, for ranks
    # The trapezoid sums over the current intervals, kept up to date by every chain
    # update (a bisection swaps one interval's terms for its two halves'), so the map
    # never needs the nodes gathered in path order.
    pixel: Tensor  # (N, *matrix): sum of Gbar * increment, the map A_n
    grad_mean: Tensor  # (N, *matrix): sum of da * Gbar


@dataclass
class _State:
    """Every example's nodes and intervals; the per-interval numbers live on the CPU
    with the nodes and outputs (they steer the bisection)."""

    tracks: list[_Track]
    alphas: Tensor  # (N, M) float64
    outputs: Tensor  # (N, M) float64
    count: Tensor  # (N,) nodes per example
    left: Tensor  # (N, M - 1) slot of each interval's left end
    right: Tensor  # (N, M - 1) slot of its right end
    trapezoid: Tensor  # (N, M - 1) sum of the interval's trapezoid
    spread: Tensor  # (N, M - 1) squared norm of (G_R - G_L) * increment
    end: int = 1  # the slot of x (a = 1), the last node of the first grid

    def output_change(self) -> Tensor:
        """``(N,)`` ``F(x) - F(x')`` from the nodes at the path's two ends."""
        return self.outputs[:, self.end] - self.outputs[:, 0]

    @property
    def intervals(self) -> Tensor:
        """``(N,)`` intervals per example."""
        return (self.count - 1).clamp_min(0)

    def valid(self) -> Tensor:
        """``(N, M - 1)`` which interval entries are in use."""
        index = torch.arange(self.left.shape[1])
        return index < self.intervals[:, None]

    def interval_errors(self) -> Tensor:
        """``(N, M - 1)`` each interval's exact share of the completeness error (0 unused)."""
        change = self.outputs.gather(1, self.right) - self.outputs.gather(1, self.left)
        return torch.where(self.valid(), self.trapezoid - change, 0.0)

    def split_scores(self, errors: Tensor) -> Tensor:
        # How much each interval is worth splitting: its share of the completeness error
        # plus how far its two gradients disagree on its own increment (the trapezoid's
        # per-pixel error scale), each relative to its total over the path.
        valid = self.valid()
        size = errors.abs()
        spread = torch.where(valid, self.spread, 0.0).sqrt()
        scores = (size / size.sum(1, keepdim=True).clamp_min(1e-300)
                  + spread / spread.sum(1, keepdim=True).clamp_min(1e-300))
        return torch.where(valid, scores, -math.inf)


def adaptive_walk(
    inputs: tuple[Tensor, ...],
    baselines: tuple[Tensor, ...],
    plan: PathPlan,
    model: ModelCall,
    options: RigOptions,
) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...], Convergence]:
    r"""Run the adaptive rule on a batch; return pixel and rank attributions.

    Every round works on all examples at once: their new nodes are built, evaluated in
    shared model calls and stored as one batch, and the intervals to bisect are chosen
    for every example by one ``topk``; no per-example Python work, which on a fast device
    would cost more than the model.

    Args:
        inputs (tuple[Tensor, ...]): checked inputs ``(N, ..., H, W)``.
        baselines (tuple[Tensor, ...]): baselines broadcastable to the inputs.
        plan (PathPlan): what to return.
        model (ModelCall): gradients and outputs at a batch of path points, in calls of
            at most ``internal_batch_size`` points (of all examples).
        options (RigOptions): the path (``schedule``) and the rule's budget and stops:
            ``n_steps`` evaluations each example may spend (at least 2); ``tolerance``:
            stop an example once ``|delta| <= tolerance |F(x) - F(x')|``;
            ``map_tolerance``: once its estimated map error is at most this (with both,
            both must hold).

    Returns:
        tuple: ``(pixels, ranks, convergence)``; ``pixels``/``ranks`` are empty tuples
        when the plan does not ask for them.
    """
    schedule, n_steps = options.schedule, options.n_steps
    tolerance, map_tolerance = options.tolerance, options.map_tolerance
    geometries = [
        PathGeometry.build(tensor, baseline, schedule)
        for tensor, baseline in zip(inputs, baselines, strict=True)
    ]
    num = inputs[0].shape[0]
    want_projections = plan.ranks and plan.form == "increments"
    state = _empty_state(geometries, num, n_steps, want_projections)
    examples_all = torch.arange(num)

    # The first round: an even grid, both ends included, built left to right so that
    # each node adds only the components that move since the previous one.
    count = initial_nodes(n_steps, tolerance, map_tolerance)
    grid = torch.linspace(0.0, 1.0, count, dtype=torch.float64)
    grid[-1] = 1.0
    rows_examples = examples_all.repeat(count)  # node-major, as Captum batches its steps
    rows_slots = torch.arange(count).repeat_interleave(num)
    rows_alphas = grid.repeat_interleave(num)
    fresh = _evaluate_rows(state, rows_examples, rows_slots, rows_alphas, None, model,
                           chain=num)
    state.count[:] = count
    state.end = count - 1
    first = torch.arange(count - 1)
    state.left[:, : count - 1] = first
    state.right[:, : count - 1] = first + 1
    # Node-major rows: node j of every example is rows j N to (j + 1) N - 1.
    _update_chains(state, examples_all, torch.arange(count).expand(num, count),
                   first.expand(num, count - 1), columns=[
                       [(points[j * num:(j + 1) * num], grads[j * num:(j + 1) * num])
                        for j in range(count)] for points, grads, _ in fresh])
    del fresh

    active = torch.ones(num, dtype=torch.bool)
    stopping = tolerance is not None or map_tolerance is not None
    while True:
        errors = state.interval_errors()
        if stopping:
            active &= ~_converged(state, errors, tolerance, map_tolerance, active)
        remaining = n_steps - state.count
        active &= remaining > 0
        if not bool(active.any()):
            break
        # Bisect about half the intervals per round (at least one): the largest scores.
        wanted = torch.minimum(remaining, (state.intervals + 1) // 2).clamp_min(1)
        wanted = torch.where(active, wanted, 0)
        most = int(wanted.max())
        chosen = state.split_scores(errors).topk(most, dim=1).indices  # (N, most)
        take = torch.arange(most)[None, :] < wanted[:, None]
        # Node-major rows (the j-th new node of every example, then the next).
        take_t = take.t()
        rank = torch.arange(most)[:, None].expand(most, num)[take_t]
        examples = examples_all[None, :].expand(most, num)[take_t]
        intervals = chosen.t()[take_t]
        left = state.left[examples, intervals]
        right = state.right[examples, intervals]
        slots = state.count[examples] + rank
        alphas = 0.5 * (state.alphas[examples, left] + state.alphas[examples, right])
        fresh = _evaluate_rows(state, examples, slots, alphas, left, model)
        # Interval j = (L, R) becomes (L, new); (new, R) is appended after the others.
        appended = state.intervals[examples] + rank
        state.right[examples, intervals] = slots
        state.left[examples, appended] = slots
        state.right[examples, appended] = right
        state.count += wanted
        _update_chains(state, examples, torch.stack([left, slots, right], dim=1),
                       torch.stack([intervals, appended], dim=1), replaces=True,
                       columns=[[(start, None), (points, grads), (None, None)]
                                for points, grads, start in fresh])
        del fresh

    pixels, ranks, map_error = _results(state, plan, examples_all)
    errors = state.interval_errors()
    change = state.output_change()
    convergence = Convergence(evaluations=state.count.clone(), delta=errors.sum(1),
                              output_change=change, tolerance=tolerance, budget=n_steps,
                              map_error=map_error, map_tolerance=map_tolerance)
    return pixels, ranks, convergence


def _empty_state(geometries: list[PathGeometry], num: int, capacity: int,
                 want_projections: bool) -> _State:
    tracks = []
    for geometry in geometries:
        matrix = geometry.matrix_shape[1:]
        device, dtype = geometry.delta.device, geometry.work_dtype
        spectrum = tuple(geometry.singular_values.shape[1:])
        tracks.append(_Track(
            geometry=geometry,
            points=torch.empty((num, capacity, *matrix), dtype=dtype, device=device),
            grads=torch.empty((num, capacity, *matrix), dtype=dtype, device=device),
            gates=torch.empty((num, capacity, *spectrum), dtype=dtype, device=device),
            projections=(torch.empty((num, capacity, *spectrum), dtype=dtype, device=device)
                         if want_projections else None),
            pixel=torch.zeros((num, *matrix), dtype=dtype, device=device),
            grad_mean=torch.zeros((num, *matrix), dtype=dtype, device=device),
        ))
    slots = max(capacity - 1, 1)
    return _State(
        tracks=tracks,
        alphas=torch.full((num, capacity), math.nan, dtype=torch.float64),
        outputs=torch.zeros((num, capacity), dtype=torch.float64),
        count=torch.zeros(num, dtype=torch.int64),
        left=torch.zeros((num, slots), dtype=torch.int64),
        right=torch.zeros((num, slots), dtype=torch.int64),
        trapezoid=torch.zeros((num, slots), dtype=torch.float64),
        spread=torch.zeros((num, slots), dtype=torch.float64),
    )


#: Per track, per node of a chain: its ``(points, grads)`` rows ``(P, ...)`` where the
#: caller already holds them (None: read from the store).
_Columns = list[list[tuple[Tensor | None, Tensor | None]]]


def _evaluate_rows(state: _State, examples: Tensor, slots: Tensor, alphas: Tensor,
                   left: Tensor | None, model: ModelCall, chain: int | None = None
                   ) -> list[tuple[Tensor, Tensor, Tensor | None]]:
    """Build, evaluate and store new nodes: row ``p`` is example ``examples[p]`` at
    ``alphas[p]``, stored in slot ``slots[p]``.

    Each point is built from a known node of its example (``left``, or with ``chain``
    the row ``chain`` places earlier, for a grid built left to right), adding only the
    components whose gates differ. Returns, per track, the rows' points and gradients
    and the ``left`` nodes' points (None without ``left``): the chain update reads them
    from here instead of copying them back out of the store.
    """
    total = int(examples.numel())
    state.alphas[examples, slots] = alphas
    built: list[Tensor] = []
    starts: list[Tensor | None] = []
    for track in state.tracks:
        geometry = track.geometry
        gates = geometry.row_gates(alphas, examples)
        _put(track.gates, examples, slots, gates)
        if chain is None:
            start = None
            if left is not None:
                start = (_take(track.points, examples, left), _take(track.gates, examples, left))
            starts.append(None if start is None else start[0])
            points = geometry.row_points(gates, examples, start)
        else:
            starts.append(None)
            points = torch.empty((total, *track.points.shape[2:]), dtype=track.points.dtype,
                                 device=track.points.device)
            for first in range(0, total, chain):
                here = slice(first, first + chain)
                start = None
                if first > 0:
                    before = slice(first - chain, first)
                    start = (points[before], gates[before])
                points[here] = geometry.row_points(gates[here], examples[here], start)
        _put(track.points, examples, slots, points)
        built.append(points)
    computed: list[list[Tensor]] = [[] for _ in state.tracks]
    for chunk in model.batches(total):
        chunk_e, chunk_s = examples[chunk], slots[chunk]
        batch = tuple(track.geometry.as_input(points[chunk])
                      for track, points in zip(state.tracks, built, strict=True))
        grads, outputs = model.gradients_and_outputs(batch, Rows.of_examples(chunk_e))
        for number, (track, grad) in enumerate(zip(state.tracks, grads, strict=True)):
            grad = grad.detach().to(track.grads.dtype).reshape(
                len(chunk_e), *track.grads.shape[2:])
            _put(track.grads, chunk_e, chunk_s, grad)
            computed[number].append(grad)
            if track.projections is not None:
                _put(track.projections, chunk_e, chunk_s,
                     track.geometry.row_projections(grad, chunk_e))
        state.outputs[chunk_e, chunk_s] = outputs.detach().reshape(-1).cpu().to(torch.float64)
    return [(points, parts[0] if len(parts) == 1 else torch.cat(parts), start)
            for points, parts, start in zip(built, computed, starts, strict=True)]


def _update_chains(state: _State, examples: Tensor, slots: Tensor,
                   intervals: Tensor, replaces: bool = False,
                   columns: _Columns | None = None) -> None:
    """The trapezoid sums and spreads of the intervals between consecutive nodes of
    chains: row ``p`` is example ``examples[p]``'s nodes ``slots[p]`` ``(P, k)``, whose
    ``k - 1`` intervals are ``intervals[p]``. The first grid is one chain per example;
    a bisection is the chain ``(L, new, R)``: every node's point and gradient is read
    once for the intervals on both of its sides. The chains' trapezoid terms are added
    to each track's running map and mean gradient; with ``replaces`` each chain splits
    the interval from its first to its last node, whose terms are taken out.
    ``columns`` gives the nodes the caller holds (fresh from the model); only the
    others are read from the store."""
    count, length = slots.shape
    sums = torch.zeros((count, length - 1), dtype=torch.float64)
    spreads = torch.zeros((count, length - 1), dtype=torch.float64)
    # Node k's gradient enters the mean gradient with (a_{k+1} - a_{k-1}) / 2: the two
    # trapezoids it belongs to; a split interval's own trapezoid comes out at its ends.
    alphas = state.alphas[examples[:, None], slots]  # (P, k) float64, CPU
    da = alphas[:, 1:] - alphas[:, :-1]
    weights = torch.zeros_like(alphas)
    weights[:, 1:] += da
    weights[:, :-1] += da
    if replaces:
        span = alphas[:, -1] - alphas[:, 0]
        weights[:, 0] -= span
        weights[:, -1] -= span
    for number, track in enumerate(state.tracks):
        known = columns[number] if columns is not None else [(None, None)] * length
        size = max(1, (1 << 23) // max(1, length * math.prod(track.points.shape[2:])))
        pixel = track.pixel.view(track.pixel.shape[0], -1)
        grad_mean = track.grad_mean.view(track.grad_mean.shape[0], -1)
        device, dtype = pixel.device, pixel.dtype
        for start in range(0, count, size):
            chunk = slice(start, start + size)
            e = examples[chunk]
            points = [_column(track.points, e, slots[chunk, j], p, chunk)
                      for j, (p, _) in enumerate(known)]
            grads = [_column(track.grads, e, slots[chunk, j], g, chunk)
                     for j, (_, g) in enumerate(known)]
            w = weights[chunk].to(device=device, dtype=dtype)
            mean_terms = grads[0] * w[:, :1]
            map_terms = torch.zeros_like(mean_terms)
            for j in range(length - 1):
                mean_terms.add_(grads[j + 1] * w[:, j + 1:j + 2])
                step = points[j + 1] - points[j]
                gap = torch.linalg.vector_norm((grads[j + 1] - grads[j]).mul_(step), dim=1)
                term = (grads[j] + grads[j + 1]).mul_(step)
                sums[chunk, j] = 0.5 * term.sum(1).cpu().to(torch.float64)
                spreads[chunk, j] = gap.cpu().to(torch.float64).pow(2)
                map_terms.add_(term)
            if replaces:
                # The split interval's own trapezoid: (G_L + G_R) over its whole span.
                map_terms.sub_((grads[0] + grads[-1]).mul_(points[-1] - points[0]))
            e_device = e.to(device)
            pixel.index_add_(0, e_device, map_terms, alpha=0.5)
            grad_mean.index_add_(0, e_device, mean_terms, alpha=0.5)
    rows = examples[:, None].expand_as(intervals)
    state.trapezoid[rows, intervals] = sums
    state.spread[rows, intervals] = spreads


def _column(store: Tensor, examples: Tensor, slots: Tensor, known: Tensor | None,
            chunk: slice) -> Tensor:
    """``(P, M)`` rows of one node of every chain: the caller's where it holds them,
    else copied from the store."""
    if known is not None:
        return known[chunk].reshape(len(examples), -1)
    return _take(store, examples, slots).flatten(1)


def _converged(state: _State, errors: Tensor, tolerance: float | None,
               map_tolerance: float | None, active: Tensor) -> Tensor:
    """``(N,)`` which active examples meet every requested tolerance (cheap test first)."""
    met = active.clone()
    if tolerance is not None:
        scale = state.output_change().abs()
        met &= errors.sum(1).abs() <= tolerance * scale
    if map_tolerance is not None and bool(met.any()):
        which = torch.nonzero(met).flatten()
        met[which] = _map_errors(state, which) <= map_tolerance
    return met


@dataclass
class _Sums:
    """One input's sums over the finished intervals of some examples (matrix form)."""

    pixel: Tensor  # sum of Gbar * increment: the trapezoid map A_n
    grad_mean: Tensor  # sum of da * Gbar: the path-averaged gradient
    coarse: Tensor | None  # the map on every other node, A_{n/2}
    ranks: Tensor | None  # per-unit rank sums, sum of dphi * u^T Gbar v


def _sums(state: _State, track: _Track, examples: Tensor, coarse: bool,
          ranks: bool) -> _Sums:
    """The running map and mean gradient of the given examples, and the sums that need
    the nodes in path order: the nested rule's map on every other node and the rank
    sums. Each example's nodes are sorted by ``a`` once; the slots past an example's
    count repeat its last node, so they add nothing (and their unwritten memory is
    never read)."""
    index = examples.to(track.pixel.device)
    pixel = track.pixel.index_select(0, index)
    grad_mean = track.grad_mean.index_select(0, index)
    if not coarse and not ranks:
        return _Sums(pixel, grad_mean, None, None)
    # Only as many sorted positions as the busiest example has nodes, not the whole
    # budget: with map_tolerance this runs every round, long before the budget is spent.
    capacity = max(1, int(state.count[examples].max())) if len(examples) else 1
    matrix = track.points.shape[2:]
    order = state.alphas[examples].nan_to_num(math.inf).argsort(dim=1, stable=True)
    order = order[:, :capacity]
    last = (state.count[examples] - 1).clamp_min(0)[:, None]
    # The nested rule's nodes: sorted positions 0, 2, 4, ... and the last node.
    coarse_order = order.gather(1, torch.minimum(torch.arange(0, capacity + 1, 2)[None, :],
                                                 last))
    order = order.gather(1, torch.minimum(torch.arange(capacity)[None, :], last))
    coarse_map = torch.empty_like(pixel) if coarse else None
    rank_sum = (torch.empty((len(examples), *track.gates.shape[2:]), dtype=track.gates.dtype,
                            device=track.gates.device) if ranks else None)
    size = max(1, (1 << 24) // max(1, coarse_order.shape[1] * math.prod(matrix)))
    for first in range(0, len(examples), size):
        chunk = slice(first, first + size)
        rows = examples[chunk]
        if coarse_map is not None:
            slots = coarse_order[chunk]
            flat_e = rows[:, None].expand_as(slots).reshape(-1)
            points = _take(track.points, flat_e, slots.reshape(-1)).reshape(
                *slots.shape, *matrix)
            grads = _take(track.grads, flat_e, slots.reshape(-1)).reshape(
                *slots.shape, *matrix)
            both = grads[:, 1:] + grads[:, :-1]
            coarse_map[chunk] = 0.5 * both.mul_(points[:, 1:] - points[:, :-1]).sum(1)
        if rank_sum is not None and track.projections is not None:
            slots = order[chunk]
            flat_e = rows[:, None].expand_as(slots).reshape(-1)
            gates = _take(track.gates, flat_e, slots.reshape(-1)).reshape(
                *slots.shape, *track.gates.shape[2:])
            projections = _take(track.projections, flat_e, slots.reshape(-1)).reshape(
                gates.shape)
            rank_sum[chunk] = ((gates[:, 1:] - gates[:, :-1])
                               * 0.5 * (projections[:, 1:] + projections[:, :-1])).sum(1)
    return _Sums(pixel, grad_mean, coarse_map, rank_sum)


def _map_errors(state: _State, examples: Tensor,
                sums: list[_Sums] | None = None) -> Tensor:
    """``||A_n - A_{n/2}|| / ||A_n||`` of the given examples (inf below three nodes)."""
    if sums is None:
        sums = [_sums(state, track, examples, coarse=True, ranks=False)
                for track in state.tracks]
    gap = torch.zeros(len(examples), dtype=torch.float64)
    size = torch.zeros(len(examples), dtype=torch.float64)
    for part in sums:
        if part.coarse is None:
            raise RuntimeError("adaptive rule: the nested map was not summed.")
        # Norms in the work dtype on the device (no float64 copy there; MPS has none).
        gap += (part.pixel - part.coarse).flatten(1).pow(2).sum(1).cpu().to(torch.float64)
        size += part.pixel.flatten(1).pow(2).sum(1).cpu().to(torch.float64)
    gap, size = gap.sqrt(), size.sqrt()
    ratio = torch.where(size > 0, gap / size.clamp_min(1e-300),
                        torch.where(gap > 0, math.inf, 0.0))
    return torch.where(state.count[examples] < 3, math.inf, ratio)


def _results(
    state: _State, plan: PathPlan, examples: Tensor
) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...], Tensor]:
    """Each example's trapezoid sums, per input, turned into attributions by the geometry.

    The trapezoid gives interval ``j`` the mean gradient ``(G_j + G_{j+1}) / 2`` and the
    increment ``gamma(a_{j+1}) - gamma(a_j)``; the sums are those of the fixed rules
    (pixel sum, path-averaged gradient, per-unit rank sums), so the same
    :meth:`~captum_rank.path.PathGeometry.pixel_result` and ``rank_result`` finish both.
    """
    pixels: list[Tensor] = []
    ranks: list[Tensor] = []
    sums = []
    for track in state.tracks:
        geometry = track.geometry
        part = _sums(state, track, examples, coarse=True,
                     ranks=plan.ranks and track.projections is not None)
        sums.append(part)
        if plan.pixels:
            pixels.append(geometry.pixel_result(plan, part.pixel, part.grad_mean))
        if plan.ranks:
            ranks.append(geometry.rank_result(plan, part.ranks, part.grad_mean))
    return tuple(pixels), tuple(ranks), _map_errors(state, examples, sums)


def _take(nodes: Tensor, examples: Tensor, slots: Tensor) -> Tensor:
    """Rows ``nodes[examples[p], slots[p]]`` of an ``(N, M, ...)`` store, by one
    ``index_select`` on its flat view (multi-index gathers are much slower on the CPU)."""
    flat = nodes.flatten(0, 1)
    index = (examples * nodes.shape[1] + slots).to(nodes.device)
    return flat.index_select(0, index)


def _put(nodes: Tensor, examples: Tensor, slots: Tensor, values: Tensor) -> None:
    """``nodes[examples[p], slots[p]] = values[p]``, by one ``index_copy_``."""
    flat = nodes.view(-1, *nodes.shape[2:])
    index = (examples * nodes.shape[1] + slots).to(nodes.device)
    flat.index_copy_(0, index, values.to(nodes.dtype).reshape(-1, *nodes.shape[2:]))
