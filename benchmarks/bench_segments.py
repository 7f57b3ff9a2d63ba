"""Rules for the sequential rank path that use its structure: evaluations to a 0.1 map.

On the sequential rank path component ``i`` enters alone in segment ``i``, the map is
``A = sum_i c_i * gbar_i`` and ``<c_i, gbar_i> = R_i`` exactly (``exact_ranks``, ``r + 1``
forward rows). Measured here, per image, against a per-segment reference (Gauss-Legendre
with ``--ref-steps`` gradients on every segment; ``--check-steps`` says how converged it
is), as relative L2 distance ``||A - A_ref|| / ||A_ref||``:

* ``segments q``: Gauss-Legendre with ``q`` gradients on every segment (``r q`` rows), as
  ``RankIntegratedGradients.attribute_bands``; ``+cal``: each component calibrated to its
  exact ``R_i`` (``r + 1`` forward rows more);
* ``head/tail``: ``q`` gradients per segment on the head (the first components carrying
  ``--head-share`` of the exact ``sum |R_i|``), ``K`` gradients shared across the tail
  (at segment midpoints placed at quantiles of the tail's ``|R_i|``, interpolated linearly
  in the component index), calibrated;
* the library's whole-path rules on the same path (``schedule="sequential"``,
  Gauss-Legendre and adaptive) and Captum IG (its own reference: ``--ig-reference`` steps).

Evaluations-to-0.1: per image the smallest count of a rule's ladder whose map is within
0.1 of its reference; forward-only rows count at their measured cost relative to a
gradient row (printed). Medians and 90th percentiles over the images.

    python benchmarks/bench_segments.py --model fmnist-natural --images 32
    python benchmarks/bench_segments.py --model fmnist-robust --images 32
    python benchmarks/bench_segments.py --model imagenet-efficientnet-lite0 --images 2 \\
        --size 56 --ref-steps 4 --check-steps 2 --ig-reference 256 --batch 32 \\
        --segment-steps 1,2 --head-steps 2,4 --tail 8,16 --ladder "" \\
        --ig-ladder 4,8,16,32,64,128

(``--ladder ""`` leaves out the whole-path rules; ``--size`` below 224 upsamples inside
the model, which takes 224 x 224 only.)

Writes ``benchmarks/results/segments-<model>[-<size>].json`` with the command and seed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from captum.attr import IntegratedGradients
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import command

from captum_rank import RankIntegratedGradients
from captum_rank.path import PathGeometry
from captum_rank.schedules import SequentialSchedule

RESULTS_DIR = Path(__file__).with_name("results")
Grad = Callable[[Tensor], Tensor]


def gradient_fn(model: nn.Module, target: int, batch: int) -> Grad:
    """Gradients of the target's output at points ``(B, ...)``, in chunks of ``batch``."""
    def grad(points: Tensor) -> Tensor:
        parts = []
        for i in range(0, len(points), batch):
            p = points[i:i + batch].detach().requires_grad_()
            (g,) = torch.autograd.grad(model(p)[:, target].sum(), p)
            parts.append(g.detach())
        return torch.cat(parts)
    return grad


def gauss(q: int) -> tuple[Tensor, Tensor]:
    nodes, weights = np.polynomial.legendre.leggauss(q)
    return torch.tensor((nodes + 1) / 2), torch.tensor(weights / 2)


def segment_rule(geometry: PathGeometry, grad: Grad, exact: Tensor, head: int, q: int,
                 tail: int) -> tuple[Tensor, Tensor, int]:
    """The map of one image ``(1, ...)``, calibrated and not, and its gradient rows.

    ``head`` components get ``q`` Gauss-Legendre gradients each; the rest share ``tail``
    gradients at segment midpoints (at quantiles of their ``|R_i|``), interpolated in the
    component index.
    """
    U, S, Vh = geometry.svd()
    r = int(S.shape[-1])
    dtype = geometry.delta.dtype
    comps = [(U[..., :, i:i + 1] * S[..., None, i:i + 1]) @ Vh[..., i:i + 1, :]
             for i in range(r)]
    starts = [geometry.baseline + torch.zeros_like(geometry.delta)]
    for c in comps[:-1]:
        starts.append(starts[-1] + c)
    nodes, weights = gauss(q)
    nodes = nodes.to(dtype=dtype, device=geometry.delta.device)
    weights = weights.to(dtype=dtype, device=geometry.delta.device)
    means: list[Tensor | None] = [None] * r
    rows = 0
    if head:
        points = torch.cat([starts[i] + nodes.reshape(-1, 1, 1, 1) * comps[i]
                            for i in range(head)])
        g = grad(geometry.as_input(points)).to(dtype).reshape(head, q, *comps[0].shape[1:])
        rows += head * q
        for i in range(head):
            means[i] = (g[i] * weights.reshape(-1, 1, 1, 1)).sum(0, keepdim=True)
    if head < r:
        weight = exact[head:].abs() + 1e-12 * exact.abs().max()
        share = (weight.cumsum(0) / weight.sum()).numpy()
        k = min(tail, r - head)
        picks = sorted({head + int(np.searchsorted(share, (j + 0.5) / k)) for j in range(k)})
        picks = [min(p, r - 1) for p in picks]
        points = torch.cat([starts[p] + 0.5 * comps[p] for p in picks])
        shared = grad(geometry.as_input(points)).to(dtype)
        rows += len(picks)
        where = np.asarray(picks, dtype=float)
        for i in range(head, r):
            j = int(np.searchsorted(where, i, side="right"))
            if j == 0:
                means[i] = shared[:1]
            elif j == len(picks):
                means[i] = shared[-1:]
            else:
                lo, hi = where[j - 1], where[j]
                f = (i - lo) / (hi - lo)
                means[i] = (1 - f) * shared[j - 1:j] + f * shared[j:j + 1]
    total = torch.zeros_like(geometry.delta)
    calibrated = torch.zeros_like(geometry.delta)
    for i in range(r):
        mean = means[i]
        assert mean is not None
        piece = comps[i] * mean
        total += piece
        norm = float((comps[i] ** 2).sum())
        if norm > 0:
            # The smallest change of the mean gradient that makes <c_i, g_i> = R_i.
            piece = piece + (float(exact[i]) - float(piece.sum())) / norm * comps[i] ** 2
        calibrated += piece
    return geometry.as_input(total), geometry.as_input(calibrated), rows


def head_size(exact: Tensor, share: float) -> int:
    magnitude = exact.abs()
    cumulative = (magnitude.cumsum(0) / magnitude.sum().clamp_min(1e-300)).numpy()
    return int(np.searchsorted(cumulative, share)) + 1


def distance(a: Tensor, ref: Tensor) -> float:
    return float((a.double() - ref.double()).norm() / ref.double().norm())


def to_threshold(ladder: list[tuple[float, float]], threshold: float) -> float:
    """The smallest cost of a ladder ``[(cost, distance)]`` within ``threshold``."""
    return min((c for c, d in ladder if d <= threshold), default=float("inf"))


def forward_cost(model: nn.Module, x: Tensor, batch: int) -> float:
    """Time of a forward row over a forward-and-backward row (median of 3)."""
    points = x.repeat(max(1, batch // len(x)), *[1] * (x.dim() - 1))[:batch]
    fwd, both = [], []
    for _ in range(3):
        t = time.perf_counter()
        with torch.no_grad():
            model(points)
        fwd.append(time.perf_counter() - t)
        p = points.clone().requires_grad_()
        t = time.perf_counter()
        model(p)[:, 0].sum().backward()
        both.append(time.perf_counter() - t)
    return statistics.median(fwd) / statistics.median(both)


def summarize(per_image: list[dict[str, Any]], threshold: float, show: bool = True) -> tuple[
        dict[str, dict[str, float]], dict[str, list[dict[str, float]]]]:
    """Evaluations-to-``threshold`` per rule (the cheapest rung of its ladder that reaches
    it, per image), and every rung on its own (one fixed setting for all images)."""
    summary: dict[str, dict[str, float]] = {}
    settings: dict[str, list[dict[str, float]]] = {}
    for name in per_image[0]["rules"]:
        values = [to_threshold([tuple(p) for p in rec["rules"][name]], threshold)
                  for rec in per_image]
        summary[name] = {"median": float(np.median(values)),
                         "p90": float(np.quantile(values, 0.9, method="higher")),
                         "reached": float(sum(np.isfinite(values)))}
        if show:
            print(f"{name:24s} evaluations to {threshold}: median {summary[name]['median']:.0f}, "
                  f"p90 {summary[name]['p90']:.0f}, reached {summary[name]['reached']:.0f}/"
                  f"{len(per_image)}")
        rungs = len(per_image[0]["rules"][name])
        settings[name] = []
        for k in range(rungs):
            costs = [float(rec["rules"][name][k][0]) for rec in per_image]
            dists = [float(rec["rules"][name][k][1]) for rec in per_image]
            settings[name].append({
                "cost_median": float(np.median(costs)), "distance_median": float(
                    np.median(dists)), "distance_p90": float(np.quantile(
                        dists, 0.9, method="higher")),
                "reached": float(sum(d <= threshold for d in dists))})
            if show:
                print(f"    setting {k}: cost {np.median(costs):6.1f}, distance median "
                      f"{np.median(dists):.3f} p90 {settings[name][-1]['distance_p90']:.3f}, "
                      f"within {threshold}: {settings[name][-1]['reached']:.0f}/{len(dists)}")
    return summary, settings


def write(args: argparse.Namespace, tag: str, data: str, ratio: float,
          per_image: list[dict[str, Any]], show: bool = False) -> Path:
    """The JSON of the images so far (after each image: partial results survive)."""
    summary, settings = summarize(per_image, args.threshold, show)
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"segments-{tag}{'-' + args.tag if args.tag else ''}.json"
    path.write_text(json.dumps({
        "command": command(), "seed": 0, "data": data, "threshold": args.threshold,
        "forward_row_cost": ratio, "ref_steps": args.ref_steps,
        "check_steps": args.check_steps, "ig_reference": args.ig_reference,
        "summary": summary, "settings": settings, "images": per_image}, indent=1,
        default=float))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="fmnist-natural")
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--size", type=int, default=224, help="photo side (ImageNet only)")
    parser.add_argument("--ref-steps", type=int, default=64)
    parser.add_argument("--check-steps", type=int, default=32)
    parser.add_argument("--ig-reference", type=int, default=512)
    parser.add_argument("--ladder", default="4,8,16,32,64,128,256,512")
    parser.add_argument("--ig-ladder", default="4,8,16,32,64,128,256")
    parser.add_argument("--segment-steps", default="1,2,4,8,16")
    parser.add_argument("--head-share", default="0.9,0.99")
    parser.add_argument("--head-steps", default="2,4,8")
    parser.add_argument("--tail", default="4,8,16")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--threshold", type=float, default=0.1)
    parser.add_argument("--summarize", default="", help="re-summarize a JSON this wrote")
    parser.add_argument("--tag", default="", help="suffix of the JSON's name")
    parser.add_argument("--device", default="cpu", help="e.g. cuda")
    args = parser.parse_args()
    if args.summarize:
        blob = json.loads(Path(args.summarize).read_text())
        blob["summary"], blob["settings"] = summarize(blob["images"], blob["threshold"])
        Path(args.summarize).write_text(json.dumps(blob, indent=1, default=float))
        return
    torch.set_num_threads(1)
    torch.manual_seed(0)
    from captum_rank import zoo

    model = zoo.load(args.model).eval()
    if args.model.startswith("imagenet"):
        from captum_rank.data import load_photos

        images = load_photos(size=args.size, sources=["foolbox"]).images[:args.images]
        data = f"first {len(images)} foolbox photos, load_photos(size={args.size})"
        if args.size != 224:
            # The model takes 224 x 224: a smaller photo (fewer segments, r = size) is
            # upsampled inside the model, so a row costs what it costs at 224.
            model = nn.Sequential(nn.Upsample(size=(224, 224), mode="bilinear",
                                              align_corners=False), model).eval()
            data += ", upsampled to 224 x 224 inside the model"
        tag = f"{args.model}-{args.size}"
    else:
        from captum_rank.data import load_sample

        images = load_sample()[0][:args.images]
        data = f"first {len(images)} bundled Fashion-MNIST test images"
        tag = args.model
    if not args.model.startswith("imagenet"):
        # The small CNNs in float64, so that rounding is far below the distances measured;
        # the photo model in float32 (0.1 needs no more, and float64 doubles its cost).
        model, images = model.double(), images.double()
    model, images = model.to(args.device), images.to(args.device)
    with torch.no_grad():
        targets = model(images).argmax(1)
    ratio = forward_cost(model, images[:1], min(args.batch, 32))
    print(f"{data}; forward row / gradient row time: {ratio:.2f}", flush=True)
    rig = RankIntegratedGradients(model)
    ig = IntegratedGradients(model)
    ladder = [int(v) for v in args.ladder.split(",") if v]
    started = time.time()
    per_image: list[dict[str, Any]] = []
    for n in range(len(images)):
        x, t = images[n:n + 1], int(targets[n])
        grad = gradient_fn(model, t, args.batch)
        geometry = PathGeometry.build(x, torch.zeros(()), SequentialSchedule())
        exact = rig.exact_ranks(x, target=t, internal_batch_size=args.batch).reshape(-1)
        exact = exact.double().cpu()
        if exact.dtype != images.dtype:
            exact = exact.to(images.dtype).double()
        r = int(exact.numel())
        fwd = (r + 1) * ratio
        ref, _, _ = segment_rule(geometry, grad, exact, r, args.ref_steps, 0)
        check, _, _ = segment_rule(geometry, grad, exact, r, args.check_steps, 0)
        record: dict[str, Any] = {"image": n, "target": t, "r": r,
                                     "reference_check": distance(check, ref), "rules": {}}
        rules: dict[str, list[tuple[float, float]]] = {}
        for q in (int(v) for v in args.segment_steps.split(",")):
            plain, cal, rows = segment_rule(geometry, grad, exact, r, q, 0)
            rules.setdefault("segments", []).append((rows, distance(plain, ref)))
            rules.setdefault("segments+cal", []).append((rows + fwd, distance(cal, ref)))
        for share in (float(v) for v in args.head_share.split(",")):
            head = min(r, head_size(exact, share))
            for q in (int(v) for v in args.head_steps.split(",")):
                for k in (int(v) for v in args.tail.split(",")):
                    plain, out, rows = segment_rule(geometry, grad, exact, head, q, k)
                    name = f"head{share:g}/tail"
                    rules.setdefault(name, []).append((rows + fwd, distance(out, ref)))
                    rules.setdefault(name + " uncal.", []).append(
                        (rows + fwd, distance(plain, ref)))
                    record.setdefault("heads", {})[f"{share:g}"] = head
        for method in ("gausslegendre", "adaptive") if args.ladder else ():
            rules[f"sequential {method}"] = [
                (m, distance(rig.attribute(x, target=t, n_steps=m, method=method,
                                           schedule="sequential",
                                           internal_batch_size=args.batch), ref))
                for m in ladder]
        ig_ref = ig.attribute(x, target=t, n_steps=args.ig_reference,
                              internal_batch_size=args.batch)
        rules["Captum IG"] = [
            (m, distance(ig.attribute(x, target=t, n_steps=m, internal_batch_size=args.batch),
                         ig_ref)) for m in (int(v) for v in args.ig_ladder.split(","))]
        record["rules"] = {k: [list(p) for p in v] for k, v in rules.items()}
        record["to_threshold"] = {k: to_threshold(v, args.threshold) for k, v in rules.items()}
        per_image.append(record)
        shown = ", ".join(f"{k} {v:.0f}" for k, v in record["to_threshold"].items())
        print(f"{time.time() - started:6.0f}s image {n} r={r} ref check "
              f"{record['reference_check']:.3f}: {shown}", flush=True)
        write(args, tag, data, ratio, per_image)
    checks = [float(rec["reference_check"]) for rec in per_image]
    print(f"reference: {args.ref_steps} per segment; {args.check_steps} per segment is a "
          f"median {np.median(checks):.3f} (max {max(checks):.3f}) from it")
    path = write(args, tag, data, ratio, per_image, show=True)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
