r"""The package's one input layer: an image of any size, mode and layout -> a model input.

Every place that turns an image (a PIL image, a numpy array, a tensor) into a tensor goes
through this module: :func:`to_model_input` (resize, centre crop, channels; used by
:func:`captum_rank.zoo.preprocess`, the audit's image files and ``captum-rank explain``)
and :func:`image_to_tensor` (the same pixel decoding without resizing; used for data set
items). One decoder reads the pixels: 8-bit images (PIL ``L``/``RGB``/``P``/..., uint8
arrays) are resized and centre-cropped with torchvision's ``Resize`` (antialiased) and
``CenterCrop`` on an 8-bit PIL image, so nothing is lost for photo files; float inputs in
``[0, 1]`` are rounded to the nearest of 256 levels (exact for Fashion-MNIST's ``k / 255``
pixels). High-bit-depth images are scaled by their mode's range, never clipped: PIL's
16-bit modes (``I;16``, ``I;16B``, ...) and uint16 arrays by 65535; mode ``I`` (32-bit)
by 65535 when its values fit in 16 bits (as 16-bit PNGs read by older Pillow), else by
``2**31 - 1``; mode ``F`` (32-bit float) must already lie in ``[0, 1]``. They are resized
as 32-bit float PIL images, keeping their precision. torchvision is imported only when an
image is converted, since importing it costs as much start-up time as torch itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from captum_rank.checks import UserInputError, UserTypeError, one_of, positive_int

__all__ = ["INTERPOLATIONS", "image_to_tensor", "to_model_input"]

#: Resampling filters :func:`to_model_input` accepts.
INTERPOLATIONS = ("bicubic", "bilinear", "nearest")


def _is_pil(image: Any) -> bool:
    # Duck-typed, so this module does not import PIL before it needs to.
    return hasattr(image, "mode") and hasattr(image, "size") and hasattr(image, "getdata")


#: Full scale of the high-bit-depth integer layouts: 16-bit pixels span 0..65535, and
#: PIL's 32-bit mode "I" spans 0..2**31 - 1 (it is signed).
_FULL_16 = 65535.0
_FULL_32 = float(2**31 - 1)

_CONVERT_HINT = (
    "convert it to 8-bit (PIL: image.convert('L') after scaling), or to a float array in "
    "[0, 1] (numpy: (a - a.min()) / (a.max() - a.min())) and pass that"
)


def _high_bit_pil(image: Any, name: str) -> np.ndarray:
    """Grey float32 pixels in [0, 1] from a PIL mode "I;16*", "I" or "F" image.

    PIL's own ``convert("L")`` clips these to 0..255 (a 16-bit image turns white, a float
    one black), so they are scaled here by the range of their mode instead.
    """
    mode = str(image.mode)
    array = np.asarray(image)
    if mode == "F":
        values = array.astype(np.float32)
        if not np.isfinite(values).all():
            raise UserInputError(
                f"`{name}` is a float (PIL mode 'F') image holding NaN or infinite values; "
                f"{_CONVERT_HINT}."
            )
        low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
        if low < 0.0 or high > 1.0:
            raise UserInputError(
                f"`{name}` is a float (PIL mode 'F') image with values in [{low:g}, "
                f"{high:g}], outside [0, 1], so its scale is unknown; {_CONVERT_HINT}."
            )
        return values
    values64 = array.astype(np.int64)
    low = int(values64.min()) if values64.size else 0
    high = int(values64.max()) if values64.size else 0
    if low < 0:
        raise UserInputError(
            f"`{name}` is a signed integer (PIL mode {mode!r}) image with negative values "
            f"(from {low}), so its scale is unknown; {_CONVERT_HINT}."
        )
    # Mode "I" is what PIL uses for 16-bit files too (older Pillow, TIFF): values that fit
    # in 16 bits are read as 16-bit pixels, larger ones by the full 32-bit range.
    full = _FULL_16 if mode.startswith("I;16") or high <= _FULL_16 else _FULL_32
    return (values64.astype(np.float64) / full).astype(np.float32)


#: Pixels above which an image is refused before it is decoded (PIL's own default limit;
#: a lower ``PIL.Image.MAX_IMAGE_PIXELS`` wins).
_BOMB_PIXELS = 178_956_970


def _pixels(image: Any, name: str, keep_floats: bool = False) -> np.ndarray:
    """The pixels of one image as an (H, W) or (H, W, 3) array, the only decoder.

    8-bit content comes back as uint8 (so resizing on the PIL image stays exact);
    high-bit-depth content (16/32-bit PIL images, uint16 arrays) as float32 in [0, 1],
    scaled by its type's range rather than clipped. Float pixels are checked to lie in
    [0, 1], then rounded to 8 bits for a resize, or kept as float32 (``keep_floats``)
    where none follows.
    """
    if _is_pil(image):
        # The size is in the header: refuse a decompression bomb before decoding it,
        # even where the caller lifted PIL's own limit (MAX_IMAGE_PIXELS = None).
        from PIL import Image

        width, height = image.size
        limit = Image.MAX_IMAGE_PIXELS or _BOMB_PIXELS
        if width * height > min(limit, _BOMB_PIXELS):
            raise UserInputError(
                f"`{name}` is {width} x {height} pixels, over the limit of "
                f"{min(limit, _BOMB_PIXELS)} (a possible decompression bomb); shrink it "
                "first.")
        mode = str(image.mode)
        if mode.startswith("I;16") or mode in ("I", "F"):
            return np.ascontiguousarray(_high_bit_pil(image, name))
        if mode in ("L", "1"):
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
    if array.dtype == np.uint16:  # 16-bit PNG/TIFF pixels read with numpy or imageio
        return np.ascontiguousarray((array.astype(np.float64) / _FULL_16).astype(np.float32))
    if array.dtype == np.bool_:
        return np.ascontiguousarray(array.astype(np.uint8) * 255)
    if not np.issubdtype(array.dtype, np.floating):
        raise UserTypeError(
            f"`{name}` must hold uint8 pixels (0-255), uint16 pixels (0-65535) or floats in "
            f"[0, 1], got dtype {array.dtype}; scale it to [0, 1] floats first."
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
    if keep_floats:
        return np.ascontiguousarray(values.astype(np.float32))
    return np.ascontiguousarray(np.rint(values * 255.0).astype(np.uint8))


def _resize_size(
    height: int, width: int, out_hw: tuple[int, int], short: int | None
) -> list[int]:
    """torchvision's ``size`` argument: the short side to ``short``, or (None) the
    smallest scaling that covers ``out_hw`` so the centre crop trims one side only."""
    if short is not None:
        return [short]
    scale = max(out_hw[0] / height, out_hw[1] / width)
    return [max(out_hw[0], round(height * scale)), max(out_hw[1], round(width * scale))]


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
        image: a PIL image (any mode; 16- and 32-bit modes are scaled by their range,
            see the module's notes), a numpy array ``(H, W)``, ``(H, W, 1)``,
            ``(H, W, 3)`` or ``(H, W, 4)`` (alpha dropped), or a tensor ``(C, H, W)`` or
            ``(H, W)``; pixels uint8 (0-255), uint16 (0-65535) or float in ``[0, 1]``.
        size: the output height and width (an int for a square).
        resize: resize the short side to this many pixels before the centre crop (keeping
            the aspect ratio); ``None``: the smallest resize (keeping the aspect ratio)
            that covers ``size``, so the crop trims one side only.
        channels: 3 (RGB; grey is repeated) or 1 (grey, ITU-R 601 luma as in PIL's ``"L"``).
        interpolation: one of :data:`INTERPOLATIONS` (torchvision's
            ``InterpolationMode`` on the PIL image, antialiased).
        name: the argument's name for error messages.

    Returns:
        A float32 tensor of shape ``(channels, H, W)`` with values in ``[0, 1]``.

    Raises:
        UserTypeError: not an image, or an unsupported dtype.
        UserInputError: a bad shape, NaN, floats outside ``[0, 1]`` (also a mode ``F``
            PIL image), negative pixels of a signed PIL image, or bad options.

    Examples:
        >>> import numpy as np
        >>> from PIL import Image
        >>> deep = Image.fromarray(np.full((40, 30), 32768, dtype=np.uint16))  # 16-bit grey
        >>> deep.mode, round(float(to_model_input(deep, 8, channels=1).mean()), 4)
        ('I;16', 0.5)
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
    short = None if resize is None else positive_int(resize, "resize")
    if short is not None and short < max(out_hw):
        raise UserInputError(
            f"`resize` ({short}) must be at least the crop size {max(out_hw)}; a centre crop "
            "cannot be larger than the resized image."
        )
    one_of(channels, "channels", (1, 3))
    one_of(interpolation, "interpolation", INTERPOLATIONS)
    array = _pixels(image, name)
    size_arg = _resize_size(int(array.shape[0]), int(array.shape[1]), out_hw, short)
    mode = InterpolationMode(interpolation)

    def fit(pil: Any) -> Any:
        # Resize then CenterCrop(out_hw), both by torchvision on the PIL image.
        return tvf.center_crop(tvf.resize(pil, size_arg, interpolation=mode, antialias=True),
                               list(out_hw))

    if array.dtype == np.uint8:
        pil = Image.fromarray(array)  # uint8: "L" for (H, W), "RGB" for (H, W, 3)
        if channels == 1 and array.ndim == 3:
            pil = pil.convert("L")
        elif channels == 3 and array.ndim == 2:
            pil = pil.convert("RGB")
        out = tvf.pil_to_tensor(fit(pil))  # uint8 (C, H, W); C = 1 for "L"
        return out.float().div_(255.0).contiguous()
    # High bit depth: each channel as a 32-bit float PIL image (mode "F"), so no precision
    # is lost to 8 bits; bicubic can overshoot [0, 1] slightly at edges, hence the clamp.
    planes = [array] if array.ndim == 2 else [array[..., c] for c in range(3)]
    if channels == 1 and len(planes) == 3:
        planes = [(0.299 * planes[0] + 0.587 * planes[1] + 0.114 * planes[2])
                  .astype(np.float32)]  # ITU-R 601 luma, as PIL's "L"
    fitted = [np.array(fit(Image.fromarray(np.ascontiguousarray(plane, np.float32))),
                       dtype=np.float32) for plane in planes]  # float32 (H, W) -> mode "F"
    stacked = torch.from_numpy(np.stack(fitted)).clamp_(0.0, 1.0)
    if channels == 3 and stacked.shape[0] == 1:
        stacked = stacked.expand(3, -1, -1)
    return stacked.contiguous()


def image_to_tensor(image: Any, name: str = "image") -> Tensor:
    r"""One image's pixels as a float tensor ``(C, H, W)`` in ``[0, 1]``, without resizing.

    The pixel decoding of :func:`to_model_input` alone (same modes, dtypes and checks):
    grey images give ``C = 1``, colour ones ``C = 3``. With no resize to make, float
    pixels keep their precision (float32) instead of being rounded to 8 bits. Every
    data set item of :func:`~captum_rank.data.iter_batches` comes through here.

    Args:
        image: as for :func:`to_model_input`.
        name: the argument's name for error messages.

    Returns:
        A float32 tensor ``(C, H, W)`` with values in ``[0, 1]``.

    Raises:
        UserTypeError: not an image, or an unsupported dtype.
        UserInputError: a bad shape, NaN, or values outside the image's range.

    Examples:
        >>> import numpy as np
        >>> from PIL import Image
        >>> image_to_tensor(Image.fromarray(np.full((2, 3), 65535, np.uint16))).tolist()
        [[[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]]
        >>> image_to_tensor(np.zeros((4, 5, 3), np.uint8)).shape
        torch.Size([3, 4, 5])
    """
    array = _pixels(image, name, keep_floats=True)
    tensor = torch.from_numpy(np.array(array))
    tensor = tensor.unsqueeze(0) if tensor.ndim == 2 else tensor.permute(2, 0, 1)
    if tensor.dtype == torch.uint8:
        return tensor.float().div_(255.0).contiguous()
    return tensor.float().contiguous()
