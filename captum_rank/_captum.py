r"""Every private Captum import of captum-rank, in one place.

Captum's underscored helpers are not part of its public API and move between minor
releases. Keeping them here means a Captum release can break exactly one file, and the
fix is a local one. Nothing outside this module may import from ``captum._utils`` or
``captum.attr._utils``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from captum._utils.common import (
    _expand_additional_forward_args,
    _expand_target,
    _format_additional_forward_args,
    _format_output,
    _format_outputs,
    _is_tuple,
    _select_targets,
)
from captum._utils.gradient import _forward_layer_eval, compute_gradients
from captum._utils.typing import BaselineType, TargetType, TensorOrTupleOfTensorsGeneric
from captum.attr import LayerIntegratedGradients
from captum.attr._utils.approximation_methods import SUPPORTED_METHODS, approximation_parameters
from captum.log import log_usage

# NoiseTunnel calls ``attribution_method.attribute.__wrapped__`` to skip Captum's usage
# logging, so an ``attribute`` without Captum's decorator breaks inside NoiseTunnel.
captum_entry_point = log_usage()


def layer_gradient_func(
    attribution: Any,
    num_outputs_cumsum: Any,
    attribute_to_layer_input: bool,
    grad_kwargs: dict[str, Any] | None,
) -> Callable[..., tuple[Any, ...]]:
    r"""Captum's LayerIntegratedGradients gradient function, for another layer method.

    The returned function runs ``attribution.forward_func`` with forward hooks on
    ``attribution.layer`` that replace the layer's output (or input) by the path points,
    and returns the gradients with respect to those points: the same code path as
    Captum's LayerIntegratedGradients, ``device_ids`` and tuple-valued layers included.
    ``attribution`` needs ``forward_func``, ``layer`` and ``device_ids`` attributes.
    """
    make = LayerIntegratedGradients._make_gradient_func
    captum_func = make(attribution, num_outputs_cumsum, attribute_to_layer_input, grad_kwargs)

    def gradient_func(
        forward_fn: Callable[..., Any],
        inputs: tuple[Any, ...],
        target_ind: Any = None,
        additional_forward_args: Any = None,
        **context: Any,
    ) -> tuple[Any, ...]:
        # ``context`` (the batch's examples and path step, for RIG's error messages)
        # has no place in Captum's function.
        result: tuple[Any, ...] = captum_func(
            forward_fn, inputs, target_ind, additional_forward_args
        )
        return result

    return gradient_func

__all__ = [
    "SUPPORTED_METHODS",
    "BaselineType",
    "TargetType",
    "TensorOrTupleOfTensorsGeneric",
    "_expand_additional_forward_args",
    "_expand_target",
    "_format_additional_forward_args",
    "_format_output",
    "_format_outputs",
    "_forward_layer_eval",
    "_is_tuple",
    "_select_targets",
    "approximation_parameters",
    "captum_entry_point",
    "compute_gradients",
    "layer_gradient_func",
]
