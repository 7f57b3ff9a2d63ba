r"""Rank-band maps over the image: where the low-rank and the high-rank evidence lies.

Input is a :class:`~captum_rank.bands.RankBands` (from
``RankIntegratedGradients.attribute_bands``) or a dict ``{band label: map}``. One panel per
band, then the full map (their sum), over the image (Captum's ``blended_heat_map``) or as
heat maps. **Colour scale:** the Captum rule of
:func:`~captum_rank.visualization.shared_scale` (the magnitude below which
``100 - outlier_perc`` percent of the attribution mass lies), with ``share="all"`` (the
default) pooled over the bands and the full map: the bands are parts of one sum in the
same units, so a faint band is a band that carries little of the map. With
``share="band"`` each panel has its own scale: where a weak band's evidence lies, at the
price of brightness that does not compare across panels. The rule and its values are
written under the panels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from captum_rank.checks import UserInputError, integer

from ._arrays import to_numpy
from ._figures import check_option, maybe_show, new_figure, strip_ticks
from .image import METHODS, render_image_attr
from .normalize import SIGNS, shared_scale

__all__ = ["band_panels", "plot_rank_bands"]


def band_panels(bands: Any, example: int = 0) -> tuple[dict[str, np.ndarray], list[str]]:
    r"""``{title: map}`` for every band and the full map of one example, and their notes.

    Args:
        bands: a :class:`~captum_rank.bands.RankBands`, or a dict ``{label: map}`` of one
            example's band maps (``(C, H, W)`` or ``(H, W)`` each).
        example (int, optional): which example of a ``RankBands``. Default: 0.

    Returns:
        tuple: ``(panels, notes)``: the maps titled ``"components a-b"`` (and ``"all"``),
        and for a ``RankBands`` the band's total next to the exact ``R`` over the band
        (and, when calibrated, the total of the quadrature alone).

    Raises:
        UserInputError: for an example out of range or an empty dict.

    Examples:
        >>> import numpy as np
        >>> panels, notes = band_panels({"1-4": np.ones((4, 4)), "5-8": np.zeros((4, 4))})
        >>> list(panels), notes
        (['components 1-4', 'components 5-8', 'all'], ['', '', ''])
    """
    if isinstance(bands, Mapping):
        if not bands:
            raise UserInputError("`bands` is an empty dict; pass {band label: map}.")
        maps = {str(k): to_numpy(v, f"bands[{k!r}]") for k, v in bands.items()}
        notes = [""] * (len(maps) + 1)
    else:
        stacked = to_numpy(bands.maps, "bands.maps")
        count = stacked.shape[1]
        example = integer(example, "example", minimum=0)
        if example >= count:
            raise UserInputError(f"`example` {example} is out of range: {count} examples.")
        maps = {label: stacked[b, example] for b, label in enumerate(bands.labels)}
        totals = np.asarray(bands.totals)[example]
        exact = np.asarray(bands.exact_totals)[example]
        notes = [f"sum {t:+.3g} (exact R {e:+.3g})" for t, e in zip(totals, exact, strict=True)]
        if bands.calibrated:
            # Calibrated sums equal the exact ones; show what the quadrature alone gave.
            estimated = np.asarray(bands.estimated_totals)[example]
            notes = [f"{note}\nquadrature alone {v:+.3g}"
                     for note, v in zip(notes, estimated, strict=True)]
        notes.append(f"sum {totals.sum():+.3g} (F(x)-F(x') {exact.sum():+.3g})")
    panels = {f"components {label}": value for label, value in maps.items()}
    panels["all"] = np.sum(list(maps.values()), axis=0)
    return panels, notes


def plot_rank_bands(
    bands: Any,
    original_image: Any = None,
    example: int = 0,
    method: str = "blended_heat_map",
    sign: str = "all",
    outlier_perc: float = 2,
    *,
    share: str = "all",
    notes: Sequence[str] | None = None,
    title: str | None = None,
    fig_size: tuple[float, float] | None = None,
    use_pyplot: bool = True,
) -> tuple[Figure, Sequence[Axes]]:
    r"""One panel per rank band, then the full map, on one shared colour scale.

    Args:
        bands: a :class:`~captum_rank.bands.RankBands` or ``{band label: map}``.
        original_image (array or Tensor, optional): the image, ``(C, H, W)``, ``(H, W, C)``
            or ``(H, W)``; needed for ``blended_heat_map``. For a ``RankBands`` of a batch,
            the one ``example``'s image.
        example (int, optional): which example of a ``RankBands``. Default: 0.
        method (str, optional): Captum's visualisation method. Default:
            ``"blended_heat_map"`` (``"heat_map"`` without an image).
        sign (str, optional): Captum's sign. Default: ``"all"`` (for and against).
        outlier_perc (float, optional): percentage of the pooled attribution mass that
            saturates. Default: 2.
        share (str, optional): ``"all"`` (one scale for every panel) or ``"band"`` (each
            panel its own). Default: ``"all"``.
        notes (sequence of str, optional): a note under each panel (bands, then the full
            map). Default: for a ``RankBands``, each band's total and its exact ``R``.
        title (str, optional): figure title.
        fig_size (tuple, optional): ``(width, height)``. Default: 2.4 inches per panel,
            more for large maps, so that at 100 dpi every map pixel is at least one
            screen pixel.
        use_pyplot (bool, optional): as in Captum. Default: True.

    Returns:
        tuple: ``(figure, axes)``, one axis per panel.

    Raises:
        UserInputError: for an unknown ``method`` or ``sign``, a blended map without an
            image, or bad ``bands``.

    Examples:
        >>> import numpy as np
        >>> maps = {"1-4": np.random.rand(8, 8), "5-8": -np.random.rand(8, 8)}
        >>> fig, axes = plot_rank_bands(maps, method="heat_map", use_pyplot=False)
        >>> len(axes), axes[-1].get_title()
        (3, 'all')
    """
    check_option(method, "method", METHODS)
    check_option(sign, "sign", SIGNS)
    check_option(share, "share", ("all", "band"))
    if method == "blended_heat_map" and original_image is None:
        method = "heat_map"
    panels, default_notes = band_panels(bands, example)
    notes = list(notes) if notes is not None else default_notes
    if len(notes) != len(panels):
        raise UserInputError(f"`notes` has {len(notes)} entries for {len(panels)} panels "
                             "(the bands, then the full map).")
    if share == "all":
        pooled = shared_scale(list(panels.values()), sign=sign, outlier_perc=outlier_perc)
        scales = [pooled] * len(panels)
        rule = (f"one colour scale for every panel: full colour at |attribution| = "
                f"{pooled:.3g} (pooled, top {outlier_perc:g}% of the mass saturates)")
    else:
        scales = [shared_scale([v], sign=sign, outlier_perc=outlier_perc)
                  for v in panels.values()]
        rule = (f"each panel its own colour scale (top {outlier_perc:g}% of its mass "
                "saturates), full colour at " + ", ".join(f"{v:.2g}" for v in scales))
    if fig_size is None:
        # At least one map pixel per screen pixel at 100 dpi (what the report saves at):
        # a 224 x 224 photo's bands need wider panels than a 28 x 28 image's.
        rows, cols = np.asarray(next(iter(panels.values()))).shape[-2:]
        inches = max(2.4, 1.6 * max(rows, cols) / 100)
        fig_size = (inches * len(panels), max(2.9, inches + 1.2))
    fig = new_figure(fig_size, use_pyplot)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (name, value), note, scale in zip(axes, panels.items(), notes, scales,
                                              strict=True):
        rgba = render_image_attr(value, original_image, method=method, sign=sign,
                                 outlier_perc=outlier_perc, scale=scale)
        ax.imshow(rgba, interpolation="nearest")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(note, fontsize=7)
        strip_ticks(ax)
    fig.text(0.5, 0.01, rule, ha="center", fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    maybe_show(use_pyplot)
    return fig, list(axes)
