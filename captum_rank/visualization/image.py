r"""Captum-compatible image visualisers: ``visualize_image_attr(_multiple)``.

The positional arguments, defaults, method and sign names and return values are those of
``captum.attr.visualization`` (0.9), so ``from captum.attr import visualization as viz``
becomes ``from captum_rank import visualization as viz``. Keyword-only extras:
``layout``/``image_layout`` (tensors, CHW/HWC/HW), ``scale`` (shared colour scales) and
``return_array`` (the rendered RGBA pixels instead of a figure).

Differences from Captum, all on inputs where Captum crashes or draws something wrong:
all-zero attributions draw an empty map; single-channel images are drawn in grey (Captum
uses the default colour map); user errors raise :class:`~captum_rank.checks.UserInputError`
(a ``ValueError``; :class:`~captum_rank.checks.UserTypeError` is also a ``TypeError``)
naming the argument and the fix, instead of ``AssertionError``/``KeyError``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Colormap, LinearSegmentedColormap, Normalize
from matplotlib.figure import Figure
from mpl_toolkits.axes_grid1 import make_axes_locatable

from captum_rank.checks import UserInputError, UserTypeError, real

from ._arrays import check_finite, image_to_unit, to_hwc, to_hwc_pair
from ._figures import check_option, maybe_show, new_figure, strip_ticks
from .normalize import _check_sign, normalize_attr, sign_range

__all__ = [
    "METHODS",
    "default_cmap",
    "render_image_attr",
    "visualize_image_attr",
    "visualize_image_attr_multiple",
]

#: Accepted values of ``method=`` (Captum's vocabulary).
METHODS = ("heat_map", "blended_heat_map", "original_image", "masked_image", "alpha_scaling")
_NEEDS_IMAGE = ("blended_heat_map", "original_image", "masked_image", "alpha_scaling")
_HEAT_METHODS = ("heat_map", "blended_heat_map")


def default_cmap(sign: str) -> Colormap:
    r"""Captum's default colour map for a sign.

    ``"all"``: red (negative) - white - green (positive); ``"positive"``: Greens;
    ``"negative"``: Reds; ``"absolute_value"``: Blues.

    Examples:
        >>> default_cmap("positive").name
        'Greens'
    """
    sign = _check_sign(sign)
    if sign == "all":
        return LinearSegmentedColormap.from_list("RdWhGn", ["red", "white", "green"])
    return colormaps[{"positive": "Greens", "negative": "Reds", "absolute_value": "Blues"}[sign]]


def _resolve_cmap(cmap: str | Colormap | None, sign: str) -> Colormap:
    if cmap is None:
        return default_cmap(sign)
    if isinstance(cmap, Colormap):
        return cmap
    if isinstance(cmap, str):
        try:
            return colormaps[cmap]
        except KeyError:
            raise UserInputError(
                f"`cmap`={cmap!r} is not a matplotlib colour map name; see "
                "matplotlib.colormaps for the names (e.g. 'viridis')."
            ) from None
    raise UserTypeError(
        f"`cmap` must be a colour map name (e.g. 'viridis') or a Colormap, got "
        f"{type(cmap).__name__}."
    )


def _check_method(method: Any) -> str:
    check_option(method, "method", METHODS)
    return str(method)


def _rgb(image: np.ndarray) -> np.ndarray:
    r"""``(H, W, C)`` in [0, 1] as ``(H, W, 3)`` (grey repeated; an alpha channel dropped)."""
    if image.shape[2] == 1:
        return np.repeat(image, 3, axis=2)
    if image.shape[2] in (3, 4):
        return image[:, :, :3]
    # Other channel counts have no colour meaning: show their mean in grey.
    return np.repeat(image.mean(axis=2, keepdims=True), 3, axis=2)


def _compose(
    method: str,
    norm_map: np.ndarray,
    image: np.ndarray | None,
    cmap: Colormap,
    sign: str,
    alpha_overlay: float,
) -> np.ndarray:
    r"""The RGBA pixels, float in [0, 1], ``(H, W, 4)``, of one visualisation."""
    height, width = norm_map.shape
    out = np.ones((height, width, 4))
    if method in _HEAT_METHODS:
        low, high = sign_range(sign)
        heat = np.asarray(cmap(Normalize(low, high)(norm_map)), dtype=np.float64)
        if method == "heat_map":
            return heat
        assert image is not None  # guaranteed by the caller's validation
        grey = np.repeat(_rgb(image).mean(axis=2, keepdims=True), 3, axis=2)
        # Alpha compositing of the heat map over the grey image, as imshow(alpha=) does.
        out[:, :, :3] = (1.0 - alpha_overlay) * grey + alpha_overlay * heat[:, :, :3]
        return out
    assert image is not None
    rgb = _rgb(image)
    if method == "original_image":
        out[:, :, :3] = rgb
    elif method == "masked_image":
        out[:, :, :3] = rgb * norm_map[:, :, None]
    else:  # alpha_scaling
        out[:, :, :3] = rgb
        out[:, :, 3] = norm_map
    return out


def _prepare(
    attr: Any,
    original_image: Any,
    method: str,
    sign: str,
    outlier_perc: float,
    scale: float | None,
    layout: str | None,
    image_layout: str | None,
) -> tuple[np.ndarray, np.ndarray | None]:
    r"""Validate, resolve layouts and normalise: ``(norm_map (H, W), image (H, W, C))``."""
    method = _check_method(method)
    sign = _check_sign(sign)
    if sign == "all" and method in ("masked_image", "alpha_scaling"):
        raise UserInputError(
            f"`method`={method!r} cannot show signed values; choose `sign` among "
            f"'positive', 'negative' or 'absolute_value', or method 'heat_map'."
        )
    if original_image is None and method in _NEEDS_IMAGE:
        raise UserInputError(
            f"`original_image` is required for `method`={method!r}; only 'heat_map' works "
            f"without it."
        )
    image = None
    if original_image is not None:
        attr_hwc, image = to_hwc_pair(attr, "attr", layout, original_image, "original_image",
                                      image_layout)
        image = image_to_unit(image, "original_image")
    else:
        attr_hwc = to_hwc(attr, "attr", layout)
    check_finite(attr_hwc, "attr")
    attr_map = attr_hwc.sum(axis=2)
    if method == "original_image":
        # Nothing of the attribution is drawn; do not normalise (and do not fail on it).
        return np.zeros_like(attr_map), image
    return normalize_attr(attr_map, sign, outlier_perc, scale), image


def render_image_attr(
    attr: Any,
    original_image: Any = None,
    method: str = "heat_map",
    sign: str = "absolute_value",
    outlier_perc: float = 2,
    cmap: str | Colormap | None = None,
    alpha_overlay: float = 0.5,
    *,
    layout: str | None = None,
    image_layout: str | None = None,
    scale: float | None = None,
) -> np.ndarray:
    r"""The pixels that :func:`visualize_image_attr` draws, as an RGBA array.

    One output pixel per input pixel (no figure, no resampling), ready for
    ``plt.imsave``, TensorBoard or a test.

    Args:
        **arguments: ``attr``, ``original_image``, ``method``, ``sign``,
            ``outlier_perc``, ``cmap``, ``alpha_overlay``, ``layout``, ``image_layout``
            and ``scale``, as in :func:`visualize_image_attr`.

    Returns:
        numpy.ndarray: ``(H, W, 4)`` float64 in ``[0, 1]``.

    Examples:
        >>> import torch
        >>> rgba = render_image_attr(torch.randn(3, 16, 12), method="heat_map", sign="all")
        >>> rgba.shape
        (16, 12, 4)
    """
    norm_map, image = _prepare(attr, original_image, method, sign, outlier_perc, scale,
                               layout, image_layout)
    return _compose(method, norm_map, image, _resolve_cmap(cmap, sign), sign,
                    _check_alpha(alpha_overlay))


def _check_alpha(alpha_overlay: Any) -> float:
    return real(alpha_overlay, "alpha_overlay", minimum=0.0, maximum=1.0)


def visualize_image_attr(
    attr: Any,
    original_image: Any = None,
    method: str = "heat_map",
    sign: str = "absolute_value",
    plt_fig_axis: tuple[Figure, Axes] | None = None,
    outlier_perc: float = 2,
    cmap: str | Colormap | None = None,
    alpha_overlay: float = 0.5,
    show_colorbar: bool = False,
    title: str | None = None,
    fig_size: tuple[float, float] = (6, 6),
    use_pyplot: bool = True,
    *,
    layout: str | None = None,
    image_layout: str | None = None,
    scale: float | None = None,
    return_array: bool = False,
) -> Any:
    r"""Draw one attribution map, Captum-style (drop-in for Captum's function).

    The attribution is reduced to ``(H, W)`` by summing channels, normalised by
    :func:`~captum_rank.visualization.normalize_attr` (``sign="all"`` to ``[-1, 1]``,
    other signs to ``[0, 1]``; the top ``outlier_perc`` percent of the attribution mass
    saturates) and drawn with ``method``.

    Args:
        attr (Tensor or numpy.ndarray): attributions, ``(H, W)``, ``(C, H, W)`` or
            ``(H, W, C)`` (a leading batch dimension of 1 is dropped). Tensors may live on
            any device and require grad.
        original_image (Tensor or numpy.ndarray, optional): the input image in any of the
            same layouts, grey or colour, values in ``[0, 1]`` or ``[0, 255]`` (other
            ranges are min-max rescaled for display). Needed for every method except
            ``"heat_map"``. Default: None
        method (str, optional): ``"heat_map"``, ``"blended_heat_map"`` (heat map with
            alpha ``alpha_overlay`` over the grey image), ``"original_image"``,
            ``"masked_image"`` (image times the normalised map) or ``"alpha_scaling"``
            (normalised map as the alpha channel). Default: ``"heat_map"``
        sign (str, optional): ``"positive"``, ``"negative"``, ``"absolute_value"`` or
            ``"all"`` (not with ``masked_image``/``alpha_scaling``).
            Default: ``"absolute_value"``
        plt_fig_axis (tuple, optional): ``(figure, axis)`` to draw on. Default: None (new).
        outlier_perc (float, optional): percentage of the attribution mass that
            saturates. Ignored when ``scale`` is given. Default: 2
        cmap (str or Colormap, optional): heat map colours. Default: Captum's (Greens,
            Reds, Blues, or red-white-green for ``"all"``).
        alpha_overlay (float, optional): heat map alpha for ``blended_heat_map``.
            Default: 0.5
        show_colorbar (bool, optional): add a colour bar below the axis (an empty,
            hidden one for methods without a heat map, to keep panels aligned).
            Default: False
        title (str, optional): axis title. Default: None
        fig_size (tuple, optional): size of a new figure. Default: (6, 6)
        use_pyplot (bool, optional): create the figure with pyplot and show it (when the
            backend is interactive). Default: True
        layout (str, optional): layout of ``attr``: ``"CHW"``, ``"HWC"`` or ``"HW"``.
            Default: automatic (a first dimension of size 1, 3 or 4 with a last one of
            another size is CHW; the mirror case HWC; ties are settled by the image's size,
            then by type: tensors CHW, arrays HWC).
        image_layout (str, optional): the same for ``original_image``.
        scale (float, optional): a fixed colour scale, e.g. from
            :func:`~captum_rank.visualization.shared_scale`, so that several maps share
            one scale. Default: None (each map its own, from ``outlier_perc``).
        return_array (bool, optional): return the rendered ``(H, W, 4)`` RGBA float array
            (one pixel per input pixel) instead of drawing a figure. Default: False

    Returns:
        ``(figure, axis)``, the figure and axis drawn on (those of ``plt_fig_axis`` when
        given); with ``return_array=True`` the RGBA array instead.

    Raises:
        UserInputError: unknown ``method``/``sign``/``layout``; missing ``original_image``;
            mismatched or non-image shapes; NaN/inf in ``attr``; ``sign="all"`` with
            ``masked_image``/``alpha_scaling``.
        UserTypeError: non-numeric ``attr`` or ``original_image``.

    Examples:
        >>> import torch
        >>> from captum_rank.visualization import visualize_image_attr
        >>> attr = torch.randn(1, 3, 32, 32, requires_grad=True)   # e.g. IG output
        >>> image = torch.rand(1, 3, 32, 32)
        >>> fig, ax = visualize_image_attr(attr, image, "blended_heat_map", "all",
        ...                                show_colorbar=True, use_pyplot=False)
        >>> visualize_image_attr(attr, image, "masked_image", "positive",
        ...                      return_array=True).shape
        (32, 32, 4)
    """
    if return_array:
        if plt_fig_axis is not None:
            raise UserInputError("`return_array=True` draws no figure; do not pass `plt_fig_axis`.")
        return render_image_attr(attr, original_image, method, sign, outlier_perc, cmap,
                                 alpha_overlay, layout=layout, image_layout=image_layout,
                                 scale=scale)
    norm_map, image = _prepare(attr, original_image, method, sign, outlier_perc, scale,
                               layout, image_layout)
    colours = _resolve_cmap(cmap, sign)
    rgba = _compose(method, norm_map, image, colours, sign, _check_alpha(alpha_overlay))

    if plt_fig_axis is not None:
        fig, ax = plt_fig_axis
        if isinstance(ax, list | tuple | np.ndarray):
            # Captum accepts a list here and draws on its first axis.
            ax = np.asarray(ax, dtype=object).ravel()[0]
    else:
        fig = new_figure(fig_size, use_pyplot)
        ax = fig.subplots()
    strip_ticks(ax)
    # Nearest neighbour: attributions are per pixel; smoothing would invent structure.
    ax.imshow(rgba, interpolation="nearest")
    if show_colorbar:
        cax = make_axes_locatable(ax).append_axes("bottom", size="5%", pad=0.1)
        if method in _HEAT_METHODS:
            low, high = sign_range(sign)
            mappable = ScalarMappable(norm=Normalize(low, high), cmap=colours)
            fig.colorbar(mappable, cax=cax, orientation="horizontal")
        else:
            cax.axis("off")
    if title:
        ax.set_title(title)
    maybe_show(use_pyplot)
    return fig, ax


def visualize_image_attr_multiple(
    attr: Any,
    original_image: Any,
    methods: list[str],
    signs: list[str],
    titles: list[str] | None = None,
    fig_size: tuple[float, float] = (8, 6),
    use_pyplot: bool = True,
    **kwargs: Any,
) -> Any:
    r"""Several visualisations of one attribution in a row (drop-in for Captum's).

    Args:
        attr (Tensor or numpy.ndarray): attributions, as in :func:`visualize_image_attr`.
        original_image (Tensor or numpy.ndarray, optional): the image, or None when every
            method is ``"heat_map"``.
        methods (list of str): one method per panel.
        signs (list of str): one sign per panel (same length as ``methods``).
        titles (list of str, optional): one title per panel. Default: None
        fig_size (tuple, optional): figure size. Default: (8, 6)
        use_pyplot (bool, optional): as in :func:`visualize_image_attr`. Default: True
        **kwargs: passed to every :func:`visualize_image_attr` call (``show_colorbar``,
            ``outlier_perc``, ``cmap``, ``alpha_overlay``, ``layout``, ``image_layout``,
            ``scale``). ``return_array=True`` returns the list of RGBA arrays instead of a
            figure.

    Returns:
        ``(figure, axes)``: a single axis for one method, else a list of axes (as Captum);
        or a list of ``(H, W, 4)`` arrays with ``return_array=True``.

    Raises:
        UserInputError: if ``methods``, ``signs`` and ``titles`` differ in length or are empty,
            or for any reason :func:`visualize_image_attr` gives.

    Examples:
        >>> import numpy as np
        >>> attr, image = np.random.randn(28, 28), np.random.rand(28, 28)
        >>> fig, axes = visualize_image_attr_multiple(
        ...     attr, image, ["original_image", "heat_map", "blended_heat_map"],
        ...     ["all", "all", "positive"], use_pyplot=False)
        >>> len(axes)
        3
    """
    if isinstance(methods, str) or isinstance(signs, str):
        raise UserTypeError("`methods` and `signs` must be lists of strings, not strings.")
    methods, signs = list(methods), list(signs)
    if not methods:
        raise UserInputError("`methods` is empty; give at least one method.")
    if len(methods) != len(signs):
        raise UserInputError(
            f"`methods` ({len(methods)}) and `signs` ({len(signs)}) must have the same length."
        )
    if titles is not None and len(titles) != len(methods):
        raise UserInputError(
            f"`titles` ({len(titles)}) must have one entry per method ({len(methods)})."
        )
    for method, sign in zip(methods, signs, strict=True):
        _check_method(method)
        _check_sign(sign)
    if kwargs.pop("return_array", False):
        return [
            visualize_image_attr(attr, original_image, m, s, return_array=True, **kwargs)
            for m, s in zip(methods, signs, strict=True)
        ]
    if "plt_fig_axis" in kwargs:
        raise UserTypeError("`plt_fig_axis` is not an argument of visualize_image_attr_multiple.")
    fig = new_figure(fig_size, use_pyplot)
    axes_arr = np.asarray(fig.subplots(1, len(methods), squeeze=False)).ravel()
    axes: list[Axes] = list(axes_arr)
    for i, (method, sign) in enumerate(zip(methods, signs, strict=True)):
        visualize_image_attr(
            attr, original_image, method, sign, plt_fig_axis=(fig, axes[i]),
            use_pyplot=False, title=titles[i] if titles else None, **kwargs,
        )
    fig.tight_layout()
    maybe_show(use_pyplot)
    return fig, (axes[0] if len(axes) == 1 else axes)

