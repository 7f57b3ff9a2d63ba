r"""One input tensor's rank path: its points, its increments and the running sums.

For ``x`` of shape ``(N, ..., H, W)`` and a baseline ``x'``, the decomposition
``x - x' = U diag(s) V^T`` is taken once; a path step then only needs the components
whose gate moves in that step (the *active* band ``lo:hi``). The attribution loop asks
for the path points of consecutive steps (:meth:`RankPath.point`), runs the model on
them, and hands the gradients back (:meth:`RankPath.accumulate`). Nothing here holds
more than one step's worth of tensors, so peak memory is set by the caller's chunking.

The sums kept, for ``G_s = grad F(gamma(a_s))`` and ``dphi_s = phi(b_s) - phi(b_{s-1})``:

* ``pixel_sum  = sum_s G_s * (gamma(b_s) - gamma(b_{s-1}))``  (the RIG attribution);
* ``grad_mean  = sum_s (b_s - b_{s-1}) G_s``                   (the path-averaged gradient);
* ``rank_sum_i = sum_s dphi_{s,i} u_i^T G_s v_i``               (rank-space, per unit ``s_i``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from captum_rank import svd as _svd
from captum_rank.quadrature import Partition
from captum_rank.schedules import RankSchedule


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
        need_pixels (bool): keep ``pixel_sum``.
        need_grad_mean (bool): keep ``grad_mean``.
        need_ranks (bool): keep ``rank_sum`` (a curved path's per-step rank sums).
        need_factors (bool): keep the SVD factors even on a straight path (to project
            the path-averaged gradient onto the components afterwards). Curved paths
            always keep them.

    With ``schedule.channels == "joint"`` the path works on each example's leading
    dimensions stacked into one ``(C*H) x W`` matrix: ``delta``, the factors and the
    sums are in that ``(N, 1, C*H, W)`` form, while :meth:`point` returns and
    :meth:`accumulate` takes tensors of the input's own shape. :meth:`as_input` turns
    a pixel sum back into the input's shape.
    """

    inputs: Tensor
    baseline: Tensor
    schedule: RankSchedule
    partition: Partition
    need_pixels: bool
    need_grad_mean: bool
    need_ranks: bool
    need_factors: bool = False
    work_dtype: torch.dtype = field(init=False)
    delta: Tensor = field(init=False)
    factors: tuple[Tensor, Tensor, Tensor] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.work_dtype = _svd.compute_dtype(self.inputs.dtype)
        self.baseline = self.baseline.to(self.work_dtype)
        shape = self.inputs.shape
        # Joint mode: one matrix per example, the leading dimensions stacked on the rows.
        self.matrix_shape: tuple[int, ...] = (
            (shape[0], 1, -1, shape[-1])
            if self.schedule.channels == "joint" and self.inputs.dim() > 3
            else tuple(shape)
        )
        if self.matrix_shape != tuple(shape):
            self.baseline = torch.broadcast_to(self.baseline, shape).reshape(self.matrix_shape)
        self.delta = self.inputs.to(self.work_dtype).reshape(self.matrix_shape) - self.baseline
        straight = self.schedule.straight_line
        if not straight or self.need_factors:
            self.factors = _svd.thin_svd(self.delta)
        self.weights = self.partition.weights.to(self.delta.device, self.work_dtype)
        self.nodes = self.partition.nodes.to(self.delta.device, self.work_dtype)
        self.pixel_sum = torch.zeros_like(self.delta) if self.need_pixels else None
        self.grad_mean = torch.zeros_like(self.delta) if self.need_grad_mean else None
        self.rank_sum: Tensor | None = None
        self._running: Tensor | None = None
        if straight:
            self.gate_steps = None
            return
        assert self.factors is not None
        singular_values = self.factors[1]
        at_bounds = self.schedule.gates(self.partition.boundaries, singular_values)
        at_nodes = self.schedule.gates(self.partition.nodes, singular_values)
        steps = (at_bounds[1:] - at_bounds[:-1]).to(self.work_dtype)
        self.gate_steps = steps
        self.gate_offsets = (at_nodes - at_bounds[:-1]).to(self.work_dtype)
        self.bands = _active_bands(steps > 0)
        self._running = torch.zeros_like(self.delta)
        if self.need_ranks:
            self.rank_sum = torch.zeros_like(singular_values)

    @property
    def straight(self) -> bool:
        """Whether the path is IG's straight line (no per-step reconstruction)."""
        return self.gate_steps is None

    def _partial(self, step: int, gates: Tensor) -> Tensor:
        assert self.factors is not None
        U, S, Vh = self.factors
        lo, hi = self.bands[step]
        return _svd.reconstruct(U[..., lo:hi], S[..., lo:hi] * gates[step][..., lo:hi],
                                Vh[..., lo:hi, :])

    def point(self, step: int) -> Tensor:
        r"""The path point ``gamma(a_step)``, in the input's dtype.

        Must be called for steps in increasing order, once each: the path is built
        from a running sum of increments, so that a step costs only its active band.
        """
        if self.straight:
            return self.as_input(self.baseline + self.nodes[step] * self.delta)
        assert self._running is not None
        here = self._running + self._partial(step, self.gate_offsets)
        self._running = self._running + self._partial(step, self.gate_steps)  # type: ignore[arg-type]
        return self.as_input(self.baseline + here)

    def as_input(self, matrix: Tensor) -> Tensor:
        r"""A tensor of the path's matrix form in the input's shape and dtype."""
        return matrix.reshape(self.inputs.shape).to(self.inputs.dtype)

    def accumulate(self, step: int, grad: Tensor) -> None:
        r"""Add the gradient ``G_step`` at ``gamma(a_step)`` to the running sums."""
        grad = grad.to(self.work_dtype).reshape(self.matrix_shape)
        if self.grad_mean is not None:
            self.grad_mean.add_(grad, alpha=float(self.weights[step]))
        if self.straight:
            return
        assert self.factors is not None and self.gate_steps is not None
        if self.pixel_sum is not None:
            self.pixel_sum.add_(grad * self._partial(step, self.gate_steps))
        if self.rank_sum is not None:
            lo, hi = self.bands[step]
            if hi > lo:
                projection = self.project(grad, lo, hi)
                self.rank_sum[..., lo:hi] += self.gate_steps[step][..., lo:hi] * projection

    def project(self, matrix: Tensor, lo: int = 0, hi: int | None = None) -> Tensor:
        r"""``u_i^T M v_i`` for the components ``lo <= i < hi`` (all by default)."""
        assert self.factors is not None
        U, _, Vh = self.factors
        return ((U[..., lo:hi].mT @ matrix) * Vh[..., lo:hi, :]).sum(-1)

    @property
    def singular_values(self) -> Tensor:
        """``(N, ..., r)`` singular values of ``x - x'``."""
        assert self.factors is not None
        return self.factors[1]
