"""Where a per-segment rank-path reference is wrong: the error between two orders, by segment.

On the sequential rank path the map is ``A = sum_i c_i * gbar_i`` (component ``i`` enters
alone in segment ``i``). With ``q`` Gauss-Legendre gradients per segment each piece
``c_i * gbar_i`` has its own quadrature error. This computes every piece at two orders
``--low`` and ``--high`` on photos at 224 x 224 and prints, per photo:

* how far the two maps are apart, ``||A_high - A_low|| / ||A_high||``;
* ``head K``: that distance when only the first ``K`` segments are refined to the high
  order, ``||sum_{i >= K} (piece_i^high - piece_i^low)|| / ||A_high||``: if it is small at a
  small ``K``, the error lives in the first components and a reference can spend its
  gradients there instead of on all 224 segments;
* the share of ``sum_i ||c_i||^2`` (= ``||x - x'||^2``) held by those first ``K``.

    python benchmarks/bench_segment_errors.py --photos 2 --low 8 --high 16 --threads 2

With ``--reference`` it builds the reference that follows from it instead: ladders of
Gauss-Legendre orders on the first segment (``--first-orders``) and on segments 2 to
``--head`` (``--head-orders``), ``--tail-order`` on the rest; it prints how much each
ladder's last doubling moves the map, and how far the 512-evaluation whole-path maps and
Captum IG are from the finest (``benchmarks/results/rank-reference-head-224.json``):

    python benchmarks/bench_segment_errors.py --reference --photos 2 --threads 2

With ``--rules`` it measures cheap rules shaped by the split against that reference
(``q1`` on the first segment, ``qh`` on segments 2 to ``--head``, the rest sharing ``K``
gradients or taking ``qt`` each; ``benchmarks/results/rank-rules-224.json``):

    python benchmarks/bench_segment_errors.py --rules --photos 2 --threads 2 \
        --rule-first 16,32,64 --rule-head 2,4,8 --rule-shared 32 --rule-tail 1,2

Writes ``benchmarks/results/segment-errors-224.json`` (after every photo) with the command.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import command
from bench_segments import gauss, gradient_fn

from captum_rank.bands import default_band_edges
from captum_rank.path import PathGeometry
from captum_rank.schedules import SequentialSchedule

HEADS = (1, 2, 4, 8, 16, 32, 64, 128)


def photo_paths(model: Any, images: Tensor, targets: Tensor, batch: int
                ) -> Iterator[tuple[int, Tensor, int, Any, PathGeometry]]:
    """Per photo: its index, the photo, its target, the target's gradient function and
    the sequential rank path's geometry (baseline zeros)."""
    for n in range(len(images)):
        x, t = images[n:n + 1], int(targets[n])
        yield (n, x, t, gradient_fn(model, t, batch),
               PathGeometry.build(x, torch.zeros(()), SequentialSchedule()))


def components(geometry: PathGeometry, stop: int) -> tuple[list[Tensor], list[Tensor]]:
    """``c_i = s_i u_i v_i^T`` for ``i < stop`` and the start of each segment,
    ``x' + sum_{j < i} c_j``."""
    U, S, Vh = geometry.svd()
    comps = [(U[..., :, i:i + 1] * S[..., None, i:i + 1]) @ Vh[..., i:i + 1, :]
             for i in range(stop)]
    starts = [geometry.baseline + torch.zeros_like(geometry.delta)]
    for comp in comps[:-1]:
        starts.append(starts[-1] + comp)
    return comps, starts


def segment_pieces(geometry: PathGeometry, grad: Any, q: int, segments: range
                   ) -> Iterator[Tensor]:
    """``c_i * gbar_i`` of every segment ``i`` in ``segments``, ``q`` gradients on each."""
    nodes, weights = gauss(q)
    nodes = nodes.to(geometry.delta).reshape(-1, 1, 1, 1)
    weights = weights.to(geometry.delta).reshape(-1, 1, 1, 1)
    comps, starts = components(geometry, segments.stop)
    for i in segments:
        comp = comps[i]
        g = grad(geometry.as_input(starts[i] + nodes * comp)).to(comp.dtype).reshape(
            q, *comp.shape[1:])
        yield comp[0] * (g * weights).sum(0)


def pieces(geometry: PathGeometry, grad: Any, q: int) -> Tensor:
    """``(r, ...)``: ``c_i * gbar_i`` of every segment with ``q`` gradients on each."""
    r = int(geometry.singular_values.shape[-1])
    return torch.stack(list(segment_pieces(geometry, grad, q, range(r))))


def piece_sum(geometry: PathGeometry, grad: Any, q: int, segments: range) -> Tensor:
    """``sum_{i in segments} c_i * gbar_i`` with ``q`` gradients on each of those segments."""
    return band_sums(geometry, grad, q, segments, ()).sum(0)


def band_sums(geometry: PathGeometry, grad: Any, q: int, segments: range,
              edges: tuple[int, ...]) -> Tensor:
    """``(len(edges) + 1, ...)``: ``sum c_i * gbar_i`` over the segments of ``segments`` in
    each rank band (component ``i + 1 <= edges[b]``), ``q`` gradients on each segment."""
    totals = torch.zeros((len(edges) + 1, *geometry.delta.shape[1:]),
                         dtype=geometry.delta.dtype, device=geometry.delta.device)
    for i, piece in zip(segments, segment_pieces(geometry, grad, q, segments), strict=True):
        totals[bisect.bisect_left(edges, i + 1)] += piece
    return totals


def reference(args: argparse.Namespace, model: Any, images: Tensor, targets: Tensor) -> None:
    """A reference that spends its gradients where the error is: ladders of orders on the
    first segment and on segments 2 to ``--head``, one order on the rest."""
    from captum_rank import RankIntegratedGradients

    first = [int(v) for v in args.first_orders.split(",")]
    head = [int(v) for v in args.head_orders.split(",")]
    # A run split over sessions (--first) writes one file per part.
    part = f"-from-{args.first}" if args.first else ""
    out = Path(__file__).with_name("results") / f"rank-reference-head-224{part}.json"
    rig = RankIntegratedGradients(model)
    records: list[dict[str, Any]] = []
    started = time.time()
    for n, x, t, grad, geometry in photo_paths(model, images, targets, args.batch):
        r = int(geometry.singular_values.shape[-1])
        edges = default_band_edges(r)
        ones = {q: piece_sum(geometry, grad, q, range(0, 1)) for q in first[:-1]}
        heads = {q: piece_sum(geometry, grad, q, range(1, args.head)) for q in head[:-1]}
        # The finest orders split by the default rank bands, for the band figures.
        finest_one = band_sums(geometry, grad, first[-1], range(0, 1), edges)
        finest_head = band_sums(geometry, grad, head[-1], range(1, args.head), edges)
        tail = band_sums(geometry, grad, args.tail_order, range(args.head, r), edges)
        ones[first[-1]], heads[head[-1]] = finest_one.sum(0), finest_head.sum(0)
        bands = finest_one + finest_head + tail
        best = bands.sum(0).double()
        scale = float(best.norm())
        rows = sum(first) + (args.head - 1) * sum(head) + (r - args.head) * args.tail_order
        record: dict[str, Any] = {
            "photo": args.first + n, "target": t, "segments": r, "gradient_rows": rows,
            "reference_rows": first[-1] + (args.head - 1) * head[-1]
            + (r - args.head) * args.tail_order,
            "first_segment": {f"{a}->{b}": float((ones[b] - ones[a]).double().norm()) / scale
                              for a, b in itertools.pairwise(first)},
            "segments_2_to_head": {
                f"{a}->{b}": float((heads[b] - heads[a]).double().norm()) / scale
                for a, b in itertools.pairwise(head)},
        }
        maps = {
            "whole_gausslegendre_512": rig.attribute(
                x, target=t, schedule="sequential", method="gausslegendre", n_steps=512,
                internal_batch_size=args.batch),
            "whole_adaptive_512": rig.attribute(
                x, target=t, schedule="sequential", method="adaptive", n_steps=512,
                internal_batch_size=args.batch),
            "ig_512": rig.attribute(x, target=t, schedule="linear", n_steps=512,
                                    internal_batch_size=args.batch),
        }
        record["to_reference"] = {name: float((m[0].double() - best).norm()) / scale
                                  for name, m in maps.items()}
        records.append(record)
        if args.save_maps is not None:
            # The finest map, for the rules and figures measured against it later.
            args.save_maps.mkdir(parents=True, exist_ok=True)
            torch.save({"photo": args.first + n, "target": t, "map": best.float().cpu(),
                        "band_edges": edges, "bands": bands.float().cpu()},
                       args.save_maps / f"reference-{args.first + n:02d}.pt")
        print(f"{time.time() - started:6.0f}s {json.dumps(record)}", flush=True)
        out.write_text(json.dumps({"command": command(), "seed": 0, "threads": args.threads,
                                   "device": args.device, "head": args.head,
                                   "first_orders": first, "head_orders": head,
                                   "tail_order": args.tail_order, "photos": records},
                                  indent=1))


def shared_tail(geometry: PathGeometry, grad: Any, segments: range, count: int) -> Tensor:
    """``sum_{i in segments} c_i * g(i)`` with ``count`` gradients shared by those segments:
    each at the midpoint of a segment evenly spaced in the index, ``g(i)`` interpolated
    linearly between them (the first and last held constant beyond them)."""
    comps, starts = components(geometry, segments.stop)
    picks = sorted({round(segments.start + (j + 0.5) * len(segments) / count)
                    for j in range(count)})
    picks = [min(p, segments.stop - 1) for p in picks]
    points = torch.cat([starts[p] + 0.5 * comps[p] for p in picks])
    shared = grad(geometry.as_input(points)).to(geometry.delta.dtype).reshape(
        len(picks), *geometry.delta.shape[1:])
    total = torch.zeros_like(geometry.delta[0])
    for i in segments:
        j = bisect.bisect_right(picks, i)
        if j == 0:
            g = shared[0]
        elif j == len(picks):
            g = shared[-1]
        else:
            lo, hi = picks[j - 1], picks[j]
            f = (i - lo) / (hi - lo)
            g = (1 - f) * shared[j - 1] + f * shared[j]
        total += comps[i][0] * g
    return total


def rules(args: argparse.Namespace, model: Any, images: Tensor, targets: Tensor) -> None:
    """Cheap rules against the head-weighted reference: ``q1`` gradients on the first
    segment, ``qh`` on each of segments 2 to ``--head``, and on the rest either ``K``
    gradients shared by all of them or ``qt`` on each."""
    first = [int(v) for v in args.rule_first.split(",")]
    head = [int(v) for v in args.rule_head.split(",")]
    shared = [int(v) for v in args.rule_shared.split(",") if v]
    each = [int(v) for v in args.rule_tail.split(",") if v]
    part = f"-from-{args.first}" if args.first else ""
    out = Path(__file__).with_name("results") / f"rank-rules-224{part}.json"
    records: list[dict[str, Any]] = []
    started = time.time()
    for n, _, t, grad, geometry in photo_paths(model, images, targets, args.batch):
        r = int(geometry.singular_values.shape[-1])
        reference_map = (piece_sum(geometry, grad, 512, range(0, 1))
                         + piece_sum(geometry, grad, 64, range(1, args.head))
                         + piece_sum(geometry, grad, 16, range(args.head, r))).double()
        scale = float(reference_map.norm())
        ones = {q: piece_sum(geometry, grad, q, range(0, 1)) for q in first}
        heads = {q: piece_sum(geometry, grad, q, range(1, args.head)) for q in head}
        tails = {("shared", k): (shared_tail(geometry, grad, range(args.head, r), k), k)
                 for k in shared}
        tails.update({("each", q): (piece_sum(geometry, grad, q, range(args.head, r)),
                                    q * (r - args.head)) for q in each})
        found = []
        for q1, qh, (kind, k) in itertools.product(first, head, tails):
            tail, tail_rows = tails[(kind, k)]
            rule = (ones[q1] + heads[qh] + tail).double()
            found.append({"first": q1, "head": qh, "tail": kind, "tail_steps": k,
                          "rows": q1 + (args.head - 1) * qh + tail_rows,
                          "distance": float((rule - reference_map).norm()) / scale})
        record = {"photo": args.first + n, "target": t, "rules": found}
        records.append(record)
        best = min((f for f in found if f["distance"] <= 0.1), key=lambda f: f["rows"],
                   default=None)
        print(f"{time.time() - started:6.0f}s photo {args.first + n}: cheapest within 0.1: "
              f"{best}", flush=True)
        out.write_text(json.dumps({"command": command(), "seed": 0, "threads": args.threads,
                                   "device": args.device, "head": args.head,
                                   "reference": "512 / 64 / 16 per segment",
                                   "photos": records}, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=2, help="N labelled photos")
    parser.add_argument("--first", type=int, default=0,
                        help="index of the first photo (to split a long run over sessions)")
    parser.add_argument("--low", type=int, default=8)
    parser.add_argument("--high", type=int, default=16)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--reference", action="store_true",
                        help="build the head-weighted reference instead (orders below)")
    parser.add_argument("--first-orders", default="64,128,256,512")
    parser.add_argument("--head", type=int, default=16)
    parser.add_argument("--head-orders", default="16,32,64")
    parser.add_argument("--tail-order", type=int, default=16)
    parser.add_argument("--rules", action="store_true",
                        help="measure cheap rules against the head-weighted reference")
    parser.add_argument("--rule-first", default="8,16,32,64")
    parser.add_argument("--rule-head", default="1,2,4")
    parser.add_argument("--rule-shared", default="4,8,16,32",
                        help="gradients shared by the tail's segments (comma list)")
    parser.add_argument("--rule-tail", default="1,2",
                        help="gradients on each tail segment (comma list)")
    parser.add_argument("--save-maps", type=Path, default=None, metavar="DIR",
                        help="with --reference: save each photo's finest map there")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    from captum_rank import zoo
    from captum_rank.data import load_photos

    model = zoo.load("imagenet-efficientnet-lite0").eval().to(args.device)
    images = load_photos(size=224).labelled().images[args.first:args.first + args.photos]
    images = images.to(args.device)
    with torch.no_grad():
        targets = model(images).argmax(1)
    if args.reference:
        reference(args, model, images, targets)
        return
    if args.rules:
        rules(args, model, images, targets)
        return
    part = f"-from-{args.first}" if args.first else ""
    out = Path(__file__).with_name("results") / f"segment-errors-224{part}.json"
    records: list[dict[str, Any]] = []
    started = time.time()
    for n, _, t, grad, geometry in photo_paths(model, images, targets, args.batch):
        low, high = pieces(geometry, grad, args.low), pieces(geometry, grad, args.high)
        full = high.sum(0).double()
        scale = float(full.norm())
        diff = (high - low).double()
        tails = diff.flip(0).cumsum(0).flip(0)  # tails[K] = sum_{i >= K} diff_i
        energy = geometry.singular_values.double().pow(2).sum(-2).reshape(-1)  # per segment
        share = (energy.cumsum(0) / energy.sum()).tolist()
        r = int(diff.shape[0])
        record = {
            "photo": args.first + n, "target": t, "segments": r,
            "distance": float(diff.sum(0).norm()) / scale,
            "head": {str(k): float(tails[k].norm()) / scale if k < r else 0.0
                     for k in HEADS},
            "energy_share": {str(k): share[min(k, r) - 1] for k in HEADS},
        }
        records.append(record)
        print(f"{time.time() - started:6.0f}s {json.dumps(record)}", flush=True)
        out.write_text(json.dumps({"command": command(), "seed": 0, "threads": args.threads,
                                   "device": args.device, "low": args.low,
                                   "high": args.high, "photos": records}, indent=1))


if __name__ == "__main__":
    main()
