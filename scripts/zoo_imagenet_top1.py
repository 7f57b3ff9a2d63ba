r"""Top-1 of the zoo's ImageNet model on the labelled photos that install offline.

Prints one row per labelled photo of :func:`captum_rank.data.load_photos` (foolbox's 20
ImageNet validation photos) with the true and predicted class names, then the top-1; the
number in the model card (``photo_top1``) is what this prints. Needs only foolbox::

    python scripts/zoo_imagenet_top1.py
"""

from __future__ import annotations

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


def main() -> int:
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
