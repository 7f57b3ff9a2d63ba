r"""Turning user input (tensors, arrays, lists; CHW, HWC or HW) into plain numpy arrays.

Every visualiser funnels its array arguments through this module, so the rules for
types, layouts and value ranges are written (and tested) once.

Layout rules (``layout=None``, i.e. automatic), for a 3-D array of shape ``(a, b, c)``:

1. A leading batch dimension of size 1 (``(1, C, H, W)`` or ``(1, H, W, C)``) is dropped
   first; larger batches are an error (pick one example).
2. ``(H, W)`` is a single-channel map.
3. If exactly one end looks like channels (size 1, 3 or 4), that end is the channel
   dimension: ``a in {1, 3, 4}`` and ``c not in {1, 3, 4}`` is CHW, the mirror case HWC.
4. If both ends or neither end look like channels, and a reference spatial shape is known
   (the attribution's ``(H, W)`` when resolving the image, or the image's when resolving
   the attribution), the layout whose ``(H, W)`` matches the reference is used.
5. Still ambiguous with both ends channel-like (e.g. ``(3, 4, 3)``): torch tensors are read
   as CHW (PyTorch's convention), numpy arrays and lists as HWC (matplotlib's and Captum's
   convention).
6. Otherwise (e.g. ``(2, 28, 28)`` without a reference) a ``UserInputError`` asks for
   ``layout="CHW"`` or ``layout="HWC"``.

An explicit ``layout`` (``"CHW"``, ``"HWC"`` or ``"HW"``, case-insensitive) always wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Real
from typing import Any

import numpy as np
import torch

from captum_rank.checks import UserInputError, UserTypeError

__all__ = [
    "LAYOUTS",
    "as_1d",
    "check_finite",
    "image_to_unit",
    "is_sequence_of_arrays",
    "to_hwc",
    "to_hwc_pair",
    "to_numpy",
    "to_numpy_batch",
]

#: Accepted values of every ``layout=`` argument.
LAYOUTS = ("CHW", "HWC", "HW")
#: Sizes that a channel dimension usually has (grey, RGB, RGBA).
_CHANNEL_SIZES = (1, 3, 4)


def to_numpy(x: Any, name: str) -> np.ndarray:
    r"""Convert a tensor, array or nested list into a float64 numpy array.

    Tensors are detached and moved to the CPU first, so tensors that require grad or
    live on a GPU are accepted; half and bfloat16 tensors are widened (numpy has no
    bfloat16).

    Args:
        x (Tensor, numpy.ndarray or sequence): the values.
        name (str): the argument's name, used in error messages.

    Returns:
        numpy.ndarray: a float64 copy (or view) of ``x``.

    Raises:
        UserTypeError: if ``x`` is ``None``, complex, or not numeric.
    """
    if x is None:
        raise UserTypeError(f"`{name}` is None; pass a torch tensor or a numpy array.")
    if isinstance(x, torch.Tensor):
        if x.is_complex():
            raise UserTypeError(f"`{name}` is a complex tensor; pass real values.")
        return x.detach().cpu().to(torch.float64).numpy()
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as err:
        raise UserTypeError(
            f"`{name}` must be a torch tensor, a numpy array or a (nested) list of numbers, "
            f"got {type(x).__name__}."
        ) from err
    if arr.dtype == np.bool_:
        arr = arr.astype(np.float64)
    if np.iscomplexobj(arr):
        raise UserTypeError(f"`{name}` holds complex numbers; pass real values.")
    if not np.issubdtype(arr.dtype, np.number):
        raise UserTypeError(
            f"`{name}` must be numeric (a torch tensor or numpy array), got an array of "
            f"dtype {arr.dtype} from {type(x).__name__}."
        )
    return arr.astype(np.float64, copy=False)


def check_finite(arr: np.ndarray, name: str) -> None:
    r"""Raise a ``UserInputError`` naming ``name`` if ``arr`` holds NaN or inf."""
    if not np.all(np.isfinite(arr)):
        n_bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise UserInputError(
            f"`{name}` contains {n_bad} NaN or inf value(s); a colour scale cannot be "
            f"computed. Check the attribution method, or clean it with np.nan_to_num."
        )


def _check_layout(layout: str | None, name: str) -> str | None:
    if layout is None:
        return None
    if not isinstance(layout, str) or layout.upper() not in LAYOUTS:
        raise UserInputError(
            f"`{name}` must be one of {LAYOUTS} or None (automatic), got {layout!r}."
        )
    return layout.upper()


def _candidates(shape: tuple[int, ...]) -> list[str]:
    r"""Layouts of a 3-D shape whose channel end has a channel-like size."""
    found = []
    if shape[0] in _CHANNEL_SIZES:
        found.append("CHW")
    if shape[2] in _CHANNEL_SIZES:
        found.append("HWC")
    return found


def _spatial(shape: tuple[int, ...], layout: str) -> tuple[int, int]:
    return (shape[1], shape[2]) if layout == "CHW" else (shape[0], shape[1])


def to_hwc(
    x: Any,
    name: str,
    layout: str | None = None,
    reference_hw: tuple[int, int] | None = None,
    layout_name: str = "layout",
) -> np.ndarray:
    r"""One image-like input as a float64 ``(H, W, C)`` array.

    See the module docstring for how the layout is resolved when ``layout`` is None.

    Args:
        x (Tensor, numpy.ndarray or sequence): ``(H, W)``, ``(C, H, W)``, ``(H, W, C)``,
            or one of the 3-D forms with a leading batch dimension of size 1.
        name (str): the argument's name, for error messages.
        layout (str, optional): ``"CHW"``, ``"HWC"`` or ``"HW"``; None resolves it.
        reference_hw (tuple, optional): a spatial shape that breaks layout ties.
        layout_name (str): the name of the layout argument, for error messages.

    Returns:
        numpy.ndarray: ``(H, W, C)`` float64, ``C >= 1``.

    Raises:
        UserTypeError: if ``x`` is not numeric.
        UserInputError: on a shape that is not an image, a batch of several, a layout that
            cannot be resolved, or a layout that does not fit the shape.
    """
    lay = _check_layout(layout, layout_name)
    is_tensor = isinstance(x, torch.Tensor)
    arr = _squeeze_batch(to_numpy(x, name), name)
    if arr.ndim == 2:
        if lay not in (None, "HW"):
            raise UserInputError(
                f"`{layout_name}={layout!r}` needs a 3-D `{name}`, but it has shape "
                f"{arr.shape}; use `{layout_name}=\"HW\"` or None."
            )
        return arr[:, :, None]
    if arr.ndim != 3:
        raise UserInputError(
            f"`{name}` must be an image of shape (H, W), (C, H, W) or (H, W, C) (optionally "
            f"with a leading batch dimension of 1), got shape {arr.shape}."
        )
    if lay == "HW":
        raise UserInputError(
            f"`{layout_name}=\"HW\"` needs a 2-D `{name}`, but it has shape {arr.shape}."
        )
    if lay is None:
        lay = _resolve(arr.shape, name, is_tensor, reference_hw, layout_name)
    return arr.transpose(1, 2, 0) if lay == "CHW" else arr


def _layout_options(shape: tuple[int, ...], is_tensor: bool) -> tuple[list[str], bool]:
    r"""Possible layouts of a 3-D shape, most likely first, and whether the first is sure.

    Not sure means: ties (both ends channel-like, the first option is the type's
    convention) or no channel-like end at all (only a reference size can decide).
    """
    cands = _candidates(shape)
    if len(cands) == 1:
        return cands, True
    if len(cands) == 2:
        return (["CHW", "HWC"] if is_tensor else ["HWC", "CHW"]), False
    return ["CHW", "HWC"], False


def _resolve(
    shape: tuple[int, ...],
    name: str,
    is_tensor: bool,
    reference_hw: tuple[int, int] | None,
    layout_name: str,
) -> str:
    options, sure = _layout_options(shape, is_tensor)
    if sure:
        return options[0]
    # Both ends or neither look like channels: let the other argument's size decide.
    if reference_hw is not None:
        matching = [lay for lay in options if _spatial(shape, lay) == reference_hw]
        if len(matching) == 1:
            return matching[0]
    if _candidates(shape):
        return options[0]
    raise UserInputError(
        f"`{name}` has shape {shape}, and neither the first nor the last dimension looks "
        f"like channels (size 1, 3 or 4). Say which it is: `{layout_name}=\"CHW\"` or "
        f"`{layout_name}=\"HWC\"`."
    )


def _squeeze_batch(arr: np.ndarray, name: str) -> np.ndarray:
    if arr.ndim == 4:
        if arr.shape[0] != 1:
            raise UserInputError(
                f"`{name}` has shape {arr.shape}: a batch of {arr.shape[0]}. Pass one "
                f"example, e.g. `{name}[0]`."
            )
        return arr[0]
    return arr


def to_hwc_pair(
    a: Any,
    a_name: str,
    a_layout: str | None,
    b: Any,
    b_name: str,
    b_layout: str | None,
    a_layout_name: str = "layout",
    b_layout_name: str = "image_layout",
) -> tuple[np.ndarray, np.ndarray]:
    r"""Two image-like inputs that must share ``(H, W)`` (an attribution and its image).

    Each is resolved as :func:`to_hwc` does, except that an uncertain layout on one side
    is settled by the other side's spatial size (rule 4 of the module docstring).

    Raises:
        UserInputError: as :func:`to_hwc`, or if no layouts give both the same ``(H, W)``.
    """
    a_arr = _squeeze_batch(to_numpy(a, a_name), a_name)
    b_arr = _squeeze_batch(to_numpy(b, b_name), b_name)

    def sure_hw(
        arr: np.ndarray, x: Any, layout: str | None, layout_name: str
    ) -> tuple[int, int] | None:
        lay = _check_layout(layout, layout_name)
        if arr.ndim == 2:
            return (arr.shape[0], arr.shape[1])
        if arr.ndim != 3:
            return None  # to_hwc below raises the shape error
        if lay is not None:
            return _spatial(arr.shape, lay) if lay in ("CHW", "HWC") else None
        options, sure = _layout_options(arr.shape, isinstance(x, torch.Tensor))
        return _spatial(arr.shape, options[0]) if sure else None

    a_ref = sure_hw(a_arr, a, a_layout, a_layout_name)
    b_ref = sure_hw(b_arr, b, b_layout, b_layout_name)
    a_hwc = to_hwc(a, a_name, a_layout, b_ref, a_layout_name)
    b_hwc = to_hwc(b, b_name, b_layout, a_ref if a_ref is not None else a_hwc.shape[:2],
                   b_layout_name)
    if a_hwc.shape[:2] != b_hwc.shape[:2]:
        raise UserInputError(
            f"`{a_name}` has spatial size {a_hwc.shape[:2]} but `{b_name}` has "
            f"{b_hwc.shape[:2]}; they must match (check `{a_layout_name}`/`{b_layout_name}`)."
        )
    return a_hwc, b_hwc


def to_numpy_batch(
    x: Any, name: str, layout: str | None = None, layout_name: str = "layout"
) -> list[np.ndarray]:
    r"""A batch of images as a list of ``(H, W, C)`` arrays.

    Args:
        x: a 4-D tensor/array ``(N, C, H, W)`` or ``(N, H, W, C)``, a 3-D array read as
            ``(N, H, W)`` single-channel maps (unless ``layout`` says otherwise), or a
            list/tuple of single images in any layout accepted by :func:`to_hwc`.
        name (str): the argument's name, for error messages.
        layout (str, optional): the layout of one image (``"CHW"``, ``"HWC"``, ``"HW"``).
        layout_name (str): the name of the layout argument, for error messages.

    Returns:
        list of numpy.ndarray: one ``(H, W, C)`` array per image.
    """
    if isinstance(x, (list, tuple)):
        if len(x) == 0:
            raise UserInputError(f"`{name}` is empty; pass at least one image.")
        if not isinstance(x[0], Real):
            return [to_hwc(item, f"{name}[{i}]", layout, None, layout_name)
                    for i, item in enumerate(x)]
    is_tensor = isinstance(x, torch.Tensor)
    arr = to_numpy(x, name)
    lay = _check_layout(layout, layout_name)
    if arr.ndim == 3 and lay in (None, "HW"):
        return [a[:, :, None] for a in arr]
    if arr.ndim != 4 and not (arr.ndim == 3 and lay is not None):
        raise UserInputError(
            f"`{name}` must be a batch of images, (N, C, H, W), (N, H, W, C), (N, H, W) or a "
            f"list of images, got shape {arr.shape}."
        )
    if arr.ndim == 3:
        # A single image with an explicit 3-D layout: a batch of one.
        return [to_hwc(arr, name, lay, None, layout_name)]
    if lay is None:
        lay = _resolve(arr.shape[1:], name, is_tensor, None, layout_name)
    return [to_hwc(a, f"{name}[{i}]", lay, None, layout_name) for i, a in enumerate(arr)]


def image_to_unit(image: np.ndarray, name: str = "original_image") -> np.ndarray:
    r"""Map image values into ``[0, 1]`` for display.

    Rules, chosen so that the usual conventions need no argument:

    - values already in ``[0, 1]`` are kept;
    - non-negative values up to 255 (uint8-style, ``max > 1``) are divided by 255, as
      Captum does;
    - anything else (e.g. a standardised image with negative values, or 16-bit data) is
      min-max rescaled; a constant image of that kind becomes all zeros.

    Args:
        image (numpy.ndarray): any shape.
        name (str): the argument's name, for error messages.

    Returns:
        numpy.ndarray: float64 values in ``[0, 1]``, same shape.

    Raises:
        UserInputError: if ``image`` holds NaN or inf.
    """
    check_finite(image, name)
    if image.size == 0:
        return image
    lo, hi = float(image.min()), float(image.max())
    if lo >= 0.0 and hi <= 1.0:
        return image
    if lo >= 0.0 and hi <= 255.0:
        return image / 255.0
    if hi == lo:
        return np.zeros_like(image)
    return (image - lo) / (hi - lo)


def as_1d(x: Any, name: str) -> np.ndarray:
    r"""A 1-D float array (tensor, array, list or a single number)."""
    arr = to_numpy(x, name)
    if arr.ndim == 0:
        arr = arr[None]
    if arr.ndim != 1:
        raise UserInputError(f"`{name}` must be one-dimensional, got shape {arr.shape}.")
    check_finite(arr, name)
    return arr


def is_sequence_of_arrays(x: Any) -> bool:
    r"""True for a non-empty list/tuple whose first element is not a plain number."""
    return isinstance(x, Sequence) and not isinstance(x, str) and len(x) > 0 and not (
        isinstance(x[0], Real)
    )
