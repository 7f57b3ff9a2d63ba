r"""Class sub-folders of images, read by ``torchvision.datasets.ImageFolder``.

This module imports torchvision (slow to import): :mod:`captum_rank.audit.loading` imports
it only when a folder with class sub-folders is read.
"""

from __future__ import annotations

import os
import warnings
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

    def make_dataset(self, directory: str | os.PathLike[str],
                     class_to_idx: dict[str, int], extensions: Any = None,
                     is_valid_file: Callable[[str], bool] | None = None,
                     allow_empty: bool = False) -> list[tuple[str, int]]:
        r"""``(path, label)`` of every image, each real file once.

        torchvision's walk follows symlinks without remembering where it has been: a
        ``loop -> ..`` link made it list one image 41 times. Here every folder is entered
        once (by its real path) and every file counted once (by its real path, the first
        class folder in sorted order keeping it); a warning says how many were left out.
        """
        seen_dirs: set[str] = set()
        seen_files: set[str] = set()
        samples: list[tuple[str, int]] = []
        repeats = 0
        root = os.path.realpath(directory)

        def inside(path: str, folder: str) -> bool:
            return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)

        for name in sorted(class_to_idx):
            top = os.path.join(directory, name)
            own = os.path.realpath(top)
            for here, dirs, files in os.walk(top, followlinks=True):
                real = os.path.realpath(here)
                if real in seen_dirs:
                    dirs[:] = []
                    continue
                seen_dirs.add(real)
                # A link up the tree (loop -> ..) or into another class folder would
                # count that folder's images again, under this class's label.
                kept = []
                for d in sorted(dirs):
                    target = os.path.realpath(os.path.join(here, d))
                    if inside(root, target) or (inside(target, root) and not inside(target, own)):
                        repeats += 1
                    else:
                        kept.append(d)
                dirs[:] = kept
                for file in sorted(files):
                    path = os.path.join(here, file)
                    if is_valid_file is not None and not is_valid_file(path):
                        continue
                    target = os.path.realpath(path)
                    if target in seen_files:
                        repeats += 1
                        continue
                    seen_files.add(target)
                    samples.append((path, class_to_idx[name]))
        if repeats:
            warnings.warn(
                f"{repeats} file(s) under {os.fspath(directory)!r} are reached twice through "
                "symbolic links (a link loop such as loop -> .., or a link to another "
                "folder's image); each image is counted once.", stacklevel=2)
        return samples

    def find_classes(self, directory: str | os.PathLike[str]) -> tuple[list[str], dict[str, int]]:
        r"""The given class folders (sorted) and their labels; ``directory`` is not listed."""
        return sorted(self._given), dict(self._given)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        image, label = super().__getitem__(index)
        return image, int(label)
