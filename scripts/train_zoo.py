r"""Train the model zoo (natural and adversarially robust Fashion-MNIST CNNs) from fixed seeds.

Usage::

    nice -n 10 python3 scripts/train_zoo.py --model natural --epochs 8 --seed 0
    nice -n 10 python3 scripts/train_zoo.py --model robust --epochs 12 --seed 0

Both models are :class:`captum_rank.zoo.models.FashionCNN`, trained on all 60 000 training
images read through :mod:`captum_rank.data` (no download), in a data order fixed by the
seed. ``natural`` uses plain cross-entropy; ``robust`` uses adversarial training (Madry et
al.) with :class:`captum.robust.PGD` in L-infinity, epsilon 0.1 on ``[0, 1]`` inputs, with a
random start, after a short natural warm-up. Both are evaluated on the full 10 000-image test
set, clean and under PGD-20 (epsilon 0.1, step size 0.01, random start, true label), and the
script writes ``<out>/weights/<name>.pt`` (float32 state_dict) and ``<out>/cards/<name>.json``.
Each card records the exact command that reproduces it; every model re-seeds at its start,
so ``--model all`` gives the same weights as the two separate runs.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import math
import shlex
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import captum
import torch
import torch.nn.functional as F
from captum.robust import PGD
from torch import Tensor, nn

try:
    import captum_rank  # noqa: F401
except ImportError:  # run from a source checkout that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from captum_rank.data import DEFAULT_ROOT, load_fashion_mnist, load_sample
from captum_rank.zoo.models import FashionCNN

# captum's FGSM warns on every step that it switched requires_grad on for the inputs;
# that is exactly what we want, and thousands of copies would drown the log.
warnings.filterwarnings("ignore", message="Input Tensor 0 did not already require gradients")

EPSILON = 0.1
EVAL_STEPS = 20
EVAL_STEP_SIZE = 0.01
DEFAULT_EPOCHS = {"natural": 8, "robust": 12}
NAMES = {"natural": "fmnist-natural", "robust": "fmnist-robust"}


def per_example_ce(logits: Tensor, target: Tensor) -> Tensor:
    r"""Per-example cross-entropy, the loss PGD ascends.

    captum's default PGD loss is ``-log(output)``, which expects probabilities; the zoo
    models return logits, so the attack needs this loss instead.

    Args:
        logits: model outputs ``(N, C)``.
        target: class indices ``(N,)``.

    Returns:
        The loss of each example, shape ``(N,)``.
    """
    return F.cross_entropy(logits, target, reduction="none")


def make_pgd(model: nn.Module) -> PGD:
    r"""Return a captum PGD attack on ``model`` with cross-entropy loss, bounded to [0, 1].

    Args:
        model: the classifier (logits out).

    Returns:
        The attack object.
    """
    return PGD(model, loss_func=per_example_ce, lower_bound=0.0, upper_bound=1.0)


def evaluate(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    batch_size: int = 500,
    attack_steps: int = 0,
) -> float:
    r"""Accuracy of ``model`` on ``(x, y)``, clean or under L-inf PGD (eps 0.1, random start).

    Args:
        model: classifier in eval mode.
        x: images in ``[0, 1]``.
        y: labels.
        batch_size: evaluation batch size.
        attack_steps: 0 for clean accuracy, otherwise the number of PGD steps (step size
            :data:`EVAL_STEP_SIZE`).

    Returns:
        The fraction of correctly classified examples.
    """
    model.eval()
    pgd = make_pgd(model)
    correct = 0
    for start in range(0, len(y), batch_size):
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        if attack_steps:
            xb = pgd.perturb(xb, EPSILON, EVAL_STEP_SIZE, attack_steps, yb, random_start=True)
        with torch.no_grad():
            correct += int((model(xb).argmax(1) == yb).sum())
    return correct / len(y)


def canonical_command(args: argparse.Namespace, kind: str) -> str:
    r"""The command line that reproduces model ``kind``, every setting spelt out.

    Args:
        args: parsed arguments.
        kind: ``"natural"`` or ``"robust"``.

    Returns:
        A shell command, run from the repository root.
    """
    argv = [
        "python3",
        "scripts/train_zoo.py",
        "--model",
        kind,
        "--epochs",
        str(epochs_for(args, kind)),
        "--seed",
        str(args.seed),
        "--threads",
        str(args.threads),
        "--batch-size",
        str(args.batch_size),
        "--lr",
        str(args.lr),
    ]
    if kind == "robust":
        argv += [
            "--train-steps",
            str(args.train_steps),
            "--warmup-epochs",
            str(args.warmup_epochs),
        ]
    if args.root != DEFAULT_ROOT:
        argv += ["--root", str(args.root)]
    return shlex.join(argv)


def epochs_for(args: argparse.Namespace, kind: str) -> int:
    r"""Number of epochs for ``kind``: ``--epochs`` if given, else the model's default.

    Args:
        args: parsed arguments.
        kind: ``"natural"`` or ``"robust"``.

    Returns:
        The epoch count.
    """
    return int(args.epochs) if args.epochs is not None else DEFAULT_EPOCHS[kind]


def train(args: argparse.Namespace, kind: str, x: Tensor, y: Tensor) -> tuple[nn.Module, float]:
    r"""Train one model from the seed.

    Args:
        args: parsed arguments.
        kind: ``"natural"`` or ``"robust"``.
        x: training images in ``[0, 1]``.
        y: training labels.

    Returns:
        ``(model, seconds)``.
    """
    # Re-seed per model so that each model depends only on (seed, its own settings).
    torch.manual_seed(args.seed)
    order_gen = torch.Generator().manual_seed(args.seed)
    model = FashionCNN()
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    epochs = epochs_for(args, kind)
    # Cosine decay to zero: a fixed, seed-free schedule that reliably settles the last
    # epochs (it helps the robust model most, whose loss is noisy under the attack).
    steps_per_epoch = math.ceil(len(y) / args.batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps_per_epoch)
    pgd = make_pgd(model)
    step_size = 2.5 * EPSILON / args.train_steps
    t0 = time.time()
    for epoch in range(epochs):
        adversarial = kind == "robust" and epoch >= args.warmup_epochs
        perm = torch.randperm(len(y), generator=order_gen)
        total_loss, correct, seen = 0.0, 0, 0
        for start in range(0, len(y), args.batch_size):
            idx = perm[start : start + args.batch_size]
            xb, yb = x[idx], y[idx]
            if adversarial:
                # There are no batch-norm or dropout layers, so the attack sees the same
                # function in train and eval mode.
                xb = pgd.perturb(
                    xb, EPSILON, step_size, args.train_steps, yb, random_start=True
                ).detach()
            opt.zero_grad(set_to_none=True)
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            loss.backward()
            opt.step()
            sched.step()
            total_loss += float(loss.detach()) * len(yb)
            correct += int((logits.argmax(1) == yb).sum())
            seen += len(yb)
        print(
            f"[{kind}] epoch {epoch + 1}/{epochs} {'PGD' if adversarial else 'clean'} "
            f"loss {total_loss / seen:.4f} train-acc {correct / seen:.4f} "
            f"elapsed {time.time() - t0:.0f}s",
            flush=True,
        )
    return model.eval(), time.time() - t0


def sha256(path: Path) -> str:
    r"""Hex SHA-256 of a file.

    Args:
        path: the file.

    Returns:
        The digest.
    """
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run(
    args: argparse.Namespace, kind: str, data: dict[str, tuple[Tensor, Tensor]]
) -> dict[str, Any]:
    r"""Train, evaluate and save one model; return its card.

    Args:
        args: parsed arguments.
        kind: ``"natural"`` or ``"robust"``.
        data: ``{"train": (x, y), "test": (x, y)}``.

    Returns:
        The card dictionary that was written.
    """
    name = NAMES[kind]
    model, train_time = train(args, kind, *data["train"])
    xt, yt = data["test"]
    t0 = time.time()
    # Re-seed so the evaluation's random starts do not depend on how training consumed RNG.
    torch.manual_seed(args.seed)
    clean = evaluate(model, xt, yt)
    robust = evaluate(model, xt, yt, attack_steps=EVAL_STEPS)
    xs, ys = load_sample()
    sample_clean = evaluate(model, xs, ys)
    eval_time = time.time() - t0

    out = Path(args.out)
    (out / "weights").mkdir(parents=True, exist_ok=True)
    (out / "cards").mkdir(parents=True, exist_ok=True)
    weights = out / "weights" / f"{name}.pt"
    state = {k: v.detach().to(torch.float32).contiguous() for k, v in model.state_dict().items()}
    torch.save(state, weights)
    n_test = len(yt)
    card: dict[str, Any] = {
        "name": name,
        "architecture": "FashionCNN (captum_rank.zoo.models): conv5x5(32)-ReLU-maxpool2-"
        "conv5x5(64)-ReLU-maxpool2-fc128-ReLU-fc10, input normalisation inside the model, "
        "inputs (N,1,28,28) in [0,1]",
        "num_parameters": sum(p.numel() for p in model.parameters()),
        "dataset": "Fashion-MNIST (Debian dataset-fashion-mnist IDX files)",
        "train_images": len(data["train"][1]),
        "eval_images": n_test,
        "clean_accuracy": round(clean, 4),
        "pgd_accuracy": round(robust, 4),
        "sample_accuracy": round(sample_clean, 4),
        "epsilon": EPSILON,
        "norm": "Linf",
        "pgd_steps_eval": EVAL_STEPS,
        "pgd_step_size_eval": EVAL_STEP_SIZE,
        "pgd_eval": "captum.robust.PGD, cross-entropy loss, random start, true label as "
        "target, inputs bounded to [0,1]",
        "train_attack": (
            "none (plain cross-entropy)"
            if kind == "natural"
            else f"captum.robust.PGD Linf eps {EPSILON}, {args.train_steps} steps of "
            f"{2.5 * EPSILON / args.train_steps:g} (2.5*eps/steps), random start, inputs "
            f"clamped to [0,1], after {args.warmup_epochs} clean warm-up epoch(s)"
        ),
        "epochs": epochs_for(args, kind),
        "batch_size": args.batch_size,
        "lr": args.lr,
        "lr_schedule": "cosine annealing to 0 over all steps",
        "optimizer": "Adam",
        "seed": args.seed,
        "threads": args.threads,
        "command": canonical_command(args, kind),
        "training_time_s": round(train_time, 1),
        "eval_time_s": round(eval_time, 1),
        "torch_version": torch.__version__,
        "captum_version": captum.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "weights_file": f"weights/{name}.pt",
        "weights_sha256": sha256(weights),
        # What captum_rank.zoo.input_shape / class_names / preprocess read.
        "input_shape": [1, 28, 28],
        "num_classes": 10,
        "preprocessing": {
            "channels": 1,
            "colour": "grey",
            "resize": 28,
            "crop": 28,
            "interpolation": "bilinear",
            "normalisation": "(x - 0.2860)/0.3530, inside the model; inputs are in [0, 1]",
            "function": f"captum_rank.zoo.preprocess('{name}', image)",
            "domain": "Fashion-MNIST: 28x28 grey images of one garment, shoe or bag, light "
            "object on a black background; colour photos of scenes are far from this domain",
        },
    }
    (out / "cards" / f"{name}.json").write_text(json.dumps(card, indent=2) + "\n")
    print(
        f"[{kind}] {name}: clean {clean:.4f}  PGD-{EVAL_STEPS} {robust:.4f}  "
        f"sample {sample_clean:.4f}  train {train_time:.0f}s  eval {eval_time:.0f}s  "
        f"-> {weights}",
        flush=True,
    )
    return card


def main(argv: list[str] | None = None) -> None:
    r"""Parse arguments, train the requested models and print a summary.

    Args:
        argv: command-line arguments (``None``: ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["natural", "robust", "all"], default="all")
    parser.add_argument(
        "--epochs", type=int, default=None, help="epochs (default: natural 8, robust 12)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="captum_rank/zoo")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument(
        "--train-steps", type=int, default=5, help="PGD steps per training batch (robust model)"
    )
    parser.add_argument(
        "--warmup-epochs",
        type=int,
        default=1,
        help="clean epochs before adversarial training (robust model)",
    )
    parser.add_argument("--root", default=DEFAULT_ROOT)
    parser.add_argument(
        "--limit",
        type=int,
        default=None,
        help="train on the first N images only (for timing; cards say so)",
    )
    args = parser.parse_args(argv)
    if args.threads < 1 or args.train_steps < 1 or args.batch_size < 1:
        parser.error("--threads, --train-steps and --batch-size must be >= 1")

    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    x, y = load_fashion_mnist("train", root=args.root)
    if args.limit is not None:
        x, y = x[: args.limit], y[: args.limit]
        print(f"WARNING: --limit {args.limit}: not the full training set", file=sys.stderr)
    data = {"train": (x, y), "test": load_fashion_mnist("test", root=args.root)}
    kinds = ["natural", "robust"] if args.model == "all" else [args.model]
    cards = [run(args, k, data) for k in kinds]
    print("\nsummary")
    for c in cards:
        print(
            f"  {c['name']:<15} clean {c['clean_accuracy']:.4f}  PGD-20 {c['pgd_accuracy']:.4f}"
            f"  train {c['training_time_s']:.0f}s  | {c['command']}"
        )


if __name__ == "__main__":
    main()
