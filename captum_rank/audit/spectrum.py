r"""Rank-spectrum summaries: where in the singular spectrum each model's evidence lives.

For every image ``x`` with target ``y`` (its label; the model's own prediction for an
unlabelled image) and every model, the audit computes the rank attributions
``R = RankIntegratedGradients(model).attribute_ranks(x, target=y, schedule=...)`` (summed
over channels: ``R_i`` is the part of ``F_y(x) - F_y(x')`` carried by singular component
``i`` of ``x - x'``), for each entry of ``attributions`` (``{name: schedule}``). By default:

* ``"rig"``: RIG with the library's default schedule (whatever
  :meth:`~captum_rank.attr.RankIntegratedGradients.attribute_ranks` uses when no
  ``schedule`` is given; the result records its name);
* ``"ig"``: Captum's Integrated Gradients decomposed over the same singular components
  (RIG with ``schedule="linear"`` *is* IG; its ``attribute_ranks`` splits IG's total
  into the components).

It keeps float64 running sums of ``R`` and ``|R|`` (overall and, for data with few
classes, per class), and of the completeness error: ``delta = sum(R) - (F_y(x) -
F_y(x'))`` and the output change ``F_y(x) - F_y(x')`` itself.

**Exact spectra.** Where an attribution's path is the rank-``k`` curve with components entering
one at a time, its converged ``R`` is exactly ``R_i = F_y(x_i) - F_y(x_{i-1})`` (``x_k``:
the baseline plus the rank-``k`` approximation of ``x - x'``;
:meth:`~captum_rank.attr.RankIntegratedGradients.exact_ranks`): ``r + 1`` forward passes,
no quadrature error. With ``exact=True`` (the default) every attribution whose schedule admits
it uses it: the default ``rig`` (``arc_length``) on grey images or ``channels="joint"``,
``sequential`` on any image (colour: summed over channels, as the audit keeps it anyway).
Other attributions (``ig``, ``spectral``, the default on colour with per-channel SVDs, whose
per-channel timing is a different path) use the quadrature with ``n_steps``. The result
records which in :attr:`RankSpectrumResult.exact` and in each summary row. The rank
summaries
(``k50``, ``k90``, :func:`~captum_rank.summaries.rank_for_share` of the mean spectrum)
are marked **unreliable** when the relative completeness error
``sum |delta| / sum |F_y(x) - F_y(x')|`` exceeds ``reliability_tolerance`` (default
:data:`RELIABILITY_TOLERANCE`): the quadrature has not converged, so the split of the
output over the components is not trustworthy either; raise ``n_steps``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from captum_rank._model_checks import InputGuard
from captum_rank.attr import RankIntegratedGradients
from captum_rank.audit import _jsonio
from captum_rank.audit._attributions import (
    AttributionRun,
    attribution_map,
    exact_rows,
    integration_method,
    plan_attributions,
)
from captum_rank.audit._models import (
    as_model_dict,
    check_models_on_data,
    model_device,
    targets_for,
)
from captum_rank.audit._runner import run_stream
from captum_rank.audit.checkpoint import digest_model
from captum_rank.audit.distributed import Shard, current_shard
from captum_rank.audit.errors import AuditInputError
from captum_rank.audit.settings import (
    DEFAULT_ATTRIBUTIONS,
    MAP_TOLERANCE,
    PER_CLASS_LIMIT,
    RELIABILITY_TOLERANCE,
    AttributionSpec,
    attribution_label,
    default_method,
    default_schedule,
)
from captum_rank.audit.sources import DataSource, as_source
from captum_rank.audit.statistics import SpectrumSums, relative_error
from captum_rank.checks import (
    boolean,
    optional_positive_int,
    positive_int,
    real,
)
from captum_rank.defaults import AUDIT_N_STEPS, check_n_steps
from captum_rank.summaries import rank_for_share

# The settings, the exact-or-quadrature decision and the statistics live in their own
# modules; their public names are re-exported here, where they were first defined.
__all__ = [
    "DEFAULT_ATTRIBUTIONS",
    "MAP_TOLERANCE",
    "PER_CLASS_LIMIT",
    "RELIABILITY_TOLERANCE",
    "AttributionSpec",
    "RankSpectrumResult",
    "attribution_label",
    "default_method",
    "default_schedule",
    "exact_rows",
    "rank_spectrum",
    "relative_error",
]

_KIND = "rank-spectrum"


def _int_keys(obj: Mapping[str, Any], convert: Callable[[Any], Any]) -> dict[int, Any]:
    return {int(k): convert(v) for k, v in obj.items()}


@dataclass
class RankSpectrumResult(_jsonio.JsonExport):
    r"""Mean rank attributions per model and attribution (and per class), and their reliability.

    Attributes:
        models: model names.
        attributions: ``{attribution name: schedule id}``, e.g. ``{"rig": "arc_length",
            "ig": "linear"}``.
        r: number of rank components, ``min(H, W)``.
        num_classes: number of classes (model outputs).
        n_images: number of images.
        n_steps: path steps.
        method: the quadrature rule (RIG's and Captum's ``method``).
        baseline: the constant baseline ``x'``.
        reliability_tolerance: the relative completeness error above which summaries are
            unreliable.
        sums: ``{attribution: {model: sum over images of R}}`` (``r`` floats).
        abs_sums: the same for ``|R|`` (per image, after summing channels).
        abs_delta_sums: ``{attribution: {model: sum over images of |delta|}}``.
        abs_change_sums: ``{attribution: {model: sum over images of |F_y(x) - F_y(x')|}}``.
        over_reliability_tolerance: ``{attribution: {model: images whose own relative
            error exceeds reliability_tolerance}}``.
        class_sums: ``{attribution: {model: {class: sum of R over its images}}}``, only for
            classes that have images (empty when per-class sums were not kept).
        class_counts: ``{model: {class: images}}`` (targets can differ between models
            for unlabelled images).
        timings: seconds per attribution and model (``{attribution: {model: s}}``) and
            ``total``.
        meta: free-form description.
        exact: ``{attribution: True}`` for the attributions computed exactly by forward
            passes (``n_steps`` and ``method`` do not apply to them; their ``delta`` is
            float rounding), ``False`` for those integrated with the quadrature.

    Examples:
        >>> result = RankSpectrumResult(
        ...     models=["m"], attributions={"rig": "sequential"}, r=3, num_classes=2, n_images=2,
        ...     n_steps=8, method="gausslegendre", baseline=0.0, reliability_tolerance=0.1,
        ...     sums={"rig": {"m": [4.0, 3.0, 1.0]}}, abs_sums={"rig": {"m": [4.0, 3.0, 1.0]}},
        ...     abs_delta_sums={"rig": {"m": 0.2}}, abs_change_sums={"rig": {"m": 8.0}},
        ...     over_reliability_tolerance={"rig": {"m": 0}})
        >>> result.mean_spectrum("m", "rig").tolist()
        [2.0, 1.5, 0.5]
        >>> result.rank_explaining("m", 0.5, "rig"), result.reliable("m", "rig")
        (1, True)
        >>> RankSpectrumResult.from_json(result.to_json()) == result
        True
    """

    models: list[str]
    attributions: dict[str, str]
    r: int
    num_classes: int
    n_images: int
    n_steps: int
    method: str
    baseline: float
    reliability_tolerance: float
    sums: dict[str, dict[str, list[float]]]
    abs_sums: dict[str, dict[str, list[float]]]
    abs_delta_sums: dict[str, dict[str, float]]
    abs_change_sums: dict[str, dict[str, float]]
    over_reliability_tolerance: dict[str, dict[str, int]]
    class_sums: dict[str, dict[str, dict[int, list[float]]]] = field(default_factory=dict)
    class_counts: dict[str, dict[int, int]] = field(default_factory=dict)
    timings: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    exact: dict[str, bool] = field(default_factory=dict)

    def _check(self, model: str, attribution: str) -> None:
        if attribution not in self.sums:
            raise KeyError(f"unknown attribution {attribution!r}; audited: {list(self.sums)}.")
        if model not in self.sums[attribution]:
            raise KeyError(f"unknown model {model!r}; audited: {self.models}.")

    def mean_spectrum(self, model: str, attribution: str, cls: int | None = None,
                      absolute: bool = False) -> np.ndarray:
        r"""The mean rank attribution ``R`` over images (of class ``cls``, or all).

        Args:
            model (str): a model name.
            attribution (str): an attribution name (a key of :attr:`attributions`).
            cls (int, optional): a class index (needs per-class sums), or None for all.
            absolute (bool, optional): average ``|R|`` instead of ``R`` (all images only).

        Returns:
            np.ndarray: ``(r,)`` float64.

        Raises:
            KeyError: unknown model or attribution.
            ValueError: no images, or a class without images (or without per-class sums).
        """
        self._check(model, attribution)
        if cls is None:
            if self.n_images == 0:
                raise ValueError("the audit holds no images.")
            table = (self.abs_sums if absolute else self.sums)[attribution][model]
            return np.asarray(table, dtype=np.float64) / self.n_images
        count = self.class_counts.get(model, {}).get(cls, 0)
        per_class = self.class_sums.get(attribution, {}).get(model, {})
        if not count or cls not in per_class:
            raise ValueError(
                f"class {cls} has no images in this audit (or per-class sums were not kept)."
            )
        return np.asarray(per_class[cls], dtype=np.float64) / count

    def rank_explaining(self, model: str, share: float, attribution: str,
                        cls: int | None = None) -> int | None:
        r"""The rank that explains ``share`` of the output, on the mean spectrum.

        The smallest ``k`` with ``cumsum(R)[k-1] / sum(R) >= share``
        (:func:`~captum_rank.summaries.rank_for_share`); None for an all-zero spectrum.
        """
        return rank_for_share(self.mean_spectrum(model, attribution, cls), share)

    def mean_abs_delta(self, model: str, attribution: str) -> float:
        r"""Mean ``|sum(R) - (F_y(x) - F_y(x'))|`` over the images (quadrature error)."""
        self._check(model, attribution)
        if not self.n_images:
            raise ValueError("the audit holds no images.")
        return self.abs_delta_sums[attribution][model] / self.n_images

    def relative_error(self, model: str, attribution: str) -> float:
        r"""``sum |delta| / sum |F_y(x) - F_y(x')|`` over the images."""
        self._check(model, attribution)
        return relative_error(self.abs_delta_sums[attribution][model],
                              self.abs_change_sums[attribution][model])

    def reliable(self, model: str, attribution: str) -> bool:
        r"""Whether :meth:`relative_error` is at most :attr:`reliability_tolerance`."""
        return self.relative_error(model, attribution) <= self.reliability_tolerance

    def summary(self) -> dict[str, dict[str, dict[str, Any]]]:
        r"""``{model: {attribution: {...}}}``: the numbers every report prints.

        Keys: ``schedule``, ``exact`` (forward-pass exact or quadrature), ``rank_50``,
        ``rank_90``, ``mean_abs_delta``, ``relative_error``,
        ``over_reliability_tolerance`` (images), ``reliable`` and ``mean_total`` (the mean
        of ``sum(R)``, about ``F_y(x) - F_y(x')``).
        """
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for model in self.models:
            out[model] = {}
            for attribution in self.sums:
                spectrum = self.mean_spectrum(model, attribution)
                out[model][attribution] = {
                    "schedule": self.attributions[attribution],
                    "exact": bool(self.exact.get(attribution, False)),
                    "rank_50": rank_for_share(spectrum, 0.5),
                    "rank_90": rank_for_share(spectrum, 0.9),
                    "mean_abs_delta": self.mean_abs_delta(model, attribution),
                    "relative_error": self.relative_error(model, attribution),
                    "over_reliability_tolerance":
                        self.over_reliability_tolerance[attribution][model],
                    "reliable": self.reliable(model, attribution),
                    "mean_total": float(spectrum.sum()),
                }
        return out

    def to_dict(self) -> dict[str, Any]:
        r"""Plain JSON-able data, with the derived summary and mean spectra added."""
        out = asdict(self)
        out["kind"] = _KIND
        out["summary"] = self.summary()
        out["mean_spectra"] = {
            attribution: {m: self.mean_spectrum(m, attribution).tolist() for m in self.models}
            for attribution in self.sums
        }
        return out

    @classmethod
    def from_json(cls, source: str | os.PathLike[str] | dict[str, Any]) -> RankSpectrumResult:
        r"""Read a result written by :meth:`to_json` (JSON text, a file path, or a dict).

        Raises:
            ValueError: the JSON is not a rank-spectrum result.
        """
        data = _jsonio.load_kind(source, _KIND, "rank-spectrum result")

        def floats(values: Any) -> list[float]:
            return [float(v) for v in values]

        def per(obj: Mapping[str, Mapping[str, Any]], convert: Callable[[Any], Any]
                ) -> dict[str, dict[str, Any]]:
            return {attribution: {m: convert(v) for m, v in inner.items()}
                    for attribution, inner in obj.items()}

        return cls(
            models=list(data["models"]),
            attributions={k: str(v) for k, v in data["attributions"].items()},
            r=int(data["r"]),
            num_classes=int(data["num_classes"]),
            n_images=int(data["n_images"]),
            n_steps=int(data["n_steps"]),
            method=str(data["method"]),
            baseline=float(data["baseline"]),
            reliability_tolerance=float(data["reliability_tolerance"]),
            sums=per(data["sums"], floats),
            abs_sums=per(data["abs_sums"], floats),
            abs_delta_sums=per(data["abs_delta_sums"], float),
            abs_change_sums=per(data["abs_change_sums"], float),
            over_reliability_tolerance=per(data["over_reliability_tolerance"], int),
            class_sums=per(data.get("class_sums", {}),
                           lambda v: _int_keys(v, floats)),
            class_counts={m: _int_keys(v, int) for m, v in data.get("class_counts", {}).items()},
            timings=dict(data.get("timings", {})),
            meta=dict(data.get("meta", {})),
            exact={k: bool(v) for k, v in data.get("exact", {}).items()},
        )


def rank_spectrum(
    models: Callable[..., Tensor] | Mapping[str, Callable[..., Tensor]],
    data: tuple[Tensor, Tensor] | Dataset[Any] | Sequence[Any],
    *,
    attributions: Mapping[str, AttributionSpec] | None = None,
    n_steps: int = AUDIT_N_STEPS,
    method: str | None = None,
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
    reliability_tolerance: float = RELIABILITY_TOLERANCE,
    per_class: bool | None = None,
    exact: bool = True,
) -> RankSpectrumResult:
    r"""Mean rank attributions (RIG and IG's rank decomposition) per model, with reliability.

    Each image is attributed to its label (or, unlabelled, to the model's prediction).
    Batches are streamed and only float64 running sums are kept, so memory is bounded by
    one batch (times ``n_steps`` path points, or ``internal_batch_size`` of them).

    Args:
        models: one model or ``{name: model}`` (``(N, C, H, W)`` -> ``(N, classes)``).
        data: ``(images, labels)`` tensors or a map-style data set (label ``-1``:
            unlabelled).
        attributions: ``{name: schedule}`` passed to ``attribute_ranks(schedule=...)``;
            ``None`` as a schedule means the library's default. Default:
            :data:`DEFAULT_ATTRIBUTIONS`.
        n_steps: path steps per image (at least what the quadrature needs, as in RIG:
            :func:`~captum_rank.defaults.check_n_steps`). Default: 32.
        method: the quadrature rule, RIG's ``method`` of ``attribute_ranks``. Default:
            :func:`default_method` (recorded in the result).
        baseline: constant baseline ``x'``. Default: 0 (black).
        num_classes: the data's number of classes; every model must return that many
            scores (checked up front). Default: the models' output width.
        internal_batch_size: path points per forward pass (bounds memory). Default: all
            ``n_steps`` points of a batch at once; exact spectra then pass at most as
            many rows (``n_steps`` per image) at a time.
        batch_size: images per batch. Default: 50.
        limit: only the first ``limit`` images.
        device: where the images go. Default: the first model's device.
        checkpoint: running-sums file to resume from; see
            :func:`~captum_rank.audit.accuracy.rank_accuracy`.
        checkpoint_interval: seconds between checkpoint writes (0: every batch).
        progress: show a progress bar. Default: True.
        distributed: shard over a process group (``None``: when one is initialised).
        meta: stored in the result.
        reliability_tolerance: relative completeness error above which rank summaries are marked
            unreliable. Default: :data:`RELIABILITY_TOLERANCE`.
        per_class: keep per-class sums. Default: when there are at most 20 classes.
        exact: compute each attribution's spectrum exactly by ``r + 1`` forward passes
            (:meth:`~captum_rank.attr.RankIntegratedGradients.exact_ranks`) wherever its
            schedule walks the rank-``k`` curve on these images; the others use the
            quadrature. ``False``: the quadrature for all. Default: True.

    Returns:
        The :class:`RankSpectrumResult`.

    Raises:
        AuditInputError: bad models, data or attributions; labels out of range; a model that
            does not fit the data (checked before any work).

    Examples:
        >>> import torch
        >>> _ = torch.manual_seed(0)
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 3))
        >>> data = (torch.rand(6, 1, 8, 8), torch.tensor([0, 1, 2, 0, 1, 2]))
        >>> result = rank_spectrum(model, data, n_steps=8, progress=False)
        >>> result.mean_spectrum("model", "rig").shape
        (8,)
        >>> result.relative_error("model", "ig") < 1e-4  # a linear model: IG is exact
        True
        >>> result.exact  # grey images: RIG's default curve has the exact form; IG has not
        {'rig': True, 'ig': False}
    """
    guard = InputGuard(data, "data")
    setup = _prepare(models, data, attributions=attributions, n_steps=n_steps,
                     method=method,
                     baseline=baseline, num_classes=num_classes,
                     internal_batch_size=internal_batch_size, batch_size=batch_size,
                     limit=limit, device=device, checkpoint_interval=checkpoint_interval,
                     progress=progress, distributed=distributed,
                     reliability_tolerance=reliability_tolerance, per_class=per_class,
                     exact=exact)
    explainers = {name: RankIntegratedGradients(model) for name, model in setup.named.items()}
    started = time.perf_counter()
    info = dict(meta or {})
    arrays = run_stream(setup.source, partial(_batch_sums, setup, explainers),
                        setup.zeros().to_arrays(), _fingerprint(setup), setup.shard,
                        checkpoint, setup.checkpoint_interval, setup.progress,
                        desc="rank spectra", record=info)
    sums = SpectrumSums.from_arrays(arrays, list(setup.runs), setup.names)
    guard.check()
    return _result(setup, sums, time.perf_counter() - started, info)


@dataclass(frozen=True)
class _Setup:
    """A rank-spectrum run's checked arguments and the decisions made from them."""

    named: dict[str, Callable[..., Tensor]]
    source: DataSource
    dev: torch.device
    n_classes: int
    keep_classes: bool
    runs: dict[str, AttributionRun]
    n_steps: int
    method: str
    baseline: float
    reliability_tolerance: float
    internal_batch_size: int | None
    batch_size: int
    checkpoint_interval: float
    progress: bool
    shard: Shard

    @property
    def names(self) -> list[str]:
        return list(self.named)

    def zeros(self) -> SpectrumSums:
        return SpectrumSums.zeros(list(self.runs), self.names, self.source.rank,
                                  self.n_classes, self.keep_classes)


def _prepare(models: Any, data: Any, *, attributions: Mapping[str, AttributionSpec] | None,
             n_steps: int, method: str | None, baseline: float, num_classes: int | None,
             internal_batch_size: int | None, batch_size: int, limit: int | None,
             device: str | torch.device | None, checkpoint_interval: float, progress: bool,
             distributed: bool | None, reliability_tolerance: float, per_class: bool | None,
             exact: bool) -> _Setup:
    """Check every argument (in the order users see the errors) and decide the attributions."""
    named = as_model_dict(models)
    n_steps = check_n_steps(n_steps, method)
    batch_size = positive_int(batch_size, "batch_size")
    internal_batch_size = optional_positive_int(internal_batch_size, "internal_batch_size")
    baseline = real(baseline, "baseline")
    reliability_tolerance = real(reliability_tolerance, "reliability_tolerance", minimum=0.0)
    checkpoint_interval = real(checkpoint_interval, "checkpoint_interval", minimum=0.0)
    progress = boolean(progress, "progress")
    source = as_source(data, batch_size, optional_positive_int(limit, "limit"))
    chosen = attribution_map(attributions, DEFAULT_ATTRIBUTIONS)
    dev = model_device(next(iter(named.values())), device)
    if num_classes is not None:
        num_classes = positive_int(num_classes, "num_classes")
    probe = source.items(0, min(2, source.n_items))[0].to(dev)
    n_classes = check_models_on_data(named, probe, num_classes)
    keep_classes = n_classes <= PER_CLASS_LIMIT if per_class is None else boolean(
        per_class, "per_class")
    shard = current_shard(distributed)
    runs = plan_attributions(chosen, probe, exact=boolean(exact, "exact"), n_steps=n_steps,
                             method=method, internal_batch_size=internal_batch_size)
    return _Setup(named, source, dev, n_classes, keep_classes, runs, n_steps,
                  integration_method(method), baseline,
                  reliability_tolerance, internal_batch_size, batch_size, checkpoint_interval,
                  progress, shard)


def _batch_sums(setup: _Setup, explainers: Mapping[str, RankIntegratedGradients],
                images: Tensor, labels: Tensor) -> dict[str, np.ndarray]:
    """One batch's partial sums, as the runner adds them."""
    if int(labels.max()) >= setup.n_classes or int(labels.min()) < -1:
        raise AuditInputError(
            f"labels must lie in [0, {setup.n_classes}) (the models' outputs), or be -1 for "
            f"an unlabelled image; got {int(labels.min())}..{int(labels.max())}."
        )
    x = images.to(setup.dev)
    targets = {m: targets_for(setup.named[m], x, labels.to(setup.dev)) for m in setup.names}
    sums = setup.zeros()
    sums.add_images(targets, int(x.shape[0]))
    for attribution, run in setup.runs.items():
        for m in setup.names:
            start = time.perf_counter()
            ranks, delta = run.ranks(explainers[m], x, setup.baseline, targets[m])
            sums.attributions[attribution][m].update(ranks, delta, targets[m],
                                                     setup.reliability_tolerance,
                                                     time.perf_counter() - start)
    return sums.to_arrays()


def _fingerprint(setup: _Setup) -> dict[str, Any]:
    """Everything that decides the sums: a checkpoint of another run is not resumed."""
    return {
        "kind": _KIND,
        "models": {name: digest_model(model) for name, model in setup.named.items()},
        "data": setup.source.fingerprint(),
        "attributions": {attribution: run.schedule for attribution, run in setup.runs.items()},
        "exact": {attribution: run.exact for attribution, run in setup.runs.items()},
        "n_steps": setup.n_steps, "method": setup.method, "baseline": setup.baseline,
        "num_classes": setup.n_classes, "internal_batch_size": setup.internal_batch_size,
        "batch_size": setup.batch_size, "reliability_tolerance": setup.reliability_tolerance,
        "per_class": setup.keep_classes,
    }


def _class_sums(setup: _Setup, sums: SpectrumSums
                ) -> dict[str, dict[str, dict[int, list[float]]]]:
    """``{attribution: {model: {class: sum of R}}}`` for the classes with images."""
    if not setup.keep_classes:
        return {}
    present = sums.present_classes()
    out: dict[str, dict[str, dict[int, list[float]]]] = {}
    for attribution, inner in sums.attributions.items():
        out[attribution] = {}
        for m, attribution_sums in inner.items():
            table = attribution_sums.classes
            if table is None:
                raise RuntimeError("per-class sums were kept but not found")
            out[attribution][m] = {c: table[c].tolist() for c in present[m]}
    return out


def _result(setup: _Setup, sums: SpectrumSums, seconds: float,
            info: dict[str, Any]) -> RankSpectrumResult:
    """The result of the summed statistics."""
    return RankSpectrumResult(
        models=setup.names,
        attributions={attribution: run.schedule for attribution, run in setup.runs.items()},
        r=setup.source.rank,
        num_classes=setup.n_classes,
        n_images=sums.count,
        n_steps=setup.n_steps,
        method=setup.method,
        baseline=setup.baseline,
        reliability_tolerance=setup.reliability_tolerance,
        sums=sums.per_attribution(lambda s: s.sum.tolist()),
        abs_sums=sums.per_attribution(lambda s: s.abs.tolist()),
        abs_delta_sums=sums.per_attribution(lambda s: s.delta),
        abs_change_sums=sums.per_attribution(lambda s: s.change),
        over_reliability_tolerance=sums.per_attribution(lambda s: s.over),
        class_sums=_class_sums(setup, sums),
        class_counts=sums.present_classes() if setup.keep_classes else {},
        timings={**sums.per_attribution(lambda s: s.seconds), "total": seconds,
                 "processes": setup.shard.world_size},
        meta=info,
        exact={attribution: run.exact for attribution, run in setup.runs.items()},
    )
