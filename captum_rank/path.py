r"""One input tensor's rank path: its points, its increments and the running sums.

For ``x`` of shape ``(N, ..., H, W)`` and a baseline ``x'``, the decomposition
``x - x' = U diag(s) V^T`` is taken once; a path step then only needs the components
whose gate moves in that step (the *active* band ``lo:hi``). The attribution loop asks
for the path points of consecutive steps (:meth:`RankPath.point`), runs the model on
them, and hands the gradients back (:meth:`RankPath.accumulate`). Nothing here holds
more than one step's worth of tensors, so peak memory is set by the caller's chunking.
The order is enforced: points are built from a running sum, so :meth:`RankPath.point`
must see every step once, in increasing order, and :meth:`RankPath.accumulate` only
takes a step whose point was built and not yet accumulated; anything else raises.

Whether the path is IG's straight line is derived from the schedule's gates on this
input (every component with the same gate at every node and cell boundary), not taken
on trust: such a path needs no decomposition per step and uses IG's own formula.
What a run accumulates and returns is one :class:`PathPlan`; :meth:`RankPath.pixels`
and :meth:`RankPath.ranks` turn the sums into attributions.

The sums kept, for ``G_s = grad F(gamma(a_s))`` and ``dphi_s = phi(b_s) - phi(b_{s-1})``:

* ``pixel_sum  = sum_s G_s * (gamma(b_s) - gamma(b_{s-1}))``  (the RIG attribution);
* ``grad_mean  = sum_s (b_s - b_{s-1}) G_s``                   (the path-averaged gradient);
* ``rank_sum_i = sum_s dphi_{s,i} u_i^T G_s v_i``               (rank-space, per unit ``s_i``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor

from captum_rank import svd as _svd
from captum_rank.quadrature import Partition
from captum_rank.schedules import LinearSchedule, RankSchedule

Form = Literal["increments", "averaged"]


@dataclass(frozen=True)
class PathPlan:
    r"""What one attribution run accumulates along a path, and what it returns.

    Attributes:
        pixels (bool): return input-space attributions.
        ranks (bool): return rank-space attributions.
        form (str): ``"increments"`` (gradients times path increments) or ``"averaged"``
            (the paper's path-averaged gradient times ``x - x'``).
        multiply_by_inputs (bool): global attributions (``True``) or the local
            path-averaged gradient.

    Examples:
        >>> PathPlan(pixels=True, ranks=False).mean_based(straight=True)
        True
    """

    pixels: bool
    ranks: bool
    form: Form = "increments"
    multiply_by_inputs: bool = True

    def mean_based(self, straight: bool) -> bool:
        r"""Whether the results come from the path-averaged gradient alone.

        The averaged form and the straight line need only ``sum_s w_s G_s``; the
        increments of a curved path need the per-step products.

        Args:
            straight (bool): whether the path is a straight line.

        Returns:
            bool: ``True`` when only the path-averaged gradient is accumulated for ranks.
        """
        return self.form == "averaged" or straight


def matrix_form(inputs: Tensor, schedule: RankSchedule) -> tuple[RankSchedule, tuple[int, ...]]:
    r"""The schedule and the ``(N, ..., H, W)`` shape in which the path factors ``inputs``.

    * An input with fewer than two matrix dimensions, ``(N, L)`` or ``(N,)`` (allowed in a
      tuple next to matrix inputs), is one ``1 x L`` matrix per example, of rank one,
      walked on IG's straight line: the schedule becomes :class:`LinearSchedule`.
    * ``schedule.channels == "joint"``: one matrix per example, the leading dimensions
      stacked on the rows, ``(N, 1, C*H, W)``.
    * Otherwise the input's own shape.

    Args:
        inputs (Tensor): the input tensor.
        schedule (RankSchedule): the user's schedule.

    Returns:
        tuple: ``(schedule, matrix_shape)``; ``matrix_shape`` may hold one ``-1``.

    Examples:
        >>> import torch
        >>> from captum_rank.schedules import SequentialSchedule
        >>> schedule, shape = matrix_form(torch.zeros(4, 7), SequentialSchedule())
        >>> type(schedule).__name__, shape
        ('LinearSchedule', (4, 1, -1))
    """
    shape = tuple(inputs.shape)
    if inputs.dim() < 3:
        return LinearSchedule(), (shape[0], 1, -1)
    if getattr(schedule, "channels", "per_channel") == "joint" and inputs.dim() > 3:
        return schedule, (shape[0], 1, -1, shape[-1])
    return schedule, shape


def _active_bands(moving: Tensor) -> list[tuple[int, int]]:
    """``(lo, hi)`` per step: the hull of the components that move anywhere in the batch.

    ``moving`` is ``(S, ..., r)`` boolean. One hull per step (instead of a per-matrix
    gather) keeps the per-step work as contiguous slices of the factors.
    """
    steps, r = moving.shape[0], moving.shape[-1]
    any_moving = moving.reshape(steps, -1, r).any(dim=1).cpu()
    index = torch.arange(r)
    bands = []
    for row in any_moving:
        hits = index[row]
        bands.append((int(hits[0]), int(hits[-1]) + 1) if hits.numel() else (0, 0))
    return bands


@dataclass
class RankPath:
    r"""The rank path of one input tensor and the sums RIG needs along it.

    Args:
        inputs (Tensor): ``(N, ..., H, W)`` end point ``x``.
        baseline (Tensor): start point ``x'``, broadcastable to ``inputs``.
        schedule (RankSchedule): the gates.
        partition (Partition): nodes and cell boundaries of the quadrature.
        plan (PathPlan): what to accumulate and return. The path keeps exactly the sums
            the plan needs (``pixel_sum``, ``grad_mean``, ``rank_sum``) and the SVD
            factors where a curved path or rank attributions need them.

    With ``schedule.channels == "joint"`` the path works on each example's leading
    dimensions stacked into one ``(C*H) x W`` matrix: ``delta``, the factors and the
    sums are in that ``(N, 1, C*H, W)`` form, while :meth:`point` returns and
    :meth:`accumulate` takes tensors of the input's own shape. :meth:`as_input` turns
    a pixel sum back into the input's shape.

    An input with fewer than two matrix dimensions, ``(N, L)`` or ``(N,)`` (allowed in a
    tuple next to matrix inputs), is one ``1 x L`` matrix per example: it has a single
    component (``s_1 = ||x - x'||``), follows the straight line whatever the schedule
    (it is IG for that input), and its rank attribution has shape ``(N, 1)``.
    """

    inputs: Tensor
    baseline: Tensor
    schedule: RankSchedule
    partition: Partition
    plan: PathPlan
    work_dtype: torch.dtype = field(init=False)
    delta: Tensor = field(init=False)
    factors: tuple[Tensor, Tensor, Tensor] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.work_dtype = _svd.compute_dtype(self.inputs.dtype)
        self.baseline = self.baseline.to(self.work_dtype)
        shape = self.inputs.shape
        self.schedule, self.matrix_shape = matrix_form(self.inputs, self.schedule)
        if self.matrix_shape != tuple(shape):
            self.baseline = torch.broadcast_to(self.baseline, shape).reshape(self.matrix_shape)
        self.delta = self.inputs.to(self.work_dtype).reshape(self.matrix_shape) - self.baseline
        plan = self.plan
        if plan.ranks:
            self.factors = _svd.thin_svd(self.delta)
            singular_values = self.factors[1]
        else:
            singular_values = torch.linalg.svdvals(self.delta)
        at_bounds = self.schedule.gates(self.partition.boundaries, singular_values)
        at_nodes = self.schedule.gates(self.partition.nodes, singular_values)
        # Straight line: every component has the same gate at every node and boundary,
        # so each point is x' + phi * (x - x') and each increment dphi * (x - x').
        straight = bool(
            (at_bounds == at_bounds[..., :1]).all() and (at_nodes == at_nodes[..., :1]).all()
        )
        steps = (at_bounds[1:] - at_bounds[:-1]).to(self.work_dtype)
        self._straight = straight
        mean_based = plan.mean_based(straight)
        self.pixel_sum = (
            torch.zeros_like(self.delta)
            if plan.pixels and plan.multiply_by_inputs and not mean_based
            else None
        )
        need_mean = (plan.pixels and (mean_based or not plan.multiply_by_inputs)) or (
            plan.ranks and mean_based
        )
        self.grad_mean = torch.zeros_like(self.delta) if need_mean else None
        self.rank_sum: Tensor | None = None
        self._running: Tensor | None = None
        self._next_point = 0
        self._next_accumulate = 0
        if straight:
            # One gate per matrix and step; for the linear schedule these are Captum's
            # nodes and weights exactly, so RIG(linear) is Captum's IG.
            self.straight_nodes = at_nodes[..., 0].to(self.work_dtype)[..., None, None]
            self.straight_weights = steps[..., 0][..., None, None]
            self.gate_steps = None
            return
        if self.factors is None:
            self.factors = _svd.thin_svd(self.delta)
            singular_values = self.factors[1]
        self.gate_steps = steps
        self.gate_offsets = (at_nodes - at_bounds[:-1]).to(self.work_dtype)
        self.bands = _active_bands(steps > 0)
        self._running = torch.zeros_like(self.delta)
        if plan.ranks and not mean_based:
            self.rank_sum = torch.zeros_like(singular_values)

    @property
    def straight(self) -> bool:
        """Whether the path is a straight line (derived from the gates; no per-step SVD)."""
        return self._straight

    @property
    def steps(self) -> int:
        """Number of quadrature steps along the path."""
        return len(self.partition)

    @property
    def finished(self) -> bool:
        """Whether every step's gradient has been accumulated."""
        return self._next_accumulate == self.steps

    def _partial(self, step: int, gates: Tensor) -> Tensor:
        U, S, Vh = self._factors()
        lo, hi = self.bands[step]
        return _svd.reconstruct(U[..., lo:hi], S[..., lo:hi] * gates[step][..., lo:hi],
                                Vh[..., lo:hi, :])

    def point(self, step: int) -> Tensor:
        r"""The path point ``gamma(a_step)``, in the input's dtype.

        Must be called for steps ``0, 1, ..., S - 1`` in this order, once each: the path
        is built from a running sum of increments, so that a step costs only its active
        band. Any other order raises.

        Args:
            step (int): the next step.

        Returns:
            Tensor: ``gamma(a_step)`` in the input's shape and dtype.

        Raises:
            RuntimeError: if ``step`` is not the next step of the walk.
        """
        if step != self._next_point:
            raise RuntimeError(
                f"RankPath.point({step}) called out of order: the next step is "
                f"{self._next_point} (each step once, in increasing order, of {self.steps})."
            )
        self._next_point += 1
        if self._running is None:
            return self.as_input(self.baseline + self.straight_nodes[step] * self.delta)
        steps = self.gate_steps
        if steps is None:
            raise RuntimeError("A curved RankPath lost its gate steps.")
        here = self._running + self._partial(step, self.gate_offsets)
        self._running = self._running + self._partial(step, steps)
        return self.as_input(self.baseline + here)

    def as_input(self, matrix: Tensor) -> Tensor:
        r"""A tensor of the path's matrix form in the input's shape and dtype."""
        return matrix.reshape(self.inputs.shape).to(self.inputs.dtype)

    def accumulate(self, step: int, grad: Tensor) -> None:
        r"""Add the gradient ``G_step`` at ``gamma(a_step)`` to the running sums.

        Args:
            step (int): the step whose point :meth:`point` returned last but not yet
                accumulated, in increasing order.
            grad (Tensor): the gradient at that point, in the input's shape.

        Raises:
            RuntimeError: for a step whose point was not built yet or that was already
                accumulated.
        """
        if step != self._next_accumulate or step >= self._next_point:
            raise RuntimeError(
                f"RankPath.accumulate({step}) out of order: the next step to accumulate is "
                f"{self._next_accumulate}, and points were built for steps "
                f"< {self._next_point}."
            )
        self._next_accumulate += 1
        grad = grad.to(self.work_dtype).reshape(self.matrix_shape)
        if self.gate_steps is None:
            if self.grad_mean is not None:
                self.grad_mean.add_(grad * self.straight_weights[step])
            return
        if self.grad_mean is not None:
            self.grad_mean.add_(grad, alpha=float(self.partition.weights[step]))
        if self.factors is None:
            raise RuntimeError("A curved RankPath lost its SVD factors.")
        if self.pixel_sum is not None:
            self.pixel_sum.add_(grad * self._partial(step, self.gate_steps))
        if self.rank_sum is not None:
            lo, hi = self.bands[step]
            if hi > lo:
                projection = self.project(grad, lo, hi)
                self.rank_sum[..., lo:hi] += self.gate_steps[step][..., lo:hi] * projection

    def project(self, matrix: Tensor, lo: int = 0, hi: int | None = None) -> Tensor:
        r"""``u_i^T M v_i`` for the components ``lo <= i < hi`` (all by default)."""
        U, _, Vh = self._factors()
        return ((U[..., lo:hi].mT @ matrix) * Vh[..., lo:hi, :]).sum(-1)

    @property
    def singular_values(self) -> Tensor:
        """``(N, ..., r)`` singular values of ``x - x'``."""
        return self._factors()[1]

    def _factors(self) -> tuple[Tensor, Tensor, Tensor]:
        if self.factors is None:
            raise RuntimeError(
                "This RankPath kept no SVD factors: it is a straight line and its plan "
                "asked for no rank attributions."
            )
        return self.factors

    def _check_finished(self, what: str) -> None:
        if not self.finished:
            raise RuntimeError(
                f"RankPath.{what}() before the walk is over: {self._next_accumulate} of "
                f"{self.steps} steps accumulated."
            )

    def pixels(self) -> Tensor:
        r"""Input-space attributions of the finished walk, in the input's shape and dtype.

        Returns:
            Tensor: the plan's attribution (global or local, increments or averaged).

        Raises:
            RuntimeError: if the plan asked for no pixels, or steps are missing.
        """
        self._check_finished("pixels")
        if not self.plan.pixels:
            raise RuntimeError("RankPath.pixels(): the plan asked for no pixel attributions.")
        if self.pixel_sum is not None:
            return self.as_input(self.pixel_sum)
        if self.grad_mean is None:
            raise RuntimeError("RankPath.pixels(): no path-averaged gradient was kept.")
        if not self.plan.multiply_by_inputs:
            return self.as_input(self.grad_mean)
        return self.as_input(self.grad_mean * self.delta)

    def ranks(self) -> Tensor:
        r"""Rank-space attributions ``(N, ..., r)`` of the finished walk, in the input's dtype.

        Returns:
            Tensor: ``R_i`` (global) or ``R_i / s_i`` (local).

        Raises:
            RuntimeError: if the plan asked for no ranks, or steps are missing.
        """
        self._check_finished("ranks")
        if not self.plan.ranks:
            raise RuntimeError("RankPath.ranks(): the plan asked for no rank attributions.")
        if self.rank_sum is not None:
            per_unit = self.rank_sum
        elif self.grad_mean is not None:
            per_unit = self.project(self.grad_mean)
        else:
            raise RuntimeError("RankPath.ranks(): no rank sums were kept.")
        result = per_unit * self.singular_values if self.plan.multiply_by_inputs else per_unit
        return result.to(self.inputs.dtype)
