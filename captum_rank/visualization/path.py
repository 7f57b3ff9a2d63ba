r"""The rank path: the images that RIG walks through, with the model's score.

With the ``sequential`` schedule the path point at ``a = k / r`` is
``x' + low_rank(x - x', k)``: the baseline plus the rank-``k`` approximation of the
difference. :func:`plot_rank_path` computes those images and the model's score;
:func:`plot_rank_path_arrays` draws precomputed ones (no model needed).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure

from ._arrays import as_1d, check_finite, to_hwc, to_numpy_batch
from ._figures import check_option, maybe_show, new_figure, strip_ticks
from .image import _rgb

__all__ = ["default_path_ranks", "plot_rank_path", "plot_rank_path_arrays"]

_SCORES = ("prob", "logit")


def default_path_ranks(r: int, max_images: int = 8) -> list[int]:
    r"""Ranks to show along a path of ``r`` components: 0, then roughly geometric to ``r``.

    Low ranks change the image most, so they get most of the panels.

    Args:
        r (int): number of rank components, ``min(H, W)``.
        max_images (int, optional): at most this many ranks. Default: 8.

    Returns:
        list of int: increasing ranks, starting at 0 and ending at ``r``.

    Examples:
        >>> default_path_ranks(28)
        [0, 1, 2, 3, 5, 9, 16, 28]
    """
    if isinstance(r, bool) or not isinstance(r, int | np.integer) or r < 1:
        raise ValueError(f"`r` must be a positive int, got {r!r}.")
    if isinstance(max_images, bool) or not isinstance(max_images, int) or max_images < 2:
        raise ValueError(f"`max_images` must be an int >= 2, got {max_images!r}.")
    if r + 1 <= max_images:
        return list(range(r + 1))
    inner = np.geomspace(1, r, max_images - 1)
    ranks = sorted({0, *(round(float(v)) for v in inner)})
    # Rounding can merge small ranks; top up with evenly spread ones.
    candidates = [int(v) for v in np.linspace(0, r, 4 * max_images)]
    for v in candidates:
        if len(ranks) >= max_images:
            break
        if v not in ranks:
            ranks = sorted({*ranks, v})
    return ranks


def _display_range(images: list[np.ndarray], value_range: tuple[float, float] | None) -> (
    tuple[float, float]
):
    if value_range is not None:
        lo, hi = float(value_range[0]), float(value_range[1])
        if not hi > lo:
            raise ValueError(f"`value_range` must be (low, high) with high > low, got "
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
        ValueError: if the numbers of images, scores and ranks differ, on non-image
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
        raise ValueError(f"`images` must all have the same shape, got {sorted(shapes)}.")
    score_arr = as_1d(scores, "scores")
    rank_arr = as_1d(ranks, "ranks")
    n = len(batch)
    if not score_arr.size == rank_arr.size == n:
        raise ValueError(
            f"`images` ({n}), `scores` ({score_arr.size}) and `ranks` ({rank_arr.size}) "
            f"must have the same length."
        )
    if (curve_ranks is None) != (curve_scores is None):
        raise ValueError("give both `curve_ranks` and `curve_scores`, or neither.")
    if curve_ranks is not None:
        c_ranks, c_scores = as_1d(curve_ranks, "curve_ranks"), as_1d(curve_scores, "curve_scores")
        if c_ranks.size != c_scores.size:
            raise ValueError(
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


def _model_placement(
    model: Callable[..., Any], x: torch.Tensor
) -> tuple[torch.device, torch.dtype]:
    r"""Device and float dtype of the model's first parameter (else those of ``x``)."""
    parameters = getattr(model, "parameters", None)
    if callable(parameters):
        for p in parameters():
            if p.is_floating_point():
                return p.device, p.dtype
    return x.device, x.dtype


def _as_chw_tensor(image: Any, name: str, layout: str | None) -> torch.Tensor:
    hwc = to_hwc(image, name, layout)
    check_finite(hwc, name)
    dtype = image.dtype if isinstance(image, torch.Tensor) and image.is_floating_point() else (
        torch.float32
    )
    return torch.from_numpy(np.ascontiguousarray(hwc.transpose(2, 0, 1))).to(dtype)


def _path_scores(
    model: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    base: torch.Tensor,
    shown: list[int],
    curve: list[float],
    target: int | None,
    score: str,
    batch_size: int,
) -> tuple[torch.Tensor, np.ndarray, np.ndarray, int]:
    r"""Path images at ``shown``, their scores, the scores at ``curve``, and the target."""
    # Lazy: the kernel is only needed here, and this module stays importable alone.
    from captum_rank.svd import compute_dtype, rank_mask, reconstruct, thin_svd

    # One decomposition for every rank: low_rank(diff, k) == U diag(S * m_k) Vh, with the
    # kernel's own mask m_k (so fractional ranks work as in low_rank).
    work = compute_dtype(x.dtype)
    U, S, Vh = thin_svd((x - base).to(work))
    r = S.shape[-1]

    def points(ks: Sequence[float]) -> torch.Tensor:
        rank_t = torch.tensor(list(ks), dtype=work, device=x.device)[:, None]
        mask = rank_mask(rank_t, torch.Size((len(ks), S.shape[0])), r, x.device, work)
        return base + reconstruct(U, S * mask, Vh).to(x.dtype)

    def scores(xs: torch.Tensor) -> torch.Tensor:
        outs = []
        for start in range(0, xs.shape[0], batch_size):
            out = model(xs[start:start + batch_size])
            if not isinstance(out, torch.Tensor) or out.ndim != 2:
                raise ValueError(
                    "`model` must return a (N, classes) tensor, got "
                    f"{getattr(out, 'shape', type(out).__name__)}."
                )
            outs.append(out.float())
        return torch.cat(outs)

    full = scores(x.unsqueeze(0))
    n_classes = full.shape[1]
    if target is None:
        tgt = int(full.argmax(dim=1)[0])
    elif isinstance(target, bool) or not isinstance(target, int | np.integer) or not (
        0 <= int(target) < n_classes
    ):
        raise ValueError(f"`target` must be a class index in [0, {n_classes}), got {target!r}.")
    else:
        tgt = int(target)

    def select(out: torch.Tensor) -> np.ndarray:
        values = out.softmax(dim=1) if score == "prob" else out
        return values[:, tgt].detach().double().cpu().numpy()

    images = points(shown)
    shown_scores = select(scores(images))
    curve_scores = np.concatenate([
        select(scores(points(curve[i:i + batch_size]))) for i in range(0, len(curve), batch_size)
    ])
    return images, shown_scores, curve_scores, tgt


def plot_rank_path(
    model: Callable[[torch.Tensor], torch.Tensor],
    image: Any,
    target: int | None = None,
    ranks: Sequence[int] | None = None,
    baseline: Any = None,
    score: str = "prob",
    curve_ranks: Sequence[float] | None = None,
    layout: str | None = None,
    batch_size: int = 64,
    title: str | None = None,
    fig_size: tuple[float, float] | None = None,
    fig: Figure | SubFigure | None = None,
    use_pyplot: bool = True,
) -> tuple[Figure | SubFigure, list[Axes]]:
    r"""Show the images along the RIG path with the model's score for ``target``.

    The path point of rank ``k`` is ``baseline + low_rank(image - baseline, k)`` (the
    ``sequential`` schedule at ``a = k / r``): ``k = 0`` is the baseline, ``k = r`` the
    image. The top row shows the points at ``ranks``, titled with their score; the bottom
    panel the score at every rank in ``curve_ranks``.

    Args:
        model (callable): maps a batch ``(N, C, H, W)`` to ``(N, classes)`` outputs
            (logits). It is run under ``torch.no_grad()`` on its parameters' device.
        image (Tensor or numpy.ndarray): one input, ``(C, H, W)``, ``(1, C, H, W)``,
            ``(H, W, C)`` or ``(H, W)`` (passed to the model as ``(1, C, H, W)``).
        target (int, optional): the class to score. Default: the model's prediction on
            ``image``.
        ranks (list of int, optional): ranks shown as images. Default:
            :func:`default_path_ranks` (8 ranks from 0 to ``r``).
        baseline (Tensor, numpy.ndarray or float, optional): the path's start, same shape
            as ``image`` or a scalar. Default: zeros.
        score (str, optional): ``"prob"`` (softmax probability) or ``"logit"``.
            Default: ``"prob"``.
        curve_ranks (list of float, optional): ranks at which the curve is evaluated.
            Default: every integer from 0 to ``r`` (``r <= 64``), else 65 evenly spaced.
        layout (str, optional): layout of ``image`` (``"CHW"``, ``"HWC"``, ``"HW"``).
        batch_size (int, optional): path points per forward pass. Default: 64.
        title (str, optional): figure title. Default: ``"rank path, target t"``.
        fig_size, fig, use_pyplot: as in :func:`plot_rank_path_arrays`.

    Returns:
        ``(figure, axes)`` as :func:`plot_rank_path_arrays`.

    Raises:
        ValueError: on bad shapes, unknown ``score``, ranks outside ``[0, r]``, a
            ``target`` out of range, or model outputs that are not ``(N, classes)``.

    Examples:
        >>> import torch
        >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
        <torch._C.Generator object at ...>
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 16 * 16, 10))
        >>> fig, axes = plot_rank_path(model, torch.rand(3, 16, 16), target=3,
        ...                            ranks=[0, 1, 4, 16], use_pyplot=False)
        >>> len(axes)
        5
    """
    check_option(score, "score", _SCORES)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive int, got {batch_size!r}.")
    x = _as_chw_tensor(image, "image", layout)
    # A float64 numpy image must not meet float32 weights: follow the model.
    device, dtype = _model_placement(model, x)
    x = x.to(device=device, dtype=dtype)
    if baseline is None:
        base = torch.zeros_like(x)
    elif isinstance(baseline, int | float) and not isinstance(baseline, bool):
        base = torch.full_like(x, float(baseline))
    else:
        base = _as_chw_tensor(baseline, "baseline", layout).to(device=device, dtype=x.dtype)
        if base.shape != x.shape:
            raise ValueError(
                f"`baseline` has shape {tuple(base.shape)} (as CHW) but `image` has "
                f"{tuple(x.shape)}; pass a matching baseline or a number."
            )
    r = min(x.shape[-2], x.shape[-1])
    shown = [int(k) for k in (ranks if ranks is not None else default_path_ranks(r))]
    if curve_ranks is None:
        curve = [float(k) for k in range(r + 1)] if r <= 64 else list(np.linspace(0, r, 65))
    else:
        curve = [float(k) for k in curve_ranks]
    for name, values in (("ranks", shown), ("curve_ranks", curve)):
        if not values:
            raise ValueError(f"`{name}` is empty.")
        bad = [v for v in values if not 0 <= v <= r]
        if bad:
            raise ValueError(f"`{name}` must lie in [0, r={r}] (r = min(H, W)), got {bad}.")

    # No gradients are needed; no_grad also keeps the path's memory small.
    with torch.no_grad():
        images, shown_scores, curve_scores, target = _path_scores(
            model, x, base, shown, curve, target, score, batch_size
        )
    label = "softmax probability" if score == "prob" else "logit"
    return plot_rank_path_arrays(
        images.cpu(), shown_scores, shown, curve_ranks=curve, curve_scores=curve_scores,
        score_label=f"{label} of class {target}", layout="CHW",
        title=title if title is not None else f"rank path, target {target}",
        fig_size=fig_size, fig=fig, use_pyplot=use_pyplot,
    )

