r"""Plots that compare models: attribution grids and accuracy against rank."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Colormap, Normalize
from matplotlib.figure import Figure, SubFigure
from matplotlib.ticker import FormatStrFormatter

from captum_rank.checks import UserInputError, UserTypeError, real
from captum_rank.summaries import normalized_spectrum

from ._arrays import as_1d, check_finite, image_to_unit, to_numpy_batch
from ._figures import check_option, figure_of, maybe_show, new_figure, strip_ticks
from .image import _HEAT_METHODS, _check_method, _resolve_cmap, _rgb, render_image_attr
from .normalize import _check_outlier_perc, _check_sign, shared_scale, sign_range
from .spectrum import _ylabel, rank_spectra

__all__ = ["plot_accuracy_vs_rank", "plot_comparison_grid"]

_SHARE = ("attribution", "all", "none")
_RANKS_KEY = "ranks"
_DEFAULT_TITLES = {"ig": "IG", "rig": "RIG", "saliency": "Saliency", "ranks": "rank spectrum"}
_CURVE_STYLES = {
    "low_rank": ("-", "o", "low-rank $x_k$"),
    "high_rank": ("--", "s", "high-rank residual $x - x_k$"),
}


def _batch(value: Any, name: str, layout: str | None, layout_name: str) -> list[np.ndarray]:
    maps = to_numpy_batch(value, name, layout, layout_name)
    for i, m in enumerate(maps):
        check_finite(m, f"{name}[{i}]")
    return maps


def plot_comparison_grid(
    images: Any,
    rows: Mapping[str, Mapping[str, Any]],
    attributions: Sequence[str] | None = None,
    method: str = "heat_map",
    sign: str = "all",
    outlier_perc: float = 2,
    share: str = "attribution",
    normalize_spectrum: str | None = "abs",
    image_titles: Sequence[str] | None = None,
    attribution_titles: Mapping[str, str] | None = None,
    layout: str | None = None,
    image_layout: str | None = None,
    cmap: str | Colormap | None = None,
    alpha_overlay: float = 0.5,
    show_colorbar: bool = True,
    title: str | None = None,
    fig_size: tuple[float, float] | None = None,
    fig: Figure | SubFigure | None = None,
    use_pyplot: bool = True,
) -> tuple[Figure | SubFigure, np.ndarray]:
    r"""Several models' attributions for several images side by side, on shared scales.

    One row per image. Columns: the image; then, for each model in ``rows``, one heat map
    per attribution (e.g. IG and RIG); then, if the models have rank attributions,
    one panel with every model's rank spectrum overlaid. With ``share="attribution"``
    (the default) every heat map of one attribution, across all models and images, uses one colour
    scale (:func:`~captum_rank.visualization.shared_scale`), so a brighter panel means a
    larger attribution; the colour bars below the columns are in attribution units.

    Args:
        images: ``N`` images, ``(N, C, H, W)`` / ``(N, H, W, C)`` / ``(N, H, W)`` tensor
            or array, or a list of single images (any layout).
        rows (dict): ``{model_name: {attribution_name: maps, ..., "ranks": R}}``;
            each attribution is a batch of ``N`` maps like ``images`` (e.g. IG and RIG
            outputs, ``(N, C, H, W)``); ``"ranks"`` (optional) is the ``(N, C, r)`` output
            of ``attribute_ranks``.
        attributions (list of str, optional): the attribution keys to show, in order.
            Default: the keys of the first model except ``"ranks"``.
        method (str, optional): how maps are drawn: ``"heat_map"`` or
            ``"blended_heat_map"`` (over the grey image). Default: ``"heat_map"``.
        sign (str, optional): as in :func:`~captum_rank.visualization.normalize_attr`.
            Default: ``"all"``.
        outlier_perc (float, optional): percentage of attribution mass that saturates,
            computed over all the maps sharing a scale. Default: 2.
        share (str, optional): ``"attribution"`` (one scale per attribution), ``"all"``
            (one scale for every map) or ``"none"`` (each map its own, no colour bars).
            Default: ``"attribution"``.
        normalize_spectrum (str, optional): scaling of the spectra, as ``normalize`` in
            :func:`~captum_rank.visualization.plot_rank_spectrum`. Default: ``"abs"``
            (shape comparable across models with different output scales).
        image_titles (list of str, optional): one label per image (row labels).
        attribution_titles (dict, optional): display names of attribution keys. Default:
            ``ig`` -> ``IG``, ``rig`` -> ``RIG``, others as given.
        layout (str, optional): layout of one attribution map (``"CHW"``, ``"HWC"``,
            ``"HW"``). Default: automatic.
        image_layout (str, optional): layout of one image. Default: automatic.
        cmap (str or Colormap, optional): heat-map colours. Default: Captum's for ``sign``.
        alpha_overlay (float, optional): heat-map alpha for ``blended_heat_map``.
        show_colorbar (bool, optional): colour bars under the heat-map columns (not with
            ``share="none"``). Default: True.
        title (str, optional): figure title.
        fig_size (tuple, optional): size of a new figure. Default: about 1.9 inch per
            panel.
        fig (Figure or SubFigure, optional): draw into this (empty) figure instead.
        use_pyplot (bool, optional): create the figure with pyplot and show it (when the
            backend is interactive). Default: True.

    Returns:
        ``(figure, axes)``: ``axes`` is an ``(N, n_columns)`` numpy array of Axes.

    Raises:
        UserInputError: on missing attributions, mismatched numbers of images and maps, bad shapes,
            NaN/inf, or unknown options.

    Examples:
        >>> import torch
        >>> images = torch.rand(2, 1, 28, 28)
        >>> rows = {
        ...     "natural": {"ig": torch.randn(2, 1, 28, 28), "rig": torch.randn(2, 1, 28, 28),
        ...                 "ranks": torch.randn(2, 1, 28)},
        ...     "robust": {"ig": torch.randn(2, 1, 28, 28), "rig": torch.randn(2, 1, 28, 28),
        ...                "ranks": torch.randn(2, 1, 28)},
        ... }
        >>> fig, axes = plot_comparison_grid(images, rows, use_pyplot=False)
        >>> axes.shape
        (2, 6)
    """
    check_option(share, "share", _SHARE)
    check_option(normalize_spectrum, "normalize_spectrum", (None, "none", "abs", "total"))
    check_option(method, "method", _HEAT_METHODS)
    _check_method(method)
    sign = _check_sign(sign)
    perc = _check_outlier_perc(outlier_perc)
    if not isinstance(rows, Mapping) or not rows:
        raise UserInputError(
            "`rows` must be a non-empty dict {model_name: {attribution_name: maps}}."
        )
    for model_name, entry in rows.items():
        if not isinstance(entry, Mapping):
            raise UserTypeError(
                f"`rows[{model_name!r}]` must be a dict {{attribution_name: maps}}, got "
                f"{type(entry).__name__}."
            )
    image_list = _batch(images, "images", image_layout, "image_layout")
    n = len(image_list)
    first = next(iter(rows.values()))
    keys = (list(attributions) if attributions is not None
            else [k for k in first if k != _RANKS_KEY])
    titles = {**_DEFAULT_TITLES, **(dict(attribution_titles) if attribution_titles else {})}
    if image_titles is not None and len(image_titles) != n:
        raise UserInputError(
            f"`image_titles` needs one label per image ({n}), got {len(image_titles)}."
        )

    maps: dict[tuple[str, str], list[np.ndarray]] = {}
    for model_name, entry in rows.items():
        for key in keys:
            if key not in entry:
                raise UserInputError(
                    f"`rows[{model_name!r}]` has no {key!r} attributions; every model needs "
                    f"every attribution in `attributions` ({keys})."
                )
            name = f"rows[{model_name!r}][{key!r}]"
            batch = _batch(entry[key], name, layout, "layout")
            if len(batch) != n:
                raise UserInputError(f"`{name}` holds {len(batch)} maps but there are {n} images.")
            for i, m in enumerate(batch):
                if m.shape[:2] != image_list[i].shape[:2]:
                    raise UserInputError(
                        f"`{name}[{i}]` has spatial size {m.shape[:2]} but image {i} has "
                        f"{image_list[i].shape[:2]}."
                    )
            maps[(model_name, key)] = batch
    spectra: dict[str, Any] = {}
    for model_name, entry in rows.items():
        if _RANKS_KEY in entry:
            spectrum = entry[_RANKS_KEY]
            count = len(spectrum) if isinstance(spectrum, Sequence) else int(np.shape(spectrum)[0])
            if count != n:
                raise UserInputError(
                    f"`rows[{model_name!r}]['ranks']` holds {count} spectra but there are "
                    f"{n} images; pass the (N, C, r) output of attribute_ranks."
                )
            spectra[model_name] = spectrum

    scales: dict[str, float | None] = {}
    for key in keys:
        if share == "none":
            scales[key] = None
        else:
            pooled = [m for (mod, k), b in maps.items() for m in b if share == "all" or k == key]
            scales[key] = shared_scale(pooled, sign, perc, layout="HWC")

    models = list(rows)
    n_cols = 1 + len(models) * len(keys) + (1 if spectra else 0)
    if fig is None:
        size = fig_size if fig_size is not None else (1.9 * n_cols + 0.6, 1.9 * n + 1.2)
        fig = new_figure(size, use_pyplot, layout="constrained")
    axes = np.asarray(fig.subplots(n, n_cols, squeeze=False))
    colours = _resolve_cmap(cmap, sign)

    for i, image in enumerate(image_list):
        ax = axes[i, 0]
        shown = image_to_unit(image, f"images[{i}]")
        if shown.shape[2] == 1:
            ax.imshow(shown[:, :, 0], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
        else:
            ax.imshow(_rgb(shown), interpolation="nearest")
        strip_ticks(ax)
        ax.set_ylabel(image_titles[i] if image_titles is not None else f"image {i}")
        col = 1
        for model_name in models:
            for key in keys:
                rgba = render_image_attr(
                    maps[(model_name, key)][i], image, method, sign, perc, colours,
                    alpha_overlay, layout="HWC", image_layout="HWC", scale=scales[key],
                )
                axes[i, col].imshow(rgba, interpolation="nearest")
                strip_ticks(axes[i, col])
                if i == 0:
                    axes[i, col].set_title(f"{model_name}\n{titles.get(key, key)}",
                                           fontsize="medium")
                col += 1
        if spectra:
            sax = axes[i, col]
            for model_name in models:
                if model_name in spectra:
                    item = spectra[model_name][i]
                    (_, values), = rank_spectra(item, channel_reduce="sum")
                    k = np.arange(1, values.size + 1)
                    sax.plot(k, normalized_spectrum(values, normalize_spectrum), linewidth=1.3,
                             marker="o" if values.size <= 40 else None, markersize=2.5,
                             label=model_name)
            sax.axhline(0.0, color="0.5", linewidth=0.8, zorder=0)
            sax.grid(True, alpha=0.3)
            sax.tick_params(labelsize="small")
            if i == 0:
                sax.set_title(titles["ranks"], fontsize="medium")
                sax.set_ylabel(_ylabel(normalize_spectrum), fontsize="small")
                sax.legend(fontsize="x-small", frameon=False)
            if i == n - 1:
                sax.set_xlabel("rank $k$", fontsize="small")
    if spectra and n > 1:
        # One y range for the whole spectrum column, so that rows compare.
        lows, highs = zip(*(axes[i, -1].get_ylim() for i in range(n)), strict=True)
        for i in range(n):
            axes[i, -1].set_ylim(min(lows), max(highs))
    if axes[0, 0].get_title() == "":
        axes[0, 0].set_title("image", fontsize="medium")

    if show_colorbar and share != "none":
        col = 1
        for _model_name in models:
            for key in keys:
                s = scales[key] or 1.0
                low, high = sign_range(sign)
                mappable = ScalarMappable(norm=Normalize(low * s, high * s), cmap=colours)
                bar = fig.colorbar(mappable, ax=axes[-1, col], location="bottom", shrink=0.9,
                                   aspect=12, pad=0.02)
                # Three ticks in attribution units: more would collide under small panels.
                bar.set_ticks([low * s, (low + high) * s / 2, high * s])
                bar.ax.xaxis.set_major_formatter(FormatStrFormatter("%.2g"))
                bar.ax.tick_params(labelsize="x-small")
                col += 1
    if title:
        fig.suptitle(title)
    maybe_show(use_pyplot)
    return fig, axes


def plot_accuracy_vs_rank(
    ranks: Any,
    curves: Mapping[str, Mapping[str, Any]],
    chance: float | None = None,
    ax: Axes | None = None,
    title: str | None = None,
    xlabel: str = "rank $k$",
    ylabel: str = "accuracy",
    fig_size: tuple[float, float] = (6.4, 4.2),
    use_pyplot: bool = True,
) -> tuple[Figure, Axes]:
    r"""Accuracy against rank for low-rank approximations and high-rank residuals.

    For each model, ``low_rank`` is the accuracy on the rank-``k`` approximations ``x_k``
    of the inputs (solid line) and ``high_rank`` the accuracy on the residuals
    ``x - x_k`` (dashed); one colour per model. A robust model typically reaches its
    accuracy at a low ``k`` and fails on residuals; a natural one keeps some accuracy on
    residuals.

    Args:
        ranks (array-like): the ranks ``k`` (x axis), shared by all curves.
        curves (dict): ``{model_name: {"low_rank": [...], "high_rank": [...]}}``; either
            key may be left out; a per-model ``"ranks"`` entry overrides ``ranks``. Values
            are accuracies (fractions or percentages), one per rank.
        chance (float, optional): draw a dotted line at this chance level. Default: None.
        ax (Axes, optional): where to draw. Default: a new figure.
        title (str, optional): axis title. Default: None.
        xlabel, ylabel (str, optional): axis labels.
        fig_size (tuple, optional): size of a new figure. Default: (6.4, 4.2).
        use_pyplot (bool, optional): create the figure with pyplot and show it (when the
            backend is interactive). Default: True.

    Returns:
        ``(figure, axis)``.

    Raises:
        UserInputError: on unknown curve keys, lengths that do not match the ranks, NaN, or
            an empty ``curves``.

    Examples:
        >>> ks = [0, 1, 2, 4, 8, 16, 28]
        >>> curves = {
        ...     "natural": {"low_rank": [.1, .3, .5, .7, .85, .9, .91],
        ...                 "high_rank": [.91, .6, .4, .3, .2, .12, .1]},
        ...     "robust": {"low_rank": [.1, .5, .7, .8, .82, .83, .83],
        ...                "high_rank": [.83, .2, .1, .1, .1, .1, .1]},
        ... }
        >>> fig, ax = plot_accuracy_vs_rank(ks, curves, chance=0.1, use_pyplot=False)
        >>> len(ax.get_lines())
        5
    """
    if not isinstance(curves, Mapping) or not curves:
        raise UserInputError(
            "`curves` must be a non-empty dict {model_name: {'low_rank': [...], "
            "'high_rank': [...]}}."
        )
    shared_ranks = as_1d(ranks, "ranks") if ranks is not None else None
    if ax is None:
        fig = new_figure(fig_size, use_pyplot, layout="constrained")
        ax = fig.subplots()
    elif isinstance(ax, Axes):
        fig = figure_of(ax)
    else:
        raise UserTypeError(f"`ax` must be a matplotlib Axes or None, got {type(ax).__name__}.")
    top = 0.0
    for index, (model_name, entry) in enumerate(curves.items()):
        if not isinstance(entry, Mapping):
            raise UserTypeError(
                f"`curves[{model_name!r}]` must be a dict with 'low_rank'/'high_rank', got "
                f"{type(entry).__name__}."
            )
        unknown = set(entry) - {*_CURVE_STYLES, "ranks"}
        if unknown:
            raise UserInputError(
                f"`curves[{model_name!r}]` has unknown key(s) {sorted(unknown)}; allowed: "
                f"'low_rank', 'high_rank', 'ranks'."
            )
        if "ranks" in entry:
            x = as_1d(entry["ranks"], f"curves[{model_name!r}]['ranks']")
        elif shared_ranks is not None:
            x = shared_ranks
        else:
            raise UserInputError(f"`ranks` is None and `curves[{model_name!r}]` has no 'ranks'.")
        colour = f"C{index % 10}"
        for kind, (style, marker, label) in _CURVE_STYLES.items():
            if kind not in entry:
                continue
            name = f"curves[{model_name!r}][{kind!r}]"
            y = as_1d(entry[kind], name)
            if y.size != x.size:
                raise UserInputError(f"`{name}` has {y.size} values for {x.size} ranks.")
            top = max(top, float(y.max()))
            ax.plot(x, y, linestyle=style, marker=marker, markersize=4, color=colour,
                    linewidth=1.6, label=f"{model_name}: {label}")
    if chance is not None:
        ax.axhline(real(chance, "chance", minimum=0.0), color="0.4", linestyle=":",
                   linewidth=1.0, label="chance")
    # Fractions get a [0, 1] axis and percentages a [0, 100] one, so that models compare.
    ceiling = 1.0 if top <= 1.0 else 100.0 if top <= 100.0 else top
    ax.set_ylim(-0.02 * ceiling, 1.02 * ceiling)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", frameon=False, loc="best")
    if title:
        ax.set_title(title)
    maybe_show(use_pyplot)
    return fig, ax
