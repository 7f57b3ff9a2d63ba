"""How converged is a per-segment reference for the sequential rank path on a photo?

On the sequential rank path component ``i`` of every channel enters alone in segment
``i``, and the map is ``A = sum_i c_i * gbar_i``. A reference for it puts ``q``
Gauss-Legendre gradients on every segment (``r q`` gradient rows). This prints, per
photo, the relative L2 distance ``||A_q - A_2q|| / ||A_2q||`` between successive orders
``q``, and how far the whole-path rules at ``--whole`` evaluations (the references the
convergence tables used: Gauss-Legendre and the adaptive rule on the same path) are from
the highest order. Long: ``r * sum(q)`` gradient rows per photo (224 x 224: 224 segments).

    python benchmarks/bench_rank_reference.py --photos 1 --orders 1,2,4,8,16 --threads 1

Writes ``benchmarks/results/rank-reference-<size>.json`` (after every photo) with the
command and seed.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import command
from bench_segment_errors import photo_paths
from bench_segments import distance, segment_rule

from captum_rank import RankIntegratedGradients


def table(blob: dict[str, Any]) -> str:
    """The distances of a run, one row per photo, as markdown."""
    orders = blob["orders"]
    pairs = [f"{a}->{b}" for a, b in itertools.pairwise(orders)]
    top = orders[-1]
    head = ["photo", "target", *(f"q {p}" for p in pairs),
            *(f"{k} to q={top}" for k in ("whole GL 512", "whole adaptive 512", "IG 512"))]
    rows = []
    for rec in blob["photos"]:
        whole = [rec.get(f"whole_{m}_512_to_highest") for m in ("gausslegendre", "adaptive")]
        rows.append([str(rec["photo"]), str(rec["target"]),
                     *(f"{rec['successive'][p]:.2f}" for p in pairs),
                     *(f"{v:.2f}" for v in [*whole, rec.get("ig_512_to_highest")])])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=1, help="first N labelled photos")
    parser.add_argument("--first", type=int, default=0, help="index of the first photo")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--orders", default="1,2,4,8,16")
    parser.add_argument("--whole", type=int, default=512)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--table", type=Path, default=None,
                        help="print the markdown table of a JSON this wrote, and stop")
    args = parser.parse_args()
    if args.table is not None:
        print(table(json.loads(args.table.read_text())))
        return
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    from captum_rank import zoo
    from captum_rank.data import load_photos

    model = zoo.load("imagenet-efficientnet-lite0").eval().to(args.device)
    photos = load_photos(size=args.size).labelled()
    images = photos.images[args.first:args.first + args.photos].to(args.device)
    with torch.no_grad():
        targets = model(images).argmax(1)
    orders = [int(v) for v in args.orders.split(",")]
    rig = RankIntegratedGradients(model)
    out = Path(__file__).with_name("results") / f"rank-reference-{args.size}.json"
    records: list[dict[str, Any]] = []
    started = time.time()
    for n, x, t, grad, geometry in photo_paths(model, images, targets, args.batch):
        exact = rig.exact_ranks(x, target=t, internal_batch_size=args.batch)
        exact = exact.reshape(-1).double().cpu()
        maps = {}
        for q in orders:
            maps[q], _, _ = segment_rule(geometry, grad, exact, int(exact.numel()), q, 0)
            print(f"{time.time() - started:6.0f}s photo {args.first + n} q={q} done",
                  flush=True)
        top = maps[orders[-1]]
        record: dict[str, Any] = {
            "photo": args.first + n, "target": t, "segments": int(exact.numel()),
            "successive": {f"{a}->{b}": distance(maps[a], maps[b])
                           for a, b in itertools.pairwise(orders)},
            "to_highest": {str(q): distance(maps[q], top) for q in orders[:-1]},
        }
        for method in ("gausslegendre", "adaptive"):
            whole = rig.attribute(x, target=t, schedule="sequential", method=method,
                                  n_steps=args.whole, internal_batch_size=args.batch)
            record[f"whole_{method}_{args.whole}_to_highest"] = distance(whole, top)
        ig = rig.attribute(x, target=t, schedule="linear", method="gausslegendre",
                           n_steps=args.whole, internal_batch_size=args.batch)
        record[f"ig_{args.whole}_to_highest"] = distance(ig, top)
        records.append(record)
        print(json.dumps(record), flush=True)
        out.write_text(json.dumps({"command": command(), "seed": 0, "threads": args.threads,
                                   "device": args.device, "orders": orders,
                                   "photos": records}, indent=1))


if __name__ == "__main__":
    main()
