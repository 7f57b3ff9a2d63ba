r"""Turn one image of any size and layout into a model input: resize, centre crop, channels.

One path for every kind of image: PIL images, numpy arrays and tensors are converted to
an 8-bit PIL image, resized and centre-cropped with torchvision's ``Resize`` (antialiased)
and ``CenterCrop`` on that PIL image, and returned as a float tensor in ``[0, 1]``.
torchvision is imported only when an image is converted, since importing it costs as much
start-up time as torch itself. Photo files are 8-bit, so nothing is lost for them; float
inputs are rounded to the nearest of 256 levels (exact for Fashion-MNIST's ``k / 255``
pixels).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import Tensor

from captum_rank.checks import UserInputError, UserTypeError, one_of, positive_int

__all__ = ["INTERPOLATIONS", "to_model_input"]

#: Resampling filters :func:`to_model_input` accepts.
INTERPOLATIONS = ("bicubic", "bilinear", "nearest")


def _is_pil(image: Any) -> bool:
    # Duck-typed, so this module does not import PIL before it needs to.
    return hasattr(image, "mode") and hasattr(image, "size") and hasattr(image, "getdata")


def _as_hwc_uint8(image: Any, name: str) -> np.ndarray:
    """An (H, W) or (H, W, 3) uint8 array from a PIL image, a numpy array or a tensor."""
    if _is_pil(image):
        if image.mode in ("L", "1", "I", "I;16", "F"):
            arr = np.asarray(image.convert("L"))
        else:  # RGB, RGBA, P (palette), CMYK, YCbCr, LA, ...: PIL knows each conversion
            arr = np.asarray(image.convert("RGB"))
        return np.ascontiguousarray(arr)
    if isinstance(image, Tensor):
        tensor = image.detach().cpu()
        if tensor.ndim == 3 and tensor.shape[0] in (1, 3, 4):
            tensor = tensor.permute(1, 2, 0)  # CHW (the torch convention) -> HWC
        array = tensor.numpy()
    elif isinstance(image, np.ndarray):
        array = image
    else:
        raise UserTypeError(
            f"`{name}` must be a PIL image, a numpy array (H, W) or (H, W, 3), or a tensor "
            f"(C, H, W), got {type(image).__name__}; open files with PIL.Image.open(path)."
        )
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    elif array.ndim == 3 and array.shape[-1] == 4:
        array = array[..., :3]  # drop alpha
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[-1] == 3)):
        raise UserInputError(
            f"`{name}` must be one image, (H, W) grey or (H, W, 3) RGB (a tensor: (C, H, W) "
            f"with C = 1 or 3), got shape {tuple(array.shape)}; pass images one at a time."
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise UserInputError(f"`{name}` is empty (shape {tuple(array.shape)}).")
    if array.dtype == np.uint8:
        return np.ascontiguousarray(array)
    if array.dtype == np.bool_:
        return np.ascontiguousarray(array.astype(np.uint8) * 255)
    if not np.issubdtype(array.dtype, np.floating):
        raise UserTypeError(
            f"`{name}` must hold uint8 pixels (0-255) or floats in [0, 1], got dtype "
            f"{array.dtype}; scale it to [0, 1] floats first."
        )
    values = array.astype(np.float64)
    if not np.isfinite(values).all():
        raise UserInputError(f"`{name}` contains NaN or infinite values.")
    low, high = float(values.min()), float(values.max())
    if low < 0.0 or high > 1.0:
        raise UserInputError(
            f"`{name}` holds floats in [{low:g}, {high:g}], outside [0, 1]; float images must "
            "be in [0, 1] (divide 0-255 values by 255, or pass them as uint8)."
        )
    return np.ascontiguousarray(np.rint(values * 255.0).astype(np.uint8))


def to_model_input(
    image: Any,
    size: int | tuple[int, int],
    resize: int | None = None,
    channels: int = 3,
    interpolation: str = "bicubic",
    name: str = "image",
) -> Tensor:
    r"""Resize the short side, centre-crop and convert channels: one image -> ``(C, H, W)``.

    Args:
        image: a PIL image (any mode), a numpy array ``(H, W)``, ``(H, W, 1)``,
            ``(H, W, 3)`` or ``(H, W, 4)`` (alpha dropped), or a tensor ``(C, H, W)`` or
            ``(H, W)``; pixels uint8 (0-255) or float in ``[0, 1]``.
        size: the output height and width (an int for a square).
        resize: resize the short side to this many pixels before the centre crop (keeping
            the aspect ratio); ``None``: to ``max(size)``, so the crop only trims the long
            side.
        channels: 3 (RGB; grey is repeated) or 1 (grey, ITU-R 601 luma as in PIL's ``"L"``).
        interpolation: one of :data:`INTERPOLATIONS` (torchvision's
            ``InterpolationMode`` on the PIL image, antialiased).
        name: the argument's name for error messages.

    Returns:
        A float32 tensor of shape ``(channels, H, W)`` with values in ``[0, 1]``.

    Raises:
        UserTypeError: not an image, or an unsupported dtype.
        UserInputError: a bad shape, NaN, floats outside ``[0, 1]``, or bad options.

    Examples:
        >>> import numpy as np
        >>> photo = np.zeros((300, 400, 3), dtype=np.uint8)
        >>> to_model_input(photo, 224, resize=256).shape
        torch.Size([3, 224, 224])
        >>> to_model_input(photo, 28, channels=1, interpolation="bilinear").shape
        torch.Size([1, 28, 28])
    """
    from PIL import Image
    from torchvision.transforms.v2 import InterpolationMode
    from torchvision.transforms.v2 import functional as tvf

    if isinstance(size, tuple):
        if len(size) != 2:
            raise UserInputError(f"`size` must be an int or (height, width), got {size!r}.")
        out_hw = (positive_int(size[0], "size"), positive_int(size[1], "size"))
    else:
        side = positive_int(size, "size")
        out_hw = (side, side)
    short = max(out_hw) if resize is None else positive_int(resize, "resize")
    if short < max(out_hw):
        raise UserInputError(
            f"`resize` ({short}) must be at least the crop size {max(out_hw)}; a centre crop "
            "cannot be larger than the resized image."
        )
    one_of(channels, "channels", (1, 3))
    one_of(interpolation, "interpolation", INTERPOLATIONS)
    array = _as_hwc_uint8(image, name)
    pil = Image.fromarray(array)  # uint8: "L" for (H, W), "RGB" for (H, W, 3)
    if channels == 1 and array.ndim == 3:
        pil = pil.convert("L")
    elif channels == 3 and array.ndim == 2:
        pil = pil.convert("RGB")
    # Resize(short) then CenterCrop(out_hw): the short side becomes `short` (the long side
    # is truncated), then the middle out_hw is kept.
    pil = tvf.resize(pil, [short], interpolation=InterpolationMode(interpolation),
                     antialias=True)
    pil = tvf.center_crop(pil, list(out_hw))
    out = tvf.pil_to_tensor(pil)  # uint8 (C, H, W); C = 1 for "L"
    return out.float().div_(255.0).contiguous()
