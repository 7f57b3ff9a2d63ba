r"""Layer RIG against Captum's LayerIntegratedGradients: completeness per model evaluation.

Usage::

    nice python benchmarks/bench_layer.py --threads 1 --write

Two layers of the shipped models: the embedding of the text model
(:mod:`captum_rank.zoo.text`, ``(N, 28, 16)`` per sentence, baseline the all-padding
sentence) and the first convolution's ReLU output of ``fmnist-natural``
(``(N, 32, 24, 24)``, baseline the black image), on the first ``--examples`` images of the
bundled sample, target the true label. For each method and ``n_steps`` it prints the median
and maximum over the examples of the relative completeness error
``|sum A - (F(x) - F(x'))| / |F(x) - F(x')|`` and the model evaluations per example.
``linear`` is Layer RIG with the straight line, which equals Captum's LIG (checked here to
float tolerance on every run). ``--write`` replaces this script's section of RESULTS.md.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import torch
from captum.attr import LayerIntegratedGradients
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import markdown_table, write_section

from captum_rank import LayerRankIntegratedGradients, zoo
from captum_rank.data import load_sample
from captum_rank.zoo.text import load_text_model

SCHEDULES = ("linear", "arc_length", "sequential", "spectral")


def relative_errors(model: nn.Module, layer: nn.Module, x: Tensor, baseline: Tensor,
                    y: Tensor, schedule: str, n_steps: int, method: str) -> Tensor:
    r"""``|delta| / |F(x) - F(x')|`` per example."""
    lrig = LayerRankIntegratedGradients(model, layer)
    kwargs = {"tolerance": 0.0} if method == "adaptive" else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the adaptive rule warns about unmet tolerances
        _, delta = lrig.attribute(x, baseline, target=y, n_steps=n_steps, method=method,
                                  schedule=schedule, return_convergence_delta=True, **kwargs)
    with torch.no_grad():
        change = (model(x) - model(baseline)).gather(1, y[:, None])[:, 0]
    return (delta / change).abs()


def check_linear_is_lig(model: nn.Module, layer: nn.Module, x: Tensor, baseline: Tensor,
                        y: Tensor) -> float:
    r"""Max ``|Layer RIG(linear) - LIG|`` at 16 steps."""
    ours = LayerRankIntegratedGradients(model, layer).attribute(x, baseline, target=y,
                                                               n_steps=16, schedule="linear")
    theirs = LayerIntegratedGradients(model, layer).attribute(x, baseline, target=y, n_steps=16)
    return float((ours - theirs).abs().max())


def main(argv: list[str] | None = None) -> None:
    r"""Print (and optionally write) the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=40)
    parser.add_argument("--steps", type=int, nargs="+", default=[8, 16, 32, 64])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    images, labels = load_sample()
    pick = torch.linspace(0, len(images) - 1, args.examples).long()
    images, labels = images[pick], labels[pick]

    text = load_text_model()
    tokens = text.tokenize(images)
    cnn = zoo.load("fmnist-natural")
    cases = [
        ("text model, embedding (28 x 16)", text, text.embedding, tokens,
         torch.zeros_like(tokens)),
        ("fmnist-natural, conv1 ReLU (32 x 24 x 24)", cnn, cnn.features[1], images,
         torch.zeros_like(images)),
    ]
    rows = []
    checks = []
    for name, model, layer, x, baseline in cases:
        checks.append(f"{name}: max |Layer RIG(linear) - Captum LIG| = "
                      f"{check_linear_is_lig(model, layer, x, baseline, labels):.1e}")
        methods = [(schedule, "gausslegendre") for schedule in SCHEDULES]
        methods.append(("arc_length", "adaptive"))
        for schedule, method in methods:
            label = "linear (= Captum LIG)" if schedule == "linear" else schedule
            if method == "adaptive":
                label += ", method='adaptive'"
            cells = []
            for n_steps in args.steps:
                errors = relative_errors(model, layer, x, baseline, labels, schedule, n_steps,
                                         method)
                cells.append(f"{float(errors.median()):.4f} / {float(errors.max()):.3f}")
                print(name, label, n_steps, cells[-1], flush=True)
            rows.append([name, label, *cells])
    header = ["layer", "path", *[f"{n} steps: median / max" for n in args.steps]]
    body = (
        f"Relative completeness error |sum A - (F(x) - F(x'))| / |F(x) - F(x')| of Layer RIG "
        f"over {args.examples} sample images (the text model reads them as token sentences), "
        "true-label logit, Gauss-Legendre unless stated; each cell is median / max over "
        "the examples at that many model evaluations per example (the adaptive rule: at "
        "most that many, with tolerance 0). The machine was shared with other jobs.\n\n"
        + "\n".join(f"- {line}" for line in checks) + "\n\n"
        + markdown_table(header, rows)
    )
    if args.write:
        write_section("bench_layer", "Layer RIG: completeness per model evaluation", body)
    else:
        print(body)


if __name__ == "__main__":
    main()
