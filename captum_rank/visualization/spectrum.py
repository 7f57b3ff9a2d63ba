r"""The rank spectrum: how much of the output each singular component carries.

Input is the output of ``RankIntegratedGradients.attribute_ranks``: ``R`` of shape
``(N, C, r)``, with ``sum(R) = F(x) - F(x')`` per example (up to quadrature error).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from captum_rank import summaries
from captum_rank.checks import UserInputError

from ._arrays import check_finite, is_sequence_of_arrays, to_numpy
from ._figures import check_option, figure_of, maybe_show, new_figure

__all__ = ["plot_rank_spectrum", "rank_spectra"]

_REDUCE = ("sum", "mean", None)
_NORMALIZE = summaries.NORMALIZATIONS
_SHARE = summaries.SHARES


def _reduce_one(value: Any, channel_reduce: str | None, name: str) -> np.ndarray:
    r"""One input, ``(N, C, r)``, ``(C, r)`` or ``(r,)``, as ``(C', r)``."""
    arr = to_numpy(value, name)
    check_finite(arr, name)
    if arr.ndim == 3:
        # Average over examples first: the spectrum of the mean attribution.
        arr = arr.mean(axis=0)
    elif arr.ndim == 1:
        arr = arr[None, :]
    elif arr.ndim != 2:
        raise UserInputError(
            f"`{name}` must have shape (N, C, r), (C, r) or (r,) (the output of "
            f"attribute_ranks), got {arr.shape}."
        )
    if arr.shape[-1] == 0:
        raise UserInputError(f"`{name}` has no rank components (last dimension is 0).")
    if arr.shape[0] == 0:
        raise UserInputError(f"`{name}` has no examples or channels (shape {arr.shape}).")
    if channel_reduce == "sum":
        return arr.sum(axis=0, keepdims=True)
    if channel_reduce == "mean":
        return arr.mean(axis=0, keepdims=True)
    return arr


def rank_spectra(
    rank_attrs: Any,
    labels: Sequence[str] | None = None,
    channel_reduce: str | None = "sum",
) -> list[tuple[str | None, np.ndarray]]:
    r"""Parse the inputs of :func:`plot_rank_spectrum` into labelled 1-D spectra.

    Args:
        rank_attrs: ``(N, C, r)`` (averaged over ``N``), ``(C, r)`` or ``(r,)`` tensor or
            array; or a dict ``{label: one of those}``; or a list/tuple of them.
        labels (list of str, optional): one label per input (overrides dict keys).
        channel_reduce (str, optional): ``"sum"`` (total per rank over channels, so the
            spectrum still sums to ``F(x) - F(x')``), ``"mean"``, or None (one curve per
            channel). Default: ``"sum"``.

    Returns:
        list of ``(label, values)``: ``values`` is ``(r,)`` float64; ``label`` is None for
        a single unlabelled input.

    Examples:
        >>> import numpy as np
        >>> [(lab, v.shape) for lab, v in rank_spectra({"a": np.ones((4, 3, 8))})]
        [('a', (8,))]
    """
    check_option(channel_reduce, "channel_reduce", _REDUCE)
    if isinstance(rank_attrs, Mapping):
        if not rank_attrs:
            raise UserInputError("`rank_attrs` is an empty dict; give at least one spectrum.")
        names: list[str | None] = [str(k) for k in rank_attrs]
        values = list(rank_attrs.values())
    elif is_sequence_of_arrays(rank_attrs):
        values = list(rank_attrs)
        names = [str(i) for i in range(len(values))]
    else:
        values = [rank_attrs]
        names = [None]
    if labels is not None:
        if isinstance(labels, str) or len(labels) != len(values):
            raise UserInputError(
                f"`labels` must be a list with one label per spectrum ({len(values)}), "
                f"got {labels!r}."
            )
        names = [str(lab) for lab in labels]
    out: list[tuple[str | None, np.ndarray]] = []
    for name, value in zip(names, values, strict=True):
        where = "rank_attrs" if name is None else f"rank_attrs[{name!r}]"
        reduced = _reduce_one(value, channel_reduce, where)
        if reduced.shape[0] == 1:
            out.append((name, reduced[0]))
        else:
            for c, row in enumerate(reduced):
                out.append((f"channel {c}" if name is None else f"{name}, channel {c}", row))
    return out


def _axes_for(
    ax: Axes | Sequence[Axes] | None, n: int, fig_size: tuple[float, float], use_pyplot: bool
) -> tuple[Figure, list[Axes]]:
    if ax is None:
        fig = new_figure(fig_size, use_pyplot, layout="constrained")
        return fig, list(np.asarray(fig.subplots(1, n, squeeze=False)).ravel())
    axes = [ax] if isinstance(ax, Axes) else list(np.asarray(ax, dtype=object).ravel())
    if len(axes) != n or not all(isinstance(a, Axes) for a in axes):
        what = "spectrum and cumulative share" if n == 2 else "spectrum"
        raise UserInputError(
            f"`ax` must be {n} matplotlib Axes ({what}), got {len(axes)} item(s). Pass two "
            f"axes, or cumulative=False with one."
        )
    return figure_of(axes[0]), axes


def draw_spectrum(
    ax: Axes, spectra: list[tuple[str | None, np.ndarray]], normalize: str | None
) -> None:
    r"""Contribution per rank on one axis (used by the grid, too)."""
    for label, values in spectra:
        k = np.arange(1, values.size + 1)
        # Markers help to read individual components only while there are few of them.
        marker = "o" if values.size <= 40 else None
        shown = summaries.normalized_spectrum(values, normalize)
        ax.plot(k, shown, marker=marker, markersize=3, linewidth=1.4, label=label)
    ax.axhline(0.0, color="0.5", linewidth=0.8, zorder=0)


def _ylabel(normalize: str | None) -> str:
    if normalize == "abs":
        return "contribution $R_k / \\sum|R|$"
    if normalize == "total":
        return "contribution $R_k / \\sum R$"
    return "contribution $R_k$"


def plot_rank_spectrum(
    rank_attrs: Any,
    labels: Sequence[str] | None = None,
    channel_reduce: str | None = "sum",
    cumulative: bool = True,
    normalize: str | None = None,
    share: str = "signed",
    ax: Axes | Sequence[Axes] | None = None,
    logx: bool = False,
    title: str | None = None,
    fig_size: tuple[float, float] | None = None,
    use_pyplot: bool = True,
) -> tuple[Figure, list[Axes]]:
    r"""Plot rank attributions ``R`` per component, and the cumulative share of the output.

    Left panel: the contribution ``R_k`` of each rank component ``k = 1 .. r`` (averaged
    over examples; summed over channels by default). Right panel (``cumulative=True``):
    the share of ``F(x) - F(x')`` explained by the first ``k`` components, as defined in
    :func:`~captum_rank.summaries.cumulative_share`: ``cumsum(R) / sum(R)``, or the
    absolute-value share when ``share="abs"`` or when the total is zero (the legend then
    says so).

    Args:
        rank_attrs: the output of ``attribute_ranks``, ``(N, C, r)`` (averaged over N), or
            ``(C, r)`` / ``(r,)``, as tensor or array; or a dict ``{label: spectrum}`` /
            list of spectra to overlay several models or classes.
        labels (list of str, optional): legend labels, one per spectrum (dict keys are
            used by default).
        channel_reduce (str, optional): ``"sum"``, ``"mean"`` or None (one curve per
            channel). Default: ``"sum"``.
        cumulative (bool, optional): add the cumulative-share panel. Default: True.
        normalize (str, optional): scaling of the left panel, per curve: None (output
            units), ``"abs"`` (divide by ``sum |R|``, comparable across models with
            different output scales) or ``"total"`` (divide by ``sum R``; falls back to
            ``sum |R|`` when the total is zero). Default: None.
        share (str, optional): ``"signed"`` or ``"abs"``, see
            :func:`~captum_rank.summaries.cumulative_share`. Default: ``"signed"``.
        ax (Axes or list of Axes, optional): where to draw: two axes when ``cumulative``,
            else one. Default: a new figure.
        logx (bool, optional): logarithmic rank axis (for large ``r``). Default: False.
        title (str, optional): figure title. Default: None.
        fig_size (tuple, optional): size of a new figure. Default: (10, 3.8) with the
            cumulative panel, else (5.5, 3.8).
        use_pyplot (bool, optional): create the figure with pyplot and show it (when the
            backend is interactive). Default: True.

    Returns:
        ``(figure, axes)``: ``axes`` is a list, ``[spectrum, cumulative]`` or
        ``[spectrum]``.

    Raises:
        UserInputError: on bad shapes, NaN/inf, unknown options, or the wrong number of axes.

    Examples:
        >>> import torch
        >>> natural = torch.randn(8, 1, 28) * torch.linspace(1, 0.2, 28)
        >>> robust = torch.randn(8, 1, 28).abs() * torch.linspace(1, 0, 28) ** 4
        >>> fig, axes = plot_rank_spectrum({"natural": natural, "robust": robust},
        ...                                normalize="abs", use_pyplot=False)
        >>> len(axes)
        2
    """
    check_option(normalize, "normalize", _NORMALIZE)
    check_option(share, "share", _SHARE)
    spectra = rank_spectra(rank_attrs, labels, channel_reduce)
    n_panels = 2 if cumulative else 1
    size = fig_size if fig_size is not None else ((10.0, 3.8) if cumulative else (5.5, 3.8))
    fig, axes = _axes_for(ax, n_panels, size, use_pyplot)

    draw_spectrum(axes[0], spectra, normalize)
    axes[0].set_xlabel("rank component $k$")
    axes[0].set_ylabel(_ylabel(normalize))
    axes[0].set_title("contribution per rank component")

    if cumulative:
        for label, values in spectra:
            result = summaries.cumulative_share(values, share)
            note = " [abs: total = 0]" if result.fell_back else (
                " [all zero]" if result.is_zero else "")
            base = "" if label is None else label
            shown = (base + note).strip() or None
            axes[1].plot(np.arange(values.size + 1), result.shares, linewidth=1.6, label=shown)
        for level in (0.0, 1.0):
            axes[1].axhline(level, color="0.5", linewidth=0.8, linestyle=":", zorder=0)
        axes[1].set_xlabel("first $k$ rank components")
        axes[1].set_ylabel(
            "cumulative share of $F(x) - F(x')$" if share == "signed"
            else "cumulative share of $\\sum|R|$"
        )
        axes[1].set_title("share explained by rank $\\leq k$")
    for a in axes:
        if logx:
            a.set_xscale("symlog", linthresh=1.0)
        a.grid(True, alpha=0.3)
    legend_axis = axes[-1]
    if any(not str(line.get_label()).startswith("_") for line in legend_axis.get_lines()):
        legend_axis.legend(fontsize="small", frameon=False)
    if title:
        fig.suptitle(title)
    maybe_show(use_pyplot)
    return fig, axes
