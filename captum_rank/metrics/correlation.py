r"""Faithfulness correlation (Bhatt et al., IJCAI 2020), computed by Quantus.

Protocol: ``nr_runs`` times, set a random subset of ``subset_size`` features to the
baseline value, and record the drop of the target's softmax probability and the sum of
the map over the subset; the score is the Pearson correlation of the two over the runs
(per example; higher is more faithful, a random map scores about 0). This module only
calls ``quantus.FaithfulnessCorrelation`` (quantus 0.6) with explicit settings: no
normalisation or absolute value of the map (both change the correlation), the softmax
probability. Quantus draws the subsets from numpy's global generator: it is seeded with
``seed`` for the call and the caller's state is restored afterwards.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from captum_rank.checks import UserInputError, UserTypeError, integer, one_of, positive_int, real
from captum_rank.metrics._scoring import (
    as_target,
    batched_outputs,
    check_pair,
    check_seed,
    check_target_range,
    numpy_global_seed,
)

__all__ = ["faithfulness_correlation"]

#: The baseline names quantus 0.6 takes for this metric.
BASELINES = ("black", "white", "mean", "uniform")


def _check_baseline(value: Any) -> str | float:
    if isinstance(value, str):
        return one_of(value, "perturb_baseline", BASELINES)
    # numbers.Real takes numpy scalars; real() refuses bool, NaN and inf.
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return real(value, "perturb_baseline")
    raise UserTypeError(
        f"`perturb_baseline` must be one of {BASELINES} or a number, got "
        f"{type(value).__name__}.")


def faithfulness_correlation(
    model: nn.Module,
    inputs: Tensor,
    attributions: Tensor,
    target: Any = None,
    *,
    nr_runs: int = 50,
    subset_size: int = 56,
    perturb_baseline: str | float = "black",
    seed: int = 0,
) -> Tensor:
    r"""Quantus' ``FaithfulnessCorrelation`` per example, as a tensor.

    Args:
        model: a ``torch.nn.Module`` returning logits, in eval mode (Quantus requires it).
        inputs: ``(N, C, H, W)``.
        attributions: maps of the inputs' shape.
        target: class index, one for all or one per example.
        nr_runs: random subsets per example. Default: 50.
        subset_size: features per subset, at most ``C * H * W``. Default: 56.
        perturb_baseline: Quantus' baseline name (``"black"``, ``"white"``, ``"mean"``,
            ``"uniform"``) or a number (numpy scalars too).
        seed: the seed of the subsets, an integer in ``[0, 2**32)``.

    Returns:
        ``(N,)`` float64 correlations.

    Raises:
        UserTypeError: ``model`` is not a torch module, a ``target`` that is not integral.
        UserInputError: ``model`` in training mode (Quantus refuses it), ``subset_size``
            larger than the features, a missing, negative or out-of-range ``target``, and
            as the other metrics.

    Examples:
        >>> import torch
        >>> from torch import nn
        >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
        <torch._C.Generator object at ...>
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(64, 3)).eval()
        >>> x = torch.rand(2, 1, 8, 8)
        >>> faithfulness_correlation(model, x, torch.rand_like(x), 0, nr_runs=5,
        ...                          subset_size=8).shape
        torch.Size([2])
    """
    import quantus

    if not isinstance(model, nn.Module):
        raise UserTypeError(f"`model` must be a torch.nn.Module, got {type(model).__name__}.")
    check_pair(inputs, attributions)
    if model.training:
        # Quantus raises a bare AttributeError for it, after the setup.
        raise UserInputError(
            "`model` is in training mode; Quantus scores models in evaluation mode only. "
            "Call model.eval() first.")
    nr_runs = positive_int(nr_runs, "nr_runs")
    baseline = _check_baseline(perturb_baseline)
    features = int(inputs[0].numel())
    subset_size = integer(subset_size, "subset_size", minimum=1, maximum=features)
    seed = check_seed(seed)
    t = as_target(target, inputs.shape[0], inputs.device)
    # Quantus indexes the outputs with the targets: check them on one forward pass first.
    check_target_range(t, batched_outputs(model, inputs.detach()), model="model")
    device = str(inputs.device)
    from quantus.functions.similarity_func import correlation_pearson

    metric = quantus.FaithfulnessCorrelation(
        nr_runs=nr_runs,
        subset_size=subset_size,
        perturb_baseline=baseline,  # type: ignore[arg-type]
        similarity_func=correlation_pearson,
        abs=False,
        normalise=False,
        return_aggregate=False,
        disable_warnings=True,
        display_progressbar=False,
    )
    with numpy_global_seed(seed):
        scores = metric(
            model=model,
            x_batch=inputs.detach().cpu().numpy(),
            y_batch=t.cpu().numpy(),
            a_batch=attributions.detach().cpu().numpy(),
            device=device,
            softmax=True,
            channel_first=True,
            batch_size=inputs.shape[0],
        )
    out = torch.tensor(np.asarray(scores, dtype=np.float64))
    return torch.nan_to_num(out, nan=0.0)
