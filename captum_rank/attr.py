r"""Rank Integrated Gradients, a Captum ``GradientAttribution``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, overload

from captum.attr import GradientAttribution, IntegratedGradients
from torch import Tensor

from captum_rank import engine
from captum_rank._captum import (
    BaselineType,
    TargetType,
    TensorOrTupleOfTensorsGeneric,
    _format_output,
    _is_tuple,
    captum_entry_point,
)
from captum_rank._model_checks import check_target, checked_gradients, warn_non_finite_delta
from captum_rank._validation import as_tuples
from captum_rank.adaptive import Convergence
from captum_rank.bands import BandsLike, RankBands, StepsLike
from captum_rank.checks import UserInputError, UserTypeError, boolean
from captum_rank.defaults import ADAPTIVE, DEFAULT_FORM, DEFAULT_N_STEPS, DEFAULT_SCHEDULE
from captum_rank.options import RigOptions, ScheduleLike, default_method

__all__ = ["ADAPTIVE", "RankIntegratedGradients", "default_method"]

_COMMON_ARGS_DOC = r"""
            inputs (Tensor or tuple[Tensor, ...]): Input for which attributions are
                        computed. Each tensor has shape ``(N, ..., H, W)``: a batch
                        dimension, any leading dimensions (channels), and the matrix
                        whose rank the path walks through. Tuple in, tuple out. A tensor
                        with fewer than two matrix dimensions, ``(N, F)`` or ``(N,)``, is
                        one ``1 x F`` matrix of rank one per example: its rank path is
                        the straight line, so RIG there is IG for every schedule, with one
                        rank component ``(N, 1)``.
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
            method (str, optional): Where the ``n_steps`` evaluations go. Default:
                        None, which is ``gausslegendre`` (Captum IG's rule) where the path
                        is the straight line (``schedule="linear"``, or rank-one inputs
                        under any schedule), so that RIG there gives Captum IG's numbers,
                        and ``adaptive`` on rank paths (or wherever ``tolerance`` or
                        ``map_tolerance`` is given). ``adaptive``: both path ends and an
                        even grid, then
                        bisection of the intervals where the exactly known per-interval
                        completeness error and the gradients' disagreement are largest
                        (:mod:`captum_rank.adaptive`; no extra forward pass); it keeps
                        every node's gradient until the end (``2 n_steps`` input-sized
                        tensors per example). Or Captum's fixed rules, which stream:
                        ``gausslegendre`` (Captum IG's default), ``riemann_left``,
                        ``riemann_right``, ``riemann_middle``, ``riemann_trapezoid``
                        (normalised to weights summing to 1; see
                        :mod:`captum_rank.quadrature`). With ``schedule="linear"`` and
                        the same fixed ``method`` (or none), RIG is Captum's IG.
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


class RankIntegratedGradients(IntegratedGradients):
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
    component carries. With ``schedule="linear"`` (and ``method`` not given, or a fixed
    one) RIG is Captum's IntegratedGradients, to float rounding; so it is on feature
    vectors ``(N, F)``, whose rank path is the straight line under every schedule.

    By default (``schedule="arc_length"``, ``method="adaptive"``) the path is walked at
    constant speed and the ``n_steps`` evaluations are placed where the output changes:
    a gradient evaluation returns the output too, so every interval's exact share of the
    completeness error is known and the worst intervals are bisected. Measured on the
    zoo's models on all 200 bundled images (``benchmarks/bench_convergence.py``,
    ``docs/convergence.md``), its median completeness error is below Captum IG's on the
    robust model (0.77x at 32 evaluations) and about twice IG's on the natural one (2.0x
    at 32, 1.7x at 64), where v0.1's ``sequential`` default was several times worse;
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
        self._multiply_by_inputs = boolean(multiply_by_inputs, "multiply_by_inputs")
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
        n_steps: int = DEFAULT_N_STEPS,
        method: str | None = None,
        internal_batch_size: int | None = None,
        return_convergence_delta: Literal[False] = False,
        *,
        schedule: ScheduleLike = DEFAULT_SCHEDULE,
        form: str = DEFAULT_FORM,
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
        n_steps: int = DEFAULT_N_STEPS,
        method: str | None = None,
        internal_batch_size: int | None = None,
        *,
        return_convergence_delta: Literal[True],
        schedule: ScheduleLike = DEFAULT_SCHEDULE,
        form: str = DEFAULT_FORM,
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
        n_steps: int = DEFAULT_N_STEPS,
        method: str | None = None,
        internal_batch_size: int | None = None,
        return_convergence_delta: bool = False,
        *,
        schedule: ScheduleLike = DEFAULT_SCHEDULE,
        form: str = DEFAULT_FORM,
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
            ValueError: for an empty batch, NaN/inf, mismatched baselines, bad
                targets, ``n_steps`` too small, unknown ``method``, ``schedule`` or
                ``form``. These are :class:`~captum_rank.checks.UserInputError`, which
                ``except AssertionError`` also catches (Captum asserts on them).

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
        return_convergence_delta = boolean(return_convergence_delta, "return_convergence_delta")
        is_tuple = _is_tuple(inputs)
        options = RigOptions.of_arguments(locals())
        run = self._run(inputs, baselines, target, additional_forward_args, options,
                        pixels=True, ranks=False)
        return self._finish(is_tuple, run.pixels, run.inputs, baselines, target,
                            additional_forward_args, return_convergence_delta)

    @captum_entry_point
    def attribute_ranks(
        self,
        inputs: TensorOrTupleOfTensorsGeneric,
        baselines: BaselineType = None,
        target: TargetType = None,
        additional_forward_args: Any = None,
        n_steps: int = DEFAULT_N_STEPS,
        method: str | None = None,
        internal_batch_size: int | None = None,
        return_convergence_delta: bool = False,
        *,
        schedule: ScheduleLike = DEFAULT_SCHEDULE,
        form: str = DEFAULT_FORM,
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
        return_convergence_delta = boolean(return_convergence_delta, "return_convergence_delta")
        is_tuple = _is_tuple(inputs)
        options = RigOptions.of_arguments(locals())
        run = self._run(inputs, baselines, target, additional_forward_args, options,
                        pixels=False, ranks=True)
        return self._finish(is_tuple, run.ranks, run.inputs, baselines, target,
                            additional_forward_args, return_convergence_delta)

    @captum_entry_point
    def attribute_with_ranks(
        self,
        inputs: TensorOrTupleOfTensorsGeneric,
        baselines: BaselineType = None,
        target: TargetType = None,
        additional_forward_args: Any = None,
        n_steps: int = DEFAULT_N_STEPS,
        method: str | None = None,
        internal_batch_size: int | None = None,
        return_convergence_delta: bool = False,
        *,
        schedule: ScheduleLike = DEFAULT_SCHEDULE,
        form: str = DEFAULT_FORM,
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
        return_convergence_delta = boolean(return_convergence_delta, "return_convergence_delta")
        is_tuple = _is_tuple(inputs)
        options = RigOptions.of_arguments(locals())
        run = self._run(inputs, baselines, target, additional_forward_args, options,
                        pixels=True, ranks=True)
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
        return_convergence_delta = boolean(return_convergence_delta, "return_convergence_delta")
        is_tuple = _is_tuple(inputs)
        formatted_inputs, formatted_baselines = as_tuples(inputs, baselines)
        if len(formatted_inputs) != 1:
            raise UserInputError(
                f"`inputs` is a tuple of {len(formatted_inputs)} tensors; exact_ranks takes "
                "one tensor (or a tuple of one): with several, their components enter the "
                "path together and have no separate exact attributions. Use attribute_ranks."
            )
        ranks, delta = engine.exact(self.forward_func, formatted_inputs, formatted_baselines,
                                    target, additional_forward_args, internal_batch_size,
                                    schedule)
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
        segment_steps: StepsLike = 4,
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
        (:mod:`captum_rank.bands`). Costs ``r * segment_steps`` gradient rows (the sum of
        the orders when they differ by component) and ``r + 1`` forward rows per example.

        Args:
            inputs (Tensor or tuple of one Tensor): ``(N, ..., H, W)`` inputs.
            baselines (scalar or Tensor, optional): as in :meth:`attribute`.
            target (int, tuple, Tensor, or list, optional): as in :meth:`attribute`.
            additional_forward_args (Any, optional): as in :meth:`attribute`.
            segment_steps (int or sequence of int, optional): Gauss-Legendre gradients per
                segment, or one order per component from the first, the last repeated for
                the rest, e.g. ``(64, 16, 16, 4)``: on photos the first components'
                segments hold most of the error (see :data:`~captum_rank.bands.StepsLike`).
                Default: 4.
            internal_batch_size (int, optional): rows per model call (whole segments of
                the batch share a call where they fit; a larger segment is split).
                Default: None (one segment of the batch per call, and as many rows per
                call of the exact pass).
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
        return engine.bands(self, inputs, baselines, target, additional_forward_args,
                            segment_steps, internal_batch_size, bands, schedule, calibrate)

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
        options: RigOptions,
        *,
        pixels: bool,
        ranks: bool,
    ) -> engine.Run:
        self.last_convergence = None
        run = engine.attribute(
            self.forward_func, inputs, baselines, target, additional_forward_args, options,
            pixels=pixels, ranks=ranks, multiply_by_inputs=self.multiplies_by_inputs,
            gradient_func=self.gradient_func,
        )
        self.last_convergence = run.convergence
        if run.convergence is not None:
            run.convergence.warn_unreached(stacklevel=4)
        return run

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
        attrs = attributions if isinstance(attributions, tuple) else (attributions,)
        if len(attrs) != len(ends):
            raise UserInputError(
                f"`attributions` has {len(attrs)} tensor(s) for {len(ends)} input(s) in "
                "`end_point`; give one attribution per input.")
        for i, (a, e) in enumerate(zip(attrs, ends, strict=True)):
            # Pixel attributions have the input's shape; rank attributions (N, ..., r).
            # A non-matrix input's rank form is its IG total, one component: (N, 1).
            shapes = [tuple(e.shape), (int(e.shape[0]), 1)]
            if e.dim() >= 3:
                shapes.append((*e.shape[:-2], min(int(e.shape[-2]), int(e.shape[-1]))))
            if not isinstance(a, Tensor) or tuple(a.shape) not in shapes:
                got = tuple(a.shape) if isinstance(a, Tensor) else type(a).__name__
                raise UserInputError(
                    f"`attributions`[{i}] has shape {got}, but input {i} of `end_point` is "
                    f"{tuple(e.shape)}: give pixel attributions of the input's shape or rank "
                    f"attributions {shapes[-1]}.")
        canonical = check_target(target, int(ends[0].shape[0]))
        delta = super().compute_convergence_delta(
            attributions, start_point, end_point, target=canonical,
            additional_forward_args=additional_forward_args,
        )
        warn_non_finite_delta(delta)
        return delta

    def attribute_future(self) -> Callable[[], Any]:
        r"""Not implemented, as for Captum's IntegratedGradients.

        Raises:
            NotImplementedError: always.

        Examples:
            >>> import torch
            >>> from captum_rank import RankIntegratedGradients
            >>> RankIntegratedGradients(torch.nn.Identity()).attribute_future()
            Traceback (most recent call last):
            ...
            NotImplementedError: attribute_future is not implemented for RankIntegratedGradients
        """
        raise NotImplementedError(
            "attribute_future is not implemented for RankIntegratedGradients"
        )

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

