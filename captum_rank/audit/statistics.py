r"""The rank-spectrum audit's running statistics, as small accumulators.

:class:`AttributionSums` holds what :func:`~captum_rank.audit.spectrum.rank_spectrum` keeps of
one attribution on one model: float64 sums of the rank attributions ``R`` and of ``|R|``, of
the completeness error ``|delta|`` and of the output change ``|F_y(x) - F_y(x')|``, the
images whose own relative error exceeds the reliability_tolerance, optionally a per-class table of
``R``, and the seconds spent. :class:`SpectrumSums` holds them for every (attribution, model)
with the image count and each model's class counts.

The streaming runner (:func:`~captum_rank.audit._runner.run_stream`) and the checkpoint
keep flat ``{name: array}`` sums; :meth:`SpectrumSums.to_arrays` and
:meth:`SpectrumSums.from_arrays` are the one place that maps the accumulators to those
names (``count``, ``<model>/class_count``, ``<attribution>/<model>/sum``, ...), so
checkpoints written before the accumulators existed keep resuming.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import torch
from torch import Tensor

__all__ = ["AttributionSums", "SpectrumSums", "relative_error"]

T = TypeVar("T")


def relative_error(abs_delta: float, abs_change: float) -> float:
    r"""``|delta| / |F(x) - F(x')|``, with ``0/0 = 0`` and ``x/0 = inf``.

    Args:
        abs_delta (float): completeness error (summed over images, or of one image).
        abs_change (float): output change, the same way.

    Returns:
        float: the relative error.

    Examples:
        >>> relative_error(0.5, 10.0), relative_error(0.0, 0.0), relative_error(1.0, 0.0)
        (0.05, 0.0, inf)
    """
    if abs_change > 0:
        return abs_delta / abs_change
    return 0.0 if abs_delta == 0 else float("inf")


@dataclass
class AttributionSums:
    r"""Running float64 sums of one attribution's rank attributions on one model.

    Attributes:
        sum: ``(r,)`` sum over images of ``R`` (summed over channels).
        abs: ``(r,)`` sum over images of ``|R|``.
        delta: sum over images of ``|delta|``, ``delta = sum(R) - (F_y(x) - F_y(x'))``.
        change: sum over images of ``|F_y(x) - F_y(x')|``.
        over: images whose own ``|delta|`` exceeds ``reliability_tolerance * |F_y(x) - F_y(x')|``.
        seconds: time spent attributing.
        classes: ``(classes, r)`` sums of ``R`` per target class, or None when not kept.

    Examples:
        >>> import torch
        >>> sums = AttributionSums.zeros(r=2, n_classes=2)
        >>> ranks = torch.tensor([[[1.0, 0.5]], [[2.0, -1.0]]])  # (N, C, r)
        >>> sums.update(ranks, torch.tensor([0.5, 0.0]), torch.tensor([0, 1]),
        ...             reliability_tolerance=0.1, seconds=1.0)
        >>> sums.sum.tolist(), sums.abs.tolist(), sums.delta, sums.change, sums.over
        ([3.0, -0.5], [3.0, 1.5], 0.5, 2.0, 1)
        >>> sums.classes.tolist()
        [[1.0, 0.5], [2.0, -1.0]]
        >>> AttributionSums.from_arrays(sums.to_arrays("rig/m"), "rig/m") == sums
        True
    """

    sum: np.ndarray
    abs: np.ndarray
    delta: float = 0.0
    change: float = 0.0
    over: int = 0
    seconds: float = 0.0
    classes: np.ndarray | None = field(default=None)

    @classmethod
    def zeros(cls, r: int, n_classes: int | None = None) -> AttributionSums:
        r"""Empty sums over ``r`` components (a per-class table when ``n_classes`` is given)."""
        return cls(np.zeros(r), np.zeros(r),
                   classes=np.zeros((n_classes, r)) if n_classes is not None else None)

    def update(self, ranks: Tensor, delta: Tensor, targets: Tensor, reliability_tolerance: float,
               seconds: float) -> None:
        r"""Add a batch: ``ranks`` ``(N, C, r)`` with their ``(N,)`` ``delta`` and targets.

        Args:
            ranks (Tensor): rank attributions; the channels are summed.
            delta (Tensor): their completeness errors.
            targets (Tensor): the class each image was attributed to.
            reliability_tolerance (float): the relative error above which an image counts in
                :attr:`over`.
            seconds (float): the time the batch took.
        """
        per_image = ranks.detach().to(torch.float64).sum(dim=1).cpu()  # (N, r)
        signed = delta.detach().to(torch.float64).cpu()
        abs_delta = signed.abs()
        change = (per_image.sum(dim=1) - signed).abs()
        self.sum = self.sum + per_image.sum(dim=0).numpy()
        self.abs = self.abs + per_image.abs().sum(dim=0).numpy()
        self.delta += float(abs_delta.sum())
        self.change += float(change.sum())
        self.over += int((abs_delta > reliability_tolerance * change).sum())
        self.seconds += seconds
        if self.classes is not None:
            table = np.zeros_like(self.classes)
            np.add.at(table, targets.cpu().numpy(), per_image.numpy())
            self.classes = self.classes + table

    def merge(self, other: AttributionSums) -> AttributionSums:
        r"""The sums of both (e.g. two shards, or the running sums and a batch)."""
        classes = None
        if self.classes is not None and other.classes is not None:
            classes = self.classes + other.classes
        return AttributionSums(self.sum + other.sum, self.abs + other.abs,
                          self.delta + other.delta, self.change + other.change,
                          self.over + other.over, self.seconds + other.seconds, classes)

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        r"""The checkpoint's arrays, named ``<prefix>/sum``, ``<prefix>/abs``, ..."""
        out = {
            f"{prefix}/sum": np.asarray(self.sum, dtype=np.float64),
            f"{prefix}/abs": np.asarray(self.abs, dtype=np.float64),
            f"{prefix}/delta": np.array([self.delta]),
            f"{prefix}/change": np.array([self.change]),
            f"{prefix}/over": np.array([self.over], dtype=np.int64),
        }
        if self.classes is not None:
            out[f"{prefix}/class"] = np.asarray(self.classes, dtype=np.float64)
        out[f"{prefix}/seconds"] = np.array([self.seconds])
        return out

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], prefix: str) -> AttributionSums:
        r"""Read back what :meth:`to_arrays` wrote under ``prefix``."""
        classes = arrays.get(f"{prefix}/class")
        return cls(
            np.asarray(arrays[f"{prefix}/sum"], dtype=np.float64),
            np.asarray(arrays[f"{prefix}/abs"], dtype=np.float64),
            float(arrays[f"{prefix}/delta"][0]), float(arrays[f"{prefix}/change"][0]),
            int(arrays[f"{prefix}/over"][0]), float(arrays[f"{prefix}/seconds"][0]),
            np.asarray(classes, dtype=np.float64) if classes is not None else None,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AttributionSums):
            return NotImplemented
        mine, theirs = self.to_arrays(""), other.to_arrays("")
        return mine.keys() == theirs.keys() and all(
            np.array_equal(mine[k], theirs[k]) for k in mine)


@dataclass
class SpectrumSums:
    r"""Every running sum of a rank-spectrum audit: images, class counts, attribution sums.

    Attributes:
        count: images seen.
        class_counts: ``{model: (classes,) int64}`` images per target class.
        attributions: ``{attribution: {model: AttributionSums}}``.

    Examples:
        >>> import torch
        >>> sums = SpectrumSums.zeros(["rig"], ["m"], r=2, n_classes=3, per_class=False)
        >>> sums.add_images({"m": torch.tensor([0, 2, 2])}, 3)
        >>> list(sums.to_arrays())  # doctest: +NORMALIZE_WHITESPACE
        ['count', 'm/class_count', 'rig/m/sum', 'rig/m/abs', 'rig/m/delta', 'rig/m/change',
         'rig/m/over', 'rig/m/seconds']
        >>> sums.present_classes()
        {'m': {0: 1, 2: 2}}
        >>> SpectrumSums.from_arrays(sums.to_arrays(), ["rig"], ["m"]) == sums
        True
    """

    count: int
    class_counts: dict[str, np.ndarray]
    attributions: dict[str, dict[str, AttributionSums]]

    @classmethod
    def zeros(cls, attributions: Sequence[str], models: Sequence[str], r: int, n_classes: int,
              per_class: bool) -> SpectrumSums:
        r"""Empty sums for every (attribution, model); per-class tables when ``per_class``."""
        return cls(
            0, {m: np.zeros(n_classes, dtype=np.int64) for m in models},
            {attribution: {m: AttributionSums.zeros(r, n_classes if per_class else None)
                           for m in models}
             for attribution in attributions},
        )

    def add_images(self, targets: Mapping[str, Tensor], n: int) -> None:
        r"""Count ``n`` images and each model's ``targets`` ``(n,)`` per class."""
        self.count += n
        for m, target in targets.items():
            counts = self.class_counts[m]
            self.class_counts[m] = counts + np.bincount(
                target.cpu().numpy(), minlength=counts.shape[0]).astype(np.int64)

    def merge(self, other: SpectrumSums) -> SpectrumSums:
        r"""The sums of both."""
        return SpectrumSums(
            self.count + other.count,
            {m: c + other.class_counts[m] for m, c in self.class_counts.items()},
            {attribution: {m: s.merge(other.attributions[attribution][m]) for m, s in inner.items()}
             for attribution, inner in self.attributions.items()},
        )

    def per_attribution(self, read: Callable[[AttributionSums], T]) -> dict[str, dict[str, T]]:
        r"""``{attribution: {model: read(sums)}}``."""
        return {attribution: {m: read(s) for m, s in inner.items()}
                for attribution, inner in self.attributions.items()}

    def present_classes(self) -> dict[str, dict[int, int]]:
        r"""``{model: {class: images}}`` for the classes that have images."""
        return {m: {c: int(v) for c, v in enumerate(counts) if v}
                for m, counts in self.class_counts.items()}

    def to_arrays(self) -> dict[str, np.ndarray]:
        r"""The flat ``{name: array}`` sums the runner adds and the checkpoint stores."""
        out: dict[str, np.ndarray] = {"count": np.array([self.count], dtype=np.int64)}
        for m, counts in self.class_counts.items():
            out[f"{m}/class_count"] = np.asarray(counts, dtype=np.int64)
        for attribution, inner in self.attributions.items():
            for m, sums in inner.items():
                out.update(sums.to_arrays(f"{attribution}/{m}"))
        return out

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], attributions: Sequence[str],
                    models: Sequence[str]) -> SpectrumSums:
        r"""Read back what :meth:`to_arrays` wrote, for these attributions and models."""
        return cls(
            int(arrays["count"][0]),
            {m: np.asarray(arrays[f"{m}/class_count"], dtype=np.int64) for m in models},
            {attribution: {m: AttributionSums.from_arrays(arrays, f"{attribution}/{m}")
                           for m in models}
             for attribution in attributions},
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SpectrumSums):
            return NotImplemented
        mine, theirs = self.to_arrays(), other.to_arrays()
        return list(mine) == list(theirs) and all(np.array_equal(mine[k], theirs[k]) for k in mine)
