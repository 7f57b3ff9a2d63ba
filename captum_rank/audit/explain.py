r"""Explain a few images: IG and RIG maps, rank spectra, the rank path, and reliability.

:func:`explain` is the library function behind ``captum-rank explain`` and the demo's
image panels. For every model and image it records the predicted class (with its name
and probability), attributes the target with every method of ``methods`` (by default
RIG and IG, which is RIG with ``schedule="linear"``; on natural photos RIG walks Spectral
IG's path, whose maps converge in far fewer evaluations: :func:`default_methods`), and
keeps each method's pixel map, its rank spectrum
(``attribute_with_ranks``, summed over channels) with ``k50``/``k90``, and its
completeness error relative to the output change, ``|delta| / |F(x) - F(x')|``. Rank
summaries whose relative error exceeds ``tolerance`` are marked unreliable. A small
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
from captum_rank.audit._bands import band_items, check_bands
from captum_rank.audit._models import as_model_dict, check_models_on_data, model_device
from captum_rank.audit.errors import AuditInputError
from captum_rank.audit.spectrum import (
    DEFAULT_METHODS,
    MethodSpec,
    _schedule_id,
    default_quadrature,
    exact_rows,
    relative_error,
)
from captum_rank.checks import (
    UserTypeError,
    boolean,
    integer,
    optional_positive_int,
    positive_int,
    real,
)
from captum_rank.defaults import (
    ADAPTIVE,
    AUDIT_N_STEPS,
    MAP_TOLERANCE,
    RELIABILITY_TOLERANCE,
    check_n_steps,
)
from captum_rank.rank_path import default_path_ranks
from captum_rank.summaries import rank_for_share
from captum_rank.svd import rank_points

# default_path_ranks is rank_path's, re-exported: the one default for every rank path shown.
__all__ = ["PHOTO_METHODS", "PHOTO_SIZE", "ExplainResult", "default_methods",
           "default_path_ranks", "explain"]

_KIND = "rank-explanation"

#: The methods :func:`explain` uses on natural photos: RIG on Spectral IG's path and IG.
#: Measured on 20 ImageNet photos (EfficientNet-Lite0; ``bench_map_convergence.py``, the
#: convergence page): with ``map_tolerance=0.1`` RIG's default path needs about 470
#: evaluations per photo, the spectral path about 94 (IG about 42), and the spectral
#: path's DiffID is the higher one (the faithfulness page). Its rank attributions still
#: say which components carry the output (the strongest enter first).
PHOTO_METHODS: dict[str, MethodSpec] = {"rig": "spectral", "ig": "linear"}

#: Colour images at least this many pixels a side count as natural photos.
PHOTO_SIZE = 64


def default_methods(images: Tensor) -> dict[str, MethodSpec]:
    r"""The methods :func:`explain` uses when none are given, from the images' shape.

    Natural photos (3 channels, at least :data:`PHOTO_SIZE` pixels a side) get
    :data:`PHOTO_METHODS`; anything else the library's default RIG and IG
    (:data:`~captum_rank.audit.spectrum.DEFAULT_METHODS`).

    Args:
        images (Tensor): ``(N, C, H, W)`` model inputs.

    Returns:
        dict: ``{name: schedule}`` (``None``: the library's default).

    Examples:
        >>> import torch
        >>> default_methods(torch.zeros(1, 3, 224, 224))
        {'rig': 'spectral', 'ig': 'linear'}
        >>> default_methods(torch.zeros(1, 1, 28, 28))
        {'rig': None, 'ig': 'linear'}
    """
    photo = images.dim() == 4 and images.shape[1] == 3 and min(images.shape[-2:]) >= PHOTO_SIZE
    return dict(PHOTO_METHODS if photo else DEFAULT_METHODS)


@dataclass
class ExplainResult(_jsonio.JsonExport):
    r"""What :func:`explain` found, per model and image (JSON holds all but the arrays).

    Attributes:
        models: model names.
        methods: ``{method name: schedule id}``.
        image_names: one name per image.
        n_steps, quadrature, baseline, tolerance, map_tolerance: the settings.
        items: ``{model: [per image: {image, target, target_name, prediction,
            prediction_name, probability, target_probability, note, methods: {method:
            {delta, change, relative_error, reliable, map_error, map_converged,
            evaluations, rank_50, rank_90, spectrum}}, exact: {spectrum, delta, rank_50,
            rank_90}}]}``; ``exact`` (with ``exact=True``) is the rank-``k`` curve's exact
            spectrum ``F(x_k) - F(x_{k-1})``, summed over channels.
        path: ``{model: {image, target, target_name, ranks, probabilities}}``: one image
            along the rank path.
        meta: free-form description.
        images: ``(N, C, H, W)`` inputs (not in the JSON).
        maps: ``{model: {method: (N, C, H, W) attributions}}`` (not in the JSON).
        path_images: ``(K, C, H, W)`` rank-``k`` approximations of the path image (not in
            the JSON).
        band_maps: ``{model: (B, N, C, H, W)}`` rank-band maps (with ``bands=``; not in
            the JSON); each item's ``bands`` holds their labels, totals and exact totals.

    Examples:
        >>> import torch
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3))
        >>> result = explain({"m": model}, torch.rand(2, 1, 4, 4), n_steps=4)
        >>> sorted(result.items["m"][0]["methods"]), result.items["m"][0]["methods"]["ig"][
        ...     "reliable"]
        (['ig', 'rig'], True)
        >>> ExplainResult.from_json(result.to_json()).items == result.items
        True
    """

    models: list[str]
    methods: dict[str, str]
    image_names: list[str]
    n_steps: int
    quadrature: str
    baseline: float
    tolerance: float
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

    def spectra(self, method: str) -> dict[str, np.ndarray]:
        r"""``{model: (N, r)}`` rank spectra of ``method``, one row per image."""
        return {m: np.asarray([item["methods"][method]["spectrum"] for item in items])
                for m, items in self.items.items()}

    def exact_spectra(self) -> dict[str, np.ndarray]:
        r"""``{model: (N, r)}`` exact rank spectra ``F(x_k) - F(x_{k-1})`` of the rank-``k``
        curve (summed over channels), one row per image; empty if not computed."""
        return {m: np.asarray([item["exact"]["spectrum"] for item in items])
                for m, items in self.items.items() if items and "exact" in items[0]}

    def reliable(self) -> bool:
        r"""Whether every rank summary of every model, image and method is reliable."""
        return all(v["reliable"] for items in self.items.values() for item in items
                   for v in item["methods"].values())

    def unconverged_maps(self) -> list[tuple[str, str, str, float]]:
        r"""``(model, image, method, estimated map error)`` of every map above
        :attr:`map_tolerance` (empty for results written before map errors existed)."""
        return [(m, item["image"], meth, float(v["map_error"]))
                for m, items in self.items.items() for item in items
                for meth, v in item["methods"].items()
                if not v.get("map_converged", True)]

    def to_dict(self) -> dict[str, Any]:
        r"""Plain JSON-able data (without the image and map arrays)."""
        return {
            "kind": _KIND, "models": self.models, "methods": self.methods,
            "image_names": self.image_names, "n_steps": self.n_steps,
            "quadrature": self.quadrature, "baseline": self.baseline,
            "tolerance": self.tolerance, "map_tolerance": self.map_tolerance,
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
            models=list(data["models"]), methods=dict(data["methods"]),
            image_names=list(data["image_names"]), n_steps=int(data["n_steps"]),
            quadrature=str(data["quadrature"]), baseline=float(data["baseline"]),
            tolerance=float(data["tolerance"]), items=dict(data["items"]),
            path=dict(data["path"]), meta=dict(data.get("meta", {})),
            map_tolerance=float(data.get("map_tolerance", MAP_TOLERANCE)),
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
    methods: Mapping[str, MethodSpec] | None = None,
    n_steps: int = AUDIT_N_STEPS,
    quadrature: str | None = None,
    baseline: float = 0.0,
    internal_batch_size: int | None = None,
    tolerance: float = RELIABILITY_TOLERANCE,
    map_tolerance: float = MAP_TOLERANCE,
    names: Sequence[str] | None = None,
    class_names: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
    notes: Sequence[str | None] | None = None,
    path_image: int = 0,
    path_ranks: Sequence[int] | None = None,
    meta: Mapping[str, Any] | None = None,
    exact: bool = True,
    bands: bool | Sequence[int] = False,
    band_steps: int = 8,
) -> ExplainResult:
    r"""IG and RIG maps, rank spectra, reliability and a rank path for a few images.

    Args:
        models: one model or ``{name: model}``, each taking ``images``.
        images (Tensor): ``(N, C, H, W)`` model inputs (see :func:`captum_rank.zoo.preprocess`
            or :func:`captum_rank.audit.loading.load_images` to make them from files).
        target (int, sequence or Tensor, optional): the class to explain, for all images
            or one per image. Default: None, each model's prediction.
        methods (dict, optional): ``{name: schedule}`` (None: the library's default).
            Default: :func:`default_methods` (on natural photos RIG on the spectral path,
            whose maps converge in fewer evaluations; otherwise the library's default).
        n_steps (int, optional): model evaluations per image and method; with the
            adaptive rule (the default) the budget within which each map is refined
            until its estimated error is at most ``map_tolerance``; at least what the
            quadrature needs, as in RIG (:func:`~captum_rank.defaults.check_n_steps`).
            Default: 32.
        quadrature (str, optional): the quadrature ``method`` of
            ``attribute_with_ranks``. Default: the library's default (adaptive). A fixed
            rule spends ``n_steps`` and, for the map error, ``n_steps // 2`` more.
        baseline (float, optional): constant baseline. Default: 0.
        internal_batch_size (int, optional): path points per forward pass.
        tolerance (float, optional): relative completeness error above which a rank
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
        band_steps (int, optional): Gauss-Legendre gradients per component's segment;
            the band maps are calibrated so that each band's sum is the exact ``R`` over
            it, and each item's ``bands.total_error`` is the error before calibration.
            Default: 8 (on the zoo's Fashion-MNIST CNNs a median 0.06-0.12 from 64 per
            segment, ``benchmarks/bench_segments.py``).

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
        >>> item["target"], item["target_name"], len(item["methods"]["rig"]["spectrum"])
        (2, 'fish', 4)
    """
    guard = InputGuard(images, "images")
    named = as_model_dict(models)
    if not isinstance(images, Tensor) or images.dim() != 4 or not images.is_floating_point():
        raise UserTypeError(
            f"`images` must be a float (N, C, H, W) tensor, got {type(images).__name__} "
            f"{tuple(images.shape) if isinstance(images, Tensor) else ''}."
        )
    n = int(images.shape[0])
    n_steps = check_n_steps(n_steps, quadrature)
    internal_batch_size = optional_positive_int(internal_batch_size, "internal_batch_size")
    baseline = real(baseline, "baseline")
    tolerance = real(tolerance, "tolerance", minimum=0.0)
    map_tolerance = real(map_tolerance, "map_tolerance", minimum=0.0)
    exact = boolean(exact, "exact")
    want_bands, band_edges = check_bands(bands)
    band_steps = positive_int(band_steps, "band_steps")
    path_image = integer(path_image, "path_image", minimum=0, maximum=n - 1)
    image_names = [str(v) for v in names] if names is not None else [
        f"image {i}" for i in range(n)]
    if len(image_names) != n:
        raise AuditInputError(f"`names` has {len(image_names)} entries for {n} images.")
    note_list = list(notes) if notes is not None else [None] * n
    method_map = dict(methods) if methods is not None else default_methods(images)
    if not method_map:
        raise AuditInputError("`methods` is empty; give e.g. {'rig': None, 'ig': 'linear'}.")
    schedules = {meth: _schedule_id(spec) for meth, spec in method_map.items()}
    dev = model_device(next(iter(named.values())))
    x = images.to(dev)
    width = check_models_on_data(named, x[:2])
    r = int(min(x.shape[-2:]))
    ranks_on_path = [integer(k, "path_ranks", minimum=0, maximum=r)
                     for k in (path_ranks if path_ranks is not None else default_path_ranks(r))]
    approximations = rank_points(x[path_image], ranks_on_path, baseline)

    items: dict[str, list[dict[str, Any]]] = {}
    maps: dict[str, dict[str, np.ndarray]] = {}
    path: dict[str, dict[str, Any]] = {}
    band_maps: dict[str, np.ndarray] = {}
    for name, model in named.items():
        classes = _names_for(class_names, name)

        def label(c: int, classes: Sequence[str] | None = classes) -> str | None:
            return str(classes[c]) if classes is not None and 0 <= c < len(classes) else None

        with torch.no_grad():
            probs = model(x).softmax(dim=1)
        predictions = probs.argmax(dim=1)
        targets = _targets(target, n, width, predictions.cpu()).to(dev)
        explainer = RankIntegratedGradients(model)
        per_method: dict[str, tuple[Tensor, Tensor, _MapQuality]] = {}
        maps[name] = {}
        for meth, spec in method_map.items():
            kwargs: dict[str, Any] = {} if spec is None else {"schedule": spec}
            kwargs["method"] = quadrature or default_quadrature()
            adaptive = kwargs["method"] == ADAPTIVE
            if adaptive:
                kwargs["map_tolerance"] = map_tolerance
            with warnings.catch_warnings():
                # Misses are reported once, per map, below.
                warnings.filterwarnings("ignore", message=".*did not reach")
                pixels, ranks, delta = explainer.attribute_with_ranks(
                    x, baselines=baseline, target=targets, n_steps=n_steps,
                    internal_batch_size=internal_batch_size, return_convergence_delta=True,
                    **kwargs)
            quality = _map_quality(explainer, pixels, adaptive, n_steps, x, baseline,
                                   targets, internal_batch_size, kwargs)
            spectrum = ranks.detach().to(torch.float64).sum(dim=1).cpu()
            per_method[meth] = (spectrum, delta.detach().to(torch.float64).cpu(), quality)
            maps[name][meth] = pixels.detach().cpu().numpy()
        exact_rows = _exact_spectra(explainer, x, baseline, targets, internal_batch_size,
                                    n_steps) if exact else None
        items[name] = []
        for i in range(n):
            t, p = int(targets[i]), int(predictions[i])
            summary: dict[str, Any] = {}
            for meth, (spectrum, delta, quality) in per_method.items():
                change = float(spectrum[i].sum() - delta[i])
                rel = relative_error(abs(float(delta[i])), abs(change))
                map_error = float(quality.errors[i])
                summary[meth] = {
                    "delta": float(delta[i]), "change": change, "relative_error": rel,
                    "reliable": rel <= tolerance, "map_error": map_error,
                    "map_converged": map_error <= map_tolerance,
                    "evaluations": int(quality.evaluations[i]),
                    "rank_50": rank_for_share(spectrum[i].numpy(), 0.5),
                    "rank_90": rank_for_share(spectrum[i].numpy(), 0.9),
                    "spectrum": spectrum[i].tolist(),
                }
            items[name].append({
                "image": image_names[i], "target": t, "target_name": label(t),
                "prediction": p, "prediction_name": label(p),
                "probability": float(probs[i, p]), "target_probability": float(probs[i, t]),
                "note": note_list[i], "methods": summary,
            })
            if exact_rows is not None:
                spectrum, delta = exact_rows[0][i].numpy(), float(exact_rows[1][i])
                items[name][-1]["exact"] = {
                    "spectrum": spectrum.tolist(), "delta": delta,
                    "rank_50": rank_for_share(spectrum, 0.5),
                    "rank_90": rank_for_share(spectrum, 0.9),
                }
        if want_bands:
            band_maps[name] = band_items(explainer, x, baseline, targets, band_edges,
                                         band_steps, internal_batch_size, items[name])
        t0 = int(targets[path_image])
        with torch.no_grad():
            along = model(approximations).softmax(dim=1)[:, t0]
        path[name] = {"image": path_image, "target": t0, "target_name": label(t0),
                      "ranks": ranks_on_path, "probabilities": along.cpu().tolist()}
    result = ExplainResult(
        models=list(named), methods=schedules, image_names=image_names, n_steps=n_steps,
        quadrature=quadrature or default_quadrature(), baseline=baseline,
        tolerance=tolerance, items=items, path=path, meta=dict(meta or {}),
        map_tolerance=map_tolerance,
        images=images.detach().cpu().numpy(), maps=maps,
        path_images={"approximations": approximations.detach().cpu().numpy()},
        band_maps=band_maps,
    )
    missed = result.unconverged_maps()
    if missed:
        shown = "; ".join(f"{m} {image} {meth}: {err:.3g}" for m, image, meth, err in missed[:8])
        warnings.warn(
            f"{len(missed)} map(s) did not converge to map_tolerance={map_tolerance} within "
            f"n_steps={n_steps} evaluations ({shown}{' ...' if len(missed) > 8 else ''}); "
            "the report does not draw them. Raise `n_steps`, or for photos use "
            "schedule='spectral', whose maps converge in fewer evaluations "
            "(see the convergence page).", stacklevel=2)
    guard.check()
    return result


def _exact_spectra(explainer: RankIntegratedGradients, x: Tensor, baseline: float,
                   targets: Tensor, internal_batch_size: int | None,
                   n_steps: int) -> tuple[Tensor, Tensor]:
    """``(N, r)`` exact spectra of the rank-``k`` curve and their ``(N,)`` deltas."""
    ranks, delta = explainer.exact_ranks(x, baselines=baseline, target=targets,
                                         internal_batch_size=exact_rows(
                                             internal_batch_size, n_steps, int(x.shape[0])),
                                         return_convergence_delta=True)
    return (ranks.detach().to(torch.float64).reshape(int(x.shape[0]), -1).cpu(),
            delta.detach().to(torch.float64).cpu())


@dataclass(frozen=True)
class _MapQuality:
    errors: list[float]
    evaluations: list[int]


def _map_quality(explainer: RankIntegratedGradients, pixels: Tensor, adaptive: bool,
                 n_steps: int, x: Tensor, baseline: float, targets: Tensor,
                 internal_batch_size: int | None, kwargs: dict[str, Any]) -> _MapQuality:
    """Each map's estimated error and the evaluations it took.

    The adaptive rule estimates the error from its own nodes; a fixed rule's map is
    compared with the same rule at half the evaluations (the only extra cost here).
    """
    n = int(pixels.shape[0])
    if adaptive:
        convergence = explainer.last_convergence
        if convergence is None or convergence.map_error is None:
            raise RuntimeError("the adaptive rule left no map error")
        return _MapQuality([float(v) for v in convergence.map_error],
                           [int(v) for v in convergence.evaluations])
    half = explainer.attribute(x, baselines=baseline, target=targets,
                               n_steps=max(1, n_steps // 2),
                               internal_batch_size=internal_batch_size, **kwargs)
    fine = pixels.detach().to(torch.float64).flatten(1)
    gap = (fine - half.detach().to(torch.float64).flatten(1)).norm(dim=1)
    size = fine.norm(dim=1)
    errors = torch.where(size > 0, gap / size.clamp_min(1e-300),
                         torch.where(gap > 0, torch.inf, 0.0))
    return _MapQuality([float(v) for v in errors], [n_steps + max(1, n_steps // 2)] * n)
