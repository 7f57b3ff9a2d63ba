r"""Checks of Layer RIG's ``layer``: listed once, in the model, called, giving tensors.

Captum's layer machinery assumes the last three and otherwise fails with an
``AssertionError`` ("Forward hook did not obtain any outputs") or an ``AttributeError`` on
a dict. :func:`check_layer_list` runs before any forward pass; :func:`diagnose_layers`
runs one watched forward pass when Captum fails and raises a
:class:`~captum_rank.checks.UserInputError` that names the layer and the fix. Layers that
feed one another are allowed, as in Captum: a listed layer whose activations reach the
output only through another listed layer has no gradient, and Layer RIG's gradient
function names it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from captum_rank.checks import UserInputError

__all__ = ["check_layer_list", "diagnose_layers"]


def _qualified_names(forward_func: Any) -> dict[int, str]:
    if not isinstance(forward_func, nn.Module):
        return {}
    return {id(module): name or "the model itself"
            for name, module in forward_func.named_modules(remove_duplicate=False)}


def _describe(layers: Sequence[nn.Module], index: int, names: dict[int, str],
              is_list: bool) -> str:
    where = f"`layer[{index}]`" if is_list else "`layer`"
    module = layers[index]
    name = names.get(id(module))
    kind = type(module).__name__
    return f"{where} ({name}: {kind})" if name else f"{where} ({kind})"


def check_layer_list(layers: Sequence[nn.Module]) -> None:
    r"""The check that needs no forward pass: no module listed twice.

    (Whether a layer is part of the model is found by running it, in
    :func:`diagnose_layers`: a model may call modules it does not own.)

    Args:
        layers: the layers, in the order given.

    Raises:
        UserInputError: a module listed twice.

    Examples:
        >>> from torch import nn
        >>> conv = nn.Conv2d(1, 1, 3)
        >>> check_layer_list([conv, conv])
        Traceback (most recent call last):
        ...
        captum_rank.checks.UserInputError: `layer` lists the same module twice ...
    """
    seen: dict[int, int] = {}
    for index, layer in enumerate(layers):
        if id(layer) in seen:
            raise UserInputError(
                f"`layer` lists the same module twice (layer[{seen[id(layer)]}] and "
                f"layer[{index}]); give each layer once."
            )
        seen[id(layer)] = index


def _tensors(value: Any) -> tuple[Tensor, ...] | None:
    if isinstance(value, Tensor):
        return (value,)
    if isinstance(value, tuple) and value and all(isinstance(v, Tensor) for v in value):
        return value
    return None


def diagnose_layers(
    forward_func: Callable[..., Any],
    layers: Sequence[nn.Module],
    is_list: bool,
    inputs: tuple[Tensor, ...],
    additional_forward_args: tuple[Any, ...] | None,
    to_input: bool,
) -> None:
    r"""One watched forward pass: every layer called, giving a tensor or tensors.

    The hooks only look (the pass is the model's own).

    Args:
        forward_func: the model.
        layers: the layers.
        is_list: whether the user gave a list (for the names in the messages).
        inputs: the model's inputs.
        additional_forward_args: extra arguments after the inputs, or None.
        to_input: whether the layers' inputs are attributed to (else their outputs).

    Raises:
        UserInputError: a layer the forward pass never calls, or one whose activations are
            not a tensor or a tuple of tensors (a dict, say).

    Examples:
        >>> import torch
        >>> from torch import nn
        >>> model = nn.Sequential(nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 1))
        >>> x = torch.rand(2, 3)
        >>> diagnose_layers(model, [model[0]], False, (x,), None, False)
        >>> diagnose_layers(model, [nn.Linear(3, 3)], True, (x,), None, False)
        Traceback (most recent call last):
        ...
        captum_rank.checks.UserInputError: `layer[0]` (Linear) is not a submodule ...
    """
    names = _qualified_names(forward_func)
    side = "input" if to_input else "output"
    calls = [0] * len(layers)
    kinds: dict[int, str] = {}

    def hook_for(index: int) -> Callable[..., Any]:
        def hook(module: nn.Module, hook_inputs: Any, hook_outputs: Any = None) -> Any:
            calls[index] += 1
            value = hook_inputs if to_input else hook_outputs
            if _tensors(value) is None and not (to_input and isinstance(value, tuple)
                                                and not value):
                kinds.setdefault(index, type(value).__name__)

        return hook

    handles = [
        layer.register_forward_pre_hook(hook_for(index)) if to_input
        else layer.register_forward_hook(hook_for(index))
        for index, layer in enumerate(layers)
    ]
    extra = additional_forward_args or ()
    try:
        with torch.enable_grad():
            forward_func(*inputs, *extra)
    finally:
        for handle in handles:
            handle.remove()
    for index, count in enumerate(calls):
        if count == 0 and names and id(layers[index]) not in names:
            raise UserInputError(
                f"{_describe(layers, index, names, is_list)} is not a submodule of "
                f"`forward_func` ({type(forward_func).__name__}) and is never called by it, "
                "so it has no activations to attribute to; pass the model's own module "
                "(e.g. model.features[3]): a copy or a newly built module of the same type "
                "is a different object."
            )
        if count == 0:
            raise UserInputError(
                f"{_describe(layers, index, names, is_list)} is never called when "
                "`forward_func` runs on these inputs, so it has no activations to attribute "
                "to; choose a module the forward pass calls (a module that is only "
                "defined, skipped by a branch, or replaced by a functional call is not)."
            )
    if kinds:
        index, kind = next(iter(kinds.items()))
        raise UserInputError(
            f"{_describe(layers, index, names, is_list)} has a {kind} as its {side}; Layer "
            "RIG (like Captum's LayerIntegratedGradients) attributes to a tensor or a tuple "
            "of tensors. Choose the submodule that computes the tensor you want, or wrap "
            "the layer in a module that returns a tensor or a tuple of tensors."
        )
