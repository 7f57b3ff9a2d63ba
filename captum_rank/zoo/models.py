r"""Model architectures of the zoo.

One small LeNet-style CNN for 1x28x28 grey images serves both zoo models; the natural and
the adversarially trained model differ only in their weights, so any difference in their
attributions comes from training, not from architecture.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["FMNIST_MEAN", "FMNIST_STD", "FashionCNN"]

#: Per-pixel mean and standard deviation of the Fashion-MNIST training images on [0, 1].
FMNIST_MEAN = 0.2860
FMNIST_STD = 0.3530


class FashionCNN(nn.Module):
    r"""LeNet-style CNN for ``(N, 1, 28, 28)`` inputs in ``[0, 1]``, returning 10 logits.

    ``conv 5x5 (32) -> ReLU -> maxpool 2 -> conv 5x5 (64) -> ReLU -> maxpool 2 -> fc 128 ->
    ReLU -> fc 10``; 185 066 parameters (0.7 MB as float32). The input normalisation is the
    first operation of :meth:`forward`, so attributions, attacks and ``[0, 1]`` clamping all
    work in pixel space and nobody has to remember to normalise.

    Args:
        num_classes: number of output logits.
        normalize: subtract :data:`FMNIST_MEAN` and divide by :data:`FMNIST_STD` first.

    Examples:
        >>> model = FashionCNN()
        >>> model(torch.rand(2, 1, 28, 28)).shape
        torch.Size([2, 10])
    """

    mean: Tensor
    std: Tensor

    def __init__(self, num_classes: int = 10, normalize: bool = True) -> None:
        super().__init__()
        self.normalize = normalize
        # Non-persistent buffers: they follow .to(device) but stay out of the state_dict,
        # so the shipped weights hold learnt parameters only.
        self.register_buffer("mean", torch.tensor(FMNIST_MEAN), persistent=False)
        self.register_buffer("std", torch.tensor(FMNIST_STD), persistent=False)
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, kernel_size=5),  # 28 -> 24
            nn.ReLU(),
            nn.MaxPool2d(2),  # 24 -> 12
            nn.Conv2d(32, 64, kernel_size=5),  # 12 -> 8
            nn.ReLU(),
            nn.MaxPool2d(2),  # 8 -> 4
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(64 * 4 * 4, 128),
            nn.ReLU(),
            nn.Linear(128, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        r"""Return the logits for a batch of images.

        Args:
            x: images of shape ``(N, 1, 28, 28)`` with pixel values in ``[0, 1]``.

        Returns:
            Logits of shape ``(N, num_classes)``.
        """
        if self.normalize:
            x = (x - self.mean) / self.std
        return self.classifier(self.features(x))
