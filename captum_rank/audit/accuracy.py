r"""Accuracy against rank: low-rank approximations and high-rank residuals.

For every image ``x`` (each channel's ``H x W`` matrix) with thin SVD
``x = U diag(s) V^T`` and every rank ``k`` of the list, the audit classifies

* the **low-rank approximation** ``x_k = U[:, :k] diag(s[:k]) V[:, :k]^T`` (Eckart-Young
  optimal), and
* the **high-rank residual** ``x - x_k`` (what a rank-``k`` view of the image misses),

with every model, and counts correct predictions against the true labels. The SVD is
computed once per image and reused for every rank (the factors are sliced), so its cost
is paid once however many ranks and models there are; the result records it next to the
models' own forward passes.

Two end points are exact by construction rather than up to rounding: ``x_r = x`` (so
the rank-``r`` accuracy *is* the clean accuracy) and ``x - x_0 = x``.

Unlabelled images (label ``-1``, e.g. a flat folder of photos) are judged against each
model's own prediction on the image itself: their "accuracy" is agreement with the
model's answer on ``x``. The result is data only; figures are drawn by
:func:`captum_rank.audit.report.write_report`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from captum_rank._model_checks import InputGuard
from captum_rank.audit import _jsonio
from captum_rank.audit._models import (
    as_model_dict,
    check_models_on_data,
    model_device,
    targets_for,
)
from captum_rank.audit._runner import run_stream
from captum_rank.audit.checkpoint import digest_model
from captum_rank.audit.distributed import current_shard
from captum_rank.audit.ranks import check_ranks
from captum_rank.audit.sources import as_source
from captum_rank.checks import optional_positive_int, positive_int, real
from captum_rank.svd import compute_dtype, rank_points, thin_svd

__all__ = ["RankAccuracyResult", "rank_accuracy"]

_KIND = "rank-accuracy"


@dataclass
class RankAccuracyResult(_jsonio.JsonExport):
    r"""Accuracy of one or several models on low-rank approximations and residuals.

    Attributes:
        models: model names, in order.
        ranks: the ranks ``k``.
        r: ``min(H, W)`` of the images.
        n_images: number of images classified.
        n_unlabelled: how many of them had no label (judged against the model's own
            prediction on the image).
        clean_correct: ``{model: correct predictions on the images themselves}``.
        low_rank_correct: ``{model: [correct on x_k for k in ranks]}``.
        high_rank_correct: ``{model: [correct on x - x_k for k in ranks]}``.
        timings: seconds: ``svd`` (decompositions), ``reconstruct`` (building ``x_k``
            and residuals), ``clean_forward`` and ``rank_forward`` (``{model: s}``, the
            forward passes on the images and on all approximations and residuals),
            ``total``. Summed over processes when distributed.
        meta: free-form description (data, command, ...).

    Examples:
        >>> result = RankAccuracyResult(
        ...     models=["m"], ranks=[0, 2], r=2, n_images=4, clean_correct={"m": 3},
        ...     low_rank_correct={"m": [1, 3]}, high_rank_correct={"m": [3, 0]})
        >>> result.low_rank_accuracy()["m"]
        [0.25, 0.75]
        >>> RankAccuracyResult.from_json(result.to_json()) == result
        True
    """

    models: list[str]
    ranks: list[int]
    r: int
    n_images: int
    clean_correct: dict[str, int]
    low_rank_correct: dict[str, list[int]]
    high_rank_correct: dict[str, list[int]]
    timings: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    n_unlabelled: int = 0

    def _fraction(self, count: int) -> float:
        return count / self.n_images if self.n_images else float("nan")

    def clean_accuracy(self) -> dict[str, float]:
        r"""``{model: accuracy on the unmodified images}``."""
        return {m: self._fraction(c) for m, c in self.clean_correct.items()}

    def low_rank_accuracy(self) -> dict[str, list[float]]:
        r"""``{model: [accuracy on x_k for k in ranks]}``."""
        return {m: [self._fraction(c) for c in v] for m, v in self.low_rank_correct.items()}

    def high_rank_accuracy(self) -> dict[str, list[float]]:
        r"""``{model: [accuracy on x - x_k for k in ranks]}``."""
        return {m: [self._fraction(c) for c in v] for m, v in self.high_rank_correct.items()}

    def accuracy_at(self, model: str, rank: int, kind: str = "low_rank") -> float:
        r"""Accuracy of ``model`` at ``rank`` for ``kind`` ``"low_rank"`` or ``"high_rank"``.

        Raises:
            KeyError: unknown model or a rank that was not audited.
            ValueError: unknown ``kind``.
        """
        if kind not in ("low_rank", "high_rank"):
            raise ValueError(f"`kind` must be 'low_rank' or 'high_rank', got {kind!r}.")
        if rank not in self.ranks:
            raise KeyError(f"rank {rank} was not audited; audited ranks: {self.ranks}.")
        counts = self.low_rank_correct if kind == "low_rank" else self.high_rank_correct
        return self._fraction(counts[model][self.ranks.index(rank)])

    def svd_cost(self) -> dict[str, float]:
        r"""The SVD's cost against the models' forward passes on the clean images.

        Returns:
            ``svd_s``, ``reconstruct_s``, ``clean_forward_s`` (summed over models) and
            ``svd_per_forward``: SVD seconds per second of clean forward passes (the
            SVD is done once per image; a model's forward pass once per image per rank
            and kind, so the SVD is a small part of an audit whenever this ratio is
            below ``2 * len(ranks)``).
        """
        svd = float(self.timings.get("svd", 0.0))
        forward = float(sum(self.timings.get("clean_forward", {}).values()))
        return {
            "svd_s": svd,
            "reconstruct_s": float(self.timings.get("reconstruct", 0.0)),
            "clean_forward_s": forward,
            "svd_per_forward": svd / forward if forward > 0 else float("nan"),
        }

    def to_dict(self) -> dict[str, Any]:
        r"""The result as plain JSON-able data (with the accuracies added for readers)."""
        out = asdict(self)
        out["kind"] = _KIND
        out["clean_accuracy"] = self.clean_accuracy()
        out["low_rank_accuracy"] = self.low_rank_accuracy()
        out["high_rank_accuracy"] = self.high_rank_accuracy()
        return out

    @classmethod
    def from_json(cls, source: str | os.PathLike[str] | dict[str, Any]) -> RankAccuracyResult:
        r"""Read a result written by :meth:`to_json` (JSON text, a file path, or a dict).

        Raises:
            ValueError: the JSON is not a rank-accuracy result.
        """
        data = _jsonio.load_kind(source, _KIND, "rank-accuracy result")
        return cls(
            models=list(data["models"]),
            ranks=[int(k) for k in data["ranks"]],
            r=int(data["r"]),
            n_images=int(data["n_images"]),
            clean_correct={k: int(v) for k, v in data["clean_correct"].items()},
            low_rank_correct={k: [int(c) for c in v] for k, v in data["low_rank_correct"].items()},
            high_rank_correct={
                k: [int(c) for c in v] for k, v in data["high_rank_correct"].items()
            },
            timings=dict(data.get("timings", {})),
            meta=dict(data.get("meta", {})),
            n_unlabelled=int(data.get("n_unlabelled", 0)),
        )


def _predict(model: Callable[..., Tensor], x: Tensor) -> Tensor:
    return model(x).argmax(dim=1)


def rank_accuracy(
    models: Callable[..., Tensor] | Mapping[str, Callable[..., Tensor]],
    data: tuple[Tensor, Tensor] | Dataset[Any] | Sequence[Any],
    ranks: Sequence[int] | None = None,
    *,
    batch_size: int = 250,
    limit: int | None = None,
    device: str | torch.device | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    checkpoint_interval: float = 0.0,
    progress: bool = True,
    distributed: bool | None = None,
    meta: Mapping[str, Any] | None = None,
    num_classes: int | None = None,
) -> RankAccuracyResult:
    r"""Accuracy against rank for low-rank approximations and high-rank residuals.

    Streams the data in batches and keeps only integer counts, so memory is bounded by
    one batch whatever the data set's size. One SVD per image serves every rank and every
    model. Models are called under ``torch.no_grad()``; put them in ``eval()`` mode.

    Args:
        models: one model or ``{name: model}``; each maps ``(N, C, H, W)`` images to
            ``(N, classes)`` scores.
        data: ``(images, labels)`` tensors or a map-style data set of
            ``(image, label)`` pairs (see :class:`~captum_rank.audit.sources.DataSource`);
            label ``-1`` marks an unlabelled image.
        ranks: ranks ``k`` in ``[0, min(H, W)]``. Default: every rank.
        batch_size: images per batch. Default: 250.
        limit: audit only the first ``limit`` images.
        device: where the images go. Default: the first model's device.
        checkpoint: a file for the running counts. An interrupted audit (killed process,
            Ctrl-C) rerun with the same arguments resumes from it and gives the same
            result; a checkpoint of different arguments is ignored with a warning. A
            finished audit's checkpoint is kept: rerunning returns at once.
        checkpoint_interval: seconds between checkpoint writes; 0 writes after every
            batch. Default: 0.
        progress: show a progress bar (tqdm) on standard error. Default: True.
        distributed: shard over a ``torch.distributed`` process group (``None``: when one
            is initialised); see :mod:`captum_rank.audit.distributed`.
        meta: stored in the result as it is.
        num_classes: the data's number of classes, when known: every model must return
            that many scores (checked once, up front).

    Returns:
        The :class:`RankAccuracyResult`.

    Raises:
        AuditInputError: bad models, data, ranks, ``batch_size`` or ``limit``; a model
            that cannot take the data's images, whose output is not ``(N, classes)``, or
            whose width is not ``num_classes`` (all checked before any work).

    Examples:
        >>> import torch
        >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
        <torch._C.Generator object at ...>
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 3))
        >>> images, labels = torch.rand(10, 1, 8, 8), torch.randint(0, 3, (10,))
        >>> result = rank_accuracy(model, (images, labels), ranks=[0, 1, 8], progress=False)
        >>> result.low_rank_accuracy()["model"][-1] == result.clean_accuracy()["model"]
        True
        >>> result.high_rank_accuracy()["model"][0] == result.clean_accuracy()["model"]
        True
    """
    guard = InputGuard(data, "data")
    named = as_model_dict(models)
    batch_size = positive_int(batch_size, "batch_size")
    checkpoint_interval = real(checkpoint_interval, "checkpoint_interval", minimum=0.0)
    if num_classes is not None:
        num_classes = positive_int(num_classes, "num_classes")
    source = as_source(data, batch_size, optional_positive_int(limit, "limit"))
    r = source.rank
    rank_list = check_ranks(ranks, r)
    names = list(named)
    dev = model_device(next(iter(named.values())), device)
    probe = source.items(0, min(2, source.n_items))[0].to(dev)
    check_models_on_data(named, probe, num_classes)
    shard = current_shard(distributed)
    n_models, n_ranks = len(names), len(rank_list)

    def step(images: Tensor, labels: Tensor) -> dict[str, np.ndarray]:
        x = images.to(dev)
        labels = labels.to(dev)
        clean = np.zeros(n_models, dtype=np.int64)
        low = np.zeros((n_models, n_ranks), dtype=np.int64)
        high = np.zeros((n_models, n_ranks), dtype=np.int64)
        clean_s = np.zeros(n_models)
        rank_s = np.zeros(n_models)
        with torch.no_grad():
            start = time.perf_counter()
            factors = thin_svd(x.to(compute_dtype(x.dtype)))
            svd_s = time.perf_counter() - start
            targets = []
            for j, name in enumerate(names):
                start = time.perf_counter()
                scores = named[name](x)
                y = targets_for(named[name], x, labels, scores)
                targets.append(y)
                clean[j] = int((scores.argmax(dim=1) == y).sum())
                clean_s[j] += time.perf_counter() - start
            rebuild_s = 0.0
            for i, k in enumerate(rank_list):
                start = time.perf_counter()
                # x_r is x itself (no rounding), so x_r's predictions are the clean ones.
                approx = rank_points(x, [k], factors=factors)[0]
                residual = x - approx
                rebuild_s += time.perf_counter() - start
                for j, name in enumerate(names):
                    start = time.perf_counter()
                    y = targets[j]
                    # x_r = x and x - x_0 = x exactly: reuse the clean predictions.
                    low[j, i] = clean[j] if k == r else int(
                        (_predict(named[name], approx) == y).sum())
                    high[j, i] = clean[j] if k == 0 else int(
                        (_predict(named[name], residual) == y).sum())
                    rank_s[j] += time.perf_counter() - start
        return {
            "n": np.array([x.shape[0]], dtype=np.int64),
            "unlabelled": np.array([int((labels < 0).sum())], dtype=np.int64),
            "clean": clean, "low": low, "high": high,
            "svd_s": np.array([svd_s]), "reconstruct_s": np.array([rebuild_s]),
            "clean_forward_s": clean_s, "rank_forward_s": rank_s,
        }

    init = {
        "n": np.zeros(1, dtype=np.int64),
        "unlabelled": np.zeros(1, dtype=np.int64),
        "clean": np.zeros(n_models, dtype=np.int64),
        "low": np.zeros((n_models, n_ranks), dtype=np.int64),
        "high": np.zeros((n_models, n_ranks), dtype=np.int64),
        "svd_s": np.zeros(1), "reconstruct_s": np.zeros(1),
        "clean_forward_s": np.zeros(n_models), "rank_forward_s": np.zeros(n_models),
    }
    fingerprint = {
        "kind": _KIND,
        "models": {name: digest_model(model) for name, model in named.items()},
        "data": source.fingerprint(),
        "ranks": rank_list,
        "batch_size": batch_size,
    }
    started = time.perf_counter()
    info = dict(meta or {})
    sums = run_stream(source, step, init, fingerprint, shard, checkpoint,
                      checkpoint_interval, progress, desc="accuracy vs rank", record=info)
    guard.check()
    return RankAccuracyResult(
        models=names,
        ranks=rank_list,
        r=r,
        n_images=int(sums["n"][0]),
        clean_correct={m: int(sums["clean"][j]) for j, m in enumerate(names)},
        low_rank_correct={m: [int(c) for c in sums["low"][j]] for j, m in enumerate(names)},
        high_rank_correct={m: [int(c) for c in sums["high"][j]] for j, m in enumerate(names)},
        timings={
            "svd": float(sums["svd_s"][0]),
            "reconstruct": float(sums["reconstruct_s"][0]),
            "clean_forward": {m: float(sums["clean_forward_s"][j]) for j, m in enumerate(names)},
            "rank_forward": {m: float(sums["rank_forward_s"][j]) for j, m in enumerate(names)},
            "total": time.perf_counter() - started,
            "processes": shard.world_size,
        },
        meta=info,
        n_unlabelled=int(sums["unlabelled"][0]),
    )
