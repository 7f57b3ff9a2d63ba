"""Accuracy against model evaluations: Captum IG and RIG's schedules and rules, real models.

For every method and budget of model evaluations (one forward and backward pass of one
example at one path point counts one; the adaptive rule's outputs come from those same
passes, so it needs no extra forward pass), over the images:

* completeness error ``|sum A - (F(x) - F(x'))| / |F(x) - F(x')|``;
* relative L2 distance ``||A - A_ref|| / ||A_ref||`` to the same method's own converged
  attribution ``A_ref`` (the same method with ``--reference`` evaluations);
* Spearman rank correlation of ``|A|`` with ``|A_ref|``.

Medians with quartiles ``[q25, q75]``. Target: the predicted class; baseline: zeros.
With ``--tolerance``, also the evaluations that ``tolerance=`` spends per example against
the smallest fixed ``n_steps`` at which every example reaches the same tolerance.

    python benchmarks/bench_convergence.py --model fmnist-natural --images 32
    python benchmarks/bench_convergence.py --model fmnist-robust --images 32
    # completeness on all 200 bundled images, default against Captum IG (issue 22):
    python benchmarks/bench_convergence.py --model fmnist-natural --images 200 \
        --methods ig,default --budgets 32,64 --reference 0 --key completeness-200-fmnist-natural \
        --json benchmarks/results/completeness-200-fmnist-natural.json
    python benchmarks/bench_convergence.py --model imagenet-efficientnet-lite0 --images 20 \\
        --device cuda --chunk 20 --batch 512 --budgets 4,8,16,32,64,128,256 --reference 512 \\
        --methods ig,default,arc_length,sequential,spectral     # (benchmarks/device_checks.sh)

Fails (never falls back to a random model) when a zoo model or the images are missing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from captum.attr import IntegratedGradients
from scipy.stats import spearmanr
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import command, markdown_table, write_section, zoo_model_and_images

from captum_rank import RankIntegratedGradients
from captum_rank.schedules import ArcLengthSchedule

Attribute = Callable[[Tensor, Tensor, int], Tensor]

#: name -> (label, schedule, method); "ig" is Captum's IntegratedGradients.
METHODS: dict[str, tuple[str, object, str]] = {
    "ig": ("Captum IG (gausslegendre)", None, "gausslegendre"),
    "default": ("RIG default: arc_length, adaptive", "arc_length", "adaptive"),
    "sequential": ("RIG sequential (gausslegendre)", "sequential", "gausslegendre"),
    "numerical_rank": ("RIG numerical_rank (gausslegendre)", "numerical_rank", "gausslegendre"),
    "arc_length": ("RIG arc_length (gausslegendre)", "arc_length", "gausslegendre"),
    "arc_length_cosine": ("RIG arc_length, cosine gates (gausslegendre)",
                          ArcLengthSchedule(shape="cosine"), "gausslegendre"),
    "energy": ("RIG energy (gausslegendre)", "energy", "gausslegendre"),
    "spectral": ("RIG spectral (gausslegendre)", "spectral", "gausslegendre"),
    "sequential_adaptive": ("RIG sequential, adaptive", "sequential", "adaptive"),
    "linear_adaptive": ("RIG linear (IG's path), adaptive", "linear", "adaptive"),
}
#: The path each method walks, named by the method that computes its converged reference.
#: Methods of the same path converge to the same attribution (a path integral does not
#: depend on the speed), so one reference serves them all and costs one run.
CURVES: dict[str, str] = {"ig": "ig", "linear_adaptive": "ig", "spectral": "spectral"}
#: On one matrix per example (grey images) the rank-curve schedules (`sequential`,
#: `numerical_rank`, `arc_length`, `energy`, any gate shape, either rule) all walk the
#: rank-k curve, and share this reference.
RANK_CURVE_REFERENCE = "arc_length"
#: With several matrices per example (colour, per-channel SVDs) they do not: each schedule
#: but `sequential` times every channel by its own spectrum, so each is its own path (only
#: the gate shape and the rule leave the path alone). Methods not listed walk the path of
#: the schedule of their own name.
PER_CHANNEL_PATHS: dict[str, str] = {
    "default": "arc_length", "arc_length_cosine": "arc_length",
    "sequential_adaptive": "sequential",
}


def reference_method(name: str, one_matrix: bool) -> str:
    """The method whose converged attribution is ``name``'s reference.

    ``one_matrix``: whether each example is one matrix (``C == 1``), where every rank-curve
    schedule walks the same curve; on colour they are different paths.
    """
    if name in CURVES:
        return CURVES[name]
    if one_matrix:
        return RANK_CURVE_REFERENCE
    return PER_CHANNEL_PATHS.get(name, name)
FMNIST_METHODS = ("ig,default,sequential,numerical_rank,arc_length,arc_length_cosine,energy,"
                  "spectral,sequential_adaptive,linear_adaptive")


def runner(model: nn.Module, name: str, batch: int) -> Attribute:
    """``attribute(images, target, n_steps)`` for one method."""
    _, schedule, method = METHODS[name]
    if name == "ig":
        ig = IntegratedGradients(model)

        def run_ig(x: Tensor, target: Tensor, n: int) -> Tensor:
            return ig.attribute(x, target=target, n_steps=n, method=method,
                                internal_batch_size=batch)

        return run_ig
    rig = RankIntegratedGradients(model)

    def run_rig(x: Tensor, target: Tensor, n: int) -> Tensor:
        return rig.attribute(x, target=target, n_steps=n, method=method,
                             schedule=schedule,  # type: ignore[arg-type]
                             internal_batch_size=batch)

    return run_rig


def path_lengths(images: Tensor) -> list[float]:
    """Length of the rank path (sum of singular values, over the channels' curves) over the
    length of IG's straight line (Frobenius norm), per image, baseline zeros."""
    values = torch.linalg.svdvals(images.double())
    curve = values.sum(-1).pow(2).sum(-1).sqrt()
    line = values.pow(2).sum((-2, -1)).sqrt()
    return (curve / line).tolist()


def quartiles(values: list[float]) -> tuple[float, float, float]:
    q = statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else values * 3
    return statistics.median(values), q[0], q[-1]


def cell(values: list[float], spec: str) -> str:
    median, low, high = quartiles(values)
    return f"{median:{spec}} [{low:{spec}}, {high:{spec}}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="fmnist-natural")
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--budgets", default="4,8,16,32,64,128,256")
    parser.add_argument("--reference", type=int, default=512)
    parser.add_argument("--methods", default=FMNIST_METHODS)
    parser.add_argument("--tolerance", default="",
                        help="comma-separated relative tolerances for the tolerance= table")
    parser.add_argument("--chunk", type=int, default=32, help="images per call")
    parser.add_argument("--batch", type=int, default=2048, help="internal_batch_size")
    parser.add_argument("--json", default="", help="also write the raw numbers here")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--device", default="cpu", help="e.g. cuda (the numbers do not "
                        "depend on it; the time does)")
    parser.add_argument("--key", default="", help="RESULTS.md section key (default: per model)")
    parser.add_argument("--lengths-only", action="store_true",
                        help="print how much longer the rank path is than IG's line, and stop")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    budgets = [int(b) for b in args.budgets.split(",")]
    names = args.methods.split(",")
    model, images, source = zoo_model_and_images(args.model, args.images)
    model, images = model.to(args.device), images.to(args.device)
    one_matrix = int(images.shape[1]) == 1
    lengths = path_lengths(images)
    print(f"rank path length / straight line length over {len(images)} images: median "
          f"{cell(lengths, '.2f')}", flush=True)
    if args.lengths_only:
        return
    with torch.no_grad():
        logits = model(images)
        target = logits.argmax(1)
        change = (logits.gather(1, target[:, None])
                  - model(torch.zeros_like(images)).gather(1, target[:, None]))[:, 0]

    def attribute(run: Attribute, n: int) -> Tensor:
        parts = [run(images[i:i + args.chunk], target[i:i + args.chunk], n)
                 for i in range(0, len(images), args.chunk)]
        return torch.cat(parts).detach()

    raw: dict[str, dict[str, list[list[float]]]] = {}
    references: dict[str, Tensor] = {}
    started = time.time()
    for name in names:
        run = runner(model, name, args.batch)
        # --reference 0: completeness only (no converged reference, no L2 or Spearman).
        flat_ref = None
        if args.reference:
            curve = reference_method(name, one_matrix)
            if curve not in references:
                references[curve] = attribute(runner(model, curve, args.batch),
                                              args.reference).flatten(1).double()
            flat_ref = references[curve]
        raw[name] = {"completeness": [], "l2": [], "spearman": []}
        for n in budgets:
            attr = attribute(run, n).flatten(1).double()
            comp = ((attr.sum(1) - change.double()).abs() / change.double().abs()).tolist()
            if flat_ref is None:
                l2 = rho = [float("nan")] * len(comp)
            else:
                l2 = ((attr - flat_ref).norm(dim=1) / flat_ref.norm(dim=1)).tolist()
                rho = [float(spearmanr(a.abs().cpu().numpy(), r.abs().cpu().numpy())[0])
                       for a, r in zip(attr, flat_ref, strict=True)]
            raw[name]["completeness"].append(comp)
            raw[name]["l2"].append(l2)
            raw[name]["spearman"].append(rho)
            print(f"{time.time() - started:7.0f}s {name:22s} n={n:4d} completeness "
                  f"{cell(comp, '.2e')} l2 {cell(l2, '.2e')} spearman {cell(rho, '.4f')}",
                  flush=True)
        if name != names[-1]:  # partial results survive an interrupted run
            report(args, source, budgets, list(raw), raw, "", one_matrix)
    tolerance_table = ""
    if args.tolerance:
        tolerance_table = tolerance_savings(model, images, target, change, args, budgets, raw)
    report(args, source, budgets, names, raw, tolerance_table, one_matrix)


def report(args: argparse.Namespace, source: str, budgets: list[int], names: list[str],
           raw: dict[str, dict[str, list[list[float]]]], tolerance_table: str,
           one_matrix: bool) -> None:
    """Write the tables of the methods measured so far to RESULTS.md (and JSON)."""
    header = ["method", *(f"{n}" for n in budgets)]
    tables = []
    for key, title, spec in (
        ("completeness", "Completeness error |sum A - (F(x) - F(x'))| / |F(x) - F(x')|", ".1e"),
        ("l2", "Relative L2 distance to the method's own converged attribution", ".1e"),
        ("spearman", "Spearman correlation of |A| with the converged |A|", ".3f"),
    ):
        rows = [[METHODS[name][0], *(cell(v, spec) for v in raw[name][key])] for name in names]
        tables.append(f"**{title}** (median [q25, q75] over images; columns: model "
                      f"evaluations per example)\n\n" + markdown_table(header, rows))
    if "ig" in names and "default" in names:
        verdict = []
        for n in (32, 64):
            if n not in budgets:
                continue
            i = budgets.index(n)
            ig_c = statistics.median(raw["ig"]["completeness"][i])
            de_c = statistics.median(raw["default"]["completeness"][i])
            ig_l = statistics.median(raw["ig"]["l2"][i])
            de_l = statistics.median(raw["default"]["l2"][i])
            ig_s = statistics.median(raw["ig"]["spearman"][i])
            de_s = statistics.median(raw["default"]["spearman"][i])
            verdict.append([n, f"{ig_c:.2e}", f"{de_c:.2e}", f"{ig_l:.2e}", f"{de_l:.2e}",
                            f"{ig_s:.4f}", f"{de_s:.4f}",
                            # Without a reference (--reference 0) only completeness counts.
                            "yes" if de_c <= ig_c and not de_l > ig_l else "no"])
        tables.insert(0, "**Default against Captum IG** (medians)\n\n" + markdown_table(
            ["evaluations", "IG completeness", "default completeness", "IG L2",
             "default L2", "IG Spearman", "default Spearman", "default no worse"], verdict))
    rank_paths = (
        "`arc_length` with Gauss-Legendre for the rank-k curve of `sequential`, "
        "`numerical_rank`, `arc_length`, `energy` and the default, which all converge to it "
        "on one matrix per example"
        if one_matrix else
        "on colour with per-channel SVDs every rank schedule but `sequential` times each "
        "channel by its own spectrum, so `sequential`, `numerical_rank`, `arc_length` (with "
        "the default and cosine gates) and `energy` are four paths, each with its own "
        "reference computed with Gauss-Legendre")
    reference_text = (
        f"each path's attribution with {args.reference} evaluations, shared by the methods "
        f"that walk it (Captum IG for the straight line; {rank_paths}; `spectral` for its "
        "own path)"
        if args.reference else "none (completeness only)")
    body = (
        f"Model: zoo `{args.model}`; data: {source}; target: predicted class; baseline: "
        f"zeros; reference: {reference_text}; torch seed 0; device {args.device}; "
        f"{torch.get_num_threads()} thread(s); no times are reported.\n\n"
        + "\n\n".join(tables) + tolerance_table
    )
    write_section(args.key or f"convergence-{args.model}", f"Convergence per model evaluation "
                  f"({args.model}{', ' + args.key if args.key else ''})", body)
    if args.json:
        summary = {name: {key: [dict(zip(("median", "q25", "q75"), quartiles(v),
                                         strict=True)) for v in values]
                          for key, values in per.items()} for name, per in raw.items()}
        Path(args.json).write_text(json.dumps(
            {"command": command(), "seed": 0, "model": args.model, "data": source,
             "budgets": budgets, "summary": summary, "raw": raw}, indent=1))


def tolerance_savings(model: nn.Module, images: Tensor, target: Tensor, change: Tensor,
                      args: argparse.Namespace, budgets: list[int],
                      raw: dict[str, dict[str, list[list[float]]]]) -> str:
    """Evaluations with ``tolerance=`` against the fixed budget that reaches it everywhere."""
    rig = RankIntegratedGradients(model)
    cap = budgets[-1]
    rows = []
    for text in args.tolerance.split(","):
        tol = float(text)
        spent: list[int] = []
        reached = 0
        for i in range(0, len(images), args.chunk):
            rig.attribute(images[i:i + args.chunk], target=target[i:i + args.chunk],
                          n_steps=cap, method="adaptive", schedule="arc_length",
                          tolerance=tol, internal_batch_size=args.batch)
            convergence = rig.last_convergence
            if convergence is None:
                raise RuntimeError("tolerance= left no convergence record")
            spent += [int(v) for v in convergence.evaluations]
            reached += int(convergence.reached.sum())
        fixed = {}
        for name in ("default", "ig"):
            if name not in raw:
                continue
            fixed[name] = next(
                (n for n, errors in zip(budgets, raw[name]["completeness"], strict=True)
                 if max(errors) <= tol), None)
        mean_spent = sum(spent) / len(spent)
        rows.append([
            f"{tol:g}", f"{reached}/{len(spent)}", f"{mean_spent:.1f}", max(spent),
            fixed.get("default") or f"> {cap}", fixed.get("ig") or f"> {cap}",
            f"{fixed['default'] / mean_spent:.1f}x" if fixed.get("default") else "-",
        ])
    return (
        "\n\n**`tolerance=`** (adaptive rule, `n_steps` cap "
        f"{cap}): evaluations per example until `|delta| <= tol |F(x) - F(x')|`, against the "
        "smallest fixed budget of the table above at which every image reaches `tol`.\n\n"
        + markdown_table(["tol", "reached", "mean evaluations", "max evaluations",
                          "fixed n_steps (default rule)", "fixed n_steps (Captum IG)",
                          "saving vs fixed default"], rows)
    )


if __name__ == "__main__":
    main()
