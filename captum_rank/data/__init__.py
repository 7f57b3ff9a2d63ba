r"""Real data that works offline: Fashion-MNIST, a bundled sample, and colour photos."""

from captum_rank.data.fashion_mnist import (
    CLASSES,
    DEFAULT_ROOT,
    SPLITS,
    FashionMNIST,
    iter_batches,
    load_fashion_mnist,
    load_sample,
    read_idx,
)
from captum_rank.data.images import image_to_tensor, to_model_input
from captum_rank.data.photos import SOURCES as PHOTO_SOURCES
from captum_rank.data.photos import Photos, load_photos

__all__ = [
    "CLASSES",
    "DEFAULT_ROOT",
    "PHOTO_SOURCES",
    "SPLITS",
    "FashionMNIST",
    "Photos",
    "image_to_tensor",
    "iter_batches",
    "load_fashion_mnist",
    "load_photos",
    "load_sample",
    "read_idx",
    "to_model_input",
]
