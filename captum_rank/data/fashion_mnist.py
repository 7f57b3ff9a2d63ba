r"""Fashion-MNIST, read offline from the standard IDX files.

The loader parses the IDX format itself (it is four lines of ``struct``), so the package
needs neither torchvision nor a network to use the data set that the Debian package
``dataset-fashion-mnist`` installs under :data:`DEFAULT_ROOT`. A small sample of real test
images ships inside the package (:func:`load_sample`) for tests, tutorials and demos.
"""

from __future__ import annotations

import gzip
import io
import os
import struct
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Literal, overload

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from captum_rank.checks import (
    UserInputError,
    UserTypeError,
    boolean,
    non_negative_int,
    positive_int,
)
from captum_rank.data.images import image_to_tensor

__all__ = [
    "CLASSES",
    "DEFAULT_ROOT",
    "SPLITS",
    "FashionMNIST",
    "iter_batches",
    "load_fashion_mnist",
    "load_sample",
    "read_idx",
]

#: Where the Debian package ``dataset-fashion-mnist`` puts the IDX files.
DEFAULT_ROOT = "/usr/share/datasets/fashion-mnist"

#: The ten Fashion-MNIST class names, indexed by label.
CLASSES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

#: Valid values of ``split`` and the file-name prefix of each.
SPLITS: dict[str, str] = {"train": "train", "test": "t10k"}

_EXPECTED_COUNT = {"train": 60_000, "test": 10_000}

# IDX type codes (third byte of the magic number) -> numpy dtype (IDX is big-endian).
_IDX_DTYPES: dict[int, np.dtype[Any]] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_SAMPLE_RESOURCE = "fashion_mnist_sample.npz"

_FIX_HINT = (
    "Install the data set with `apt-get install -y dataset-fashion-mnist` (Debian/Ubuntu; "
    f"files go to {DEFAULT_ROOT}), or pass root= a folder holding the IDX files "
    "(train-images-idx3-ubyte[.gz], ...), or pass download=True to fetch them with "
    "torchvision (needs a network)."
)


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    r"""Read one IDX file (gzip-compressed or plain) into a numpy array.

    The header is validated: two zero bytes, a known type code, a dimension count, and a
    payload whose size matches the declared shape exactly.

    Args:
        path: the file; a name ending in ``.gz`` or starting with the gzip magic bytes is
            decompressed.

    Returns:
        The array, with the shape from the header and the native-endian dtype of its type
        code (``uint8`` for the Fashion-MNIST files).

    Raises:
        ValueError: if the file is not a well-formed IDX file.

    Examples:
        >>> import gzip, os, tempfile
        >>> import numpy as np
        >>> path = os.path.join(tempfile.mkdtemp(), "x-idx1-ubyte.gz")
        >>> with gzip.open(path, "wb") as f:
        ...     _ = f.write(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9]))
        >>> read_idx(path)
        array([7, 8, 9], dtype=uint8)
    """
    path = Path(path)
    with open(path, "rb") as f:
        raw = f.read()
    # Sniff the gzip magic rather than trust the suffix: a renamed file still loads.
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, gzip.BadGzipFile) as err:
            raise ValueError(f"{path}: corrupt gzip stream ({err}).") from err
    if len(raw) < 4:
        raise ValueError(f"{path}: too short to be an IDX file ({len(raw)} bytes).")
    zero, type_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or type_code not in _IDX_DTYPES or ndim == 0:
        raise ValueError(
            f"{path}: bad IDX magic number 0x{raw[:4].hex()} (expected 0x0000TTDD with a "
            "known type code TT and a dimension count DD >= 1); the file is corrupt or not "
            "an IDX file."
        )
    header_end = 4 + 4 * ndim
    if len(raw) < header_end:
        raise ValueError(f"{path}: truncated IDX header ({len(raw)} bytes, {ndim} dims).")
    shape = struct.unpack(f">{ndim}I", raw[4:header_end])
    dtype = _IDX_DTYPES[type_code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    payload = len(raw) - header_end
    if payload != expected:
        raise ValueError(
            f"{path}: IDX header declares shape {tuple(shape)} ({expected} bytes of data) "
            f"but the file holds {payload}; the file is truncated or corrupt."
        )
    arr = np.frombuffer(raw, dtype=dtype, offset=header_end).reshape(shape)
    return arr.astype(dtype.newbyteorder("="), copy=True)


def _check_split(split: str) -> str:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}, got split={split!r}.")
    return SPLITS[split]


def _find(root: Path, stem: str) -> Path | None:
    # Accept the Debian/upstream layout (root/*.gz), plain files, and torchvision's layout
    # (root/FashionMNIST/raw/...), so a folder filled by download=True also works.
    for folder in (root, root / "FashionMNIST" / "raw"):
        for name in (stem + ".gz", stem):
            if (folder / name).is_file():
                return folder / name
    return None


def _download(root: Path) -> None:
    try:
        from torchvision.datasets import FashionMNIST as _TVFashionMNIST
    except ImportError as err:  # pragma: no cover - torchvision is optional
        raise ImportError("download=True needs torchvision: pip install torchvision") from err
    for train in (True, False):
        _TVFashionMNIST(str(root), train=train, download=True)


def load_fashion_mnist(
    split: str = "test",
    root: str | os.PathLike[str] | None = None,
    download: bool = False,
) -> tuple[Tensor, Tensor]:
    r"""Load a Fashion-MNIST split as tensors.

    Args:
        split: ``"train"`` (60 000 images) or ``"test"`` (10 000 images).
        root: folder holding the four IDX files (gzip'd or plain), or torchvision's
            ``FashionMNIST/raw`` layout below it. Defaults to :data:`DEFAULT_ROOT`.
        download: if ``True`` and the files are missing, fetch them into ``root`` with
            ``torchvision.datasets.FashionMNIST(download=True)``. Needs a network; off by
            default so nothing is ever downloaded implicitly.

    Returns:
        ``(images, labels)``: float32 images of shape ``(N, 1, 28, 28)`` scaled to
        ``[0, 1]``, and int64 labels of shape ``(N,)`` in ``0..9`` (see :data:`CLASSES`).

    Raises:
        ValueError: unknown ``split``, or a corrupt file.
        FileNotFoundError: the folder or files are missing (the message says how to fix it).

    Examples:
        >>> import os
        >>> if os.path.isdir(DEFAULT_ROOT):
        ...     x, y = load_fashion_mnist("test")
        ...     assert x.shape == (10000, 1, 28, 28) and y.dtype == torch.int64
    """
    prefix = _check_split(split)
    root_path = Path(DEFAULT_ROOT if root is None else root)
    stems = (f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte")
    found = [_find(root_path, s) for s in stems]
    if any(p is None for p in found) and download:
        root_path.mkdir(parents=True, exist_ok=True)
        _download(root_path)
        found = [_find(root_path, s) for s in stems]
    if any(p is None for p in found):
        missing = [s for s, p in zip(stems, found, strict=True) if p is None]
        where = "folder does not exist" if not root_path.is_dir() else f"missing {missing}"
        raise FileNotFoundError(f"Fashion-MNIST not found in {root_path} ({where}). {_FIX_HINT}")
    images_path, labels_path = found
    assert images_path is not None and labels_path is not None  # narrowed above, for mypy
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(
            f"{images_path}: expected uint8 images of shape (N, H, W), got "
            f"{images.dtype} {images.shape}."
        )
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise ValueError(
            f"{labels_path}: expected {images.shape[0]} labels to match the images, "
            f"got shape {labels.shape}."
        )
    x = torch.from_numpy(images).unsqueeze(1).float().div_(255.0)
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y


class FashionMNIST(Dataset[tuple[Tensor, Tensor]]):
    r"""Fashion-MNIST as a map-style :class:`torch.utils.data.Dataset`.

    The whole split is held in memory (47 MB for the training set as float32), which is
    simpler and faster than decoding per item at this size.

    Args:
        split: ``"train"`` or ``"test"``.
        root: folder with the IDX files; see :func:`load_fashion_mnist`.
        download: fetch the files with torchvision if missing (needs a network).

    Examples:
        >>> import os
        >>> if os.path.isdir(DEFAULT_ROOT):
        ...     ds = FashionMNIST("test")
        ...     image, label = ds[0]
        ...     assert image.shape == (1, 28, 28) and len(ds) == 10000
    """

    def __init__(
        self,
        split: str = "test",
        root: str | os.PathLike[str] | None = None,
        download: bool = False,
    ) -> None:
        self.split = split
        self.images, self.labels = load_fashion_mnist(split, root=root, download=download)
        self.classes = CLASSES

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return self.images[index], self.labels[index]


def _sample_bytes() -> bytes:
    # importlib.resources works from a source tree, an installed wheel and a zip import.
    return (
        resources.files("captum_rank.data")
        .joinpath("sample")
        .joinpath(_SAMPLE_RESOURCE)
        .read_bytes()
    )


@overload
def load_sample(return_indices: Literal[False] = ...) -> tuple[Tensor, Tensor]: ...


@overload
def load_sample(return_indices: Literal[True]) -> tuple[Tensor, Tensor, Tensor]: ...


def load_sample(
    return_indices: bool = False,
) -> tuple[Tensor, Tensor] | tuple[Tensor, Tensor, Tensor]:
    r"""Load the bundled sample: 200 real Fashion-MNIST test images, 20 per class.

    The sample holds the first 20 images of each class in test-split order, stored as
    uint8 with their original test indices (made by ``scripts/make_sample.py``). It needs
    no data set installed, so tests and tutorials can always run on real images.

    Args:
        return_indices: also return the int64 indices of the images in the test split.

    Returns:
        ``(images, labels)``, float32 ``(200, 1, 28, 28)`` in ``[0, 1]`` and int64
        ``(200,)``, sorted by class; with ``return_indices=True``,
        ``(images, labels, indices)``.

    Examples:
        >>> x, y = load_sample()
        >>> x.shape, x.dtype, y.shape
        (torch.Size([200, 1, 28, 28]), torch.float32, torch.Size([200]))
        >>> torch.bincount(y).tolist() == [20] * 10
        True
    """
    with np.load(io.BytesIO(_sample_bytes())) as npz:
        images = npz["images"]
        labels = npz["labels"]
        indices = npz["indices"]
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    y = torch.from_numpy(labels.astype(np.int64))
    if boolean(return_indices, "return_indices"):
        return x, y, torch.from_numpy(indices.astype(np.int64))
    return x, y


def _to_image_tensor(image: Any, index: int) -> Tensor:
    # Every pixel source goes through the package's one decoder: uint8 and uint16 scaled
    # by their range, floats checked to lie in [0, 1]. Only the layouts a data set item
    # may have (tensors HW or CHW, arrays HW or HWC) are checked here.
    name = f"dataset item {index}"
    pil = hasattr(image, "mode") and hasattr(image, "size") and hasattr(image, "getdata")
    if not isinstance(image, Tensor | np.ndarray) and not pil:
        raise UserTypeError(
            f"`{name}`: the image must be a torch.Tensor, numpy array or PIL image, got "
            f"{type(image).__name__}."
        )
    if not pil and image.ndim not in (2, 3):
        raise UserInputError(
            f"`{name}`: the image must be HW or CHW (a tensor) or HW or HWC (an array), got "
            f"shape {tuple(image.shape)}; give one image per item."
        )
    return image_to_tensor(image, name)


def _to_label(label: Any, index: int) -> int:
    if isinstance(label, Tensor):
        if label.numel() != 1:
            raise UserInputError(
                f"dataset item {index}: the label must be a single class index, got a "
                f"tensor of shape {tuple(label.shape)}."
            )
        label = label.item()
    elif isinstance(label, np.ndarray | np.generic):
        if np.size(label) != 1:
            raise UserInputError(
                f"dataset item {index}: the label must be a single class index.")
        label = np.asarray(label).item()
    if isinstance(label, bool) or not isinstance(label, int | np.integer):
        if isinstance(label, float) and label.is_integer():
            return int(label)
        raise UserTypeError(
            f"dataset item {index}: the label must be an integer class index, got "
            f"{type(label).__name__} {label!r}."
        )
    return int(label)


def iter_batches(
    dataset: Dataset[Any] | Sequence[Any],
    batch_size: int,
    limit: int | None = None,
) -> Iterator[tuple[Tensor, Tensor]]:
    r"""Yield ``(images, labels)`` batches from any data set of ``(image, label)`` pairs.

    This is the generic path for data sets the package does not know: torchvision data
    sets with or without a ``transform``, :class:`torch.utils.data.TensorDataset`, or a
    plain list. Images may be tensors (HW or CHW), numpy arrays (HW or HWC) or PIL images,
    decoded by :func:`~captum_rank.data.image_to_tensor`: uint8 and uint16 pixels are
    scaled by their range to ``[0, 1]``, float pixels must lie in ``[0, 1]`` and keep
    their precision, one or three channels (an alpha channel is dropped).

    Args:
        dataset: anything with ``__len__`` and ``__getitem__`` returning ``(image, label)``.
        batch_size: number of items per batch (the last batch may be smaller).
        limit: stop after this many items (``None``: the whole data set).

    Returns:
        An iterator of ``(images, labels)``: float32 ``(B, C, H, W)`` and int64 ``(B,)``.

    Raises:
        UserInputError: bad ``batch_size``/``limit``, items of different shapes, an item
            that is not an ``(image, label)`` pair, or pixels outside their range.
        UserTypeError: an image or label of an unsupported type.

    Examples:
        >>> from torch.utils.data import TensorDataset
        >>> ds = TensorDataset(torch.rand(5, 1, 28, 28), torch.arange(5))
        >>> [tuple(x.shape) for x, _ in iter_batches(ds, batch_size=2)]
        [(2, 1, 28, 28), (2, 1, 28, 28), (1, 1, 28, 28)]
    """
    batch_size = positive_int(batch_size, "batch_size")
    limit = None if limit is None else non_negative_int(limit, "limit")
    try:
        n = len(dataset)  # type: ignore[arg-type]
    except TypeError as err:
        raise UserTypeError(
            f"dataset must be a map-style data set with __len__, got {type(dataset).__name__}."
        ) from err
    if limit is not None:
        n = min(n, limit)
    for start in range(0, n, batch_size):
        images: list[Tensor] = []
        labels: list[int] = []
        for i in range(start, min(start + batch_size, n)):
            item = dataset[i]
            if not isinstance(item, tuple | list) or len(item) != 2:
                raise UserInputError(
                    f"dataset item {i} must be an (image, label) pair, got "
                    f"{type(item).__name__}"
                    + (f" of length {len(item)}" if isinstance(item, tuple | list) else "")
                    + "."
                )
            image = _to_image_tensor(item[0], i)
            if images and image.shape != images[0].shape:
                raise UserInputError(
                    f"dataset item {i}: image shape {tuple(image.shape)} differs from "
                    f"{tuple(images[0].shape)} earlier in the batch; resize them first."
                )
            images.append(image)
            labels.append(_to_label(item[1], i))
        yield torch.stack(images), torch.tensor(labels, dtype=torch.int64)
