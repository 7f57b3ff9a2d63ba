r"""The metrics' contract: what a model and an explanation method must be, as typed protocols.

Re-exported by :mod:`captum_rank.metrics` (documented there). Every perturbation metric
(:func:`~captum_rank.metrics.insertion_deletion`, :func:`~captum_rank.metrics.diffid`,
:func:`~captum_rank.metrics.road`, :func:`~captum_rank.metrics.rank_deletion`) takes a
:class:`ForwardFunc`; the sanity checks and every factory of
:mod:`~captum_rank.metrics.rivals` take or return an :class:`ExplainFunc`. Both are
structural (:class:`typing.Protocol`): an ``nn.Module``, a function or a lambda with the
right call signature qualifies, nothing needs to subclass them, and a type checker
reports a wrong signature where the metric is called.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from torch import Tensor, nn

__all__ = ["ExplainFunc", "ForwardFunc"]


@runtime_checkable
class ForwardFunc(Protocol):
    r"""A model as the metrics call it: ``forward_func(inputs, *additional_forward_args)``.

    ``inputs`` is a batch ``(M, ...)``; the result holds one row of scores per example,
    ``(M, classes)`` (logits for the ``"probability"`` and ``"retention"`` scores), or
    ``(M,)``. The metrics call it under ``torch.no_grad()``, in chunks of
    ``internal_batch_size``; tensors in ``additional_forward_args`` whose first dimension
    is the batch's are sliced with the inputs.

    Examples:
        >>> import torch
        >>> from torch import nn
        >>> isinstance(nn.Linear(4, 2), ForwardFunc), isinstance(torch.sin, ForwardFunc)
        (True, True)
    """

    def __call__(self, inputs: Tensor, /, *additional_forward_args: Any) -> Tensor: ...


@runtime_checkable
class ExplainFunc(Protocol):
    r"""An attribution method as the sanity checks and benchmarks call it.

    ``explain(model, inputs, target) -> maps``: ``inputs`` ``(N, C, H, W)``, ``target`` a
    ``(N,)`` long tensor of class indices, the maps of the inputs' shape (detached or
    not: the callers detach). :mod:`~captum_rank.metrics.rivals` builds them for Captum's
    IG, RIG, GradientShap, Guided IG and Blur IG;
    :func:`~captum_rank.metrics.sanity.random_map` and
    :func:`~captum_rank.metrics.sanity.sobel_map` are controls.

    Examples:
        >>> from captum_rank.metrics.sanity import sobel_map
        >>> isinstance(sobel_map, ExplainFunc)
        True
    """

    def __call__(self, model: nn.Module, inputs: Tensor, target: Tensor, /) -> Tensor: ...
