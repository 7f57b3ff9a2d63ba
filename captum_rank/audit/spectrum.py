r"""Rank-spectrum summaries: where in the singular spectrum each model's evidence lives.

For every image ``x`` with true label ``y`` and every model, the audit computes the rank
attributions ``R = RankIntegratedGradients(model).attribute_ranks(x, target=y)`` (summed
over channels: ``R_i`` is the part of ``F_y(x) - F_y(x')`` carried by singular component
``i`` of ``x - x'``), for two methods by default:

* ``"rig"``: RIG on its sequential rank path (components enter one at a time, in rank
  order), walked at constant speed (``schedule="arc_length"``): the same attribution as
  the ``sequential`` schedule, with several times smaller quadrature error at equal
  ``n_steps`` (see :mod:`captum_rank.schedules`);
* ``"ig"``: Captum's Integrated Gradients decomposed over the same singular components
  (RIG with ``schedule="linear"`` *is* IG; its ``attribute_ranks`` splits IG's total
  into the components).

It keeps float64 running sums of ``R`` and ``|R|`` per class, the number of images per
class and the sum of ``|completeness delta|``, and reports the mean spectrum per class
and overall, and the ranks that explain half and 90% of the output
(:func:`~captum_rank.audit.ranks.rank_for_share` on the mean spectrum).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import Tensor
from torch.utils.data import Dataset

from captum_rank.attr import RankIntegratedGradients
from captum_rank.audit import _jsonio
from captum_rank.audit._models import as_model_dict, model_device
from captum_rank.audit._runner import run_stream
from captum_rank.audit.checkpoint import digest_model
from captum_rank.audit.distributed import current_shard
from captum_rank.audit.errors import AuditInputError
from captum_rank.audit.ranks import rank_for_share
from captum_rank.audit.sources import as_source
from captum_rank.schedules import RankSchedule
from captum_rank.visualization import plot_rank_spectrum

__all__ = ["DEFAULT_METHODS", "RankSpectrumResult", "rank_spectrum"]

_KIND = "rank-spectrum"

#: The default methods: RIG's rank path, and IG decomposed over the singular components.
DEFAULT_METHODS: dict[str, str] = {"rig": "arc_length", "ig": "linear"}


def _schedule_id(schedule: str | RankSchedule) -> str:
    if isinstance(schedule, str):
        return schedule
    return f"{type(schedule).__qualname__}({sorted(vars(schedule).items())})"


@dataclass
class RankSpectrumResult(_jsonio.JsonExport):
    r"""Mean rank attributions per class, per model and per method.

    Attributes:
        models: model names.
        methods: ``{method name: schedule}`` (``"rig": "sequential"``, ``"ig": "linear"``).
        r: number of rank components, ``min(H, W)``.
        num_classes: number of classes (model outputs).
        n_images: number of images.
        class_counts: images per class (true label).
        sums: ``{method: {model: per-class sums of R}}``, ``num_classes x r`` lists.
        abs_sums: the same for ``|R|`` (per image, after summing channels).
        abs_delta_sums: ``{method: {model: sum over images of |completeness delta|}}``,
            with ``delta = sum(R) - (F_y(x) - F_y(x'))``.
        n_steps: path steps.
        quadrature: Captum's quadrature ``method``.
        baseline: the constant baseline ``x'``.
        timings: seconds per method and model (``{method: {model: s}}``) and ``total``.
        meta: free-form description.

    Examples:
        >>> result = RankSpectrumResult(
        ...     models=["m"], methods={"rig": "sequential"}, r=3, num_classes=2, n_images=2,
        ...     class_counts=[1, 1], sums={"rig": {"m": [[3.0, 1.0, 0.0], [1.0, 2.0, 1.0]]}},
        ...     abs_sums={"rig": {"m": [[3.0, 1.0, 0.0], [1.0, 2.0, 1.0]]}},
        ...     abs_delta_sums={"rig": {"m": 0.2}}, n_steps=8, quadrature="gausslegendre",
        ...     baseline=0.0)
        >>> result.mean_spectrum("m").tolist()
        [2.0, 1.5, 0.5]
        >>> result.rank_explaining("m", 0.5), result.rank_explaining("m", 0.9)
        (1, 3)
        >>> RankSpectrumResult.from_json(result.to_json()) == result
        True
    """

    models: list[str]
    methods: dict[str, str]
    r: int
    num_classes: int
    n_images: int
    class_counts: list[int]
    sums: dict[str, dict[str, list[list[float]]]]
    abs_sums: dict[str, dict[str, list[list[float]]]]
    abs_delta_sums: dict[str, dict[str, float]]
    n_steps: int
    quadrature: str
    baseline: float
    timings: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def _check(self, model: str, method: str) -> None:
        if method not in self.sums:
            raise KeyError(f"unknown method {method!r}; audited: {list(self.sums)}.")
        if model not in self.sums[method]:
            raise KeyError(f"unknown model {model!r}; audited: {self.models}.")

    def mean_spectrum(self, model: str, method: str = "rig", cls: int | None = None,
                      absolute: bool = False) -> np.ndarray:
        r"""The mean rank attribution ``R`` over images (of class ``cls``, or all).

        Args:
            model: a model name.
            method: a method name (``"rig"`` or ``"ig"`` by default).
            cls: a class index, or ``None`` for all images.
            absolute: average ``|R|`` instead of ``R``.

        Returns:
            ``(r,)`` float64.

        Raises:
            KeyError: unknown model or method.
            ValueError: ``cls`` out of range or a class without images.
        """
        self._check(model, method)
        table = np.asarray((self.abs_sums if absolute else self.sums)[method][model],
                           dtype=np.float64)
        if cls is None:
            if self.n_images == 0:
                raise ValueError("the audit holds no images.")
            return np.asarray(table.sum(axis=0) / self.n_images)
        if not 0 <= cls < self.num_classes:
            raise ValueError(f"`cls` must lie in [0, {self.num_classes}), got {cls}.")
        if self.class_counts[cls] == 0:
            raise ValueError(f"class {cls} has no images in this audit.")
        return np.asarray(table[cls] / self.class_counts[cls])

    def rank_explaining(self, model: str, share: float = 0.5, method: str = "rig",
                        cls: int | None = None) -> int | None:
        r"""The rank that explains ``share`` of the output, on the mean spectrum.

        The smallest ``k`` with ``cumsum(R)[k-1] / sum(R) >= share`` for the mean spectrum
        ``R`` (see :func:`~captum_rank.audit.ranks.rank_for_share`, which also says how a
        zero total is handled); ``None`` for an all-zero spectrum.
        """
        return rank_for_share(self.mean_spectrum(model, method, cls), share)

    def mean_abs_delta(self, model: str, method: str = "rig") -> float:
        r"""Mean ``|sum(R) - (F_y(x) - F_y(x'))|`` over the images (quadrature error)."""
        self._check(model, method)
        return self.abs_delta_sums[method][model] / self.n_images if self.n_images else float(
            "nan")

    def summary(self) -> dict[str, dict[str, dict[str, Any]]]:
        r"""``{model: {method: {rank_50, rank_90, mean_abs_delta, mean_total}}}``.

        ``mean_total`` is the mean of ``sum(R)`` (about ``F_y(x) - F_y(x')``).
        """
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for model in self.models:
            out[model] = {}
            for method in self.sums:
                spectrum = self.mean_spectrum(model, method)
                out[model][method] = {
                    "rank_50": rank_for_share(spectrum, 0.5),
                    "rank_90": rank_for_share(spectrum, 0.9),
                    "mean_abs_delta": self.mean_abs_delta(model, method),
                    "mean_total": float(spectrum.sum()),
                }
        return out

    def to_dict(self) -> dict[str, Any]:
        r"""Plain JSON-able data, with the derived summary and mean spectra added."""
        out = asdict(self)
        out["kind"] = _KIND
        out["summary"] = self.summary()
        out["mean_spectra"] = {
            method: {m: self.mean_spectrum(m, method).tolist() for m in self.models}
            for method in self.sums
        }
        return out

    @classmethod
    def from_json(cls, source: str | os.PathLike[str] | dict[str, Any]) -> RankSpectrumResult:
        r"""Read a result written by :meth:`to_json` (JSON text, a file path, or a dict).

        Raises:
            ValueError: the JSON is not a rank-spectrum result.
        """
        data = _jsonio.load_kind(source, _KIND, "rank-spectrum result")

        def table(obj: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, list[list[float]]]]:
            return {meth: {m: [[float(v) for v in row] for row in rows]
                           for m, rows in per.items()} for meth, per in obj.items()}

        return cls(
            models=list(data["models"]),
            methods=dict(data["methods"]),
            r=int(data["r"]),
            num_classes=int(data["num_classes"]),
            n_images=int(data["n_images"]),
            class_counts=[int(c) for c in data["class_counts"]],
            sums=table(data["sums"]),
            abs_sums=table(data["abs_sums"]),
            abs_delta_sums={meth: {m: float(v) for m, v in per.items()}
                            for meth, per in data["abs_delta_sums"].items()},
            n_steps=int(data["n_steps"]),
            quadrature=str(data["quadrature"]),
            baseline=float(data["baseline"]),
            timings=dict(data.get("timings", {})),
            meta=dict(data.get("meta", {})),
        )

    def plot(
        self, method: str | None = "rig", model: str | None = None,
        normalize: str | None = "abs", ax: Axes | Sequence[Axes] | None = None,
        title: str | None = None, class_names: Sequence[str] | None = None,
        use_pyplot: bool = True,
    ) -> tuple[Figure, list[Axes]]:
        r"""Mean spectra with :func:`captum_rank.visualization.plot_rank_spectrum`.

        Args:
            method: the method to show, or ``None`` for every method (one curve per
                model and method).
            model: ``None``: one curve per model (all images); a model name: one curve
                per class of that model.
            normalize: scaling of the spectrum panel (default ``"abs"``: shapes compare
                across models with different output scales).
            ax: two axes (spectrum, cumulative share), or a new figure.
            title: the figure title.
            class_names: labels of the classes (default ``class 0``, ...).
            use_pyplot: as in the visualisers.

        Returns:
            ``(figure, axes)``.
        """
        methods = list(self.sums) if method is None else [method]
        curves: dict[str, np.ndarray] = {}
        if model is None:
            for meth in methods:
                for m in self.models:
                    label = m if len(methods) == 1 else f"{m} ({meth.upper()})"
                    curves[label] = self.mean_spectrum(m, meth)
        else:
            names = list(class_names) if class_names is not None else [
                f"class {c}" for c in range(self.num_classes)]
            for meth in methods:
                for c in range(self.num_classes):
                    if self.class_counts[c]:
                        label = names[c] if len(methods) == 1 else f"{names[c]} ({meth.upper()})"
                        curves[label] = self.mean_spectrum(model, meth, c)
        what = "/".join(m.upper() for m in methods)
        default = f"{what} rank spectrum, {self.n_images} images" + (
            f", {model} by class" if model is not None else "")
        return plot_rank_spectrum(curves, normalize=normalize, ax=ax,
                                  title=title if title is not None else default,
                                  use_pyplot=use_pyplot)


def rank_spectrum(
    models: Callable[..., Tensor] | Mapping[str, Callable[..., Tensor]],
    data: tuple[Tensor, Tensor] | Dataset[Any] | Sequence[Any],
    *,
    methods: Mapping[str, str | RankSchedule] | None = None,
    n_steps: int = 32,
    quadrature: str = "gausslegendre",
    baseline: float = 0.0,
    num_classes: int | None = None,
    internal_batch_size: int | None = None,
    batch_size: int = 50,
    limit: int | None = None,
    device: str | torch.device | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    checkpoint_interval: float = 0.0,
    progress: bool = True,
    distributed: bool | None = None,
    meta: Mapping[str, Any] | None = None,
) -> RankSpectrumResult:
    r"""Mean rank attributions (RIG and IG's rank decomposition) per class and model.

    Each image is attributed to its true label. Batches are streamed and only float64
    running sums are kept, so memory is bounded by one batch (times ``n_steps`` path
    points, or ``internal_batch_size`` of them).

    Args:
        models: one model or ``{name: model}`` (``(N, C, H, W)`` -> ``(N, classes)``).
        data: ``(images, labels)`` tensors or a map-style data set.
        methods: ``{name: schedule}`` passed to ``attribute_ranks(schedule=...)``.
            Default: :data:`DEFAULT_METHODS` (``rig``: ``arc_length``, ``ig``:
            ``linear``).
        n_steps: path steps per image. Default: 32.
        quadrature: Captum's quadrature ``method``. Default: ``"gausslegendre"``.
        baseline: constant baseline ``x'``. Default: 0 (black).
        num_classes: number of classes. Default: the first model's output size.
        internal_batch_size: path points per forward pass (bounds memory).
        batch_size: images per batch. Default: 50.
        limit: only the first ``limit`` images.
        device: where the images go. Default: the first model's device.
        checkpoint: running-sums file to resume from; see
            :func:`~captum_rank.audit.accuracy.rank_accuracy`.
        checkpoint_interval: seconds between checkpoint writes (0: every batch).
        progress: show a progress bar. Default: True.
        distributed: shard over a process group (``None``: when one is initialised).
        meta: stored in the result.

    Returns:
        The :class:`RankSpectrumResult`.

    Raises:
        AuditInputError: bad models, data, methods or labels out of range.

    Examples:
        >>> import torch
        >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
        <torch._C.Generator object at ...>
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 3))
        >>> data = (torch.rand(6, 1, 8, 8), torch.tensor([0, 1, 2, 0, 1, 2]))
        >>> result = rank_spectrum(model, data, n_steps=8, progress=False)
        >>> result.mean_spectrum("model", "rig").shape
        (8,)
        >>> result.mean_abs_delta("model", "ig") < 1e-4  # a linear model: IG is exact
        True
    """
    named = as_model_dict(models)
    source = as_source(data, batch_size, limit)
    method_map = dict(methods) if methods is not None else dict(DEFAULT_METHODS)
    if not method_map:
        raise AuditInputError("`methods` is empty; give e.g. {'rig': 'sequential'}.")
    names = list(named)
    first_model = next(iter(named.values()))
    dev = model_device(first_model, device)
    if num_classes is None:
        with torch.no_grad():
            probe, _ = source.items(0, 1)
            out = first_model(probe.to(dev))
        if not isinstance(out, Tensor) or out.dim() != 2:
            raise AuditInputError("the model must return (N, classes) scores for N images.")
        num_classes = int(out.shape[1])
    r = source.rank
    shard = current_shard(distributed)
    explainers = {name: RankIntegratedGradients(model) for name, model in named.items()}
    keys = [(meth, m) for meth in method_map for m in names]

    def step(images: Tensor, labels: Tensor) -> dict[str, np.ndarray]:
        if int(labels.min()) < 0 or int(labels.max()) >= num_classes:
            raise AuditInputError(
                f"labels must lie in [0, {num_classes}) (the models' outputs), got "
                f"{int(labels.min())}..{int(labels.max())}."
            )
        x = images.to(dev)
        y = labels.to(dev)
        out: dict[str, np.ndarray] = {"count": np.bincount(
            labels.numpy(), minlength=num_classes).astype(np.int64)}
        present = sorted(set(labels.tolist()))
        for meth, m in keys:
            start = time.perf_counter()
            ranks, delta = explainers[m].attribute_ranks(
                x, baselines=baseline, target=y, n_steps=n_steps, method=quadrature,
                internal_batch_size=internal_batch_size, return_convergence_delta=True,
                schedule=method_map[meth],
            )
            per_image = ranks.detach().to(torch.float64).sum(dim=1).cpu()  # (N, r)
            total = np.zeros((num_classes, r))
            total_abs = np.zeros((num_classes, r))
            for c in present:
                rows = per_image[labels == c]
                total[c] = rows.sum(dim=0).numpy()
                total_abs[c] = rows.abs().sum(dim=0).numpy()
            out[f"{meth}/{m}/sum"] = total
            out[f"{meth}/{m}/abs"] = total_abs
            out[f"{meth}/{m}/delta"] = np.array(
                [float(delta.detach().to(torch.float64).abs().sum())])
            out[f"{meth}/{m}/seconds"] = np.array([time.perf_counter() - start])
        return out

    init: dict[str, np.ndarray] = {"count": np.zeros(num_classes, dtype=np.int64)}
    for meth, m in keys:
        init[f"{meth}/{m}/sum"] = np.zeros((num_classes, r))
        init[f"{meth}/{m}/abs"] = np.zeros((num_classes, r))
        init[f"{meth}/{m}/delta"] = np.zeros(1)
        init[f"{meth}/{m}/seconds"] = np.zeros(1)
    fingerprint = {
        "kind": _KIND,
        "models": {name: digest_model(model) for name, model in named.items()},
        "data": source.fingerprint(),
        "methods": {k: _schedule_id(v) for k, v in method_map.items()},
        "n_steps": n_steps, "quadrature": quadrature, "baseline": float(baseline),
        "num_classes": num_classes, "internal_batch_size": internal_batch_size,
        "batch_size": batch_size,
    }
    started = time.perf_counter()
    sums = run_stream(source, step, init, fingerprint, shard, checkpoint,
                      checkpoint_interval, progress, desc="rank spectra")
    counts = [int(c) for c in sums["count"]]
    return RankSpectrumResult(
        models=names,
        methods={k: _schedule_id(v) for k, v in method_map.items()},
        r=r,
        num_classes=num_classes,
        n_images=sum(counts),
        class_counts=counts,
        sums={meth: {m: sums[f"{meth}/{m}/sum"].tolist() for m in names} for meth in method_map},
        abs_sums={meth: {m: sums[f"{meth}/{m}/abs"].tolist() for m in names}
                  for meth in method_map},
        abs_delta_sums={meth: {m: float(sums[f"{meth}/{m}/delta"][0]) for m in names}
                        for meth in method_map},
        n_steps=n_steps,
        quadrature=quadrature,
        baseline=float(baseline),
        timings={
            **{meth: {m: float(sums[f"{meth}/{m}/seconds"][0]) for m in names}
               for meth in method_map},
            "total": time.perf_counter() - started,
            "processes": shard.world_size,
        },
        meta=dict(meta or {}),
    )
