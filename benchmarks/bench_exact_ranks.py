"""Exact rank attributions against RIG's quadrature: cost and per-component error.

On the rank-k curve the converged rank attribution of component i is exactly
``F(x_i) - F(x_{i-1})`` (``RankIntegratedGradients.exact_ranks``: r + 1 forward passes per
image, no gradients). This script measures, on real images of a zoo model:

* cost: forward and backward passes per image (counted by wrapping the model) and wall
  time per image (median of interleaved repeats, ``--threads`` torch threads), for the
  exact attributions, RIG ``sequential`` with Gauss-Legendre at ``--fine`` steps (the
  quadrature way to the same numbers) and RIG's default (``attribute_ranks`` with no
  options: ``arc_length``, adaptive) at ``--budget`` steps, plus ``sequential`` with
  Gauss-Legendre at the same budget;
* error of each against the exact values, per component: ``|R~_i - R_i| / |R_i|`` over
  the components that carry at least ``--floor`` of the image's ``sum_j |R_j|`` (median
  and worst over images and components), and the spectrum's relative L2 distance
  ``||R~ - R|| / ||R||`` (median and worst over images).

One matrix per example (Fashion-MNIST): every rank-curve schedule converges to the same
``R``, so the default's error is quadrature error only. Target: the predicted class;
baseline: zeros; torch seed 0.

    OMP_NUM_THREADS=1 python benchmarks/bench_exact_ranks.py --model fmnist-natural --images 8
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import interleaved_medians, markdown_table, write_section, zoo_model_and_images

from captum_rank import RankIntegratedGradients


class Counting(nn.Module):
    """Counts the rows the model is run on, and the rows whose output is differentiated."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.forward_rows = 0
        self.backward_rows = 0

    def forward(self, x: Tensor) -> Tensor:
        self.forward_rows += int(x.shape[0])
        if torch.is_grad_enabled() and x.requires_grad:
            self.backward_rows += int(x.shape[0])
        return self.model(x)


def quantiles(values: list[float]) -> tuple[float, float]:
    return statistics.median(values), max(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="fmnist-natural")
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--budget", type=int, default=16, help="the default's n_steps")
    parser.add_argument("--fine", type=int, default=512, help="Gauss-Legendre n_steps")
    parser.add_argument("--floor", type=float, default=0.01,
                        help="per-component errors over components with |R_i| >= floor * "
                             "sum |R|")
    parser.add_argument("--batch", type=int, default=512, help="internal_batch_size")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--key", default="", help="RESULTS.md section key")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model, images, source = zoo_model_and_images(args.model, args.images)
    model.eval()
    counting = Counting(model)
    rig = RankIntegratedGradients(counting)
    with torch.no_grad():
        target = model(images).argmax(1)
    n = int(images.shape[0])
    if images.shape[1] != 1:
        raise SystemExit("this benchmark compares against the default schedule, which has the "
                         "exact form on one matrix per example only (grey images)")

    runs: dict[str, tuple[str, Callable[[], Tensor]]] = {
        "exact": ("exact_ranks (r + 1 forward passes)",
                  lambda: rig.exact_ranks(images, target=target,
                                          internal_batch_size=args.batch)),
        "fine": (f"RIG sequential, Gauss-Legendre, {args.fine} steps",
                 lambda: rig.attribute_ranks(images, target=target, n_steps=args.fine,
                                             method="gausslegendre", schedule="sequential",
                                             internal_batch_size=args.batch)),
        "default": (f"RIG default (arc_length, adaptive), {args.budget} steps",
                    lambda: rig.attribute_ranks(images, target=target, n_steps=args.budget,
                                                internal_batch_size=args.batch)),
        "sequential": (f"RIG sequential, Gauss-Legendre, {args.budget} steps",
                       lambda: rig.attribute_ranks(images, target=target, n_steps=args.budget,
                                                   method="gausslegendre",
                                                   schedule="sequential",
                                                   internal_batch_size=args.batch)),
    }
    results: dict[str, Tensor] = {}
    passes: dict[str, tuple[float, float]] = {}
    for name, (_, run) in runs.items():
        counting.forward_rows = counting.backward_rows = 0
        results[name] = run().detach().double().sum(1)  # (N, r): one matrix, one channel
        passes[name] = (counting.forward_rows / n, counting.backward_rows / n)
    load_before = os.getloadavg()[0]
    seconds = interleaved_medians({name: run for name, (_, run) in runs.items()},
                                  args.repeats)
    load_after = os.getloadavg()[0]
    exact = results["exact"]
    with torch.no_grad():
        change = (model(images).gather(1, target[:, None])
                  - model(torch.zeros_like(images)).gather(1, target[:, None]))[:, 0].double()
    completeness = float((exact.sum(1) - change).abs().max() / change.abs().min())
    carrying = exact.abs() >= args.floor * exact.abs().sum(1, keepdim=True)
    rows = []
    for name, (label, _) in runs.items():
        forward, backward = passes[name]
        per_second = seconds[name] / n
        if name == "exact":
            errors = ["0 (reference)"] * 4
        else:
            relative = ((results[name] - exact).abs() / exact.abs())[carrying].tolist()
            l2 = ((results[name] - exact).norm(dim=1) / exact.norm(dim=1)).tolist()
            (c_med, c_max), (l_med, l_max) = quantiles(relative), quantiles(l2)
            errors = [f"{c_med:.1%}", f"{c_max:.1%}", f"{l_med:.1%}", f"{l_max:.1%}"]
        rows.append([label, f"{forward:g}", f"{backward:g}", f"{per_second * 1e3:.1f}",
                     f"{per_second / (seconds['exact'] / n):.1f}x", *errors])
    table = markdown_table(
        ["method", "forward passes / image", "backward passes / image",
         "ms / image", "time vs exact", "per-component error, median",
         "per-component error, worst", "spectrum rel. L2, median", "spectrum rel. L2, worst"],
        rows)
    body = (
        f"Model: zoo `{args.model}`; data: {source}; target: predicted class; baseline: zeros; "
        f"torch seed 0; {torch.get_num_threads()} thread(s); internal_batch_size "
        f"{args.batch}; times are medians of {args.repeats} interleaved repeats over all "
        f"{n} images, divided by {n}; 1-minute load average {load_before:.1f} before the "
        f"timing and {load_after:.1f} after, on {os.cpu_count()} cores (above the thread "
        "count the machine was shared and times move between runs; the pass counts do "
        "not). Per-component error: `|R~_i - R_i| / |R_i|` against "
        f"the exact `R_i = F(x_i) - F(x_(i-1))`, over the {int(carrying.sum())} components "
        f"(of {carrying.numel()}) that carry at least {args.floor:.0%} of their image's "
        f"`sum |R|`; spectrum rel. L2: `||R~ - R|| / ||R||` per image. The exact values' "
        f"completeness error `|sum R - (F(x) - F(x'))| / |F(x) - F(x')|` is at most "
        f"{completeness:.1e} (float rounding).\n\n{table}"
    )
    write_section(args.key or f"exact-ranks-{args.model}",
                  f"Exact rank attributions against the quadrature ({args.model})", body)


if __name__ == "__main__":
    main()
