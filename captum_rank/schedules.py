r"""Rank schedules: the gates ``phi_i(a)`` that move singular components along the path.

The rank path is ``gamma(a) = x' + U diag(s * phi(a)) V^T`` for ``a`` in ``[0, 1]``. Every
schedule here is a *window* schedule: component ``i`` enters linearly over its own
window ``[start_i, start_i + width_i]``::

    phi_i(a) = clamp((a - start_i) / width_i, 0, 1)

which is monotone, 0 at ``a = 0`` and 1 at ``a = 1``. Windows make the path cheap: a
path step only touches the components whose windows overlap it, so the sequential
schedule costs a handful of rank-one updates per step instead of a full reconstruction.

====================  ===========================================================
name                  components enter...
====================  ===========================================================
``sequential``        one at a time in rank order, equal time each (the paper's
                      low-rank representations: at ``a = k/r`` the path point is
                      the rank-``k`` approximation)
``numerical_rank``    one at a time, spending the whole path on the numerical rank
                      (components that are zero to working precision enter at the end
                      in a zero-length window, and contribute nothing)
``arc_length``        one at a time, each for a time proportional to ``s_i``, the
                      distance it moves: on one matrix, the same curve as
                      ``sequential``, walked at constant speed
``energy``            one at a time, each for a time proportional to its captured
                      energy ``s_i^2``
``spectral``          by normalised singular value, with overlap ``w``: the path of
                      Spectral Integrated Gradients (Kim et al., KDD 2026)
``linear``            all at once, ``phi_i(a) = a``: plain Integrated Gradients
====================  ===========================================================

On one matrix per example (a grey image, or ``channels="joint"``), ``sequential``,
``numerical_rank``, ``arc_length`` and ``energy`` trace the same curve, the
rank-``k`` approximations joined in order, at different speeds. A path integral does not
depend on how fast the path is walked, so they all converge to the same attributions; they
differ in quadrature error at a given ``n_steps``. On ReLU networks the dominant first
components carry most of the change, and walking them in ``1/r`` of the path
(``sequential``, which keeps the rank-``k`` points at ``a = k / r``) needs several times
more steps than walking at constant speed (``arc_length``, RIG's default schedule, used
with the adaptive rule of :mod:`captum_rank.adaptive`); see ``docs/convergence.md``. With
the default ``channels="per_channel"``, each channel of an ``(N, C, H, W)`` input is
timed by its own spectrum, so for ``C > 1`` these schedules are different joint paths of
the channels (the same curve per channel), with different converged attributions; only
``sequential``, whose windows depend on the component index alone, lets component ``i``
of every channel enter together, so that its path passes through the rank-``k`` points
of all channels at once. ``channels="joint"`` keeps one curve. Where the path passes
through every rank-``k`` point, the converged rank attributions are exactly
``F(x_k) - F(x_{k-1})`` (:mod:`captum_rank.exact`).

Every window schedule takes two keyword options (``RankSchedule(shape=..., channels=...)``):

* ``shape``: how a gate rises *within* its window: ``"linear"`` (default, the formula
  above), ``"cosine"`` (``(1 - cos(pi p)) / 2`` of the window progress ``p``) or
  ``"sigmoid"`` (a logistic curve of gain ``sigmoid_gain``, rescaled to run exactly from 0
  to 1). Where windows do not overlap (``sequential``, ``arc_length``, ...) a shape only
  changes the speed along the same curve; where they overlap (``spectral``) it also
  changes the curve between window ends. Either way the increments telescope, so
  completeness is still quadrature error only.
* ``channels``: ``"per_channel"`` (default) decomposes every ``H x W`` matrix of an
  ``(N, C, H, W)`` input on its own; ``"joint"`` takes one SVD of the ``(C*H) x W`` stack
  of each example (all leading dimensions stacked), so the colour channels share their
  singular components, as Spectral IG's joint mode does.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import torch
from torch import Tensor

from captum_rank.checks import UserInputError, UserTypeError, one_of, real

__all__ = [
    "ArcLengthSchedule",
    "EnergySchedule",
    "LinearSchedule",
    "NumericalRankSchedule",
    "RankSchedule",
    "SequentialSchedule",
    "SpectralSchedule",
    "available_schedules",
    "available_shapes",
    "resolve_schedule",
]


class RankSchedule(ABC):
    r"""A set of per-component windows that defines a rank path.

    Subclass it and implement :meth:`windows` to define a new schedule; pass the
    instance as ``schedule=`` to :meth:`RankIntegratedGradients.attribute`.

    Examples:
        >>> import torch
        >>> from captum_rank.schedules import SequentialSchedule
        >>> s = torch.tensor([3.0, 2.0, 1.0, 0.5])
        >>> SequentialSchedule().gates(torch.tensor([0.0, 0.375, 1.0]), s)
        tensor([[0.0000, 0.0000, 0.0000, 0.0000],
                [1.0000, 0.5000, 0.0000, 0.0000],
                [1.0000, 1.0000, 1.0000, 1.0000]], dtype=torch.float64)
    """

    name: str = "custom"

    #: How a gate rises within its window (see :func:`available_shapes`).
    shape: str = "linear"
    #: Gain of the ``"sigmoid"`` shape (steepness at the window's middle).
    sigmoid_gain: float = 12.0
    #: ``"per_channel"``: one SVD per ``H x W`` matrix; ``"joint"``: one SVD of the
    #: ``(C*H) x W`` stack of each example.
    channels: str = "per_channel"

    def __init__(
        self, *, shape: str = "linear", sigmoid_gain: float = 12.0,
        channels: str = "per_channel",
    ) -> None:
        r"""Options shared by every window schedule.

        Args:
            shape (str, optional): ``"linear"``, ``"cosine"`` or ``"sigmoid"``: how each
                gate rises within its window. Default: ``"linear"``.
            sigmoid_gain (float, optional): steepness of the ``"sigmoid"`` shape, > 0.
                Default: 12 (Spectral IG's default).
            channels (str, optional): ``"per_channel"`` or ``"joint"`` (one SVD of the
                ``(C*H) x W`` stack). Default: ``"per_channel"``.

        Raises:
            UserInputError: for an unknown shape or channel mode, or a gain <= 0.
            UserTypeError: for a gain that is not a number.
        """
        if not isinstance(shape, str):
            raise UserTypeError(
                f"`shape` must be one of {available_shapes()}, got {type(shape).__name__}."
            )
        self.shape = one_of(shape, "shape", available_shapes())
        self.sigmoid_gain = real(sigmoid_gain, "sigmoid_gain", minimum=0.0,
                                 include_minimum=False)
        self.channels = one_of(channels, "channels", ("per_channel", "joint"))

    def _options_repr(self) -> str:
        """``, shape='cosine'`` etc. for the options that differ from their defaults."""
        parts = []
        if self.shape != "linear":
            parts.append(f"shape={self.shape!r}")
            if self.shape == "sigmoid" and self.sigmoid_gain != 12.0:
                parts.append(f"sigmoid_gain={self.sigmoid_gain}")
        if self.channels != "per_channel":
            parts.append(f"channels={self.channels!r}")
        return "".join(", " + part for part in parts)

    @abstractmethod
    def windows(self, singular_values: Tensor) -> tuple[Tensor, Tensor]:
        r"""Start and width of every component's window.

        Args:
            singular_values (Tensor): ``(..., r)`` non-negative, non-increasing.

        Returns:
            tuple[Tensor, Tensor]: ``start`` and ``width``, each ``(..., r)`` float64,
            with ``0 <= start`` and ``start + width <= 1`` (up to rounding) and
            ``width >= 0``.
        """

    def gates(self, alphas: Tensor, singular_values: Tensor) -> Tensor:
        r"""Evaluate ``phi_i(a)`` for every ``a`` in ``alphas``.

        Args:
            alphas (Tensor): ``(T,)`` path parameters in ``[0, 1]``.
            singular_values (Tensor): ``(..., r)``.

        Returns:
            Tensor: ``(T, ..., r)`` float64 gates in ``[0, 1]``; exactly 0 at ``a = 0``
            and exactly 1 at ``a = 1``, whatever the rounding of the windows, so that
            the path ends exactly on its end points.
        """
        start, width = self.windows(singular_values.detach().to(torch.float64))
        _check_windows(self, start, width, singular_values.shape)
        a = alphas.to(device=start.device, dtype=torch.float64).reshape(
            (-1,) + (1,) * start.dim()
        )
        return self._gates_in_windows(a, start, width)

    def paired_gates(self, alphas: Tensor, singular_values: Tensor) -> Tensor:
        r"""Gates of many matrices, each at its own path parameter.

        Where :meth:`gates` evaluates every parameter on every matrix, this pairs them:
        row ``p`` is ``phi(alphas[p])`` on the spectrum ``singular_values[p]``, so rules
        that place nodes per example (:mod:`captum_rank.adaptive`) build the gates of all
        examples in one call.

        Args:
            alphas (Tensor): ``(P,)`` path parameters in ``[0, 1]``.
            singular_values (Tensor): ``(P, ..., r)``, one spectrum per parameter.

        Returns:
            Tensor: ``(P, ..., r)`` float64 gates, equal to
            ``gates(alphas[p:p+1], singular_values[p])[0]`` for every ``p``.

        Examples:
            >>> import torch
            >>> s = torch.tensor([[3.0, 1.0], [2.0, 2.0]])
            >>> SequentialSchedule().paired_gates(torch.tensor([0.25, 0.75]), s)
            tensor([[0.5000, 0.0000],
                    [1.0000, 0.5000]], dtype=torch.float64)
        """
        start, width = self.windows(singular_values.detach().to(torch.float64))
        _check_windows(self, start, width, singular_values.shape)
        a = alphas.to(device=start.device, dtype=torch.float64).reshape(
            (-1,) + (1,) * (start.dim() - 1)
        )
        return self._gates_in_windows(a, start, width)

    def _gates_in_windows(self, a: Tensor, start: Tensor, width: Tensor) -> Tensor:
        """``phi`` at parameters ``a`` (broadcast against the windows)."""
        # A zero-width window is a step; putting it just before its start (and never
        # past 1 - tiny) keeps phi monotone with phi(0) = 0 and phi(1) = 1.
        tiny = torch.finfo(torch.float64).eps
        width = width.clamp_min(tiny)
        start = torch.minimum(start, 1.0 - width)
        phi = _shape_gates(((a - start) / width).clamp(0.0, 1.0), self.shape,
                           self.sigmoid_gain)
        # Window ends computed as sums of fractions miss 0 and 1 by an ulp; snapping
        # keeps exact rank-k path points (a = k / r) and the active bands tight.
        snap = 1e-9
        phi = torch.where(phi > 1.0 - snap, torch.ones_like(phi), phi)
        phi = torch.where(phi < snap, torch.zeros_like(phi), phi)
        phi = torch.where(a >= 1.0, torch.ones_like(phi), phi)
        return torch.where(a <= 0.0, torch.zeros_like(phi), phi)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._options_repr().removeprefix(', ')})"


_SHAPES = ("linear", "cosine", "sigmoid")


def available_shapes() -> list[str]:
    r"""Names accepted by the ``shape=`` option of every window schedule.

    Returns:
        list[str]: the gate shapes within a window.

    Examples:
        >>> available_shapes()
        ['linear', 'cosine', 'sigmoid']
    """
    return list(_SHAPES)


def _shape_gates(progress: Tensor, shape: str, gain: float) -> Tensor:
    """Map window progress ``p`` in [0, 1] to the gate, monotone with 0 -> 0 and 1 -> 1."""
    if shape == "cosine":
        return 0.5 - 0.5 * torch.cos(progress * math.pi)
    if shape == "sigmoid":
        low, high = 1.0 / (1.0 + math.exp(0.5 * gain)), 1.0 / (1.0 + math.exp(-0.5 * gain))
        return ((torch.sigmoid(gain * (progress - 0.5)) - low) / (high - low)).clamp(0.0, 1.0)
    return progress


def _check_windows(schedule: RankSchedule, start: object, width: object,
                   shape: torch.Size) -> None:
    """Refuse windows that break the path: wrong shape, NaN, negative or outside [0, 1]."""
    what = f"`schedule` {type(schedule).__name__}.windows"
    contract = (
        f"it must return (start, width), two tensors of the singular values' shape "
        f"{tuple(shape)}, with width >= 0, start >= 0 and start + width <= 1"
    )
    if not isinstance(start, Tensor) or not isinstance(width, Tensor):
        raise UserTypeError(
            f"{what} returned {type(start).__name__} and {type(width).__name__}; {contract}."
        )
    if start.shape != shape or width.shape != shape:
        raise UserInputError(
            f"{what} returned start of shape {tuple(start.shape)} and width of shape "
            f"{tuple(width.shape)}; {contract}."
        )
    tol = 1e-9
    problems = [
        ("NaN or inf", ~(torch.isfinite(start) & torch.isfinite(width))),
        ("negative widths", width < -tol),
        ("negative starts", start < -tol),
        ("windows ending after 1", start + width > 1.0 + tol),
    ]
    for problem, bad in problems:
        if bool(bad.any()):
            raise UserInputError(
                f"{what} returned {problem} ({int(bad.sum())} component(s)); {contract}."
            )


def _component_index(singular_values: Tensor) -> Tensor:
    r = singular_values.shape[-1]
    return torch.arange(r, device=singular_values.device, dtype=torch.float64)


def _windows_from_costs(costs: Tensor) -> tuple[Tensor, Tensor]:
    """Consecutive windows whose lengths are proportional to ``costs`` (..., r)."""
    total = costs.sum(dim=-1, keepdim=True)
    # An all-zero cost vector (a zero matrix, say) has nothing to spend the path on;
    # fall back to equal time per component so the gates stay well defined.
    uniform = torch.ones_like(costs)
    costs = torch.where(total > 0, costs, uniform)
    total = costs.sum(dim=-1, keepdim=True)
    ends = costs.cumsum(dim=-1) / total
    starts = ends - costs / total
    return starts.clamp(0.0, 1.0), (ends - starts).clamp_min(0.0)


class SequentialSchedule(RankSchedule):
    r"""Components enter one at a time, in rank order, each over ``1 / r`` of the path.

    ``phi_i(a) = clamp(a r - (i - 1), 0, 1)``: at ``a = k / r`` the path point is exactly
    ``x' + low_rank(x - x', k)``, the best rank-``k`` approximation (Eckart-Young): the
    paper's "low-rank representations" path (RIG's default until v0.1; the default is now
    ``arc_length``, on one matrix the same curve at constant speed, which converges with
    fewer steps). Its windows depend on the index only, so with per-channel SVDs
    component ``i`` of every channel enters together and the path passes through every
    rank-``k`` point: its converged rank attributions are exact by forward passes on any
    input (:meth:`~captum_rank.RankIntegratedGradients.exact_ranks`).

    Examples:
        >>> import torch
        >>> start, width = SequentialSchedule().windows(torch.ones(4))
        >>> start.tolist(), width.tolist()
        ([0.0, 0.25, 0.5, 0.75], [0.25, 0.25, 0.25, 0.25])
    """

    name = "sequential"

    def windows(self, singular_values: Tensor) -> tuple[Tensor, Tensor]:
        r = singular_values.shape[-1]
        index = _component_index(singular_values)
        start = torch.broadcast_to(index / r, singular_values.shape)
        return start, torch.full_like(start, 1.0 / r)


class NumericalRankSchedule(RankSchedule):
    r"""Sequential over the numerical rank only.

    A component counts when ``s_i > tol``, with ``tol = max(H, W) * eps * s_1`` as in
    ``numpy.linalg.matrix_rank`` (``eps`` of float32 unless given). On images with many
    (near) zero singular values, e.g. digits on a black background, this spends the
    whole path on components that carry signal instead of ``1 - rank / r`` of it on
    components that change nothing.

    Args:
        rtol (float, optional): relative threshold on ``s_i / s_1``; default
            ``min(H, W) * eps(float32)`` (the matrix size ``max(H, W)`` is not known
            from the spectrum; ``r`` is the conservative stand-in).

    Examples:
        >>> import torch
        >>> sched = NumericalRankSchedule()
        >>> start, width = sched.windows(torch.tensor([2.0, 1.0, 0.0, 0.0]))
        >>> width.tolist()
        [0.5, 0.5, 0.0, 0.0]
    """

    name = "numerical_rank"

    def __init__(
        self, rtol: float | None = None, *, shape: str = "linear", sigmoid_gain: float = 12.0,
        channels: str = "per_channel",
    ) -> None:
        super().__init__(shape=shape, sigmoid_gain=sigmoid_gain, channels=channels)
        if rtol is not None:
            rtol = real(rtol, "rtol", minimum=0.0, maximum=1.0, include_maximum=False)
        self.rtol = rtol

    def windows(self, singular_values: Tensor) -> tuple[Tensor, Tensor]:
        r = singular_values.shape[-1]
        rtol = self.rtol if self.rtol is not None else r * torch.finfo(torch.float32).eps
        top = singular_values[..., :1]
        costs = (singular_values > rtol * top).to(torch.float64)
        return _windows_from_costs(costs)

    def __repr__(self) -> str:
        return f"NumericalRankSchedule(rtol={self.rtol}{self._options_repr()})"


class EnergySchedule(RankSchedule):
    r"""Sequential, each component over a share of the path equal to its energy share.

    Component ``i`` gets ``s_i^2 / sum_j s_j^2`` of the path, so the path parameter
    ``a`` tracks the captured energy ``||gamma(a) - x'||_F^2 / ||x - x'||_F^2`` at the
    window boundaries.

    Examples:
        >>> import torch
        >>> start, width = EnergySchedule().windows(torch.tensor([3.0, 1.0]))
        >>> [round(w, 6) for w in width.tolist()]
        [0.9, 0.1]
    """

    name = "energy"

    def windows(self, singular_values: Tensor) -> tuple[Tensor, Tensor]:
        return _windows_from_costs(singular_values.to(torch.float64) ** 2)


class ArcLengthSchedule(RankSchedule):
    r"""The ``sequential`` curve walked at constant speed: component ``i`` gets ``s_i / sum s``.

    Component ``i`` moves the path by ``||s_i u_i v_i^T||_F = s_i``, so windows in
    proportion to ``s_i`` make the path parameter proportional to arc length, as IG's
    straight line is. On one matrix per example (grey, or ``channels="joint"``) the
    attributions are those of ``sequential`` (same curve), with smaller quadrature error
    at equal ``n_steps`` when a few components dominate. With per-channel SVDs of a
    colour image each channel is timed by its own spectrum: a different path from
    ``sequential``'s, with its own converged attributions.

    Examples:
        >>> import torch
        >>> start, width = ArcLengthSchedule().windows(torch.tensor([3.0, 1.0]))
        >>> width.tolist()
        [0.75, 0.25]
    """

    name = "arc_length"

    def windows(self, singular_values: Tensor) -> tuple[Tensor, Tensor]:
        return _windows_from_costs(singular_values.to(torch.float64))


class SpectralSchedule(RankSchedule):
    r"""Components enter by normalised singular value, with overlap ``w``.

    ``phi_i(a) = clamp((a - (1 - w)(1 - s_i / s_1)) / w, 0, 1)``: the path of Spectral
    Integrated Gradients (Kim et al., KDD 2026). The strongest component enters first,
    over ``[0, w]``; a component with ``s_i = 0`` enters last, over ``[1 - w, 1]``.
    ``w = 1`` is the straight line of IG. Each matrix (each channel, unless
    ``channels="joint"``) is normalised by its own first singular value, as in Spectral
    IG's reference code.

    ``w = 0`` is the limit of steps: component ``i`` jumps from 0 to 1 just after
    ``a = 1 - s_i / s_1`` (the strongest just after 0, zero components just before 1).
    The increments still telescope to ``x - x'``, but the path is discontinuous: each
    jump is attributed with the gradient at its cell's node, so the completeness error
    is that of a first-order step over each jump and does **not** shrink as ``n_steps``
    grows (it is exact for models affine in the input). For a path whose error does
    shrink, use a small positive overlap (e.g. 0.05) with enough steps to resolve it.

    Args:
        overlap (float, optional): window width ``w`` in ``[0, 1]``. Default 0.5.
        shape (str, optional): gate shape within a window (``"linear"``, ``"cosine"``,
            ``"sigmoid"``; Spectral IG's ``gating_schedule``). Default: ``"linear"``.
        sigmoid_gain (float, optional): gain of the ``"sigmoid"`` shape. Default: 12.
        channels (str, optional): ``"per_channel"`` or ``"joint"`` (Spectral IG's
            ``channel_mode``). Default: ``"per_channel"``.

    Raises:
        UserTypeError: for an overlap that is not a number.
        UserInputError: for an overlap outside ``[0, 1]`` and bad options.

    Examples:
        >>> import torch
        >>> start, width = SpectralSchedule(0.5).windows(torch.tensor([4.0, 2.0, 0.0]))
        >>> start.tolist()
        [0.0, 0.25, 0.5]
        >>> SpectralSchedule(0.4, shape="cosine").gates(torch.tensor([0.2]), torch.ones(1))
        tensor([[0.5000]], dtype=torch.float64)
    """

    name = "spectral"

    def __init__(
        self, overlap: float = 0.5, *, shape: str = "linear", sigmoid_gain: float = 12.0,
        channels: str = "per_channel",
    ) -> None:
        super().__init__(shape=shape, sigmoid_gain=sigmoid_gain, channels=channels)
        overlap = real(overlap, "overlap")
        if not (0.0 <= overlap <= 1.0):
            raise UserInputError(
                f"`overlap` must lie in [0, 1], got {overlap}: it is the width of each "
                "component's window (1 gives plain Integrated Gradients, 0 steps)."
            )
        self.overlap = float(overlap)

    def windows(self, singular_values: Tensor) -> tuple[Tensor, Tensor]:
        s = singular_values.to(torch.float64)
        top = s[..., :1]
        # A zero matrix has no spectrum to order by; any monotone gates do, as every
        # component is zero. s/s_1 := 1 keeps them all on the first window.
        ratio = torch.where(top > 0, s / torch.where(top > 0, top, torch.ones_like(top)), 1.0)
        start = (1.0 - self.overlap) * (1.0 - ratio)
        return start, torch.full_like(start, self.overlap)

    def __repr__(self) -> str:
        return f"SpectralSchedule(overlap={self.overlap}{self._options_repr()})"


class LinearSchedule(RankSchedule):
    r"""``phi_i(a) = a`` for every component: the straight line, i.e. plain IG.

    RIG with this schedule equals Captum's ``IntegratedGradients``; the rank-space
    attributions then decompose IG's total over the singular components of
    ``x - x'``.

    Examples:
        >>> import torch
        >>> LinearSchedule().gates(torch.tensor([0.25]), torch.ones(3))
        tensor([[0.2500, 0.2500, 0.2500]], dtype=torch.float64)
    """

    name = "linear"

    def windows(self, singular_values: Tensor) -> tuple[Tensor, Tensor]:
        start = torch.zeros(singular_values.shape, dtype=torch.float64,
                            device=singular_values.device)
        return start, torch.ones_like(start)


_REGISTRY: dict[str, type[RankSchedule]] = {
    cls.name: cls
    for cls in (SequentialSchedule, NumericalRankSchedule, ArcLengthSchedule, EnergySchedule,
                SpectralSchedule, LinearSchedule)
}


def available_schedules() -> list[str]:
    r"""Names accepted by ``schedule=``.

    Returns:
        list[str]: the registered schedule names.

    Examples:
        >>> available_schedules()
        ['sequential', 'numerical_rank', 'arc_length', 'energy', 'spectral', 'linear']
    """
    return list(_REGISTRY)


def resolve_schedule(schedule: str | RankSchedule) -> RankSchedule:
    r"""Turn a name or an instance into a :class:`RankSchedule`.

    Args:
        schedule (str or RankSchedule): a name from :func:`available_schedules` (with
            its default options) or an instance, e.g. ``SpectralSchedule(overlap=0.3)``.

    Returns:
        RankSchedule: the schedule.

    Raises:
        UserInputError: for an unknown name.
        UserTypeError: for anything else.

    Examples:
        >>> resolve_schedule("spectral")
        SpectralSchedule(overlap=0.5)
    """
    if isinstance(schedule, RankSchedule):
        # Options are plain attributes: one changed after construction (s.shape = "cosin")
        # is checked here, where it is used, instead of falling back to the line.
        where = f"`schedule` {type(schedule).__name__}"
        for attr, options in (("shape", available_shapes()),
                              ("channels", ("per_channel", "joint"))):
            value = getattr(schedule, attr, None)
            if not isinstance(value, str) or value not in options:
                raise UserInputError(
                    f"{where} has {attr}={value!r}, which is not one of {list(options)}; "
                    f"set it to one of them (or build a new schedule with {attr}=...).")
        real(getattr(schedule, "sigmoid_gain", None), "schedule.sigmoid_gain", minimum=0.0,
             include_minimum=False)
        return schedule
    if isinstance(schedule, str):
        if schedule not in _REGISTRY:
            raise UserInputError(
                f"Unknown `schedule` {schedule!r}; choose one of {available_schedules()} "
                "or pass a RankSchedule instance (e.g. SpectralSchedule(overlap=0.3))."
            )
        return _REGISTRY[schedule]()
    raise UserTypeError(
        f"`schedule` must be a name or a RankSchedule, got {type(schedule).__name__}."
    )
