r"""The engine: one driver from checked options and inputs to attributions.

:func:`attribute` is what every gradient face of RIG runs (the Captum face
:class:`~captum_rank.RankIntegratedGradients` and
:class:`~captum_rank.LayerRankIntegratedGradients`, which passes its layer's gradient
function): it checks the inputs, decides the rule (:meth:`RigOptions.for_inputs
<captum_rank.options.RigOptions.for_inputs>`), puts the model behind the one model-call
contract (:class:`~captum_rank.model_call.ModelCall`) and hands both to an integrator,
:func:`~captum_rank.fixed.fixed_walk` or :func:`~captum_rank.adaptive.adaptive_walk`.
:func:`exact` does the same for the forward-only exact rank attributions
(:func:`~captum_rank.exact.exact_rank_attributions`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from captum_rank._model_checks import checked_gradients, preflight
from captum_rank._validation import (
    as_tuples,
    check_baselines,
    check_budget,
    check_inputs,
    check_internal_batch_size,
)
from captum_rank.adaptive import Convergence, adaptive_walk
from captum_rank.bands import (
    BandsLike,
    RankBands,
    StepsLike,
    band_attributions,
    check_segment_steps,
)
from captum_rank.checks import boolean
from captum_rank.exact import exact_rank_attributions
from captum_rank.fixed import fixed_walk
from captum_rank.model_call import GradientFunc, ModelCall
from captum_rank.options import RigOptions, ScheduleLike
from captum_rank.path import PathPlan
from captum_rank.schedules import resolve_schedule

__all__ = ["Run", "attribute", "bands", "exact"]


@dataclass(frozen=True)
class Run:
    r"""What one run returns: per input tensor, its pixel and/or rank attributions.

    Attributes:
        pixels (tuple[Tensor, ...]): input-space attributions (empty if not asked for).
        ranks (tuple[Tensor, ...]): rank-space attributions (empty if not asked for).
        inputs (tuple[Tensor, ...]): the checked inputs.
        convergence (Convergence or None): the adaptive rule's record; ``None`` after a
            fixed rule.
    """

    pixels: tuple[Tensor, ...]
    ranks: tuple[Tensor, ...]
    inputs: tuple[Tensor, ...]
    convergence: Convergence | None = None


def attribute(
    forward_func: Callable[..., Any],
    inputs: Any,
    baselines: Any,
    target: Any,
    additional_forward_args: Any,
    options: RigOptions,
    *,
    pixels: bool,
    ranks: bool,
    multiply_by_inputs: bool = True,
    gradient_func: GradientFunc = checked_gradients,
) -> Run:
    r"""RIG's pixel and/or rank attributions of ``inputs`` under ``options``.

    Args:
        forward_func (Callable): the model.
        inputs (Tensor or tuple[Tensor, ...]): the points the path ends at (for Layer
            RIG, the layer's activations).
        baselines: the path's start, as in Captum.
        target: the user's target (checked here).
        additional_forward_args (Any): extra arguments of ``forward_func`` after the
            inputs (for Layer RIG, the model's inputs, then the user's).
        options (RigOptions): the checked options.
        pixels (bool): return input-space attributions.
        ranks (bool): return rank-space attributions.
        multiply_by_inputs (bool, optional): global (``True``) or local attributions.
            Default: True.
        gradient_func (Callable, optional): Captum's ``gradient_func`` contract. Default:
            :func:`~captum_rank._model_checks.checked_gradients`.

    Returns:
        Run: the attributions, the checked inputs and the adaptive rule's record.

    Raises:
        UserInputError: for bad inputs, baselines, target, or a rule that does not fit
            ``n_steps``.

    Examples:
        >>> import torch
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2))
        >>> x = torch.rand(3, 1, 4, 4)
        >>> run = attribute(model, x, None, 1, None, RigOptions(n_steps=8),
        ...                 pixels=True, ranks=True)
        >>> run.pixels[0].shape, run.ranks[0].shape, run.convergence.budget
        (torch.Size([3, 1, 4, 4]), torch.Size([3, 1, 4]), 8)
    """
    formatted_inputs, formatted_baselines = as_tuples(inputs, baselines)
    checked_inputs = check_inputs(formatted_inputs)
    checked_baselines = check_baselines(formatted_baselines, checked_inputs)
    canonical = preflight(forward_func, checked_inputs, target, additional_forward_args)
    options = options.for_inputs(checked_inputs)
    # Refuse a budget that cannot fit before anything is allocated.
    check_budget(options.n_steps, checked_inputs, options.internal_batch_size)
    # The plan, built once: what every path accumulates and what the run returns.
    plan = PathPlan(pixels=pixels, ranks=ranks, form=options.form,  # type: ignore[arg-type]
                    multiply_by_inputs=multiply_by_inputs)
    model = ModelCall(forward_func, int(checked_inputs[0].shape[0]), canonical,
                      additional_forward_args, gradient_func, options.internal_batch_size)
    walk = adaptive_walk if options.adaptive else fixed_walk
    found_pixels, found_ranks, convergence = walk(
        checked_inputs, checked_baselines, plan, model, options)
    return Run(pixels=found_pixels, ranks=found_ranks, inputs=checked_inputs,
               convergence=convergence)


def exact(
    forward_func: Callable[..., Any],
    inputs: tuple[Tensor, ...],
    baselines: tuple[Any, ...],
    target: Any,
    additional_forward_args: Any,
    internal_batch_size: int | None,
    schedule: ScheduleLike,
) -> tuple[Tensor, Tensor]:
    r"""Exact rank attributions ``F(x_i) - F(x_{i-1})`` of one input tensor, forward only.

    Args:
        forward_func (Callable): the model.
        inputs (tuple[Tensor]): one input tensor (formatted, unchecked).
        baselines (tuple): its baseline (formatted, unchecked).
        target: the user's target (checked here).
        additional_forward_args (Any): extra arguments of ``forward_func``.
        internal_batch_size (int or None): rows per forward pass.
        schedule (str or RankSchedule): a path with an exact form.

    Returns:
        tuple: ``(ranks, delta)`` as :func:`~captum_rank.exact.exact_rank_attributions`.

    Examples:
        >>> import torch
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2))
        >>> ranks, delta = exact(model, (torch.rand(2, 1, 4, 4),), (0.0,), 0, None, None,
        ...                      "sequential")
        >>> ranks.shape
        torch.Size([2, 1, 4])
    """
    checked_inputs = check_inputs(inputs)
    checked_baselines = check_baselines(baselines, checked_inputs)
    canonical = preflight(forward_func, checked_inputs, target, additional_forward_args,
                          needs_gradients=False)
    internal_batch_size = check_internal_batch_size(internal_batch_size)
    resolved = resolve_schedule(schedule)
    model = ModelCall(forward_func, int(checked_inputs[0].shape[0]), canonical,
                      additional_forward_args, internal_batch_size=internal_batch_size)
    with torch.no_grad():
        return exact_rank_attributions(checked_inputs[0], checked_baselines[0], resolved,
                                       model)


def bands(
    face: Any,
    inputs: Any,
    baselines: Any,
    target: Any,
    additional_forward_args: Any,
    segment_steps: StepsLike,
    internal_batch_size: int | None,
    bands: BandsLike,
    schedule: ScheduleLike,
    calibrate: bool,
) -> RankBands:
    r"""Rank-band maps of one input tensor (:func:`~captum_rank.bands.band_attributions`).

    The exact ``R`` come from ``face.exact_ranks`` (forward passes); the per-segment
    gradients through the one model-call contract, as every other rule's.

    Args:
        face (RankIntegratedGradients): the attribution whose model and gradient
            function run.
        inputs, baselines, target, additional_forward_args: as in Captum.
        segment_steps (int or sequence of int): Gauss-Legendre gradients per segment,
            or one order per component (:data:`~captum_rank.bands.StepsLike`).
        internal_batch_size (int or None): rows per model call.
        bands (sequence of int or None): band edges.
        schedule (str or RankSchedule): a rank-``k`` curve schedule.
        calibrate (bool): make each component's total its exact ``R_i``.

    Returns:
        RankBands: the band maps and totals.
    """
    formatted_inputs, formatted_baselines = as_tuples(inputs, baselines)
    checked_inputs = check_inputs(formatted_inputs)
    checked_steps = check_segment_steps(segment_steps)
    internal_batch_size = check_internal_batch_size(internal_batch_size)
    calibrate = boolean(calibrate, "calibrate")
    # The exact pass's rows per call: as many as one segment of the batch by default,
    # so that it holds no more points at once than the walk.
    largest = checked_steps if isinstance(checked_steps, int) else max(checked_steps)
    rows = internal_batch_size or int(checked_inputs[0].shape[0]) * largest
    exact_values = face.exact_ranks(inputs, baselines, target, additional_forward_args, rows,
                                    schedule=schedule)
    checked_baselines = check_baselines(formatted_baselines, checked_inputs)
    canonical = preflight(face.forward_func, checked_inputs, target, additional_forward_args)
    model = ModelCall(face.forward_func, int(checked_inputs[0].shape[0]), canonical,
                      additional_forward_args, face.gradient_func, internal_batch_size)

    return band_attributions(
        checked_inputs[0], checked_baselines[0], resolve_schedule(schedule), model,
        exact_values, bands=bands, segment_steps=checked_steps, calibrate=calibrate)
