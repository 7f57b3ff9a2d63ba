r"""Resolving models, data and image files named by strings (the command line's words).

* A model is a zoo name (:func:`captum_rank.zoo.available`), or a user's code given as
  ``path/to/file.py:Name`` or ``package.module:Name``, where ``Name`` is an ``nn.Module``
  class (instantiated without arguments), a function returning a module, or a module
  instance; optionally with a weights file (a ``state_dict``, read with
  ``weights_only=True``). A model file may import modules that sit next to it.
* Data is ``fashion-mnist`` (the Debian package's folder), ``sample`` (the 200 images
  bundled with the package), ``photos`` (:func:`captum_rank.data.load_photos`), a folder
  holding the Fashion-MNIST IDX files, or a folder of images: class sub-folders give the
  labels (``ImageFolder`` style), a flat folder is unlabelled (label ``-1``: audited
  against the model's own predictions). Image folders are read lazily, one batch at a
  time, so memory stays bounded whatever their size.
* Images are PNG/JPEG/... files read with PIL and fitted to a model's input (resize,
  centre crop, convert channels; 16-bit and float images scaled by their range) by
  :func:`captum_rank.data.images.to_model_input`, the package's one input layer. A file
  that cannot be read or fitted is named in the error; ``skip_bad_images`` leaves such
  files of a folder out and lists them.

Every failure is an :class:`~captum_rank.audit.errors.AuditInputError` (a
:class:`~captum_rank.checks.UserInputError`) whose message names the argument and the fix.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import stat
import sys
import warnings
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset, Subset

from captum_rank import zoo
from captum_rank.audit.errors import AuditInputError
from captum_rank.checks import (
    UserInputError,
    boolean,
    non_negative_int,
    one_of,
    optional_positive_int,
)
from captum_rank.data import CLASSES as FASHION_CLASSES
from captum_rank.data import DEFAULT_ROOT, SPLITS, load_fashion_mnist, load_sample
from captum_rank.data.images import to_model_input

__all__ = [
    "DATA_CHOICES",
    "IMAGE_SUFFIXES",
    "ImageFiles",
    "LoadedData",
    "fit_to",
    "image_domain_note",
    "input_shape_of",
    "load_data",
    "load_images",
    "load_model",
    "read_image",
    "subset_indices",
]

#: The named data sources (a folder path is accepted too).
DATA_CHOICES = ("fashion-mnist", "sample", "photos")

#: File name endings read as images in a folder.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm")

_STATE_DICT_HINT = (
    "save the weights alone with `torch.save(model.state_dict(), path)` and load them "
    "into the model built by the code"
)

_APT_HINT = (
    "install it with `apt-get install -y dataset-fashion-mnist` (files go to "
    f"{DEFAULT_ROOT}), or use a folder holding the IDX files or a folder of images, or "
    "'sample' for the 200 bundled images"
)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:300] if text else type(err).__name__


def _import_file(target: str) -> Any:
    path = Path(target)
    if not path.is_file():
        raise AuditInputError(f"model file {target!r} does not exist.")
    name = f"_captum_rank_user_{abs(hash(str(path.resolve())))}"
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise AuditInputError(f"cannot import {target!r} as a Python module.")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    # The file's folder goes on the path while it runs, so it can import its siblings
    # (``from layers import Block``) as it does when run from its own folder.
    folder = str(path.resolve().parent)
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    try:
        module_spec.loader.exec_module(module)
    except SystemExit as err:  # sys.exit() in a model file must not end the caller silently
        del sys.modules[name]
        raise AuditInputError(
            f"importing model file {target!r} called sys.exit({err.code!r}); a model file "
            "must define the model, not run a script (guard the script part with "
            "`if __name__ == \"__main__\":`)."
        ) from None
    except Exception as err:
        del sys.modules[name]
        raise AuditInputError(
            f"importing model file {target!r} failed: {type(err).__name__}: {_first_line(err)}"
        ) from None
    finally:
        if added and folder in sys.path:
            sys.path.remove(folder)
    return module


def _import_object(spec: str) -> tuple[Any, str]:
    target, _, attr = spec.rpartition(":")
    if not target or not attr:
        raise AuditInputError(
            f"unknown model {spec!r}: not a zoo model ({', '.join(zoo.available())}) and not "
            "of the form path/to/file.py:ClassName or package.module:ClassName."
        )
    if target.endswith(".py") or os.sep in target or "/" in target:
        module = _import_file(target)
    else:
        try:
            module = importlib.import_module(target)
        except SystemExit as err:
            raise AuditInputError(
                f"importing module {target!r} called sys.exit({err.code!r}); point --model "
                "at a module that defines the model without running a script."
            ) from None
        except Exception as err:
            raise AuditInputError(
                f"cannot import module {target!r}: {type(err).__name__}: {_first_line(err)}"
            ) from None
    try:
        obj = module
        for part in attr.split("."):
            obj = getattr(obj, part)
    except AttributeError:
        raise AuditInputError(f"{target!r} has no attribute {attr!r}.") from None
    return obj, attr.split(".")[-1]


def _build(spec: str, obj: Any) -> nn.Module:
    if isinstance(obj, nn.Module):
        return obj
    if isinstance(obj, type) and issubclass(obj, nn.Module):
        what = "building"
    elif callable(obj):
        what = "calling"
    else:
        raise AuditInputError(
            f"model {spec!r} is a {type(obj).__name__}; give an nn.Module class, a function "
            "returning a module, or a module instance."
        )
    try:
        model = obj()
    except SystemExit as err:
        raise AuditInputError(
            f"{what} model {spec!r} called sys.exit({err.code!r}); fix the model code."
        ) from None
    except TypeError as err:
        raise AuditInputError(
            f"{what} model {spec!r} without arguments failed ({_first_line(err)}); point "
            "the model at a function that takes no arguments and returns the model."
        ) from None
    except Exception as err:  # the user's factory raised: say so, without a traceback
        raise AuditInputError(
            f"{what} model {spec!r} raised {type(err).__name__}: {_first_line(err)}; fix the "
            "model code (it is called without arguments)."
        ) from None
    if not isinstance(model, nn.Module):
        raise AuditInputError(
            f"model {spec!r} returned {type(model).__name__}, not a torch.nn.Module."
        )
    return model


def _read_state_dict(weights: str | os.PathLike[str], name: str) -> dict[str, Any]:
    path = Path(weights)
    if not path.is_file():
        raise AuditInputError(f"`weights` file {str(weights)!r} does not exist.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        text = str(err)
        if "Unsupported global" in text and zipfile.is_zipfile(path):
            raise AuditInputError(
                f"`weights` file {str(weights)!r} holds a whole pickled object (a model?), "
                f"not a state_dict; it is not loaded (unpickling runs arbitrary code): "
                f"{_STATE_DICT_HINT}."
            ) from None
        raise AuditInputError(
            f"`weights` file {str(weights)!r} is not a PyTorch weights file "
            f"({type(err).__name__}); {_STATE_DICT_HINT}."
        ) from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, Tensor) for k, v in state.items()
    ):
        raise AuditInputError(
            f"`weights` file {str(weights)!r} holds a {type(state).__name__} that is not a "
            f"state_dict (names to tensors); {_STATE_DICT_HINT}."
        )
    return state


def load_model(
    spec: str, weights: str | os.PathLike[str] | None = None
) -> tuple[str, nn.Module]:
    r"""A model from a zoo name or user code, in eval mode.

    Args:
        spec (str): a zoo name (:func:`captum_rank.zoo.available`), ``file.py:Name`` or
            ``module:Name``.
        weights (str or PathLike, optional): a ``state_dict`` file to load into the
            model (for zoo models it replaces the shipped weights); a file holding
            ``{"state_dict": ...}`` works too.

    Returns:
        tuple: ``(name, model)``: the zoo name or ``Name``, and the module.

    Raises:
        AuditInputError: unknown name; import errors; a factory that raises; a missing,
            unreadable or incompatible weights file, or one holding a pickled model
            instead of a state_dict; an object that is not a module.

    Examples:
        >>> name, model = load_model("fmnist-natural")
        >>> name, model.training
        ('fmnist-natural', False)
        >>> load_model("no-such-model")
        Traceback (most recent call last):
        ...
        captum_rank.audit.errors.AuditInputError: unknown model 'no-such-model': ...
    """
    if spec in zoo.available():
        try:
            model = zoo.load(spec)
        except (FileNotFoundError, OSError, ImportError) as err:
            raise AuditInputError(
                f"zoo model {spec!r} cannot be loaded ({_first_line(err)}); reinstall "
                "captum-rank, or give `weights`."
            ) from None
        name = spec
    else:
        obj, name = _import_object(spec)
        model = _build(spec, obj)
    if weights is not None:
        state = _read_state_dict(weights, name)
        try:
            zoo.check_finite_state(state, repr(str(weights)))
        except UserInputError as err:
            raise AuditInputError(str(err)) from None
        try:
            model.load_state_dict(state)
        except RuntimeError as err:
            lines = str(err).strip().splitlines()
            raise AuditInputError(
                f"`weights` {str(weights)!r} do not fit {name}: {' '.join(lines[:3])[:400]}"
            ) from None
    model.eval()
    return name, model


def input_shape_of(name: str, model: nn.Module) -> tuple[int, int, int] | None:
    r"""A model's input ``(C, H, W)``: from the zoo, or a model's ``input_shape`` attribute.

    Args:
        name (str): the model's name (a zoo name, or anything).
        model (nn.Module): the model.

    Returns:
        tuple or None: ``(C, H, W)``, or None when the model does not say.

    Examples:
        >>> import torch
        >>> input_shape_of("fmnist-natural", torch.nn.Identity())
        (1, 28, 28)
        >>> input_shape_of("mine", torch.nn.Identity()) is None
        True
    """
    if name in zoo.available():
        return tuple(int(v) for v in zoo.input_shape(name))  # type: ignore[return-value]
    shape = getattr(model, "input_shape", None)
    if isinstance(shape, Sequence) and len(shape) == 3 and all(
        isinstance(v, int) and v > 0 for v in shape
    ):
        return (int(shape[0]), int(shape[1]), int(shape[2]))
    return None


def read_image(path: str | os.PathLike[str], hint: str = "") -> Any:
    r"""Open an image file with PIL (fully read, file closed).

    Args:
        path (str or PathLike): PNG, JPEG or any format PIL reads.
        hint (str, optional): appended to the error message (e.g. how to skip the file).

    Returns:
        PIL.Image.Image: the image.

    Raises:
        AuditInputError: a missing or unreadable file.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        # A FIFO would block the read forever, /dev/zero never ends: regular files only.
        mode = os.stat(path).st_mode
        if stat.S_ISDIR(mode):
            raise AuditInputError(f"image {os.fspath(path)!r} is a folder, not an image "
                                  f"file.{hint}")
        if not stat.S_ISREG(mode):
            raise AuditInputError(
                f"image {os.fspath(path)!r} is not a regular file (a device, FIFO or "
                f"socket); give PNG, JPEG or other image files.{hint}")
        with Image.open(path) as image:
            image.load()
            # A camera's portrait photo is stored sideways with an EXIF orientation tag.
            return ImageOps.exif_transpose(image) or image.copy()
    except AuditInputError:
        raise
    except FileNotFoundError:
        raise AuditInputError(f"image {os.fspath(path)!r} does not exist.{hint}") from None
    except Image.DecompressionBombError as err:
        raise AuditInputError(
            f"image {os.fspath(path)!r} is refused as a possible decompression bomb "
            f"({_first_line(err)}); if it is a genuine image, shrink it first, or raise "
            f"PIL.Image.MAX_IMAGE_PIXELS knowingly.{hint}") from None
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise AuditInputError(
            f"cannot read image {os.fspath(path)!r}: {type(err).__name__}: "
            f"{_first_line(err)}{hint}"
        ) from None


def fit_to(shape: Sequence[int]) -> Callable[[Any], Tensor]:
    r"""The transform that fits one image to a ``(C, H, W)`` model input.

    It is :func:`captum_rank.data.images.to_model_input` (the package's one input layer)
    with bicubic resampling, the smallest resize that covers ``(H, W)`` and a centre crop,
    grey (``C = 1``) or RGB (``C = 3``); 16/32-bit images are scaled by their range.

    Args:
        shape (sequence of int): ``(C, H, W)`` with ``C`` 1 or 3.

    Returns:
        callable: image (PIL, array or tensor) -> ``(C, H, W)`` float32 in ``[0, 1]``.

    Raises:
        AuditInputError: a ``shape`` that is not ``(C, H, W)`` with ``C`` 1 or 3.

    Examples:
        >>> import numpy as np
        >>> fit_to((1, 28, 28))(np.zeros((40, 60, 3), dtype=np.uint8)).shape
        torch.Size([1, 28, 28])
    """
    values = tuple(int(v) for v in shape)
    if len(values) != 3 or values[0] not in (1, 3) or min(values) < 1:
        raise AuditInputError(
            f"`shape` must be (C, H, W) with 1 (grey) or 3 (RGB) channels, got {tuple(shape)}."
        )
    channels, height, width = values

    def transform(image: Any) -> Tensor:
        return to_model_input(image, (height, width), channels=channels,
                              interpolation="bicubic")

    return transform


def _fitted(path: str | os.PathLike[str], transform: Callable[[Any], Tensor],
            hint: str = "") -> Tensor:
    """Read one image file and fit it; every failure names the file."""
    image = read_image(path, hint)
    try:
        return transform(image)
    except UserInputError as err:
        raise AuditInputError(f"image {os.fspath(path)!r}: {err}{hint}") from None


def image_domain_note(image: Any, shape: Sequence[int], model: str) -> str | None:
    r"""A warning when an image is far from what a model was trained on, else None.

    Flags a colour image given to a grey model, a grey image given to a colour model,
    and an image that must shrink more than 6 times or grow more than 4 times to fit.

    Args:
        image: a PIL image or an ``(H, W[, C])`` array.
        shape (sequence of int): the model's ``(C, H, W)``.
        model (str): the model's name, for the message.

    Returns:
        str or None: the note.

    Examples:
        >>> import numpy as np
        >>> photo = np.random.default_rng(0).integers(0, 256, (512, 512, 3), dtype=np.uint8)
        >>> print(image_domain_note(photo, (1, 28, 28), "fmnist-natural"))
        a 512x512 colour image given to fmnist-natural, which takes 28x28 grey images ...
    """
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] >= 3:
        rgb = array[..., :3].astype(np.float64)
        colour = float(np.abs(rgb - rgb.mean(axis=2, keepdims=True)).mean()) > (
            5.0 if array.dtype == np.uint8 else 0.02)
    else:
        colour = False
    h0, w0 = array.shape[:2]
    channels, height, width = (int(v) for v in shape)
    shrink = min(h0 / height, w0 / width)
    problems = []
    if colour and channels == 1:
        problems.append("colour")
    if not colour and channels == 3:
        problems.append("grey")
    if shrink > 6:
        problems.append(f"shrunk {shrink:.0f}x")
    if shrink < 0.25:
        problems.append(f"enlarged {1 / shrink:.0f}x")
    if not problems:
        return None
    kind = "colour" if colour else "grey"
    wanted = "grey" if channels == 1 else "colour"
    return (
        f"a {w0}x{h0} {kind} image given to {model}, which takes {width}x{height} {wanted} "
        f"images ({', '.join(problems)}): the image is far from the model's training data, "
        "so its prediction and attributions say little about the image."
    )


def subset_indices(labels: Tensor, limit: int, seed: int = 0) -> tuple[Tensor, str]:
    r"""A representative subset of ``limit`` items: stratified by label, seeded.

    Items are shuffled with ``seed``; then the classes take turns (round robin, in class
    order), so every class is represented in proportion as far as ``limit`` allows, even
    when the data set is sorted by class. Unlabelled items (``-1``) form one more group.

    Args:
        labels (Tensor): ``(N,)`` labels.
        limit (int): how many to keep (all when ``limit >= N``).
        seed (int, optional): the shuffle's seed. Default: 0.

    Returns:
        tuple: ``(indices, description)``, the sorted int64 indices and a phrase such as
        ``"a stratified random subset (seed 0)"``.

    Examples:
        >>> import torch
        >>> idx, how = subset_indices(torch.tensor([0] * 10 + [1] * 10), 4)
        >>> torch.bincount(torch.tensor([0] * 10 + [1] * 10)[idx]).tolist(), how
        ([2, 2], 'a stratified random subset (seed 0)')
    """
    n = int(labels.shape[0])
    limit = non_negative_int(limit, "limit")
    seed = non_negative_int(seed, "seed")
    if limit >= n:
        return torch.arange(n), "all of them"
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(n, generator=generator)
    shuffled = labels[order]
    groups = [order[shuffled == c] for c in sorted(set(labels.tolist()))]
    picked: list[int] = []
    depth = 0
    while len(picked) < limit:
        for group in groups:
            if depth < group.shape[0] and len(picked) < limit:
                picked.append(int(group[depth]))
        depth += 1
    return torch.tensor(sorted(picked), dtype=torch.int64), (
        f"a stratified random subset (seed {seed})")


class ImageFiles(Dataset[tuple[Tensor, int]]):
    r"""Image files as a data set, read and fitted to a model's input one item at a time.

    Args:
        paths (sequence of path): the files.
        labels (sequence of int): one per file (``-1``: unlabelled).
        transform (callable): PIL image -> ``(C, H, W)`` tensor.
        hint (str, optional): appended to the message of a file that cannot be read or
            fitted (which always names the file).

    Examples:
        >>> import os, tempfile, numpy as np
        >>> from PIL import Image
        >>> folder = tempfile.mkdtemp()
        >>> Image.fromarray(np.zeros((30, 40, 3), np.uint8)).save(os.path.join(folder, "a.png"))
        >>> files = ImageFiles([os.path.join(folder, "a.png")], [-1], fit_to((3, 8, 8)))
        >>> image, label = files[0]
        >>> tuple(image.shape), label
        ((3, 8, 8), -1)
    """

    def __init__(self, paths: Sequence[str | os.PathLike[str]], labels: Sequence[int],
                 transform: Callable[[Any], Tensor], hint: str = "") -> None:
        self.paths = [Path(p) for p in paths]
        self.labels = [int(v) for v in labels]
        self.transform = transform
        self.hint = hint

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        return _fitted(self.paths[index], self.transform, self.hint), self.labels[index]


@dataclass
class LoadedData:
    r"""Data named by a string, ready for the audits.

    Attributes:
        data: ``(images, labels)`` tensors or a lazy data set (:class:`ImageFiles` for a
            flat folder, ``torchvision.datasets.ImageFolder`` for class sub-folders).
        labels: ``(N,)`` labels of all items (``-1``: unlabelled), known without reading
            the images.
        description: what it is, for reports.
        class_names: the data's class names (label ``i`` is ``class_names[i]``), or None
            (the labels then are the model's class indices).
        num_classes: how many classes the labels come from, when the data fixes it (the
            models must return that many scores), else None.
        notes: remarks on the data for reports.
        skipped: the image files left out with ``skip_bad_images``: ``{"file", "error"}``
            per file (empty otherwise).
    """

    data: Any
    labels: Tensor
    description: str
    class_names: list[str] | None = None
    num_classes: int | None = None
    notes: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)


#: Appended to the message of an image file that cannot be read or fitted.
SKIP_HINT = (" (to audit a folder without its unreadable files, pass skip_bad_images=True, "
             "on the command line --skip-bad-images; the skipped files are listed)")


def _identity(image: Tensor) -> Tensor:
    return image


def _item_path(data: Any, index: int) -> str:
    if isinstance(data, ImageFiles):
        return str(data.paths[index])
    return str(data.samples[index][0])  # ImageFolder's (path, class) pairs


def _without_bad_images(data: Any, labels: list[int]) -> tuple[Any, list[int],
                                                               list[dict[str, str]]]:
    """Read and fit every item once; drop those that fail, saying which and why."""
    good: list[int] = []
    skipped: list[dict[str, str]] = []
    for index in range(len(labels)):
        try:
            data[index]
        except AuditInputError as err:
            skipped.append({"file": _item_path(data, index),
                            "error": str(err).replace(SKIP_HINT, "")})
        else:
            good.append(index)
    if not skipped:
        return data, labels, []
    return Subset(data, good), [labels[i] for i in good], skipped


def _once_each(paths: list[Path]) -> list[Path]:
    r"""``paths`` less those naming a file already listed (a symlink to a sibling)."""
    seen: set[str] = set()
    kept = []
    for path in paths:
        real = os.path.realpath(path)
        if real not in seen:
            seen.add(real)
            kept.append(path)
    if len(kept) < len(paths):
        warnings.warn(f"{len(paths) - len(kept)} file(s) in {str(paths[0].parent)!r} are "
                      "symbolic links to images already listed; each image is counted once.",
                      stacklevel=3)
    return kept


def _image_folder(root: Path, transform: Callable[[Any], Tensor],
                  model_classes: Sequence[str] | None,
                  skip_bad_images: bool = False) -> LoadedData:
    subdirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    files_here = _once_each(sorted(p for p in root.iterdir()
                                   if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES))
    data: Any
    if subdirs:
        names = [d.name for d in subdirs]
        lookup = {n.lower().replace("_", " "): i for i, n in enumerate(model_classes or [])}
        known = [lookup.get(n.lower().replace("_", " ")) for n in names]
        if all(k is not None for k in known):
            ids = [int(k) for k in known if k is not None]
            how = "class sub-folders named after the model's classes"
            class_names, num_classes = list(model_classes or []), None
        elif all(n.isdigit() for n in names):
            ids = [int(n) for n in names]
            how = "class sub-folders named by class index"
            class_names, num_classes = None, None
        else:
            ids = list(range(len(names)))
            how = "class sub-folders (ImageFolder order: sorted names are classes 0, 1, ...)"
            class_names, num_classes = names, len(names)
        from captum_rank.audit._folders import ClassFolders  # imports torchvision

        # torchvision's ImageFolder lists the files (paths only) and reads one image per item.
        # The loader reads and fits one file, so that its errors name the file.
        data = ClassFolders(root, dict(zip(names, ids, strict=True)),
                            partial(_fitted, transform=transform, hint=SKIP_HINT),
                            _identity, IMAGE_SUFFIXES)
        labels = [int(v) for v in data.targets]
    else:
        data = ImageFiles(files_here, [-1] * len(files_here), transform, SKIP_HINT)
        labels = data.labels
        how = "a flat folder, unlabelled: judged against each model's own predictions"
        class_names, num_classes = None, None
    if not labels:
        raise AuditInputError(
            f"`data` folder {str(root)!r} holds no images ({', '.join(IMAGE_SUFFIXES)}) and "
            "no Fashion-MNIST IDX files; give a folder of images (optionally in class "
            "sub-folders) or the IDX files."
        )
    skipped: list[dict[str, str]] = []
    if skip_bad_images:
        data, labels, skipped = _without_bad_images(data, labels)
        if not labels:
            raise AuditInputError(
                f"`data` folder {str(root)!r}: none of its {len(skipped)} image files can be "
                f"read (the first: {skipped[0]['error']})."
            )
    left_out = f", {len(skipped)} unreadable files skipped" if skipped else ""
    return LoadedData(
        data=data,
        labels=torch.tensor(labels, dtype=torch.int64),
        description=f"{len(labels)} images in {root} ({how}{left_out})",
        class_names=class_names,
        num_classes=num_classes,
        skipped=skipped,
    )


def _has_idx(root: Path) -> bool:
    return any("idx" in p.name and "ubyte" in p.name for p in root.iterdir())


def load_data(
    spec: str,
    split: str = "test",
    limit: int | None = None,
    *,
    seed: int = 0,
    shape: Sequence[int] | None = None,
    transform: Callable[[Any], Tensor] | None = None,
    model_classes: Sequence[str] | None = None,
    skip_bad_images: bool = False,
) -> LoadedData:
    r"""Images and labels named by ``spec``.

    Args:
        spec (str): ``"fashion-mnist"`` (from :data:`captum_rank.data.DEFAULT_ROOT`),
            ``"sample"`` (200 bundled test images; ``split`` is ignored), ``"photos"``
            (:func:`captum_rank.data.load_photos`), a folder with the Fashion-MNIST IDX
            files, or a folder of images.
        split (str, optional): ``"test"`` or ``"train"`` (Fashion-MNIST). Default: test.
        limit (int, optional): keep a stratified random subset of ``limit`` items
            (:func:`subset_indices`); None keeps all.
        seed (int, optional): the subset's seed. Default: 0.
        shape (sequence of int, optional): the model's ``(C, H, W)``, to fit photos and
            image folders to (default: ``(3, 224, 224)``).
        transform (callable, optional): PIL image -> ``(C, H, W)`` tensor for image
            folders and photos (a zoo model's own preprocessing); default
            :func:`fit_to` ``(shape)``.
        model_classes (sequence of str, optional): the model's class names, to read class
            sub-folders named after them (``tabby/``, ``goldfish/``) as those classes.
        skip_bad_images (bool, optional): for a folder of images, read every file once up
            front and leave out those that cannot be read or fitted, listed in
            :attr:`LoadedData.skipped`. Default: False (an unreadable file stops the audit
            with a message naming it).

    Returns:
        LoadedData: the data, its labels, a description and class names.

    Raises:
        AuditInputError: unknown split, a missing folder or files (the message says
            ``apt-get install -y dataset-fashion-mnist``), a corrupt file, an empty
            folder, a bad ``limit``.

    Examples:
        >>> loaded = load_data("sample", limit=20)
        >>> tuple(loaded.data[0].shape), loaded.num_classes
        ((20, 1, 28, 28), 10)
        >>> torch.bincount(loaded.labels).tolist()
        [2, 2, 2, 2, 2, 2, 2, 2, 2, 2]
        >>> print(loaded.description)
        a stratified random subset (seed 0) of 20 of 200 Fashion-MNIST test images (the ...)
    """
    one_of(split, "split", sorted(SPLITS))
    limit = optional_positive_int(limit, "limit")
    fit_shape = tuple(int(v) for v in shape) if shape is not None else (3, 224, 224)
    skip_bad_images = boolean(skip_bad_images, "skip_bad_images")
    fit = transform if transform is not None else fit_to(fit_shape)
    loaded: LoadedData
    if spec == "sample":
        x, y = load_sample()
        loaded = LoadedData((x, y), y, "{n} Fashion-MNIST test images (the bundled sample)",
                            list(FASHION_CLASSES), len(FASHION_CLASSES))
    elif spec == "photos":
        from captum_rank.data import load_photos

        square_rgb = fit_shape[0] == 3 and fit_shape[1] == fit_shape[2]
        photos = load_photos(size=fit_shape[1] if square_rgb else 224)
        # load_photos already applies the ImageNet crop; other shapes are refitted.
        images = photos.images if square_rgb else torch.stack(
            [fit(img) for img in photos.images])
        labels = torch.as_tensor(photos.labels, dtype=torch.int64)
        loaded = LoadedData((images, labels), labels,
                            "{n} real photos (captum_rank.data.load_photos; "
                            f"{int((labels >= 0).sum())} of them with ImageNet labels)",
                            list(model_classes) if model_classes else None,
                            # The labels are ImageNet-1k classes: the models must be too.
                            1000 if bool((labels >= 0).any()) else None)
    else:
        root = Path(DEFAULT_ROOT if spec == "fashion-mnist" else spec)
        if not root.is_dir():
            if spec == "fashion-mnist":
                raise AuditInputError(f"Fashion-MNIST is not installed ({root} missing): "
                                      f"{_APT_HINT}.")
            raise AuditInputError(
                f"`data` {spec!r} is neither one of {', '.join(DATA_CHOICES)} nor an existing "
                f"folder: {_APT_HINT}."
            )
        if spec != "fashion-mnist" and not _has_idx(root):
            loaded = _image_folder(root, fit, model_classes, skip_bad_images)
        else:
            try:
                x, y = load_fashion_mnist(split, root=root)
            except FileNotFoundError:
                raise AuditInputError(
                    f"no Fashion-MNIST {split} files in {root}: {_APT_HINT}.") from None
            except ValueError as err:
                raise AuditInputError(
                    f"cannot read the data in {root}: {_first_line(err)}") from None
            loaded = LoadedData((x, y), y, f"Fashion-MNIST {split} split from {root} "
                                "({n} images)", list(FASHION_CLASSES), len(FASHION_CLASSES))
    total = int(loaded.labels.shape[0])
    if limit is not None and limit < total:
        index, how = subset_indices(loaded.labels, limit, seed)
        if isinstance(loaded.data, tuple):
            loaded.data = (loaded.data[0][index], loaded.data[1][index])
        else:
            loaded.data = torch.utils.data.Subset(loaded.data, index.tolist())
        loaded.labels = loaded.labels[index]
        count = f"{how} of {limit} of {total}"
    else:
        count = str(total)
    if "{n}" in loaded.description:
        loaded.description = loaded.description.replace("{n}", count)
    elif count != str(total):
        loaded.description += f"; {count}"
    return loaded


def load_images(
    paths: Sequence[str | os.PathLike[str]],
    shape: Sequence[int] = (1, 28, 28),
    transform: Callable[[Any], Tensor] | None = None,
    model: str = "the model",
) -> tuple[Tensor, list[str | None]]:
    r"""Read image files and fit them to a model's input; note images far from its domain.

    Args:
        paths (sequence of path): PNG, JPEG or any format PIL reads.
        shape (sequence of int, optional): the model's ``(C, H, W)``. Default: 1 x 28 x 28.
        transform (callable, optional): PIL image -> ``(C, H, W)`` tensor (a zoo model's
            preprocessing). Default: :func:`fit_to` ``(shape)``.
        model (str, optional): the model's name, for the notes.

    Returns:
        tuple: ``(images, notes)``: ``(N, C, H, W)`` float32, and per image a warning from
        :func:`image_domain_note` or None.

    Raises:
        AuditInputError: no paths, a missing or unreadable file.

    Examples:
        >>> import os, tempfile
        >>> from PIL import Image
        >>> path = os.path.join(tempfile.mkdtemp(), "x.png")
        >>> Image.new("RGB", (64, 48), (255, 255, 255)).save(path)
        >>> batch, notes = load_images([path])
        >>> tuple(batch.shape), float(batch.max()), notes
        ((1, 1, 28, 28), 1.0, [None])
    """
    if isinstance(paths, str | bytes | os.PathLike):  # one path, not its characters
        paths = [os.fsdecode(paths)]
    if not paths:
        raise AuditInputError("no image files given; name at least one image.")
    fit = transform if transform is not None else fit_to(shape)
    batch: list[Tensor] = []
    notes: list[str | None] = []
    for path in paths:
        image = read_image(path)
        try:
            batch.append(fit(image))
        except UserInputError as err:
            raise AuditInputError(f"image {os.fspath(path)!r}: {err}") from None
        notes.append(image_domain_note(np.asarray(image.convert("RGB")), shape, model))
    return torch.stack(batch), notes
