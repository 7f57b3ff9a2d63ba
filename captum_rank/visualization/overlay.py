r"""Maps over a photo, one map pixel to at least one screen pixel, with the scale rule written.

:func:`plot_maps_over_image` draws one image and several attribution maps of it (IG and
RIG, several models, or RIG's rank bands) in one row of panels, each map drawn over the
photo (``view="blended"``, Captum's ``blended_heat_map``: the heat map with alpha
``alpha_overlay`` over the grey photo) or as a signed or absolute heat map. It is the
figure of the audit's report and of ``captum-rank explain``, and is meant to be reused
for any set of maps of one image.

**Size.** Every panel is an integer multiple ``k`` of the map's size in pixels, with
``k * max(H, W) >= min_panel_px`` (so a 224 x 224 map is drawn at 224 x 224 pixels and a
28 x 28 map at 224 x 224, each map pixel a ``k x k`` block) when the figure is saved at
its own ``dpi``: one map pixel is never less than one screen pixel.

**Colour scale.** The value drawn at full colour is the Captum rule of
:func:`~captum_rank.visualization.normalize_attr`: the magnitude below which
``100 - outlier_perc`` percent of the attribution mass lies (the top ``outlier_perc``
percent saturates). ``share`` says which maps pool their values for it:

- ``"attribution"``: each column its own scale. Shows where each map puts its evidence, but
  brightness does not compare across columns (a spread-out map and a concentrated one
  both reach full colour).
- ``"all"``: one scale for every column. Brightness compares across columns, in
  attribution units (IG and RIG both sum to ``F(x) - F(x')``, so their totals match and
  a faint map is one whose evidence is spread thin).
- ``"both"`` (the default): two rows, the first with each column's own scale, the second
  with one shared scale.

The rule, with each scale's value, is written under the panels (:func:`scale_rule`), and
each map column has a colour bar in attribution units. ``scales=`` fixes the values (e.g.
pooled over several images with :func:`panel_scales`, so that several figures share them).
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import FormatStrFormatter

from captum_rank.checks import UserInputError, UserTypeError, boolean, positive_int, real

from ._arrays import image_to_unit, to_hwc, to_hwc_pair
from ._figures import check_option, maybe_show, new_figure, strip_ticks
from .image import _rgb, default_cmap, render_image_attr
from .normalize import _check_outlier_perc, shared_scale, sign_range

__all__ = ["SHARES", "VIEWS", "panel_scales", "plot_maps_over_image", "scale_rule",
           "view_settings"]

#: The views: ``{view: (Captum method, Captum sign)}``.
VIEWS: dict[str, tuple[str, str]] = {
    "blended": ("blended_heat_map", "all"),
    "signed": ("heat_map", "all"),
    "absolute": ("heat_map", "absolute_value"),
}

#: Accepted values of ``share=`` (see the module docstring).
SHARES = ("attribution", "all", "both")

_VIEW_WORDS = {
    "blended": "signed map over the grey photo (green: for the target, red: against)",
    "signed": "signed heat map (green: for the target, red: against)",
    "absolute": "absolute heat map (|attribution|)",
}

# Pixel geometry at the figure's dpi (text at 100 dpi: 9 pt is about 12.5 px).
_PAD, _GAP = 12, 14
_NOTE, _BAR, _TICKS, _LINE = 30, 10, 30, 15


def view_settings(view: str) -> tuple[str, str]:
    r"""Captum's ``(method, sign)`` for a view of :data:`VIEWS`.

    Examples:
        >>> view_settings("blended"), view_settings("absolute")
        (('blended_heat_map', 'all'), ('heat_map', 'absolute_value'))
    """
    check_option(view, "view", tuple(VIEWS))
    return VIEWS[view]


def _map_of(attr: Any, name: str, layout: str | None) -> np.ndarray:
    return to_hwc(attr, name, layout).sum(axis=2)


def panel_scales(
    maps: Mapping[str, Any],
    view: str = "blended",
    share: str = "attribution",
    outlier_perc: float = 2,
    layout: str | None = None,
) -> dict[str, float]:
    r"""The colour scale of every column: its own (``"attribution"``) or one for all (``"all"``).

    Args:
        maps (dict): ``{column: maps}``; each value is one map, or several (a batch or a
            list, e.g. the same attribution on every image, so that several figures share the
            scale); ``None`` values (maps not drawn) are left out.
        view (str, optional): one of :data:`VIEWS` (it sets the sign). Default: ``"blended"``.
        share (str, optional): ``"attribution"`` or ``"all"``. Default: ``"attribution"``.
        outlier_perc (float, optional): percentage of attribution mass that saturates.
            Default: 2.
        layout (str, optional): layout of one map (``"CHW"``, ``"HWC"``, ``"HW"``).

    Returns:
        dict: ``{column: scale}`` in attribution units (0.0 for an all-zero column).

    Raises:
        UserInputError: unknown ``view`` or ``share``, bad ``outlier_perc``, NaN/inf.

    Examples:
        >>> import numpy as np
        >>> maps = {"IG": np.full((4, 4), 2.0), "RIG": np.full((4, 4), 0.5)}
        >>> panel_scales(maps, share="attribution"), panel_scales(maps, share="all")
        ({'IG': 2.0, 'RIG': 0.5}, {'IG': 2.0, 'RIG': 2.0})
    """
    _, sign = view_settings(view)
    check_option(share, "share", ("attribution", "all"))
    perc = _check_outlier_perc(outlier_perc)
    if not isinstance(maps, Mapping) or not maps:
        raise UserInputError("`maps` must be a non-empty dict {column title: map}.")
    drawn = {key: value for key, value in maps.items() if value is not None}
    if share == "all":
        pooled = shared_scale(_as_list(drawn), sign, perc, layout) if drawn else 0.0
        return {key: pooled for key in maps}
    return {key: shared_scale(_as_list({key: value}), sign, perc, layout) if value is not None
            else 0.0 for key, value in maps.items()}


def _as_list(maps: Mapping[str, Any]) -> list[Any]:
    out: list[Any] = []
    for value in maps.values():
        if isinstance(value, list | tuple):
            out.extend(value)
        elif np.ndim(value) == 4:  # a batch (N, C, H, W) / (N, H, W, C)
            out.extend(list(value))
        else:
            out.append(value)
    return out


def scale_rule(
    scales: Mapping[str, float],
    share: str,
    outlier_perc: float = 2,
    scope: str | None = None,
) -> str:
    r"""The sentence that states a colour-scale rule and its values, as figures print it.

    Args:
        scales (dict): ``{column: scale}`` (:func:`panel_scales`).
        share (str): ``"attribution"`` or ``"all"``.
        outlier_perc (float, optional): as in :func:`panel_scales`. Default: 2.
        scope (str, optional): what the values were pooled over (e.g. ``"all 4 images"``).

    Returns:
        str: the rule.

    Examples:
        >>> print(scale_rule({"IG": 0.63, "RIG": 0.15}, "attribution"))
        Colour scale: each column its own (full colour at IG 0.63, RIG 0.15; the top 2% of
        |attribution| mass saturates): compare where each map puts its evidence, not
        brightness across columns.
    """
    check_option(share, "share", ("attribution", "all"))
    perc = _check_outlier_perc(outlier_perc)
    if not scales:
        return "Colour scale: no map is drawn."
    where = f", pooled over {scope}" if scope else ""
    clip = f"the top {perc:g}% of |attribution| mass saturates{where}"
    if share == "all":
        value = next(iter(scales.values()), 0.0)
        return (f"Colour scale: one for all columns (full colour at {_fmt(value)}; {clip}): "
                "brightness compares across columns, in attribution units.")
    values = ", ".join(f"{key} {_fmt(v)}" for key, v in scales.items())
    return (f"Colour scale: each column its own (full colour at {values}; {clip}): compare "
            "where each map puts its evidence, not brightness across columns.")


def _fmt(value: float) -> str:
    return "0 (all-zero map)" if value == 0.0 else f"{value:.2g}"


def plot_maps_over_image(
    image: Any,
    maps: Mapping[str, Any],
    view: str = "blended",
    share: str = "both",
    scales: Mapping[str, Mapping[str, float]] | None = None,
    outlier_perc: float = 2,
    alpha_overlay: float = 0.5,
    *,
    image_title: str | None = None,
    notes: Mapping[str, str] | None = None,
    title: str | None = None,
    scope: str | None = None,
    layout: str | None = None,
    image_layout: str | None = None,
    min_panel_px: int = 224,
    dpi: float = 100,
    use_pyplot: bool = True,
) -> tuple[Figure, np.ndarray]:
    r"""One image and its attribution maps, drawn over it at one map pixel per screen pixel or more.

    Columns: the image, then one per entry of ``maps``. Rows: one per scale rule of
    ``share`` (two for ``"both"``). Under the panels the scale rule is written with its
    values (:func:`scale_rule`); every map column has a colour bar in attribution units.
    See the module docstring for the views, sizes and rules.

    Args:
        image (Tensor or numpy.ndarray): the image, ``(C, H, W)``, ``(H, W, C)`` or
            ``(H, W)``, grey or colour, in ``[0, 1]`` or ``[0, 255]``.
        maps (dict): ``{column title: attribution}``, each of the image's spatial size
            (channels are summed); ``None`` draws the faded photo marked "not drawn"
            (e.g. a map that did not converge).
        view (str, optional): ``"blended"`` (Captum's ``blended_heat_map``, signed, over
            the grey photo), ``"signed"`` (heat map, signed) or ``"absolute"`` (heat map of
            ``|attribution|``). Default: ``"blended"``.
        share (str, optional): ``"attribution"``, ``"all"`` or ``"both"``. Default: ``"both"``.
        scales (dict, optional): ``{"attribution": {column: scale}, "all": {column: scale}}``
            fixing the values of the rules drawn (e.g. :func:`panel_scales` over several
            images). Default: from these maps.
        outlier_perc (float, optional): percentage of attribution mass that saturates.
            Default: 2.
        alpha_overlay (float, optional): heat-map alpha of ``"blended"``. Default: 0.5.
        image_title (str, optional): title of the image panel. Default: ``"image"``.
        notes (dict, optional): ``{column title: text}`` written under that column's
            panels (e.g. its map error).
        title (str, optional): the figure's title.
        scope (str, optional): what given ``scales`` were pooled over, for the rule text.
        layout (str, optional): layout of the maps. Default: automatic.
        image_layout (str, optional): layout of the image. Default: automatic.
        min_panel_px (int, optional): smallest panel side in pixels; a map is enlarged by
            the smallest integer factor that reaches it. Default: 224.
        dpi (float, optional): the figure's dpi, at which the sizes above hold (save with
            ``dpi="figure"`` or this value). Default: 100.
        use_pyplot (bool, optional): create the figure with pyplot and show it (when the
            backend is interactive). Default: True.

    Returns:
        ``(figure, axes)``: ``axes`` is a ``(rows, 1 + len(maps))`` numpy array of the
        panels' Axes (the image column is empty in rows after the first).

    Raises:
        UserInputError: unknown ``view``/``share``, an empty ``maps``, a map whose size is
            not the image's, NaN/inf, bad sizes.

    Examples:
        >>> import torch
        >>> image = torch.rand(3, 32, 32)
        >>> maps = {"IG": torch.randn(3, 32, 32), "RIG": torch.zeros(3, 32, 32)}
        >>> fig, axes = plot_maps_over_image(image, maps, use_pyplot=False)
        >>> axes.shape, int(fig.get_size_inches()[0] * fig.dpi) >= 3 * 224
        ((2, 3), True)
    """
    method, sign = view_settings(view)
    check_option(share, "share", SHARES)
    perc = _check_outlier_perc(outlier_perc)
    alpha = real(alpha_overlay, "alpha_overlay", minimum=0.0, maximum=1.0)
    min_px = positive_int(min_panel_px, "min_panel_px")
    dpi = real(dpi, "dpi", minimum=0.0, include_minimum=False)
    boolean(use_pyplot, "use_pyplot")
    if not isinstance(maps, Mapping) or not maps:
        raise UserInputError("`maps` must be a non-empty dict {column title: map}.")
    if notes is not None and not isinstance(notes, Mapping):
        raise UserTypeError(f"`notes` must be a dict {{column title: text}}, got "
                            f"{type(notes).__name__}.")
    shown = image_to_unit(to_hwc(image, "image", image_layout), "image")
    columns: dict[str, np.ndarray | None] = {}
    for key, attr in maps.items():
        if attr is None:
            columns[key] = None
            continue
        hwc, img = to_hwc_pair(attr, f"maps[{key!r}]", layout, image, "image", image_layout)
        if hwc.shape[:2] != img.shape[:2]:
            raise UserInputError(f"`maps[{key!r}]` has spatial size {hwc.shape[:2]} but the "
                                 f"image has {img.shape[:2]}; give maps of the image's size.")
        columns[key] = hwc.sum(axis=2)
    rules = ["attribution", "all"] if share == "both" else [share]
    given = dict(scales) if scales is not None else {}
    values = {rule: dict(given[rule]) if rule in given else
              panel_scales(columns, view, rule, perc, layout="HW") for rule in rules}
    for rule, found in values.items():
        missing = [key for key in columns if key not in found]
        if missing:
            raise UserInputError(f"`scales[{rule!r}]` has no scale for {missing}.")

    h, w = shown.shape[:2]
    k = max(1, math.ceil(min_px / max(h, w)))
    ph, pw = k * h, k * w
    n_cols = 1 + len(columns)
    width = max(2 * _PAD + n_cols * pw + (n_cols - 1) * _GAP, 480)
    chars = max(40, int((width - 2 * _PAD) / 7.0))
    # Bold 11 pt titles are wider than 9 pt body text.
    title_lines = textwrap.wrap(title, int(chars * 0.75)) if title else []
    # Room for the longest column title (its lines, plus the scale named under it).
    head_lines = max(str(key).count("\n") + 1 for key in columns) + (len(rules) > 1)
    head = 14 * head_lines + 12
    drawn = [key for key, attr in columns.items() if attr is not None]
    rule_texts = [scale_rule({key: values[rule][key] for key in drawn}, rule, perc,
                             scope if scales is not None else None) for rule in rules]
    rule_texts.append(f"View: {_VIEW_WORDS[view]}.")
    wrapped = [textwrap.wrap(text, chars) for text in rule_texts]
    row_height = head + ph + _NOTE + _BAR + _TICKS
    height = (_PAD + _LINE * (len(title_lines) + 0.5 * bool(title_lines)) + len(rules) * row_height
              + _LINE * sum(len(lines) + 0.4 for lines in wrapped) + _PAD)
    fig = new_figure((width / dpi, height / dpi), use_pyplot, dpi=dpi)

    def box(left: float, top: float, box_w: float,
            box_h: float) -> tuple[float, float, float, float]:
        # Figure fractions of a box given in pixels from the top left corner.
        return (left / width, 1.0 - (top + box_h) / height, box_w / width, box_h / height)

    cmap = default_cmap(sign)
    low, high = sign_range(sign)
    axes = np.empty((len(rules), n_cols), dtype=object)
    top: float = _PAD
    for line in title_lines:
        fig.text(0.5, 1.0 - (top + _LINE / 2) / height, line, ha="center", va="center",
                 fontsize=11, fontweight="bold")
        top += _LINE
    top += 0.5 * _LINE * bool(title_lines)
    grey = np.repeat(_rgb(shown).mean(axis=2, keepdims=True), 3, axis=2)
    for row, rule in enumerate(rules):
        panel_top = top + head
        for col in range(n_cols):
            left = _PAD + col * (pw + _GAP)
            ax = fig.add_axes(box(left, panel_top, pw, ph))
            axes[row, col] = ax
            strip_ticks(ax)
            if col == 0:
                if row == 0:
                    _draw(ax, _rgb(shown) if shown.shape[2] != 1 else grey, k)
                    ax.set_title(image_title or "image", fontsize=9)
                else:
                    ax.set_axis_off()
                    ax.text(0.5, 0.5, _row_label(rule), ha="center", va="center",
                            fontsize=9, transform=ax.transAxes, wrap=True)
                continue
            key = list(columns)[col - 1]
            attr = columns[key]
            scale = float(values[rule][key])
            if attr is None:
                _draw(ax, 0.35 * grey + 0.65, k)
                ax.text(0.5, 0.5, "not drawn", ha="center", va="center", color="crimson",
                        fontsize=10, transform=ax.transAxes)
            else:
                rgba = render_image_attr(attr, shown, method, sign, perc, cmap, alpha,
                                         layout="HW", image_layout="HWC", scale=scale)
                _draw(ax, rgba, k)
            several = len(rules) > 1
            ax.set_title(f"{key}\n({_row_label(rule, short=True)})" if several else key,
                         fontsize=9)
            note = (notes or {}).get(key)
            if note:
                ax.set_xlabel(note, fontsize=8)
            if attr is not None:
                cax = fig.add_axes(box(left + 0.1 * pw, panel_top + ph + _NOTE, 0.8 * pw, _BAR))
                _colour_bar(fig, cax, cmap, low, high, scale)
        top += row_height
    for lines in wrapped:
        for line in lines:
            fig.text(_PAD / width, 1.0 - (top + _LINE / 2) / height, line, ha="left",
                     va="center", fontsize=9)
            top += _LINE
        top += 0.4 * _LINE
    maybe_show(use_pyplot)
    return fig, axes


def _row_label(rule: str, short: bool = False) -> str:
    if short:
        return "own scale" if rule == "attribution" else "shared scale"
    return ("each column\nits own scale" if rule == "attribution"
            else "one scale\nfor all columns")


def _draw(ax: Axes, pixels: np.ndarray, k: int) -> None:
    # Enlarged by whole pixels here, so that the figure shows every map pixel as a k x k
    # block (no resampling by matplotlib, whose smoothing would blur speckle into plaid).
    big = np.repeat(np.repeat(np.clip(pixels, 0.0, 1.0), k, axis=0), k, axis=1)
    ax.imshow(big, interpolation="none", aspect="auto")
    # A frame would paint over the outermost row and column of map pixels.
    ax.set_frame_on(False)


def _colour_bar(fig: Figure, cax: Axes, cmap: Any, low: float, high: float,
                scale: float) -> None:
    if scale == 0.0:
        cax.set_axis_off()
        cax.text(0.5, 0.0, "all zero", ha="center", va="top", fontsize=8,
                 transform=cax.transAxes)
        return
    bar = fig.colorbar(ScalarMappable(norm=Normalize(low * scale, high * scale), cmap=cmap),
                       cax=cax, orientation="horizontal")
    bar.set_ticks([low * scale, (low + high) * scale / 2, high * scale])
    bar.ax.xaxis.set_major_formatter(FormatStrFormatter("%.2g"))
    bar.ax.tick_params(labelsize=7)

