r"""Class sub-folders of images, read by ``torchvision.datasets.ImageFolder``.

This module imports torchvision (slow to import): :mod:`captum_rank.audit.loading` imports
it only when a folder with class sub-folders is read.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from torch import Tensor
from torchvision.datasets import ImageFolder

__all__ = ["ClassFolders"]


class ClassFolders(ImageFolder):
    r"""``torchvision.datasets.ImageFolder`` with the class folders and labels given.

    ImageFolder lists ``root/<class>/**/<image>`` (sorted; paths only, so memory stays
    small for any number of images) and reads one image per item with ``loader``, then
    ``transform``. Here the caller chooses which sub-folders are classes and their labels
    (a model's class indices, say) instead of ImageFolder's sorted order 0, 1, ...; a class
    folder without images is allowed.

    Args:
        root (str or PathLike): the folder holding the class sub-folders.
        class_to_idx (mapping of str to int): sub-folder name -> label.
        loader (callable): path -> image (e.g. a PIL image).
        transform (callable): image -> ``(C, H, W)`` tensor.
        suffixes (tuple of str): lower-case file name endings read as images.

    Examples:
        >>> import os, tempfile, torch
        >>> root = tempfile.mkdtemp()
        >>> for name in ("cat", "dog", "fish"):
        ...     os.mkdir(os.path.join(root, name))
        ...     open(os.path.join(root, name, "a.png"), "w").close()
        >>> data = ClassFolders(root, {"cat": 7, "dog": 3}, len,
        ...                     lambda n: torch.full((1, 2, 2), float(n)), (".png",))
        >>> data.targets, data.classes, data[1][1]
        ([7, 3], ['cat', 'dog'], 3)
    """

    def __init__(self, root: str | os.PathLike[str], class_to_idx: Mapping[str, int],
                 loader: Callable[[str], Any], transform: Callable[[Any], Tensor],
                 suffixes: tuple[str, ...]) -> None:
        self._given = {str(k): int(v) for k, v in class_to_idx.items()}
        super().__init__(root, transform=transform, loader=loader,
                         is_valid_file=lambda path: path.lower().endswith(suffixes),
                         allow_empty=True)

    def find_classes(self, directory: str | os.PathLike[str]) -> tuple[list[str], dict[str, int]]:
        r"""The given class folders (sorted) and their labels; ``directory`` is not listed."""
        return sorted(self._given), dict(self._given)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        image, label = super().__getitem__(index)
        return image, int(label)
