r"""The model zoo: small Fashion-MNIST CNNs shipped with the package, trained here.

Two models of the same architecture (:class:`~captum_rank.zoo.models.FashionCNN`):

- ``"fmnist-natural"``: plain cross-entropy training;
- ``"fmnist-robust"``: adversarial training with L-infinity PGD (epsilon 0.1 on ``[0, 1]``).

They are the pair the paper compares: same data, same architecture, different training.
Weights and a JSON model card (accuracies on the full test set, clean and under PGD-20,
the exact command that trained it) are package data, so nothing is downloaded. See
``captum_rank/zoo/README.md`` and ``scripts/train_zoo.py``.
"""

from __future__ import annotations

import io
import json
from importlib import resources
from typing import Any

import torch
from torch import nn

from captum_rank.zoo.models import FashionCNN

__all__ = ["FashionCNN", "available", "card", "load"]

_MODELS: dict[str, type[nn.Module]] = {
    "fmnist-natural": FashionCNN,
    "fmnist-robust": FashionCNN,
}


def available() -> list[str]:
    r"""Names of the models in the zoo.

    Returns:
        The model names, sorted.

    Examples:
        >>> available()
        ['fmnist-natural', 'fmnist-robust']
    """
    return sorted(_MODELS)


def _check_name(name: str) -> str:
    if name not in _MODELS:
        raise ValueError(f"unknown zoo model name={name!r}; available: {available()}.")
    return name


def _resource(*parts: str) -> bytes:
    # importlib.resources finds package data in a source tree and in an installed wheel.
    node = resources.files("captum_rank.zoo")
    for part in parts:  # one part per call: Traversable.joinpath takes one on Python 3.10
        node = node.joinpath(part)
    return node.read_bytes()


def card(name: str) -> dict[str, Any]:
    r"""The model card of ``name``: how it was trained and how well it does.

    Args:
        name: one of :func:`available`.

    Returns:
        The card as a dict, with at least ``name``, ``architecture``, ``clean_accuracy``
        and ``pgd_accuracy`` (fractions of the 10 000 test images), ``epsilon``,
        ``pgd_steps_eval``, ``pgd_step_size_eval``, ``train_attack``, ``epochs``,
        ``batch_size``, ``lr``, ``optimizer``, ``seed``, ``command``,
        ``training_time_s``, ``torch_version``, ``captum_version`` and ``date``.

    Raises:
        ValueError: unknown ``name``.

    Examples:
        >>> c = card("fmnist-robust")
        >>> c["epsilon"], c["pgd_steps_eval"]
        (0.1, 20)
    """
    _check_name(name)
    result: dict[str, Any] = json.loads(_resource("cards", f"{name}.json").decode("utf-8"))
    return result


def load(name: str, device: str | torch.device | None = None) -> nn.Module:
    r"""Load a zoo model with its shipped weights, in eval mode.

    Args:
        name: one of :func:`available`.
        device: where to put the model (``None``: CPU).

    Returns:
        The model; it takes ``(N, 1, 28, 28)`` images in ``[0, 1]`` and returns ``(N, 10)``
        logits (normalisation is inside the model).

    Raises:
        ValueError: unknown ``name``.

    Examples:
        >>> from captum_rank.data import load_sample
        >>> model = load("fmnist-natural")
        >>> x, y = load_sample()
        >>> model(x[:4]).shape
        torch.Size([4, 10])
    """
    _check_name(name)
    model = _MODELS[name]()
    # weights_only=True: the file is read as plain tensors, never as arbitrary pickles.
    state = torch.load(
        io.BytesIO(_resource("weights", f"{name}.pt")), map_location="cpu", weights_only=True
    )
    model.load_state_dict(state)
    model.eval()
    if device is not None:
        model.to(device)
    return model
