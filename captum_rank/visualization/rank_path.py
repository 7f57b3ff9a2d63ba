r"""The rank path: the images that RIG walks through, with the model's score.

With the ``sequential`` schedule the path point at ``a = k / r`` is
``x' + low_rank(x - x', k)``: the baseline plus the rank-``k`` approximation of the
difference. :func:`captum_rank.rank_path.rank_path` computes those images and the model's
outputs (a :class:`~captum_rank.rank_path.RankPathResult`); :func:`plot_rank_path` draws
such a result, and :func:`plot_rank_path_arrays` draws arrays of your own. Nothing here
runs a model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure

from captum_rank.checks import UserInputError, UserTypeError
from captum_rank.rank_path import SCORES, RankPathResult, default_path_ranks

from ._arrays import as_1d, check_finite, to_numpy_batch
from ._figures import check_option, maybe_show, new_figure, strip_ticks
from ._labels import class_label
from .image import _rgb

__all__ = ["default_path_ranks", "plot_rank_path", "plot_rank_path_arrays"]

def _display_range(images: list[np.ndarray], value_range: tuple[float, float] | None) -> (
    tuple[float, float]
):
    if value_range is not None:
        lo, hi = float(value_range[0]), float(value_range[1])
        if not hi > lo:
            raise UserInputError(f"`value_range` must be (low, high) with high > low, got "
                             f"{value_range!r}.")
        return lo, hi
    # Rank-k reconstructions overshoot the pixel range a little; keep the full image's
    # range so that the last panel looks like the input, and clip the overshoot.
    last = images[-1]
    lo, hi = float(last.min()), float(last.max())
    # The full-rank point equals the image only up to SVD rounding (e.g. -1e-7 for a
    # black pixel), so compare with a tolerance.
    tol = 1e-3 * max(hi - lo, 1e-12)
    if lo >= -tol and hi <= 1.0 + tol:
        return 0.0, 1.0
    if lo >= -tol and hi <= 255.0 + tol:
        return 0.0, 255.0
    lo = min(float(im.min()) for im in images)
    hi = max(float(im.max()) for im in images)
    return (lo, hi) if hi > lo else (lo, lo + 1.0)


def plot_rank_path_arrays(
    images: Any,
    scores: Any,
    ranks: Any,
    curve_ranks: Any = None,
    curve_scores: Any = None,
    score_label: str = "score",
    layout: str | None = None,
    value_range: tuple[float, float] | None = None,
    title: str | None = None,
    fig_size: tuple[float, float] | None = None,
    fig: Figure | SubFigure | None = None,
    use_pyplot: bool = True,
) -> tuple[Figure | SubFigure, list[Axes]]:
    r"""Draw images along a rank path (top row) and the score against rank (bottom).

    Args:
        images: ``K`` images, as a batch ``(K, C, H, W)`` / ``(K, H, W, C)`` /
            ``(K, H, W)`` or a list of single images (any layout, grey or colour).
        scores (array-like): ``K`` scores, one per image.
        ranks (array-like): ``K`` ranks, one per image (titles and curve markers).
        curve_ranks (array-like, optional): a finer set of ranks for the score curve.
            Default: None (the curve joins the ``K`` points).
        curve_scores (array-like, optional): the scores at ``curve_ranks``.
        score_label (str, optional): name of the score (axis label, titles).
            Default: ``"score"``.
        layout (str, optional): layout of one image (``"CHW"``, ``"HWC"``, ``"HW"``).
        value_range (tuple, optional): ``(low, high)`` pixel range for display; values
            outside are clipped. Default: ``(0, 1)`` if the last image lies in it, else
            ``(0, 255)`` if it lies in that, else the images' min and max.
        title (str, optional): figure title. Default: None.
        fig_size (tuple, optional): size of a new figure. Default: from ``K``.
        fig (Figure or SubFigure, optional): draw into this (empty) figure instead.
        use_pyplot (bool, optional): create the figure with pyplot and show it (when the
            backend is interactive). Default: True.

    Returns:
        ``(figure, axes)``: ``axes`` is a list of ``K`` image axes followed by the curve
        axis.

    Raises:
        UserInputError: if the numbers of images, scores and ranks differ, on non-image
            shapes, NaN/inf, or mismatched curve arrays.

    Examples:
        >>> import numpy as np
        >>> images = np.random.rand(4, 1, 16, 16)
        >>> fig, axes = plot_rank_path_arrays(images, [0.1, 0.4, 0.7, 0.9], [0, 2, 8, 16],
        ...                                   use_pyplot=False)
        >>> len(axes)
        5
    """
    batch = to_numpy_batch(images, "images", layout)
    for i, im in enumerate(batch):
        check_finite(im, f"images[{i}]")
    shapes = {im.shape for im in batch}
    if len(shapes) != 1:
        raise UserInputError(f"`images` must all have the same shape, got {sorted(shapes)}.")
    score_arr = as_1d(scores, "scores")
    rank_arr = as_1d(ranks, "ranks")
    n = len(batch)
    if not score_arr.size == rank_arr.size == n:
        raise UserInputError(
            f"`images` ({n}), `scores` ({score_arr.size}) and `ranks` ({rank_arr.size}) "
            f"must have the same length."
        )
    if (curve_ranks is None) != (curve_scores is None):
        raise UserInputError("give both `curve_ranks` and `curve_scores`, or neither.")
    if curve_ranks is not None:
        c_ranks, c_scores = as_1d(curve_ranks, "curve_ranks"), as_1d(curve_scores, "curve_scores")
        if c_ranks.size != c_scores.size:
            raise UserInputError(
                f"`curve_ranks` ({c_ranks.size}) and `curve_scores` ({c_scores.size}) must "
                f"have the same length."
            )
    else:
        c_ranks, c_scores = rank_arr, score_arr
    lo, hi = _display_range(batch, value_range)

    if fig is None:
        size = fig_size if fig_size is not None else (max(6.0, 1.5 * n), 4.6)
        fig = new_figure(size, use_pyplot, layout="constrained")
    grid = fig.add_gridspec(2, n, height_ratios=[1.0, 1.15])
    axes: list[Axes] = []
    for i, im in enumerate(batch):
        ax = fig.add_subplot(grid[0, i])
        shown = np.clip((im - lo) / (hi - lo), 0.0, 1.0)
        if shown.shape[2] == 1:
            ax.imshow(shown[:, :, 0], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
        else:
            ax.imshow(_rgb(shown), interpolation="nearest")
        strip_ticks(ax)
        ax.set_title(f"k = {_fmt_rank(rank_arr[i])}\n{score_arr[i]:.3g}", fontsize="small")
        axes.append(ax)
    curve = fig.add_subplot(grid[1, :])
    order = np.argsort(c_ranks, kind="stable")
    curve.plot(c_ranks[order], c_scores[order], color="C0", linewidth=1.6)
    curve.plot(rank_arr, score_arr, "o", color="C3", markersize=5, label="shown above")
    curve.set_xlabel("rank $k$ of the path point (baseline + rank-$k$ part)")
    curve.set_ylabel(score_label)
    curve.grid(True, alpha=0.3)
    curve.legend(fontsize="small", frameon=False, loc="best")
    axes.append(curve)
    if title:
        fig.suptitle(title)
    maybe_show(use_pyplot)
    return fig, axes


def _fmt_rank(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2g}"


def plot_rank_path(
    path: RankPathResult,
    *,
    score: str = "prob",
    class_names: Sequence[str] | None = None,
    value_range: tuple[float, float] | None = None,
    title: str | None = None,
    fig_size: tuple[float, float] | None = None,
    fig: Figure | SubFigure | None = None,
    use_pyplot: bool = True,
) -> tuple[Figure | SubFigure, list[Axes]]:
    r"""Show the images along the RIG path with the model's score for the target class.

    The path point of rank ``k`` is ``baseline + low_rank(image - baseline, k)`` (the
    ``sequential`` schedule at ``a = k / r``): ``k = 0`` is the baseline, ``k = r`` the
    image. The top row shows the kept points, titled with their score; the bottom panel
    the score at every rank of the result's curve. Compute the path first with
    :func:`captum_rank.rank_path.rank_path`; this function runs no model.

    Args:
        path (RankPathResult): the result of :func:`~captum_rank.rank_path.rank_path`.
        score (str, optional): ``"prob"`` (softmax probability) or ``"logit"``.
            Default: ``"prob"``.
        class_names (list of str, optional): one name per class, so that titles name the
            target (``"Sneaker"``) rather than its index. Default: None (indices).
        value_range (tuple, optional): ``(low, high)`` pixel range for display, see
            :func:`plot_rank_path_arrays`.
        title (str, optional): figure title. Default: ``"rank path, target <name>"``.
        fig_size, fig, use_pyplot: as in :func:`plot_rank_path_arrays`.

    Returns:
        ``(figure, axes)`` as :func:`plot_rank_path_arrays`.

    Raises:
        UserInputError: unknown ``score``, ``class_names`` of the wrong length.
        UserTypeError: ``path`` is not a :class:`~captum_rank.rank_path.RankPathResult`
            (a model included: compute the path with
            :func:`captum_rank.rank_path.rank_path` first).

    Examples:
        >>> import torch
        >>> from captum_rank.rank_path import rank_path
        >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
        <torch._C.Generator object at ...>
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 16 * 16, 3))
        >>> path = rank_path(model, torch.rand(3, 16, 16), target=2, ranks=[0, 1, 4, 16])
        >>> fig, axes = plot_rank_path(path, class_names=["cat", "dog", "fox"],
        ...                            use_pyplot=False)
        >>> len(axes), fig.get_suptitle()
        (5, 'rank path, target fox')
    """
    if not isinstance(path, RankPathResult):
        if callable(path):
            # Plots run no model; a model here is the first argument of the old
            # plot_rank_path(model, image, ...) call.
            raise UserTypeError(
                "`path` is a model, but plot_rank_path runs no model: compute the path first "
                "with captum_rank.rank_path.rank_path(model, image, target=..., ...) and pass "
                "its result, plot_rank_path(rank_path(model, image, ...))."
            )
        raise UserTypeError(
            "`path` must be a RankPathResult from captum_rank.rank_path.rank_path(model, "
            f"image, ...), got {type(path).__name__}."
        )
    check_option(score, "score", SCORES)
    name = class_label(class_names, path.target, path.num_classes)
    label = "softmax probability" if score == "prob" else "logit"
    return plot_rank_path_arrays(
        path.images, path.scores(score), path.ranks, curve_ranks=path.curve_ranks,
        curve_scores=path.curve_scores(score), score_label=f"{label} of {name}",
        layout="CHW", value_range=value_range,
        title=title if title is not None else f"rank path, target {name}",
        fig_size=fig_size, fig=fig, use_pyplot=use_pyplot,
    )
