r"""Every private Captum import of captum-rank, in one place.

Captum's underscored helpers are not part of its public API and move between minor
releases. Keeping them here means a Captum release can break exactly one file, and the
fix is a local one. Nothing outside this module may import from ``captum._utils`` or
``captum.attr._utils``.
"""

from __future__ import annotations

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
from captum.attr._utils.approximation_methods import SUPPORTED_METHODS, approximation_parameters
from captum.log import log_usage

# NoiseTunnel calls ``attribution_method.attribute.__wrapped__`` to skip Captum's usage
# logging, so an ``attribute`` without Captum's decorator breaks inside NoiseTunnel.
captum_entry_point = log_usage()


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
]
