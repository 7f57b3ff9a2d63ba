r"""One input tensor's rank path: its points, its increments and the running sums.

For ``x`` of shape ``(N, ..., H, W)`` and a baseline ``x'``, the decomposition
``x - x' = U diag(s) V^T`` is taken once; a path step then only needs the components
whose gate moves in that step (the *active* band ``lo:hi``). The attribution loop asks
for the path points of consecutive steps (:meth:`PathWalk.point`), runs the model on
them, and hands the gradients back (:meth:`PathWalk.accumulate`). Nothing here holds
more than one step's worth of tensors, so peak memory is set by the caller's chunking.
The order is enforced: points are built from a running sum, so :meth:`PathWalk.point`
must see every step once, in increasing order, and :meth:`PathWalk.accumulate` only
takes a step whose point was built and not yet accumulated; anything else raises.

Whether the path is IG's straight line is derived from the schedule's gates on this
input (every component with the same gate at every node and cell boundary), not taken
on trust: such a path needs no decomposition per step and uses IG's own formula.
What a run accumulates and returns is one :class:`PathPlan`; :meth:`PathWalk.pixels`
and :meth:`PathWalk.ranks` turn the sums into attributions.

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
from captum_rank.schedules import (
    ArcLengthSchedule,
    EnergySchedule,
    LinearSchedule,
    NumericalRankSchedule,
    RankSchedule,
    SequentialSchedule,
    SpectralSchedule,
)

_CURVED = (ArcLengthSchedule, EnergySchedule, NumericalRankSchedule, SequentialSchedule)

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


def is_straight_line(inputs: tuple[Tensor, ...], schedule: RankSchedule) -> bool:
    r"""Whether ``schedule`` walks every input on IG's straight line, whatever its values.

    That is the linear schedule, or inputs whose matrices are all of rank at most one:
    feature vectors ``(N, F)`` and ``(N,)`` (one ``1 x F`` matrix per example) and matrices
    with a single row or column. With one component there is one gate, so every schedule
    moves the whole difference ``x - x'`` at once.

    Args:
        inputs (tuple[Tensor, ...]): the input tensors.
        schedule (RankSchedule): the user's schedule.

    Returns:
        bool: ``True`` when the path is the straight line for every input.

    Examples:
        >>> import torch
        >>> from captum_rank.schedules import ArcLengthSchedule
        >>> is_straight_line((torch.zeros(4, 7),), ArcLengthSchedule())
        True
        >>> is_straight_line((torch.zeros(4, 1, 3, 3),), ArcLengthSchedule())
        False
    """
    if isinstance(schedule, LinearSchedule):
        return True
    for tensor in inputs:
        form, shape = matrix_form(tensor, schedule)
        if isinstance(form, LinearSchedule):
            continue
        columns = shape[-1]
        rows = shape[-2] if shape[-2] != -1 else tensor[0].numel() // max(columns, 1)
        if min(rows, columns) > 1:
            return False
    return True


#: Up to this many components per matrix, rows are reconstructed whole: the arithmetic
#: (r^3 per 28 x 28 image) costs less than finding and gathering each row's moving band.
_FULL_RECONSTRUCTION_RANK = 64


@dataclass
class PathGeometry:
    r"""One input tensor's decomposition, in the matrix form its path walks.

    The one place that puts an input in matrix form (:func:`matrix_form`), takes
    ``x - x'`` and its SVD, builds path points from gates (IG's own formula where the
    gates are equal, the SVD otherwise), projects a matrix on the components, and turns
    the sums a rule accumulated into attributions (:meth:`pixel_result`,
    :meth:`rank_result`). The fixed rules (:class:`PathWalk`) and the adaptive rule
    (:mod:`captum_rank.adaptive`) differ only in where they put their nodes and how they
    weight the gradients.

    Args:
        inputs (Tensor): ``(N, ..., H, W)`` end point ``x``.
        baseline (Tensor): start point ``x'``, broadcastable to ``inputs``.
        schedule (RankSchedule): the gates.
        factors (bool, optional): take the full SVD now; otherwise only the singular
            values, and the factors on first use. Default: ``True``.

    Examples:
        >>> import torch
        >>> from captum_rank.schedules import SequentialSchedule
        >>> geometry = PathGeometry.build(torch.ones(2, 3, 4, 4), torch.zeros(()),
        ...                               SequentialSchedule())
        >>> geometry.matrix_shape, tuple(geometry.singular_values.shape)
        ((2, 3, 4, 4), (2, 3, 4))
    """

    inputs: Tensor
    baseline: Tensor
    delta: Tensor
    schedule: RankSchedule
    matrix_shape: tuple[int, ...]
    singular_values: Tensor
    factors: tuple[Tensor, Tensor, Tensor] | None = None
    _component_major: tuple[Tensor, Tensor] | None = field(default=None, repr=False)

    @classmethod
    def build(cls, inputs: Tensor, baseline: Tensor, schedule: RankSchedule,
              factors: bool = True) -> PathGeometry:
        r"""Decompose ``inputs - baseline`` in the matrix form of ``schedule``."""
        work = _svd.compute_dtype(inputs.dtype)
        schedule, matrix_shape = matrix_form(inputs, schedule)
        # A view of the broadcast baseline: a per-example baseline costs no copy.
        base = torch.broadcast_to(baseline.to(work), inputs.shape).reshape(matrix_shape)
        delta = inputs.to(work).reshape(matrix_shape) - base
        if factors:
            svd = _svd.thin_svd(delta)
            return cls(inputs, base, delta, schedule, tuple(delta.shape), svd[1], svd)
        return cls(inputs, base, delta, schedule, tuple(delta.shape),
                   torch.linalg.svdvals(delta))

    @property
    def work_dtype(self) -> torch.dtype:
        """The dtype of the decomposition and the sums."""
        return self.delta.dtype

    def svd(self) -> tuple[Tensor, Tensor, Tensor]:
        r"""``(U, S, Vh)`` of ``x - x'``, taken on first use if :meth:`build` skipped it."""
        if self.factors is None:
            self.factors = _svd.thin_svd(self.delta)
            self.singular_values = self.factors[1]
        return self.factors

    def gates(self, alphas: Tensor, example: int | None = None) -> Tensor:
        r"""``(T, ..., r)`` gates at ``alphas`` ``(T,)`` (of one example, or the batch)."""
        values = self.singular_values if example is None else self.singular_values[example]
        # The schedules time the components in float64, on the host: small tensors
        # (steps x components), and no float64 tensor on the device (MPS has none).
        gates = self.schedule.gates(alphas.cpu(), values.detach().cpu())
        return gates.to(device=values.device, dtype=self.work_dtype)

    def points(self, gates: Tensor, example: int | None = None) -> Tensor:
        r"""``(T, ...matrix)`` path points ``x' + sum_i g_i s_i u_i v_i^T`` for ``gates``.

        Where every component has the same gate the point is ``x' + g (x - x')``, IG's
        own formula, with no reconstruction error.
        """
        pick = slice(None) if example is None else example
        if straight(gates):
            return self.baseline[pick] + gates[..., :1, None] * self.delta[pick]
        U, S, Vh = (f[pick] for f in self.svd())
        return self.baseline[pick] + _svd.reconstruct(U, S * gates, Vh)

    def row_gates(self, alphas: Tensor, examples: Tensor) -> Tensor:
        r"""``(P, ..., r)`` gates of rows: row ``p`` at ``alphas[p]`` on example ``examples[p]``."""
        values = self.singular_values[examples.to(self.singular_values.device)]
        # Timed in float64 on the host, as in gates(): no float64 tensor on the device.
        gates = self.schedule.paired_gates(alphas.cpu(), values.detach().cpu())
        return gates.to(self.work_dtype).to(values.device)

    def row_points(self, gates: Tensor, examples: Tensor,
                   start: tuple[Tensor, Tensor] | None = None) -> Tensor:
        r"""``(P, ...matrix)`` path points of rows, each on its own example.

        Args:
            gates (Tensor): ``(P, ..., r)`` gates of the rows.
            examples (Tensor): ``(P,)`` example of every row.
            start (tuple[Tensor, Tensor], optional): ``(points, gates)`` of a known point
                of the same examples; the rows are then that point plus the components
                whose gates differ, so a row between two nearby nodes costs its few
                moving components instead of the whole reconstruction (used above 64
                components; below, the whole reconstruction is cheaper).

        Returns:
            Tensor: the points in the matrix form, work dtype.
        """
        rows = examples.to(self.delta.device)
        if straight(gates):
            return self.baseline[rows] + gates[..., :1, None] * self.delta[rows]
        U, S, Vh = self.svd()
        r = S.shape[-1]
        if start is not None and r > _FULL_RECONSTRUCTION_RANK:
            base_points, base_gates = start
            change = gates - base_gates
            moving = (change != 0).reshape(change.shape[0], -1, r).any(1)  # (P, r)
            index = torch.arange(r, device=moving.device)
            lo = torch.where(moving, index, r).min(1).values
            hi = torch.where(moving, index + 1, 0).max(1).values
            width = int((hi - lo).clamp_min(0).max()) if moving.numel() else 0
            if width == 0:
                return base_points.clone()
            if 2 * width < r:
                pick = (lo[:, None] + torch.arange(width, device=lo.device)).clamp(max=r - 1)
                inside = torch.arange(width, device=lo.device) < (hi - lo)[:, None]
                lead = (1,) * (change.dim() - 2)
                pick_r = pick.reshape(pick.shape[0], *lead, width)
                weights = (S[rows] * change).gather(-1, pick_r.expand(*change.shape[:-1], width))
                weights = weights * inside.reshape(pick_r.shape)
                U_band, Vh_band = self._band(rows, pick)
                return base_points + _svd.reconstruct(U_band, weights, Vh_band)
        return self.baseline[rows] + _svd.reconstruct(U[rows], S[rows] * gates, Vh[rows])

    def _band(self, rows: Tensor, pick: Tensor) -> tuple[Tensor, Tensor]:
        r"""``U`` ``(P, ..., H, w)`` and ``Vh`` ``(P, ..., w, W)`` of components
        ``pick`` ``(P, w)``, row ``p`` on example ``rows[p]``.

        Only the picked vectors are copied (one ``index_select`` on the factors stored
        component-major, kept once per geometry), never a row's whole ``U`` and ``Vh``:
        at 224 x 224 those would cost as much memory traffic as the points themselves.
        """
        if self._component_major is None:
            U, _, Vh = self.svd()
            # (N, r, ..., H) and (N, r, ..., W): the components of one example together.
            self._component_major = (U.movedim(-1, 1).contiguous(),
                                     Vh.movedim(-2, 1).contiguous())
        U_c, Vh_c = self._component_major
        r, width = U_c.shape[1], pick.shape[1]
        index = (rows[:, None] * r + pick).reshape(-1).to(U_c.device)
        U_band = U_c.flatten(0, 1).index_select(0, index).reshape(
            len(rows), width, *U_c.shape[2:])
        Vh_band = Vh_c.flatten(0, 1).index_select(0, index).reshape(
            len(rows), width, *Vh_c.shape[2:])
        return U_band.movedim(1, -1), Vh_band.movedim(1, -2)

    def row_projections(self, matrix: Tensor, examples: Tensor) -> Tensor:
        r"""``u_i^T M_p v_i`` of rows ``M_p`` ``(P, ...matrix)`` on their own examples."""
        U, _, Vh = self.svd()
        rows = examples.to(U.device)
        return ((U[rows].mT @ matrix) * Vh[rows]).sum(-1)

    def project(self, matrix: Tensor, lo: int = 0, hi: int | None = None,
                example: int | None = None) -> Tensor:
        r"""``u_i^T M v_i`` for the components ``lo <= i < hi`` (all by default)."""
        pick = slice(None) if example is None else example
        U, _, Vh = (f[pick] for f in self.svd())
        return ((U[..., lo:hi].mT @ matrix) * Vh[..., lo:hi, :]).sum(-1)

    def as_input(self, matrix: Tensor) -> Tensor:
        r"""Matrices ``(T, ...matrix form)`` in the input's per-example shape and dtype."""
        return matrix.reshape(matrix.shape[0], *self.inputs.shape[1:]).to(self.inputs.dtype)

    def pixel_result(self, plan: PathPlan, pixel_sum: Tensor | None,
                     grad_mean: Tensor | None) -> Tensor:
        r"""Input-space attributions ``(N, ...)`` from a rule's sums, as ``plan`` asks.

        Args:
            plan (PathPlan): global or local, increments or averaged.
            pixel_sum (Tensor or None): ``sum G * increment`` (matrix form), if kept.
            grad_mean (Tensor or None): the path-averaged gradient, if kept.

        Returns:
            Tensor: the attribution in the input's shape and dtype.
        """
        if not plan.multiply_by_inputs:
            result = _required(grad_mean, "the path-averaged gradient")
        elif pixel_sum is not None and plan.form == "increments":
            result = pixel_sum
        else:
            result = _required(grad_mean, "the path-averaged gradient") * self.delta
        return result.reshape(self.inputs.shape).to(self.inputs.dtype)

    def rank_result(self, plan: PathPlan, rank_sum: Tensor | None,
                    grad_mean: Tensor | None) -> Tensor:
        r"""Rank-space attributions ``(N, ..., r)`` from a rule's sums, as ``plan`` asks.

        Args:
            plan (PathPlan): global (``R_i``) or local (``R_i / s_i``).
            rank_sum (Tensor or None): per-unit sums ``sum dphi_i u_i^T G v_i``, if kept.
            grad_mean (Tensor or None): the path-averaged gradient (used when
                ``rank_sum`` is ``None``: the averaged form, or a straight line).

        Returns:
            Tensor: the attribution in the input's dtype.
        """
        if rank_sum is not None and plan.form == "increments":
            per_unit = rank_sum
        else:
            per_unit = self.project(_required(grad_mean, "the path-averaged gradient"))
        self.svd()
        result = per_unit * self.singular_values if plan.multiply_by_inputs else per_unit
        return result.to(self.inputs.dtype)


def straight(gates: Tensor) -> bool:
    r"""Whether gates ``(..., r)`` are equal across components everywhere: IG's line."""
    return bool((gates == gates[..., :1]).all())


def _required(value: Tensor | None, what: str) -> Tensor:
    if value is None:
        raise RuntimeError(f"The path kept no {what}, which this plan needs.")
    return value


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
class PathWalk:
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
    dimensions stacked into one ``(C*H) x W`` matrix: the :attr:`geometry`'s ``delta``
    and factors, and the sums, are in that ``(N, 1, C*H, W)`` form, while :meth:`point` returns and
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
    geometry: PathGeometry = field(init=False)

    def __post_init__(self) -> None:
        plan = self.plan
        # The built-in rank schedules curve on any matrix input, so they need the factors
        # anyway: one SVD instead of singular values now and the decomposition later.
        curved = self.inputs.dim() >= 3 and (
            isinstance(self.schedule, _CURVED)
            or (isinstance(self.schedule, SpectralSchedule) and self.schedule.overlap < 1.0))
        geometry = PathGeometry.build(self.inputs, self.baseline, self.schedule,
                                      factors=plan.ranks or curved)
        self.geometry = geometry
        self.schedule = geometry.schedule
        at_bounds = geometry.gates(self.partition.boundaries)
        at_nodes = geometry.gates(self.partition.nodes)
        # Straight line: every component has the same gate at every node and boundary,
        # so each point is x' + phi * (x - x') and each increment dphi * (x - x').
        is_straight = straight(at_bounds) and straight(at_nodes)
        steps = at_bounds[1:] - at_bounds[:-1]
        self._straight = is_straight
        mean_based = plan.mean_based(is_straight)
        zeros = torch.zeros_like(geometry.delta)
        self.pixel_sum = (zeros.clone() if plan.pixels and plan.multiply_by_inputs
                          and not mean_based else None)
        need_mean = (plan.pixels and (mean_based or not plan.multiply_by_inputs)) or (
            plan.ranks and mean_based
        )
        self.grad_mean = zeros.clone() if need_mean else None
        self.rank_sum: Tensor | None = None
        self._running: Tensor | None = None
        self._next_point = 0
        self._next_accumulate = 0
        self._increments: dict[int, Tensor] = {}
        if is_straight:
            # One gate per matrix and step; for the linear schedule these are Captum's
            # nodes and weights exactly, so RIG(linear) is Captum's IG.
            self.straight_nodes = at_nodes[..., 0][..., None, None]
            self.straight_weights = steps[..., 0][..., None, None]
            self.gate_steps = None
            return
        geometry.svd()
        self.gate_steps = steps
        self.gate_offsets = at_nodes - at_bounds[:-1]
        self.bands = _active_bands(steps > 0)
        self._running = zeros
        if plan.ranks and not mean_based:
            self.rank_sum = torch.zeros_like(geometry.singular_values)

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
        U, S, Vh = self.geometry.svd()
        lo, hi = self.bands[step]
        return _svd.reconstruct(U[..., lo:hi], S[..., lo:hi] * gates[step][..., lo:hi],
                                Vh[..., lo:hi, :])

    def point(self, step: int, out: Tensor | None = None) -> Tensor:
        r"""The path point ``gamma(a_step)``, in the input's dtype.

        Must be called for steps ``0, 1, ..., S - 1`` in this order, once each: the path
        is built from a running sum of increments, so that a step costs only its active
        band. Any other order raises.

        Args:
            step (int): the next step.
            out (Tensor, optional): where to write the point (the input's shape and
                dtype), e.g. a slice of the batch that goes to the model. Default: None.

        Returns:
            Tensor: ``gamma(a_step)`` in the input's shape and dtype (``out`` if given).

        Raises:
            RuntimeError: if ``step`` is not the next step of the walk.
        """
        if step != self._next_point:
            raise RuntimeError(
                f"PathWalk.point({step}) called out of order: the next step is "
                f"{self._next_point} (each step once, in increasing order, of {self.steps})."
            )
        self._next_point += 1
        geometry = self.geometry
        if self._running is None:
            here = self.straight_nodes[step] * geometry.delta
        else:
            steps = _required(self.gate_steps, "gate steps")
            here = self._partial(step, self.gate_offsets).add_(self._running)
            increment = self._partial(step, steps)
            self._running.add_(increment)
            if self.pixel_sum is not None:
                # accumulate() multiplies this step's gradient by the same increment.
                self._increments[step] = increment
        here.add_(geometry.baseline)
        if out is None:
            return self.as_input(here)
        out.copy_(here.reshape(out.shape))
        return out

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
                f"PathWalk.accumulate({step}) out of order: the next step to accumulate is "
                f"{self._next_accumulate}, and points were built for steps "
                f"< {self._next_point}."
            )
        self._next_accumulate += 1
        grad = grad.to(self.geometry.work_dtype).reshape(self.geometry.matrix_shape)
        if self.gate_steps is None:
            if self.grad_mean is not None:
                self.grad_mean.addcmul_(grad, self.straight_weights[step])
            return
        if self.grad_mean is not None:
            self.grad_mean.add_(grad, alpha=float(self.partition.weights[step]))
        if self.pixel_sum is not None:
            self.pixel_sum.addcmul_(grad, self._increments.pop(step))
        if self.rank_sum is not None:
            lo, hi = self.bands[step]
            if hi > lo:
                projection = self.geometry.project(grad, lo, hi)
                self.rank_sum[..., lo:hi] += self.gate_steps[step][..., lo:hi] * projection

    @property
    def singular_values(self) -> Tensor:
        """``(N, ..., r)`` singular values of ``x - x'``."""
        return self.geometry.singular_values

    def _check_finished(self, what: str) -> None:
        if not self.finished:
            raise RuntimeError(
                f"PathWalk.{what}() before the walk is over: {self._next_accumulate} of "
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
            raise RuntimeError("PathWalk.pixels(): the plan asked for no pixel attributions.")
        return self.geometry.pixel_result(self.plan, self.pixel_sum, self.grad_mean)

    def ranks(self) -> Tensor:
        r"""Rank-space attributions ``(N, ..., r)`` of the finished walk, in the input's dtype.

        Returns:
            Tensor: ``R_i`` (global) or ``R_i / s_i`` (local).

        Raises:
            RuntimeError: if the plan asked for no ranks, or steps are missing.
        """
        self._check_finished("ranks")
        if not self.plan.ranks:
            raise RuntimeError("PathWalk.ranks(): the plan asked for no rank attributions.")
        return self.geometry.rank_result(self.plan, self.rank_sum, self.grad_mean)
