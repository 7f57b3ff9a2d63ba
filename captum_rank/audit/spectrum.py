r"""Rank-spectrum summaries: where in the singular spectrum each model's evidence lives.

For every image ``x`` with target ``y`` (its label; the model's own prediction for an
unlabelled image) and every model, the audit computes the rank attributions
``R = RankIntegratedGradients(model).attribute_ranks(x, target=y, schedule=...)`` (summed
over channels: ``R_i`` is the part of ``F_y(x) - F_y(x')`` carried by singular component
``i`` of ``x - x'``), for each entry of ``methods`` (``{name: schedule}``). By default:

* ``"rig"``: RIG with the library's default schedule (whatever
  :meth:`~captum_rank.attr.RankIntegratedGradients.attribute_ranks` uses when no
  ``schedule`` is given; the result records its name);
* ``"ig"``: Captum's Integrated Gradients decomposed over the same singular components
  (RIG with ``schedule="linear"`` *is* IG; its ``attribute_ranks`` splits IG's total
  into the components).

It keeps float64 running sums of ``R`` and ``|R|`` (overall and, for data with few
classes, per class), and of the completeness error: ``delta = sum(R) - (F_y(x) -
F_y(x'))`` and the output change ``F_y(x) - F_y(x')`` itself.

**Exact spectra.** Where a method's path is the rank-``k`` curve with components entering
one at a time, its converged ``R`` is exactly ``R_i = F_y(x_i) - F_y(x_{i-1})`` (``x_k``:
the baseline plus the rank-``k`` approximation of ``x - x'``;
:meth:`~captum_rank.attr.RankIntegratedGradients.exact_ranks`): ``r + 1`` forward passes,
no quadrature error. With ``exact=True`` (the default) every method whose schedule admits
it uses it: the default ``rig`` (``arc_length``) on grey images or ``channels="joint"``,
``sequential`` on any image (colour: summed over channels, as the audit keeps it anyway).
Other methods (``ig``, ``spectral``, the default on colour with per-channel SVDs, whose
per-channel timing is a different path) use the quadrature with ``n_steps``. The result
records which in :attr:`RankSpectrumResult.exact` and in each summary row. The rank
summaries
(``k50``, ``k90``, :func:`~captum_rank.summaries.rank_for_share` of the mean spectrum)
are marked **unreliable** when the relative completeness error
``sum |delta| / sum |F_y(x) - F_y(x')|`` exceeds ``tolerance`` (default
:data:`RELIABILITY_TOLERANCE`): the quadrature has not converged, so the split of the
output over the components is not trustworthy either; raise ``n_steps``.
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
from captum_rank.attr import RankIntegratedGradients
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
from captum_rank.audit.errors import AuditInputError
from captum_rank.audit.sources import as_source
from captum_rank.checks import (
    UserInputError,
    boolean,
    optional_positive_int,
    positive_int,
    real,
)
from captum_rank.defaults import (
    ADAPTIVE,
    AUDIT_N_STEPS,
    DEFAULT_SCHEDULE,
    MAP_TOLERANCE,
    RELIABILITY_TOLERANCE,
    check_n_steps,
)
from captum_rank.exact import check_exact
from captum_rank.schedules import RankSchedule, resolve_schedule
from captum_rank.summaries import rank_for_share

__all__ = [
    "DEFAULT_METHODS",
    "MAP_TOLERANCE",
    "RELIABILITY_TOLERANCE",
    "RankSpectrumResult",
    "default_quadrature",
    "default_schedule",
    "exact_rows",
    "method_label",
    "rank_spectrum",
    "relative_error",
]

_KIND = "rank-spectrum"

#: The default methods: RIG with the library's default schedule (``None``), and IG
#: decomposed over the singular components (``"linear"``).
DEFAULT_METHODS: dict[str, str | None] = {"rig": None, "ig": "linear"}

#: Per-class sums are kept by default for data with at most this many classes.
PER_CLASS_LIMIT = 20

MethodSpec = str | RankSchedule | None


def default_schedule() -> str:
    r"""The schedule RIG uses when none is given (:data:`captum_rank.defaults.DEFAULT_SCHEDULE`).

    Returns:
        str: its name.

    Examples:
        >>> from captum_rank.schedules import available_schedules
        >>> default_schedule() in available_schedules()
        True
    """
    return DEFAULT_SCHEDULE


def exact_rows(internal_batch_size: int | None, n_steps: int, n_images: int) -> int:
    r"""Path points per forward pass of an exact spectrum in the audit and explain.

    ``r + 1`` points per image can be many more than ``n_steps`` (225 on photos), so
    without a limit it passes at most the rows the quadrature would.

    Args:
        internal_batch_size (int or None): the user's limit, if any.
        n_steps (int): the quadrature's steps.
        n_images (int): images in the batch.

    Returns:
        int: rows per pass.

    Examples:
        >>> exact_rows(None, 32, 4), exact_rows(10, 32, 4)
        (128, 10)
    """
    return internal_batch_size or max(1, n_steps) * n_images


def default_quadrature() -> str:
    r"""The quadrature ``method`` the audit integrates every method with when none is given.

    RIG's own default (``method=None``) is this rule on rank paths and Captum's
    ``gausslegendre`` on the straight line; the audit passes the rule explicitly, so that
    IG (``"linear"``) and RIG are integrated alike and the report names one rule.

    Returns:
        str: its name.

    Examples:
        >>> isinstance(default_quadrature(), str)
        True
    """
    return ADAPTIVE


def _schedule_id(schedule: MethodSpec) -> str:
    if schedule is None:
        return default_schedule()
    if isinstance(schedule, str):
        return schedule
    return f"{type(schedule).__qualname__}({sorted(vars(schedule).items())})"


def method_label(name: str, schedule: str) -> str:
    r"""How reports name a method: ``"IG"`` for the linear schedule, else ``"RIG (name)"``.

    Args:
        name (str): the method's key.
        schedule (str): its schedule id.

    Returns:
        str: the label.

    Examples:
        >>> method_label("ig", "linear"), method_label("rig", "sequential")
        ('IG', 'RIG (sequential)')
    """
    if schedule == "linear":
        return "IG" if name.lower() in ("ig", "linear") else f"{name} (IG)"
    return f"RIG ({schedule})" if name.lower() == "rig" else f"{name} ({schedule})"


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


def _admits_exact(spec: MethodSpec, images: Tensor) -> bool:
    """Whether the method's converged spectrum on images like these is F(x_i) - F(x_{i-1})."""
    schedule = resolve_schedule(spec if spec is not None else default_schedule())
    try:
        check_exact(schedule, images)
    except UserInputError:
        return False
    return True


def _int_keys(obj: Mapping[str, Any], convert: Callable[[Any], Any]) -> dict[int, Any]:
    return {int(k): convert(v) for k, v in obj.items()}


@dataclass
class RankSpectrumResult(_jsonio.JsonExport):
    r"""Mean rank attributions per model and method (and per class), with their reliability.

    Attributes:
        models: model names.
        methods: ``{method name: schedule id}``, e.g. ``{"rig": "arc_length",
            "ig": "linear"}``.
        r: number of rank components, ``min(H, W)``.
        num_classes: number of classes (model outputs).
        n_images: number of images.
        n_steps: path steps.
        quadrature: Captum's quadrature ``method``.
        baseline: the constant baseline ``x'``.
        tolerance: the relative completeness error above which summaries are unreliable.
        sums: ``{method: {model: sum over images of R}}`` (``r`` floats).
        abs_sums: the same for ``|R|`` (per image, after summing channels).
        abs_delta_sums: ``{method: {model: sum over images of |delta|}}``.
        abs_change_sums: ``{method: {model: sum over images of |F_y(x) - F_y(x')|}}``.
        over_tolerance: ``{method: {model: images whose own relative error exceeds
            tolerance}}``.
        class_sums: ``{method: {model: {class: sum of R over its images}}}``, only for
            classes that have images (empty when per-class sums were not kept).
        class_counts: ``{model: {class: images}}`` (targets can differ between models
            for unlabelled images).
        timings: seconds per method and model (``{method: {model: s}}``) and ``total``.
        meta: free-form description.
        exact: ``{method: True}`` for the methods computed exactly by forward passes
            (``n_steps`` and ``quadrature`` do not apply to them; their ``delta`` is float
            rounding), ``False`` for those integrated with the quadrature.

    Examples:
        >>> result = RankSpectrumResult(
        ...     models=["m"], methods={"rig": "sequential"}, r=3, num_classes=2, n_images=2,
        ...     n_steps=8, quadrature="gausslegendre", baseline=0.0, tolerance=0.1,
        ...     sums={"rig": {"m": [4.0, 3.0, 1.0]}}, abs_sums={"rig": {"m": [4.0, 3.0, 1.0]}},
        ...     abs_delta_sums={"rig": {"m": 0.2}}, abs_change_sums={"rig": {"m": 8.0}},
        ...     over_tolerance={"rig": {"m": 0}})
        >>> result.mean_spectrum("m", "rig").tolist()
        [2.0, 1.5, 0.5]
        >>> result.rank_explaining("m", 0.5, "rig"), result.reliable("m", "rig")
        (1, True)
        >>> RankSpectrumResult.from_json(result.to_json()) == result
        True
    """

    models: list[str]
    methods: dict[str, str]
    r: int
    num_classes: int
    n_images: int
    n_steps: int
    quadrature: str
    baseline: float
    tolerance: float
    sums: dict[str, dict[str, list[float]]]
    abs_sums: dict[str, dict[str, list[float]]]
    abs_delta_sums: dict[str, dict[str, float]]
    abs_change_sums: dict[str, dict[str, float]]
    over_tolerance: dict[str, dict[str, int]]
    class_sums: dict[str, dict[str, dict[int, list[float]]]] = field(default_factory=dict)
    class_counts: dict[str, dict[int, int]] = field(default_factory=dict)
    timings: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    exact: dict[str, bool] = field(default_factory=dict)

    def _check(self, model: str, method: str) -> None:
        if method not in self.sums:
            raise KeyError(f"unknown method {method!r}; audited: {list(self.sums)}.")
        if model not in self.sums[method]:
            raise KeyError(f"unknown model {model!r}; audited: {self.models}.")

    def mean_spectrum(self, model: str, method: str, cls: int | None = None,
                      absolute: bool = False) -> np.ndarray:
        r"""The mean rank attribution ``R`` over images (of class ``cls``, or all).

        Args:
            model (str): a model name.
            method (str): a method name (a key of :attr:`methods`).
            cls (int, optional): a class index (needs per-class sums), or None for all.
            absolute (bool, optional): average ``|R|`` instead of ``R`` (all images only).

        Returns:
            np.ndarray: ``(r,)`` float64.

        Raises:
            KeyError: unknown model or method.
            ValueError: no images, or a class without images (or without per-class sums).
        """
        self._check(model, method)
        if cls is None:
            if self.n_images == 0:
                raise ValueError("the audit holds no images.")
            table = (self.abs_sums if absolute else self.sums)[method][model]
            return np.asarray(table, dtype=np.float64) / self.n_images
        count = self.class_counts.get(model, {}).get(cls, 0)
        per_class = self.class_sums.get(method, {}).get(model, {})
        if not count or cls not in per_class:
            raise ValueError(
                f"class {cls} has no images in this audit (or per-class sums were not kept)."
            )
        return np.asarray(per_class[cls], dtype=np.float64) / count

    def rank_explaining(self, model: str, share: float, method: str,
                        cls: int | None = None) -> int | None:
        r"""The rank that explains ``share`` of the output, on the mean spectrum.

        The smallest ``k`` with ``cumsum(R)[k-1] / sum(R) >= share``
        (:func:`~captum_rank.summaries.rank_for_share`); None for an all-zero spectrum.
        """
        return rank_for_share(self.mean_spectrum(model, method, cls), share)

    def mean_abs_delta(self, model: str, method: str) -> float:
        r"""Mean ``|sum(R) - (F_y(x) - F_y(x'))|`` over the images (quadrature error)."""
        self._check(model, method)
        if not self.n_images:
            raise ValueError("the audit holds no images.")
        return self.abs_delta_sums[method][model] / self.n_images

    def relative_error(self, model: str, method: str) -> float:
        r"""``sum |delta| / sum |F_y(x) - F_y(x')|`` over the images."""
        self._check(model, method)
        return relative_error(self.abs_delta_sums[method][model],
                              self.abs_change_sums[method][model])

    def reliable(self, model: str, method: str) -> bool:
        r"""Whether :meth:`relative_error` is at most :attr:`tolerance`."""
        return self.relative_error(model, method) <= self.tolerance

    def summary(self) -> dict[str, dict[str, dict[str, Any]]]:
        r"""``{model: {method: {...}}}``: the numbers every report prints.

        Keys: ``schedule``, ``exact`` (forward-pass exact or quadrature), ``rank_50``,
        ``rank_90``, ``mean_abs_delta``, ``relative_error``, ``over_tolerance`` (images),
        ``reliable`` and ``mean_total``
        (the mean of ``sum(R)``, about ``F_y(x) - F_y(x')``).
        """
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for model in self.models:
            out[model] = {}
            for method in self.sums:
                spectrum = self.mean_spectrum(model, method)
                out[model][method] = {
                    "schedule": self.methods[method],
                    "exact": bool(self.exact.get(method, False)),
                    "rank_50": rank_for_share(spectrum, 0.5),
                    "rank_90": rank_for_share(spectrum, 0.9),
                    "mean_abs_delta": self.mean_abs_delta(model, method),
                    "relative_error": self.relative_error(model, method),
                    "over_tolerance": self.over_tolerance[method][model],
                    "reliable": self.reliable(model, method),
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

        def floats(values: Any) -> list[float]:
            return [float(v) for v in values]

        def per(obj: Mapping[str, Mapping[str, Any]], convert: Callable[[Any], Any]
                ) -> dict[str, dict[str, Any]]:
            return {meth: {m: convert(v) for m, v in inner.items()} for meth, inner in obj.items()}

        return cls(
            models=list(data["models"]),
            methods={k: str(v) for k, v in data["methods"].items()},
            r=int(data["r"]),
            num_classes=int(data["num_classes"]),
            n_images=int(data["n_images"]),
            n_steps=int(data["n_steps"]),
            quadrature=str(data["quadrature"]),
            baseline=float(data["baseline"]),
            tolerance=float(data["tolerance"]),
            sums=per(data["sums"], floats),
            abs_sums=per(data["abs_sums"], floats),
            abs_delta_sums=per(data["abs_delta_sums"], float),
            abs_change_sums=per(data["abs_change_sums"], float),
            over_tolerance=per(data["over_tolerance"], int),
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
    methods: Mapping[str, MethodSpec] | None = None,
    n_steps: int = AUDIT_N_STEPS,
    quadrature: str | None = None,
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
    tolerance: float = RELIABILITY_TOLERANCE,
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
        methods: ``{name: schedule}`` passed to ``attribute_ranks(schedule=...)``;
            ``None`` as a schedule means the library's default. Default:
            :data:`DEFAULT_METHODS`.
        n_steps: path steps per image (at least what the quadrature needs, as in RIG:
            :func:`~captum_rank.defaults.check_n_steps`). Default: 32.
        quadrature: the quadrature ``method`` of ``attribute_ranks``. Default: the
            library's default (recorded in the result).
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
        tolerance: relative completeness error above which rank summaries are marked
            unreliable. Default: :data:`RELIABILITY_TOLERANCE`.
        per_class: keep per-class sums. Default: when there are at most 20 classes.
        exact: compute each method's spectrum exactly by ``r + 1`` forward passes
            (:meth:`~captum_rank.attr.RankIntegratedGradients.exact_ranks`) wherever its
            schedule walks the rank-``k`` curve on these images; the others use the
            quadrature. ``False``: the quadrature for all. Default: True.

    Returns:
        The :class:`RankSpectrumResult`.

    Raises:
        AuditInputError: bad models, data or methods; labels out of range; a model that
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
    named = as_model_dict(models)
    n_steps = check_n_steps(n_steps, quadrature)
    batch_size = positive_int(batch_size, "batch_size")
    internal_batch_size = optional_positive_int(internal_batch_size, "internal_batch_size")
    baseline = real(baseline, "baseline")
    tolerance = real(tolerance, "tolerance", minimum=0.0)
    checkpoint_interval = real(checkpoint_interval, "checkpoint_interval", minimum=0.0)
    progress = boolean(progress, "progress")
    source = as_source(data, batch_size, optional_positive_int(limit, "limit"))
    method_map = dict(methods) if methods is not None else dict(DEFAULT_METHODS)
    if not method_map:
        raise AuditInputError("`methods` is empty; give e.g. {'rig': None, 'ig': 'linear'}.")
    names = list(named)
    dev = model_device(next(iter(named.values())), device)
    if num_classes is not None:
        num_classes = positive_int(num_classes, "num_classes")
    probe = source.items(0, min(2, source.n_items))[0].to(dev)
    width = check_models_on_data(named, probe, num_classes)
    n_classes = width
    keep_classes = n_classes <= PER_CLASS_LIMIT if per_class is None else boolean(
        per_class, "per_class")
    r = source.rank
    shard = current_shard(distributed)
    explainers = {name: RankIntegratedGradients(model) for name, model in named.items()}
    keys = [(meth, m) for meth in method_map for m in names]
    schedules = {meth: _schedule_id(spec) for meth, spec in method_map.items()}
    quadrature_id = quadrature if quadrature is not None else default_quadrature()
    exact = boolean(exact, "exact")
    exact_map = {meth: exact and _admits_exact(spec, probe) for meth, spec in method_map.items()}

    def step(images: Tensor, labels: Tensor) -> dict[str, np.ndarray]:
        if int(labels.max()) >= n_classes or int(labels.min()) < -1:
            raise AuditInputError(
                f"labels must lie in [0, {n_classes}) (the models' outputs), or be -1 for "
                f"an unlabelled image; got {int(labels.min())}..{int(labels.max())}."
            )
        x = images.to(dev)
        out: dict[str, np.ndarray] = {"count": np.array([x.shape[0]], dtype=np.int64)}
        targets = {m: targets_for(named[m], x, labels.to(dev)) for m in names}
        for m in names:
            out[f"{m}/class_count"] = np.bincount(
                targets[m].cpu().numpy(), minlength=n_classes).astype(np.int64)
        for meth, m in keys:
            start = time.perf_counter()
            kwargs: dict[str, Any] = {}
            if method_map[meth] is not None:
                kwargs["schedule"] = method_map[meth]
            if exact_map[meth]:
                rows = exact_rows(internal_batch_size, n_steps, int(x.shape[0]))
                ranks, delta = explainers[m].exact_ranks(
                    x, baselines=baseline, target=targets[m], internal_batch_size=rows,
                    return_convergence_delta=True, **kwargs,
                )
            else:
                kwargs["method"] = quadrature_id
                ranks, delta = explainers[m].attribute_ranks(
                    x, baselines=baseline, target=targets[m], n_steps=n_steps,
                    internal_batch_size=internal_batch_size, return_convergence_delta=True,
                    **kwargs,
                )
            per_image = ranks.detach().to(torch.float64).sum(dim=1).cpu()  # (N, r)
            delta64 = delta.detach().to(torch.float64).cpu().abs()
            change = (per_image.sum(dim=1) - delta.detach().to(torch.float64).cpu()).abs()
            over = delta64 > tolerance * change
            out[f"{meth}/{m}/sum"] = per_image.sum(dim=0).numpy()
            out[f"{meth}/{m}/abs"] = per_image.abs().sum(dim=0).numpy()
            out[f"{meth}/{m}/delta"] = np.array([float(delta64.sum())])
            out[f"{meth}/{m}/change"] = np.array([float(change.sum())])
            out[f"{meth}/{m}/over"] = np.array([int(over.sum())], dtype=np.int64)
            if keep_classes:
                table = np.zeros((n_classes, r))
                np.add.at(table, targets[m].cpu().numpy(), per_image.numpy())
                out[f"{meth}/{m}/class"] = table
            out[f"{meth}/{m}/seconds"] = np.array([time.perf_counter() - start])
        return out

    init: dict[str, np.ndarray] = {"count": np.zeros(1, dtype=np.int64)}
    for m in names:
        init[f"{m}/class_count"] = np.zeros(n_classes, dtype=np.int64)
    for meth, m in keys:
        init[f"{meth}/{m}/sum"] = np.zeros(r)
        init[f"{meth}/{m}/abs"] = np.zeros(r)
        init[f"{meth}/{m}/delta"] = np.zeros(1)
        init[f"{meth}/{m}/change"] = np.zeros(1)
        init[f"{meth}/{m}/over"] = np.zeros(1, dtype=np.int64)
        if keep_classes:
            init[f"{meth}/{m}/class"] = np.zeros((n_classes, r))
        init[f"{meth}/{m}/seconds"] = np.zeros(1)
    fingerprint = {
        "kind": _KIND,
        "models": {name: digest_model(model) for name, model in named.items()},
        "data": source.fingerprint(),
        "methods": schedules, "exact": exact_map,
        "n_steps": n_steps, "quadrature": quadrature_id, "baseline": baseline,
        "num_classes": n_classes, "internal_batch_size": internal_batch_size,
        "batch_size": batch_size, "tolerance": tolerance, "per_class": keep_classes,
    }
    started = time.perf_counter()
    info = dict(meta or {})
    sums = run_stream(source, step, init, fingerprint, shard, checkpoint,
                      checkpoint_interval, progress, desc="rank spectra", record=info)
    counts = {m: {c: int(v) for c, v in enumerate(sums[f"{m}/class_count"]) if v}
              for m in names}
    class_sums: dict[str, dict[str, dict[int, list[float]]]] = {}
    if keep_classes:
        class_sums = {meth: {m: {c: sums[f"{meth}/{m}/class"][c].tolist() for c in counts[m]}
                             for m in names} for meth in method_map}
    guard.check()
    return RankSpectrumResult(
        models=names,
        methods=schedules,
        r=r,
        num_classes=n_classes,
        n_images=int(sums["count"][0]),
        n_steps=n_steps,
        quadrature=quadrature_id,
        baseline=baseline,
        tolerance=tolerance,
        sums={meth: {m: sums[f"{meth}/{m}/sum"].tolist() for m in names} for meth in method_map},
        abs_sums={meth: {m: sums[f"{meth}/{m}/abs"].tolist() for m in names}
                  for meth in method_map},
        abs_delta_sums={meth: {m: float(sums[f"{meth}/{m}/delta"][0]) for m in names}
                        for meth in method_map},
        abs_change_sums={meth: {m: float(sums[f"{meth}/{m}/change"][0]) for m in names}
                         for meth in method_map},
        over_tolerance={meth: {m: int(sums[f"{meth}/{m}/over"][0]) for m in names}
                        for meth in method_map},
        class_sums=class_sums,
        class_counts=counts if keep_classes else {},
        timings={
            **{meth: {m: float(sums[f"{meth}/{m}/seconds"][0]) for m in names}
               for meth in method_map},
            "total": time.perf_counter() - started,
            "processes": shard.world_size,
        },
        meta=info,
        exact=exact_map,
    )
