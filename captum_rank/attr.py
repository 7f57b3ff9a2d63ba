r"""Rank Integrated Gradients, a Captum ``GradientAttribution``."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, overload

import torch
from captum.attr import GradientAttribution
from torch import Tensor

from captum_rank._captum import (
    BaselineType,
    TargetType,
    TensorOrTupleOfTensorsGeneric,
    _expand_additional_forward_args,
    _expand_target,
    _format_additional_forward_args,
    _format_output,
    _is_tuple,
    _select_targets,
    captum_entry_point,
)
from captum_rank._model_checks import (
    check_output,
    check_target,
    checked_gradients,
    preflight,
    select_targets,
    warn_non_finite_delta,
)
from captum_rank._validation import (
    as_tuples,
    check_baselines,
    check_form,
    check_inputs,
    check_internal_batch_size,
)
from captum_rank.adaptive import Convergence, Evaluate, adaptive_walk
from captum_rank.bands import BandsLike, RankBands, band_attributions
from captum_rank.checks import UserInputError, UserTypeError, integer, one_of, real
from captum_rank.exact import exact_rank_attributions
from captum_rank.path import PathPlan, RankPath
from captum_rank.quadrature import SUPPORTED_METHODS, path_partition
from captum_rank.schedules import RankSchedule, resolve_schedule

__all__ = ["ADAPTIVE", "RankIntegratedGradients"]

#: The name of the adaptive rule (see :mod:`captum_rank.adaptive`) for ``method=``.
ADAPTIVE = "adaptive"

ScheduleLike = str | RankSchedule


@dataclass(frozen=True)
class _Results:
    """What one run returns: per input tensor, its pixel and/or rank attributions."""

    pixels: tuple[Tensor, ...]
    ranks: tuple[Tensor, ...]
    inputs: tuple[Tensor, ...]

_COMMON_ARGS_DOC = r"""
            inputs (Tensor or tuple[Tensor, ...]): Input for which attributions are
                        computed. Each tensor has shape ``(N, ..., H, W)``: a batch
                        dimension, any leading dimensions (channels), and the matrix
                        whose rank the path walks through. Tuple in, tuple out. In a
                        tuple, a tensor with fewer than two matrix dimensions
                        (``(N, L)`` or ``(N,)``) next to matrix inputs follows the
                        straight line: IG for that input, one rank component ``(N, 1)``.
            baselines (scalar, Tensor, tuple[scalar or Tensor, ...], optional):
                        Starting points ``x'``, as in Captum's IntegratedGradients: a
                        number for all elements, a tensor of the input's shape or with
                        a first dimension of 1, or a tuple of those for tuple inputs.
                        Default: zeros.
            target (int, tuple, Tensor, or list, optional): Output indices for which
                        gradients are computed, as in Captum (one for all examples, or
                        one per example). Default: None (scalar outputs).
            additional_forward_args (Any, optional): Extra arguments for
                        ``forward_func`` after the inputs; tensors are expanded along
                        the path like the inputs. Default: None.
            n_steps (int, optional): Model evaluations (forward and backward passes)
                        per example along the path: the budget, as in Captum. Any value
                        works, including fewer than the rank: every step's increment
                        covers its whole cell of the path. Default: 50.
            method (str, optional): Where the ``n_steps`` evaluations go.
                        ``adaptive`` (default): both path ends and an even grid, then
                        bisection of the intervals where the exactly known per-interval
                        completeness error and the gradients' disagreement are largest
                        (:mod:`captum_rank.adaptive`; no extra forward pass); it keeps
                        every node's gradient until the end (``2 n_steps`` input-sized
                        tensors per example). Or Captum's fixed rules, which stream:
                        ``gausslegendre`` (Captum IG's default), ``riemann_left``,
                        ``riemann_right``, ``riemann_middle``, ``riemann_trapezoid``
                        (normalised to weights summing to 1; see
                        :mod:`captum_rank.quadrature`). With ``schedule="linear"`` and
                        the same fixed ``method``, RIG is Captum's IG exactly.
            internal_batch_size (int, optional): At most this many path points go
                        through the model at once. With a fixed ``method`` peak memory is
                        bounded by it and the whole path is never held. As in Captum, at
                        least one step of the whole batch runs at once. Default: None
                        (all steps at once).
            return_convergence_delta (bool, optional): Also return
                        ``sum(attributions) - (F(x) - F(x'))`` per example. Default: False.
            schedule (str or RankSchedule, optional): How the singular components
                        enter: ``arc_length`` (default: rank order, each component for a
                        time proportional to ``s_i``, i.e. the rank-``k`` curve at
                        constant speed; on colour with per-channel SVDs each channel has
                        its own timing, another path), ``sequential`` (the same curve
                        on one matrix, with the rank-``k`` point at ``a = k/r``; every
                        channel's component ``i`` enters together, so its converged rank
                        attributions are :meth:`exact_ranks`), ``numerical_rank``, ``energy``,
                        ``spectral`` (Spectral IG; ``SpectralSchedule(w)`` sets the
                        overlap), ``linear`` (plain IG), or a
                        :class:`~captum_rank.schedules.RankSchedule`.
            form (str, optional): ``increments`` (default): gradients times path
                        increments, complete up to quadrature error. ``averaged``: the
                        paper's form, the gradient averaged over the path points times
                        ``x - x'`` (no completeness guarantee off the straight line).
            tolerance (float, optional): With ``method="adaptive"``: stop refining an
                        example as soon as ``|delta| <= tolerance * |F(x) - F(x')|``
                        (starting from 3 nodes), so that easy examples cost fewer than
                        ``n_steps`` evaluations; a warning names the examples that spend
                        ``n_steps`` without reaching it. Per-example evaluations, deltas
                        and whether each reached it are in :attr:`last_convergence`.
                        Default: None (spend ``n_steps`` on every example).
            map_tolerance (float, optional): With ``method="adaptive"``: stop refining
                        an example only once its pixel map's estimated relative L2 error,
                        ``||A_n - A_{n/2}|| / ||A_n||`` (the map on all nodes against the
                        map on every other node, no extra evaluation), is at most this
                        (starting from 9 nodes; with ``tolerance`` too, both must hold).
                        A small completeness error does not make a converged map: errors
                        of opposite sign cancel in the sum. Every adaptive run records the
                        estimate in ``last_convergence.map_error``; a warning names the
                        examples that spend ``n_steps`` without reaching it. 0.1 keeps a
                        map's structure; see the convergence page for evaluations per
                        model. Default: None."""


class RankIntegratedGradients(GradientAttribution):
    r"""Rank Integrated Gradients (RIG): a path attribution through the input's rank.

    For ``D = x - x' = U diag(s) V^T`` (per matrix in the last two dimensions), RIG
    integrates the gradient along the rank path
    ``gamma(a) = x' + U diag(s * phi(a)) V^T``, where the gates ``phi`` of the schedule
    let the singular components in one by one, in rank order, so that the path passes
    through every rank-``k`` approximation. It is discretised with path increments::

        A(x) = sum_s grad F(gamma(a_s)) * (gamma(b_s) - gamma(b_{s-1}))

    which telescope to ``x - x'``, so ``sum A = F(x) - F(x')`` up to quadrature error
    for every schedule and any ``n_steps``. The same gradients give the rank-space
    attributions of :meth:`attribute_ranks`: how much of the output each singular
    component carries. With ``schedule="linear"`` and a fixed ``method`` RIG is
    Captum's IntegratedGradients.

    By default (``schedule="arc_length"``, ``method="adaptive"``) the path is walked at
    constant speed and the ``n_steps`` evaluations are placed where the output changes:
    a gradient evaluation returns the output too, so every interval's exact share of the
    completeness error is known and the worst intervals are bisected. Measured on the
    zoo's models (``benchmarks/bench_convergence.py``, ``docs/convergence.md``), this
    makes RIG's completeness error per evaluation that of Captum IG or better;
    ``tolerance=`` stops each example as soon as it is complete enough.

    After "A Singular Value Perspective on Model Robustness" (Jere, Kumar, Koushanfar,
    2020). Where :class:`captum.attr.IntegratedGradients` is used, RIG is a drop-in:
    same constructor, same ``attribute`` arguments in the same order, same returns,
    and it works inside :class:`captum.attr.NoiseTunnel` and with ``captum.metrics``.

    Args:
        forward_func (Callable): The model or any function of the inputs.
        multiply_by_inputs (bool, optional): ``True`` (global attribution, default):
                the path integral above. ``False`` (local): the path-averaged gradient
                ``sum_s (b_s - b_{s-1}) grad F(gamma(a_s))``, i.e. the global RIG before
                multiplying by the path's velocity; for the linear schedule this is
                Captum's IG with ``multiply_by_inputs=False``. Rank-space attributions
                become ``dF/ds_i`` averaged over component ``i``'s own entry window
                (the global ones are ``s_i`` times that).

    Examples:
        >>> import torch
        >>> from torch import nn
        >>> from captum_rank import RankIntegratedGradients
        >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
        <torch._C.Generator object at ...>
        >>> model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Tanh(), nn.Flatten(),
        ...                       nn.Linear(4 * 26 * 26, 10))
        >>> images = torch.rand(2, 1, 28, 28)
        >>> rig = RankIntegratedGradients(model)
        >>> attributions, delta = rig.attribute(images, target=3,
        ...                                     return_convergence_delta=True)
        >>> attributions.shape
        torch.Size([2, 1, 28, 28])
        >>> bool(delta.abs().max() < 1e-3)
        True
        >>> rig.attribute_ranks(images, target=3).shape
        torch.Size([2, 1, 28])

        A tolerance lets easy examples stop early. It is relative to ``F(x) - F(x')``, which
        is small for this random model (0.01 to 0.08), so float32 rounding alone is a
        relative error near 1e-3; a tolerance far above that is met by every example:

        >>> _ = rig.attribute(images, target=3, n_steps=64, tolerance=0.05)
        >>> rig.last_convergence.reached.tolist()
        [True, True]
        >>> bool((rig.last_convergence.evaluations < 64).all())
        True
    """

    def __init__(
        self, forward_func: Callable[..., Tensor], multiply_by_inputs: bool = True
    ) -> None:
        if not callable(forward_func):
            raise UserTypeError(
                f"`forward_func` must be callable (a model or a function), got "
                f"{type(forward_func).__name__}."
            )
        GradientAttribution.__init__(self, forward_func)
        # Captum's compute_gradients with the model's output, target and gradients checked.
        self.gradient_func = checked_gradients
        self._multiply_by_inputs = bool(multiply_by_inputs)
        #: How the last call with ``method="adaptive"`` converged on each example (a
        #: :class:`~captum_rank.adaptive.Convergence`); ``None`` after a fixed rule.
        self.last_convergence: Convergence | None = None

    @overload
    def attribute(
        self,
        inputs: TensorOrTupleOfTensorsGeneric,
        baselines: BaselineType = None,
        target: TargetType = None,
        additional_forward_args: Any = None,
        n_steps: int = 50,
        method: str = "adaptive",
        internal_batch_size: int | None = None,
        return_convergence_delta: Literal[False] = False,
        *,
        schedule: ScheduleLike = "arc_length",
        form: str = "increments",
        tolerance: float | None = None,
        map_tolerance: float | None = None,
    ) -> TensorOrTupleOfTensorsGeneric: ...

    @overload
    def attribute(
        self,
        inputs: TensorOrTupleOfTensorsGeneric,
        baselines: BaselineType = None,
        target: TargetType = None,
        additional_forward_args: Any = None,
        n_steps: int = 50,
        method: str = "adaptive",
        internal_batch_size: int | None = None,
        *,
        return_convergence_delta: Literal[True],
        schedule: ScheduleLike = "arc_length",
        form: str = "increments",
        tolerance: float | None = None,
        map_tolerance: float | None = None,
    ) -> tuple[TensorOrTupleOfTensorsGeneric, Tensor]: ...

    @captum_entry_point
    def attribute(
        self,
        inputs: TensorOrTupleOfTensorsGeneric,
        baselines: BaselineType = None,
        target: TargetType = None,
        additional_forward_args: Any = None,
        n_steps: int = 50,
        method: str = "adaptive",
        internal_batch_size: int | None = None,
        return_convergence_delta: bool = False,
        *,
        schedule: ScheduleLike = "arc_length",
        form: str = "increments",
        tolerance: float | None = None,
        map_tolerance: float | None = None,
    ) -> TensorOrTupleOfTensorsGeneric | tuple[TensorOrTupleOfTensorsGeneric, Tensor]:
        r"""Pixel-space RIG attributions, with Captum IG's arguments and returns.

        Args:{common}

        Returns:
            **attributions** or 2-element tuple of **attributions**, **delta**:
            - **attributions** (*Tensor* or *tuple[Tensor, ...]*): same shapes as
              the inputs; a tensor for a tensor input, a tuple for a tuple.
            - **delta** (*Tensor*, when ``return_convergence_delta``): ``(N,)``
              ``sum(attributions) - (F(x) - F(x'))``.

        Raises:
            TypeError: for inputs or options of the wrong type.
            ValueError: for inputs with fewer than two matrix dimensions, an empty
                batch, NaN/inf, mismatched baselines, ``n_steps`` too small, unknown
                ``method``, ``schedule`` or ``form``.

        Examples:
            >>> import torch
            >>> from torch import nn
            >>> from captum.attr import IntegratedGradients
            >>> from captum_rank import RankIntegratedGradients
            >>> model = nn.Sequential(nn.Flatten(), nn.Linear(64, 3), nn.Softplus())
            >>> x = torch.rand(4, 1, 8, 8)
            >>> rig = RankIntegratedGradients(model).attribute(
            ...     x, target=0, schedule="linear", method="gausslegendre")
            >>> ig = IntegratedGradients(model).attribute(x, target=0)
            >>> torch.allclose(rig, ig, atol=1e-6)
            True
        """
        is_tuple = _is_tuple(inputs)
        run = self._run(
            inputs, baselines, target, additional_forward_args, n_steps, method,
            internal_batch_size, schedule, form, tolerance, map_tolerance,
            want_pixels=True, want_ranks=False,
        )
        return self._finish(is_tuple, run.pixels, run.inputs, baselines, target,
                            additional_forward_args, return_convergence_delta)

    @captum_entry_point
    def attribute_ranks(
        self,
        inputs: TensorOrTupleOfTensorsGeneric,
        baselines: BaselineType = None,
        target: TargetType = None,
        additional_forward_args: Any = None,
        n_steps: int = 50,
        method: str = "adaptive",
        internal_batch_size: int | None = None,
        return_convergence_delta: bool = False,
        *,
        schedule: ScheduleLike = "arc_length",
        form: str = "increments",
        tolerance: float | None = None,
        map_tolerance: float | None = None,
    ) -> TensorOrTupleOfTensorsGeneric | tuple[TensorOrTupleOfTensorsGeneric, Tensor]:
        r"""Rank-space attributions: how much of the output each singular component carries.

        For ``x - x' = U diag(s) V^T`` and gradients ``G_s`` at the path points,
        ``R_i = sum_s s_i (phi_i(b_s) - phi_i(b_{s-1})) u_i^T G_s v_i``. They come from the
        same single pass as :meth:`attribute` and sum exactly (to rounding) to the
        pixel attributions' total: ``R.sum() == attribute(...).sum()``. Component
        ``i`` is the ``i``-th largest singular component of ``x - x'``; the result does
        not depend on the SVD's sign ambiguity.

        Args:{common}

        Returns:
            **rank_attributions** or 2-element tuple of them and **delta**:
            - **rank_attributions** (*Tensor* or *tuple[Tensor, ...]*): for each input
              of shape ``(N, ..., H, W)``, a tensor ``(N, ..., r)`` with
              ``r = min(H, W)``.
            - **delta** (*Tensor*, when ``return_convergence_delta``): ``(N,)``
              ``sum(rank_attributions) - (F(x) - F(x'))``.

        Raises:
            TypeError: as for :meth:`attribute`.
            ValueError: as for :meth:`attribute`.

        Examples:
            >>> import torch
            >>> from torch import nn
            >>> from captum_rank import RankIntegratedGradients
            >>> model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 5))
            >>> x = torch.rand(2, 3, 16, 16)
            >>> ranks = RankIntegratedGradients(model).attribute_ranks(x, target=1)
            >>> ranks.shape
            torch.Size([2, 3, 16])
        """
        is_tuple = _is_tuple(inputs)
        run = self._run(
            inputs, baselines, target, additional_forward_args, n_steps, method,
            internal_batch_size, schedule, form, tolerance, map_tolerance,
            want_pixels=False, want_ranks=True,
        )
        return self._finish(is_tuple, run.ranks, run.inputs, baselines, target,
                            additional_forward_args, return_convergence_delta)

    @captum_entry_point
    def attribute_with_ranks(
        self,
        inputs: TensorOrTupleOfTensorsGeneric,
        baselines: BaselineType = None,
        target: TargetType = None,
        additional_forward_args: Any = None,
        n_steps: int = 50,
        method: str = "adaptive",
        internal_batch_size: int | None = None,
        return_convergence_delta: bool = False,
        *,
        schedule: ScheduleLike = "arc_length",
        form: str = "increments",
        tolerance: float | None = None,
        map_tolerance: float | None = None,
    ) -> tuple[Any, ...]:
        r"""Pixel and rank-space attributions from one pass along the path.

        Args:{common}

        Returns:
            tuple: ``(attributions, rank_attributions)``, or
            ``(attributions, rank_attributions, delta)`` with
            ``return_convergence_delta``; each as in :meth:`attribute` and
            :meth:`attribute_ranks`.

        Raises:
            TypeError: as for :meth:`attribute`.
            ValueError: as for :meth:`attribute`.

        Examples:
            >>> import torch
            >>> from torch import nn
            >>> from captum_rank import RankIntegratedGradients
            >>> model = nn.Sequential(nn.Flatten(), nn.Linear(100, 2))
            >>> x = torch.rand(3, 1, 10, 10)
            >>> pixels, ranks = RankIntegratedGradients(model).attribute_with_ranks(x, target=0)
            >>> torch.allclose(pixels.sum(), ranks.sum(), atol=1e-5)
            True
        """
        is_tuple = _is_tuple(inputs)
        run = self._run(
            inputs, baselines, target, additional_forward_args, n_steps, method,
            internal_batch_size, schedule, form, tolerance, map_tolerance,
            want_pixels=True, want_ranks=True,
        )
        pixel_out = _format_output(is_tuple, run.pixels)
        rank_out = _format_output(is_tuple, run.ranks)
        if not return_convergence_delta:
            return pixel_out, rank_out
        delta = self.compute_convergence_delta(
            run.pixels, baselines, run.inputs, target=target,
            additional_forward_args=additional_forward_args,
        )
        return pixel_out, rank_out, delta

    for _method in (attribute, attribute_ranks, attribute_with_ranks):
        if _method.__doc__:
            _method.__doc__ = _method.__doc__.replace("{common}", _COMMON_ARGS_DOC)
    del _method

    @captum_entry_point
    def exact_ranks(
        self,
        inputs: TensorOrTupleOfTensorsGeneric,
        baselines: BaselineType = None,
        target: TargetType = None,
        additional_forward_args: Any = None,
        internal_batch_size: int | None = None,
        return_convergence_delta: bool = False,
        *,
        schedule: ScheduleLike = "sequential",
    ) -> Any:
        r"""Exact rank attributions ``R_i = F(x_i) - F(x_{i-1})`` from forward passes only.

        On the rank-``k`` curve the path passes through ``x_k = x' + low_rank(x - x', k)``
        and only component ``i`` moves between ``x_{i-1}`` and ``x_i``, so the rank
        attribution that :meth:`attribute_ranks` converges to as ``n_steps`` grows is
        exactly ``F(x_i) - F(x_{i-1})`` (:mod:`captum_rank.exact`). ``r + 1`` forward
        passes per example (``x_0 = x'`` to ``x_r = x``), no gradients, no quadrature
        error; ``sum_i R_i = F(x) - F(x')`` up to float rounding.

        Which split you get:

        * one matrix per example (grey ``(N, 1, H, W)``, or a schedule with
          ``channels="joint"``): one value per component, the converged
          ``attribute_ranks`` of ``sequential``, ``arc_length``, ``energy`` and
          ``numerical_rank`` alike (the same curve at different speeds);
        * colour with per-channel SVDs: only ``schedule="sequential"``, whose windows
          let component ``i`` of every channel enter together; ``R_i`` is then that
          component's attribution **summed over the channels**, i.e. the converged
          ``attribute_ranks(..., schedule="sequential").sum(1, keepdim=True)``. The
          per-channel split needs gradients (:meth:`attribute_ranks`). ``arc_length``
          and the others time each channel by its own spectrum, a different path with no
          exact form, and are refused.

        Args:
            inputs (Tensor or tuple of one Tensor): ``(N, ..., H, W)`` inputs, as for
                :meth:`attribute_ranks`. Tuple in, tuple out; a tuple must hold one
                tensor (the components of several tensors enter together).
            baselines (scalar or Tensor, optional): ``x'``, as for :meth:`attribute`.
                Default: zeros.
            target (int, tuple, Tensor or list, optional): output index, one for all
                examples or one per example, as in Captum. Default: None (scalar outputs).
            additional_forward_args (Any, optional): extra arguments for
                ``forward_func``; batched tensors follow their example's path points.
            internal_batch_size (int, optional): at most this many path points per forward
                pass; all ``N (r + 1)`` points of the batch go in chunks of this size.
                Default: None (one pass).
            return_convergence_delta (bool, optional): also return ``sum_i R_i - (F(x) -
                F(x'))`` per example, from the same passes (float rounding only).
                Default: False.
            schedule (str or RankSchedule, optional): the path whose converged rank
                attributions are wanted: ``sequential`` (default), or ``arc_length``,
                ``energy``, ``numerical_rank`` on one matrix per example; a shape option
                changes the speed only. Default: ``"sequential"``.

        Returns:
            **ranks** or (**ranks**, **delta**): ``ranks`` of shape ``(N, 1, ..., 1, r)``
            in the input's dtype (the shape of :meth:`attribute_ranks` with the channel
            dimensions summed; ``(N, 1, r)`` for ``(N, C, H, W)`` inputs); ``delta``
            ``(N,)``.

        Raises:
            UserInputError: for a schedule or channel mode without an exact form
                (naming ``schedule``), a tuple of several tensors (naming ``inputs``),
                ``multiply_by_inputs=False`` (the exact values are global attributions),
                NaN or inf outputs, and the input checks of :meth:`attribute`.

        Examples:
            >>> import torch
            >>> from torch import nn
            >>> from captum_rank import RankIntegratedGradients
            >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
            <torch._C.Generator object at ...>
            >>> model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Tanh(), nn.Flatten(),
            ...                       nn.Linear(4 * 6 * 6, 5)).double()
            >>> x = torch.rand(2, 3, 8, 8, dtype=torch.float64)
            >>> rig = RankIntegratedGradients(model)
            >>> ranks, delta = rig.exact_ranks(x, target=1, return_convergence_delta=True)
            >>> ranks.shape  # one value per component index, summed over the 3 channels
            torch.Size([2, 1, 8])
            >>> bool(delta.abs().max() < 1e-12)
            True
            >>> fine = rig.attribute_ranks(x, target=1, n_steps=256, method="gausslegendre",
            ...                            schedule="sequential")
            >>> bool(torch.allclose(fine.sum(1, keepdim=True), ranks, atol=1e-5))
            True
        """
        if not self.multiplies_by_inputs:
            raise UserInputError(
                "exact_ranks gives global rank attributions F(x_i) - F(x_{i-1}), which have "
                "no exact local (multiply_by_inputs=False) counterpart; construct "
                "RankIntegratedGradients(forward_func, multiply_by_inputs=True), or use "
                "attribute_ranks for the local form."
            )
        is_tuple = _is_tuple(inputs)
        formatted_inputs, formatted_baselines = as_tuples(inputs, baselines)
        if len(formatted_inputs) != 1:
            raise UserInputError(
                f"`inputs` is a tuple of {len(formatted_inputs)} tensors; exact_ranks takes "
                "one tensor (or a tuple of one): with several, their components enter the "
                "path together and have no separate exact attributions. Use attribute_ranks."
            )
        checked_inputs = check_inputs(formatted_inputs)
        checked_baselines = check_baselines(formatted_baselines, checked_inputs)
        canonical = preflight(self.forward_func, checked_inputs, target,
                              additional_forward_args, needs_gradients=False)
        internal_batch_size = check_internal_batch_size(internal_batch_size)
        resolved = resolve_schedule(schedule)
        extra_args = _format_additional_forward_args(additional_forward_args)

        def evaluate(points: Tensor, examples: Tensor) -> Tensor:
            point_target = _examples_target(canonical, examples)
            args = _examples_args(extra_args, examples)
            output = self.forward_func(points, *(args if args is not None else ()))
            output = check_output(output, int(points.shape[0]), point_target)
            return select_targets(output, point_target).reshape(points.shape[0], -1).sum(1)

        with torch.no_grad():
            ranks, delta = exact_rank_attributions(
                checked_inputs[0], checked_baselines[0], resolved, evaluate, internal_batch_size)
        output = _format_output(is_tuple, (ranks,))
        if not return_convergence_delta:
            return output
        return output, delta.to(device=ranks.device, dtype=ranks.dtype)

    @captum_entry_point
    def attribute_bands(
        self,
        inputs: Tensor | tuple[Tensor],
        baselines: BaselineType = None,
        target: TargetType = None,
        additional_forward_args: Any = None,
        segment_steps: int = 4,
        internal_batch_size: int | None = None,
        *,
        bands: BandsLike = None,
        schedule: ScheduleLike = "sequential",
        calibrate: bool = False,
    ) -> RankBands:
        r"""Rank-band maps: the pixel map of the rank-``k`` curve split by rank band.

        Component ``i`` enters alone in segment ``i`` of the curve, so the map is
        ``A = sum_i c_i * gbar_i`` (``c_i = s_i u_i v_i^T``, ``gbar_i`` the mean gradient on
        the segment) and ``<c_i, gbar_i> = R_i`` of :meth:`exact_ranks`. A band's map sums
        its components' terms: the bands sum to the pixel map and each band's total is
        the exact ``R`` over the band, up to the quadrature error that the result reports
        (:mod:`captum_rank.bands`). Costs ``r * segment_steps`` gradient rows and ``r + 1``
        forward rows per example.

        Args:
            inputs (Tensor or tuple of one Tensor): ``(N, ..., H, W)`` inputs.
            baselines (scalar or Tensor, optional): as in :meth:`attribute`.
            target (int, tuple, Tensor, or list, optional): as in :meth:`attribute`.
            additional_forward_args (Any, optional): as in :meth:`attribute`.
            segment_steps (int, optional): Gauss-Legendre gradients per segment. Default: 4.
            internal_batch_size (int, optional): rows per model call (at least one segment
                of the batch). Default: None (one segment of the batch per call, and as
                many rows per call of the exact pass).
            bands (sequence of int, optional): the last component of every band but the
                last, e.g. ``(8, 32)`` for ``1-8``, ``9-32``, ``33-r``; see
                :func:`~captum_rank.bands.bands_from_ranks` for bands from a spectrum.
                Default: ``4, 16, 64`` below ``r``.
            schedule (str or RankSchedule, optional): a rank-``k`` curve schedule, as in
                :meth:`exact_ranks` (it sets per-channel or joint SVDs). Default:
                ``sequential``.
            calibrate (bool, optional): correct each component's term minimally so that its
                total is its exact ``R_i``. Default: False.

        Returns:
            RankBands: band maps ``(B, N, ...)``, their totals and the exact ones.

        Raises:
            ValueError: as for :meth:`exact_ranks`, and for bad ``bands``.

        Examples:
            >>> import torch
            >>> from torch import nn
            >>> from captum_rank import RankIntegratedGradients
            >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
            <torch._C.Generator object at ...>
            >>> model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Tanh(), nn.Flatten(),
            ...                       nn.Linear(4 * 6 * 6, 3)).double()
            >>> x = torch.rand(2, 1, 8, 8, dtype=torch.float64)
            >>> result = RankIntegratedGradients(model).attribute_bands(x, target=0, bands=(2,))
            >>> result.labels, tuple(result.maps.shape)
            (['1-2', '3-8'], (2, 2, 1, 8, 8))
            >>> bool(torch.allclose(result.totals, result.exact_totals, atol=1e-6))
            True
        """
        formatted_inputs, formatted_baselines = as_tuples(inputs, baselines)
        checked_inputs = check_inputs(formatted_inputs)
        segment_steps = integer(segment_steps, "segment_steps", minimum=1)
        internal_batch_size = check_internal_batch_size(internal_batch_size)
        # The exact pass's rows per call: as many as one segment of the batch by default,
        # so that it holds no more points at once than the walk.
        rows = internal_batch_size or int(checked_inputs[0].shape[0]) * segment_steps
        exact = self.exact_ranks(inputs, baselines, target, additional_forward_args,
                                 rows, schedule=schedule)
        checked_baselines = check_baselines(formatted_baselines, checked_inputs)
        target = preflight(self.forward_func, checked_inputs, target, additional_forward_args)
        return band_attributions(
            checked_inputs[0], checked_baselines[0], resolve_schedule(schedule),
            self._evaluator(target, additional_forward_args), exact, bands, segment_steps,
            internal_batch_size, calibrate)

    def _finish(
        self,
        is_tuple: bool,
        results: tuple[Tensor, ...],
        formatted_inputs: tuple[Tensor, ...],
        baselines: BaselineType,
        target: TargetType,
        additional_forward_args: Any,
        return_convergence_delta: bool,
    ) -> Any:
        output = _format_output(is_tuple, results)
        if not return_convergence_delta:
            return output
        delta = self.compute_convergence_delta(
            results, baselines, formatted_inputs, target=target,
            additional_forward_args=additional_forward_args,
        )
        return output, delta

    def _run(
        self,
        inputs: TensorOrTupleOfTensorsGeneric,
        baselines: BaselineType,
        target: TargetType,
        additional_forward_args: Any,
        n_steps: int,
        method: str,
        internal_batch_size: int | None,
        schedule: ScheduleLike,
        form: str,
        tolerance: float | None,
        map_tolerance: float | None,
        *,
        want_pixels: bool,
        want_ranks: bool,
    ) -> _Results:
        formatted_inputs, formatted_baselines = as_tuples(inputs, baselines)
        checked_inputs = check_inputs(formatted_inputs)
        checked_baselines = check_baselines(formatted_baselines, checked_inputs)
        target = preflight(self.forward_func, checked_inputs, target, additional_forward_args)
        method = one_of(method, "method", (ADAPTIVE, *SUPPORTED_METHODS))
        adaptive = method == ADAPTIVE
        if adaptive:
            n_steps = integer(n_steps, "n_steps", minimum=2)
            if tolerance is not None:
                tolerance = real(tolerance, "tolerance", minimum=0.0)
            if map_tolerance is not None:
                map_tolerance = real(map_tolerance, "map_tolerance", minimum=0.0)
        else:
            partition = path_partition(method, n_steps)
            for name, value in (("tolerance", tolerance), ("map_tolerance", map_tolerance)):
                if value is not None:
                    raise UserInputError(
                        f"`{name}` needs method={ADAPTIVE!r}, whose refinements reuse the "
                        f"gradients already computed; got method={method!r}. Drop `{name}` "
                        f"or pass method={ADAPTIVE!r}."
                    )
        internal_batch_size = check_internal_batch_size(internal_batch_size)
        check_form(form)
        resolved = resolve_schedule(schedule)

        # The plan, built once: what every path accumulates and what the run returns.
        plan = PathPlan(pixels=want_pixels, ranks=want_ranks, form=form,  # type: ignore[arg-type]
                        multiply_by_inputs=self.multiplies_by_inputs)
        self.last_convergence = None
        if adaptive:
            pixels, ranks, convergence = adaptive_walk(
                checked_inputs, checked_baselines, resolved, plan,
                self._evaluator(target, additional_forward_args), n_steps, tolerance,
                internal_batch_size, map_tolerance,
            )
            self.last_convergence = convergence
            self._warn_unconverged(convergence)
            return _Results(pixels=pixels, ranks=ranks, inputs=checked_inputs)
        paths = [
            RankPath(inputs=tensor, baseline=baseline, schedule=resolved, partition=partition,
                     plan=plan)
            for tensor, baseline in zip(checked_inputs, checked_baselines, strict=True)
        ]
        self._integrate(paths, target, additional_forward_args, len(partition),
                        internal_batch_size)
        return _Results(
            pixels=tuple(path.pixels() for path in paths) if want_pixels else (),
            ranks=tuple(path.ranks() for path in paths) if want_ranks else (),
            inputs=checked_inputs,
        )

    @staticmethod
    def _warn_unconverged(convergence: Convergence) -> None:
        failed = convergence.failed
        if not failed:
            return
        shown = ", ".join(str(i) for i in failed[:20]) + (" ..." if len(failed) > 20 else "")
        asked = ", ".join(f"{name}={value}" for name, value in (
            ("tolerance", convergence.tolerance), ("map_tolerance", convergence.map_tolerance))
            if value is not None)
        warnings.warn(
            f"{len(failed)} of {len(convergence.delta)} examples did not reach "
            f"{asked} within n_steps={convergence.budget} evaluations: examples {shown}. "
            "Their relative completeness errors and estimated map errors are in "
            "`last_convergence.relative_error` and `.map_error`; raise `n_steps` or the "
            "tolerance.",
            stacklevel=5,
        )

    def _evaluator(self, target: TargetType, additional_forward_args: Any) -> Evaluate:
        """Gradients and selected outputs at path points of any examples (adaptive rule)."""
        extra_args = _format_additional_forward_args(additional_forward_args)

        def evaluate(
            points: tuple[Tensor, ...], examples: Tensor
        ) -> tuple[tuple[Tensor, ...], Tensor]:
            outputs: list[Tensor] = []

            def forward(*args: Any) -> Tensor:
                output = self.forward_func(*args)
                outputs.append(output)
                return output

            point_target = _examples_target(target, examples)
            grads = self.gradient_func(
                forward_fn=forward,
                inputs=tuple(point.requires_grad_() for point in points),
                target_ind=point_target,
                additional_forward_args=_examples_args(extra_args, examples),
                examples=examples,
            )
            if not outputs:
                raise UserInputError(
                    f"method={ADAPTIVE!r} needs the model's outputs at the path points, and "
                    "this gradient function does not call the forward function it is given; "
                    "use a fixed method, e.g. method='gausslegendre'."
                )
            selected = _select_targets(outputs[-1], point_target).detach()
            return tuple(grads), selected.reshape(len(examples), -1).sum(1)

        return evaluate

    def _integrate(
        self,
        paths: list[RankPath],
        target: TargetType,
        additional_forward_args: Any,
        n_steps: int,
        internal_batch_size: int | None,
    ) -> None:
        num_examples = paths[0].inputs.shape[0]
        if internal_batch_size is None:
            steps_per_chunk = n_steps
        else:
            if internal_batch_size < num_examples:
                warnings.warn(
                    f"`internal_batch_size` ({internal_batch_size}) is smaller than the number "
                    f"of examples ({num_examples}); running one path step of the whole batch "
                    "at a time.",
                    stacklevel=3,
                )
            steps_per_chunk = max(1, internal_batch_size // num_examples)
        extra_args = _format_additional_forward_args(additional_forward_args)
        for first in range(0, n_steps, steps_per_chunk):
            steps = range(first, min(n_steps, first + steps_per_chunk))
            points = tuple(
                torch.cat([path.point(step) for step in steps]).requires_grad_()
                for path in paths
            )
            expanded_args = (
                _expand_additional_forward_args(extra_args, len(steps))
                if extra_args is not None
                else None
            )
            grads = self.gradient_func(
                forward_fn=self.forward_func,
                inputs=points,
                target_ind=_expand_target(target, len(steps)),
                additional_forward_args=expanded_args,
                num_examples=num_examples,
                first_step=first,
            )
            del points
            for path, grad in zip(paths, grads, strict=True):
                per_step = grad.detach().reshape(len(steps), *path.inputs.shape)
                for offset, step in enumerate(steps):
                    path.accumulate(step, per_step[offset])
            del grads

    def compute_convergence_delta(
        self,
        attributions: Tensor | tuple[Tensor, ...],
        start_point: BaselineType,
        end_point: Tensor | tuple[Tensor, ...],
        target: TargetType = None,
        additional_forward_args: Any = None,
    ) -> Tensor:
        r"""Captum's ``sum(attributions) - (F(end_point) - F(start_point))`` per example.

        ``target`` is checked as in :meth:`attribute` first, so numpy integers work and a
        bad type or length raises :class:`~captum_rank.checks.UserInputError`.

        Args:
            attributions (Tensor or tuple[Tensor, ...]): attributions to check.
            start_point (scalar, Tensor or tuple): the baselines.
            end_point (Tensor or tuple[Tensor, ...]): the inputs.
            target (int, tuple, Tensor or list, optional): as in :meth:`attribute`.
            additional_forward_args (Any, optional): as in :meth:`attribute`.

        Returns:
            Tensor: ``(N,)`` completeness errors.

        Warns:
            UserWarning: for a NaN or inf delta (the model is not finite at an input or
                baseline), naming the examples.

        Examples:
            >>> import numpy as np, torch
            >>> from captum_rank import RankIntegratedGradients
            >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
            >>> rig = RankIntegratedGradients(model)
            >>> x = torch.rand(3, 1, 2, 2)
            >>> a = rig.attribute(x, target=np.int64(1))
            >>> bool(rig.compute_convergence_delta(a, 0.0, x, target=np.int64(1)).abs().max()
            ...      < 1e-5)
            True
        """
        ends = end_point if isinstance(end_point, tuple) else (end_point,)
        canonical = check_target(target, int(ends[0].shape[0]))
        delta = super().compute_convergence_delta(
            attributions, start_point, end_point, target=canonical,
            additional_forward_args=additional_forward_args,
        )
        warn_non_finite_delta(delta)
        return delta

    def has_convergence_delta(self) -> bool:
        r"""RIG is a path method: its attributions sum to ``F(x) - F(x')``.

        Returns:
            bool: always ``True``.

        Examples:
            >>> import torch
            >>> from captum_rank import RankIntegratedGradients
            >>> RankIntegratedGradients(torch.nn.Identity()).has_convergence_delta()
            True
        """
        return True

    @property
    def multiplies_by_inputs(self) -> bool:
        r"""Whether attributions are global (``True``) or the local path-averaged gradient."""
        return self._multiply_by_inputs


def _examples_target(target: TargetType, examples: Tensor) -> TargetType:
    """The target of every path point, given the example each point belongs to."""
    if isinstance(target, Tensor) and target.numel() > 1:
        return target.reshape(-1)[examples.to(target.device)]
    if isinstance(target, list):
        return [target[int(i)] for i in examples]
    return target


def _examples_args(extra_args: tuple[Any, ...] | None, examples: Tensor) -> Any:
    """Additional forward arguments of every path point: batched tensors follow the points."""
    if extra_args is None:
        return None
    return tuple(
        arg.index_select(0, examples.to(arg.device))
        if isinstance(arg, Tensor) and arg.dim() > 0
        else arg
        for arg in extra_args
    )
