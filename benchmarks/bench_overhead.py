"""RIG's own bookkeeping against Captum IG's, with a model that costs almost nothing.

A linear layer (the input flattened to 10 logits) makes the model's forward and backward
nearly free, so whatever time RIG takes beyond Captum's IG is RIG's own work: path
construction, the adaptive rule's rounds, the sums. Same inputs, ``n_steps`` and target
for every method; times are medians of interleaved repeats in one process, reported as
ratios to Captum IG.

    python benchmarks/bench_overhead.py                 # CPU, one thread
    python benchmarks/bench_overhead.py --device cuda --threads 16

The ratios the issue asks for: RIG's default (adaptive rule on the arc-length path) at
most 1.5x IG, RIG with a fixed rule (``method="gausslegendre"``) at most 1.1x.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import interleaved_medians, markdown_table, write_section

from captum_rank import RankIntegratedGradients

SHAPES = {"fmnist": (1, 28, 28), "imagenet": (3, 224, 224)}
METHODS = ("ig", "rig_default", "rig_fixed", "rig_linear")


def runners(model: nn.Module, inputs: Tensor, n_steps: int,
            internal_batch_size: int | None) -> dict[str, Callable[[], object]]:
    from captum.attr import IntegratedGradients

    ig = IntegratedGradients(model)
    rig = RankIntegratedGradients(model)
    common = dict(target=0, n_steps=n_steps, internal_batch_size=internal_batch_size)
    return {
        "ig": lambda: ig.attribute(inputs, **common),
        "rig_default": lambda: rig.attribute(inputs, **common),
        "rig_fixed": lambda: rig.attribute(inputs, method="gausslegendre", **common),
        "rig_linear": lambda: rig.attribute(inputs, method="gausslegendre",
                                            schedule="linear", **common),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--examples", type=int, default=64)
    parser.add_argument("--n-steps", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    parser.add_argument("--json", type=Path,
                        default=Path(__file__).parent / "results" / "overhead.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rows, record = [], {}
    for name in args.shapes:
        shape = SHAPES[name]
        size = shape[0] * shape[1] * shape[2]
        model = nn.Sequential(nn.Flatten(), nn.Linear(size, 10)).to(args.device).eval()
        inputs = torch.rand(args.examples, *shape, device=args.device)
        # At 224x224 all 64 x 50 path points at once would hold 3.2k images; chunk them.
        batch = None if name == "fmnist" else 8 * args.examples
        times = interleaved_medians(runners(model, inputs, args.n_steps, batch), args.repeats)
        record[name] = {"seconds": times, "internal_batch_size": batch}
        rows.append([f"{args.examples} x {'x'.join(map(str, shape))}", f"{times['ig']:.4f}",
                     *(f"{times[m] / times['ig']:.2f}x" for m in METHODS[1:])])
        print(rows[-1], flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"n_steps": args.n_steps, "threads": args.threads,
                                     "device": args.device, "results": record}, indent=2))
    table = markdown_table(["inputs", "IG s", *METHODS[1:]], rows)
    write_section(f"overhead-{args.device}", f"RIG's overhead with a near-free model "
                  f"({args.device})", table + f"\n\nn_steps={args.n_steps}, target 0, "
                  "a linear layer as the model; ratios are to Captum IG's median time in "
                  "the same process. rig_default: adaptive rule on the arc-length path; "
                  "rig_fixed: gausslegendre on the arc-length path; rig_linear: "
                  "gausslegendre on the straight line.")


if __name__ == "__main__":
    main()
