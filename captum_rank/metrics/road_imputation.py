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

from captum_rank.checks import UserInputError, UserTypeError, real
from captum_rank.metrics._protocols import ForwardFunc
from captum_rank.metrics._scoring import (
    as_target,
    check_forward,
    check_pair,
    check_seed,
    numpy_global_seed,
    score_of,
)

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
    imputation (noise ``noise``); record 1 if the model's arg-max is the target. Quantus
    draws the noise from numpy's global generator: it is seeded with ``seed`` for the
    call and the caller's state is restored after it, so the result depends on ``seed``
    alone (and equals ``quantus.ROAD`` after ``np.random.seed(seed)``) and the program's
    other random numbers are not changed. Costs ``len(percentages)`` forward
    passes and sparse solves per image; the solves run on the CPU with scipy.

    Args:
        forward_func: the model.
        inputs: ``(N, C, H, W)``.
        attributions: maps of the inputs' shape.
        target: class index, one for all or one per example.
        additional_forward_args: extra arguments for ``forward_func``.
        percentages: percent of pixels removed, each in ``(0, 100)``.
        order: ``"morf"`` (most relevant first, default) or ``"lerf"``.
        noise: standard deviation of the imputation noise, >= 0. Default: 0.01 (Quantus').
        seed: the seed of the imputation noise, an integer in ``[0, 2**32)``.
        internal_batch_size: at most this many inputs per forward pass.

    Returns:
        :class:`RoadCurves`.

    Raises:
        UserTypeError: a ``target`` that is not integral, ``percentages`` that is not a
            list of numbers.
        UserInputError: shapes, percentages out of range, unknown ``order``, a negative
            ``noise`` or ``seed``, a missing, negative or out-of-range ``target``.

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
    internal_batch_size = check_forward(forward_func, inputs, additional_forward_args,
                                        internal_batch_size)
    if inputs.dim() != 4:
        raise UserInputError(
            f"`inputs` must be images (N, C, H, W) for ROAD, got shape {tuple(inputs.shape)}.")
    if order not in ("morf", "lerf"):
        raise UserInputError(f"`order` must be 'morf' or 'lerf', got {order!r}.")
    if isinstance(percentages, str | bytes) or not isinstance(percentages,
                                                              Sequence | np.ndarray):
        raise UserTypeError(
            f"`percentages` must be a list of numbers in (0, 100), e.g. [20, 50, 80], got "
            f"{type(percentages).__name__}.")
    pcts = [real(p, f"percentages[{i}]", minimum=0, maximum=100, include_minimum=False,
                 include_maximum=False) for i, p in enumerate(percentages)]
    if not pcts:
        raise UserInputError("`percentages` is empty; give numbers in (0, 100), e.g. [20, 50].")
    # A negative standard deviation would pass to numpy as a sign flip of the noise.
    noise = real(noise, "noise", minimum=0)
    seed = check_seed(seed)
    n, _channels, h, w = inputs.shape
    t = as_target(target, n, inputs.device)
    relevance = attributions.detach().sum(1).reshape(n, -1).cpu().numpy()
    ranked = np.argsort(-relevance if order == "morf" else relevance, axis=1, kind="stable")
    x_np = inputs.detach().cpu().numpy()
    columns = []
    with numpy_global_seed(seed):
        imputed: list[np.ndarray] = [
            np.stack([
                noisy_linear_imputation(
                    arr=x_np[i], noise=noise,
                    indices=ranked[i, :int(h * w * p / 100)],  # type: ignore[arg-type]
                )
                for i in range(n)
            ])
            for p in pcts
        ]
    for perturbed in imputed:
        x_p = torch.as_tensor(perturbed, dtype=inputs.dtype, device=inputs.device)
        columns.append(score_of(forward_func, x_p, t, "accuracy", additional_forward_args,
                                internal_batch_size))
    return RoadCurves(torch.tensor(pcts, dtype=torch.float64), torch.stack(columns, 1), order)
