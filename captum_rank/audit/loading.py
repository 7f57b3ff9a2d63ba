r"""Resolving the command line's ``--model``, ``--data`` and image arguments.

* A model is a zoo name (:func:`captum_rank.zoo.available`), or a user's code given as
  ``path/to/file.py:Name`` or ``package.module:Name``, where ``Name`` is an ``nn.Module``
  class (instantiated without arguments), a function returning a module, or a module
  instance; optionally with a weights file (a ``state_dict``, read with
  ``weights_only=True``).
* Data is ``fashion-mnist`` (the Debian package's folder), ``sample`` (the 200 images
  bundled with the package) or a folder holding the Fashion-MNIST IDX files.
* Images are PNG/JPEG/... files read with PIL.

Every failure is an :class:`~captum_rank.audit.errors.AuditInputError` with a message
that says what to do.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from captum_rank import zoo
from captum_rank.audit.errors import AuditInputError
from captum_rank.data import DEFAULT_ROOT, SPLITS, load_fashion_mnist, load_sample

__all__ = ["DATA_CHOICES", "load_data", "load_images", "load_model"]

#: The named data sources of ``--data`` (a folder path is accepted too).
DATA_CHOICES = ("fashion-mnist", "sample")

_APT_HINT = (
    "install it with `apt-get install -y dataset-fashion-mnist` (files go to "
    f"{DEFAULT_ROOT}) or pass --data FOLDER holding the IDX files, or --data sample for the "
    "200 bundled images"
)


def _import_object(spec: str) -> tuple[Any, str]:
    target, _, attr = spec.rpartition(":")
    if not target or not attr:
        raise AuditInputError(
            f"unknown model {spec!r}: not a zoo model ({', '.join(zoo.available())}) and not "
            "of the form path/to/file.py:ClassName or package.module:ClassName."
        )
    if target.endswith(".py") or os.sep in target or "/" in target:
        path = Path(target)
        if not path.is_file():
            raise AuditInputError(f"model file {target!r} does not exist.")
        name = f"_captum_rank_user_{abs(hash(str(path.resolve())))}"
        module_spec = importlib.util.spec_from_file_location(name, path)
        if module_spec is None or module_spec.loader is None:
            raise AuditInputError(f"cannot import {target!r} as a Python module.")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        try:
            module_spec.loader.exec_module(module)
        except Exception as err:
            del sys.modules[name]
            raise AuditInputError(
                f"importing {target!r} failed: {type(err).__name__}: {err}"
            ) from err
    else:
        try:
            module = importlib.import_module(target)
        except ImportError as err:
            raise AuditInputError(f"cannot import module {target!r}: {err}") from err
    try:
        obj = module
        for part in attr.split("."):
            obj = getattr(obj, part)
    except AttributeError:
        raise AuditInputError(f"{target!r} has no attribute {attr!r}.") from None
    return obj, attr.split(".")[-1]


def load_model(
    spec: str, weights: str | os.PathLike[str] | None = None
) -> tuple[str, nn.Module]:
    r"""A model from a zoo name or user code, in eval mode.

    Args:
        spec: a zoo name (``fmnist-natural``, ``fmnist-robust``), ``file.py:Name`` or
            ``module:Name``.
        weights: a ``state_dict`` file to load into the model (for zoo models it
            replaces the shipped weights). A file holding ``{"state_dict": ...}`` works
            too.

    Returns:
        ``(name, model)``: the zoo name or ``Name``, and the module.

    Raises:
        AuditInputError: unknown name, import errors, a missing or incompatible weights
            file, or an object that is not a module.

    Examples:
        >>> name, model = load_model("fmnist-natural")  # doctest: +SKIP
        >>> load_model("no-such-model")
        Traceback (most recent call last):
        ...
        captum_rank.audit.errors.AuditInputError: unknown model 'no-such-model': ...
    """
    if spec in zoo.available():
        try:
            model = zoo.load(spec)
        except (FileNotFoundError, OSError) as err:
            raise AuditInputError(
                f"the weights of zoo model {spec!r} are not installed ({err}); reinstall the "
                "package or pass --weights."
            ) from err
        name = spec
    else:
        obj, name = _import_object(spec)
        if isinstance(obj, type) and issubclass(obj, nn.Module):
            try:
                model = obj()
            except TypeError as err:
                raise AuditInputError(
                    f"cannot build {spec!r} without arguments ({err}); point --model at a "
                    "function that returns the model instead."
                ) from err
        elif isinstance(obj, nn.Module):
            model = obj
        elif callable(obj):
            model = obj()
            if not isinstance(model, nn.Module):
                raise AuditInputError(
                    f"{spec!r} returned {type(model).__name__}, not a torch.nn.Module."
                )
        else:
            raise AuditInputError(
                f"{spec!r} is a {type(obj).__name__}; give an nn.Module class, a function "
                "returning a module, or a module instance."
            )
    if weights is not None:
        path = Path(weights)
        if not path.is_file():
            raise AuditInputError(f"weights file {str(weights)!r} does not exist.")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:
            raise AuditInputError(f"cannot read weights {str(weights)!r}: {err}") from err
        if isinstance(state, dict) and "state_dict" in state and isinstance(
            state["state_dict"], dict
        ):
            state = state["state_dict"]
        if not isinstance(state, dict):
            raise AuditInputError(
                f"weights {str(weights)!r} hold a {type(state).__name__}, not a state_dict."
            )
        try:
            model.load_state_dict(state)
        except RuntimeError as err:
            first = str(err).strip().splitlines()
            raise AuditInputError(
                f"weights {str(weights)!r} do not fit {name}: {' '.join(first[:3])}"
            ) from err
    model.eval()
    return name, model


def load_data(
    spec: str, split: str = "test", limit: int | None = None
) -> tuple[tuple[Tensor, Tensor], str]:
    r"""Images and labels for ``--data``.

    Args:
        spec: ``"fashion-mnist"`` (from :data:`captum_rank.data.DEFAULT_ROOT`),
            ``"sample"`` (200 bundled test images; ``split`` is ignored) or a folder with
            the Fashion-MNIST IDX files.
        split: ``"test"`` or ``"train"``.
        limit: keep the first ``limit`` images.

    Returns:
        ``((images, labels), description)``.

    Raises:
        AuditInputError: unknown split, a missing folder or files (the message says
            ``apt-get install -y dataset-fashion-mnist``), or a corrupt file.

    Examples:
        >>> (x, y), what = load_data("sample", limit=10)
        >>> tuple(x.shape), what
        ((10, 1, 28, 28), 'bundled sample (10 of 200 Fashion-MNIST test images)')
    """
    if split not in SPLITS:
        raise AuditInputError(f"unknown split {split!r}; choose one of {sorted(SPLITS)}.")
    if limit is not None and limit < 1:
        raise AuditInputError(f"--limit must be a positive integer, got {limit}.")
    if spec == "sample":
        x, y = load_sample()
        n = x.shape[0] if limit is None else min(limit, x.shape[0])
        return (x[:n], y[:n]), f"bundled sample ({n} of {x.shape[0]} Fashion-MNIST test images)"
    root = DEFAULT_ROOT if spec == "fashion-mnist" else spec
    if not Path(root).is_dir():
        what = "Fashion-MNIST is not installed" if spec == "fashion-mnist" else (
            f"data folder {spec!r} does not exist")
        raise AuditInputError(f"{what} ({root} missing): {_APT_HINT}.")
    try:
        x, y = load_fashion_mnist(split, root=root)
    except FileNotFoundError as err:
        raise AuditInputError(
            f"no Fashion-MNIST {split} files in {root}: {_APT_HINT}."
        ) from err
    except ValueError as err:
        raise AuditInputError(f"cannot read the data in {root}: {err}") from err
    total = x.shape[0]
    if limit is not None:
        x, y = x[:limit], y[:limit]
    return (x, y), f"Fashion-MNIST {split} split from {root} ({x.shape[0]} of {total} images)"


def load_images(
    paths: Sequence[str | os.PathLike[str]], size: tuple[int, int] = (28, 28), channels: int = 1
) -> Tensor:
    r"""Read image files into a batch in ``[0, 1]``, resized with PIL.

    Args:
        paths: PNG, JPEG or any format PIL reads.
        size: ``(H, W)`` after resizing (bilinear, with PIL). Default: 28 x 28, the
            zoo models' input.
        channels: 1 (grey, PIL mode ``L``) or 3 (RGB).

    Returns:
        ``(N, channels, H, W)`` float32.

    Raises:
        AuditInputError: a missing or unreadable file, or bad ``size``/``channels``.

    Examples:
        >>> import os, tempfile
        >>> from PIL import Image
        >>> path = os.path.join(tempfile.mkdtemp(), "x.png")
        >>> Image.new("RGB", (64, 48), (255, 255, 255)).save(path)
        >>> batch = load_images([path])
        >>> tuple(batch.shape), float(batch.max())
        ((1, 1, 28, 28), 1.0)
    """
    from PIL import Image, UnidentifiedImageError

    if channels not in (1, 3):
        raise AuditInputError(f"channels must be 1 (grey) or 3 (RGB), got {channels}.")
    if len(size) != 2 or min(size) < 1:
        raise AuditInputError(f"size must be two positive integers (H, W), got {size}.")
    if not paths:
        raise AuditInputError("no image files given.")
    batch = []
    for path in paths:
        try:
            with Image.open(path) as image:
                converted = image.convert("L" if channels == 1 else "RGB")
                resized = converted.resize((size[1], size[0]), Image.Resampling.BILINEAR)
                array = np.asarray(resized, dtype=np.float32) / 255.0
        except FileNotFoundError:
            raise AuditInputError(f"image {os.fspath(path)!r} does not exist.") from None
        except (UnidentifiedImageError, OSError, ValueError) as err:
            raise AuditInputError(
                f"cannot read image {os.fspath(path)!r}: {type(err).__name__}: {err}"
            ) from None
        tensor = torch.from_numpy(array.copy())
        batch.append(tensor.unsqueeze(0) if channels == 1 else tensor.permute(2, 0, 1))
    return torch.stack(batch)
