r"""What the perturbation metrics share: the model's score of the target, in batches.

Not public: :mod:`captum_rank.metrics` re-exports what users need. ``score`` names what
a curve records after each perturbation:

* ``"probability"``: the softmax probability of the target class (softmax over dim 1);
* ``"output"``: the raw output of ``forward_func`` at the target (a logit for a classifier);
* ``"accuracy"``: 1 where the arg-max class is the target, else 0 (Spectral IG's DiffID);
* ``"retention"``: the target probability divided by its value on the unperturbed
  input, clamped to ``[0, 1]`` (Spectral IG's "soft" DiffID).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from captum_rank.checks import UserInputError, UserTypeError, one_of, optional_positive_int

SCORES = ("probability", "output", "accuracy", "retention")

ForwardFunc = Callable[..., Tensor]


def check_score(score: str) -> str:
    return one_of(score, "score", SCORES)


def as_target(target: Any, n: int, device: torch.device) -> Tensor:
    """One target index per example, as a ``(n,)`` long tensor on ``device``."""
    if target is None:
        raise UserInputError(
            "`target` is required: pass the class index to score (an int, a list or a "
            "tensor with one index per example)."
        )
    if isinstance(target, bool):
        raise UserTypeError(f"`target` must be an int or a tensor of ints, got {target!r}.")
    t = torch.as_tensor(target, device=device).long().reshape(-1)
    if t.numel() == 1:
        t = t.expand(n)
    if t.numel() != n:
        raise UserInputError(
            f"`target` must hold one index per example ({n}), got {t.numel()}."
        )
    return t


def batched_outputs(
    forward_func: ForwardFunc,
    inputs: Tensor,
    additional_forward_args: Any = None,
    internal_batch_size: int | None = None,
) -> Tensor:
    """``forward_func`` on ``inputs`` in chunks of ``internal_batch_size``, without gradients.

    Tensor forward arguments whose first dimension is the batch's are sliced with it.
    """
    n = inputs.shape[0]
    size = optional_positive_int(internal_batch_size, "internal_batch_size") or n
    extra: tuple[Any, ...] = () if additional_forward_args is None else (
        additional_forward_args if isinstance(additional_forward_args, tuple)
        else (additional_forward_args,)
    )
    outs = []
    with torch.no_grad():
        for first in range(0, n, size):
            chunk = tuple(
                a[first:first + size] if isinstance(a, Tensor) and a.dim() > 0
                and a.shape[0] == n else a
                for a in extra
            )
            outs.append(forward_func(inputs[first:first + size], *chunk))
    out = torch.cat(outs)
    if out.dim() == 1:
        out = out[:, None]
    return out.reshape(out.shape[0], -1)


def target_scores(
    outputs: Tensor, target: Tensor, score: str, reference: Tensor | None = None
) -> Tensor:
    """The score of ``target`` from a batch of outputs ``(M, classes)``; ``target`` is ``(M,)``.

    ``reference`` (``(M,)``, the unperturbed probabilities) is needed for ``"retention"``.
    """
    if score == "output":
        return outputs.gather(1, target[:, None])[:, 0]
    if score == "accuracy":
        return (outputs.argmax(1) == target).to(outputs.dtype)
    probs = torch.softmax(outputs.double(), dim=1).gather(1, target[:, None])[:, 0]
    if score == "probability":
        return probs.to(outputs.dtype)
    if reference is None:  # pragma: no cover - internal misuse
        raise RuntimeError("retention needs the unperturbed probabilities")
    return (probs / (reference.double() + 1e-8)).clamp(0.0, 1.0).to(outputs.dtype)


def score_of(
    forward_func: ForwardFunc,
    inputs: Tensor,
    target: Tensor,
    score: str,
    additional_forward_args: Any = None,
    internal_batch_size: int | None = None,
    reference: Tensor | None = None,
) -> Tensor:
    """Forward ``inputs`` (``(M, ...)``) and score ``target`` (``(M,)``)."""
    outputs = batched_outputs(forward_func, inputs, additional_forward_args, internal_batch_size)
    return target_scores(outputs, target, score, reference)


def reference_probabilities(
    forward_func: ForwardFunc, inputs: Tensor, target: Tensor, score: str,
    additional_forward_args: Any = None, internal_batch_size: int | None = None,
) -> Tensor | None:
    """The unperturbed target probabilities when ``score == "retention"``, else None."""
    if score != "retention":
        return None
    return score_of(forward_func, inputs, target, "probability", additional_forward_args,
                    internal_batch_size)


def check_pair(inputs: Any, attributions: Any, name: str = "attributions") -> None:
    if not isinstance(inputs, Tensor):
        raise UserTypeError(f"`inputs` must be a torch.Tensor, got {type(inputs).__name__}.")
    if not isinstance(attributions, Tensor):
        raise UserTypeError(
            f"`{name}` must be a torch.Tensor, got {type(attributions).__name__}.")
    if inputs.dim() < 2 or inputs.shape[0] == 0:
        raise UserInputError(
            f"`inputs` must be a non-empty batch (N, ...), got shape {tuple(inputs.shape)}.")
    if attributions.shape != inputs.shape:
        raise UserInputError(
            f"`{name}` must have the inputs' shape {tuple(inputs.shape)}, got "
            f"{tuple(attributions.shape)}; sum or repeat channels first."
        )
    if not torch.isfinite(attributions).all():
        raise UserInputError(f"`{name}` contains NaN or inf; the order would be undefined.")
