r"""Where an audit's images come from: a tensor pair or any map-style data set.

:class:`DataSource` gives random access by batch index (needed to resume from a
checkpoint and to shard over processes) while holding at most one batch of converted
images at a time, whatever the data set's size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset, Subset

from captum_rank.audit.checkpoint import digest_tensor
from captum_rank.audit.errors import AuditInputError
from captum_rank.checks import optional_positive_int, positive_int, warn_unscaled
from captum_rank.data import iter_batches

__all__ = ["DataSource", "as_source"]


class DataSource:
    r"""Batches of ``(images, labels)`` by index, from tensors or a data set.

    Args:
        data: ``(images, labels)`` tensors (``(N, C, H, W)`` floating and ``(N,)``
            integer, ``-1`` for an unlabelled image), or a map-style data set of
            ``(image, label)`` pairs (anything :func:`captum_rank.data.iter_batches`
            reads: torchvision data sets, ``TensorDataset``,
            :class:`captum_rank.data.FashionMNIST`, lists).
        batch_size: images per batch (the last batch may be smaller).
        limit: use only the first ``limit`` items (``None``: all). To audit a
            representative part of a class-sorted data set, pass a subset instead
            (:func:`captum_rank.audit.loading.subset_indices`).

    Raises:
        AuditInputError: mismatched or malformed tensors, an empty data set, or a bad
            ``batch_size``/``limit``.

    Examples:
        >>> import torch
        >>> source = DataSource((torch.rand(5, 1, 4, 4), torch.arange(5)), batch_size=2)
        >>> source.n_items, source.n_batches, source.image_shape
        (5, 3, (1, 4, 4))
        >>> [int(y[0]) for _, y in (source.batch(b) for b in range(3))]
        [0, 2, 4]
    """

    def __init__(
        self,
        data: tuple[Tensor, Tensor] | Dataset[Any] | Sequence[Any],
        batch_size: int,
        limit: int | None = None,
    ) -> None:
        self.batch_size = positive_int(batch_size, "batch_size")
        limit = optional_positive_int(limit, "limit")
        self._tensors: tuple[Tensor, Tensor] | None = None
        self._dataset: Any = None
        if isinstance(data, tuple) and len(data) == 2 and all(
            isinstance(t, Tensor) for t in data
        ):
            images, labels = data
            if images.dim() < 3:
                raise AuditInputError(
                    f"images must be (N, C, H, W) or (N, H, W), got shape {tuple(images.shape)}."
                )
            if images.dim() == 3:
                images = images.unsqueeze(1)
            if not images.is_floating_point():
                raise AuditInputError(
                    f"images have dtype {images.dtype}; give floats (e.g. uint8 / 255)."
                )
            if labels.dim() != 1 or labels.shape[0] != images.shape[0]:
                raise AuditInputError(
                    f"labels must be (N,) with N = {images.shape[0]} images, got shape "
                    f"{tuple(labels.shape)}."
                )
            if labels.is_floating_point() or labels.is_complex():
                raise AuditInputError(f"labels must be integers, got dtype {labels.dtype}.")
            n = images.shape[0]
            if limit is not None:
                n = min(n, limit)
            self._tensors = (images[:n], labels[:n].long())
            self.n_items = int(n)
        else:
            try:
                n = len(data)  # type: ignore[arg-type]
            except TypeError:
                raise AuditInputError(
                    "data must be an (images, labels) pair of tensors or a map-style data set "
                    f"with __len__, got {type(data).__name__}."
                ) from None
            self._dataset = data
            self.n_items = int(min(n, limit) if limit is not None else n)
        if self.n_items == 0:
            raise AuditInputError("the data set is empty.")
        first, _ = self.items(0, 1)
        self.image_shape: tuple[int, ...] = tuple(first.shape[1:])
        if len(self.image_shape) < 2:
            raise AuditInputError(
                f"images need at least two dimensions (H, W), got {self.image_shape}."
            )

    @property
    def n_batches(self) -> int:
        r"""Number of batches, ``ceil(n_items / batch_size)``."""
        return -(-self.n_items // self.batch_size)

    @property
    def rank(self) -> int:
        r"""``r = min(H, W)``, the number of singular components of one image."""
        return int(min(self.image_shape[-2], self.image_shape[-1]))

    def items(self, start: int, stop: int) -> tuple[Tensor, Tensor]:
        r"""Items ``start .. stop - 1`` as ``(images, labels)``."""
        if self._tensors is not None:
            images, labels = self._tensors
            return images[start:stop], labels[start:stop]
        subset = Subset(self._dataset, range(start, stop))
        return next(iter_batches(subset, batch_size=stop - start))

    def batch(self, index: int) -> tuple[Tensor, Tensor]:
        r"""Batch ``index`` (``0 <= index < n_batches``)."""
        start = index * self.batch_size
        return self.items(start, min(start + self.batch_size, self.n_items))

    def fingerprint(self) -> dict[str, Any]:
        r"""What identifies the data for a checkpoint.

        Tensors are hashed whole. A data set is identified by its type, its length and
        the hash of its first and last items (hashing every item would read the whole
        data set before the audit starts), so edit a data set in the middle and keep
        its ends, and a stale checkpoint would be taken for a fresh one: delete
        checkpoints when the data changes.
        """
        if self._tensors is not None:
            h = hashlib.sha256()
            digest_tensor(self._tensors[0], h)
            digest_tensor(self._tensors[1], h)
            return {"kind": "tensors", "n": self.n_items, "sha256": h.hexdigest()}
        h = hashlib.sha256()
        for start in {0, self.n_items - 1}:
            x, y = self.items(start, start + 1)
            digest_tensor(x, h)
            digest_tensor(y, h)
        kind = type(self._dataset)
        return {
            "kind": f"{kind.__module__}.{kind.__qualname__}",
            "n": self.n_items,
            "ends_sha256": h.hexdigest(),
        }


def as_source(
    data: Any, batch_size: int, limit: int | None = None
) -> DataSource:
    r"""``data`` as a :class:`DataSource` (a source is returned re-batched if needed).

    Args:
        data: a :class:`DataSource`, an ``(images, labels)`` pair or a data set.
        batch_size: images per batch.
        limit: first ``limit`` items only.

    Returns:
        The source.

    Examples:
        >>> import torch
        >>> as_source((torch.rand(3, 1, 4, 4), torch.arange(3)), 2).n_batches
        2
    """
    if isinstance(data, DataSource):
        inner = data._tensors if data._tensors is not None else data._dataset
        n = data.n_items if limit is None else min(limit, data.n_items)
        return DataSource(inner, batch_size, n)
    if isinstance(data, list | tuple) and len(data) == 2 and isinstance(data[0], Tensor):
        if not isinstance(data[1], Tensor):
            data = (data[0], torch.as_tensor(data[1]))
        warn_unscaled(data[0][:64], "data")  # a sample: the check is O(data) otherwise
        return DataSource((data[0], data[1]), batch_size, limit)
    return DataSource(data, batch_size, limit)
