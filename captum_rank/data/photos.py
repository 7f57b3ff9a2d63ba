r"""Real colour photos that install offline, for the ImageNet model: :func:`load_photos`.

Nothing here is bundled with captum-rank or downloaded: every photo is read from a
package that a registry installs, under that package's terms (see :data:`SOURCES`):

- ``foolbox`` (PyPI, 3.3.4): 20 ImageNet validation photos, the ImageNet class id in each
  file name (ImageNet's research-only terms: read from the installed package, never
  redistributed). These are the labelled subset.
- ``scikit-image`` (PyPI): seven photos bundled in its wheel (astronaut, chelsea, coffee,
  rocket, motorcycle, hubble_deep_field, retina).
- ``scikit-learn`` (PyPI): ``load_sample_images()`` (china, flower).
- ``matplotlib`` (PyPI): ``grace_hopper.jpg``.
- ``opencv-doc`` (Debian, Apache-2.0/BSD-3): 24 photos from OpenCV's sample data under
  ``/usr/share/doc/opencv-doc/examples/data`` (drawings, logos, renderings, text and
  near-duplicate stereo pairs left out).

The photos other than foolbox's have no ImageNet label (``-1``): they are not ImageNet
images, and labelling them by eye would be guesswork.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from captum_rank.checks import UserInputError, UserTypeError, integer, one_of
from captum_rank.data.images import to_model_input

__all__ = ["MIN_PHOTOS", "OPENCV_DATA", "OPENCV_PHOTOS", "SOURCES", "Photos", "load_photos"]

#: Where Debian's ``opencv-doc`` puts OpenCV's sample data.
OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")

#: The OpenCV sample files that are real colour photos (no drawings, logos or text).
OPENCV_PHOTOS: tuple[str, ...] = (
    "aero1.jpg", "aero3.jpg", "aloeL.jpg", "apple.jpg", "baboon.jpg", "board.jpg",
    "building.jpg", "butterfly.jpg", "chicky_512.png", "ela_original.jpg", "fruits.jpg",
    "graf1.png", "home.jpg", "left.jpg", "leuvenA.jpg", "licenseplate_motion.jpg",
    "messi5.jpg", "orange.jpg", "pca_test1.jpg", "rubberwhale1.png", "smarties.png",
    "squirrel_cls.jpg", "stuff.jpg", "sudoku.png",
)  # fmt: skip

_SKIMAGE_PHOTOS: tuple[str, ...] = (
    "astronaut", "chelsea", "coffee", "rocket", "motorcycle", "hubble_deep_field", "retina",
)  # fmt: skip

#: ``source -> (what it is and its terms, how to install it)``, in loading order.
SOURCES: dict[str, tuple[str, str]] = {
    "foolbox": (
        "20 labelled ImageNet validation photos (ImageNet terms: research use, not "
        "redistributed)",
        'pip install "foolbox==3.3.4"',
    ),
    "scikit-image": (
        "7 photos bundled in the wheel (public domain / CC0 and dataset terms)",
        'pip install "scikit-image>=0.22"',
    ),
    "scikit-learn": (
        "2 photos behind load_sample_images() (china, flower)",
        'pip install "scikit-learn>=1.3"',
    ),
    "matplotlib": ("1 photo: grace_hopper.jpg", "pip install matplotlib"),
    "opencv-doc": (
        f"24 photos from OpenCV's sample data in {OPENCV_DATA} (Apache-2.0 / BSD-3-Clause)",
        "apt-get install -y opencv-doc  (Debian/Ubuntu, as root; about 96 MB)",
    ),
}

#: load_photos() with every source gives at least this many photos.
MIN_PHOTOS = 50

_FOOLBOX_NAME = re.compile(r"imagenet_(\d+)_(\d+)\.(jpg|png)$")


@dataclass(frozen=True)
class Photos:
    r"""A set of photos as model inputs, with names, ImageNet labels and sources.

    Attributes:
        images: float32 ``(N, 3, size, size)`` in ``[0, 1]``.
        names: one short name per photo, ``"source:stem"``.
        labels: int64 ``(N,)``: the ImageNet class id, or ``-1`` where unknown.
        sources: the :data:`SOURCES` key of each photo.

    Examples:
        >>> photos = load_photos(size=64, sources=["scikit-learn"])
        >>> len(photos), photos.names
        (2, ['scikit-learn:china', 'scikit-learn:flower'])
        >>> photos.labelled().labels.numel()
        0
    """

    images: Tensor
    names: list[str]
    labels: Tensor
    sources: list[str]

    def __len__(self) -> int:
        return len(self.names)

    def subset(self, indices: Sequence[int] | Tensor) -> Photos:
        r"""The photos at ``indices``, in that order.

        Args:
            indices: positions (a sequence of ints or an integer tensor).

        Returns:
            A new :class:`Photos`.

        Raises:
            UserInputError: an index out of range.
        """
        positions = [
            integer(int(i) if isinstance(i, Tensor) else i, "indices", minimum=-len(self),
                    maximum=len(self) - 1)
            for i in (indices.tolist() if isinstance(indices, Tensor) else indices)
        ]
        index = torch.tensor(positions, dtype=torch.int64)
        return Photos(
            images=self.images[index],
            names=[self.names[i] for i in positions],
            labels=self.labels[index],
            sources=[self.sources[i] for i in positions],
        )

    def labelled(self) -> Photos:
        r"""The photos with an ImageNet label (``labels >= 0``).

        Returns:
            A new :class:`Photos` (empty when none is labelled).
        """
        return self.subset(torch.nonzero(self.labels >= 0).flatten())


def _foolbox() -> list[tuple[str, Any, int]]:
    folder = _package_dir("foolbox") / "data"
    from PIL import Image

    out = []
    for path in sorted(folder.glob("imagenet_*")):
        match = _FOOLBOX_NAME.match(path.name)
        if match:
            with Image.open(path) as image:
                out.append((f"foolbox:imagenet_{match[1]}", image.convert("RGB"), int(match[2])))
    if len(out) != 20:
        raise ModuleNotFoundError(f"foolbox's 20 ImageNet photos (found {len(out)} in {folder})")
    return out


def _skimage() -> list[tuple[str, Any, int]]:
    import skimage.data

    out = []
    for name in _SKIMAGE_PHOTOS:
        if name == "motorcycle":
            array = skimage.data.stereo_motorcycle()[0]
        else:
            array = getattr(skimage.data, name)()
        out.append((f"scikit-image:{name}", array, -1))
    return out


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(package)
    return Path(next(iter(spec.submodule_search_locations)))


def _sklearn() -> list[tuple[str, Any, int]]:
    # The files behind sklearn.datasets.load_sample_images(), read directly: importing
    # scikit-learn costs seconds and adds nothing here.
    from PIL import Image

    folder = _package_dir("sklearn") / "datasets" / "images"
    out = []
    for stem in ("china", "flower"):
        with Image.open(folder / f"{stem}.jpg") as image:
            out.append((f"scikit-learn:{stem}", image.convert("RGB"), -1))
    return out


def _matplotlib() -> list[tuple[str, Any, int]]:
    from matplotlib import cbook
    from PIL import Image

    with Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)) as image:
        return [("matplotlib:grace_hopper", image.convert("RGB"), -1)]


def _opencv() -> list[tuple[str, Any, int]]:
    from PIL import Image

    missing = [name for name in OPENCV_PHOTOS if not (OPENCV_DATA / name).is_file()]
    if missing:
        raise ModuleNotFoundError(f"{len(missing)} files in {OPENCV_DATA}, e.g. {missing[0]}")
    out = []
    for name in OPENCV_PHOTOS:
        with Image.open(OPENCV_DATA / name) as image:
            out.append((f"opencv-doc:{Path(name).stem}", image.convert("RGB"), -1))
    return out


_READERS: dict[str, Callable[[], list[tuple[str, Any, int]]]] = {
    "foolbox": _foolbox,
    "scikit-image": _skimage,
    "scikit-learn": _sklearn,
    "matplotlib": _matplotlib,
    "opencv-doc": _opencv,
}


def load_photos(size: int = 224, sources: Sequence[str] | None = None) -> Photos:
    r"""Load real colour photos from the packages that carry them, as ``(N, 3, size, size)``.

    Each photo is resized (bicubic, antialiased) so that its short side is
    ``round(size * 256 / 224)`` and centre-cropped to ``size x size``: at ``size=224``
    that is exactly :func:`captum_rank.zoo.preprocess` for ``"imagenet-efficientnet-lite0"``
    (the standard ImageNet evaluation crop).

    Args:
        size: the output side in pixels.
        sources: which of :data:`SOURCES` to read (``None``: all of them, at least
            :data:`MIN_PHOTOS` photos). Foolbox's photos come first and are the only
            labelled ones.

    Returns:
        A :class:`Photos`: with every source, 54 photos of which 20 are labelled.

    Raises:
        UserInputError: an unknown source, a bad ``size``, or a requested source that is
            not installed (the message gives the command that installs it).

    Examples:
        >>> photos = load_photos(size=32, sources=["matplotlib"])
        >>> photos.images.shape, photos.names, photos.labels.tolist()
        (torch.Size([1, 3, 32, 32]), ['matplotlib:grace_hopper'], [-1])
    """
    size = integer(size, "size", minimum=8)
    if sources is None:
        chosen = list(SOURCES)
    elif isinstance(sources, str):
        raise UserTypeError(
            f"`sources` must be a list of source names, got the string {sources!r}; "
            f"write sources=[{sources!r}]."
        )
    else:
        chosen = [one_of(source, "sources", SOURCES) for source in sources]
        if not chosen:
            raise UserInputError(
                f"`sources` is empty; name at least one of {list(SOURCES)}, or pass None."
            )
    photos: list[tuple[str, Any, int, str]] = []
    missing: list[str] = []
    for source in SOURCES:  # fixed order, whatever the order asked for
        if source not in chosen:
            continue
        try:
            photos += [(name, image, label, source) for name, image, label in _READERS[source]()]
        except (ImportError, OSError) as err:
            missing.append(f"{source} ({err}): {SOURCES[source][1]}")
    if missing:
        raise UserInputError(
            "load_photos: these photo sources are not installed: "
            + "; ".join(missing)
            + (". Install them, or pass sources= a subset of the installed ones "
               f"(all sources give at least {MIN_PHOTOS} photos).")
        )
    resize = round(size * 256 / 224)
    images = [
        to_model_input(image, size, resize=resize, channels=3, interpolation="bicubic",
                       name=name)
        for name, image, _, _ in photos
    ]
    return Photos(
        images=torch.stack(images),
        names=[name for name, _, _, _ in photos],
        labels=torch.tensor([label for _, _, label, _ in photos], dtype=torch.int64),
        sources=[source for _, _, _, source in photos],
    )
