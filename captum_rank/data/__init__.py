r"""Real data that works offline: Fashion-MNIST from the IDX files, and a bundled sample."""

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

__all__ = [
    "CLASSES",
    "DEFAULT_ROOT",
    "SPLITS",
    "FashionMNIST",
    "iter_batches",
    "load_fashion_mnist",
    "load_sample",
    "read_idx",
]
