r"""Is RIG faithful? One harness for RIG, IG and their rivals on every metric.

Two steps, so a long run can be resumed and its tables rendered from what it wrote::

    # 1. run (writes per-image scores to JSON after every batch; --resume continues)
    OMP_NUM_THREADS=1 nice python benchmarks/faithfulness.py run --data fmnist \
        --models fmnist-natural fmnist-robust --n 500 --seed 0 --json faith-fmnist.json
    OMP_NUM_THREADS=1 nice python benchmarks/faithfulness.py run --data imagenet \
        --models imagenet-efficientnet-lite0 --n 0 --seed 0 --n-steps 16 \
        --metrics diffid insdel rank --json faith-imagenet.json
    # 2. tables and figure (docs/faithfulness.md, docs/figures/faithfulness_curves.png)
    python benchmarks/faithfulness.py report faith-fmnist.json faith-imagenet.json

Protocol (Spectral IG's, from its repository ``leekwoon/sig``, wherever it applies): the
target is the image's *true label*; every method explains the target's *softmax
probability* (``--objective``); the baseline is black (zeros in ``[0, 1]`` pixel space);
every path method gets the same ``--n-steps`` gradient evaluations per image. Methods
(:mod:`captum_rank.metrics.rivals`): Captum IG, RIG with the library's default schedule
(no ``schedule=`` or ``method=`` passed: ``arc_length`` with the adaptive rule), the same
path with Captum's Gauss-Legendre rule, and ``spectral`` (``SpectralSchedule(overlap=
0.4)``, Spectral IG's setting), the paper's averaged form (``form="averaged"``, the
sequential low-rank reconstructions), Captum GradientShap (``n_samples = n_steps``, the
same black baseline, ``stdevs=0``), Guided IG and Blur IG from PyPI ``saliency``, and two
controls: a random map and a Sobel edge map. Model evaluations are counted, not assumed
(one row through the model is one evaluation).

Metrics (:mod:`captum_rank.metrics`), per image: ``diffid`` (DiffID, accuracy and
probability scores from the same passes), ``insdel`` (insertion/deletion with a black
fill and a blur fill, signed order, probability), ``road`` (MoRF and LeRF accuracy,
Quantus' noisy linear imputation), ``fc`` (Quantus' faithfulness correlation), ``rank``
(deletion and insertion of the singular components of ``x - x'`` in the order of RIG's
rank attributions, IG's projected ones, the singular values and a random order).
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from captum.attr import IntegratedGradients
from torch import Tensor, nn

from captum_rank import RankIntegratedGradients, SpectralSchedule
from captum_rank.metrics import (
    diffid_scores,
    faithfulness_correlation,
    insertion_deletion,
    rank_components,
    rank_deletion,
    road,
)
from captum_rank.metrics.rivals import blur_ig, gradient_shap, guided_ig
from captum_rank.metrics.sanity import random_map, sobel_map

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, markdown_table, write_section

ROOT = Path(__file__).resolve().parents[1]
METRIC_NAMES = ("diffid", "insdel", "road", "fc", "rank")
IG = "IG (Captum)"
RIG_DEFAULT = "RIG default"
RIG_ARC_GL = "RIG arc_length, Gauss-Legendre"
#: Verdicts ("better/worse than IG beyond 2 standard errors") need at least this many images.
MIN_IMAGES = 10

# explain(model, x, target) -> (pixel map, rank attributions or None)
Explainer = Callable[[nn.Module, Tensor, Tensor], tuple[Tensor, Tensor | None]]


class Counting(nn.Module):
    """Counts the rows that go through the model (one row = one model evaluation)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.rows = 0

    def forward(self, x: Tensor) -> Tensor:
        self.rows += x.shape[0]
        return self.model(x)


def ig_with_ranks(n_steps: int, batch: int | None = None) -> Explainer:
    """Captum IG, and its path-averaged gradient projected on the components of x - x'."""

    def run(model: nn.Module, x: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        mean_grad = IntegratedGradients(model, multiply_by_inputs=False).attribute(
            x, baselines=0.0, target=t, n_steps=n_steps, internal_batch_size=batch).detach()
        u, s, vh = rank_components(x)
        ranks = s * torch.einsum("...hr,...hw,...rw->...r", u, mean_grad.to(u.dtype), vh)
        return mean_grad * x, ranks.to(x.dtype)

    return run


def rig_with_ranks(n_steps: int, batch: int | None = None, **options: Any) -> Explainer:
    def run(model: nn.Module, x: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        pixels, ranks = RankIntegratedGradients(model).attribute_with_ranks(
            x, baselines=0.0, target=t, n_steps=n_steps, internal_batch_size=batch, **options)
        return pixels.detach(), ranks.detach()

    return run


def pixels_only(explain: Callable[[nn.Module, Tensor, Tensor], Tensor]) -> Explainer:
    def run(model: nn.Module, x: Tensor, t: Tensor) -> tuple[Tensor, None]:
        return explain(model, x, t).detach(), None

    return run


def methods(n_steps: int, seed: int, batch: int | None = None) -> dict[str, Explainer]:
    return {
        IG: ig_with_ranks(n_steps, batch),
        RIG_DEFAULT: rig_with_ranks(n_steps, batch),
        # The default's path with Captum's rule instead of the adaptive one (the default is
        # arc_length + adaptive, so a plain schedule="arc_length" would repeat it).
        RIG_ARC_GL: rig_with_ranks(n_steps, batch, schedule="arc_length",
                                   method="gausslegendre"),
        "RIG spectral (w=0.4)": rig_with_ranks(n_steps, batch,
                                               schedule=SpectralSchedule(overlap=0.4)),
        "RIG averaged (paper)": rig_with_ranks(n_steps, batch, schedule="sequential",
                                               form="averaged"),
        "GradientShap": pixels_only(gradient_shap(n_steps, seed=seed)),
        "Guided IG": pixels_only(guided_ig(n_steps)),
        "Blur IG": pixels_only(blur_ig(n_steps)),
        "random (control)": pixels_only(random_map),
        "Sobel edges (control)": pixels_only(sobel_map),
    }


def load_data(data: str, n: int, seed: int, labelled_first: bool = False
              ) -> tuple[Tensor, Tensor, str]:
    generator = torch.Generator().manual_seed(seed)
    if data == "fmnist":
        from captum_rank.data import load_fashion_mnist

        x, y = load_fashion_mnist("test")
        source = "Fashion-MNIST test split (10 000 images)"
    elif data == "sample":
        from captum_rank.data import load_sample

        x, y = load_sample()
        source = "the bundled 200-image Fashion-MNIST sample (smoke runs)"
    else:
        from captum_rank.data import load_photos

        photos = load_photos(size=224)
        x, y = photos.images, photos.labels
        source = (f"captum_rank.data.load_photos(size=224): {x.shape[0]} photos, "
                  f"{int((y >= 0).sum())} with an ImageNet label (the others: target = the "
                  "model's predicted class)")
    pick = torch.randperm(x.shape[0], generator=generator)
    if labelled_first:  # labelled images first (stable), so a partial run has them all
        pick = pick[torch.argsort((y[pick] < 0).long(), stable=True)]
    if n > 0:
        pick = pick[:n]
    described = f"{len(pick)} images (seed {seed}) from {source}"
    return x[pick], torch.as_tensor(y)[pick].long(), described


def load_model(name: str) -> nn.Module:
    from captum_rank.zoo import load

    model = load(name).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def _add_curve(store: dict[str, Any], key: str, x: list[float], curves: Tensor) -> None:
    entry = store.setdefault(key, {"x": x, "sum": [0.0] * len(x), "count": 0})
    entry["sum"] = [a + b for a, b in zip(entry["sum"], curves.double().sum(0).tolist(),
                                          strict=True)]
    entry["count"] += curves.shape[0]


def evaluate_batch(model: nn.Module, objective: nn.Module, counter: Counting, x: Tensor,
                   t: Tensor, args: argparse.Namespace, record: dict[str, Any]) -> None:
    rank_orders: dict[str, Tensor] = {}
    for name, explain in methods(args.n_steps, args.seed, args.internal_batch_size).items():
        if args.methods and name not in args.methods:
            continue
        entry = record["methods"].setdefault(name, {"seconds": 0.0, "evaluations": 0,
                                                    "scores": {}, "curves": {}})
        counter.rows = 0
        start = time.perf_counter()
        pixels, ranks = explain(objective, x, t)
        entry["seconds"] += time.perf_counter() - start
        entry["evaluations"] += counter.rows
        if ranks is not None and name in (IG, RIG_DEFAULT, "RIG spectral (w=0.4)",
                                          RIG_ARC_GL):
            rank_orders[name] = ranks
        scores: dict[str, list[float]] = entry["scores"]

        def put(key: str, values: Tensor, scores: dict[str, list[float]] = scores) -> None:
            scores.setdefault(key, []).extend(values.double().tolist())

        if "diffid" in args.metrics:
            out = diffid_scores(model, x, pixels, t, scores=("accuracy", "probability"))
            put("diffid_acc", out["accuracy"].difference())
            put("diffid_prob", out["probability"].difference())
            put("diffid_ins_acc", out["accuracy"].insertion_auc())
            put("diffid_del_acc", out["accuracy"].deletion_auc())
            _add_curve(entry["curves"], "diffid_ins_prob", out["probability"].fractions.tolist(),
                       out["probability"].insertion)
            _add_curve(entry["curves"], "diffid_del_prob", out["probability"].fractions.tolist(),
                       out["probability"].deletion)
        if "insdel" in args.metrics:
            gen = torch.Generator().manual_seed(args.seed)
            for fill in args.fills:
                curves = insertion_deletion(model, x, pixels, t, fill=fill,
                                            steps=args.perturb_steps, generator=gen)
                put(f"ins_{fill}", curves.insertion_auc())
                put(f"del_{fill}", curves.deletion_auc())
                _add_curve(entry["curves"], f"ins_{fill}", curves.fractions.tolist(),
                           curves.insertion)
                _add_curve(entry["curves"], f"del_{fill}", curves.fractions.tolist(),
                           curves.deletion)
        if "road" in args.metrics:
            for order in ("morf", "lerf"):
                curves = road(model, x, pixels, t, percentages=args.road_percentages,
                              order=order, seed=args.seed)
                put(f"road_{order}", curves.auc())
        if "fc" in args.metrics:
            put("fc", faithfulness_correlation(model, x, pixels, t, nr_runs=args.fc_runs,
                                               subset_size=args.fc_subset, seed=args.seed))
        print(f"  {name:24s} {time.perf_counter() - start:6.1f}s", flush=True)
    if "rank" in args.metrics and rank_orders:
        s = rank_components(x)[1]
        gen = torch.Generator().manual_seed(args.seed)
        rank_orders["singular values"] = s.to(x.dtype)
        rank_orders["random order"] = torch.rand(s.shape, generator=gen).to(x.dtype)
        total = s[0].numel()
        counts = sorted({min(total, c) for c in args.rank_counts} | {0, total})
        for name, order in rank_orders.items():
            entry = record["rank"].setdefault(name, {"scores": {}, "curves": {}})
            for mode in ("deletion", "insertion"):
                curves = rank_deletion(model, x, order, 0.0, t, mode=mode, counts=counts)
                entry["scores"].setdefault(mode, []).extend(curves.auc().tolist())
                _add_curve(entry["curves"], mode, curves.fractions.tolist(), curves.curves)


def code_version() -> str:
    """The commit, and whether the library's files differed from it when the run started."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "captum_rank"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" with uncommitted library changes" if dirty else "")


def run(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.threads)
    x_all, y_all, source = load_data(args.data, args.n, args.seed, args.labelled_first)
    results: dict[str, Any] = {}
    if args.resume and args.json.exists():
        results = json.loads(args.json.read_text())
    command = "OMP_NUM_THREADS=1 nice python benchmarks/faithfulness.py " + shlex.join(
        sys.argv[1:] if args.argv is None else args.argv)
    commands = [*results.get("meta", {}).get("commands", []), command]
    results.setdefault("meta", {}).update({
        "commands": commands,
        "seed": args.seed, "n_steps": args.n_steps, "objective": args.objective,
        "machine": machine(), "data": {**results.get("meta", {}).get("data", {}),
                                       args.data: source},
        "threads": args.threads,
        "default_schedule": str(inspect.signature(
            RankIntegratedGradients.attribute).parameters["schedule"].default),
        "code": code_version(),
    })
    models = results.setdefault("models", {})
    for model_name in args.models:
        model = load_model(model_name)
        counter = Counting(model)
        objective: nn.Module = nn.Sequential(counter, nn.Softmax(dim=1)) if (
            args.objective == "probability") else counter
        # A tag keeps a run with other settings (more steps, say) in a table of its own.
        key = f"{model_name} ({args.tag})" if args.tag else model_name
        record = models.setdefault(key, {"done": 0, "methods": {}, "rank": {},
                                   "data": source})
        with torch.no_grad():
            predicted = torch.cat([model(x_all[i:i + 50]).argmax(1)
                                   for i in range(0, len(x_all), 50)])
        labelled = y_all >= 0
        record["accuracy"] = float((predicted == y_all)[labelled].double().mean())
        record["labelled"] = int(labelled.sum())
        y_all = torch.where(labelled, y_all, predicted)
        for first in range(record["done"], len(x_all), args.batch):
            x = x_all[first:first + args.batch]
            t = y_all[first:first + args.batch]
            start = time.perf_counter()
            print(f"[{model_name}] images {first}-{first + len(x) - 1}", flush=True)
            evaluate_batch(model, objective, counter, x, t, args, record)
            record["done"] = first + len(x)
            record.setdefault("wall_seconds", 0.0)
            record["wall_seconds"] += time.perf_counter() - start
            tmp = args.json.with_suffix(".tmp")
            tmp.write_text(json.dumps(results))
            tmp.replace(args.json)
    print(f"wrote {args.json}")
    return 0


# ----------------------------------------------------------------------------- report

def mean_se(values: list[float]) -> tuple[float, float]:
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return float("nan"), float("nan")
    se = float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else 0.0
    return float(v.mean()), se


def fmt(values: list[float], digits: int = 3) -> str:
    m, se = mean_se(values)
    return "-" if math.isnan(m) else f"{m:.{digits}f} ± {se:.{digits}f}"


# (key, label, higher is better)
COLUMNS: list[tuple[str, str, bool]] = [
    ("diffid_acc", "DiffID (accuracy, SIG's) ↑", True),
    ("diffid_prob", "DiffID (probability) ↑", True),
    ("insdel_black", "ins - del, black ↑", True),
    ("insdel_blur", "ins - del, blur ↑", True),
    ("road", "ROAD LeRF - MoRF ↑", True),
    ("fc", "faithfulness corr. ↑", True),
]


def derived(scores: dict[str, list[float]], key: str) -> list[float]:
    if key.startswith("insdel_"):
        fill = key.split("_", 1)[1]
        if f"ins_{fill}" not in scores:
            return []
        return [a - b for a, b in zip(scores[f"ins_{fill}"], scores[f"del_{fill}"],
                                      strict=True)]
    if key == "road":
        if "road_lerf" not in scores:
            return []
        return [a - b for a, b in zip(scores["road_lerf"], scores["road_morf"], strict=True)]
    return list(scores.get(key, []))


def paired(mine: list[float], theirs: list[float]) -> tuple[float, float]:
    """Per-image differences; images run in the same order, so a method evaluated on fewer
    images (a resumed run with fewer methods) pairs with the first ones of the other."""
    k = min(len(mine), len(theirs))
    if k == 0:
        return float("nan"), float("nan")
    return mean_se([a - b for a, b in zip(mine[:k], theirs[:k], strict=True)])


def render_model(name: str, record: dict[str, Any]) -> list[str]:
    meths = record["methods"]
    cols = [c for c in COLUMNS if any(derived(m["scores"], c[0]) for m in meths.values())]
    n = record["done"]
    lines = [f"## {name}", "",
             f"{n} images ({record.get('data', '')}); the model's top-1 accuracy on the "
             f"{record.get('labelled', n)} labelled ones among all: "
             f"{record.get('accuracy', float('nan')):.3f}.", "",
             "| method | images | " + " | ".join(c[1] for c in cols)
             + " | model evals / image | s / image |",
             "|---|---|" + "---|" * (len(cols) + 2)]
    for method, m in meths.items():
        cells = [fmt(derived(m["scores"], c[0])) for c in cols]
        k = max((len(v) for v in m["scores"].values()), default=0)
        lines.append(f"| {method} | {k} | " + " | ".join(cells)
                     + f" | {m['evaluations'] / max(k, 1):.0f} | {m['seconds'] / max(k, 1):.2f} |")
    ig = meths.get(IG)
    verdict_lines = []
    if ig is not None:
        lines += ["", "Paired differences against Captum IG (mean ± standard error of the "
                  "per-image difference; positive = more faithful than IG):", "",
                  "| method | " + " | ".join(c[1].rstrip(" ↑") for c in cols) + " |",
                  "|---|" + "---|" * len(cols)]
        per_metric: dict[str, tuple[list[str], list[str]]] = {c[1]: ([], []) for c in cols}
        for method, m in meths.items():
            if method == IG:
                continue
            cells = []
            for key, label, _ in cols:
                d, se = paired(derived(m["scores"], key), derived(ig["scores"], key))
                cells.append("-" if math.isnan(d) else f"{d:+.3f} ± {se:.3f}")
                enough = min(len(derived(m["scores"], key)),
                             len(derived(ig["scores"], key))) >= MIN_IMAGES
                if enough and not math.isnan(d) and se > 0 and "control" not in method:
                    if d > 2 * se:
                        per_metric[label][0].append(method)
                    elif d < -2 * se:
                        per_metric[label][1].append(method)
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
        for label, (better, worse) in per_metric.items():
            verdict_lines.append(
                f"- {label.rstrip(' ↑')}: better than IG (beyond 2 SE, at least "
                f"{MIN_IMAGES} images): "
                f"{', '.join(better) or 'none'}; worse: {', '.join(worse) or 'none'}.")
        lines += ["", "Against IG, metric by metric:", "", *verdict_lines]
        lines += ["", disagreement(meths, cols)]
    rank = record.get("rank", {})
    if rank:
        lines += ["", "Rank-space faithfulness: singular components of `x - x'` removed "
                  "from the image (deletion, lower area = more faithful) or added to the "
                  "baseline (insertion, higher = more faithful) in each order; area under "
                  "the target-probability curve against the fraction of components.", "",
                  "| order | images | rank-deletion AUC ↓ | rank-insertion AUC ↑ | deletion vs "
                  "IG's order (paired; negative = more faithful) |", "|---|---|---|---|---|"]
        ig_rank = rank.get(IG)
        for order, entry in rank.items():
            sc = entry["scores"]
            if ig_rank is not None and order != IG:
                d, se = paired(sc["deletion"], ig_rank["scores"]["deletion"])
                cell = f"{d:+.4f} ± {se:.4f}"
            else:
                cell = "-"
            label = "IG projected on the components" if order == IG else order
            lines.append(f"| {label} | {len(sc['deletion'])} | {fmt(sc['deletion'], 4)} | "
                         f"{fmt(sc['insertion'], 4)} | {cell} |")
    return [*lines, ""]


def disagreement(meths: dict[str, Any], cols: list[tuple[str, str, bool]]) -> str:
    """One line naming the methods whose paired sign against IG differs between metrics."""
    ig = meths[IG]
    split = []
    for method, m in meths.items():
        if method == IG or "control" in method:
            continue
        signs = {}
        for key, label, _ in cols:
            mine, theirs = derived(m["scores"], key), derived(ig["scores"], key)
            d, se = paired(mine, theirs)
            if min(len(mine), len(theirs)) < MIN_IMAGES:
                continue
            if not math.isnan(d) and se > 0 and abs(d) > 2 * se:
                signs[label.rstrip(" ↑")] = "+" if d > 0 else "-"
        if len(set(signs.values())) > 1:
            split.append(f"{method} ({', '.join(f'{k} {v}' for k, v in signs.items())})")
    if not split:
        return ("Where the metrics disagree: nowhere beyond 2 standard errors (every "
                "significant difference from IG has the same sign on all metrics).")
    return "Where the metrics disagree (significant differences from IG of opposite sign): " \
        + "; ".join(split) + "."


def figure(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = []
    for res in results:
        for model_name, record in res["models"].items():
            panels.append((model_name, record))
    fig, axes = plt.subplots(len(panels), 3, figsize=(13, 3.3 * len(panels)), squeeze=False)
    show = (IG, RIG_DEFAULT, "RIG spectral (w=0.4)", "Guided IG", "random (control)")
    for row, (model_name, record) in enumerate(panels):
        for col, (kind, title) in enumerate((("diffid_del_prob", "deletion (mean fill)"),
                                             ("diffid_ins_prob", "insertion (mean fill)"))):
            ax = axes[row, col]
            for method in show:
                c = record["methods"].get(method, {}).get("curves", {}).get(kind)
                if c:
                    ax.plot(c["x"], [v / c["count"] for v in c["sum"]], marker=".",
                            label=method)
            ax.set_title(f"{model_name}: {title}", fontsize=9)
            ax.set_xlabel("fraction removed" if "del" in kind else "fraction kept")
            ax.set_ylabel("target probability")
        axes[row, 0].legend(fontsize=7)
        ax = axes[row, 2]
        if not record.get("rank"):
            ax.axis("off")
            ax.text(0.5, 0.5, f"{model_name}:\nrank deletion not run", ha="center",
                    va="center", fontsize=9)
            continue
        for order, entry in record["rank"].items():
            c = entry["curves"].get("deletion")
            if c:
                xs = [max(v, 1e-3) for v in c["x"]]
                ax.plot(xs, [v / c["count"] for v in c["sum"]], marker=".",
                        label="IG projected" if order == IG else order)
        ax.set_xscale("log")
        ax.set_title(f"{model_name}: rank deletion", fontsize=9)
        ax.set_xlabel("fraction of singular components removed (log)")
        ax.set_ylabel("target probability")
        ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


INTRO = """# Is RIG faithful? Metrics, rivals and the answer

<!-- Written by `python benchmarks/faithfulness.py report ...` (command below) from the
JSON that `benchmarks/faithfulness.py run` wrote; rerun both to refresh. The prose in
"What the numbers say" is benchmarks/faithfulness_notes.md. -->

A faithful attribution ranks the input's parts by how much the model's output depends on
them. No single metric measures that, so `captum_rank.metrics` offers several, each
documented with its protocol and runnable example, and this page runs them all on RIG,
Captum's Integrated Gradients and their rivals, on a real ImageNet classifier and real
photos, and on the project's natural and adversarially trained Fashion-MNIST models.

## The metrics

- **DiffID** (`diffid`): Spectral IG's protocol, reimplemented from its repository
  (`leekwoon/sig`): features ranked by |attribution| over the flattened `C*H*W` tensor;
  at removal ratios 0.1, ..., 0.9 the most important (deletion) or the least important
  (insertion) features are replaced by the mean of the remaining ones; DiffID is the mean
  over ratios of insertion minus deletion. *Accuracy* (the arg-max is still the target) is
  the number Spectral IG reports; *probability* records the target's softmax probability
  on the same passes. Higher is better.
- **insertion - deletion, black / blur** (`insertion_deletion`): signed order, equal
  steps (`--perturb-steps`: 16 on Fashion-MNIST, 10 on ImageNet), removed pixels set to
  black or to a Gaussian blur of the image (`fill="blur"`), area under the
  target-probability curve (trapezoid). Higher is better.
- **ROAD LeRF - MoRF** (`road`): noisy linear imputation (Quantus' implementation) of
  the least- and most-relevant pixels; the mean accuracy over the percentages, LeRF minus
  MoRF. Higher is better.
- **faithfulness correlation** (`faithfulness_correlation`, Quantus): Pearson correlation
  between a random subset's summed attribution and the drop of the target probability when
  the subset is set to black. Higher is better.
- **rank deletion / insertion** (`rank_deletion`), new: the singular components of
  `x - x'` are removed from the image (or added to the black baseline) in the order of
  RIG's rank attributions, of IG's attributions projected on the same components
  (`s_i u_i^T g v_i` with `g` IG's path-averaged gradient), of the singular values, or at
  random; area under the target-probability curve against the fraction of components.
  Lower deletion area (higher insertion) = the order finds the components the output
  depends on.

Sanity checks (cascading randomisation, random logit) have their own page:
[sanity checks](sanity_checks.md).

## The rivals

Every method explains the same output (the target's softmax probability, as Spectral IG
does), for the same target (the true label; for unlabelled photos the model's
prediction), from the same black baseline, with the same number of model evaluations
(`--n-steps` per image, counted by a wrapper around the model; the tables show the count):
Captum `IntegratedGradients`; `RankIntegratedGradients` with the library's defaults
(no `schedule=` or `method=` passed: `arc_length` with the adaptive rule), the same path
with Captum's Gauss-Legendre rule (`RIG arc_length, Gauss-Legendre`; where it is missing,
it was not run), and `spectral` at Spectral IG's overlap
0.4 (RIG's `spectral` schedule reproduces Spectral IG's attributions); the paper's averaged
form (`form="averaged"`, sequential low-rank reconstructions); Captum `GradientShap` with the
same single baseline; Guided IG and Blur IG from PyPI `saliency` (their defaults; Blur IG
starts from a blurred image, not the black baseline); a random map and a Sobel edge map as
controls. All are in `captum_rank.metrics.rivals`.
"""


def headline(results: list[dict[str, Any]]) -> str:
    """A compact table for RESULTS.md: DiffID (both scores) and rank deletion per model."""
    rows = []
    for res in results:
        for model_name, record in res["models"].items():
            for method, m in record["methods"].items():
                sc = m["scores"]
                rank = record.get("rank", {}).get(method, {}).get("scores", {})
                rows.append([model_name, method, len(sc.get("diffid_acc", [])),
                             fmt(sc.get("diffid_acc", [])), fmt(sc.get("diffid_prob", [])),
                             fmt(rank.get("deletion", []), 4)])
    table = markdown_table(["model", "method", "images", "DiffID (accuracy)",
                            "DiffID (probability)", "rank-deletion AUC"], rows)
    commands = [c for res in results for c in res["meta"]["commands"]]
    return ("Runs (seed, steps and code in docs/faithfulness.md):\n\n"
            + "\n".join(f"    {c}" for c in commands) + "\n\n" + table
            + "\n\nThe runs shared the machine's 2 cores with each other (one thread each): "
            "times are indicative only.")


def _notes() -> str:
    path = ROOT / "benchmarks" / "faithfulness_notes.md"
    return path.read_text() if path.exists() else ""


def merge(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fold runs of a model that is already in an earlier file into that earlier run.

    Runs with the same seed and data draw the same images in the same order, so a later run
    on the first ``n`` images (for example more methods or metrics on fewer images) adds the
    methods and score columns the earlier run lacks; what the earlier run has is kept.
    """
    out: list[dict[str, Any]] = []
    seen: dict[str, dict[str, Any]] = {}
    for res in results:
        kept = {"meta": res["meta"], "models": {}}
        for model_name, record in res["models"].items():
            base = seen.get(model_name)
            if base is None:
                seen[model_name] = record
                kept["models"][model_name] = record
                continue
            base.setdefault("merged_from", []).extend(res["meta"].get("commands", []))
            for key in ("methods", "rank"):
                for name, entry in record.get(key, {}).items():
                    if name not in base[key]:
                        base[key][name] = entry
                        continue
                    for score, values in entry["scores"].items():
                        base[key][name]["scores"].setdefault(score, values)
        if kept["models"]:
            out.append(kept)
    return out


def report(args: argparse.Namespace) -> int:
    results = merge([json.loads(Path(p).read_text()) for p in args.json_files])
    out: list[str] = [INTRO, "## What the numbers say", "", _notes(), ""]
    if args.figure is not None:
        figure(results, args.figure)
        rel = os.path.relpath(args.figure, (args.out or ROOT / "docs" / "x").parent)
        out += ["![insertion, deletion and rank-deletion curves](" + rel + ")", "",
                "Mean curves: DiffID's deletion and insertion (mean fill, target probability) "
                "and rank deletion (log axis: the first components carry most of the "
                "image).", ""]
    out += ["## Tables", ""]
    for res in results:
        meta = res["meta"]
        out += ["### Run", "", *[f"    {c}" for c in meta["commands"]], "",
                f"Seed {meta['seed']}; {meta['n_steps']} model evaluations per path method "
                f"and image; objective: the target's {meta['objective']}; machine: "
                f"{meta['machine']}, shared with the other runs (times are indicative only); "
                f"threads: {meta['threads']}. `RIG default` is the library's default "
                f"schedule at run time: `{meta.get('default_schedule', 'see notes')}`; code: "
                f"{meta.get('code', 'see notes')}.", ""]
        if meta.get("note"):
            out += [str(meta["note"]), ""]
        for model_name, record in res["models"].items():
            out += render_model(model_name, record)
            if record.get("merged_from"):
                out += ["Methods or columns with fewer images come from a run on the first "
                        "images of the same draw:", "",
                        *[f"    {c}" for c in record["merged_from"]], ""]
            out.append(f"Wall time for this model: {record.get('wall_seconds', 0) / 60:.1f} "
                       "min.")
            out.append("")
    text = "\n".join(out)
    if args.results:
        write_section("faithfulness", "Faithfulness (issue 9): DiffID and rank deletion",
                      headline(results))
    if args.out is not None:
        args.out.write_text(text)
        print(f"wrote {args.out}")
    else:
        print(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="evaluate and write per-image scores to JSON")
    p.add_argument("--data", choices=("fmnist", "imagenet", "sample"), default="fmnist")
    p.add_argument("--models", nargs="+", default=["fmnist-natural", "fmnist-robust"])
    p.add_argument("--n", type=int, default=500, help="images (0: all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-steps", type=int, default=32)
    p.add_argument("--objective", choices=("probability", "logit"), default="probability")
    p.add_argument("--methods", nargs="*", default=None, help="subset of methods (names)")
    p.add_argument("--metrics", nargs="+", default=list(METRIC_NAMES), choices=METRIC_NAMES)
    p.add_argument("--fills", nargs="+", default=["black", "blur"])
    p.add_argument("--perturb-steps", type=int, default=16)
    p.add_argument("--road-percentages", nargs="+", type=float, default=[10, 30, 50, 70, 90])
    p.add_argument("--fc-runs", type=int, default=50)
    p.add_argument("--fc-subset", type=int, default=56)
    p.add_argument("--rank-counts", nargs="+", type=int,
                   default=[1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 128, 256, 512])
    p.add_argument("--labelled-first", action="store_true",
                   help="evaluate the labelled images first (a partial run then has them)")
    p.add_argument("--batch", type=int, default=25)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", type=Path, required=True)
    p.add_argument("--tag", default="", help="table name suffix for runs with other settings")
    p.add_argument("--internal-batch-size", type=int, default=None,
                   help="path points per forward pass for IG and RIG (memory bound)")
    p.add_argument("--resume", action="store_true")
    r = sub.add_parser("report", help="render tables (markdown) and the figure from JSON")
    r.add_argument("json_files", nargs="+")
    r.add_argument("--out", type=Path, default=None)
    r.add_argument("--figure", type=Path, default=None)
    r.add_argument("--results", action="store_true",
                   help="also write the headline table to benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    args.argv = argv
    if args.command == "run":
        if args.methods is not None and not args.methods:
            args.methods = None
        return run(args)
    return report(args)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    raise SystemExit(main())
