r"""Top-1 of the zoo's ImageNet model on the labelled photos that install offline.

Prints one row per labelled photo of :func:`captum_rank.data.load_photos` (foolbox's 20
ImageNet validation photos) with the true and predicted class names, then the top-1; the
number in the model card (``photo_top1``) is what this prints. Needs only foolbox::

    python scripts/zoo_imagenet_top1.py
    python scripts/zoo_imagenet_top1.py --compare   # also two other preprocessings
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

try:
    import captum_rank  # noqa: F401
except ImportError:  # run from a source checkout that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from captum_rank import zoo
from captum_rank.data import load_photos

NAME = "imagenet-efficientnet-lite0"


def _compare(model: torch.nn.Module, labels: torch.Tensor) -> None:
    """Top-1 with the preprocessings the card argues against, on the same photos."""
    from collections.abc import Callable
    from typing import Any

    from PIL import Image
    from torchvision import transforms

    from captum_rank.data.images import image_to_tensor, to_model_input
    from captum_rank.data.photos import _package_dir

    folder = _package_dir("foolbox") / "data"
    files = sorted(folder.glob("imagenet_*"))
    # Pixels go through the package's one input layer; only the squashing resize of the
    # first alternative is not one of its geometries.
    squash = transforms.Resize((224, 224), interpolation=transforms.InterpolationMode.BICUBIC)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)

    def direct(image: Any) -> torch.Tensor:
        return image_to_tensor(squash(image.convert("RGB")))

    def crop(image: Any) -> torch.Tensor:
        return to_model_input(image, 224, resize=256, interpolation="bicubic")

    def load(transform: Callable[[Any], torch.Tensor]) -> torch.Tensor:
        out = []
        for file in files:
            with Image.open(file) as image:
                out.append(transform(image))
        return torch.stack(out)

    with torch.no_grad():
        straight = model(load(direct)).argmax(1)
        # The bare network on ImageNet mean/std normalised inputs instead of (x*255-127)/128.
        imagenet_norm = model.net((load(crop) - mean) / std).argmax(1)  # type: ignore[operator]
    for label, predicted in (("bicubic resize straight to 224x224", straight),
                             ("ImageNet mean/std normalisation", imagenet_norm)):
        correct = int((predicted == labels).sum())
        print(f"top-1 with {label}: {correct}/{len(labels)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compare", action="store_true",
                        help="also print top-1 with two other preprocessings")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = zoo.load(NAME)
    names = zoo.class_names(NAME)
    photos = load_photos(224, sources=["foolbox"]).labelled()
    with torch.no_grad():
        probs = model(photos.images).softmax(1)
    confidence, predicted = probs.max(1)
    correct = 0
    for i, photo in enumerate(photos.names):
        truth, guess = int(photos.labels[i]), int(predicted[i])
        correct += truth == guess
        mark = "ok " if truth == guess else "MISS"
        print(f"{mark} {photo:22s} true {truth:4d} {names[truth]:24s} "
              f"predicted {guess:4d} {names[guess]:24s} p={float(confidence[i]):.3f}")
    print(f"top-1 {correct}/{len(photos)} = {correct / len(photos):.3f} ({NAME}, "
          f"torch {torch.__version__})")
    if args.compare:
        _compare(model, photos.labels)
    return 0


if __name__ == "__main__":
    sys.exit(main())
