r"""Class names of the zoo's models, indexed by logit.

The ImageNet-1k names ship with the package (``imagenet_classes.txt``), copied from
torchvision's public weights metadata
(``torchvision.models.EfficientNet_B0_Weights.IMAGENET1K_V1.meta["categories"]``,
BSD-3-Clause), so reading them needs neither torchvision nor a network; a test checks the
copy against torchvision's list. The order is the standard ILSVRC2012 class order (synset
ids sorted), the order every ImageNet-1k classifier's logits use; ``tests/test_zoo.py``
also pins well-known indices (0 tench, 1 goldfish, 281 tabby, 954 banana) and the labels
in the file names of foolbox's ImageNet photos. The 1000 names are distinct: the two that
ImageNet's own short names repeat are disambiguated ("crane bird" 134 and "crane" 517;
"maillot" 638 and "maillot tank suit" 639).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from captum_rank.data.fashion_mnist import CLASSES as FASHION_MNIST_CLASSES

__all__ = ["FASHION_MNIST_CLASSES", "imagenet_classes"]


@lru_cache(maxsize=1)
def _imagenet() -> tuple[str, ...]:
    text = resources.files("captum_rank.zoo").joinpath("imagenet_classes.txt").read_text(
        encoding="utf-8"
    )
    names = tuple(line for line in text.splitlines() if line and not line.startswith("#"))
    if len(names) != 1000:  # a damaged installation, not a user error
        raise RuntimeError(f"imagenet_classes.txt holds {len(names)} names, expected 1000.")
    return names


def imagenet_classes() -> list[str]:
    r"""The 1000 ImageNet-1k class names, index i = class i.

    Returns:
        A new list of 1000 strings.

    Examples:
        >>> names = imagenet_classes()
        >>> len(names), names[0], names[281], names[954]
        (1000, 'tench', 'tabby', 'banana')
    """
    return list(_imagenet())
