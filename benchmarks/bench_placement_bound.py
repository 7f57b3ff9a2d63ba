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
  rule can see: a lower bound for bisection placements with this summation);
* ``per-window GL`` (rank curve, one-channel images): the ``n`` evaluations shared out
  among the components' windows in proportion to their length, a Gauss-Legendre rule in
  each window, and a window that gets none borrowing its nearest neighbour's mean
  gradient (evaluated off the fine grid, at the rule's own nodes).

The ``oracle`` row on the rank curve is how far RIG can get from its converged map with
``n`` evaluations, however cleverly it places them; compare it with the same row on the
line and with Captum IG (``bench_convergence.py``).

    python benchmarks/bench_placement_bound.py --model fmnist-natural --images 8
    python benchmarks/bench_placement_bound.py --model fmnist-robust --images 8

Fails (never falls back to a random model) when the zoo model or the images are missing.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import command, machine, markdown_table, write_section, zoo_model_and_images

from captum_rank import svd as rank_svd
from captum_rank.schedules import ArcLengthSchedule, LinearSchedule, RankSchedule

PATHS: dict[str, tuple[str, RankSchedule]] = {
    "line": ("IG's straight line", LinearSchedule()),
    "rank": ("rank curve (`arc_length`)", ArcLengthSchedule()),
}
PLACEMENTS = ("even", "even, linear", "indicator", "oracle", "per-window GL")


class FinePath:
    """Gradients at ``fine + 1`` evenly spaced points of one image's path, float64."""

    def __init__(self, model: nn.Module, image: Tensor, target: int, schedule: RankSchedule,
                 fine: int, batch: int) -> None:
        self.schedule = schedule
        self.model, self.target, self.dtype = model, target, image.dtype
        self.U, self.S, self.Vh = (f[0] for f in rank_svd.thin_svd(image[None].double()))
        self.alphas = torch.linspace(0.0, 1.0, fine + 1, dtype=torch.float64)
        self.points = self.at(self.schedule.gates(self.alphas, self.S))
        self.grads = torch.cat([self.gradients(self.points[first:first + batch])
                                for first in range(0, fine + 1, batch)])
        pieces = 0.5 * (self.grads[1:] + self.grads[:-1]) * (self.points[1:] - self.points[:-1])
        self.running = torch.cat([torch.zeros_like(pieces[:1]), pieces.cumsum(0)])

    def gradients(self, points: Tensor) -> Tensor:
        chunk = points.to(self.dtype).requires_grad_(True)
        out = self.model(chunk)[:, self.target].sum()
        return torch.autograd.grad(out, chunk)[0].double()

    def per_window_gauss(self, n: int) -> Tensor:
        """The map from ``n`` evaluations shared among the windows (one channel only)."""
        if self.S.shape[0] != 1:
            raise ValueError("per-window GL is implemented for one-channel images")
        values = self.S[0]
        ends = torch.cat([torch.zeros(1, dtype=torch.float64), values.cumsum(0) / values.sum()])
        share = (ends[1:] - ends[:-1]) * n
        counts = share.floor().long()
        for k in (share - counts).argsort(descending=True)[: n - int(counts.sum())]:
            counts[k] += 1
        means: dict[int, Tensor] = {}
        for k in torch.nonzero(counts).flatten().tolist():
            nodes, weights = np.polynomial.legendre.leggauss(int(counts[k]))
            alphas = ends[k] + (ends[k + 1] - ends[k]) * torch.from_numpy((nodes + 1) / 2)
            grads = self.gradients(self.at(self.schedule.gates(alphas, self.S)))
            means[k] = (torch.from_numpy(weights / 2)[:, None, None, None] * grads).sum(0)
        result = torch.zeros_like(self.converged)
        for k in range(values.numel()):
            nearest = min(means, key=lambda j: abs(j - k))
            component = values[k] * torch.outer(self.U[0, :, k], self.Vh[0, k])
            result += component * means[nearest]
        return result

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
                  for a, b in itertools.pairwise(nodes)]
        worst = max(range(len(scores)), key=scores.__getitem__)
        nodes.insert(worst + 1, (nodes[worst] + nodes[worst + 1]) // 2)
    return nodes


def even_nodes(path: FinePath, n: int) -> list[int]:
    """``n`` evenly spaced grid indices, both ends included."""
    return torch.round(torch.linspace(0, path.alphas.numel() - 1, n)).long().tolist()


def distances(path: FinePath, n: int) -> dict[str, float]:
    """Relative L2 distance to the fine sum for each placement with ``n`` evaluations."""
    even = even_nodes(path, n)
    maps = {
        "even": sum(path.trapezoid(a, b) for a, b in itertools.pairwise(even)),
        "even, linear": sum(path.linear(a, b) for a, b in itertools.pairwise(even)),
    }
    for name, score in (("indicator", path.indicator), ("oracle", path.error)):
        nodes = bisect(path, n, score)
        maps[name] = sum(path.trapezoid(a, b) for a, b in itertools.pairwise(nodes))
    if path.S.shape[0] == 1 and not isinstance(path.schedule, LinearSchedule):
        maps["per-window GL"] = path.per_window_gauss(n)
    scale = float(path.converged.norm())
    return {name: float((m - path.converged).norm()) / scale for name, m in maps.items()}


def first_interval_share(path: FinePath, n: int) -> float:
    """Share of the even placement's squared per-interval errors in its first interval."""
    squares = [float(path.error(a, b).pow(2).sum())
               for a, b in itertools.pairwise(even_nodes(path, n))]
    return squares[0] / max(sum(squares), 1e-300)


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
    model, images, source = zoo_model_and_images(args.model, args.images)
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
                found.setdefault((key, "first share", n), []).append(
                    first_interval_share(path, n))
            print(f"{key}: image done", flush=True)
    rows = [[PATHS[key][0], name,
             *(f"{statistics.median(found[(key, name, n)]):.1e}" for n in budgets)]
            for key in PATHS for name in PLACEMENTS if (key, name, budgets[0]) in found]
    ratio = [["oracle, rank curve / oracle, line", "",
              *(f"{statistics.median(found[('rank', 'oracle', n)]) / statistics.median(found[('line', 'oracle', n)]):.1f}x"  # noqa: E501
                for n in budgets)]]
    shares = [[PATHS[key][0], "even: first interval's share of the squared error",
               *(f"{statistics.median(found[(key, 'first share', n)]):.2f}" for n in budgets)]
              for key in PATHS]
    body = (
        f"Model: zoo `{args.model}`; data: {source}; target: predicted class; baseline: "
        f"zeros; converged map: the trapezoid sum over {args.fine + 1} evenly spaced "
        "gradients of the same path. Median over images of the relative L2 distance to it "
        "(columns: model evaluations).\n\n"
        + markdown_table(["path", "placement", *(str(n) for n in budgets)], rows + ratio)
        + "\n\nWhere the error sits: the share of the sum of squared per-interval errors "
        "(even placement) that falls in the interval next to the baseline.\n\n"
        + markdown_table(["path", "", *(str(n) for n in budgets)], shares)
    )
    write_section(f"placement-bound-{args.model}",
                  f"Best node placement against the converged map ({args.model})", body)
    print(f"Command: `{command()}`\nMachine: {machine()}\n\n{body}")


if __name__ == "__main__":
    main()
