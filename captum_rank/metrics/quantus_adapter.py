r"""A Quantus-compatible ``explain_func`` for RIG, so any Quantus metric can evaluate it.

Quantus calls ``explain_func(model=..., inputs=..., targets=..., **explain_func_kwargs)``
with numpy arrays and expects a numpy array of attributions. :func:`quantus_explain` is that
function for :class:`~captum_rank.RankIntegratedGradients`; every keyword of
``explain_func_kwargs`` that is an argument of ``attribute`` (``schedule``,
``n_steps``, ``method``, ``baselines``, ``form``, ``internal_batch_size``) is passed on,
``multiply_by_inputs`` goes to the constructor, and ``device`` says where to run.
:func:`explain_func` returns the same function with its options bound, so a Quantus
user passes one argument::

    metric(model=model, x_batch=x, y_batch=y, explain_func=explain_func(schedule="spectral"))

Quantus' own keywords that RIG does not take (for example ``method="Saliency"`` meant
for Quantus' built-in explainers is *not* one of them: ``method`` here is the quadrature)
raise an error that names them, rather than being dropped silently.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from captum_rank._model_checks import check_class_target, model_placement
from captum_rank.attr import RankIntegratedGradients
from captum_rank.checks import UserInputError, UserTypeError, boolean, integer, warn_unscaled

__all__ = ["explain_func", "quantus_explain"]

_ATTRIBUTE_KEYS = ("baselines", "n_steps", "method", "internal_batch_size", "schedule", "form",
                   "additional_forward_args")


def quantus_explain(
    model: nn.Module,
    inputs: Any,
    targets: Any,
    **kwargs: Any,
) -> np.ndarray:
    r"""RIG attributions in Quantus' ``explain_func`` convention (numpy in, numpy out).

    Args:
        model: a ``torch.nn.Module`` (Quantus passes the model it was given).
        inputs: ``(N, C, H, W)`` numpy array or tensor.
        targets: ``(N,)`` class indices (numpy, tensor, list or an int; integers >= 0).
        **kwargs: ``schedule``, ``n_steps``, ``method``, ``baselines``, ``form``,
            ``internal_batch_size``, ``additional_forward_args`` (to ``attribute``);
            ``multiply_by_inputs`` (to the constructor); ``device`` (where to run;
            default: the model's device); ``reduce_axes`` (a tuple of axes to sum the
            attributions over, e.g. ``(1,)`` for one map per image; default none).
            The library's default schedule is used when ``schedule`` is absent.

    Returns:
        ``float32`` numpy attributions of the inputs' shape (or reduced).

    Raises:
        UserTypeError: ``model`` is not a torch module; ``multiply_by_inputs`` is not a
            bool; ``reduce_axes`` is not a tuple of axes.
        UserInputError: an unknown keyword; ``targets`` that are not class indices (see
            :func:`~captum_rank._model_checks.check_class_target`).

    Examples:
        >>> import numpy as np
        >>> import quantus
        >>> import torch
        >>> from torch import nn
        >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
        <torch._C.Generator object at ...>
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(64, 3)).eval()
        >>> x = np.random.default_rng(0).random((2, 1, 8, 8), dtype=np.float32)
        >>> quantus_explain(model, x, np.array([0, 2]), n_steps=8).shape
        (2, 1, 8, 8)
        >>> metric = quantus.FaithfulnessCorrelation(nr_runs=5, subset_size=8,
        ...     disable_warnings=True, return_aggregate=False)
        >>> scores = metric(model=model, x_batch=x, y_batch=np.array([0, 2]),
        ...                 explain_func=explain_func(schedule="spectral", n_steps=8),
        ...                 device="cpu", channel_first=True)
        >>> len(scores)
        2
    """
    if not isinstance(model, nn.Module):
        raise UserTypeError(
            f"`model` must be a torch.nn.Module for RIG's explain_func, got "
            f"{type(model).__name__}."
        )
    options = dict(kwargs)
    device_arg = options.pop("device", None)
    # bool("False") is True: take only real booleans.
    multiply = boolean(options.pop("multiply_by_inputs", True), "multiply_by_inputs")
    reduce_axes = options.pop("reduce_axes", None)
    if reduce_axes is not None:
        if isinstance(reduce_axes, str) or not isinstance(reduce_axes, tuple | list):
            raise UserTypeError(
                f"`reduce_axes` must be a tuple of axes, e.g. (1,), got {reduce_axes!r}.")
        reduce_axes = tuple(integer(a, "reduce_axes", minimum=0) for a in reduce_axes)
    unknown = sorted(set(options) - set(_ATTRIBUTE_KEYS))
    if unknown:
        raise UserInputError(
            f"unknown keyword(s) {unknown} for RIG's explain_func; it takes "
            f"{[*_ATTRIBUTE_KEYS, 'multiply_by_inputs', 'device', 'reduce_axes']}."
        )
    x = torch.as_tensor(np.asarray(inputs) if not isinstance(inputs, torch.Tensor) else inputs)
    warn_unscaled(x, "inputs")
    # The model's device and dtype (Quantus hands over float32 numpy even for a float64 model).
    own_device, dtype = model_placement(model, x if x.is_floating_point() else x.float())
    device = torch.device(device_arg) if device_arg is not None else own_device
    x = x.to(device=device, dtype=dtype)
    # The package's class-target rules: 2.7 is refused, not truncated by .long().
    t = torch.tensor(check_class_target(targets, x.shape[0]), dtype=torch.long, device=device)
    baselines = options.pop("baselines", None)
    if isinstance(baselines, np.ndarray):
        baselines = torch.as_tensor(baselines, dtype=dtype, device=device)
    explainer = RankIntegratedGradients(model, multiply_by_inputs=multiply)
    attributions = explainer.attribute(x, baselines=baselines, target=t, **options)
    out = attributions.detach().cpu().numpy().astype(np.float32)
    if reduce_axes is not None:
        out = out.sum(axis=tuple(reduce_axes), keepdims=True)
    return out


def explain_func(**options: Any) -> Callable[..., np.ndarray]:
    r""":func:`quantus_explain` with its options bound: Quantus' ``explain_func`` in one argument.

    Args:
        **options: the keywords of :func:`quantus_explain` (``schedule``, ``n_steps``, ...).

    Returns:
        A callable ``(model, inputs, targets, **quantus_kwargs) -> np.ndarray``; the
        keywords Quantus adds at call time (``device``) override nothing bound here
        except ``device``.

    Examples:
        >>> from captum_rank import SpectralSchedule
        >>> f = explain_func(schedule=SpectralSchedule(overlap=0.4), n_steps=16)
        >>> f.keywords["n_steps"]
        16
    """
    return functools.partial(quantus_explain, **options)
