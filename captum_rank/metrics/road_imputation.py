r"""ROAD (Rong et al., ICML 2022) with Quantus' noisy linear imputation, MoRF and LeRF.

ROAD removes a percentage of the pixels, most relevant first (MoRF) or least relevant
first (LeRF), and fills them by *noisy linear imputation*: each removed pixel becomes
the weighted mean of its 8 neighbours (solved as one sparse linear system, so the
fill carries no trace of the mask's shape) plus Gaussian noise. The score is whether
the model still predicts the target (accuracy). A faithful map makes MoRF accuracy fall
fast (low area) and LeRF accuracy stay high.

The imputation is Quantus' own (``quantus.functions.perturb_func.noisy_linear_imputation``,
quantus 0.6): this module only orders the pixels and calls it. The pixel order is the
map summed over channels (one relevance per pixel, as ROAD and Quantus use), and the
number of pixels removed at ``p`` percent is ``int(H * W * p / 100)``, as in
``quantus.ROAD``. Why not call ``quantus.ROAD`` itself: in quantus 0.6 it ranks the
flattened ``C*H*W`` map but imputes over ``H*W`` pixels, which fails with an
``IndexError`` for colour images (and it only runs MoRF). On one-channel images the
result here equals ``quantus.ROAD``'s, which the tests check.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from captum_rank.checks import UserInputError, real
from captum_rank.metrics._scoring import ForwardFunc, as_target, check_pair, score_of

__all__ = ["RoadCurves", "road"]


@dataclass
class RoadCurves:
    r"""ROAD accuracy curves.

    Attributes:
        percentages: ``(P,)`` percent of pixels removed.
        curves: ``(N, P)`` 1 where the model still predicts the target, else 0.
        order: ``"morf"`` or ``"lerf"``.
    """

    percentages: Tensor
    curves: Tensor
    order: str

    def auc(self) -> Tensor:
        r"""``(N,)`` mean of each curve over the percentages (MoRF: lower is more
        faithful; LeRF: higher)."""
        return self.curves.double().mean(1)

    def to_dict(self) -> dict[str, Any]:
        r"""A JSON-ready dict."""
        return {"percentages": self.percentages.tolist(), "curves": self.curves.tolist(),
                "order": self.order, "auc": self.auc().tolist()}


def road(
    forward_func: ForwardFunc,
    inputs: Tensor,
    attributions: Tensor,
    target: Any = None,
    additional_forward_args: Any = None,
    *,
    percentages: Sequence[float] = (10, 20, 30, 40, 50, 60, 70, 80, 90),
    order: str = "morf",
    noise: float = 0.01,
    seed: int = 0,
    internal_batch_size: int | None = None,
) -> RoadCurves:
    r"""ROAD: remove pixels in a map's order, impute them, and check the prediction.

    Protocol: sum the map over channels (``(N, C, H, W) -> (N, H*W)``); order pixels by
    relevance, descending (``"morf"``) or ascending (``"lerf"``); for each ``p`` remove
    ``int(H * W * p / 100)`` pixels (all channels) and fill them with Quantus' noisy linear
    imputation (noise ``noise``, numpy's global generator seeded with ``seed`` first);
    record 1 if the model's arg-max is the target. Costs ``len(percentages)`` forward
    passes and sparse solves per image; the solves run on the CPU with scipy.

    Args:
        forward_func: the model.
        inputs: ``(N, C, H, W)``.
        attributions: maps of the inputs' shape.
        target: class index, one for all or one per example.
        additional_forward_args: extra arguments for ``forward_func``.
        percentages: percent of pixels removed, each in ``(0, 100)``.
        order: ``"morf"`` (most relevant first, default) or ``"lerf"``.
        noise: standard deviation of the imputation noise. Default: 0.01 (Quantus').
        seed: seeds numpy's global generator, which Quantus' imputation draws from.
        internal_batch_size: at most this many inputs per forward pass.

    Returns:
        :class:`RoadCurves`.

    Raises:
        UserInputError: shapes, percentages out of range, unknown ``order``.

    Examples:
        >>> import torch
        >>> from torch import nn
        >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
        <torch._C.Generator object at ...>
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 10 * 10, 4))
        >>> x = torch.rand(2, 3, 10, 10)
        >>> curves = road(model, x, torch.rand_like(x), model(x).argmax(1),
        ...               percentages=[20, 50], order="lerf")
        >>> curves.curves.shape
        torch.Size([2, 2])
    """
    from quantus.functions.perturb_func import noisy_linear_imputation

    check_pair(inputs, attributions)
    if inputs.dim() != 4:
        raise UserInputError(
            f"`inputs` must be images (N, C, H, W) for ROAD, got shape {tuple(inputs.shape)}.")
    if order not in ("morf", "lerf"):
        raise UserInputError(f"`order` must be 'morf' or 'lerf', got {order!r}.")
    pcts = [real(p, "percentages") for p in percentages]
    if not pcts or any(p <= 0 or p >= 100 for p in pcts):
        raise UserInputError(f"`percentages` must be numbers in (0, 100), got {percentages!r}.")
    noise = real(noise, "noise")
    n, _channels, h, w = inputs.shape
    t = as_target(target, n, inputs.device)
    relevance = attributions.detach().sum(1).reshape(n, -1).cpu().numpy()
    ranked = np.argsort(-relevance if order == "morf" else relevance, axis=1, kind="stable")
    x_np = inputs.detach().cpu().numpy()
    np.random.seed(seed)  # noqa: NPY002 - Quantus' imputation draws from the global RNG
    columns = []
    for p in pcts:
        k = int(h * w * p / 100)
        perturbed: np.ndarray = np.stack([
            noisy_linear_imputation(arr=x_np[i], indices=ranked[i, :k],  # type: ignore[arg-type]
                                    noise=noise)
            for i in range(n)
        ])
        x_p = torch.as_tensor(perturbed, dtype=inputs.dtype, device=inputs.device)
        columns.append(score_of(forward_func, x_p, t, "accuracy", additional_forward_args,
                                internal_batch_size))
    return RoadCurves(torch.tensor(pcts, dtype=torch.float64), torch.stack(columns, 1), order)
