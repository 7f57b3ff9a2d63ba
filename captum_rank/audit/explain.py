r"""Explain a few images: IG and RIG maps, rank spectra, the rank path, and reliability.

:func:`explain` is the library function behind ``captum-rank explain`` and the demo's
image panels. For every model and image it records the predicted class (with its name
and probability), attributes the target with every attribution of ``attributions`` (by default
RIG and IG, which is RIG with ``schedule="linear"``; on natural photos RIG walks Spectral
IG's path, whose maps converge in far fewer evaluations: :func:`default_attributions`), and
keeps each attribution's pixel map, its rank spectrum
(``attribute_with_ranks``, summed over channels) with ``k50``/``k90``, and its
completeness error relative to the output change, ``|delta| / |F(x) - F(x')|``. Rank
summaries whose relative error exceeds ``reliability_tolerance`` are marked unreliable. A small
completeness error does not make a converged map, so every map also carries its
estimated relative L2 error ``||A_n - A_{n/2}|| / ||A_n||`` and the evaluations it took:
with the adaptive rule the map is refined until that estimate is at most
``map_tolerance`` (``n_steps`` is then the budget), and a map that misses it is marked
not converged, warned about, and not drawn by the report. It also
walks one image along the rank path: its rank-``k`` approximations and the model's
probability of the target at each. With ``bands=`` it also splits RIG's map of the
rank-``k`` curve by rank band
(:meth:`~captum_rank.RankIntegratedGradients.attribute_bands`): where the low-rank and
the high-rank evidence lies. The result is data (:class:`ExplainResult`); the
figures are drawn by :func:`captum_rank.audit.report.write_report`: one per image by
:func:`captum_rank.audit.explain_figures.plot_explained_image`, its maps over the photo
(or as signed or absolute heat maps, ``view``) with every map pixel at least one screen
pixel and the colour-scale rule (each map its own scale, one shared scale, or both rows)
written on the figure.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from captum_rank._model_checks import InputGuard
from captum_rank.attr import RankIntegratedGradients
from captum_rank.audit import _jsonio
from captum_rank.audit._attributions import (
    AttributionRun,
    attribution_map,
    check_rig_options,
    exact_curve,
    integration_method,
    plan_attributions,
)
from captum_rank.audit._bands import band_items, check_bands
from captum_rank.audit._models import as_model_dict, check_models_on_data, model_device
from captum_rank.audit.errors import AuditInputError
from captum_rank.audit.settings import (
    PHOTO_ATTRIBUTIONS,
    PHOTO_SIZE,
    AttributionSpec,
    default_attributions,
)
from captum_rank.audit.statistics import relative_error
from captum_rank.bands import check_segment_steps
from captum_rank.checks import (
    UserTypeError,
    boolean,
    integer,
    optional_positive_int,
    real,
)
from captum_rank.defaults import (
    AUDIT_N_STEPS,
    MAP_TOLERANCE,
    RELIABILITY_TOLERANCE,
    check_n_steps,
)
from captum_rank.rank_path import default_path_ranks
from captum_rank.summaries import rank_for_share
from captum_rank.svd import rank_points

# default_path_ranks is rank_path's, re-exported: the one default for every rank path shown;
# PHOTO_ATTRIBUTIONS, PHOTO_SIZE and default_attributions are the audit's settings, re-exported.
__all__ = ["PHOTO_ATTRIBUTIONS", "PHOTO_SIZE", "ExplainResult", "default_attributions",
           "default_path_ranks", "explain"]

_KIND = "rank-explanation"


@dataclass
class ExplainResult(_jsonio.JsonExport):
    r"""What :func:`explain` found, per model and image (JSON holds all but the arrays).

    Attributes:
        models: model names.
        attributions: ``{attribution name: schedule id}``.
        image_names: one name per image.
        n_steps, method, baseline, reliability_tolerance, map_tolerance: the settings
            (``method``: the quadrature rule).
        items: ``{model: [per image: {image, target, target_name, prediction,
            prediction_name, probability, target_probability, note, attributions: {name:
            {delta, change, relative_error, reliable, map_error, map_converged,
            evaluations, rank_50, rank_90, spectrum}}, exact: {spectrum, delta, rank_50,
            rank_90}}]}``; ``exact`` (with ``exact=True``) is the rank-``k`` curve's exact
            spectrum ``F(x_k) - F(x_{k-1})``, summed over channels.
        path: ``{model: {image, target, target_name, ranks, probabilities}}``: one image
            along the rank path.
        meta: free-form description.
        images: ``(N, C, H, W)`` inputs (not in the JSON).
        maps: ``{model: {attribution: (N, C, H, W) attributions}}`` (not in the JSON).
        path_images: ``(K, C, H, W)`` rank-``k`` approximations of the path image (not in
            the JSON).
        band_maps: ``{model: (B, N, C, H, W)}`` rank-band maps (with ``bands=``; not in
            the JSON); each item's ``bands`` holds their labels, totals and exact totals.
        rig_options: the further RIG options every map used (``explain``'s
            ``rig_options``).

    Examples:
        >>> import torch
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3))
        >>> result = explain({"m": model}, torch.rand(2, 1, 4, 4), n_steps=4)
        >>> first = result.items["m"][0]["attributions"]
        >>> sorted(first), first["ig"]["reliable"]
        (['ig', 'rig'], True)
        >>> ExplainResult.from_json(result.to_json()).items == result.items
        True
    """

    models: list[str]
    attributions: dict[str, str]
    image_names: list[str]
    n_steps: int
    method: str
    baseline: float
    reliability_tolerance: float
    items: dict[str, list[dict[str, Any]]]
    path: dict[str, dict[str, Any]]
    meta: dict[str, Any] = field(default_factory=dict)
    map_tolerance: float = MAP_TOLERANCE
    images: np.ndarray | None = field(default=None, repr=False, compare=False)
    maps: dict[str, dict[str, np.ndarray]] = field(default_factory=dict, repr=False,
                                                   compare=False)
    path_images: dict[str, np.ndarray] = field(default_factory=dict, repr=False,
                                               compare=False)
    band_maps: dict[str, np.ndarray] = field(default_factory=dict, repr=False,
                                             compare=False)
    rig_options: dict[str, Any] = field(default_factory=dict)

    def spectra(self, attribution: str) -> dict[str, np.ndarray]:
        r"""``{model: (N, r)}`` rank spectra of ``attribution``, one row per image."""
        return {m: np.asarray([item["attributions"][attribution]["spectrum"] for item in items])
                for m, items in self.items.items()}

    def exact_spectra(self) -> dict[str, np.ndarray]:
        r"""``{model: (N, r)}`` exact rank spectra ``F(x_k) - F(x_{k-1})`` of the rank-``k``
        curve (summed over channels), one row per image; empty if not computed."""
        return {m: np.asarray([item["exact"]["spectrum"] for item in items])
                for m, items in self.items.items() if items and "exact" in items[0]}

    def reliable(self) -> bool:
        r"""Whether every rank summary of every model, image and attribution is reliable."""
        return all(v["reliable"] for items in self.items.values() for item in items
                   for v in item["attributions"].values())

    def unconverged_maps(self) -> list[tuple[str, str, str, float]]:
        r"""``(model, image, attribution, estimated map error)`` of every map above
        :attr:`map_tolerance` (empty for results written before map errors existed)."""
        return [(m, item["image"], attribution, float(v["map_error"]))
                for m, items in self.items.items() for item in items
                for attribution, v in item["attributions"].items()
                if not v.get("map_converged", True)]

    def to_dict(self) -> dict[str, Any]:
        r"""Plain JSON-able data (without the image and map arrays)."""
        return {
            "kind": _KIND, "models": self.models, "attributions": self.attributions,
            "image_names": self.image_names, "n_steps": self.n_steps,
            "method": self.method, "baseline": self.baseline,
            "reliability_tolerance": self.reliability_tolerance,
            "map_tolerance": self.map_tolerance, "rig_options": self.rig_options,
            "items": self.items, "path": self.path, "meta": self.meta,
        }

    @classmethod
    def from_json(cls, source: str | os.PathLike[str] | dict[str, Any]) -> ExplainResult:
        r"""Read what :meth:`to_json` wrote (without the arrays).

        Raises:
            ValueError: the JSON is not an explanation.
        """
        data = _jsonio.load_kind(source, _KIND, "rank explanation")
        return cls(
            models=list(data["models"]), attributions=dict(data["attributions"]),
            image_names=list(data["image_names"]), n_steps=int(data["n_steps"]),
            method=str(data["method"]), baseline=float(data["baseline"]),
            reliability_tolerance=float(data["reliability_tolerance"]),
            items=dict(data["items"]),
            path=dict(data["path"]), meta=dict(data.get("meta", {})),
            map_tolerance=float(data.get("map_tolerance", MAP_TOLERANCE)),
            rig_options=dict(data.get("rig_options", {})),
        )


def _targets(target: Any, n: int, width: int, predictions: Tensor) -> Tensor:
    if target is None:
        return predictions
    if isinstance(target, Tensor):
        values = target.flatten().tolist() if target.numel() != 1 else [target.item()] * n
    elif isinstance(target, Sequence) and not isinstance(target, str):
        values = list(target)
    else:
        values = [target] * n
    if len(values) != n:
        raise AuditInputError(
            f"`target` has {len(values)} entries for {n} images; give one class per image, "
            "one class for all, or None for each model's prediction."
        )
    checked = [integer(v, "target", minimum=0, maximum=width - 1) for v in values]
    return torch.tensor(checked, dtype=torch.int64)


def _names_for(class_names: Any, model: str) -> Sequence[str] | None:
    if class_names is None:
        return None
    if isinstance(class_names, Mapping):
        found = class_names.get(model)
        return list(found) if found is not None else None
    return list(class_names)


def explain(
    models: Callable[..., Tensor] | Mapping[str, Callable[..., Tensor]],
    images: Tensor,
    *,
    target: int | Sequence[int] | Tensor | None = None,
    attributions: Mapping[str, AttributionSpec] | None = None,
    n_steps: int = AUDIT_N_STEPS,
    method: str | None = None,
    baseline: float = 0.0,
    internal_batch_size: int | None = None,
    reliability_tolerance: float = RELIABILITY_TOLERANCE,
    map_tolerance: float = MAP_TOLERANCE,
    names: Sequence[str] | None = None,
    class_names: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
    notes: Sequence[str | None] | None = None,
    path_image: int = 0,
    path_ranks: Sequence[int] | None = None,
    meta: Mapping[str, Any] | None = None,
    exact: bool = True,
    bands: bool | Sequence[int] = False,
    band_steps: int | Sequence[int] = 8,
    rig_options: Mapping[str, Any] | None = None,
) -> ExplainResult:
    r"""IG and RIG maps, rank spectra, reliability and a rank path for a few images.

    Args:
        models: one model or ``{name: model}``, each taking ``images``.
        images (Tensor): ``(N, C, H, W)`` model inputs (see :func:`captum_rank.zoo.preprocess`
            or :func:`captum_rank.audit.loading.load_images` to make them from files).
        target (int, sequence or Tensor, optional): the class to explain, for all images
            or one per image. Default: None, each model's prediction.
        attributions (dict, optional): ``{name: schedule}`` of the attributions
            (None: the library's default).
            Default: :func:`default_attributions` (on natural photos RIG on the spectral path,
            whose maps converge in fewer evaluations; otherwise the library's default).
        n_steps (int, optional): model evaluations per image and attribution; with the
            adaptive rule (the default) the budget within which each map is refined
            until its estimated error is at most ``map_tolerance``; at least what the
            quadrature needs, as in RIG (:func:`~captum_rank.defaults.check_n_steps`).
            Default: 32.
        method (str, optional): the quadrature rule, RIG's ``method`` of
            ``attribute_with_ranks``. Default:
            :func:`~captum_rank.audit.settings.default_method` (adaptive). A fixed
            rule spends ``n_steps`` and, for the map error, ``n_steps // 2`` more.
        baseline (float, optional): constant baseline. Default: 0.
        internal_batch_size (int, optional): path points per forward pass.
        reliability_tolerance (float, optional): relative completeness error above which a rank
            summary is unreliable. Default: 0.1.
        map_tolerance (float, optional): estimated relative L2 error of a map above which
            it is not converged (not drawn by the report). Default: 0.1.
        names (sequence of str, optional): image names. Default: ``image 0``, ...
        class_names (sequence or dict, optional): class names (for all models, or per
            model), shown beside every class index.
        notes (sequence, optional): one note per image (e.g. a domain warning).
        path_image (int, optional): the image walked along the rank path. Default: 0.
        path_ranks (sequence of int, optional): ranks of the path. Default:
            :func:`~captum_rank.rank_path.default_path_ranks`.
        meta (dict, optional): stored in the result.
        exact (bool, optional): also record each image's exact rank spectrum on the
            rank-``k`` curve, ``F(x_k) - F(x_{k-1})`` from ``r + 1`` forward passes
            (:meth:`~captum_rank.RankIntegratedGradients.exact_ranks`, ``sequential``,
            summed over channels): the spectrum with no quadrature error, whatever path
            the maps walk. Default: True.
        bands (bool or sequence of int, optional): also split the map of the rank-``k``
            curve by rank band (``attribute_bands``): ``True`` for the default bands
            (components 1-4, 5-16, 17-64, 65-r), or the band edges, e.g. ``(8, 32)``.
            Costs ``r * band_steps`` gradient and ``r + 1`` forward rows per image and
            model. Default: False.
        band_steps (int or sequence of int, optional): Gauss-Legendre gradients per
            component's segment, or one order per component from the first (the last
            repeated), e.g. ``(64, 16, 16, 4)`` for photos, whose first segments hold most
            of the error (``benchmarks/bench_segment_errors.py``); the band maps are
            calibrated so that each band's sum is the exact ``R`` over it, and each
            item's ``bands.total_error`` is the error before calibration. Default: 8 (on
            the zoo's Fashion-MNIST CNNs a median 0.06-0.12 from 64 per segment,
            ``benchmarks/bench_segments.py``).

        rig_options (dict, optional): further options of
            :meth:`~captum_rank.RankIntegratedGradients.attribute` for every map, any
            field of :class:`~captum_rank.options.RigOptions` that the arguments above do
            not set, e.g. ``{"tolerance": 0.05}`` (the adaptive rule then also stops at
            that completeness error). Recorded in the result. Default: None.

    Returns:
        ExplainResult: the numbers and arrays.

    Raises:
        AuditInputError: bad arguments, a model that does not take ``images``, a target
            out of range.

    Examples:
        >>> import torch
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3))
        >>> result = explain(model, torch.rand(1, 1, 4, 4), target=2, n_steps=4,
        ...                  class_names=["cat", "dog", "fish"])
        >>> item = result.items["model"][0]
        >>> item["target"], item["target_name"], len(item["attributions"]["rig"]["spectrum"])
        (2, 'fish', 4)
    """
    guard = InputGuard(images, "images")
    setup = _prepare(models, images, attributions=attributions, n_steps=n_steps,
                     method=method,
                     baseline=baseline, internal_batch_size=internal_batch_size,
                     reliability_tolerance=reliability_tolerance, map_tolerance=map_tolerance,
                     names=names, notes=notes, path_image=path_image, path_ranks=path_ranks,
                     exact=exact, bands=bands, band_steps=band_steps,
                     rig_options=rig_options)
    items: dict[str, list[dict[str, Any]]] = {}
    maps: dict[str, dict[str, np.ndarray]] = {}
    path: dict[str, dict[str, Any]] = {}
    band_maps: dict[str, np.ndarray] = {}
    for name, model in setup.named.items():
        found = _explain_model(setup, model, target, _names_for(class_names, name))
        items[name], maps[name], path[name] = found.items, found.maps, found.path
        if found.band_maps is not None:
            band_maps[name] = found.band_maps
    result = ExplainResult(
        models=list(setup.named),
        attributions={attribution: run.schedule for attribution, run in setup.runs.items()},
        image_names=setup.image_names, n_steps=setup.n_steps, method=setup.method,
        baseline=setup.baseline, reliability_tolerance=setup.reliability_tolerance,
        items=items, path=path,
        meta=dict(meta or {}), map_tolerance=setup.map_tolerance,
        images=images.detach().cpu().numpy(), maps=maps,
        path_images={"approximations": setup.approximations.detach().cpu().numpy()},
        band_maps=band_maps, rig_options=setup.rig_options,
    )
    _warn_unconverged(result)
    guard.check()
    return result


@dataclass(frozen=True)
class _Setup:
    """An explain call's checked arguments, its images on the device and its attributions."""

    named: dict[str, Callable[..., Tensor]]
    x: Tensor
    width: int
    runs: dict[str, AttributionRun]
    n_steps: int
    method: str
    baseline: float
    internal_batch_size: int | None
    reliability_tolerance: float
    map_tolerance: float
    exact: bool
    bands: tuple[bool, tuple[int, ...] | None]
    band_steps: int | tuple[int, ...]
    image_names: list[str]
    notes: list[str | None]
    path_image: int
    path_ranks: list[int]
    approximations: Tensor
    rig_options: dict[str, Any]

    @property
    def n(self) -> int:
        return int(self.x.shape[0])


def _check_images(images: Any) -> int:
    if not isinstance(images, Tensor) or images.dim() != 4 or not images.is_floating_point():
        raise UserTypeError(
            f"`images` must be a float (N, C, H, W) tensor, got {type(images).__name__} "
            f"{tuple(images.shape) if isinstance(images, Tensor) else ''}."
        )
    return int(images.shape[0])


def _prepare(models: Any, images: Tensor, *, attributions: Mapping[str, AttributionSpec] | None,
             n_steps: int, method: str | None, baseline: float,
             internal_batch_size: int | None, reliability_tolerance: float, map_tolerance: float,
             names: Sequence[str] | None, notes: Sequence[str | None] | None,
             path_image: int, path_ranks: Sequence[int] | None, exact: bool,
             bands: bool | Sequence[int], band_steps: int | Sequence[int],
             rig_options: Mapping[str, Any] | None) -> _Setup:
    """Check every argument (in the order users see the errors) and decide the attributions."""
    named = as_model_dict(models)
    n = _check_images(images)
    n_steps = check_n_steps(n_steps, method)
    internal_batch_size = optional_positive_int(internal_batch_size, "internal_batch_size")
    baseline = real(baseline, "baseline")
    reliability_tolerance = real(reliability_tolerance, "reliability_tolerance", minimum=0.0)
    map_tolerance = real(map_tolerance, "map_tolerance", minimum=0.0)
    exact = boolean(exact, "exact")
    checked_bands = check_bands(bands)
    checked_steps = check_segment_steps(band_steps, "band_steps")
    extra = check_rig_options(rig_options)
    path_image = integer(path_image, "path_image", minimum=0, maximum=n - 1)
    image_names = [str(v) for v in names] if names is not None else [
        f"image {i}" for i in range(n)]
    if len(image_names) != n:
        raise AuditInputError(f"`names` has {len(image_names)} entries for {n} images.")
    chosen = attribution_map(attributions, default_attributions(images))
    x = images.to(model_device(next(iter(named.values()))))
    width = check_models_on_data(named, x[:2])
    r = int(min(x.shape[-2:]))
    ranks_on_path = [integer(k, "path_ranks", minimum=0, maximum=r)
                     for k in (path_ranks if path_ranks is not None else default_path_ranks(r))]
    approximations = rank_points(x[path_image], ranks_on_path, baseline)
    # Maps need gradients: every attribution runs with the quadrature; exact spectra are the
    # rank-k curve's, computed on their own (exact_curve).
    runs = plan_attributions(chosen, x, exact=False, n_steps=n_steps, method=method,
                             internal_batch_size=internal_batch_size,
                             map_tolerance=map_tolerance, rig_options=extra)
    return _Setup(named, x, width, runs, n_steps, integration_method(method), baseline,
                  internal_batch_size, reliability_tolerance, map_tolerance, exact, checked_bands,
                  checked_steps, image_names, list(notes) if notes is not None else [None] * n,
                  path_image, ranks_on_path, approximations, extra)


@dataclass(frozen=True)
class _ModelFindings:
    items: list[dict[str, Any]]
    maps: dict[str, np.ndarray]
    path: dict[str, Any]
    band_maps: np.ndarray | None


@dataclass(frozen=True)
class _Outcome:
    spectrum: Tensor  # (N, r) float64, summed over channels
    delta: Tensor  # (N,) float64
    quality: _MapQuality


def _label(classes: Sequence[str] | None, c: int) -> str | None:
    return str(classes[c]) if classes is not None and 0 <= c < len(classes) else None


def _explain_model(setup: _Setup, model: Callable[..., Tensor], target: Any,
                   classes: Sequence[str] | None) -> _ModelFindings:
    """One model's items (per image), maps, rank path and band maps."""
    with torch.no_grad():
        probs = model(setup.x).softmax(dim=1)
    predictions = probs.argmax(dim=1)
    targets = _targets(target, setup.n, setup.width, predictions.cpu()).to(setup.x.device)
    explainer = RankIntegratedGradients(model)
    outcomes: dict[str, _Outcome] = {}
    maps: dict[str, np.ndarray] = {}
    for attribution, run in setup.runs.items():
        maps[attribution], outcomes[attribution] = _attribute(explainer, run, setup, targets)
    exact = _exact_spectra(explainer, setup, targets) if setup.exact else None
    items = [_item(setup, i, targets, predictions, probs, outcomes, exact, classes)
             for i in range(setup.n)]
    want_bands, band_edges = setup.bands
    band_maps = band_items(explainer, setup.x, setup.baseline, targets, band_edges,
                           setup.band_steps, setup.internal_batch_size,
                           items) if want_bands else None
    t0 = int(targets[setup.path_image])
    with torch.no_grad():
        along = model(setup.approximations).softmax(dim=1)[:, t0]
    path = {"image": setup.path_image, "target": t0, "target_name": _label(classes, t0),
            "ranks": setup.path_ranks, "probabilities": along.cpu().tolist()}
    return _ModelFindings(items, maps, path, band_maps)


def _attribute(explainer: RankIntegratedGradients, run: AttributionRun, setup: _Setup,
               targets: Tensor) -> tuple[np.ndarray, _Outcome]:
    """One attribution's pixel maps, rank spectra, deltas and map quality."""
    with warnings.catch_warnings():
        # Misses are reported once, per map, by explain.
        warnings.filterwarnings("ignore", message=".*did not reach")
        pixels, ranks, delta = explainer.attribute_with_ranks(
            setup.x, baselines=setup.baseline, target=targets, return_convergence_delta=True,
            **run.keywords())
    quality = _map_quality(explainer, pixels, run, setup.x, setup.baseline, targets)
    spectrum = ranks.detach().to(torch.float64).sum(dim=1).cpu()
    return pixels.detach().cpu().numpy(), _Outcome(
        spectrum, delta.detach().to(torch.float64).cpu(), quality)


def _item(setup: _Setup, i: int, targets: Tensor, predictions: Tensor, probs: Tensor,
          outcomes: Mapping[str, _Outcome], exact: tuple[Tensor, Tensor] | None,
          classes: Sequence[str] | None) -> dict[str, Any]:
    """Image ``i``'s entry: prediction, target, and each attribution's numbers."""
    t, p = int(targets[i]), int(predictions[i])
    summary: dict[str, Any] = {}
    for attribution, outcome in outcomes.items():
        spectrum, delta = outcome.spectrum[i], float(outcome.delta[i])
        change = float(spectrum.sum() - outcome.delta[i])
        rel = relative_error(abs(delta), abs(change))
        map_error = float(outcome.quality.errors[i])
        summary[attribution] = {
            "delta": delta, "change": change, "relative_error": rel,
            "reliable": rel <= setup.reliability_tolerance, "map_error": map_error,
            "map_converged": map_error <= setup.map_tolerance,
            "evaluations": int(outcome.quality.evaluations[i]),
            "rank_50": rank_for_share(spectrum.numpy(), 0.5),
            "rank_90": rank_for_share(spectrum.numpy(), 0.9),
            "spectrum": spectrum.tolist(),
        }
    item: dict[str, Any] = {
        "image": setup.image_names[i], "target": t, "target_name": _label(classes, t),
        "prediction": p, "prediction_name": _label(classes, p),
        "probability": float(probs[i, p]), "target_probability": float(probs[i, t]),
        "note": setup.notes[i], "attributions": summary,
    }
    if exact is not None:
        curve = exact[0][i].numpy()
        item["exact"] = {
            "spectrum": curve.tolist(), "delta": float(exact[1][i]),
            "rank_50": rank_for_share(curve, 0.5), "rank_90": rank_for_share(curve, 0.9),
        }
    return item


def _warn_unconverged(result: ExplainResult) -> None:
    """One warning for every map above ``map_tolerance`` (the report does not draw them)."""
    missed = result.unconverged_maps()
    if not missed:
        return
    shown = "; ".join(f"{m} {image} {attribution}: {err:.3g}"
                      for m, image, attribution, err in missed[:8])
    warnings.warn(
        f"{len(missed)} map(s) did not converge to map_tolerance={result.map_tolerance} "
        f"within n_steps={result.n_steps} evaluations "
        f"({shown}{' ...' if len(missed) > 8 else ''}); "
        "the report does not draw them. Raise `n_steps`, or for photos use "
        "schedule='spectral', whose maps converge in fewer evaluations "
        "(see the convergence page).", stacklevel=3)


def _exact_spectra(explainer: RankIntegratedGradients, setup: _Setup,
                   targets: Tensor) -> tuple[Tensor, Tensor]:
    """``(N, r)`` exact spectra of the rank-``k`` curve and their ``(N,)`` deltas."""
    ranks, delta = exact_curve(setup.n_steps, setup.internal_batch_size).ranks(
        explainer, setup.x, setup.baseline, targets)
    return (ranks.detach().to(torch.float64).reshape(setup.n, -1).cpu(),
            delta.detach().to(torch.float64).cpu())


@dataclass(frozen=True)
class _MapQuality:
    errors: list[float]
    evaluations: list[int]


def _map_quality(explainer: RankIntegratedGradients, pixels: Tensor, run: AttributionRun,
                 x: Tensor, baseline: float, targets: Tensor) -> _MapQuality:
    """Each map's estimated error and the evaluations it took.

    The adaptive rule estimates the error from its own nodes; a fixed rule's map is
    compared with the same rule at half the evaluations (the only extra cost here).
    """
    n = int(pixels.shape[0])
    if run.quadrature.adaptive:
        convergence = explainer.last_convergence
        if convergence is None or convergence.map_error is None:
            raise RuntimeError("the adaptive rule left no map error")
        return _MapQuality([float(v) for v in convergence.map_error],
                           [int(v) for v in convergence.evaluations])
    n_steps = run.quadrature.n_steps
    half = explainer.attribute(x, baselines=baseline, target=targets,
                               **run.keywords(n_steps=max(1, n_steps // 2)))
    fine = pixels.detach().to(torch.float64).flatten(1)
    gap = (fine - half.detach().to(torch.float64).flatten(1)).norm(dim=1)
    size = fine.norm(dim=1)
    errors = torch.where(size > 0, gap / size.clamp_min(1e-300),
                         torch.where(gap > 0, torch.inf, 0.0))
    return _MapQuality([float(v) for v in errors], [n_steps + max(1, n_steps // 2)] * n)
