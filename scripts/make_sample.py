r"""Make the bundled Fashion-MNIST sample: the first 20 test images of each class.

Usage::

    python3 scripts/make_sample.py [--root /usr/share/datasets/fashion-mnist] [--per-class 20]

Writes ``captum_rank/data/sample/fashion_mnist_sample.npz`` with ``images`` (uint8,
``(200, 28, 28)``), ``labels`` (uint8) and ``indices`` (int64, positions in the test split),
sorted by class then by test index. The choice is deterministic, so re-running it gives the
same file contents.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

try:
    import captum_rank  # noqa: F401
except ImportError:  # run from a source checkout that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from captum_rank.data.fashion_mnist import DEFAULT_ROOT, load_fashion_mnist

OUT = Path(__file__).resolve().parents[1] / "captum_rank" / "data" / "sample"


def main(argv: list[str] | None = None) -> None:
    r"""Build the sample file.

    Args:
        argv: command-line arguments (``None``: ``sys.argv``).
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=DEFAULT_ROOT)
    parser.add_argument("--per-class", type=int, default=20)
    parser.add_argument("--out", type=Path, default=OUT / "fashion_mnist_sample.npz")
    args = parser.parse_args(argv)

    x, y = load_fashion_mnist("test", root=args.root)
    labels = y.numpy()
    indices = np.concatenate(
        [np.flatnonzero(labels == c)[: args.per_class] for c in range(10)]
    ).astype(np.int64)
    # Recover the exact uint8 pixels (x = uint8 / 255, so rounding is exact).
    images = (x[indices, 0].numpy() * 255.0).round().astype(np.uint8)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.out, images=images, labels=labels[indices].astype(np.uint8), indices=indices
    )
    print(f"wrote {args.out}: {len(indices)} images, {args.out.stat().st_size} bytes")


if __name__ == "__main__":
    main()
