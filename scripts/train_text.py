r"""Train the token-sequence classifier of the layer examples (Fashion-MNIST rows as tokens).

Usage::

    nice -n 10 python3 scripts/train_text.py --epochs 10 --seed 0 --threads 1

No labelled text corpus installs offline (see ``captum_rank/zoo/text.py``), so every
Fashion-MNIST image becomes a sentence of 28 tokens: each pixel row is replaced by the
nearest of 64 codebook rows. The codebook is k-means (scikit-learn ``MiniBatchKMeans``,
``random_state=seed``) over a seeded sample of 100 000 training rows, with token 0 fixed to
the blank row (the padding token and the attribution baseline). The model
(:class:`captum_rank.zoo.text.RowTokenClassifier`) trains with Adam and cross-entropy on all
60 000 training images, in an order fixed by the seed, and is evaluated on the 10 000 test
images. Writes ``<out>/weights/fmnist-rows-text.pt`` (float32 state_dict with the codebook)
and ``<out>/cards/fmnist-rows-text.json`` with the exact command.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.cluster import MiniBatchKMeans

try:
    import captum_rank  # noqa: F401
except ImportError:  # run from a source checkout that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from captum_rank.data import load_fashion_mnist
from captum_rank.zoo.text import NAME, RowTokenClassifier

VOCAB = 64
KMEANS_ROWS = 100_000


def codebook(images: torch.Tensor, seed: int) -> torch.Tensor:
    r"""``(VOCAB, 28)`` codebook: the blank row, then k-means centres of the non-blank rows."""
    rows = images.reshape(-1, images.shape[-1]).numpy()
    rows = rows[rows.max(axis=1) > 0.05]
    pick = np.random.default_rng(seed).choice(len(rows), size=KMEANS_ROWS, replace=False)
    kmeans = MiniBatchKMeans(n_clusters=VOCAB - 1, random_state=seed, n_init=3,
                             batch_size=4096).fit(rows[pick])
    centres = torch.from_numpy(kmeans.cluster_centers_).float().clamp(0, 1)
    return torch.cat([torch.zeros(1, images.shape[-1]), centres])


def accuracy(model: RowTokenClassifier, tokens: torch.Tensor, labels: torch.Tensor) -> float:
    r"""Top-1 accuracy on token sequences."""
    with torch.no_grad():
        correct = sum(
            int((model(tokens[i:i + 2000]).argmax(1) == labels[i:i + 2000]).sum())
            for i in range(0, len(tokens), 2000)
        )
    return correct / len(tokens)


def main(argv: list[str] | None = None) -> None:
    r"""Train, evaluate, and write the weights and the card."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.003)
    parser.add_argument("--out", type=Path, default=Path("captum_rank/zoo"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    start = time.time()

    x_train, y_train = load_fashion_mnist("train")
    x_test, y_test = load_fashion_mnist("test")
    model = RowTokenClassifier(vocab_size=VOCAB)
    model.codebook.copy_(codebook(x_train, args.seed))
    with torch.no_grad():
        t_train = torch.cat([model.tokenize(x_train[i:i + 5000])
                             for i in range(0, len(x_train), 5000)])
        t_test = model.tokenize(x_test)

    generator = torch.Generator().manual_seed(args.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps = args.epochs * ((len(t_train) + args.batch_size - 1) // args.batch_size)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(t_train), generator=generator)
        for i in range(0, len(order), args.batch_size):
            batch = order[i:i + args.batch_size]
            loss = F.cross_entropy(model(t_train[batch]), y_train[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
        model.eval()
        print(f"epoch {epoch + 1}: loss {float(loss.detach()):.3f}, "
              f"test accuracy {accuracy(model, t_test, y_test):.4f}", flush=True)

    out = args.out
    (out / "weights").mkdir(parents=True, exist_ok=True)
    (out / "cards").mkdir(parents=True, exist_ok=True)
    weights = out / "weights" / f"{NAME}.pt"
    torch.save({k: v.detach().clone() for k, v in model.state_dict().items()}, weights)
    command = (
        f"python3 scripts/train_text.py --epochs {args.epochs} --seed {args.seed} "
        f"--threads {args.threads} --batch-size {args.batch_size} --lr {args.lr}"
    )
    card: dict[str, Any] = {
        "name": NAME,
        "architecture": "RowTokenClassifier (captum_rank.zoo.text): tokens (N, 28) -> "
                        "Embedding(64, 16) -> Conv1d(16, 32, 5) -> ReLU -> max over time -> "
                        "Linear(32, 10)",
        "num_parameters": sum(p.numel() for p in model.parameters()),
        "dataset": "Fashion-MNIST (Debian dataset-fashion-mnist IDX files), each image a "
                   "sequence of 28 row tokens from a 64-row k-means codebook (token 0 blank)",
        "train_images": len(t_train),
        "eval_images": len(t_test),
        "test_accuracy": round(accuracy(model, t_test, y_test), 4),
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "lr_schedule": "cosine annealing to 0 over all steps",
        "optimizer": "Adam",
        "seed": args.seed,
        "threads": args.threads,
        "command": command,
        "argv": shlex.join(sys.argv),
        "training_time_s": round(time.time() - start, 1),
        "torch_version": torch.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "weights_file": f"weights/{NAME}.pt",
        "weights_sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
    }
    (out / "cards" / f"{NAME}.json").write_text(json.dumps(card, indent=2) + "\n")
    print(json.dumps(card, indent=2))


if __name__ == "__main__":
    main()
