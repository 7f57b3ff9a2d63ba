r"""The fixed rules: Captum's quadrature nodes, streamed through the model step by step.

Each path (one per input tensor) is a :class:`~captum_rank.path.PathWalk` over the
partition of Captum's rule (:mod:`captum_rank.quadrature`); the nodes go through the
model in chunks of whole path steps (all examples at one node, as Captum batches them)
and each step's gradient is folded into the path's sums at once, so peak memory is
bounded by ``internal_batch_size`` and the whole path is never held.
"""

from __future__ import annotations

import torch
from torch import Tensor

from captum_rank.model_call import ModelCall, Rows
from captum_rank.options import RigOptions
from captum_rank.path import PathPlan, PathWalk
from captum_rank.quadrature import path_partition

__all__ = ["fixed_walk"]


def _points(path: PathWalk, steps: range) -> Tensor:
    """The points of consecutive steps, written straight into the batch the model
    takes (node-major: every example at one node, then the next)."""
    inputs = path.inputs
    batch = torch.empty((len(steps) * inputs.shape[0], *inputs.shape[1:]),
                        dtype=inputs.dtype, device=inputs.device)
    for offset, step in enumerate(steps):
        path.point(step, out=batch[offset * inputs.shape[0]:(offset + 1) * inputs.shape[0]])
    return batch


def fixed_walk(
    inputs: tuple[Tensor, ...],
    baselines: tuple[Tensor, ...],
    plan: PathPlan,
    model: ModelCall,
    options: RigOptions,
) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...], None]:
    r"""Integrate along the paths with Captum's ``method``; return pixel and rank attributions.

    Args:
        inputs (tuple[Tensor, ...]): checked inputs ``(N, ..., H, W)``.
        baselines (tuple[Tensor, ...]): baselines broadcastable to the inputs.
        plan (PathPlan): what to accumulate and return.
        model (ModelCall): the model on rows of path points.
        options (RigOptions): the path (``schedule``), Captum's rule (``method``) and its
            nodes (``n_steps``, checked here against the rule's minimum).

    Returns:
        tuple: ``(pixels, ranks, None)``, each an empty tuple when the plan does not ask
        for it (``None``: a fixed rule has no convergence record, unlike the adaptive one).

    Examples:
        >>> import torch
        >>> x = torch.rand(2, 1, 4, 4)
        >>> model = ModelCall(lambda t: t.sum((1, 2, 3)), num_examples=2)
        >>> plan = PathPlan(pixels=True, ranks=False)
        >>> options = RigOptions(n_steps=8, method="gausslegendre", schedule="linear")
        >>> (pixels,), _, _ = fixed_walk((x,), (torch.zeros(()),), plan, model, options)
        >>> torch.allclose(pixels, x)  # a linear model's IG is x - x' times its weights
        True
    """
    if options.method is None:
        raise ValueError("fixed_walk needs options whose rule is decided: "
                         "RigOptions.for_inputs(inputs).")
    partition = path_partition(options.method, options.n_steps)
    paths = [
        PathWalk(inputs=tensor, baseline=baseline, schedule=options.schedule,
                 partition=partition,
                 plan=plan)
        for tensor, baseline in zip(inputs, baselines, strict=True)
    ]
    num = model.num_examples
    steps_total = len(partition)
    for chunk in model.batches(steps_total * num, unit=num):
        steps = range(chunk.start // num, chunk.stop // num)
        points = tuple(_points(path, steps) for path in paths)
        grads = model.gradients(points, Rows.of_steps(num, steps.start, len(steps)))
        del points
        for path, grad in zip(paths, grads, strict=True):
            per_step = grad.detach().reshape(len(steps), *path.inputs.shape)
            for offset, step in enumerate(steps):
                path.accumulate(step, per_step[offset])
        del grads
    return (
        tuple(path.pixels() for path in paths) if plan.pixels else (),
        tuple(path.ranks() for path in paths) if plan.ranks else (),
        None,
    )
