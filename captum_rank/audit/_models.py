r"""Normalising the ``models`` argument of the audits and moving batches to them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from captum_rank.audit.errors import AuditInputError

__all__ = ["as_model_dict", "model_device"]

ModelLike = Callable[..., Tensor]


def as_model_dict(models: ModelLike | Mapping[str, ModelLike]) -> dict[str, ModelLike]:
    r"""``{name: model}`` from one model (named ``"model"``) or a mapping of them.

    Args:
        models: a callable mapping ``(N, C, H, W)`` images to ``(N, classes)`` outputs, or
            a non-empty dict of them.

    Returns:
        A new dict, in the given order.

    Raises:
        AuditInputError: an empty dict, a non-string name, or a non-callable model.

    Examples:
        >>> import torch
        >>> list(as_model_dict(torch.nn.Identity()))
        ['model']
    """
    if isinstance(models, Mapping):
        if not models:
            raise AuditInputError("`models` is empty; give at least one model.")
        out = dict(models)
    else:
        out = {"model": models}
    for name, model in out.items():
        if not isinstance(name, str) or not name:
            raise AuditInputError(f"model names must be non-empty strings, got {name!r}.")
        if not callable(model):
            raise AuditInputError(
                f"model {name!r} is not callable (got {type(model).__name__}); give an "
                "nn.Module or a function of a batch of images."
            )
    return out


def model_device(model: Any, default: torch.device | str | None = None) -> torch.device:
    r"""The device of a module's first parameter or buffer (else ``default`` or CPU).

    Args:
        model: a module or any callable.
        default: used when ``model`` has no parameters.

    Returns:
        The device.

    Examples:
        >>> import torch
        >>> model_device(torch.nn.Linear(2, 2))
        device(type='cpu')
    """
    if default is not None:
        return torch.device(default)
    if isinstance(model, nn.Module):
        for param in model.parameters():
            return param.device
        for buffer in model.buffers():
            return buffer.device
    return torch.device("cpu")
