r"""The demo behind ``captum-rank demo``: the audit with fixed arguments, and one report.

:func:`run_demo` runs offline on what the package and its dependencies install, and
writes one folder with an ``index.html`` in two parts:

1. **Fashion-MNIST, natural vs robust**: the zoo's two CNNs on the bundled sample of 200
   real test images: accuracy on rank-``k`` approximations and high-rank residuals (all
   200), mean rank spectra of RIG and IG (a stratified subset of ``attribution_per_class``
   images per class; RIG's are exact, ``F(x_k) - F(x_{k-1})`` from 29 forward passes per
   image, IG's by quadrature, as the report's ``exact`` entries record), IG beside RIG on
   a few images, their rank-band maps (RIG's map split by components 1-4, 5-16, 17-28:
   where each model's low-rank and high-rank evidence lies), and one image along the
   rank path.
2. **ImageNet, EfficientNet-Lite0 on real photos**: IG beside RIG on a handful of photos
   with their predicted class names and probabilities (one figure per photo: the maps over
   the photo at one map pixel per screen pixel, with the colour-scale rule written on it),
   their rank spectra (and each
   photo's exact spectrum on the rank-``k`` curve, from 225 forward passes), their
   rank-band maps (the rank-``k`` curve's map split by components 1-4, 5-16, 17-64 and
   65-224, each band's total its exact ``R``;
   :data:`~captum_rank.defaults.PHOTO_BAND_STEPS`), one photo
   along the rank path, and accuracy on rank-``k`` approximations and residuals of all
   photos from :func:`captum_rank.data.load_photos` (labelled photos against their
   ImageNet label, the others against the model's own prediction on the photo).

Each part is :func:`captum_rank.audit.audit` plus :func:`captum_rank.audit.explain`,
written by :func:`captum_rank.audit.write_report`; every rank summary carries its
completeness error and is marked unreliable above ``reliability_tolerance``, and every map its
estimated error: each map is refined until that is at most ``map_tolerance`` (the step
counts are budgets), and a map that misses it is not drawn. On the photos RIG walks
Spectral IG's path (:data:`~captum_rank.audit.explain.PHOTO_ATTRIBUTIONS`), whose maps
converge within the budget where the default path's do not.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

import torch

from captum_rank.audit import AuditReport, audit, explain, write_report
from captum_rank.audit.loading import load_model, subset_indices
from captum_rank.audit.ranks import default_ranks
from captum_rank.bands import check_segment_steps
from captum_rank.checks import non_negative_int, one_of, output_dir, positive_int, real
from captum_rank.data import CLASSES, load_sample
from captum_rank.defaults import (
    AUDIT_N_STEPS,
    MAP_TOLERANCE,
    PHOTO_BAND_STEPS,
    PHOTO_N_STEPS,
    RELIABILITY_TOLERANCE,
    check_n_steps,
)

__all__ = [
    "DEMO_FILES", "DEMO_MODELS", "IMAGENET_MODEL", "IMAGENET_RANKS", "balanced_subset", "run_demo",
]

#: The Fashion-MNIST models the demo compares.
DEMO_MODELS: tuple[str, ...] = ("fmnist-natural", "fmnist-robust")

#: The ImageNet model of the demo's second part.
IMAGENET_MODEL = "imagenet-efficientnet-lite0"

#: Path points per forward pass on the photos: bounds the demo's memory (the budget is
#: up to 256 points per photo).
PHOTO_POINTS_PER_PASS = 32

#: Photo sources the demo reads: the ones its own pip dependencies install, so that
#: ``pip install -e . && captum-rank demo`` works on a fresh machine without Debian's
#: ``opencv-doc`` (which :func:`captum_rank.data.load_photos` reads when asked for all).
DEMO_PHOTO_SOURCES: tuple[str, ...] = ("foolbox", "scikit-image", "scikit-learn", "matplotlib")

#: Ranks of the photos' accuracy curves (few: each costs two forward passes per photo).
IMAGENET_RANKS: tuple[int, ...] = (0, 2, 8, 32, 128, 224)

#: Gauss-Legendre gradients per component for the Fashion-MNIST rank-band maps (28
#: segments: 224 gradient rows per image and model).
FASHION_BAND_STEPS = 8

#: Files every demo writes (besides per-model rank paths and per-class spectra).
DEMO_FILES: tuple[str, ...] = ("report.json", "index.html")


def balanced_subset(labels: torch.Tensor, per_class: int) -> torch.Tensor:
    r"""Indices of the first ``per_class`` images of every class, in class order.

    Args:
        labels (Tensor): ``(N,)`` integer labels.
        per_class (int): how many of each class (fewer when a class has fewer).

    Returns:
        Tensor: ``(M,)`` int64 indices.

    Examples:
        >>> import torch
        >>> balanced_subset(torch.tensor([0, 1, 0, 1, 0]), 2).tolist()
        [0, 2, 1, 3]
    """
    per_class = positive_int(per_class, "per_class")
    picks = [torch.nonzero(labels == c).flatten()[:per_class]
             for c in sorted(set(labels.tolist()))]
    return torch.cat(picks) if picks else torch.zeros(0, dtype=torch.int64)


def _fashion_part(models: Sequence[str], n_steps: int, per_class: int, grid_images: int,
                  ranks: Sequence[int] | None, progress: bool, reliability_tolerance: float,
                  map_tolerance: float) -> AuditReport:
    loaded = dict(load_model(name) for name in models)
    x, y = load_sample()
    report = audit(
        loaded, (x, y), ranks=ranks if ranks is not None else default_ranks(28),
        spectrum_images=per_class * len(CLASSES), n_steps=n_steps, batch_size=200,
        spectrum_batch_size=50, num_classes=len(CLASSES), class_names=CLASSES,
        reliability_tolerance=reliability_tolerance, progress=progress,
        meta={"data": "the bundled sample of 200 Fashion-MNIST test images",
              "spectrum images": f"{per_class} per class", "n_steps": n_steps,
              "rank spectra": "exact where the path allows (see spectrum.exact); "
                              "n_steps for the others"},
        title="Fashion-MNIST: natural vs robust")
    classes = sorted(set(y.tolist()))
    step = max(1, len(classes) // max(1, grid_images))
    picked = classes[::step][:grid_images]
    index = torch.stack([torch.nonzero(y == c).flatten()[0] for c in picked])
    report.explanation = explain(
        loaded, x[index], target=y[index], n_steps=n_steps,
        reliability_tolerance=reliability_tolerance, map_tolerance=map_tolerance, bands=True,
        band_steps=FASHION_BAND_STEPS,
        names=[f"sample {int(i)}" for i in index], class_names=CLASSES)
    return report


def _imagenet_part(n_photos: int, n_steps: int, progress: bool, reliability_tolerance: float,
                   map_tolerance: float, accuracy_photos: int | None,
                   band_steps: int | tuple[int, ...] | None) -> AuditReport:
    from captum_rank import zoo
    from captum_rank.data import load_photos

    name, model = load_model(IMAGENET_MODEL)
    classes = zoo.class_names(IMAGENET_MODEL)
    photos = load_photos(size=224, sources=DEMO_PHOTO_SOURCES)
    keep = torch.arange(len(photos.names))
    if accuracy_photos is not None:
        keep, _ = subset_indices(photos.labels, accuracy_photos)
    report = audit(
        {name: model}, (photos.images[keep], photos.labels[keep]), ranks=IMAGENET_RANKS,
        spectrum_images=0, batch_size=32, reliability_tolerance=reliability_tolerance,
        progress=progress, class_names=classes,
        meta={"data": f"{len(keep)} real photos (captum_rank.data.load_photos from "
                      f"{', '.join(DEMO_PHOTO_SOURCES)}), "
                      f"{int((photos.labels[keep] >= 0).sum())} with ImageNet labels",
              "explained photos": n_photos, "n_steps": n_steps},
        title="ImageNet: EfficientNet-Lite0 on real photos")
    labelled = torch.nonzero(photos.labels >= 0).flatten().tolist()
    chosen = (labelled + [i for i in range(len(photos.names)) if i not in labelled])[:n_photos]
    report.explanation = explain(
        {name: model}, photos.images[chosen], n_steps=n_steps,
        internal_batch_size=PHOTO_POINTS_PER_PASS, reliability_tolerance=reliability_tolerance,
        map_tolerance=map_tolerance, names=[photos.names[i] for i in chosen], class_names=classes,
        bands=band_steps is not None,
        band_steps=band_steps if band_steps is not None else 1)  # 1: unread without bands
    return report


def run_demo(
    out_dir: str | os.PathLike[str] = "demo-out",
    models: Sequence[str] = DEMO_MODELS,
    n_steps: int = AUDIT_N_STEPS,
    attribution_per_class: int = 10,
    grid_images: int = 4,
    ranks: Sequence[int] | None = None,
    photos: int = 4,
    imagenet_n_steps: int = PHOTO_N_STEPS,
    progress: bool = False,
    reliability_tolerance: float = RELIABILITY_TOLERANCE,
    accuracy_photos: int | None = None,
    map_tolerance: float = MAP_TOLERANCE,
    view: str = "blended",
    share: str = "both",
    photo_band_steps: int | Sequence[int] | None = PHOTO_BAND_STEPS,
) -> dict[str, Any]:
    r"""Run the demo and write its figures, ``report.json`` and ``index.html`` into ``out_dir``.

    Args:
        out_dir: the output folder (created if needed; checked before any work).
            Default: ``demo-out``.
        models: Fashion-MNIST zoo models to compare. Default: :data:`DEMO_MODELS`.
        n_steps: path steps for the Fashion-MNIST attributions (the budget of each
            explained map). Default: 32.
        attribution_per_class: images per class for the Fashion-MNIST rank spectra.
        grid_images: Fashion-MNIST images explained in detail (evenly spaced classes).
        ranks: ranks of the Fashion-MNIST accuracy curves. Default:
            :func:`~captum_rank.audit.default_ranks` of 28.
        photos: photos explained with the ImageNet model (0 leaves the ImageNet part
            out). Default: 4.
        imagenet_n_steps: the budget of model evaluations for each photo's map; each
            stops once its estimated error is at most ``map_tolerance`` (measured on 20
            photos: about 40-60 for IG and 90-140 for RIG on the spectral path).
            Default: 256.
        progress: show progress bars.
        reliability_tolerance: relative completeness error above which rank summaries are marked
            unreliable. Default: 0.1.
        accuracy_photos: photos in the ImageNet accuracy curves (a stratified subset).
            Default: all of them.
        map_tolerance: estimated relative L2 error to which every map is refined; a map
            that misses it is not drawn. Default: 0.1.
        view: how each explained image's maps are drawn: ``"blended"`` (over the grey
            photo, Captum's ``blended_heat_map``), ``"signed"`` or ``"absolute"`` heat maps.
            Default: ``"blended"``.
        share: their colour scales: ``"attribution"`` (each map its own), ``"all"`` (one
            shared scale) or ``"both"`` (two rows). The rule and its values are written on
            each figure. Default: ``"both"``.
        photo_band_steps: Gauss-Legendre gradients per component for the photos' rank-band
            maps (one number, or one per component from the first, the last repeated);
            ``None`` leaves the band maps out. Each band's total is its exact ``R``; the
            maps are those of the quadrature. Default:
            :data:`~captum_rank.defaults.PHOTO_BAND_STEPS`.

    Returns:
        dict: ``parts`` (per part: ``title``, ``summary`` rows as printed, and the
        report's JSON data), ``files`` (written), ``out_dir`` and ``seconds`` (wall time).

    Raises:
        UserInputError: bad arguments, an unwritable ``out_dir``, an unknown model.

    Examples:
        >>> import tempfile
        >>> summary = run_demo(tempfile.mkdtemp(), models=["fmnist-natural"], n_steps=4,
        ...                    attribution_per_class=1, grid_images=1, ranks=[0, 28],
        ...                    photos=0)  # doctest: +SKIP
        >>> [part["title"] for part in summary["parts"]]  # doctest: +SKIP
        ['Fashion-MNIST: natural vs robust']
    """
    started = time.perf_counter()
    n_steps = check_n_steps(n_steps)
    attribution_per_class = positive_int(attribution_per_class, "attribution_per_class")
    grid_images = positive_int(grid_images, "grid_images")
    photos = non_negative_int(photos, "photos")
    imagenet_n_steps = check_n_steps(imagenet_n_steps, name="imagenet_n_steps")
    reliability_tolerance = real(reliability_tolerance, "reliability_tolerance", minimum=0.0)
    map_tolerance = real(map_tolerance, "map_tolerance", minimum=0.0)
    band_steps = (check_segment_steps(photo_band_steps, "photo_band_steps")
                  if photo_band_steps is not None else None)
    from captum_rank.visualization import SHARES, VIEWS

    view = one_of(view, "view", tuple(VIEWS))
    share = one_of(share, "share", SHARES)
    # The folder last, so that a bad argument leaves nothing behind.
    out = output_dir(out_dir, "out_dir")
    reports = [_fashion_part(models, n_steps, attribution_per_class, grid_images, ranks,
                             progress, reliability_tolerance, map_tolerance)]
    if photos:
        if accuracy_photos is not None:
            accuracy_photos = positive_int(accuracy_photos, "accuracy_photos")
        reports.append(_imagenet_part(photos, imagenet_n_steps, progress, reliability_tolerance,
                                      map_tolerance, accuracy_photos, band_steps))
    written = write_report(out, reports, title="captum-rank demo", view=view, share=share)
    return {
        "parts": [{"title": r.title, "summary": r.rows(), "report": r.to_dict()}
                  for r in reports],
        "files": sorted(p.name for p in written.values()),
        "out_dir": str(out),
        "seconds": time.perf_counter() - started,
    }
