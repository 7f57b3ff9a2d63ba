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

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import Tensor

from captum_rank._model_checks import (
    check_additional_forward_args,
    check_class_target,
    check_target_in_output,
    translate_dtype_error,
    warn_if_training,
)
from captum_rank.checks import (
    UserInputError,
    UserTypeError,
    non_negative_int,
    one_of,
    optional_positive_int,
)
from captum_rank.metrics._protocols import ForwardFunc

SCORES = ("probability", "output", "accuracy", "retention")


def check_score(score: str) -> str:
    return one_of(score, "score", SCORES)


def as_target(target: Any, n: int, device: torch.device) -> Tensor:
    """One class index per example, as a ``(n,)`` long tensor on ``device``.

    The package's rules (:func:`~captum_rank._model_checks.check_class_target`): required,
    integers only (``2.7`` is refused, not truncated), no negatives. The range is checked
    against the model's output where it is scored (:func:`target_scores`).
    """
    values = check_class_target(target, n)
    return torch.tensor(values, dtype=torch.long, device=device)


def check_target_range(target: Tensor, outputs: Tensor, model: str = "forward_func") -> None:
    """Every entry of ``target`` (``(M,)``, >= 0) indexes a column of ``outputs`` ``(M, K)``."""
    if target.numel() and int(target.max()) >= outputs.shape[1]:
        values = [int(v) for v in target.tolist()]
        # One message for one class (the user passed an int), per example otherwise.
        check_target_in_output(values[0] if len(set(values)) == 1 else values,
                               tuple(outputs.shape), model=model)


def check_forward(
    forward_func: Any,
    inputs: Tensor,
    additional_forward_args: Any = None,
    internal_batch_size: Any = None,
    *,
    name: str = "forward_func",
) -> int | None:
    """What every metric checks about the model call before running it.

    ``forward_func`` is callable, tensors in ``additional_forward_args`` have one row per
    example, ``internal_batch_size`` is None or >= 1 (returned as an int), and a model in
    training mode is warned about (its batch norm would update its statistics with every
    perturbed batch, even without gradients).
    """
    if not isinstance(forward_func, ForwardFunc):
        raise UserTypeError(
            f"`{name}` must be callable (an nn.Module or a function of the inputs), got "
            f"{type(forward_func).__name__}."
        )
    check_additional_forward_args(additional_forward_args, int(inputs.shape[0]))
    size = optional_positive_int(internal_batch_size, "internal_batch_size")
    warn_if_training(forward_func, name=name, doing="scoring")
    return size


def check_seed(seed: Any) -> int:
    """A seed numpy accepts: an integer in ``[0, 2**32)``."""
    value = non_negative_int(seed, "seed")
    if value >= 2**32:
        raise UserInputError(f"`seed` must be an integer in [0, 2**32), got {value}.")
    return value


@contextmanager
def numpy_global_seed(seed: int) -> Iterator[None]:
    """Seed numpy's global generator for code that draws from it, then give it back.

    Quantus (ROAD's imputation noise, faithfulness correlation's subsets) and Captum's
    GradientShap draw from ``np.random``'s global generator and take no generator
    argument. Seeding it makes their result depend on ``seed`` only; restoring the
    caller's state afterwards means a metric never changes the random numbers the rest of
    the program draws (the same idea as ``torch.random.fork_rng``).
    """
    state = np.random.get_state()  # noqa: NPY002 - saved to be restored below
    np.random.seed(seed)  # noqa: NPY002 - the third-party code draws from the global RNG
    try:
        yield
    finally:
        np.random.set_state(state)  # noqa: NPY002 - the caller's state, unchanged


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
    name = "forward_func"
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
            try:
                out = forward_func(inputs[first:first + size], *chunk)
            except RuntimeError as err:
                translated = translate_dtype_error(err, forward_func, (inputs,))
                if translated is None:
                    raise
                raise translated from err
            if not isinstance(out, Tensor) or out.dim() == 0 or out.shape[0] != len(
                    inputs[first:first + size]):
                got = (f"shape {tuple(out.shape)}" if isinstance(out, Tensor)
                       else type(out).__name__)
                raise UserInputError(
                    f"`{name}` must return a tensor with one row of scores per input, "
                    f"(M, classes) or (M,) for M = {len(inputs[first:first + size])}, got "
                    f"{got}; wrap it, e.g. `lambda x: model(x)['logits']`."
                )
            outs.append(out)
    out = torch.cat(outs)
    if out.dim() == 1:
        out = out[:, None]
    return out.reshape(out.shape[0], -1)


def target_scores(
    outputs: Tensor, target: Tensor, score: str, reference: Tensor | None = None
) -> Tensor:
    """The score of ``target`` from a batch of outputs ``(M, classes)``; ``target`` is ``(M,)``.

    ``reference`` (``(M,)``, the unperturbed probabilities) is needed for ``"retention"``.
    An index past the output's columns is a :class:`UserInputError`, not torch's
    ``IndexError`` (or, for ``"accuracy"``, a silent 0).
    """
    check_target_range(target, outputs)
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
    if not torch.isfinite(inputs).all():
        raise UserInputError(
            "`inputs` contains NaN or inf; every score of a perturbed input would be NaN. "
            "Clean the inputs first.")
    flat = attributions.detach().reshape(attributions.shape[0], -1)
    flat_maps = (flat == flat[:, :1]).all(dim=1)
    if bool(flat_maps.any()):
        # A constant (e.g. all-zero) map ranks no feature above another: the curve would
        # measure the tie-breaking order, not the map.
        raise UserInputError(
            f"`{name}` of example(s) {flat_maps.nonzero().flatten()[:5].tolist()} are "
            "constant (e.g. all zero) and order no feature above another; score "
            "informative maps only (for a random reference use metrics.random_map).")
