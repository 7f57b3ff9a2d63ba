r"""Faithfulness correlation (Bhatt et al., IJCAI 2020), computed by Quantus.

Protocol: ``nr_runs`` times, set a random subset of ``subset_size`` features to the
baseline value, and record the drop of the target's softmax probability and the sum of
the map over the subset; the score is the Pearson correlation of the two over the runs
(per example; higher is more faithful, a random map scores about 0). This module only
calls ``quantus.FaithfulnessCorrelation`` (quantus 0.6) with explicit settings: no
normalisation or absolute value of the map (both change the correlation), the softmax
probability, numpy's global generator seeded with ``seed``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from captum_rank.checks import UserTypeError, positive_int
from captum_rank.metrics._scoring import as_target, check_pair

__all__ = ["faithfulness_correlation"]


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
        subset_size: features per subset. Default: 56.
        perturb_baseline: Quantus' baseline name (``"black"``, ``"mean"``, ...) or value.
        seed: seeds numpy's global generator, which Quantus draws from.

    Returns:
        ``(N,)`` float64 correlations.

    Raises:
        UserTypeError: ``model`` is not a torch module.
        UserInputError: as the other metrics.

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
    nr_runs = positive_int(nr_runs, "nr_runs")
    subset_size = positive_int(subset_size, "subset_size")
    t = as_target(target, inputs.shape[0], inputs.device)
    device = str(inputs.device)
    from quantus.functions.similarity_func import correlation_pearson

    metric = quantus.FaithfulnessCorrelation(
        nr_runs=nr_runs,
        subset_size=subset_size,
        perturb_baseline=perturb_baseline,  # type: ignore[arg-type]
        similarity_func=correlation_pearson,
        abs=False,
        normalise=False,
        return_aggregate=False,
        disable_warnings=True,
        display_progressbar=False,
    )
    np.random.seed(seed)  # noqa: NPY002 - quantus draws from the global RNG
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
