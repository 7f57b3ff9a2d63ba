r"""Insertion and deletion curves, and Spectral IG's DiffID.

Both metrics rank the input's features (every element of the flattened ``C*H*W`` tensor)
by their attribution and replace them, in that order, by a *fill*:

* **deletion**: start from the input and replace the most important features first; a
  faithful map makes the target's score fall fast (a low area is good);
* **insertion**: start from the fill and put the most important features back first; a
  faithful map makes the score rise fast (a high area is good).

Fills: ``"black"`` (zeros), a number (that constant), ``"blur"`` (a Gaussian blur of the
input, kernel 11, sigma 5, as in Spectral IG's code) and ``"mean"`` (the mean of the
features that are *not* replaced, over the whole flattened ``C*H*W`` tensor of that
image: Spectral IG's default; when every feature is replaced, the image's mean).

:func:`insertion_deletion` returns curves on an equal grid of fractions and their areas
(trapezoid rule on ``[0, 1]``). :func:`diffid` is the protocol of Spectral IG (Kim et
al., KDD 2026; reimplemented from the description in its repository, ``leekwoon/sig``,
``cleanig/metric/diffid.py`` and ``scripts/diffid.py``): see its docstring.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from captum_rank.checks import (
    UserInputError,
    UserTypeError,
    boolean,
    fraction,
    positive_int,
    real,
)
from captum_rank.metrics._protocols import ForwardFunc
from captum_rank.metrics._scoring import (
    as_target,
    batched_outputs,
    check_forward,
    check_pair,
    check_score,
    reference_probabilities,
    score_of,
    target_scores,
)

__all__ = [
    "PerturbationCurves",
    "diffid",
    "diffid_scores",
    "feature_order",
    "insertion_deletion",
]

FILLS = ("black", "blur", "mean")
SIG_RATIOS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


@dataclass
class PerturbationCurves:
    r"""Insertion and deletion curves of a batch, and their areas.

    Attributes:
        fractions: ``(S,)`` fraction of the features inserted (insertion) or removed
            (deletion) at each point.
        insertion: ``(N, S)`` the score after inserting ``fractions`` of the features.
        deletion: ``(N, S)`` the score after removing ``fractions`` of the features.
        score: what was recorded (``probability``, ``output``, ``accuracy``, ``retention``).
        fill: the fill's name.
        area: ``"trapezoid"`` (the area under the curve on ``[0, 1]``) or ``"mean"`` (the
            mean of the points, as DiffID averages its nine ratios).
    """

    fractions: Tensor
    insertion: Tensor
    deletion: Tensor
    score: str
    fill: str
    area: str = "trapezoid"

    def _area(self, curve: Tensor) -> Tensor:
        if self.area == "mean":
            return curve.double().mean(1)
        return torch.trapezoid(curve.double(), self.fractions.double().to(curve.device), dim=1)

    def insertion_auc(self) -> Tensor:
        r"""``(N,)`` area under each insertion curve (higher is more faithful)."""
        return self._area(self.insertion)

    def deletion_auc(self) -> Tensor:
        r"""``(N,)`` area under each deletion curve (lower is more faithful)."""
        return self._area(self.deletion)

    def difference(self) -> Tensor:
        r"""``(N,)`` insertion area minus deletion area; for :func:`diffid`, DiffID."""
        return self.insertion_auc() - self.deletion_auc()

    def to_dict(self) -> dict[str, Any]:
        r"""A JSON-ready dict of the curves and per-image areas."""
        return {
            "fractions": self.fractions.tolist(),
            "insertion": self.insertion.tolist(),
            "deletion": self.deletion.tolist(),
            "score": self.score,
            "fill": self.fill,
            "area": self.area,
            "insertion_auc": self.insertion_auc().tolist(),
            "deletion_auc": self.deletion_auc().tolist(),
        }


def feature_order(
    attributions: Tensor, *, abs: bool = False, generator: torch.Generator | None = None
) -> Tensor:
    r"""Indices of the flattened features of each example, most important first.

    Args:
        attributions: ``(N, ...)`` attribution maps.
        abs: rank by ``|attribution|`` instead of the signed value. Default: False.
        generator: if given, ties are broken at random with it (an uninformative map
            then gets no order for free); otherwise ties keep index order.

    Returns:
        ``(N, P)`` long tensor, ``P`` the number of features per example.

    Examples:
        >>> import torch
        >>> feature_order(torch.tensor([[[0.1, -0.9], [0.5, 0.0]]]))
        tensor([[2, 0, 3, 1]])
        >>> feature_order(torch.tensor([[[0.1, -0.9], [0.5, 0.0]]]), abs=True)
        tensor([[1, 2, 0, 3]])
    """
    if not isinstance(attributions, Tensor) or attributions.dim() < 1:
        raise UserTypeError(
            f"`attributions` must be a torch.Tensor (N, ...), got {type(attributions).__name__}.")
    _check_generator(generator)
    flat = attributions.reshape(attributions.shape[0], -1)
    if boolean(abs, "abs"):
        flat = flat.abs()
    if generator is None:
        return torch.argsort(flat, dim=1, descending=True, stable=True)
    perm = torch.stack([
        torch.randperm(flat.shape[1], generator=generator).to(flat.device)
        for _ in range(flat.shape[0])
    ])
    inner = torch.argsort(flat.gather(1, perm), dim=1, descending=True, stable=True)
    return perm.gather(1, inner)


def _gaussian_blur(x: Tensor, kernel_size: int = 11, sigma: float = 5.0) -> Tensor:
    """Spectral IG's blur (:func:`~captum_rank.baselines.blurred_baseline`), the kernel
    narrowed to ``2 * min(H, W) - 1`` for images smaller than it."""
    from captum_rank.baselines import blurred_baseline

    fits = min(kernel_size, 2 * min(x.shape[-2], x.shape[-1]) - 1)
    return blurred_baseline(x, sigma=sigma, kernel_size=fits)


def _check_generator(generator: Any) -> None:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise UserTypeError(
            f"`generator` must be a torch.Generator (e.g. torch.Generator().manual_seed(0)) "
            f"or None, got {type(generator).__name__}."
        )


def _check_fill(fill: Any) -> str | float:
    if isinstance(fill, str):
        if fill not in FILLS:
            raise UserInputError(f"`fill` must be one of {FILLS} or a number, got {fill!r}.")
        return fill
    # numbers.Real takes numpy scalars (np.float32, np.int64); real() refuses bool and NaN.
    if isinstance(fill, numbers.Real) and not isinstance(fill, bool):
        return real(fill, "fill")
    raise UserTypeError(
        f"`fill` must be one of {FILLS} or a number, got {type(fill).__name__}.")


def _check_ratios(ratios: Any) -> list[float]:
    if isinstance(ratios, str | bytes) or not isinstance(ratios, Sequence | np.ndarray):
        raise UserTypeError(
            f"`ratios` must be a list of numbers in (0, 1), e.g. [0.1, 0.5, 0.9], got "
            f"{type(ratios).__name__}.")
    values = [fraction(r, f"ratios[{i}]") for i, r in enumerate(ratios)]
    if not values or any(r >= 1.0 for r in values):
        raise UserInputError(
            f"`ratios` must be a non-empty list of numbers in (0, 1), got {list(ratios)!r}.")
    return values


def _filled(flat_x: Tensor, replace: Tensor, fill: str | float, blurred: Tensor | None) -> Tensor:
    """``flat_x`` (N, P) with the entries where ``replace`` (N, P bool) holds filled in."""
    if fill == "mean":
        keep = (~replace).to(flat_x.dtype)
        count = keep.sum(1, keepdim=True)
        mean_kept = (flat_x * keep).sum(1, keepdim=True) / count.clamp_min(1)
        value = torch.where(count > 0, mean_kept, flat_x.mean(1, keepdim=True))
        return torch.where(replace, value, flat_x)
    if fill == "blur":
        if blurred is None:  # pragma: no cover - internal misuse
            raise RuntimeError("blur fill needs the blurred input")
        return torch.where(replace, blurred, flat_x)
    if fill == "black":
        return torch.where(replace, torch.zeros((), dtype=flat_x.dtype, device=flat_x.device),
                           flat_x)
    return torch.where(replace, torch.full((), float(fill), dtype=flat_x.dtype,
                                           device=flat_x.device), flat_x)


def insertion_deletion(
    forward_func: ForwardFunc,
    inputs: Tensor,
    attributions: Tensor,
    target: Any = None,
    additional_forward_args: Any = None,
    *,
    fill: str | float = "black",
    steps: int = 16,
    score: str = "probability",
    abs: bool = False,
    generator: torch.Generator | None = None,
    internal_batch_size: int | None = None,
) -> PerturbationCurves:
    r"""Insertion and deletion curves of a batch of attribution maps.

    Protocol: rank the ``C*H*W`` features of each input by attribution (signed, or
    ``|attribution|`` with ``abs=True``); at fractions ``0, 1/steps, ..., 1`` of the
    features, *delete* (replace the most important by ``fill``) and *insert* (replace all
    but the most important by ``fill``), and record ``score`` of the target. The areas
    use the trapezoid rule on ``[0, 1]``. Costs ``2 * (steps + 1)`` forward passes per
    input, no gradients; runs on the inputs' device.

    Args:
        forward_func: the model, ``(N, ...) -> (N, classes)``.
        inputs: ``(N, ...)`` inputs.
        attributions: maps of the inputs' shape.
        target: class index, one for all or one per example.
        additional_forward_args: extra arguments for ``forward_func``.
        fill: ``"black"`` (default), ``"blur"``, ``"mean"`` or a number (numpy scalars too).
        steps: number of equal chunks of features. Default: 16.
        score: ``"probability"`` (softmax of the target; default), ``"output"``,
            ``"accuracy"`` or ``"retention"``.
        abs: order by ``|attribution|``. Default: False (signed).
        generator: breaks ties at random when given (see :func:`feature_order`).
        internal_batch_size: at most this many inputs per forward pass.

    Returns:
        :class:`PerturbationCurves` with ``area="trapezoid"``.

    Raises:
        UserTypeError: a ``target`` that is not integral (``2.7``), a ``fill`` that is
            neither a name nor a number, a ``generator`` that is not a torch.Generator.
        UserInputError: mismatched shapes, NaN attributions, unknown ``fill`` or
            ``score``, ``steps < 1``, a missing, negative or out-of-range ``target``.

    Examples:
        A linear model scores ``w . x``; the map ``w * x`` is its exact attribution, so
        deleting by it removes the largest terms first:

        >>> import torch
        >>> from torch import nn
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(4, 1, bias=False))
        >>> with torch.no_grad():
        ...     _ = model[1].weight.copy_(torch.tensor([[4.0, 3.0, 2.0, 1.0]]))
        >>> x = torch.ones(1, 1, 2, 2)
        >>> curves = insertion_deletion(model, x, model[1].weight.reshape(1, 1, 2, 2) * x,
        ...                             target=0, steps=4, score="output")
        >>> curves.deletion
        tensor([[10.,  6.,  3.,  1.,  0.]])
        >>> curves.insertion
        tensor([[ 0.,  4.,  7.,  9., 10.]])
        >>> float(curves.deletion_auc()[0])
        3.75
    """
    check_pair(inputs, attributions)
    internal_batch_size = check_forward(forward_func, inputs, additional_forward_args,
                                        internal_batch_size)
    score = check_score(score)
    fill_value = _check_fill(fill)
    steps = positive_int(steps, "steps")
    features = int(inputs[0].numel())
    # More steps than features only repeat points (and 10**7 never ends); the default 16
    # stays allowed on tiny inputs, where the repeats cost a few passes.
    if steps > max(features, 16):
        raise UserInputError(
            f"`steps` is {steps}, more than the {features} features of an input; give "
            f"steps <= {features} (each step then moves at least one feature).")
    _check_generator(generator)
    n = inputs.shape[0]
    t = as_target(target, n, inputs.device)
    order = feature_order(attributions.to(inputs.device), abs=abs, generator=generator)
    flat_x = inputs.detach().reshape(n, -1)
    p = flat_x.shape[1]
    ranks = torch.empty_like(order)
    ranks.scatter_(1, order, torch.arange(p, device=order.device).expand(n, -1))
    blurred = _gaussian_blur(inputs.detach()).reshape(n, -1) if fill_value == "blur" else None
    ref = reference_probabilities(forward_func, inputs.detach(), t, score,
                                  additional_forward_args, internal_batch_size)
    counts = [round(p * s / steps) for s in range(steps + 1)]
    ins: list[Tensor] = []
    dele: list[Tensor] = []
    for k in counts:
        top = ranks < k
        for replace, store in ((~top, ins), (top, dele)):
            x = _filled(flat_x, replace, fill_value, blurred).reshape(inputs.shape)
            store.append(score_of(forward_func, x, t, score, additional_forward_args,
                                  internal_batch_size, ref))
    fractions = torch.tensor([k / p for k in counts], dtype=torch.float64)
    name = fill_value if isinstance(fill_value, str) else f"constant {fill_value:g}"
    return PerturbationCurves(fractions, torch.stack(ins, 1), torch.stack(dele, 1), score, name)


def diffid(
    forward_func: ForwardFunc,
    inputs: Tensor,
    attributions: Tensor,
    target: Any = None,
    additional_forward_args: Any = None,
    *,
    ratios: Sequence[float] = SIG_RATIOS,
    fill: str | float = "mean",
    score: str = "accuracy",
    internal_batch_size: int | None = None,
) -> PerturbationCurves:
    r"""DiffID, the insertion/deletion protocol of Spectral Integrated Gradients.

    Protocol (Spectral IG's repository, ``leekwoon/sig``): rank the features of each
    input by ``|attribution|`` over the flattened ``C*H*W`` tensor (channels are *not*
    summed). For each ratio ``r`` in ``0.1, 0.2, ..., 0.9`` let ``k = int(C*H*W * r)``:

    * *deletion*: replace the ``k`` most important features by the fill;
    * *insertion*: replace the ``k`` *least* important features by the fill, i.e. keep
      the ``1 - r`` most important;

    the fill being the mean of the features that are not replaced (over ``C*H*W``, per
    image), in the model's input space. Record ``score`` of the target (Spectral IG uses
    the *true label* as the target and explains its softmax *probability*). DiffID is the
    mean over the ratios of insertion minus deletion; the insertion and deletion "AUCs"
    are the means of their nine points. The number Spectral IG reports (its
    ``metrics.json``) is the *binary* one, ``score="accuracy"`` (the arg-max is the
    target): the default here. Its per-batch "soft" variant is ``score="retention"``
    (target probability over the unperturbed one, clamped to ``[0, 1]``);
    ``score="probability"`` records the target probability itself.

    The returned curves are indexed by the fraction of features *kept* for insertion
    (``1 - r``) and *removed* for deletion (``r``), ascending, so both read like
    :func:`insertion_deletion`'s; with the symmetric ratios above both axes are
    ``0.1, ..., 0.9``. Costs ``2 * len(ratios)`` forward passes per input (one more
    for ``"retention"``). Ties keep index order (a stable sort).

    Args:
        forward_func: the model, ``(N, ...) -> (N, classes)`` (logits).
        inputs: ``(N, C, H, W)`` (any shape ``(N, ...)`` works) in the model's input space.
        attributions: maps of the inputs' shape (ranked by absolute value).
        target: class index per example (Spectral IG: the true label).
        additional_forward_args: extra arguments for ``forward_func``.
        ratios: removal ratios in ``(0, 1)``. Default: ``0.1, ..., 0.9``.
        fill: ``"mean"`` (default, Spectral IG's), ``"black"``, ``"blur"`` or a number.
        score: ``"accuracy"`` (default, the reported DiffID), ``"retention"``,
            ``"probability"`` or ``"output"``.
        internal_batch_size: at most this many inputs per forward pass.

    Returns:
        :class:`PerturbationCurves` with ``area="mean"``; ``difference()`` is the
        per-image DiffID, and its mean over images the data set's DiffID.

    Raises:
        UserInputError: as :func:`insertion_deletion`; ratios outside ``(0, 1)``.

    Examples:
        >>> import torch
        >>> from torch import nn
        >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
        <torch._C.Generator object at ...>
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 5))
        >>> x = torch.rand(4, 3, 8, 8)
        >>> target = model(x).argmax(1)
        >>> gradient_x_input = model[1].weight[target].reshape(4, 3, 8, 8) * x
        >>> result = diffid(model, x, gradient_x_input, target)
        >>> result.insertion.shape, result.fractions.tolist()[:3]
        (torch.Size([4, 9]), [0.1, 0.2, 0.3])
        >>> d = result.difference()  # per image; binary scores put it in [-1, 1]
        >>> d.shape, bool(d.abs().max() <= 1)
        (torch.Size([4]), True)
    """
    return diffid_scores(forward_func, inputs, attributions, target, additional_forward_args,
                         ratios=ratios, fill=fill, scores=(score,),
                         internal_batch_size=internal_batch_size)[score]


def diffid_scores(
    forward_func: ForwardFunc,
    inputs: Tensor,
    attributions: Tensor,
    target: Any = None,
    additional_forward_args: Any = None,
    *,
    ratios: Sequence[float] = SIG_RATIOS,
    fill: str | float = "mean",
    scores: Sequence[str] = ("accuracy", "probability"),
    internal_batch_size: int | None = None,
) -> dict[str, PerturbationCurves]:
    r""":func:`diffid` for several scores from the same forward passes.

    Args:
        forward_func: as :func:`diffid`.
        inputs: as :func:`diffid`.
        attributions: as :func:`diffid`.
        target: as :func:`diffid`.
        additional_forward_args: as :func:`diffid`.
        ratios: as :func:`diffid`.
        fill: as :func:`diffid`.
        scores: the scores to record (each one of :func:`diffid`'s).
        internal_batch_size: as :func:`diffid`.

    Returns:
        ``{score: PerturbationCurves}``.

    Raises:
        UserInputError: as :func:`diffid`.

    Examples:
        >>> import torch
        >>> from torch import nn
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
        >>> x = torch.rand(2, 3, 2, 2)
        >>> out = diffid_scores(model, x, torch.rand_like(x), 0)
        >>> sorted(out), out["probability"].deletion.shape
        (['accuracy', 'probability'], torch.Size([2, 9]))
    """
    check_pair(inputs, attributions)
    internal_batch_size = check_forward(forward_func, inputs, additional_forward_args,
                                        internal_batch_size)
    if isinstance(scores, str) or not isinstance(scores, Sequence):
        raise UserTypeError(
            f"`scores` must be a list of score names, e.g. ['accuracy'], got {scores!r}.")
    score_list = [check_score(score) for score in scores]
    if not score_list:
        raise UserInputError("`scores` must name at least one score.")
    fill_value = _check_fill(fill)
    ratio_list = _check_ratios(ratios)
    n = inputs.shape[0]
    t = as_target(target, n, inputs.device)
    flat_x = inputs.detach().reshape(n, -1)
    p = flat_x.shape[1]
    flat_a = attributions.detach().to(inputs.device).reshape(n, -1).abs()
    most_first = torch.argsort(flat_a, dim=1, descending=True, stable=True)
    least_first = torch.argsort(flat_a, dim=1, descending=False, stable=True)
    blurred = _gaussian_blur(inputs.detach()).reshape(n, -1) if fill_value == "blur" else None
    ref = None
    if "retention" in score_list:
        ref = reference_probabilities(forward_func, inputs.detach(), t, "retention",
                                      additional_forward_args, internal_batch_size)
    ins: list[Tensor] = []
    dele: list[Tensor] = []
    for r in ratio_list:
        k = int(p * r)
        for order, store in ((least_first, ins), (most_first, dele)):
            replace = torch.zeros_like(flat_x, dtype=torch.bool)
            replace.scatter_(1, order[:, :k], True)
            x = _filled(flat_x, replace, fill_value, blurred).reshape(inputs.shape)
            store.append(batched_outputs(forward_func, x, additional_forward_args,
                                         internal_batch_size))
    removed = torch.tensor(ratio_list, dtype=torch.float64)
    kept = 1.0 - removed
    ins_idx, del_idx = torch.argsort(kept), torch.argsort(removed)
    if not torch.allclose(kept[ins_idx], removed[del_idx]):
        # An asymmetric set of ratios: index both curves by the removed ratio.
        ins_idx = del_idx
    name = fill_value if isinstance(fill_value, str) else f"constant {fill_value:g}"
    result = {}
    for score in score_list:
        ins_curve = torch.stack([target_scores(o, t, score, ref) for o in ins], 1)
        del_curve = torch.stack([target_scores(o, t, score, ref) for o in dele], 1)
        result[score] = PerturbationCurves(
            removed[del_idx], ins_curve[:, ins_idx.to(ins_curve.device)],
            del_curve[:, del_idx.to(del_curve.device)], score, name, area="mean",
        )
    return result
