r"""The demo behind ``captum-rank demo``: the zoo's natural and robust models, side by side.

:func:`run_demo` runs on the bundled models and the bundled sample of 200 real
Fashion-MNIST test images (nothing is downloaded) and writes, into one folder:

- ``comparison_grid.png``: IG and RIG maps of a few images for every model, on shared
  colour scales, with each image's RIG rank spectrum;
- ``rank_spectrum.png`` and ``rank_spectrum_<model>_by_class.png``: mean rank spectra
  (RIG and IG's rank decomposition) over a class-balanced subset;
- ``accuracy_vs_rank.png``: accuracy on low-rank approximations and high-rank residuals
  of all 200 images, for every model;
- ``rank_path.png``: one image along the RIG rank path with each model's probability;
- ``summary.json`` (the numbers of the printed table), ``report.json`` (every result) and
  ``index.html`` (all of it on one page).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from captum.attr import IntegratedGradients
from matplotlib.figure import Figure
from torch import Tensor, nn

from captum_rank import zoo
from captum_rank.attr import RankIntegratedGradients
from captum_rank.audit import (
    AuditInputError,
    AuditReport,
    default_ranks,
    format_table,
    rank_accuracy,
    rank_spectrum,
    write_report,
)
from captum_rank.data import CLASSES, load_sample
from captum_rank.visualization import plot_comparison_grid, plot_rank_path

__all__ = ["DEMO_MODELS", "balanced_subset", "format_summary", "run_demo"]

#: The models the demo compares.
DEMO_MODELS: tuple[str, ...] = ("fmnist-natural", "fmnist-robust")

#: The files the demo writes (besides the per-class spectra, one per model).
DEMO_FILES: tuple[str, ...] = (
    "comparison_grid.png", "rank_spectrum.png", "accuracy_vs_rank.png", "rank_path.png",
    "summary.json", "report.json", "index.html",
)


def balanced_subset(labels: Tensor, per_class: int) -> Tensor:
    r"""Indices of the first ``per_class`` images of every class, in class order.

    Args:
        labels: ``(N,)`` integer labels.
        per_class: how many of each class (fewer when a class has fewer).

    Returns:
        ``(M,)`` int64 indices.

    Examples:
        >>> import torch
        >>> balanced_subset(torch.tensor([0, 1, 0, 1, 0]), 2).tolist()
        [0, 2, 1, 3]
    """
    picks = [torch.nonzero(labels == c).flatten()[:per_class]
             for c in sorted(set(labels.tolist()))]
    return torch.cat(picks) if picks else torch.zeros(0, dtype=torch.int64)


def _load_models(names: Sequence[str]) -> dict[str, nn.Module]:
    models: dict[str, nn.Module] = {}
    for name in names:
        if name not in zoo.available():
            raise AuditInputError(
                f"unknown zoo model {name!r}; available: {', '.join(zoo.available())}."
            )
        try:
            models[name] = zoo.load(name)
        except (FileNotFoundError, OSError) as err:
            raise AuditInputError(
                f"the weights of zoo model {name!r} are missing ({err}); reinstall the package."
            ) from err
    return models


def _grid_figure(models: Mapping[str, nn.Module], x: Tensor, y: Tensor, n_steps: int,
                 titles: list[str]) -> Figure:
    rows: dict[str, dict[str, Any]] = {}
    for name, model in models.items():
        ig = IntegratedGradients(model).attribute(x, target=y, n_steps=n_steps)
        # The sequential rank path at constant speed: same attribution as the default
        # schedule, several times smaller completeness error at this n_steps.
        rig, ranks = RankIntegratedGradients(model).attribute_with_ranks(
            x, target=y, n_steps=n_steps, schedule="arc_length")
        rows[name] = {"ig": ig.detach(), "rig": rig.detach(), "ranks": ranks.detach()}
    fig, _ = plot_comparison_grid(
        x, rows, image_titles=titles, use_pyplot=False,
        title=f"IG and RIG (target = true label, {n_steps} steps), shared scale per method",
    )
    return fig if isinstance(fig, Figure) else fig.figure  # a SubFigure's .figure is the root


def _path_figure(models: Mapping[str, nn.Module], image: Tensor, label: int) -> Figure:
    fig = Figure(figsize=(12, 3.4 * len(models)), layout="constrained")
    subfigs = fig.subfigures(len(models), 1, squeeze=False).ravel()
    for sub, (name, model) in zip(subfigs, models.items(), strict=True):
        plot_rank_path(model, image, target=label, ranks=[0, 1, 2, 3, 4, 6, 8, 28],
                       fig=sub, use_pyplot=False,
                       title=f"{name}: rank path of a {CLASSES[label]} image")
    return fig


def run_demo(
    out_dir: str | os.PathLike[str] = "demo-out",
    models: Sequence[str] = DEMO_MODELS,
    n_steps: int = 32,
    attribution_per_class: int = 10,
    grid_images: int = 4,
    ranks: Sequence[int] | None = None,
    table_ranks: Sequence[int] = (1, 2, 4, 8),
    progress: bool = False,
) -> dict[str, Any]:
    r"""Run the demo and write its figures, JSON and HTML into ``out_dir``.

    Accuracy against rank uses all 200 sample images; the attributions (rank spectra,
    completeness) a class-balanced subset of ``attribution_per_class`` images per class.
    With the defaults it takes about 10-15 s on two idle CPU cores (``captum-rank demo``
    measured 12 s wall, imports included), well under a minute on a busy machine.

    Args:
        out_dir: the output folder (created if needed). Default: ``demo-out``.
        models: zoo model names. Default: :data:`DEMO_MODELS`.
        n_steps: path steps for IG and RIG. Default: 32.
        attribution_per_class: images per class for the rank spectra. Default: 10.
        grid_images: images in the comparison grid (from evenly spaced classes).
        ranks: ranks of the accuracy curves. Default:
            :func:`~captum_rank.audit.default_ranks` of 28.
        table_ranks: ranks shown in the summary table.
        progress: show progress bars.

    Returns:
        The summary (also written to ``summary.json``): ``models`` maps each model name to
        ``sample_accuracy``, ``ig_mean_abs_delta``, ``rig_mean_abs_delta``,
        ``rig_rank_50``, ``rig_rank_90``, ``ig_rank_50``, ``ig_rank_90``,
        ``low_rank_accuracy`` and ``high_rank_accuracy`` (``{rank: accuracy}``) and, from
        the model card, ``test_accuracy`` and ``pgd_accuracy``; plus ``n_images_accuracy``,
        ``n_images_attribution``, ``n_steps``, ``ranks``, ``timings``, ``files`` and
        ``seconds`` (wall time).

    Raises:
        AuditInputError: an unknown model or missing weights.

    Examples:
        >>> import tempfile
        >>> summary = run_demo(tempfile.mkdtemp(), models=["fmnist-natural"],
        ...                    attribution_per_class=1, grid_images=2)  # doctest: +SKIP
        >>> sorted(summary["models"])  # doctest: +SKIP
        ['fmnist-natural']
    """
    started = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    loaded = _load_models(models)
    x, y = load_sample()
    rank_list = list(ranks) if ranks is not None else default_ranks(min(x.shape[-2:]))

    accuracy = rank_accuracy(loaded, (x, y), rank_list, batch_size=200, progress=progress,
                             meta={"data": "bundled sample, 200 Fashion-MNIST test images"})
    subset = balanced_subset(y, attribution_per_class)
    spectrum = rank_spectrum(loaded, (x[subset], y[subset]), n_steps=n_steps,
                             batch_size=len(subset), progress=progress,
                             meta={"data": f"{attribution_per_class} sample images per class"})

    classes = sorted(set(y.tolist()))
    step = max(1, len(classes) // max(1, grid_images))
    grid_classes = classes[::step][:grid_images]
    grid_index = torch.stack([torch.nonzero(y == c).flatten()[0] for c in grid_classes])
    fig = _grid_figure(loaded, x[grid_index], y[grid_index], n_steps,
                       [CLASSES[c] for c in grid_classes])
    fig.savefig(out / "comparison_grid.png", dpi=100)
    path_index = int(grid_index[0])
    fig = _path_figure(loaded, x[path_index], int(y[path_index]))
    fig.savefig(out / "rank_path.png", dpi=100)

    report = AuditReport(accuracy, spectrum, meta={
        "command": "captum-rank demo", "models": list(loaded),
        "data": "bundled sample of 200 Fashion-MNIST test images",
        "attribution images": f"{len(subset)} ({attribution_per_class} per class)",
        "n_steps": n_steps,
    })
    written = write_report(out, report, title="captum-rank demo: natural vs robust",
                           figures={"comparison_grid.png": "IG and RIG maps",
                                    "rank_path.png": "the RIG rank path"},
                           class_names=CLASSES)

    per_model: dict[str, Any] = {}
    spec_summary = spectrum.summary()
    for name in loaded:
        entry: dict[str, Any] = {
            "sample_accuracy": accuracy.clean_accuracy()[name],
            "ig_mean_abs_delta": spec_summary[name]["ig"]["mean_abs_delta"],
            "rig_mean_abs_delta": spec_summary[name]["rig"]["mean_abs_delta"],
            "rig_rank_50": spec_summary[name]["rig"]["rank_50"],
            "rig_rank_90": spec_summary[name]["rig"]["rank_90"],
            "ig_rank_50": spec_summary[name]["ig"]["rank_50"],
            "ig_rank_90": spec_summary[name]["ig"]["rank_90"],
            "low_rank_accuracy": dict(zip(
                [str(k) for k in accuracy.ranks], accuracy.low_rank_accuracy()[name],
                strict=True)),
            "high_rank_accuracy": dict(zip(
                [str(k) for k in accuracy.ranks], accuracy.high_rank_accuracy()[name],
                strict=True)),
        }
        try:
            card = zoo.card(name)
            entry["test_accuracy"] = card.get("clean_accuracy")
            entry["pgd_accuracy"] = card.get("pgd_accuracy")
        except (OSError, ValueError):
            pass
        per_model[name] = entry
    files = sorted({p.name for p in written.values()} | {
        "comparison_grid.png", "rank_path.png", "summary.json"})
    summary: dict[str, Any] = {
        "models": per_model,
        "n_images_accuracy": accuracy.n_images,
        "n_images_attribution": spectrum.n_images,
        "n_steps": n_steps,
        "ranks": accuracy.ranks,
        "table_ranks": [k for k in table_ranks if k in accuracy.ranks],
        "timings": {"accuracy": accuracy.timings, "spectrum": spectrum.timings,
                    "svd_cost": accuracy.svd_cost()},
        "files": files,
        "out_dir": str(out),
    }
    summary["seconds"] = time.perf_counter() - started
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def format_summary(summary: Mapping[str, Any]) -> str:
    r"""The demo's summary as the table the command line prints.

    Args:
        summary: the dict returned by :func:`run_demo`.

    Returns:
        A plain-text table, one row per model, and a legend line.

    Examples:
        >>> s = {"models": {"m": {"sample_accuracy": 0.9, "ig_mean_abs_delta": 0.01,
        ...      "rig_mean_abs_delta": 0.2, "rig_rank_50": 2, "rig_rank_90": 5,
        ...      "low_rank_accuracy": {"2": 0.5}, "high_rank_accuracy": {"2": 0.3}}},
        ...      "table_ranks": [2]}
        >>> print(format_summary(s).splitlines()[0])
        model  acc    IG |d|  RIG |d|  RIG k50  RIG k90  low@2  high@2
    """
    rows = []
    for name, entry in summary["models"].items():
        row: dict[str, Any] = {
            "model": name,
            "acc": entry["sample_accuracy"],
            "IG |d|": entry["ig_mean_abs_delta"],
            "RIG |d|": entry["rig_mean_abs_delta"],
            "RIG k50": entry["rig_rank_50"],
            "RIG k90": entry["rig_rank_90"],
        }
        for k in summary["table_ranks"]:
            row[f"low@{k}"] = entry["low_rank_accuracy"][str(k)]
        for k in summary["table_ranks"]:
            row[f"high@{k}"] = entry["high_rank_accuracy"][str(k)]
        rows.append(row)
    legend = (
        "acc: accuracy on the sample; |d|: mean |completeness delta| (output units); "
        "k50/k90: rank whose first k components carry 50%/90% of the mean RIG attribution; "
        "low@k: accuracy on rank-k approximations; high@k: on residuals x - x_k."
    )
    return format_table(rows) + "\n" + legend
