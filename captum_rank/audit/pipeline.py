r"""The audit as one call: accuracy against rank, then rank spectra, as an :class:`AuditReport`.

:func:`audit` is what ``captum-rank audit`` runs and what the demo runs with fixed
arguments. The models are checked against the data once, before any work; the spectra
use a stratified random subset of the data (so a class-sorted data set gives every class
its share).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Subset

from captum_rank.audit._models import as_model_dict
from captum_rank.audit.accuracy import rank_accuracy
from captum_rank.audit.loading import subset_indices
from captum_rank.audit.ranks import default_ranks
from captum_rank.audit.report import AuditReport
from captum_rank.audit.settings import AttributionSpec
from captum_rank.audit.sources import as_source
from captum_rank.audit.spectrum import rank_spectrum
from captum_rank.checks import non_negative_int, optional_positive_int, positive_int
from captum_rank.defaults import AUDIT_N_STEPS, RELIABILITY_TOLERANCE

__all__ = ["audit"]


def _labels_of(data: Any) -> Tensor | None:
    if isinstance(data, tuple | list) and len(data) == 2 and isinstance(data[1], Tensor):
        return data[1]
    return None


def audit(
    models: Callable[..., Tensor] | Mapping[str, Callable[..., Tensor]],
    data: Any,
    *,
    ranks: Sequence[int] | None = None,
    labels: Tensor | None = None,
    spectrum_images: int = 200,
    attributions: Mapping[str, AttributionSpec] | None = None,
    n_steps: int = AUDIT_N_STEPS,
    batch_size: int = 250,
    spectrum_batch_size: int = 16,
    internal_batch_size: int | None = None,
    num_classes: int | None = None,
    class_names: Sequence[str] | None = None,
    reliability_tolerance: float = RELIABILITY_TOLERANCE,
    device: str | torch.device | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    progress: bool = True,
    distributed: bool | None = None,
    seed: int = 0,
    meta: Mapping[str, Any] | None = None,
    title: str | None = None,
) -> AuditReport:
    r"""Accuracy against rank on all of ``data`` and rank spectra on a stratified subset.

    Args:
        models: one model or ``{name: model}``.
        data: ``(images, labels)`` tensors or a map-style data set (label ``-1``:
            unlabelled, judged against the model's own prediction).
        ranks (sequence of int, optional): ranks of the accuracy curves. Default:
            :func:`~captum_rank.audit.ranks.default_ranks` of the images.
        labels (Tensor, optional): all labels of a data set (to stratify the spectra's
            subset without reading images); taken from tensor data.
        spectrum_images (int, optional): images for the rank spectra (0 skips them).
            Default: 200.
        attributions (dict, optional): ``{name: schedule}`` for the spectra (None: the
            library's default schedule). Default: RIG and IG.
        n_steps (int, optional): path steps. Default: 32.
        batch_size (int, optional): images per batch for accuracy. Default: 250.
        spectrum_batch_size (int, optional): images per batch for the spectra. Default: 16.
        internal_batch_size (int, optional): path points per forward pass.
        num_classes (int, optional): the data's number of classes (the models must
            return that many scores).
        class_names (sequence of str, optional): names of the classes, for the report.
        reliability_tolerance (float, optional): relative completeness error above which rank
            summaries are unreliable. Default: 0.1.
        device: where the images go. Default: the first model's device.
        checkpoint (path, optional): resume file of the accuracy audit; the spectra use
            ``<checkpoint>.spectrum``.
        progress (bool, optional): progress bars. Default: True.
        distributed (bool, optional): shard over a process group (None: when one is
            initialised).
        seed (int, optional): seed of the spectra's stratified subset. Default: 0.
        meta (dict, optional): stored in the report.
        title (str, optional): the report's title.

    Returns:
        AuditReport: the accuracy and spectrum results.

    Raises:
        AuditInputError: bad arguments, or models that do not fit the data (before any
            work).

    Examples:
        >>> import torch
        >>> _ = torch.manual_seed(0)
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 3))
        >>> data = (torch.rand(9, 1, 8, 8), torch.arange(9) % 3)
        >>> report = audit(model, data, spectrum_images=3, n_steps=4, progress=False)
        >>> report.accuracy.n_images, report.spectrum.n_images
        (9, 3)
    """
    named = as_model_dict(models)
    spectrum_images = non_negative_int(spectrum_images, "spectrum_images")
    batch_size = positive_int(batch_size, "batch_size")
    spectrum_batch_size = positive_int(spectrum_batch_size, "spectrum_batch_size")
    internal_batch_size = optional_positive_int(internal_batch_size, "internal_batch_size")
    source = as_source(data, batch_size)
    rank_list = list(ranks) if ranks is not None else default_ranks(source.rank)
    info = dict(meta or {})
    accuracy = rank_accuracy(
        named, data, rank_list, batch_size=batch_size, device=device, checkpoint=checkpoint,
        progress=progress, distributed=distributed, meta=info, num_classes=num_classes)
    if "resumed from" in accuracy.meta:  # shown in the report, not only in report.json
        info["resumed from"] = accuracy.meta["resumed from"]
    spectrum = None
    if spectrum_images:
        all_labels = labels if labels is not None else _labels_of(data)
        if all_labels is None:
            all_labels = torch.full((source.n_items,), -1, dtype=torch.int64)
        index, how = subset_indices(all_labels, spectrum_images, seed)
        if isinstance(data, tuple | list) and len(data) == 2:
            subset: Any = (data[0][index], data[1][index])
        else:
            subset = Subset(data, index.tolist())
        spectrum = rank_spectrum(
            named, subset, attributions=attributions, n_steps=n_steps, num_classes=num_classes,
            internal_batch_size=internal_batch_size, batch_size=spectrum_batch_size,
            device=device, checkpoint=f"{os.fspath(checkpoint)}.spectrum" if checkpoint else None,
            progress=progress, distributed=distributed, reliability_tolerance=reliability_tolerance,
            meta={**info, "spectrum images": f"{len(index)}: {how}"})
        if "resumed from" in spectrum.meta:
            info["spectrum resumed from"] = spectrum.meta["resumed from"]
    return AuditReport(accuracy, spectrum, info,
                       class_names=list(class_names) if class_names is not None else None,
                       title=title)
