r"""Checks on what users pass to the attribution methods.

Every failure is an exception that names the argument and says how to fix it; nothing
here uses ``assert``, which ``python -O`` strips.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

FORMS = ("increments", "averaged")


def as_tuples(inputs: Any, baselines: Any) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    r"""Captum's tensor-or-tuple convention, without Captum's ``assert`` on bad types.

    Args:
        inputs: a tensor or a tuple of tensors.
        baselines: ``None`` (zeros), a number, a tensor, or a tuple of those.

    Returns:
        tuple: ``(inputs, baselines)`` as tuples (unchecked; see :func:`check_inputs`).

    Raises:
        TypeError: if ``inputs`` is neither a tensor nor a tuple.

    Examples:
        >>> import torch
        >>> inputs, baselines = as_tuples(torch.zeros(1, 2, 2), None)
        >>> len(inputs), baselines
        (1, (0.0,))
    """
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    elif not isinstance(inputs, tuple):
        raise TypeError(
            f"`inputs` must be a tensor or a tuple of tensors, got {type(inputs).__name__}."
        )
    if baselines is None:
        baselines = (0.0,) * len(inputs)
    elif not isinstance(baselines, tuple):
        baselines = (baselines,)
    return inputs, baselines


def check_inputs(inputs: tuple[Any, ...]) -> tuple[Tensor, ...]:
    r"""Validate formatted ``inputs`` and return them detached.

    Args:
        inputs (tuple): the user's inputs, already formatted into a tuple.

    Returns:
        tuple[Tensor, ...]: the same tensors, detached from any graph.

    Raises:
        TypeError: for non-tensors or non-floating dtypes.
        ValueError: for too few dimensions, an empty or mismatched batch, NaN or inf.

    Examples:
        >>> import torch
        >>> len(check_inputs((torch.rand(2, 1, 4, 4),)))
        1
    """
    if len(inputs) == 0:
        raise ValueError("`inputs` is an empty tuple; pass at least one tensor.")
    checked = []
    batch = None
    for index, tensor in enumerate(inputs):
        name = "inputs" if len(inputs) == 1 else f"inputs[{index}]"
        if not isinstance(tensor, Tensor):
            raise TypeError(f"`{name}` must be a torch.Tensor, got {type(tensor).__name__}.")
        if not tensor.is_floating_point():
            raise TypeError(
                f"`{name}` has dtype {tensor.dtype}; attributions need a floating tensor. "
                f"Convert it first, e.g. `{name}.float()`."
            )
        if tensor.dim() < 3:
            raise ValueError(
                f"`{name}` has shape {tuple(tensor.shape)}; Rank Integrated Gradients needs "
                "a batch dimension and two matrix dimensions, (N, ..., H, W). Add a batch "
                "dimension with `unsqueeze(0)`, or use captum's IntegratedGradients for "
                "inputs that are not matrices."
            )
        if tensor.shape[0] == 0:
            raise ValueError(f"`{name}` is an empty batch (shape {tuple(tensor.shape)}).")
        if tensor.shape[-1] == 0 or tensor.shape[-2] == 0:
            raise ValueError(f"`{name}` has an empty matrix dimension: {tuple(tensor.shape)}.")
        if batch is not None and tensor.shape[0] != batch:
            raise ValueError(
                f"`{name}` has {tensor.shape[0]} examples but inputs[0] has {batch}; all "
                "input tensors must share the batch dimension."
            )
        batch = tensor.shape[0]
        if not bool(torch.isfinite(tensor).all()):
            raise ValueError(f"`{name}` contains NaN or inf; clean the input first.")
        checked.append(tensor.detach())
    return tuple(checked)


def check_baselines(baselines: tuple[Any, ...], inputs: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    r"""Validate formatted ``baselines`` against ``inputs``; return tensors on their device.

    Args:
        baselines (tuple): one baseline per input: a number or a tensor that
            broadcasts to that input's shape (Captum's rule: same shape, or a first
            dimension of 1).
        inputs (tuple[Tensor, ...]): validated inputs.

    Returns:
        tuple[Tensor, ...]: baselines as tensors, broadcastable to the inputs.

    Raises:
        TypeError: for a baseline that is neither a number nor a tensor.
        ValueError: for a count or shape mismatch, or NaN/inf.

    Examples:
        >>> import torch
        >>> check_baselines((0.5,), (torch.rand(2, 3, 3),))[0].shape
        torch.Size([])
    """
    if len(baselines) != len(inputs):
        raise ValueError(
            f"`baselines` has {len(baselines)} entries but there are {len(inputs)} input "
            "tensors; give one baseline per input tensor (or None for zeros)."
        )
    checked = []
    for index, (baseline, tensor) in enumerate(zip(baselines, inputs, strict=True)):
        name = "baselines" if len(inputs) == 1 else f"baselines[{index}]"
        if isinstance(baseline, bool) or not isinstance(baseline, int | float | Tensor):
            raise TypeError(
                f"`{name}` must be a number or a tensor, got {type(baseline).__name__}."
            )
        value = torch.as_tensor(baseline, device=tensor.device).detach()
        if value.is_complex():
            raise TypeError(f"`{name}` is complex; baselines must be real.")
        if value.dim() > 0:
            compatible = value.dim() == tensor.dim() and value.shape[0] in (1, tensor.shape[0])
            if compatible:
                try:
                    torch.broadcast_shapes(value.shape, tensor.shape)
                except RuntimeError:
                    compatible = False
            if not compatible:
                raise ValueError(
                    f"`{name}` has shape {tuple(value.shape)}, which does not match the input "
                    f"shape {tuple(tensor.shape)}: give the same shape, or a first "
                    "dimension of 1 to share one baseline across the batch."
                )
        if not bool(torch.isfinite(value).all()):
            raise ValueError(f"`{name}` contains NaN or inf.")
        checked.append(value.to(tensor.dtype))
    return tuple(checked)


def check_internal_batch_size(internal_batch_size: Any) -> None:
    r"""``None`` or a positive int.

    Args:
        internal_batch_size: the user's value.

    Raises:
        TypeError: for a non-integer.
        ValueError: for a value below 1.

    Examples:
        >>> check_internal_batch_size(None)
    """
    if internal_batch_size is None:
        return
    if isinstance(internal_batch_size, bool) or not isinstance(internal_batch_size, int):
        raise TypeError(
            f"`internal_batch_size` must be an int or None, got "
            f"{type(internal_batch_size).__name__}."
        )
    if internal_batch_size < 1:
        raise ValueError(f"`internal_batch_size` must be at least 1, got {internal_batch_size}.")


def check_form(form: Any) -> None:
    r"""One of :data:`FORMS`.

    Args:
        form: the user's value.

    Raises:
        ValueError: for anything else.

    Examples:
        >>> check_form("averaged")
    """
    if form not in FORMS:
        raise ValueError(
            f"Unknown `form` {form!r}; choose 'increments' (path increments, complete up to "
            "quadrature error) or 'averaged' (the paper's averaged gradient times x - x')."
        )
