r"""The ``models`` argument of the audits: normalising it, placing batches, and checking
once, up front, that every model takes the data's images and scores its classes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

import torch
from torch import Tensor, nn

from captum_rank.audit.errors import AuditInputError
from captum_rank.checks import usable_device

__all__ = ["as_model_dict", "check_models_on_data", "model_device", "targets_for"]

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
            raise AuditInputError(
                f"`models`: model names must be non-empty strings, got {name!r}."
            )
        if not callable(model):
            raise AuditInputError(
                f"`models`: model {name!r} is not callable (got {type(model).__name__}); "
                "give an nn.Module or a function of a batch of images."
            )
    return out


def model_device(model: Any, default: torch.device | str | None = None) -> torch.device:
    r"""The device of a module's first parameter or buffer (else ``default`` or CPU).

    Args:
        model: a module or any callable.
        default: used when given.

    Returns:
        The device.

    Examples:
        >>> import torch
        >>> model_device(torch.nn.Linear(2, 2))
        device(type='cpu')
    """
    if default is not None:
        return cast(torch.device, usable_device(default, "device"))
    if isinstance(model, nn.Module):
        for param in model.parameters():
            return param.device
        for buffer in model.buffers():
            return buffer.device
    return torch.device("cpu")


def _shape(value: Any) -> str:
    return str(tuple(value.shape)) if isinstance(value, Tensor) else type(value).__name__


def check_models_on_data(
    models: Mapping[str, ModelLike],
    probe: Tensor,
    num_classes: int | None = None,
) -> int:
    r"""Run every model once on one image of the data; say clearly what does not fit.

    Called once, before any work, so that a model and data that disagree fail in a
    second with a message instead of a traceback after minutes.

    Args:
        models: ``{name: model}``.
        probe: ``(1, C, H, W)`` (or more) images of the data, on the models' device.
        num_classes: the data's number of classes, when it has labels from a fixed list
            (ten for Fashion-MNIST); every model must return exactly that many scores.

    Returns:
        int: the models' output width (the same for all).

    Raises:
        AuditInputError: a model that fails on the data's images, returns something other
            than ``(N, classes)`` scores, disagrees with another model's width, or whose
            width is not the data's number of classes.

    Examples:
        >>> import torch
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3))
        >>> check_models_on_data({"m": model}, torch.rand(1, 1, 4, 4))
        3
        >>> check_models_on_data({"m": model}, torch.rand(1, 3, 8, 8))
        Traceback (most recent call last):
        ...
        captum_rank.audit.errors.AuditInputError: model 'm' cannot take the data's images ...
    """
    image = tuple(probe.shape[1:])
    widths: dict[str, int] = {}
    for name, model in models.items():
        try:
            with torch.no_grad():
                out = model(probe)
        except Exception as err:  # the user's model: any error means "does not fit"
            first = str(err).strip().splitlines()[0] if str(err).strip() else ""
            raise AuditInputError(
                f"model {name!r} cannot take the data's images of shape {image} "
                f"(C, H, W): {type(err).__name__}: {first[:300]}. Give data of the "
                "model's input shape, or a model made for this data."
            ) from None
        if not isinstance(out, Tensor) or out.dim() != 2 or out.shape[0] != probe.shape[0]:
            raise AuditInputError(
                f"model {name!r} must return (N, classes) scores for N = {probe.shape[0]} "
                f"images of shape {image}, got {_shape(out)}; wrap it so that it returns "
                "one row of class scores per image."
            )
        if not torch.isfinite(out).all():
            raise AuditInputError(
                f"model {name!r} returns NaN or inf scores on the data's first image; "
                "check its weights and the data's value range."
            )
        widths[name] = int(out.shape[1])
        if num_classes is not None and widths[name] != num_classes:
            raise AuditInputError(
                f"model {name!r} returns {widths[name]} class scores per image but the data "
                f"has {num_classes} classes: its predictions cannot be compared with the "
                "labels. Give a model trained on these classes (or data of the model's "
                "classes)."
            )
    if len(set(widths.values())) > 1:
        raise AuditInputError(
            f"the models return different numbers of classes ({widths}); audit models of "
            "the same classes together."
        )
    return next(iter(widths.values()))


def targets_for(model: ModelLike, images: Tensor, labels: Tensor,
                scores: Tensor | None = None) -> Tensor:
    r"""The class each image is judged by: its label, or the model's own prediction.

    A label ``-1`` marks an unlabelled image (a flat folder of photos); its target is the
    model's prediction on the image itself, so accuracy on ``x_k`` measures agreement
    with the model's own answer on ``x``.

    Args:
        model: the model.
        images: ``(N, C, H, W)``.
        labels: ``(N,)`` int64, ``-1`` for unlabelled.
        scores: the model's scores on ``images`` when already computed.

    Returns:
        Tensor: ``(N,)`` int64 targets.

    Examples:
        >>> import torch
        >>> model = lambda x: torch.stack([x.sum((1, 2, 3)), -x.sum((1, 2, 3))], 1)
        >>> targets_for(model, torch.ones(2, 1, 2, 2), torch.tensor([1, -1])).tolist()
        [1, 0]
    """
    unlabelled = labels < 0
    if not bool(unlabelled.any()):
        return labels
    if scores is None:
        with torch.no_grad():
            scores = model(images)
    return torch.where(unlabelled, scores.argmax(dim=1), labels)
