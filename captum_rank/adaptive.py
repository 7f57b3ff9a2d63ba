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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from captum_rank.path import PathGeometry, PathPlan
from captum_rank.schedules import RankSchedule

__all__ = ["Convergence", "adaptive_walk", "initial_nodes"]


#: ``evaluate(points, examples)``: gradients (one tensor per input, same shapes as
#: ``points``) and the selected outputs ``(P,)`` at the points; ``examples`` ``(P,)``
#: holds the example index of every point (step-major order).
Evaluate = Callable[[tuple[Tensor, ...], Tensor], tuple[tuple[Tensor, ...], Tensor]]


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
class _Example:
    """Everything the rule keeps for one example: nodes, gates, points, gradients, outputs."""

    alphas: Tensor  # (m,) float64, sorted
    gates: list[Tensor]  # per input: (m, *lead, r)
    points: list[Tensor]  # per input: (m, *matrix)
    grads: list[Tensor]  # per input: (m, *matrix)
    outputs: Tensor  # (m,) float64

    # The per-interval numbers live on the CPU with the nodes and outputs (they steer the
    # bisection); points and gradients stay on the model's device.

    def trapezoids(self, keep: Tensor | None = None) -> Iterator[Tensor]:
        """Per input, each interval's trapezoid ``(G_j + G_{j+1}) / 2 * increment``
        ``(intervals, *matrix)``, on all nodes or on the nodes ``keep``."""
        for points, grads in zip(self.points, self.grads, strict=True):
            if keep is not None:
                index = keep.to(points.device)
                points, grads = points[index], grads[index]
            yield 0.5 * (grads[1:] + grads[:-1]) * (points[1:] - points[:-1])

    def interval_errors(self) -> Tensor:
        estimate = torch.zeros(self.alphas.numel() - 1, dtype=torch.float64)
        for pieces in self.trapezoids():
            estimate += pieces.flatten(1).sum(1).cpu().to(torch.float64)
        return estimate - (self.outputs[1:] - self.outputs[:-1])

    def pixel_map(self, keep: Tensor | None = None) -> Tensor:
        """The trapezoid pixel map on all nodes, or on the nodes ``keep``, flattened.

        In the work dtype, on the input's device: a relative error of maps is well within
        float32, and a float64 copy would not exist on MPS.
        """
        return torch.cat([pieces.sum(0).flatten() for pieces in self.trapezoids(keep)])

    def map_error(self) -> float:
        """``||A_n - A_{n/2}|| / ||A_n||``: the map on all nodes against every other node."""
        count = self.alphas.numel()
        if count < 3:
            return math.inf
        every_other = list(range(0, count, 2))
        if every_other[-1] != count - 1:
            every_other.append(count - 1)  # both ends stay: the coarse rule spans the path
        fine = self.pixel_map()
        coarse = self.pixel_map(torch.tensor(every_other))
        gap, size = float((fine - coarse).norm()), float(fine.norm())
        if size == 0.0:
            return 0.0 if gap == 0.0 else math.inf
        return gap / size

    def split_scores(self, errors: Tensor) -> Tensor:
        # How much each interval is worth splitting: its share of the completeness error
        # plus how far its two gradients disagree on its own increment (the trapezoid's
        # per-pixel error scale), each relative to its total over the path.
        spread = torch.zeros_like(errors)
        for points, grads in zip(self.points, self.grads, strict=True):
            gaps = (grads[1:] - grads[:-1]) * (points[1:] - points[:-1])
            spread += gaps.flatten(1).pow(2).sum(1).cpu().to(torch.float64)
        spread = spread.sqrt()
        size = errors.abs()
        return size / size.sum().clamp_min(1e-300) + spread / spread.sum().clamp_min(1e-300)

    def insert(self, alphas: Tensor, gates: list[Tensor], points: list[Tensor],
               grads: list[Tensor], outputs: Tensor) -> None:
        merged = torch.cat([self.alphas, alphas])
        order = merged.argsort(stable=True)
        self.alphas = merged[order]

        def merge(old: Tensor, new: Tensor) -> Tensor:
            return torch.cat([old, new.to(old.device)])[order.to(old.device)]

        self.gates = [merge(o, n) for o, n in zip(self.gates, gates, strict=True)]
        self.points = [merge(o, n) for o, n in zip(self.points, points, strict=True)]
        self.grads = [merge(o, n) for o, n in zip(self.grads, grads, strict=True)]
        self.outputs = merge(self.outputs, outputs)


def adaptive_walk(
    inputs: tuple[Tensor, ...],
    baselines: tuple[Tensor, ...],
    schedule: RankSchedule,
    plan: PathPlan,
    evaluate: Evaluate,
    n_steps: int,
    tolerance: float | None,
    points_per_call: int | None,
    map_tolerance: float | None = None,
) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...], Convergence]:
    r"""Run the adaptive rule on a batch; return pixel and rank attributions.

    Args:
        inputs (tuple[Tensor, ...]): checked inputs ``(N, ..., H, W)``.
        baselines (tuple[Tensor, ...]): baselines broadcastable to the inputs.
        schedule (RankSchedule): the path.
        plan (PathPlan): what to return.
        evaluate (Callable): gradients and outputs at a batch of path points.
        n_steps (int): evaluations each example may spend (at least 2).
        tolerance (float or None): stop an example once ``|delta| <= tolerance |F(x) -
            F(x')|`` (and the map tolerance, if any, is met).
        points_per_call (int or None): at most this many path points (of all examples)
            per call of ``evaluate``; ``None``: no limit.
        map_tolerance (float or None): stop an example once its estimated map error is at
            most this (and the completeness tolerance, if any, is met).

    Returns:
        tuple: ``(pixels, ranks, convergence)``; ``pixels``/``ranks`` are empty tuples
        when the plan does not ask for them.
    """
    geometries = [
        PathGeometry.build(tensor, baseline, schedule)
        for tensor, baseline in zip(inputs, baselines, strict=True)
    ]
    num = inputs[0].shape[0]
    count = initial_nodes(n_steps, tolerance, map_tolerance)
    start = torch.linspace(0.0, 1.0, count, dtype=torch.float64)
    start[-1] = 1.0
    examples: list[_Example | None] = [None] * num
    new_alphas: dict[int, Tensor] = {e: start for e in range(num)}
    spent = torch.zeros(num, dtype=torch.int64)
    active = list(range(num))
    stopping = tolerance is not None or map_tolerance is not None
    while new_alphas:
        _evaluate_round(geometries, examples, new_alphas, evaluate, points_per_call)
        for e, alphas in new_alphas.items():
            spent[e] += alphas.numel()
        new_alphas = {}
        still = []
        for e in active:
            example = _present(examples[e])
            errors = example.interval_errors()
            if stopping and _converged(example, errors, tolerance, map_tolerance):
                continue
            remaining = n_steps - int(spent[e])
            if remaining <= 0:
                continue
            # Bisect about half the intervals per round (at least one): the largest scores.
            count = min(remaining, max(1, math.ceil(errors.numel() / 2)))
            worst = example.split_scores(errors).topk(count).indices
            alphas = 0.5 * (example.alphas[worst] + example.alphas[worst + 1])
            new_alphas[e] = alphas
            still.append(e)
        active = still
    finished = [_present(example) for example in examples]
    pixels, ranks = _results(geometries, finished, plan)
    delta = torch.stack([ex.interval_errors().sum() for ex in finished])
    change = torch.stack([ex.outputs[-1] - ex.outputs[0] for ex in finished])
    map_error = torch.tensor([ex.map_error() for ex in finished], dtype=torch.float64)
    convergence = Convergence(evaluations=spent, delta=delta, output_change=change,
                              tolerance=tolerance, budget=n_steps, map_error=map_error,
                              map_tolerance=map_tolerance)
    return pixels, ranks, convergence


def _present(example: _Example | None) -> _Example:
    if example is None:
        raise RuntimeError("adaptive rule: an example lost its nodes.")
    return example


def _converged(example: _Example, errors: Tensor, tolerance: float | None,
               map_tolerance: float | None) -> bool:
    """Whether an example meets every requested tolerance (the cheap test first)."""
    if tolerance is not None:
        scale = abs(float(example.outputs[-1] - example.outputs[0]))
        if abs(float(errors.sum())) > tolerance * scale:
            return False
    return map_tolerance is None or example.map_error() <= map_tolerance


def _evaluate_round(
    geometries: list[PathGeometry],
    examples: list[_Example | None],
    new_alphas: dict[int, Tensor],
    evaluate: Evaluate,
    points_per_call: int | None,
) -> None:
    """Evaluate the new nodes of every example (node-major batches) and insert them.

    The new points of all examples are stacked once (example-major) and every chunk is
    one gather from that stack and one scatter back: no per-point tensor work, which on
    a GPU would cost more than a small model's forward pass.
    """
    order = list(new_alphas)
    gates = {e: [g.gates(new_alphas[e], e) for g in geometries] for e in order}
    points = {
        e: [g.points(gt, e) for g, gt in zip(geometries, gates[e], strict=True)] for e in order
    }
    counts = [int(new_alphas[e].numel()) for e in order]
    starts = [sum(counts[:k]) for k in range(len(order))]
    # Node-major (the j-th new node of every example, then the next), so that examples
    # with equal counts batch as Captum batches its steps.
    rows = sorted((j, k) for k in range(len(order)) for j in range(counts[k]))
    permutation = torch.tensor([starts[k] + j for j, k in rows], dtype=torch.int64)
    row_examples = torch.tensor([order[k] for _, k in rows], dtype=torch.int64)
    stacks = [torch.cat([g.as_input(points[e][t]) for e in order])
              for t, g in enumerate(geometries)]
    total = int(permutation.numel())
    grads = [torch.empty((total, *g.matrix_shape[1:]), dtype=g.work_dtype,
                         device=stack.device) for g, stack in zip(geometries, stacks, strict=True)]
    outputs = torch.empty(total, dtype=torch.float64)
    size = total if points_per_call is None else max(1, points_per_call)
    for first in range(0, total, size):
        rows_here = permutation[first:first + size]
        batch = tuple(stack[rows_here.to(stack.device)] for stack in stacks)
        chunk_grads, chunk_outputs = evaluate(batch, row_examples[first:first + size])
        for t, g in enumerate(geometries):
            target = grads[t]
            target[rows_here.to(target.device)] = chunk_grads[t].detach().to(
                g.work_dtype).reshape(len(rows_here), *g.matrix_shape[1:])
        outputs[rows_here] = chunk_outputs.detach().cpu().to(torch.float64).reshape(-1)
    per_input = [torch.split(grad, counts) for grad in grads]
    per_example_outputs = torch.split(outputs, counts)
    for k, e in enumerate(order):
        example_grads = [split[k] for split in per_input]
        example = examples[e]
        if example is None:
            examples[e] = _Example(new_alphas[e].clone(), gates[e], points[e], example_grads,
                                   per_example_outputs[k])
        else:
            example.insert(new_alphas[e], gates[e], points[e], example_grads,
                           per_example_outputs[k])


def _results(
    geometries: list[PathGeometry], examples: list[_Example], plan: PathPlan
) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...]]:
    """Each example's trapezoid sums, per input, turned into attributions by the geometry.

    The trapezoid gives interval ``j`` the mean gradient ``(G_j + G_{j+1}) / 2`` and the
    increment ``gamma(a_{j+1}) - gamma(a_j)``; the sums are those of the fixed rules
    (pixel sum, path-averaged gradient, per-unit rank sums), so the same
    :meth:`~captum_rank.path.PathGeometry.pixel_result` and ``rank_result`` finish both.
    """
    pixels: list[Tensor] = []
    ranks: list[Tensor] = []
    for t, geometry in enumerate(geometries):
        pixel_sums, grad_means, rank_sums = [], [], []
        for e, example in enumerate(examples):
            points, grads, gates = example.points[t], example.grads[t], example.gates[t]
            mean_grads = 0.5 * (grads[1:] + grads[:-1])
            steps = (example.alphas[1:] - example.alphas[:-1]).to(grads.device, grads.dtype)
            grad_means.append((steps.reshape(-1, *[1] * (grads.dim() - 1)) * mean_grads)
                              .sum(0))
            pixel_sums.append((mean_grads * (points[1:] - points[:-1])).sum(0))
            if plan.ranks and plan.form == "increments":
                dphi = gates[1:] - gates[:-1]
                rank_sums.append((dphi * geometry.project(mean_grads, example=e)).sum(0))
        grad_mean = torch.stack(grad_means)
        if plan.pixels:
            pixels.append(geometry.pixel_result(plan, torch.stack(pixel_sums), grad_mean))
        if plan.ranks:
            rank_sum = torch.stack(rank_sums) if rank_sums else None
            ranks.append(geometry.rank_result(plan, rank_sum, grad_mean))
    return tuple(pixels), tuple(ranks)
