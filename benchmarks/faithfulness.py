r"""Faithfulness of Captum IG and of RIG's schedules on the zoo models.

Usage (the command behind ``docs/faithfulness.md``)::

    OMP_NUM_THREADS=1 python benchmarks/faithfulness.py --n 500 --seed 0 --threads 1

For each zoo model and each attribution method, on ``--n`` Fashion-MNIST test images
drawn at random (``--seed``) from the full test split (or from the bundled 200-image
sample when the data set is not installed; the output says so), with the model's
predicted class as the target and a black (zero) baseline:

* **insertion AUC**: start from the baseline, insert the image's pixels in decreasing
  order of attribution, ``--perturb-steps`` equal chunks; the area under the curve of
  the target-class softmax probability against the inserted fraction. Higher is better.
* **deletion AUC**: start from the image, replace pixels by the baseline in the same
  order; area under the probability curve. Lower is better.
* **insertion - deletion**: per image, then averaged. Higher is better.
* **FaithfulnessCorrelation** (Bhatt et al., 2020) from ``quantus`` 0.6.0: the Pearson
  correlation, over ``--fc-runs`` random pixel subsets of size ``--fc-subset`` set to the
  baseline, between the subset's summed attribution and the drop in the target-class
  probability. Higher is better. If quantus cannot be imported the script computes the
  same definition itself and says so in the table's notes (``--own-fc`` forces that).

Every entry is a mean over images with its standard error (standard deviation over
images divided by the square root of their number). The ``paired`` column gives the
mean per-image difference of insertion - deletion against Captum's IG, with its
standard error, so small but consistent differences are visible.

Methods: Captum's ``IntegratedGradients``; :class:`~captum_rank.RankIntegratedGradients`
with each schedule (``sequential``, ``numerical_rank``, ``arc_length``, ``energy``,
``spectral`` with overlap 0.5, ``linear``, which equals IG), the paper's averaged form
(``form="averaged"``, sequential schedule), and a random attribution as a floor. All path
methods use ``--n-steps`` Gauss-Legendre steps. Nothing is tuned per method.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from captum.attr import IntegratedGradients
from torch import Tensor, nn

from captum_rank import RankIntegratedGradients, SpectralSchedule
from captum_rank.data import load_fashion_mnist, load_sample
from captum_rank.zoo import load

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "docs" / "faithfulness.md"

AttrFn = Callable[[nn.Module, Tensor, Tensor], Tensor]


def methods(n_steps: int) -> dict[str, AttrFn]:
    """The attribution methods compared, each ``(model, x, target) -> attributions``."""

    def captum_ig(model: nn.Module, x: Tensor, target: Tensor) -> Tensor:
        return IntegratedGradients(model).attribute(x, target=target, n_steps=n_steps)

    def rig(schedule: object, form: str = "increments") -> AttrFn:
        def run(model: nn.Module, x: Tensor, target: Tensor) -> Tensor:
            explainer = RankIntegratedGradients(model)
            return explainer.attribute(
                x, target=target, n_steps=n_steps, schedule=schedule, form=form
            )

        return run

    def random_map(model: nn.Module, x: Tensor, target: Tensor) -> Tensor:
        return torch.rand_like(x)

    return {
        "IG (Captum)": captum_ig,
        "RIG sequential": rig("sequential"),
        "RIG numerical_rank": rig("numerical_rank"),
        "RIG arc_length": rig("arc_length"),
        "RIG energy": rig("energy"),
        "RIG spectral (w=0.5)": rig(SpectralSchedule(overlap=0.5)),
        "RIG linear (= IG)": rig("linear"),
        "RIG averaged (paper's form)": rig("sequential", form="averaged"),
        "random (floor)": random_map,
    }


@torch.no_grad()
def target_prob(model: nn.Module, x: Tensor, target: Tensor) -> Tensor:
    return torch.softmax(model(x), dim=1).gather(1, target[:, None])[:, 0]


@torch.no_grad()
def insertion_deletion(
    model: nn.Module, x: Tensor, attr: Tensor, target: Tensor, steps: int
) -> tuple[Tensor, Tensor]:
    """Insertion and deletion AUCs per image (zero baseline, trapezoid on [0, 1])."""
    n = x.shape[0]
    flat_x = x.reshape(n, -1)
    pixels = flat_x.shape[1]
    # Ties (e.g. zero attribution on a black background) are broken at random, so an
    # uninformative map does not get the raster order for free.
    flat_a = attr.reshape(n, -1)
    noise = torch.rand_like(flat_x) * 1e-12 * flat_a.abs().amax(1, keepdim=True)
    order = torch.argsort(flat_a + noise, dim=1, descending=True)
    ranks = torch.empty_like(order)
    ranks.scatter_(1, order, torch.arange(pixels).expand(n, -1))
    counts = torch.tensor([round(pixels * s / steps) for s in range(steps + 1)])
    # keep[s, i, p]: pixel p of image i is among the first counts[s] in its order.
    keep = ranks.unsqueeze(0) < counts[:, None, None]
    inserted = torch.where(keep, flat_x.unsqueeze(0), torch.zeros(()))
    deleted = torch.where(keep, torch.zeros(()), flat_x.unsqueeze(0))
    shape = (-1, *x.shape[1:])
    rep_target = target.repeat(steps + 1)
    ins = target_prob(model, inserted.reshape(shape), rep_target).reshape(steps + 1, n)
    dele = target_prob(model, deleted.reshape(shape), rep_target).reshape(steps + 1, n)
    fraction = counts.double() / pixels
    auc_ins = torch.trapezoid(ins.double(), fraction, dim=0)
    auc_del = torch.trapezoid(dele.double(), fraction, dim=0)
    return auc_ins, auc_del


@torch.no_grad()
def own_faithfulness_correlation(
    model: nn.Module, x: Tensor, attr: Tensor, target: Tensor, runs: int, subset: int,
    generator: torch.Generator,
) -> Tensor:
    """Bhatt et al.'s faithfulness correlation, as quantus defines it (zero baseline)."""
    n = x.shape[0]
    flat_x, flat_a = x.reshape(n, -1), attr.reshape(n, -1)
    base = target_prob(model, x, target)
    drops, sums = [], []
    for _ in range(runs):
        idx = torch.stack([torch.randperm(flat_x.shape[1], generator=generator)[:subset]
                           for _ in range(n)])
        perturbed = flat_x.clone().scatter_(1, idx, 0.0).reshape(x.shape)
        drops.append(base - target_prob(model, perturbed, target))
        sums.append(flat_a.gather(1, idx).sum(1))
    d, s = torch.stack(drops, 1).double(), torch.stack(sums, 1).double()
    d, s = d - d.mean(1, keepdim=True), s - s.mean(1, keepdim=True)
    denom = (d.norm(dim=1) * s.norm(dim=1)).clamp_min(1e-300)
    return (d * s).sum(1) / denom


def quantus_faithfulness_correlation(
    model: nn.Module, x: Tensor, attr: Tensor, target: Tensor, runs: int, subset: int,
) -> Tensor:
    import quantus

    metric = quantus.FaithfulnessCorrelation(
        nr_runs=runs,
        subset_size=subset,
        perturb_baseline=0.0,  # black, the same baseline as insertion/deletion
        similarity_func=quantus.similarity_func.correlation_pearson,
        abs=False,
        normalise=False,
        return_aggregate=False,
        disable_warnings=True,
        display_progressbar=False,
    )
    scores = metric(
        model=model,
        x_batch=x.numpy(),
        y_batch=target.numpy(),
        a_batch=attr.detach().numpy(),
        device="cpu",
        softmax=True,
        channel_first=True,
    )
    return torch.tensor(np.asarray(scores, dtype=np.float64))


def load_images(n: int, seed: int) -> tuple[Tensor, str]:
    try:
        x, _ = load_fashion_mnist("test")
        source = "Fashion-MNIST test split (10 000 images)"
    except FileNotFoundError:
        x, _ = load_sample()
        source = (
            "**the bundled 200-image sample** (the full test split was not installed; "
            "install `dataset-fashion-mnist` for the full run)"
        )
    generator = torch.Generator().manual_seed(seed)
    pick = torch.randperm(x.shape[0], generator=generator)[: min(n, x.shape[0])]
    return x[pick], f"{len(pick)} images drawn with seed {seed} from {source}"


def mean_se(values: Tensor) -> tuple[float, float]:
    v = values.double()
    v = v[torch.isfinite(v)]
    if v.numel() == 0:
        return float("nan"), float("nan")
    se = float(v.std(unbiased=True)) / math.sqrt(v.numel()) if v.numel() > 1 else 0.0
    return float(v.mean()), se


def fmt(values: Tensor, digits: int = 3) -> str:
    mean, se = mean_se(values)
    return f"{mean:.{digits}f} ± {se:.{digits}f}"


def evaluate(args: argparse.Namespace) -> tuple[dict[str, dict[str, dict[str, list[float]]]],
                                                 str, str]:
    images, source = load_images(args.n, args.seed)
    results: dict[str, dict[str, dict[str, list[float]]]] = {}
    fc_impl = "quantus 0.6.0 `FaithfulnessCorrelation`"
    use_quantus = not args.own_fc
    if use_quantus:
        try:
            import quantus

            fc_impl = f"quantus {quantus.__version__} `FaithfulnessCorrelation`"
        except Exception as error:  # pragma: no cover - depends on the environment
            print(f"quantus unavailable ({error!r}); computing the metric here", flush=True)
            use_quantus = False
    if not use_quantus:
        fc_impl = "own implementation of quantus' `FaithfulnessCorrelation` definition"
    for model_name in args.models:
        model = load(model_name)
        for p in model.parameters():
            p.requires_grad_(False)
        with torch.no_grad():
            predicted = torch.cat([model(images[i:i + 500]).argmax(1)
                                   for i in range(0, len(images), 500)])
        per_method: dict[str, dict[str, list[float]]] = {}
        for method_name, attribute in methods(args.n_steps).items():
            torch.manual_seed(args.seed)
            np.random.seed(args.seed)  # noqa: NPY002 - quantus draws from the global RNG
            generator = torch.Generator().manual_seed(args.seed)
            columns: dict[str, list[Tensor]] = {"ins": [], "del": [], "fc": []}
            start = time.perf_counter()
            for first in range(0, len(images), args.batch):
                x = images[first:first + args.batch]
                t = predicted[first:first + args.batch]
                attr = attribute(model, x, t).detach()
                ins, dele = insertion_deletion(model, x, attr, t, args.perturb_steps)
                columns["ins"].append(ins)
                columns["del"].append(dele)
                if use_quantus:
                    fc = quantus_faithfulness_correlation(
                        model, x, attr, t, args.fc_runs, args.fc_subset)
                else:
                    fc = own_faithfulness_correlation(
                        model, x, attr, t, args.fc_runs, args.fc_subset, generator)
                columns["fc"].append(fc)
            elapsed = time.perf_counter() - start
            merged = {key: torch.cat(parts).tolist() for key, parts in columns.items()}
            merged["seconds"] = [elapsed]
            per_method[method_name] = merged
            ins_t, del_t = torch.tensor(merged["ins"]), torch.tensor(merged["del"])
            print(
                f"[{model_name}] {method_name:28s} ins {fmt(ins_t)}  del {fmt(del_t)}  "
                f"ins-del {fmt(ins_t - del_t)}  FC {fmt(torch.tensor(merged['fc']))}  "
                f"({elapsed:.0f}s)",
                flush=True,
            )
        results[model_name] = per_method
    return results, source, fc_impl


def verdicts(per_method: dict[str, dict[str, list[float]]], ig_key: str) -> list[str]:
    """One sentence per metric: which methods differ from IG by more than 2 standard errors."""
    if ig_key not in per_method:
        return []
    ig = per_method[ig_key]
    out = []
    for label, key in (("insertion - deletion", "diff"), ("faithfulness correlation", "fc")):
        better, worse = [], []
        for name, cols in per_method.items():
            if name in (ig_key, "random (floor)"):
                continue
            if key == "diff":
                mine = torch.tensor(cols["ins"]) - torch.tensor(cols["del"])
                theirs = torch.tensor(ig["ins"]) - torch.tensor(ig["del"])
            else:
                mine, theirs = torch.tensor(cols["fc"]), torch.tensor(ig["fc"])
            mean, se = mean_se(mine - theirs)
            if se > 0 and mean > 2 * se:
                better.append(name)
            elif se > 0 and mean < -2 * se:
                worse.append(name)
        out.append(
            f"Paired against IG on {label} (difference beyond 2 standard errors): "
            f"better: {', '.join(better) or 'none'}; worse: {', '.join(worse) or 'none'}."
        )
    return [" ".join(out)]


def render(results: dict[str, dict[str, dict[str, list[float]]]], source: str, fc_impl: str,
           args: argparse.Namespace, command: str, total_s: float) -> str:
    lines = [
        "# Faithfulness: Captum IG against RIG's schedules",
        "",
        "<!-- Written by benchmarks/faithfulness.py; rerun the command below to refresh. -->",
        "",
        f"Command: `{command}`  ",
        f"Seed: {args.seed}  ",
        f"Machine: {machine()}  ",
        f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  ",
        f"Run time: {total_s / 60:.1f} min",
        "",
        f"Data: {source}. Target: the model's predicted class. Baseline: black (zeros). "
        f"Path methods: {args.n_steps} Gauss-Legendre steps. Insertion/deletion: "
        f"{args.perturb_steps} equal steps of pixels in decreasing order of (signed) "
        "attribution, area under the target-class softmax probability (ties broken at "
        f"random). Faithfulness correlation: {fc_impl}, {args.fc_runs} random subsets of "
        f"{args.fc_subset} pixels set to black, Pearson correlation. Entries: mean ± "
        "standard error over images. Arrows say which direction is better. The `paired` "
        "column is the per-image difference of (insertion - deletion) from Captum's IG, "
        "mean ± standard error.",
        "",
    ]
    ig_key = "IG (Captum)"
    for model_name, per_method in results.items():
        lines += [f"## {model_name}", "",
                  "| method | insertion AUC ↑ | deletion AUC ↓ | insertion - deletion ↑ | "
                  "paired vs IG ↑ | faithfulness corr. ↑ | time (s) |",
                  "|---|---|---|---|---|---|---|"]
        ig = per_method.get(ig_key)
        for method_name, cols in per_method.items():
            ins, dele = torch.tensor(cols["ins"]), torch.tensor(cols["del"])
            diff = ins - dele
            if ig is not None and method_name != ig_key:
                ig_diff = torch.tensor(ig["ins"]) - torch.tensor(ig["del"])
                paired = fmt(diff - ig_diff, 4)
            else:
                paired = "-"
            lines.append(
                f"| {method_name} | {fmt(ins)} | {fmt(dele)} | {fmt(diff)} | {paired} | "
                f"{fmt(torch.tensor(cols['fc']))} | {cols['seconds'][0]:.0f} |"
            )
        lines += ["", *verdicts(per_method, ig_key), ""]
    lines += [
        "Reading the table: these are the measured numbers, not tuned for any method. "
        "`RIG linear` is Captum's IG computed by RIG's code, so its row should match "
        "IG's to rounding; the random row is the floor each metric gives an "
        "uninformative map. Times include the metrics and are for comparison within one "
        "run only (the machine is shared).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=500, help="number of test images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", nargs="+", default=["fmnist-natural", "fmnist-robust"])
    parser.add_argument("--n-steps", type=int, default=50, help="path steps (all methods)")
    parser.add_argument("--perturb-steps", type=int, default=28)
    parser.add_argument("--fc-runs", type=int, default=50)
    parser.add_argument("--fc-subset", type=int, default=56)
    parser.add_argument("--own-fc", action="store_true",
                        help="compute FaithfulnessCorrelation here instead of with quantus")
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--json", type=Path, default=None,
                        help="also write the per-image scores to this JSON file")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    command = "OMP_NUM_THREADS=1 python " + " ".join(
        [os.path.relpath(sys.argv[0], ROOT) if argv is None else "benchmarks/faithfulness.py",
         *(sys.argv[1:] if argv is None else argv)]
    )
    start = time.perf_counter()
    results, source, fc_impl = evaluate(args)
    total = time.perf_counter() - start
    text = render(results, source, fc_impl, args, command, total)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    if args.json is not None:
        args.json.write_text(json.dumps(results))
    print(f"wrote {args.out} ({total / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
