r"""Checks on the model side of an attribution: target, extra arguments, outputs, gradients.

Captum checks these with ``assert`` (gone under ``python -O``) or not at all, so bad
input ends in an ``IndexError``, a torch message about ``bias type``, or silent NaN.
Here every problem is a :class:`~captum_rank.checks.UserInputError` (or its
:class:`~captum_rank.checks.UserTypeError`) that names the argument and the fix.

The checks cost no model evaluation of their own:

* :func:`preflight` runs before the path is built and looks only at the arguments:
  grad mode, the ``target``'s type and length, the batch size of tensors in
  ``additional_forward_args``, and a model left in training mode (a warning);
* :func:`checked_gradients` replaces Captum's ``compute_gradients``: it runs the forward
  pass the attribution needs anyway, checks the output (type, batch size, what
  ``target`` selects from it, NaN or inf) before differentiating, and the gradients
  (missing or non-finite) after.

The same checks serve every module that runs a model, so each rule and message exists
once: :func:`check_target`, :func:`check_class_target` (class indices for the metrics
and :func:`~captum_rank.rank_path.rank_path`), :func:`check_target_in_output`,
:func:`model_placement` and :func:`warn_if_training`.

Examples:
    >>> import torch
    >>> from torch import nn
    >>> model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    >>> x = torch.rand(2, 1, 2, 2)
    >>> preflight(model, (x,), [0, 2], None)
    [0, 2]
    >>> grads = checked_gradients(model, (x.requires_grad_(),), 1)
    >>> grads[0].shape
    torch.Size([2, 1, 2, 2])
    >>> checked_gradients(model, (x,), 3)
    Traceback (most recent call last):
    ...
    captum_rank.checks.UserInputError: `target` 3 is out of range: forward_func returns ...
"""

from __future__ import annotations

import numbers
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np
import torch
from torch import Tensor, nn

from captum_rank.checks import UserInputError, UserTypeError

__all__ = [
    "CanonicalTarget",
    "check_additional_forward_args",
    "check_class_target",
    "check_grad_mode",
    "check_target",
    "check_target_in_output",
    "checked_gradients",
    "model_placement",
    "preflight",
    "select_targets",
    "translate_dtype_error",
    "warn_if_training",
    "warn_non_finite_delta",
]

#: A target after :func:`check_target`: no tensors, numpy values or booleans left.
CanonicalTarget = None | int | tuple[int, ...] | list[int] | list[tuple[int, ...]]

_TARGET_HELP = (
    "pass None (one output per example), an int (one class for all examples), a tuple of "
    "ints (one position in a multi-dimensional output), or a list or 1-D integer tensor "
    "with one entry per example"
)

#: What a target is when it must be a class index of an ``(N, classes)`` output.
_CLASS_TARGET_HELP = (
    "pass an int (one class for all examples), or a list, numpy array or 1-D integer tensor "
    "with one class index per example"
)

_STOCHASTIC_LAYERS: tuple[type[nn.Module], ...] = (
    nn.Dropout,
    nn.Dropout1d,
    nn.Dropout2d,
    nn.Dropout3d,
    nn.AlphaDropout,
    nn.FeatureAlphaDropout,
    nn.modules.batchnorm._BatchNorm,
)


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def _index_tuple(value: Any, name: str) -> tuple[int, ...]:
    if len(value) == 0 or not all(_is_int(item) for item in value):
        raise UserTypeError(
            f"`{name}` is {value!r}; a tuple target must hold one or more integers, "
            "one index per output dimension after the batch."
        )
    return tuple(int(item) for item in value)


def check_target(
    target: Any, num_examples: int, *, accepted: str = _TARGET_HELP, inputs: str = "inputs"
) -> CanonicalTarget:
    r"""Check ``target``'s type and length and return it in one canonical form.

    Captum's target conventions are kept, with numpy integers accepted where Captum
    asserts: an integer tensor with a single entry becomes an ``int``, a 1-D integer
    tensor or array with one entry per example becomes a list of ints. Whether the
    indices fit the model's output is checked on the first forward pass
    (:func:`checked_gradients`).

    Args:
        target (Any): the user's ``target``.
        num_examples (int): ``N``, the number of examples in the inputs.
        accepted (str, optional): what the message for a target of an unknown type says
            is accepted. Default: Captum's conventions.
        inputs (str, optional): the name of the argument holding the examples, for
            messages. Default: ``"inputs"``.

    Returns:
        ``None``, an ``int``, a tuple of ints, or a list of ``N`` ints or tuples.

    Raises:
        UserTypeError: for a target of the wrong type (a float, a bool, a string, a
            float tensor, a list mixing ints and tuples).
        UserInputError: for a per-example target whose length is not ``N``.

    Examples:
        >>> import numpy as np, torch
        >>> check_target(np.int64(3), 2), check_target(torch.tensor([1, 0]), 2)
        (3, [1, 0])
        >>> check_target([1, 2, 3], 2)
        Traceback (most recent call last):
        ...
        captum_rank.checks.UserInputError: `target` has 3 entries but `inputs` has 2 ...
    """
    if target is None:
        return None
    if _is_int(target):
        return int(target)
    if isinstance(target, tuple):
        return _index_tuple(target, "target")
    if isinstance(target, Tensor | np.ndarray):
        array = target
        dtype_ok = (
            not array.is_floating_point() and not array.is_complex() and array.dtype != torch.bool
            if isinstance(array, Tensor)
            else np.issubdtype(array.dtype, np.integer)
        )
        if not dtype_ok:
            raise UserTypeError(
                f"`target` is a {type(array).__name__} of dtype {array.dtype}; class indices "
                "must be integers, e.g. `target.long()`."
            )
        flat = np.asarray(array.detach().cpu() if isinstance(array, Tensor) else array)
        if flat.size == 1:
            return int(flat.reshape(-1)[0])
        values = flat.tolist()
        if array.ndim != 1:
            raise UserInputError(
                f"`target` has shape {tuple(array.shape)}; give a 1-D tensor with one class "
                f"index per example, shape ({num_examples},), or a single index."
            )
        target = values
    if isinstance(target, list):
        if len(target) != num_examples:
            raise UserInputError(
                f"`target` has {len(target)} entries but `{inputs}` has {num_examples} "
                f"examples; give one target per example, or a single int for all of them."
            )
        if all(_is_int(item) for item in target):
            return [int(item) for item in target]
        if all(isinstance(item, tuple) for item in target):
            return [_index_tuple(item, f"target[{i}]") for i, item in enumerate(target)]
        kinds = sorted({type(item).__name__ for item in target})
        raise UserTypeError(
            f"`target` is a list of {', '.join(kinds)}; a list target holds one int per "
            "example (or one tuple of ints per example), all of the same kind."
        )
    raise UserTypeError(f"`target` has type {type(target).__name__}; {accepted}.")


def check_class_target(
    target: Any, num_examples: int, *, required: bool = True, inputs: str = "inputs"
) -> list[int] | None:
    r"""``target`` as class indices of an ``(N, classes)`` output: one int >= 0 per example.

    The rules of :func:`check_target` (so ``2.7``, ``True``, ``"cat"`` and float tensors
    are refused, numpy integers accepted), narrowed to what scoring a class needs: no
    tuple targets, no negative indices (``-1`` would silently score the last class, or
    never match an arg-max). Whether the indices fit the model's output is checked on a
    forward pass (:func:`check_target_in_output`).

    Args:
        target (Any): the user's ``target``.
        num_examples (int): ``N``, the number of examples.
        required (bool, optional): whether ``None`` is refused. Default: True.
        inputs (str, optional): the name of the argument holding the examples, for
            messages. Default: ``"inputs"``.

    Returns:
        list of int or None: ``N`` class indices (an int is repeated), or ``None`` when
        ``target`` is None and not required.

    Raises:
        UserTypeError: for a target of the wrong type, including tuples.
        UserInputError: for a missing target, a negative index, or a per-example target
            whose length is not ``N``.

    Examples:
        >>> import numpy as np
        >>> check_class_target(np.int64(2), 3), check_class_target([0, 2], 2)
        ([2, 2, 2], [0, 2])
        >>> check_class_target(2.7, 3)
        Traceback (most recent call last):
        ...
        captum_rank.checks.UserTypeError: `target` has type float; pass an int (one class ...
        >>> check_class_target(-1, 3)
        Traceback (most recent call last):
        ...
        captum_rank.checks.UserInputError: `target` -1 is negative; class indices count ...
    """
    if target is None:
        if not required:
            return None
        raise UserInputError(
            f"`target` is required: {_CLASS_TARGET_HELP} (the class whose score is recorded)."
        )
    canonical = check_target(target, num_examples, accepted=_CLASS_TARGET_HELP, inputs=inputs)
    if isinstance(canonical, tuple) or (
        isinstance(canonical, list) and any(isinstance(item, tuple) for item in canonical)
    ):
        raise UserTypeError(
            f"`target` is {target!r}, a tuple index into a multi-dimensional output; here "
            f"the model returns (N, classes) scores, so {_CLASS_TARGET_HELP}."
        )
    values = [canonical] * num_examples if isinstance(canonical, int) else cast(
        list[int], canonical)
    for row, value in enumerate(values):
        if value < 0:
            what = (f"`target` {value}" if isinstance(canonical, int)
                    else f"`target` entry {value} (example {row})")
            raise UserInputError(
                f"{what} is negative; class indices count from 0: give one in [0, classes) "
                "(the last class is classes - 1)."
            )
    return values


def check_additional_forward_args(additional_forward_args: Any, num_examples: int) -> None:
    r"""Tensors in ``additional_forward_args`` must have one row per example.

    They are repeated along the path exactly like the inputs (Captum's convention), so
    a tensor with another first dimension would be paired with the wrong examples, or
    fail deep inside the model.

    Args:
        additional_forward_args (Any): the user's extra arguments (any value, or a tuple).
        num_examples (int): ``N``, the number of examples in the inputs.

    Raises:
        UserInputError: for a tensor of one or more dimensions whose first dimension is
            not ``N``.

    Examples:
        >>> import torch
        >>> check_additional_forward_args((torch.ones(2, 5), "mode", 3), 2)
        >>> check_additional_forward_args(torch.ones(3, 5), 2)
        Traceback (most recent call last):
        ...
        captum_rank.checks.UserInputError: `additional_forward_args` has 3 rows ...
    """
    if additional_forward_args is None:
        return
    check_finite_forward_args(additional_forward_args)
    packed = isinstance(additional_forward_args, tuple)
    items = additional_forward_args if packed else (additional_forward_args,)
    for index, item in enumerate(items):
        name = f"additional_forward_args[{index}]" if packed else "additional_forward_args"
        if not isinstance(item, Tensor) or item.dim() == 0 or item.shape[0] == num_examples:
            continue
        raise UserInputError(
            f"`{name}` has {item.shape[0]} rows (shape {tuple(item.shape)}) but `inputs` has "
            f"{num_examples} examples. Tensors in additional_forward_args are repeated along "
            f"the path like the inputs, so they need one row per example, shape "
            f"({num_examples}, ...); pass a value shared by all examples as a 0-d tensor, a "
            "non-tensor, or inside forward_func."
        )


def check_finite_forward_args(additional_forward_args: Any) -> None:
    r"""Floating tensors in ``additional_forward_args`` must be finite, named if not.

    Args:
        additional_forward_args (Any): the user's extra arguments (any value, or a tuple).

    Raises:
        UserInputError: for a floating tensor holding NaN or inf, naming its position.

    Examples:
        >>> import torch
        >>> check_finite_forward_args((torch.ones(2), "mode"))
        >>> check_finite_forward_args((torch.tensor([1.0, float("nan")]),))
        Traceback (most recent call last):
        ...
        captum_rank.checks.UserInputError: `additional_forward_args[0]` holds NaN or inf; ...
    """
    if additional_forward_args is None:
        return
    packed = isinstance(additional_forward_args, tuple)
    items = additional_forward_args if packed else (additional_forward_args,)
    for index, item in enumerate(items):
        name = f"additional_forward_args[{index}]" if packed else "additional_forward_args"
        if isinstance(item, Tensor) and item.is_floating_point() and not bool(
                torch.isfinite(item.detach()).all()):
            raise UserInputError(
                f"`{name}` holds NaN or inf; it goes into every model call, so the "
                "outputs would be NaN. Clean it first.")


def check_grad_mode() -> None:
    r"""Attributions need autograd: refuse ``torch.inference_mode()`` with the fix.

    ``torch.no_grad()`` is fine (gradients are turned back on inside, as in Captum);
    inference mode cannot be undone for tensors created in it.

    Raises:
        UserInputError: under ``torch.inference_mode()``.

    Examples:
        >>> import torch
        >>> with torch.no_grad():
        ...     check_grad_mode()
    """
    if torch.is_inference_mode_enabled():
        raise UserInputError(
            "Attributions need gradients, which torch.inference_mode() disables for good. "
            "Call attribute outside inference mode, or under torch.no_grad() instead "
            "(gradients are turned back on inside, as in Captum)."
        )


def _owning_module(forward_func: Callable[..., Any]) -> nn.Module | None:
    if isinstance(forward_func, nn.Module):
        return forward_func
    owner = getattr(forward_func, "__self__", None)
    return owner if isinstance(owner, nn.Module) else None


def _user_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the first caller outside this package.

    Counted from the function that calls :func:`warnings.warn` (level 1), so a warning
    raised three or five calls deep (a metric, a check, Captum's logging wrapper around
    ``attribute``) still names the user's line. (Python 3.12's ``skip_file_prefixes``
    does this; the package supports 3.10.)
    """
    here = os.path.dirname(os.path.abspath(__file__))
    captum = sys.modules.get("captum")
    packages = tuple(
        os.path.dirname(os.path.abspath(path)) + os.sep
        for path in (os.path.join(here, "__init__.py"), getattr(captum, "__file__", None))
        if path
    )
    frame = sys._getframe(1)  # the function that will call warnings.warn
    level = 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(packages):
        frame = frame.f_back
        level += 1
    return level


def warn_if_training(
    forward_func: Callable[..., Any], *, name: str = "forward_func", doing: str = "attributing"
) -> None:
    r"""Warn when the model is in training mode and has dropout or batch norm layers.

    Such a model is a different function at every call: dropout makes its outputs
    random, and batch norm normalises with the statistics of the batch it is given (the
    path points, the perturbed images) and updates its running statistics with them,
    even under ``torch.no_grad()``. The warning points at the user's call.

    Args:
        forward_func (Callable): the model (an ``nn.Module`` or one of its bound methods;
            other callables are not inspected).
        name (str, optional): the argument's name in the message. Default:
            ``"forward_func"``.
        doing (str, optional): what to call ``model.eval()`` before. Default:
            ``"attributing"``.

    Examples:
        >>> import warnings
        >>> from torch import nn
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     warn_if_training(nn.Sequential(nn.Linear(2, 2), nn.Dropout()))
        >>> "model.eval()" in str(caught[0].message)
        True
    """
    module = _owning_module(forward_func)
    if module is None:
        return
    layers = [
        name or type(layer).__name__
        for name, layer in module.named_modules()
        if layer.training and isinstance(layer, _STOCHASTIC_LAYERS)
    ]
    if layers:
        shown = ", ".join(layers[:4]) + (", ..." if len(layers) > 4 else "")
        warnings.warn(
            f"`{name}` has dropout or batch-norm layers in training mode ({shown}): "
            "its outputs are not deterministic, batch norm mixes the examples of a batch, "
            "and its running statistics change with every forward pass. Call model.eval() "
            f"before {doing}.",
            UserWarning,
            stacklevel=_user_stacklevel(),
        )


def model_placement(model: Callable[..., Any], like: Tensor) -> tuple[torch.device, torch.dtype]:
    r"""Device and floating dtype of the model's first floating parameter, else ``like``'s.

    Where inputs come from the user in any dtype or device (numpy float64 images, a CPU
    tensor for a GPU model), moving them to the model's placement is what makes the
    call work.

    Args:
        model (Callable): an ``nn.Module``, one of its bound methods, or any callable
            with a ``parameters()`` method; other callables have no placement.
        like (Tensor): the tensor whose device and dtype are the fallback.

    Returns:
        tuple: ``(device, dtype)``.

    Examples:
        >>> import torch
        >>> model_placement(torch.nn.Linear(2, 2).double(), torch.zeros(1))
        (device(type='cpu'), torch.float64)
        >>> model_placement(torch.sin, torch.zeros(1, dtype=torch.float16))
        (device(type='cpu'), torch.float16)
    """
    owner: Any = _owning_module(model) or model
    parameters = getattr(owner, "parameters", None)
    if callable(parameters):
        for p in parameters():
            if isinstance(p, Tensor) and p.is_floating_point():
                return p.device, p.dtype
    return like.device, like.dtype


def preflight(
    forward_func: Callable[..., Any],
    inputs: Sequence[Tensor],
    target: Any,
    additional_forward_args: Any,
    *,
    needs_gradients: bool = True,
) -> CanonicalTarget:
    r"""The checks that need no forward pass; run once at the start of an attribution.

    Args:
        forward_func (Callable): the model.
        inputs (Sequence[Tensor]): validated input tensors (they share the batch size).
        target (Any): the user's ``target``.
        additional_forward_args (Any): the user's extra arguments.
        needs_gradients (bool, optional): whether the attribution differentiates the model
            (forward-only ones, such as exact rank attributions, also run in
            ``torch.inference_mode()``). Default: True.

    Returns:
        the canonical target (see :func:`check_target`).

    Raises:
        UserInputError: see :func:`check_grad_mode`, :func:`check_target`.

    Examples:
        >>> import numpy as np, torch
        >>> preflight(torch.nn.Identity(), (torch.zeros(3, 2, 2),), np.int32(1), None)
        1
    """
    if needs_gradients:
        check_grad_mode()
    num_examples = int(inputs[0].shape[0])
    canonical = check_target(target, num_examples)
    # Tensors in additional_forward_args with another first dimension than N are passed as
    # Captum passes them (repeated per path step), not refused: Captum code relies on it
    # (LLMGradientAttribution's target tokens). NaN in them is refused, naming them.
    check_finite_forward_args(additional_forward_args)
    warn_if_training(forward_func)
    return canonical


def warn_non_finite_delta(delta: Tensor) -> None:
    r"""Warn when a convergence delta is NaN or inf, naming the examples.

    The attribution's own path points are checked in :func:`checked_gradients`; the
    delta also needs ``F(x)`` and ``F(x')``, which most rules never evaluate (a model
    with ``log`` is often infinite at a zero baseline).

    Args:
        delta (Tensor): ``(N,)`` convergence deltas.

    Examples:
        >>> import torch, warnings
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     warn_non_finite_delta(torch.tensor([0.0, float("inf")]))
        >>> "example(s) [1]" in str(caught[0].message)
        True
    """
    bad = ~torch.isfinite(delta.detach())
    if bool(bad.any()):
        examples = torch.nonzero(bad.reshape(len(delta), -1).any(dim=1)).flatten().tolist()
        warnings.warn(
            f"The convergence delta is NaN or inf for example(s) {examples[:10]}: "
            "`forward_func` is not finite at their inputs or baselines, F(x) - F(x') is "
            "undefined. The attributions themselves were checked; choose `baselines` where "
            "the model is finite to get a delta.",
            UserWarning,
            stacklevel=4,
        )


def _rows(rows: Tensor, num_examples: int | None, first_step: int,
          examples: Tensor | None = None) -> str:
    listed = sorted({int(row) for row in rows.cpu()})
    if examples is not None:
        owners = sorted({int(examples[row]) for row in listed})
        return f"example(s) {owners[:10]}"
    if num_examples is None:
        return f"row(s) {listed[:10]} of the batch of path points"
    owners = sorted({row % num_examples for row in listed})
    steps = sorted({first_step + row // num_examples for row in listed})
    return f"example(s) {owners[:10]} at path step(s) {steps[:10]}"


def _per_example(shape: Sequence[int]) -> str:
    """``(N, 10, 2)``: an output shape with the batch of path points written as N."""
    return "(" + ", ".join(["N", *(str(size) for size in shape[1:])]) + ")"


def _check_index(
    index: tuple[int, ...], shape: Sequence[int], name: str, *, allow_negative: bool = True,
    model: str = "forward_func",
) -> None:
    per_example = tuple(shape[1:])
    if len(index) > len(per_example):
        raise UserInputError(
            f"`{name}` {index} has {len(index)} indices but {model} returns "
            f"shape {_per_example(shape)}, {len(per_example)} dimension(s) per example; "
            + ("pass target=None: the model already returns one value per example."
               if not per_example else
               "give at most one index per output dimension after the batch.")
        )
    for position, (value, size) in enumerate(zip(index, per_example, strict=False)):
        low = -size if allow_negative else 0
        if not low <= value < size:
            where = "" if len(index) == 1 else f" (position {position})"
            what = (
                f"`{name}` {value}" if len(index) == 1 else f"`{name}` {index}"
            )
            raise UserInputError(
                f"{what} is out of range{where}: {model} returns {size} outputs per "
                f"example{' along that dimension' if where else ''} (output shape "
                f"{_per_example(shape)}); use an index in [0, {size})."
            )
    rest = per_example[len(index):]
    if int(np.prod(rest)) != 1:
        raise UserInputError(
            f"`{name}` selects {tuple(rest)} values per example from forward_func's output "
            f"of shape {_per_example(shape)}; gradients need one value per example. Give a tuple "
            f"target with one index per output dimension ({len(per_example)} here), or "
            "make forward_func return one row of scores per example, shape (N, classes)."
        )


def check_target_in_output(
    target: CanonicalTarget, shape: Sequence[int], *, model: str = "forward_func"
) -> None:
    r"""Check that ``target`` selects one value per example from an output of ``shape``.

    Args:
        target: a canonical target (:func:`check_target`), per-example lists expanded to
            the output's rows.
        shape (Sequence[int]): the output's shape, ``(B, ...)``.
        model (str, optional): the model's argument name in messages. Default:
            ``"forward_func"``.

    Raises:
        UserInputError: for an index out of range, or a target that selects more or
            fewer than one value per example.

    Examples:
        >>> check_target_in_output([0, 4], (2, 3))
        Traceback (most recent call last):
        ...
        captum_rank.checks.UserInputError: `target` entry 4 (example 1) is out of range: ...
    """
    shape = tuple(shape)
    if target is None:
        if int(np.prod(shape[1:])) != 1:
            raise UserInputError(
                f"`target` is None but {model} returns {int(np.prod(shape[1:]))} values "
                f"per example (output shape {_per_example(shape)}); pass target= the class to "
                "explain, "
                "an int for all examples or a list with one per example."
            )
    elif isinstance(target, int | tuple):
        index = (target,) if isinstance(target, int) else target
        _check_index(index, shape, "target", model=model)
    elif all(isinstance(item, int) for item in target):
        if len(shape) != 2:
            raise UserInputError(
                f"`target` gives one class per example, which needs an output of shape "
                f"(N, classes), but {model} returns shape {_per_example(shape)}; give a "
                "list of tuples, one full index per example, instead."
            )
        for row, value in enumerate(cast(list[int], target)):
            if not 0 <= value < shape[1]:
                raise UserInputError(
                    f"`target` entry {value} (example {row}) is out of "
                    f"range: {model} returns {shape[1]} outputs per example; per-example "
                    f"targets must lie in [0, {shape[1]})."
                )
    else:
        for item in dict.fromkeys(cast(list[tuple[int, ...]], target)):
            _check_index(item, shape, "target", model=model)


def check_output(output: Any, batch: int, target: CanonicalTarget) -> Tensor:
    r"""Check the model's raw output for ``batch`` path points against ``target``.

    Args:
        output (Any): what ``forward_func`` returned.
        batch (int): the number of rows it was given.
        target: the canonical target, expanded to ``batch`` rows where per example.

    Returns:
        Tensor: the output.

    Raises:
        UserTypeError: for an output that is not a tensor.
        UserInputError: for a scalar output, the wrong batch size, or a target that is
            out of range or does not select one value per example.

    Examples:
        >>> import torch
        >>> check_output(torch.zeros(4, 10, 2), 4, (3, 1)).shape
        torch.Size([4, 10, 2])
    """
    if not isinstance(output, Tensor):
        kind = type(output).__name__
        fix = {
            "tuple": "wrap it so it returns the scores tensor, e.g. `lambda x: model(x)[0]`",
            "list": "wrap it so it returns one tensor of scores",
            "dict": "wrap it so it returns one tensor, e.g. `lambda x: model(x)['logits']`",
            "ndarray": "compute with torch operations so gradients can flow (numpy has none)",
        }.get(kind, "return a torch.Tensor of shape (N,) or (N, classes)")
        raise UserTypeError(
            f"`forward_func` returned a {kind}; it must return one torch.Tensor with a row "
            f"per example: {fix}."
        )
    if output.dim() == 0:
        raise UserInputError(
            f"`forward_func` returned a scalar (shape ()) for a batch of {batch} path points; "
            "it must return one value or one row per example, shape (N,) or (N, classes). "
            "Remove any sum or mean over the batch."
        )
    if output.shape[0] != batch:
        raise UserInputError(
            f"`forward_func` returned {output.shape[0]} rows (shape {tuple(output.shape)}) "
            f"for a batch of {batch} path points; it must return one row per example. Check "
            "that it does not reduce or reshape the batch dimension."
        )
    check_target_in_output(target, tuple(output.shape))
    return output


def select_targets(output: Tensor, target: CanonicalTarget) -> Tensor:
    r"""The output values that ``target`` names, one per row (Captum's selection rules).

    Args:
        output (Tensor): the checked output, ``(B, ...)``.
        target: a canonical target expanded to ``B`` rows (see :func:`check_output`).

    Returns:
        Tensor: ``(B,)`` or ``(B, 1)`` selected values.

    Examples:
        >>> import torch
        >>> select_targets(torch.arange(6.0).reshape(2, 3), [2, 0]).tolist()
        [2.0, 3.0]
    """
    if target is None:
        return output
    if isinstance(target, int):
        return output[:, target]
    if isinstance(target, tuple):
        position: tuple[slice | int, ...] = (slice(None), *target)
        return output[position]
    if all(isinstance(item, int) for item in target):
        index = torch.tensor(target, device=output.device).reshape(-1, 1)
        return torch.gather(output, 1, index).squeeze(-1)
    pairs = cast(list[tuple[int, ...]], target)
    rows = [(row, *item) for row, item in enumerate(pairs)]
    return torch.stack([output[index] for index in rows])


def _parameter_dtypes(forward_func: Callable[..., Any]) -> set[torch.dtype]:
    module = _owning_module(forward_func)
    if module is None:
        return set()
    return {p.dtype for p in module.parameters() if p.is_floating_point()}


_DTYPE_WORDS = ("dtype", "scalar type", "bias type", "weight type", "input type", "same type")


def translate_dtype_error(
    err: RuntimeError, forward_func: Callable[..., Any], inputs: Sequence[Tensor]
) -> UserTypeError | None:
    r"""A torch dtype-mismatch error of a forward pass as a message that says the fix.

    Args:
        err (RuntimeError): what the forward pass raised.
        forward_func (Callable): the model.
        inputs (Sequence[Tensor]): what it was given.

    Returns:
        UserTypeError or None: the translation, or None when ``err`` is not about the
        inputs' dtype (re-raise it as it is).

    Examples:
        >>> import torch
        >>> model = torch.nn.Linear(2, 1)
        >>> x = torch.zeros(1, 2, dtype=torch.float64)
        >>> try:
        ...     model(x)
        ... except RuntimeError as err:
        ...     print(translate_dtype_error(err, model, (x,)))  # doctest: +ELLIPSIS
        `inputs` have dtype torch.float64 but the model's parameters are torch.float32, ...
    """
    message = str(err).lower()
    if not any(word in message for word in _DTYPE_WORDS):
        return None
    input_dtypes = sorted({str(t.dtype) for t in inputs})
    params = sorted(str(dtype) for dtype in _parameter_dtypes(forward_func))
    if params and set(params) == set(input_dtypes):
        return None  # the mismatch is inside the model, not the inputs' fault
    owner = f"the model's parameters are {', '.join(params)}" if params else (
        "the model computes in another dtype"
    )
    wanted = params[0].replace("torch.", "") if len(params) == 1 else "the model's dtype"
    return UserTypeError(
        f"`inputs` have dtype {', '.join(input_dtypes)} but {owner}, and forward_func failed "
        f"on the mismatch. Convert the inputs (e.g. `inputs.to(torch.{wanted})`) or the model "
        f"(e.g. `model.to(inputs.dtype)`) so that they match."
        if params
        else f"`inputs` have dtype {', '.join(input_dtypes)}, and forward_func failed on a "
        f"dtype mismatch ({owner}). Convert the inputs to the dtype of the model's parameters "
        "(e.g. `inputs.float()`), or the model to the inputs' dtype."
    )


_SHAPE_WORDS = ("shape", "size", "mat1 and mat2", "expected input", "channels",
                "dimension", "must match")


def translate_shape_error(
    err: RuntimeError | IndexError, forward_func: Callable[..., Any],
    inputs: Sequence[Tensor], additional_forward_args: Sequence[Any] = (),
) -> UserInputError | None:
    r"""A torch shape error of the first forward pass as a message naming both sides.

    Args:
        err (RuntimeError or IndexError): what the forward pass raised.
        forward_func (Callable): the model.
        inputs (Sequence[Tensor]): what it was given.
        additional_forward_args (Sequence, optional): the extra arguments it was given;
            a tensor among them whose rows differ from the inputs' is named as a suspect.

    Returns:
        UserInputError or None: the translation, or None when ``err`` is not about shapes.

    Examples:
        >>> import torch
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 3))
        >>> x = torch.zeros(2, 3, 8, 8)
        >>> try:
        ...     model(x)
        ... except RuntimeError as err:
        ...     print(translate_shape_error(err, model, (x,)))  # doctest: +ELLIPSIS
        the model (Sequential) cannot take `inputs` of shape (3, 8, 8) per example: ...
    """
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    if not any(word in text.lower() for word in _SHAPE_WORDS):
        return None
    shapes = ", ".join(str(tuple(t.shape[1:])) for t in inputs)
    owner = forward_func.__self__ if hasattr(forward_func, "__self__") else forward_func
    name = f"the model ({type(owner).__name__})" if isinstance(owner, nn.Module) else (
        "`forward_func`")
    wanted = getattr(owner, "input_shape", None)
    expects = f" It expects {tuple(wanted)} per example." if wanted is not None else ""
    rows = int(inputs[0].shape[0]) if inputs and inputs[0].dim() > 0 else None
    suspects = [
        f"`additional_forward_args[{index}]` has {int(arg.shape[0])} rows where the inputs "
        f"have {rows}"
        for index, arg in enumerate(additional_forward_args)
        if isinstance(arg, Tensor) and arg.dim() > 0 and rows is not None
        and int(arg.shape[0]) != rows
    ]
    also = ("" if not suspects else " Or the extra arguments: " + "; ".join(suspects)
            + " (as in Captum, a tensor without one row per example goes to every model "
            "call as it is; give it one row per example if it is per example).")
    return UserInputError(
        f"{name} cannot take `inputs` of shape {shapes} per example: "
        f"{text[:200]}.{expects} Give inputs of the shape (channels, height, width) the "
        "model was built for (resize or convert them, e.g. with "
        f"captum_rank.data.to_model_input), or the model that fits them.{also}")


def _nonfinite_rows(values: Tensor, batch: int) -> Tensor | None:
    """The rows of ``values`` holding NaN or inf, or None when every value is finite.

    A sum is NaN or inf whenever any term is, so one reduction settles the common, finite
    case; only a non-finite (or overflowing) sum pays for the per-row search.
    """
    if values.numel() == 0 or bool(torch.isfinite(values.sum())):
        return None
    bad = ~torch.isfinite(values).reshape(batch, -1).all(dim=1)
    return torch.nonzero(bad).flatten() if bool(bad.any()) else None


def checked_gradients(
    forward_fn: Callable[..., Any],
    inputs: tuple[Tensor, ...],
    target_ind: CanonicalTarget = None,
    additional_forward_args: Any = None,
    *,
    num_examples: int | None = None,
    first_step: int = 0,
    examples: Tensor | None = None,
    missing: Callable[[int], str] | None = None,
) -> tuple[Tensor, ...]:
    r"""Captum's ``compute_gradients`` with every step checked; the same gradients.

    One forward pass and one backward pass, as in Captum: the output is checked
    (:func:`check_output`, then NaN or inf in the selected values) before the backward,
    the gradients (missing, NaN or inf) after.

    Args:
        forward_fn (Callable): the model.
        inputs (tuple[Tensor, ...]): path points, ``requires_grad``.
        target_ind: canonical target (:func:`check_target`), expanded to the batch.
        additional_forward_args (Any, optional): extra arguments (a tuple or one value),
            already expanded to the batch.
        num_examples (int, optional): ``N``, to name examples and path steps in errors
            (row ``b`` of the batch is example ``b % N`` at step ``first_step + b // N``).
            Default: None (rows are named).
        first_step (int, optional): the path step of the batch's first rows. Default: 0.
        examples (Tensor, optional): the example of every row, for batches that are not
            whole steps (the adaptive rule's); overrides ``num_examples``. Default: None.
        missing (Callable, optional): the message for input ``i`` having no gradient
            (callers whose inputs are not the user's, such as Layer RIG's activations).
            Default: None (a message about the user's inputs).

    Returns:
        tuple[Tensor, ...]: the gradient of the selected outputs for each input.

    Raises:
        UserTypeError: for an output that is not a tensor, or inputs whose dtype the
            model refuses.
        UserInputError: for a bad output or target (see :func:`check_output`), NaN or inf
            in the outputs or gradients, or no gradient path from an input to the output.

    Examples:
        >>> import torch
        >>> x = torch.ones(3, 2, requires_grad=True)
        >>> checked_gradients(lambda t: (t ** 2).sum(1), (x,))[0]
        tensor([[2., 2.],
                [2., 2.],
                [2., 2.]])
    """
    if additional_forward_args is None:
        extra: tuple[Any, ...] = ()
    elif isinstance(additional_forward_args, tuple):
        extra = additional_forward_args
    else:
        extra = (additional_forward_args,)
    batch = int(inputs[0].shape[0])
    with torch.enable_grad():
        try:
            output = forward_fn(*inputs, *extra)
        except (RuntimeError, IndexError) as err:
            translated: UserInputError | None = (
                translate_dtype_error(err, forward_fn, inputs)
                if isinstance(err, RuntimeError) else None)
            if translated is None:
                translated = translate_shape_error(err, forward_fn, inputs, extra)
            if translated is None:
                raise
            raise translated from err
        output = check_output(output, batch, target_ind)
        selected = select_targets(output, target_ind)
        bad_rows = _nonfinite_rows(selected.detach(), batch)
        if bad_rows is not None:
            rows = bad_rows
            raise UserInputError(
                "`forward_func` returned NaN or inf for "
                f"{_rows(rows, num_examples, first_step, examples)}"
                "; its gradients there are undefined. Check the model (e.g. log or division "
                "at zero) and the inputs and baselines."
            )
        if not selected.is_floating_point():
            raise UserInputError(
                f"`forward_func` returned {selected.dtype} outputs; attributions need "
                "floating-point outputs (logits or probabilities). Return them before any "
                "argmax, rounding or integer cast."
            )
        if not selected.requires_grad:
            raise UserInputError(
                "`forward_func`'s output does not depend differentiably on the inputs (it "
                "has no grad_fn). Check that the model does not detach, call .numpy() or "
                "argmax, or run under torch.no_grad()/inference_mode() internally."
            )
        # One backward of the summed selection: the same gradients as Captum's
        # autograd.grad over unbind(outputs), without one ones_like per row.
        grads = torch.autograd.grad(selected, inputs, grad_outputs=torch.ones_like(selected),
                                    allow_unused=True)
    for index, grad in enumerate(grads):
        name = "inputs" if len(inputs) == 1 else f"inputs[{index}]"
        if grad is None and missing is not None:
            raise UserInputError(missing(index))
        if grad is None:
            raise UserInputError(
                f"`forward_func`'s output does not depend on `{name}` (its gradient is "
                "None): no gradient path from that input to the output. Check that the "
                "model uses it with differentiable operations, or leave it out of inputs "
                "and pass it in additional_forward_args."
            )
        bad_rows = _nonfinite_rows(grad, batch)
        if bad_rows is not None:
            rows = bad_rows
            raise UserInputError(
                f"The gradient of `forward_func` with respect to `{name}` is NaN or inf for "
                f"{_rows(rows, num_examples, first_step, examples)}, though its output is "
                "finite there; "
                "the model is not differentiable at those points (e.g. sqrt or abs at 0)."
            )
    return tuple(grads)


#: Tensors up to this many elements are copied by :class:`InputGuard` (and restored when a
#: model changes them); larger ones are only fingerprinted, so a guard never doubles a big
#: data set's memory.
_GUARD_COPY_LIMIT = 1 << 22


def _fingerprint(tensor: Tensor) -> Tensor:
    """Per-example sums, position-weighted sums and NaN counts, in float64 chunks."""
    flat = tensor.detach().reshape(tensor.shape[0] if tensor.dim() else 1, -1)
    parts = []
    for chunk in flat.split(256):
        c = chunk.to(torch.float64)
        w = torch.arange(1, c.shape[1] + 1, dtype=torch.float64, device=c.device)
        clean = torch.nan_to_num(c, nan=0.0, posinf=1e300, neginf=-1e300)
        parts.append(torch.stack([clean.sum(1), (clean * w).sum(1),
                                  torch.isnan(c).sum(1).to(torch.float64)], 1))
    return torch.cat(parts) if parts else torch.zeros(0, 3, dtype=torch.float64)


class InputGuard:
    r"""Notice a model that changes the caller's input tensor in place, and undo it.

    A ``forward`` doing ``x.mul_(0.5)`` (or ``x.data[...] = ...``) silently changes the
    caller's images, and every later use of them. A guard keeps a copy of the tensor
    (the first of an ``(images, labels)`` pair) taken before any model call;
    :meth:`check` compares, restores the caller's values and raises.

    Args:
        data: the caller's tensor, a pair whose first item is one, or anything else
            (not guarded: data sets hand out fresh tensors per item).
        name (str): the argument's name.

    Examples:
        >>> x = torch.ones(2)
        >>> guard = InputGuard(x, "inputs")
        >>> _ = x.mul_(0.5)  # what a bad forward does
        >>> guard.check()
        Traceback (most recent call last):
        ...
        captum_rank.checks.UserInputError: the model changed `inputs` in place ...
        >>> x.tolist()  # restored
        [1.0, 1.0]
    """

    def __init__(self, data: Any, name: str) -> None:
        if isinstance(data, tuple | list) and data and isinstance(data[0], Tensor):
            data = data[0]
        self.name = name
        self.tensor = data if isinstance(data, Tensor) else None
        small = self.tensor is not None and self.tensor.numel() <= _GUARD_COPY_LIMIT
        self.copy = self.tensor.detach().clone() if small and self.tensor is not None else None
        self.print = (_fingerprint(self.tensor) if self.tensor is not None and not small
                      else None)

    def check(self) -> None:
        r"""Raise (after restoring the values) when the tensor was changed in place.

        Raises:
            UserInputError: the model modified its input.
        """
        if self.tensor is None:
            return
        now = self.tensor.detach()
        restored = False
        if self.copy is not None:
            same = now.shape == self.copy.shape and (
                torch.equal(now, self.copy) if not now.is_floating_point()
                else bool(torch.isclose(now, self.copy, rtol=0.0, atol=0.0,
                                        equal_nan=True).all()))
            if not same and now.shape == self.copy.shape:
                with torch.no_grad():
                    self.tensor.data.copy_(self.copy)
                restored = True
        else:
            before = self.print
            after = _fingerprint(now)
            same = before is not None and before.shape == after.shape and bool(
                torch.equal(before, after))
        if same:
            return
        undo = (f"the original values of `{self.name}` were restored" if restored else
                f"`{self.name}` now holds the changed values")
        raise UserInputError(
            f"the model changed `{self.name}` in place during its forward pass (e.g. "
            "x.mul_(...) or x[...] = ...); the results would mix original and changed "
            "values. Make forward work on a copy (x = x.clone()) or use out-of-place "
            f"operations; {undo}.")
