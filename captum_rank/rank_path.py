r"""The rank path as data: the images RIG walks through, and the model's outputs on them.

With the ``sequential`` schedule (and, on one matrix per example, ``arc_length``, which
walks the same curve at another speed) the path point of rank ``k`` is
``x_k = x' + low_rank(x - x', k)``: the baseline plus the rank-``k`` approximation of the
difference; ``x_0 = x'`` and ``x_r = x``. The model's outputs there give the exact rank
attributions ``F(x_k) - F(x_{k-1})`` (:meth:`~captum_rank.RankIntegratedGradients.exact_ranks`).
:func:`rank_path` computes those points with one SVD and runs the model on them;
:class:`RankPathResult` holds the numbers (JSON-able), and
:func:`captum_rank.visualization.plot_rank_path` draws a result without running anything.

Examples:
    >>> import torch
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16 * 16, 10))
    >>> path = rank_path(model, torch.rand(1, 16, 16), ranks=[0, 1, 4, 16], target=3)
    >>> path.images.shape, path.scores("prob").shape, path.target
    ((4, 1, 16, 16), (4,), 3)
"""

from __future__ import annotations

import json
import numbers
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from captum_rank._model_checks import (
    check_class_target,
    check_target_in_output,
    model_placement,
    warn_if_training,
)
from captum_rank.checks import (
    UserInputError,
    UserTypeError,
    integer,
    one_of,
    positive_int,
    real,
)
from captum_rank.svd import compute_dtype, rank_points, thin_svd

__all__ = ["SCORES", "RankPathResult", "default_path_ranks", "rank_path"]

_KIND = "rank-path"
#: What :meth:`RankPathResult.scores` can return.
SCORES: tuple[str, ...] = ("prob", "logit")
_LAYOUTS = (None, "CHW", "HWC", "HW")
# The curve is evaluated at every integer rank up to this r, else at this many points.
_DENSE_CURVE_MAX_R = 64


def default_path_ranks(r: int, max_images: int = 8) -> list[int]:
    r"""Ranks to show along a path of ``r`` components: 0, then roughly geometric to ``r``.

    The one default for every rank path the package shows (:func:`rank_path`, the
    figures, the audit's :func:`~captum_rank.audit.explain`). Low ranks change the image
    most, so they get most of the panels; geometric spacing still reaches into the high
    ranks, where most components of a large image lie (for ``r = 224``: 15, 37, 91),
    and it uses the whole panel budget. Powers of two (0, 1, 2, 4, ..., ``r``), the
    audit's former default, leave a gap from 32 to 224 and give 7 panels for ``r = 28``.

    Args:
        r (int): number of rank components, ``min(H, W)``.
        max_images (int, optional): at most this many ranks, at least 2. Default: 8.

    Returns:
        list of int: increasing ranks, starting at 0 and ending at ``r``.

    Raises:
        UserInputError: for ``r < 1`` or ``max_images < 2`` (or non-integers).

    Examples:
        >>> default_path_ranks(28), default_path_ranks(224)
        ([0, 1, 2, 3, 5, 9, 16, 28], [0, 1, 2, 6, 15, 37, 91, 224])
    """
    r = positive_int(r, "r")
    max_images = integer(max_images, "max_images", minimum=2)
    if r + 1 <= max_images:
        return list(range(r + 1))
    inner = np.geomspace(1, r, max_images - 1)
    ranks = sorted({0, *(round(float(v)) for v in inner)})
    # Rounding can merge small ranks; top up with evenly spread ones.
    for v in (int(v) for v in np.linspace(0, r, 4 * max_images)):
        if len(ranks) >= max_images:
            break
        if v not in ranks:
            ranks = sorted({*ranks, v})
    return ranks


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return np.asarray(e / e.sum(axis=-1, keepdims=True))


@dataclass(eq=False)
class RankPathResult:
    r"""Points along the rank path of one image and the model's outputs on them.

    Attributes:
        ranks (list of float): the ranks of the kept images (integers unless asked for
            fractional ones), in the order given.
        images (np.ndarray): ``(K, C, H, W)`` path points ``x' + low_rank(x - x', k)`` at
            ``ranks``; ``images[i]`` is the baseline for ``k = 0`` and the input for
            ``k = r``.
        outputs (np.ndarray): ``(K, classes)`` model outputs (logits) on ``images``.
        curve_ranks (list of float): a finer set of ranks for the score curve.
        curve_outputs (np.ndarray): ``(M, classes)`` model outputs at ``curve_ranks``.
        input_outputs (np.ndarray): ``(classes,)`` model outputs on the input itself.
        target (int): the class that :meth:`scores` reports.
        r (int): the number of rank components, ``min(H, W)``.
        meta (dict): free-form description (how ``target`` was chosen, the model
            calls made, ...).

    Examples:
        >>> import numpy as np
        >>> path = RankPathResult(
        ...     ranks=[0, 2], images=np.zeros((2, 1, 2, 2)),
        ...     outputs=np.array([[0.0, 0.0], [0.0, np.log(3.0)]]), curve_ranks=[0, 2],
        ...     curve_outputs=np.array([[0.0, 0.0], [0.0, np.log(3.0)]]),
        ...     input_outputs=np.array([0.0, np.log(3.0)]), target=1, r=2)
        >>> path.scores("prob").round(3).tolist(), path.predicted
        ([0.5, 0.75], 1)
        >>> RankPathResult.from_json(path.to_json()).scores("logit").round(3).tolist()
        [0.0, 1.099]
    """

    ranks: list[float]
    images: np.ndarray
    outputs: np.ndarray
    curve_ranks: list[float]
    curve_outputs: np.ndarray
    input_outputs: np.ndarray
    target: int
    r: int
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        r"""The width of the model's output."""
        return int(self.input_outputs.shape[-1])

    @property
    def predicted(self) -> int:
        r"""The model's predicted class on the input itself (argmax of its outputs)."""
        return int(np.argmax(self.input_outputs))

    def _select(self, outputs: np.ndarray, score: str) -> np.ndarray:
        one_of(score, "score", SCORES)
        values = _softmax(outputs) if score == "prob" else outputs
        return np.asarray(values[:, self.target], dtype=np.float64)

    def scores(self, score: str = "prob") -> np.ndarray:
        r"""The target's score at each kept image.

        Args:
            score (str, optional): ``"prob"`` (softmax probability) or ``"logit"``.
                Default: ``"prob"``.

        Returns:
            np.ndarray: ``(K,)`` float64.

        Raises:
            UserInputError: for an unknown ``score``.
        """
        return self._select(self.outputs, score)

    def curve_scores(self, score: str = "prob") -> np.ndarray:
        r"""The target's score at each of :attr:`curve_ranks`.

        Args:
            score (str, optional): ``"prob"`` or ``"logit"``. Default: ``"prob"``.

        Returns:
            np.ndarray: ``(M,)`` float64.

        Raises:
            UserInputError: for an unknown ``score``.
        """
        return self._select(self.curve_outputs, score)

    def to_dict(self) -> dict[str, Any]:
        r"""Plain JSON-able data, with the target's probabilities added for readers.

        Returns:
            dict: every attribute (arrays as nested lists), ``kind``, ``predicted``,
            ``probabilities`` and ``curve_probabilities``.
        """
        return {
            "kind": _KIND,
            "ranks": [float(k) for k in self.ranks],
            "images": self.images.tolist(),
            "outputs": self.outputs.tolist(),
            "curve_ranks": [float(k) for k in self.curve_ranks],
            "curve_outputs": self.curve_outputs.tolist(),
            "input_outputs": self.input_outputs.tolist(),
            "target": self.target,
            "r": self.r,
            "meta": dict(self.meta),
            "predicted": self.predicted,
            "probabilities": self.scores("prob").tolist(),
            "curve_probabilities": self.curve_scores("prob").tolist(),
        }

    def to_json(self) -> str:
        r"""The result as JSON text (see :meth:`to_dict`).

        Returns:
            str: the JSON.
        """
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, source: str | dict[str, Any]) -> RankPathResult:
        r"""Read a result written by :meth:`to_json` (JSON text or the parsed dict).

        Args:
            source (str or dict): the JSON.

        Returns:
            RankPathResult: the result.

        Raises:
            UserInputError: if the JSON is not a rank-path result.
        """
        data = json.loads(source) if isinstance(source, str) else source
        if not isinstance(data, dict) or data.get("kind") != _KIND:
            raise UserInputError(
                "`source` is not a rank-path result (its \"kind\" is not 'rank-path'); "
                "pass the text written by RankPathResult.to_json()."
            )
        return cls(
            ranks=[float(k) for k in data["ranks"]],
            images=np.asarray(data["images"], dtype=np.float32),
            outputs=np.asarray(data["outputs"], dtype=np.float64),
            curve_ranks=[float(k) for k in data["curve_ranks"]],
            curve_outputs=np.asarray(data["curve_outputs"], dtype=np.float64),
            input_outputs=np.asarray(data["input_outputs"], dtype=np.float64),
            target=int(data["target"]),
            r=int(data["r"]),
            meta=dict(data.get("meta", {})),
        )


def _as_chw(image: Any, name: str, layout: str | None) -> Tensor:
    r"""One image as a floating ``(C, H, W)`` tensor."""
    if isinstance(image, np.ndarray):
        tensor = torch.from_numpy(np.ascontiguousarray(image))
    elif isinstance(image, Tensor):
        tensor = image.detach()
    else:
        raise UserTypeError(
            f"`{name}` must be a torch.Tensor or numpy array holding one image, got "
            f"{type(image).__name__}."
        )
    if not tensor.is_floating_point():
        tensor = tensor.float()
    shape = tuple(tensor.shape)
    if tensor.dim() == 4 and shape[0] == 1:
        tensor = tensor[0]
    if layout is None:
        if tensor.dim() == 2:
            layout = "HW"
        elif tensor.dim() == 3:
            first, last = tensor.shape[0] in (1, 3, 4), tensor.shape[-1] in (1, 3, 4)
            # Tensors follow the model's layout (CHW) unless only the last end can be
            # a channel dimension; numpy images are HWC when that reading is the only one.
            layout = "HWC" if last and not first else "CHW"
    if layout == "HW" and tensor.dim() == 2:
        return tensor.unsqueeze(0)
    if layout in ("CHW", "HWC") and tensor.dim() == 3:
        return tensor if layout == "CHW" else tensor.permute(2, 0, 1)
    raise UserInputError(
        f"`{name}` has shape {shape}, which is not one image in layout "
        f"{layout or 'CHW/HWC/HW'}; give (C, H, W), (1, C, H, W), (H, W, C) or (H, W), "
        "and pass `layout=` when the layout is ambiguous."
    )


def _target(target: Any) -> int | None:
    # One image: the package's class-target rules for one example (no tuples, no negatives).
    values = check_class_target(target, 1, required=False, inputs="image")
    return None if values is None else values[0]


def _ranks(values: Any, name: str, r: int, whole: bool) -> list[float]:
    if isinstance(values, str | bytes) or not isinstance(values, Sequence | np.ndarray | range):
        raise UserTypeError(
            f"`{name}` must be a list of ranks in [0, {r}], got {type(values).__name__}."
        )
    if len(values) == 0:
        raise UserInputError(f"`{name}` is empty; give at least one rank in [0, {r}].")
    if whole:
        return [float(integer(v, f"{name}[{i}]", minimum=0, maximum=r))
                for i, v in enumerate(values)]
    return [real(v, f"{name}[{i}]", minimum=0, maximum=r) for i, v in enumerate(values)]


def rank_path(
    model: Callable[[Tensor], Tensor],
    image: Any,
    ranks: Sequence[int] | None = None,
    target: int | Tensor | None = None,
    baselines: Any = None,
    curve_ranks: Sequence[float] | None = None,
    layout: str | None = None,
    batch_size: int = 64,
) -> RankPathResult:
    r"""The images along RIG's rank path for one input, and the model's outputs on them.

    The path point of rank ``k`` is ``x' + low_rank(x - x', k)`` (the ``sequential``
    schedule at ``a = k / r``): ``k = 0`` is the baseline, ``k = r`` the input. One SVD of
    ``x - x'`` serves every rank (:func:`~captum_rank.svd.rank_points`, so fractional
    curve ranks work as in :func:`~captum_rank.low_rank`). The model runs under
    ``torch.no_grad()`` on its parameters' device and dtype, on the input itself, the kept
    ranks and the curve ranks (each distinct rank once), ``batch_size`` points per call.

    Args:
        model (callable): maps ``(N, C, H, W)`` to ``(N, classes)`` outputs (logits).
        image (Tensor or numpy.ndarray): one input: ``(C, H, W)``, ``(1, C, H, W)``,
            ``(H, W, C)`` or ``(H, W)``.
        ranks (list of int, optional): the ranks whose images are kept. Default:
            :func:`default_path_ranks` (8 ranks from 0 to ``r``).
        target (int, optional): the class to score. Default: the model's prediction on
            ``image``.
        baselines (Tensor, numpy.ndarray or float, optional): the path's start, the
            shape of ``image`` or a number. Default: 0.
        curve_ranks (list of float, optional): ranks for the score curve. Default: every
            integer from 0 to ``r`` when ``r <= 64``, else 65 evenly spaced ranks.
        layout (str, optional): ``"CHW"``, ``"HWC"`` or ``"HW"`` for ``image`` (and an
            array ``baselines``). Default: None (inferred: 2-D is ``HW``; 3-D is ``HWC``
            only when the last dimension alone has size 1, 3 or 4).
        batch_size (int, optional): path points per model call. Default: 64.

    Returns:
        RankPathResult: the kept images, the outputs, the curve and the target.

    Raises:
        UserInputError: bad shapes, ranks outside ``[0, r]``, a ``target`` out of range,
            model outputs that are not ``(N, classes)`` or are not finite.

    Examples:
        >>> import torch
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 4))
        >>> path = rank_path(model, torch.rand(3, 8, 8), ranks=[0, 8], curve_ranks=[0, 4, 8])
        >>> path.ranks, path.curve_ranks, path.meta["model_calls"]
        ([0.0, 8.0], [0.0, 4.0, 8.0], 1)
    """
    one_of(layout, "layout", _LAYOUTS)
    batch_size = positive_int(batch_size, "batch_size")
    wanted = _target(target)
    if not callable(model):
        raise UserTypeError(
            f"`model` must be callable (an nn.Module or a function), got {type(model).__name__}."
        )
    x = _as_chw(image, "image", layout)
    device, dtype = model_placement(model, x)  # float64 arrays meet float32 weights
    x = x.to(device=device, dtype=dtype)
    if baselines is None or isinstance(baselines, numbers.Real):
        base = torch.full_like(x, 0.0 if baselines is None else real(baselines, "baselines"))
    else:
        base = _as_chw(baselines, "baselines", layout).to(device=device, dtype=dtype)
        if base.shape != x.shape:
            raise UserInputError(
                f"`baselines` has shape {tuple(base.shape)} (as CHW) but `image` has "
                f"{tuple(x.shape)}; pass a baseline of the image's shape, or a number."
            )
    if not bool(torch.isfinite(x).all()) or not bool(torch.isfinite(base).all()):
        raise UserInputError("`image` or `baselines` holds NaN or inf; give finite values.")
    r = min(int(x.shape[-2]), int(x.shape[-1]))
    kept = _ranks(default_path_ranks(r) if ranks is None else ranks, "ranks", r, whole=True)
    if curve_ranks is None:
        curve = [float(k) for k in range(r + 1)] if r <= _DENSE_CURVE_MAX_R else [
            float(v) for v in np.linspace(0, r, _DENSE_CURVE_MAX_R + 1)]
    else:
        curve = _ranks(curve_ranks, "curve_ranks", r, whole=False)
    warn_if_training(model, name="model", doing="computing the rank path")

    distinct = sorted(set(kept) | set(curve))
    work = compute_dtype(dtype)
    with torch.no_grad():
        factors = thin_svd((x - base).to(work))

        def points(ks: list[float]) -> Tensor:
            return rank_points(x, ks, base, factors=factors)

        # Row 0 of the first call is the input itself; then every distinct rank once.
        def batches() -> Iterator[tuple[list[float], Tensor]]:
            todo: list[float | None] = [None, *distinct]
            for start in range(0, len(todo), batch_size):
                chunk = todo[start:start + batch_size]
                ks = [k for k in chunk if k is not None]
                parts = ([x.unsqueeze(0)] if chunk[0] is None else []) + (
                    [points(ks)] if ks else [])
                yield ks, torch.cat(parts)

        calls = 0
        images: dict[float, Tensor] = {}
        outputs: dict[float, np.ndarray] = {}
        own: np.ndarray | None = None
        for ks, xs in batches():
            out = model(xs)
            calls += 1
            if not isinstance(out, Tensor) or out.dim() != 2 or out.shape[0] != xs.shape[0]:
                got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
                raise UserInputError(
                    f"`model` must return a (N, classes) tensor for N = {xs.shape[0]} path "
                    f"points, got {got}; wrap it to return one row of scores per input."
                )
            rows = out.detach().to(torch.float64).cpu().numpy()
            if not np.isfinite(rows).all():
                labels = (["input"] if len(ks) < xs.shape[0] else []) + [f"k={k:g}" for k in ks]
                bad = [labels[i] for i in np.flatnonzero(~np.isfinite(rows).all(axis=1))]
                raise UserInputError(
                    f"`model` returned NaN or inf on the path points {bad}; check the model "
                    "on inputs like these (and the baseline)."
                )
            if len(ks) < xs.shape[0]:
                own, rows = rows[0], rows[1:]
            for j, k in enumerate(ks):
                outputs[k] = rows[j]
            for j, k in enumerate(ks):
                if k in kept:
                    images[k] = xs[xs.shape[0] - len(ks) + j].cpu()
    if own is None:  # pragma: no cover - the first batch always holds the input
        raise RuntimeError("rank_path: the input's own outputs are missing (a bug).")
    n_classes = int(own.shape[0])
    if wanted is not None:
        check_target_in_output(wanted, (1, n_classes), model="model")
    chosen = int(np.argmax(own)) if wanted is None else wanted
    image_dtype = np.float64 if dtype == torch.float64 else np.float32
    return RankPathResult(
        ranks=kept,
        images=np.stack([images[k].numpy().astype(image_dtype) for k in kept]),
        outputs=np.stack([outputs[k] for k in kept]),
        curve_ranks=curve,
        curve_outputs=np.stack([outputs[k] for k in curve]),
        input_outputs=own,
        target=chosen,
        r=r,
        meta={"target": "predicted" if wanted is None else "given", "model_calls": calls,
              "points": len(distinct) + 1},
    )
