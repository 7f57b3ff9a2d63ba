r"""Class names of the zoo's models, indexed by logit.

ImageNet-1k names come from torchvision's public weights metadata
(``torchvision.models.EfficientNet_B0_Weights.IMAGENET1K_V1.meta["categories"]``, BSD-3;
reading it downloads nothing). The list is the standard ILSVRC2012 class order (synset
ids sorted), the order every ImageNet-1k classifier's logits use, with one short name per
class; ``tests/test_zoo.py`` pins well-known indices (0 tench, 1 goldfish, 281 tabby,
954 banana) and the labels in the file names of foolbox's ImageNet photos. The 1000 names
are distinct: the two that ImageNet's own short names repeat are disambiguated ("crane
bird" 134 and "crane" 517; "maillot" 638 and "maillot tank suit" 639).
"""

from __future__ import annotations

from captum_rank.data.fashion_mnist import CLASSES as FASHION_MNIST_CLASSES

__all__ = ["FASHION_MNIST_CLASSES", "imagenet_classes"]


def imagenet_classes() -> list[str]:
    r"""The 1000 ImageNet-1k class names, index i = class i.

    Returns:
        A new list of 1000 strings.

    Examples:
        >>> names = imagenet_classes()
        >>> len(names), names[0], names[281], names[954]
        (1000, 'tench', 'tabby', 'banana')
    """
    from torchvision.models import EfficientNet_B0_Weights

    categories = EfficientNet_B0_Weights.IMAGENET1K_V1.meta["categories"]
    return [str(name) for name in categories]
