r"""Normalisation of attributions to colour-map ranges, and shared colour scales.

The mapping (identical to Captum's ``_normalize_attr`` wherever Captum does not crash):

1. **Sign selection.** ``"all"`` keeps ``a``; ``"positive"`` keeps ``max(a, 0)``;
   ``"negative"`` keeps the magnitude of the negative part, ``max(-a, 0)``;
   ``"absolute_value"`` keeps ``|a|``.
2. **Scale.** ``s`` is the value at which the cumulative sum of the sorted magnitudes of
   the selected values first reaches ``100 - outlier_perc`` percent of their total: the
   largest values, which together carry ``outlier_perc`` percent of the attribution
   mass, saturate. ``outlier_perc=0`` makes ``s`` the largest magnitude. A given
   ``scale=`` replaces this computation (that is how several maps share one scale).
3. **Division and clipping.** ``"all"`` maps to ``clip(a / s, -1, 1)`` (in ``[-1, 1]``,
   ``0`` stays ``0``); the three other signs map to ``clip(selected / s, 0, 1)`` (in
   ``[0, 1]``; for ``"negative"`` the *most negative* attributions map to 1).
4. **Zero scale.** If ``s == 0`` (all selected values are zero, e.g. an all-zero map, or
   ``sign="positive"`` on a map with no positive value) the result is all zeros: an
   empty map, where Captum raises an ``AssertionError``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from captum_rank.checks import UserInputError, real

from ._arrays import check_finite, is_sequence_of_arrays, to_hwc, to_numpy, to_numpy_batch
from ._figures import check_option

__all__ = ["SIGNS", "attr_to_map", "normalize_attr", "shared_scale", "sign_range"]

#: Accepted values of every ``sign=`` argument (Captum's vocabulary).
SIGNS = ("positive", "negative", "absolute_value", "all")


def _check_sign(sign: Any) -> str:
    check_option(sign, "sign", SIGNS)
    return str(sign)


def _check_outlier_perc(outlier_perc: Any) -> float:
    # A percentage of the largest magnitudes to saturate, as in Captum.
    return real(outlier_perc, "outlier_perc", minimum=0.0, maximum=100.0)


def _check_scale(scale: Any) -> float:
    # The value mapped to full colour (e.g. from shared_scale); 0 means an all-zero map.
    return real(scale, "scale", minimum=0.0)


def sign_range(sign: str) -> tuple[float, float]:
    r"""The range that :func:`normalize_attr` maps ``sign`` to: ``(-1, 1)`` or ``(0, 1)``.

    Examples:
        >>> sign_range("all"), sign_range("positive")
        ((-1.0, 1.0), (0.0, 1.0))
    """
    return (-1.0, 1.0) if _check_sign(sign) == "all" else (0.0, 1.0)


def _select(values: np.ndarray, sign: str) -> np.ndarray:
    if sign == "positive":
        return np.maximum(values, 0.0)
    if sign == "negative":
        # Magnitudes of the negative part, so that the strongest negative maps to 1.
        return np.maximum(-values, 0.0)
    if sign == "absolute_value":
        return np.abs(values)
    return values


def _threshold(magnitudes: np.ndarray, outlier_perc: float) -> float:
    r"""Captum's cumulative-sum threshold; 0 for an empty or all-zero input."""
    flat = np.sort(magnitudes.ravel())
    if flat.size == 0:
        return 0.0
    cum = np.cumsum(flat)
    total = cum[-1]
    if total <= 0.0:
        return 0.0
    # Captum's expression, capped at the total: for outlier_perc=0 rounding can push
    # total * 0.01 * 100 above the total, and no index would qualify.
    target = min(total * 0.01 * (100.0 - outlier_perc), total)
    index = int(np.argmax(cum >= target))
    return float(flat[index])


def normalize_attr(
    attr: Any,
    sign: str = "absolute_value",
    outlier_perc: float = 2,
    scale: float | None = None,
) -> np.ndarray:
    r"""Normalise attributions into ``[-1, 1]`` (``sign="all"``) or ``[0, 1]`` (others).

    Works element-wise on an array of any shape (the image visualisers pass the
    channel-summed ``(H, W)`` map). See the module docstring for the exact mapping.

    Args:
        attr (Tensor or numpy.ndarray): attributions, any shape.
        sign (str, optional): ``"positive"``, ``"negative"``, ``"absolute_value"`` or
            ``"all"``. Default: ``"absolute_value"``.
        outlier_perc (float, optional): percentage of the attribution mass (the largest
            values) that saturates at 1. Ignored when ``scale`` is given. Default: 2.
        scale (float, optional): divide by this value instead of the computed scale, e.g.
            :func:`shared_scale` of several maps. Default: None.

    Returns:
        numpy.ndarray: float64, same shape as ``attr``.

    Raises:
        UserInputError: on an unknown ``sign``, ``outlier_perc`` outside ``[0, 100]``, a
            negative or non-finite ``scale``, or NaN/inf in ``attr``.
        UserTypeError: if ``attr`` is not numeric.

    Examples:
        >>> import numpy as np
        >>> a = np.array([-2.0, -1.0, 0.0, 1.0, 4.0])
        >>> normalize_attr(a, "all", outlier_perc=0)
        array([-0.5 , -0.25,  0.  ,  0.25,  1.  ])
        >>> normalize_attr(a, "negative", outlier_perc=0)
        array([1. , 0.5, 0. , 0. , 0. ])
        >>> normalize_attr(a, "absolute_value", scale=2.0)
        array([1. , 0.5, 0. , 0.5, 1. ])
        >>> normalize_attr(np.zeros(3), "all")
        array([0., 0., 0.])
    """
    sign = _check_sign(sign)
    values = to_numpy(attr, "attr")
    check_finite(values, "attr")
    selected = _select(values, sign)
    if scale is None:
        s = _threshold(np.abs(selected), _check_outlier_perc(outlier_perc))
    else:
        s = _check_scale(scale)
    if s == 0.0:
        return np.zeros_like(selected)
    low, high = sign_range(sign)
    # Huge values over a tiny scale overflow to inf, which the clip maps to the bound.
    with np.errstate(over="ignore"):
        return np.clip(selected / s, low, high)


def attr_to_map(attr: Any, layout: str | None = None, name: str = "attr") -> np.ndarray:
    r"""An attribution as the 2-D ``(H, W)`` map that the image visualisers draw.

    Channels are summed, as Captum does. Layouts are resolved as documented in
    :mod:`captum_rank.visualization` (``layout=`` overrides).

    Args:
        attr (Tensor or numpy.ndarray): ``(H, W)``, ``(C, H, W)``, ``(H, W, C)`` or one of
            those with a leading batch dimension of 1.
        layout (str, optional): ``"CHW"``, ``"HWC"`` or ``"HW"``. Default: automatic.
        name (str): the argument's name, for error messages.

    Returns:
        numpy.ndarray: ``(H, W)`` float64.

    Examples:
        >>> import torch
        >>> attr_to_map(torch.ones(3, 4, 5)).shape
        (4, 5)
    """
    hwc = to_hwc(attr, name, layout)
    check_finite(hwc, name)
    return hwc.sum(axis=2)


def shared_scale(
    attrs: Any,
    sign: str = "absolute_value",
    outlier_perc: float = 2,
    layout: str | None = None,
) -> float:
    r"""One colour scale for several attribution maps, so that they can be compared.

    The scale is computed as :func:`normalize_attr` computes it for one map (step 2 of
    the module docstring), over the values of all maps pooled together, after each map
    has been reduced to ``(H, W)`` by summing channels, as the image visualisers do.
    Pass the result as ``scale=`` to :func:`visualize_image_attr` (or
    :func:`normalize_attr`) for every map: a map that is twice another is then drawn
    with twice its normalised values (up to saturation at 1).

    Args:
        attrs: one batch ``(N, C, H, W)`` / ``(N, H, W, C)`` / ``(N, H, W)``, a list of
            single maps in any layout, or a dict whose values are such (e.g. one entry per
            model).
        sign (str, optional): as in :func:`normalize_attr`. Default: ``"absolute_value"``.
        outlier_perc (float, optional): as in :func:`normalize_attr`. Default: 2.
        layout (str, optional): layout of one map (``"CHW"``, ``"HWC"``, ``"HW"``).

    Returns:
        float: the scale; 0.0 when every selected value is zero.

    Raises:
        UserInputError: on unknown ``sign``, bad ``outlier_perc``, NaN/inf, or bad shapes.

    Examples:
        >>> import numpy as np
        >>> a = np.random.rand(1, 8, 8)
        >>> s = shared_scale([a, 2 * a], sign="positive", outlier_perc=0)
        >>> bool(np.isclose(s, 2 * a.max()))
        True
        >>> bool(np.allclose(normalize_attr(2 * a, "positive", scale=s),
        ...                  2 * normalize_attr(a, "positive", scale=s)))
        True
    """
    sign = _check_sign(sign)
    perc = _check_outlier_perc(outlier_perc)
    maps = _collect_maps(attrs, layout)
    pooled = np.concatenate([np.abs(_select(m, sign)).ravel() for m in maps])
    return _threshold(pooled, perc)


def _collect_maps(attrs: Any, layout: str | None, name: str = "attrs") -> list[np.ndarray]:
    if isinstance(attrs, Mapping):
        if not attrs:
            raise UserInputError(f"`{name}` is an empty dict; pass at least one map.")
        out: list[np.ndarray] = []
        for key, value in attrs.items():
            out.extend(_collect_maps(value, layout, f"{name}[{key!r}]"))
        return out
    if isinstance(attrs, Sequence) and not is_sequence_of_arrays(attrs):
        # A flat list of numbers: one map given as nested lists is not supported.
        raise UserInputError(
            f"`{name}` must be a batch of maps or a list of maps, got a flat list of numbers."
        )
    maps = [m.sum(axis=2) for m in to_numpy_batch(attrs, name, layout)]
    for i, m in enumerate(maps):
        check_finite(m, f"{name}[{i}]")
    return maps
