r"""A small token-sequence classifier for the layer examples: Fashion-MNIST rows as "words".

No labelled text corpus installs offline here (see ``/work/shared/DATA.md``), so the text
example reads each 28x28 Fashion-MNIST image as a *sentence of 28 tokens*: every pixel row
is replaced by the nearest of 64 codebook rows (k-means over the training rows; token 0 is
the blank row, the "padding" token). The classifier then works exactly like a small text
model: ``nn.Embedding(64, 16)`` turns the ``(N, 28)`` token ids into an ``(N, 28, 16)``
embedding matrix per example, a 1-D convolution over the sequence, max-pooling over time,
and a linear layer to the 10 classes. As in NLP, integer token ids cannot be attributed to
directly; attributions go to the embedding layer, with Captum's
``LayerIntegratedGradients`` or :class:`captum_rank.LayerRankIntegratedGradients`, and the
natural baseline is the all-padding sequence.

The weights (about 30 KB, codebook included) were trained by ``scripts/train_text.py``; the
card ``cards/fmnist-rows-text.json`` records the exact command, seed and test accuracy.
"""

from __future__ import annotations

import io
import json
from importlib import resources
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["NAME", "RowTokenClassifier", "load_text_card", "load_text_model"]

#: Name of the shipped model (weights ``weights/<NAME>.pt``, card ``cards/<NAME>.json``).
NAME = "fmnist-rows-text"


class RowTokenClassifier(nn.Module):
    r"""Token-sequence classifier: embedding, 1-D convolution, max over time, linear.

    ``tokenize`` turns ``(N, 1, 28, 28)`` images into ``(N, 28)`` token ids (each row to its
    nearest codebook row); ``forward`` takes the token ids.

    Args:
        vocab_size: number of tokens (codebook rows); token 0 is the blank row.
        embed_dim: embedding width ``D``; an example's embedding is a ``28 x D`` matrix.
        channels: convolution channels.
        num_classes: number of output logits.
        row_length: length of a codebook row (the image width).

    Examples:
        >>> model = RowTokenClassifier()
        >>> tokens = model.tokenize(torch.rand(2, 1, 28, 28))
        >>> tokens.shape, tokens.dtype
        (torch.Size([2, 28]), torch.int64)
        >>> model(tokens).shape
        torch.Size([2, 10])
    """

    codebook: Tensor

    def __init__(self, vocab_size: int = 64, embed_dim: int = 16, channels: int = 32,
                 num_classes: int = 10, row_length: int = 28) -> None:
        super().__init__()
        self.register_buffer("codebook", torch.zeros(vocab_size, row_length))
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.conv = nn.Conv1d(embed_dim, channels, kernel_size=5, padding=2)
        self.relu = nn.ReLU()
        self.classifier = nn.Linear(channels, num_classes)

    def tokenize(self, images: Tensor) -> Tensor:
        r"""Token ids of images: each pixel row becomes its nearest codebook row.

        Args:
            images: ``(N, 1, 28, 28)`` (or ``(N, 28, 28)``) in ``[0, 1]``.

        Returns:
            ``(N, 28)`` int64 token ids.
        """
        rows = images.reshape(images.shape[0], -1, self.codebook.shape[1]).float()
        distances = torch.cdist(rows, self.codebook.unsqueeze(0).expand(rows.shape[0], -1, -1))
        return distances.argmin(dim=-1)

    def forward(self, tokens: Tensor) -> Tensor:
        r"""Logits of token sequences.

        Args:
            tokens: ``(N, T)`` int64 token ids.

        Returns:
            ``(N, num_classes)`` logits.
        """
        embedded = self.embedding(tokens)  # (N, T, D): the matrix the rank path factors
        hidden = self.relu(self.conv(embedded.transpose(1, 2)))
        return self.classifier(hidden.amax(dim=-1))


def _resource(folder: str, name: str) -> bytes:
    return resources.files("captum_rank.zoo").joinpath(folder).joinpath(name).read_bytes()


def load_text_card() -> dict[str, Any]:
    r"""The model card of the shipped text model (command, seed, test accuracy).

    Returns:
        The card as a dict.

    Examples:
        >>> card = load_text_card()
        >>> card["name"], card["seed"]
        ('fmnist-rows-text', 0)
    """
    result: dict[str, Any] = json.loads(_resource("cards", f"{NAME}.json").decode("utf-8"))
    return result


def load_text_model(device: str | torch.device | None = None) -> RowTokenClassifier:
    r"""The shipped :class:`RowTokenClassifier`, with its codebook, in eval mode.

    Args:
        device: where to put the model (``None``: CPU).

    Returns:
        The model.

    Examples:
        >>> from captum_rank.data import load_sample
        >>> model = load_text_model()
        >>> images, labels = load_sample()
        >>> model(model.tokenize(images[:3])).shape
        torch.Size([3, 10])
    """
    model = RowTokenClassifier()
    state = torch.load(io.BytesIO(_resource("weights", f"{NAME}.pt")), map_location="cpu",
                       weights_only=True)
    model.load_state_dict(state)
    model.eval()
    if device is not None:
        model.to(device)
    return model
