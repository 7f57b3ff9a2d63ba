"""How close can *any* node placement bring RIG's map to its converged value?

The convergence benchmark (``bench_convergence.py``) finds the default rule 2-3x further
from its converged map than Captum IG at equal model evaluations. This script asks whether
a better placement of the evaluations could close that gap. For each image it evaluates
the gradient at ``--fine`` evenly spaced points of a path (IG's straight line, or the rank
curve of ``arc_length``), takes the fine trapezoid sum as the converged map, and then
picks ``n`` of those points in four ways, each summed with the same rule as the adaptive
rule (the mean of an interval's two end gradients times the exact path increment):

* ``even``: evenly spaced (ends included);
* ``even, linear``: evenly spaced, with the gradient interpolated *linearly* inside each
  interval and integrated exactly against the path (a second-order product rule);
* ``indicator``: bisection by the adaptive rule's per-pixel indicator
  ``||(G_{j+1} - G_j) * (gamma_{j+1} - gamma_j)||`` (what a rule can see);
* ``oracle``: bisection by each interval's *true* error against the fine sum (what no
  rule can see: a lower bound for bisection placements with this summation).

The ``oracle`` row on the rank curve is how far RIG can get from its converged map with
``n`` evaluations, however cleverly it places them; compare it with the same row on the
line and with Captum IG (``bench_convergence.py``).

    python benchmarks/bench_placement_bound.py --model fmnist-natural --images 8
    python benchmarks/bench_placement_bound.py --model fmnist-robust --images 8

Fails (never falls back to a random model) when the zoo model or the images are missing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import command, machine, markdown_table, write_section

from captum_rank import svd as rank_svd
from captum_rank import zoo
from captum_rank.schedules import ArcLengthSchedule, LinearSchedule, RankSchedule

PATHS: dict[str, tuple[str, RankSchedule]] = {
    "line": ("IG's straight line", LinearSchedule()),
    "rank": ("rank curve (`arc_length`)", ArcLengthSchedule()),
}
PLACEMENTS = ("even", "even, linear", "indicator", "oracle")


class FinePath:
    """Gradients at ``fine + 1`` evenly spaced points of one image's path, float64."""

    def __init__(self, model: nn.Module, image: Tensor, target: int, schedule: RankSchedule,
                 fine: int, batch: int) -> None:
        self.schedule = schedule
        self.U, self.S, self.Vh = (f[0] for f in rank_svd.thin_svd(image[None].double()))
        self.alphas = torch.linspace(0.0, 1.0, fine + 1, dtype=torch.float64)
        self.points = self.at(self.schedule.gates(self.alphas, self.S))
        grads = []
        for first in range(0, fine + 1, batch):
            chunk = self.points[first:first + batch].clone().requires_grad_(True)
            out = model(chunk.to(image.dtype))[:, target].sum()
            grads.append(torch.autograd.grad(out, chunk)[0].double())
        self.grads = torch.cat(grads)
        pieces = 0.5 * (self.grads[1:] + self.grads[:-1]) * (self.points[1:] - self.points[:-1])
        self.running = torch.cat([torch.zeros_like(pieces[:1]), pieces.cumsum(0)])

    def at(self, gates: Tensor) -> Tensor:
        """``(T, C, H, W)`` path points for gates ``(T, C, r)``."""
        return torch.einsum("chr,tcr,crw->tchw", self.U, self.S * gates, self.Vh)

    @property
    def converged(self) -> Tensor:
        return self.running[-1]

    def trapezoid(self, a: int, b: int) -> Tensor:
        return 0.5 * (self.grads[a] + self.grads[b]) * (self.points[b] - self.points[a])

    def linear(self, a: int, b: int, sub: int = 64) -> Tensor:
        # G linear in a on [a, b]: int G gamma' = G_a (mean - gamma_a) + G_b (gamma_b - mean)
        # with mean the path's average over the interval (gates sampled at sub midpoints).
        lo, hi = self.alphas[a], self.alphas[b]
        mids = lo + (hi - lo) * (torch.arange(sub, dtype=torch.float64) + 0.5) / sub
        mean = self.at(self.schedule.gates(mids, self.S).mean(0, keepdim=True))[0]
        return self.grads[a] * (mean - self.points[a]) + self.grads[b] * (self.points[b] - mean)

    def error(self, a: int, b: int) -> Tensor:
        return self.trapezoid(a, b) - (self.running[b] - self.running[a])

    def indicator(self, a: int, b: int) -> Tensor:
        return (self.grads[b] - self.grads[a]) * (self.points[b] - self.points[a])


def bisect(path: FinePath, n: int, score: Callable[[int, int], Tensor]) -> list[int]:
    """``n`` grid indices: both ends, then repeated bisection of the worst interval."""
    last = path.alphas.numel() - 1
    nodes = [0, last]
    while len(nodes) < n:
        scores = [float(score(a, b).norm()) if b - a > 1 else -1.0
                  for a, b in zip(nodes, nodes[1:], strict=False)]
        worst = max(range(len(scores)), key=scores.__getitem__)
        nodes.insert(worst + 1, (nodes[worst] + nodes[worst + 1]) // 2)
    return nodes


def distances(path: FinePath, n: int) -> dict[str, float]:
    """Relative L2 distance to the fine sum for each placement with ``n`` evaluations."""
    last = path.alphas.numel() - 1
    even = torch.round(torch.linspace(0, last, n)).long().tolist()
    maps = {
        "even": sum(path.trapezoid(a, b) for a, b in zip(even, even[1:], strict=False)),
        "even, linear": sum(path.linear(a, b) for a, b in zip(even, even[1:], strict=False)),
    }
    for name, score in (("indicator", path.indicator), ("oracle", path.error)):
        nodes = bisect(path, n, score)
        maps[name] = sum(path.trapezoid(a, b) for a, b in zip(nodes, nodes[1:], strict=False))
    scale = float(path.converged.norm())
    return {name: float((m - path.converged).norm()) / scale for name, m in maps.items()}


def load(model_name: str, count: int) -> tuple[nn.Module, Tensor, str]:
    model = zoo.load(model_name).eval()
    if model_name.startswith("imagenet"):
        from captum_rank.data import load_photos

        images = load_photos(size=224).images[:count]
        return model, images, f"{len(images)} photos of `load_photos(size=224)`"
    from captum_rank.data import load_sample

    images = load_sample()[0][:count]
    return model, images, f"{len(images)} bundled Fashion-MNIST test images (`load_sample()`)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="fmnist-natural")
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--budgets", default="8,16,32,64")
    parser.add_argument("--fine", type=int, default=4096, help="fine grid intervals")
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    budgets = [int(b) for b in args.budgets.split(",")]
    model, images, source = load(args.model, args.images)
    for p in model.parameters():
        p.requires_grad_(False)
    with torch.no_grad():
        targets = model(images).argmax(1).tolist()
    found: dict[tuple[str, str, int], list[float]] = {}
    for key, (_, schedule) in PATHS.items():
        for image, target in zip(images, targets, strict=True):
            path = FinePath(model, image, target, schedule, args.fine, args.batch)
            for n in budgets:
                for name, value in distances(path, n).items():
                    found.setdefault((key, name, n), []).append(value)
            print(f"{key}: image done", flush=True)
    rows = [[PATHS[key][0], name,
             *(f"{statistics.median(found[(key, name, n)]):.1e}" for n in budgets)]
            for key in PATHS for name in PLACEMENTS]
    ratio = [["oracle, rank curve / oracle, line", "",
              *(f"{statistics.median(found[('rank', 'oracle', n)]) / statistics.median(found[('line', 'oracle', n)]):.1f}x"  # noqa: E501
                for n in budgets)]]
    body = (
        f"Command: `{command()}`  \nMachine: {machine()}\n\n"
        f"Model: zoo `{args.model}`; data: {source}; target: predicted class; baseline: "
        f"zeros; converged map: the trapezoid sum over {args.fine + 1} evenly spaced "
        "gradients of the same path. Median over images of the relative L2 distance to it "
        "(columns: model evaluations).\n\n"
        + markdown_table(["path", "placement", *(str(n) for n in budgets)], rows + ratio)
    )
    write_section(f"placement-bound-{args.model}",
                  f"Best node placement against the converged map ({args.model})", body)
    print(body)


if __name__ == "__main__":
    main()
