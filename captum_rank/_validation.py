r"""Checks on what users pass to the attribution methods.

Every failure is an exception that names the argument and says how to fix it; nothing
here uses ``assert``, which ``python -O`` strips.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor

from captum_rank.checks import UserInputError, UserTypeError, one_of, optional_positive_int

FORMS = ("increments", "averaged")


def _check_device(tensor: Tensor, name: str) -> None:
    if tensor.is_meta:
        raise UserInputError(
            f"`{name}` is on the meta device, which holds shapes but no values (it cannot be "
            "copied anywhere); create it with real values on the CPU or a GPU."
        )


def as_tuples(inputs: Any, baselines: Any) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    r"""Captum's tensor-or-tuple convention, without Captum's ``assert`` on bad types.

    Args:
        inputs: a tensor or a tuple of tensors.
        baselines: ``None`` (zeros), a number, a tensor, or a tuple of those.

    Returns:
        tuple: ``(inputs, baselines)`` as tuples (unchecked; see :func:`check_inputs`).

    Raises:
        UserTypeError: if ``inputs`` is neither a tensor nor a tuple.

    Examples:
        >>> import torch
        >>> inputs, baselines = as_tuples(torch.zeros(1, 2, 2), None)
        >>> len(inputs), baselines
        (1, (0.0,))
    """
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    elif not isinstance(inputs, tuple):
        raise UserTypeError(
            f"`inputs` must be a tensor or a tuple of tensors, got {type(inputs).__name__}."
        )
    if baselines is None:
        baselines = (0.0,) * len(inputs)
    elif not isinstance(baselines, tuple):
        baselines = (baselines,)
    return inputs, baselines


def floating_tensor(value: Any, name: str, needed_for: str) -> Tensor:
    r"""``value``, checked to be a floating-point tensor.

    Args:
        value (Any): the user's value.
        name (str): the argument's name, e.g. ``"inputs[1]"``.
        needed_for (str): what needs the floating dtype, for the message, e.g.
            ``"the SVD"``.

    Returns:
        Tensor: ``value`` itself.

    Raises:
        UserTypeError: for a non-tensor or a tensor of a non-floating dtype.

    Examples:
        >>> import torch
        >>> floating_tensor(torch.arange(3), "x", "the SVD")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        captum_rank.checks.UserTypeError: `x` has dtype torch.int64; a floating-point ...
    """
    value = checked_tensor(value, name)
    if not value.is_floating_point():
        raise UserTypeError(
            f"`{name}` has dtype {value.dtype}; a floating-point tensor is needed for "
            f"{needed_for}. Convert it first, e.g. `{name}.float()`."
        )
    return value


def checked_tensor(value: Any, name: str) -> Tensor:
    r"""``value``, checked to be a tensor.

    Raises:
        UserTypeError: for anything else.

    Examples:
        >>> checked_tensor([1.0], "inputs")
        Traceback (most recent call last):
        ...
        captum_rank.checks.UserTypeError: `inputs` must be a torch.Tensor, got list.
    """
    if not isinstance(value, Tensor):
        raise UserTypeError(f"`{name}` must be a torch.Tensor, got {type(value).__name__}.")
    return value


def input_tensors(inputs: tuple[Any, ...]) -> Iterator[tuple[str, Tensor]]:
    r"""Each of the formatted ``inputs`` with the name its errors give it, checked in turn.

    The name is ``inputs`` for a single tensor and ``inputs[i]`` in a tuple of several;
    each element is checked to be a tensor when it is reached, so a caller's own checks
    of ``inputs[0]`` come before the type of ``inputs[1]``.

    Args:
        inputs (tuple): the user's inputs, formatted into a tuple.

    Yields:
        tuple[str, Tensor]: ``(name, tensor)``.

    Raises:
        UserTypeError: for an element that is not a tensor.

    Examples:
        >>> import torch
        >>> [name for name, _ in input_tensors((torch.zeros(1), torch.zeros(1)))]
        ['inputs[0]', 'inputs[1]']
    """
    for index, value in enumerate(inputs):
        name = "inputs" if len(inputs) == 1 else f"inputs[{index}]"
        yield name, checked_tensor(value, name)


def check_same_batch(tensor: Tensor, name: str, batch: int | None) -> int:
    r"""The batch size of ``tensor``, which must equal ``batch`` (the first input's) if given.

    Args:
        tensor (Tensor): one input tensor, batch along dimension 0.
        name (str): the argument's name, e.g. ``"inputs[1]"``.
        batch (int or None): the batch size of the inputs before it (None for the first).

    Returns:
        int: ``tensor``'s batch size.

    Raises:
        UserInputError: if the batch sizes differ.

    Examples:
        >>> import torch
        >>> check_same_batch(torch.zeros(3, 2), "inputs[1]", 3)
        3
    """
    if batch is not None and tensor.shape[0] != batch:
        raise UserInputError(
            f"`{name}` has {tensor.shape[0]} examples but inputs[0] has {batch}; all "
            "input tensors must share the batch dimension."
        )
    return int(tensor.shape[0])


def check_inputs(inputs: tuple[Any, ...]) -> tuple[Tensor, ...]:
    r"""Validate formatted ``inputs`` and return them detached.

    Args:
        inputs (tuple): the user's inputs, already formatted into a tuple.

    Returns:
        tuple[Tensor, ...]: the same tensors, detached from any graph.

    A tensor with fewer than two dimensions per example, ``(N, F)`` or ``(N,)``, is
    accepted: the path treats each example as one ``1 x F`` matrix of rank one
    (:func:`captum_rank.path.matrix_form`), whose rank path is IG's straight line.

    Raises:
        UserTypeError: for non-tensors or non-floating dtypes.
        UserInputError: for a 0-d tensor, an empty or mismatched batch, NaN or inf,
            or a tensor on the meta device.

    Examples:
        >>> import torch
        >>> len(check_inputs((torch.rand(2, 1, 4, 4),)))
        1
        >>> check_inputs((torch.rand(2, 5),))[0].shape  # feature vectors: rank-one matrices
        torch.Size([2, 5])
    """
    if len(inputs) == 0:
        raise UserInputError("`inputs` is an empty tuple; pass at least one tensor.")
    checked = []
    batch = None
    for name, tensor in input_tensors(inputs):
        _check_device(tensor, name)
        floating_tensor(tensor, name, "attributions")
        if tensor.dim() == 0:
            raise UserInputError(
                f"`{name}` is a 0-d tensor; give a batch of examples along dimension 0."
            )
        if tensor.shape[0] == 0:
            raise UserInputError(
                f"`{name}` is an empty batch (shape {tuple(tensor.shape)}); pass at least "
                "one example."
            )
        if tensor.dim() >= 3 and (tensor.shape[-1] == 0 or tensor.shape[-2] == 0):
            raise UserInputError(
                f"`{name}` has an empty matrix dimension: {tuple(tensor.shape)}; the last "
                "two dimensions must be at least 1."
            )
        if tensor.numel() == 0:
            raise UserInputError(
                f"`{name}` has no elements per example (shape {tuple(tensor.shape)}); every "
                "dimension after the batch must be at least 1."
            )
        batch = check_same_batch(tensor, name, batch)
        if not bool(torch.isfinite(tensor).all()):
            raise UserInputError(
                f"`{name}` contains NaN or inf; clean the input first "
                f"(e.g. `torch.nan_to_num({name})`)."
            )
        # The SVD squares singular values and the path subtracts baselines: values near
        # the dtype's limit overflow to inf there (and were blamed on the schedule).
        wide = torch.promote_types(tensor.dtype, torch.float32)  # the SVD's dtype at least
        limit = math.sqrt(torch.finfo(wide).max) / 1e3
        largest = float(tensor.detach().abs().max()) if tensor.numel() else 0.0
        if largest > limit:
            raise UserInputError(
                f"`{name}` holds values up to {largest:.3g}, beyond {limit:.3g} where the "
                f"SVD overflows; rescale the input (images belong in "
                "[0, 1]) or use float64.")
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
        UserTypeError: for a baseline that is neither a number nor a tensor.
        UserInputError: for a count or shape mismatch, NaN/inf, or the meta device.

    Examples:
        >>> import torch
        >>> check_baselines((0.5,), (torch.rand(2, 3, 3),))[0].shape
        torch.Size([])
    """
    if len(baselines) != len(inputs):
        raise UserInputError(
            f"`baselines` has {len(baselines)} entries but there are {len(inputs)} input "
            "tensors; give one baseline per input tensor (or None for zeros)."
        )
    checked = []
    for index, (baseline, tensor) in enumerate(zip(baselines, inputs, strict=True)):
        name = "baselines" if len(inputs) == 1 else f"baselines[{index}]"
        if isinstance(baseline, Tensor):
            _check_device(baseline, name)
        elif isinstance(baseline, bool) or not isinstance(baseline, numbers.Real):
            raise UserTypeError(
                f"`{name}` must be a number or a tensor, got {type(baseline).__name__}."
            )
        value = torch.as_tensor(
            float(baseline) if not isinstance(baseline, Tensor) else baseline,
            device=tensor.device,
        ).detach()
        if value.is_complex():
            raise UserTypeError(f"`{name}` is complex; baselines must be real.")
        if value.dim() > 0:
            compatible = value.dim() == tensor.dim() and value.shape[0] in (1, tensor.shape[0])
            if compatible:
                try:
                    torch.broadcast_shapes(value.shape, tensor.shape)
                except RuntimeError:
                    compatible = False
            if not compatible:
                raise UserInputError(
                    f"`{name}` has shape {tuple(value.shape)}, which does not match the input "
                    f"shape {tuple(tensor.shape)}: give the same shape, or a first "
                    "dimension of 1 to share one baseline across the batch."
                )
        if not bool(torch.isfinite(value).all()):
            raise UserInputError(
                f"`{name}` contains NaN or inf; give finite baselines (e.g. zeros)."
            )
        checked.append(value.to(tensor.dtype))
    return tuple(checked)


def check_internal_batch_size(internal_batch_size: Any) -> int | None:
    r"""``None`` or a positive integer (numpy integers too, as in Captum).

    Args:
        internal_batch_size: the user's value.

    Returns:
        int or None: the value as a Python ``int``, or ``None``.

    Raises:
        UserTypeError: for a non-integer.
        UserInputError: for a value below 1.

    Examples:
        >>> import numpy as np
        >>> check_internal_batch_size(None), check_internal_batch_size(np.int64(8))
        (None, 8)
    """
    return optional_positive_int(internal_batch_size, "internal_batch_size")


def check_form(form: Any) -> None:
    r"""One of :data:`FORMS`.

    Args:
        form: the user's value.

    Raises:
        UserInputError: for anything else.

    Examples:
        >>> check_form("averaged")
    """
    one_of(form, "form", FORMS)


#: The most path steps a call may ask for: far beyond what any quadrature needs (the
#: convergence page's maps settle by a few hundred), and its nodes alone stay small.
MAX_STEPS = 1_000_000


def _available_bytes() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def check_budget(n_steps: Any, inputs: tuple[Tensor, ...],
                 internal_batch_size: int | None) -> None:
    r"""Refuse a step budget that cannot fit, before anything is allocated.

    Args:
        n_steps: the user's ``n_steps`` (checked to be an integer elsewhere).
        inputs: the checked inputs.
        internal_batch_size: path points per forward pass, or ``None`` (all at once).

    Raises:
        UserInputError: ``n_steps`` above :data:`MAX_STEPS`, or path points that need
            more memory than is available when evaluated at once.

    Examples:
        >>> check_budget(10**9, (torch.zeros(2, 1, 28, 28),), None)
        Traceback (most recent call last):
        ...
        captum_rank.checks.UserInputError: `n_steps` is 1000000000, above ...
    """
    if isinstance(n_steps, bool) or not isinstance(n_steps, numbers.Integral):
        return
    steps = int(n_steps)
    if steps > MAX_STEPS:
        raise UserInputError(
            f"`n_steps` is {steps}, above the supported {MAX_STEPS}: its quadrature nodes "
            "alone would take gigabytes and the model calls days. A few hundred steps "
            "converge for images (method='adaptive' stops when they do).")
    per_point = sum(int(t[0].numel()) * t.element_size() for t in inputs if t.dim() > 0)
    n = int(inputs[0].shape[0]) if inputs and inputs[0].dim() > 0 else 1
    points = n * steps if internal_batch_size is None else min(n * steps, internal_batch_size)
    # Path points, their gradients and the reconstruction buffers: about 4 copies.
    need = 4 * points * per_point
    available = _available_bytes()
    if available is not None and need > available:
        raise UserInputError(
            f"`n_steps`={steps} for {n} example(s) evaluates {n * steps} path points of "
            f"{per_point} bytes at once, about {need / 2**30:.1f} GiB, more than the "
            f"{available / 2**30:.1f} GiB available; pass internal_batch_size (e.g. "
            f"{max(1, int(available // (8 * per_point)))}) or fewer n_steps.")
