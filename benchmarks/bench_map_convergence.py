"""Model evaluations until a pixel map is within 0.1 of converged, per photo and method.

Issue 17: a map a user looks at must be converged, not only complete. For every photo and
method, the relative L2 distance ``||A_n - A_ref|| / ||A_ref||`` of the map at ``n``
evaluations to the same path's converged map ``A_ref`` (``--reference`` evaluations, one
per path: Captum IG's line, the rank-k curve at arc-length speed, which the default and
``arc_length`` with Gauss-Legendre both walk, and the spectral path), for ``n`` on the
ladder ``--budgets``; a method's ladder stops at the first budget within ``--within``
(its *evaluations-to-0.1*). The reference's own error is estimated by the distance
between the reference and the same path at half its evaluations.

    python benchmarks/bench_map_convergence.py run --start 0 --stop 10 --out A.json
    python benchmarks/bench_map_convergence.py run --start 10 --stop 20 --out B.json
    python benchmarks/bench_map_convergence.py report A.json B.json
    python benchmarks/bench_map_convergence.py stop --references DIR --out C.json

``stop`` checks ``map_tolerance=`` itself on the same photos: each adaptive method runs
with ``map_tolerance=--within`` (``n_steps`` cap ``--cap``), and the table gives the
evaluations it spent, its own estimate and the true distance to the reference saved by
``run --save-references DIR``.

``run`` writes after every photo (an interrupted run keeps what it measured). Target: the
predicted class; baseline: zeros; model: zoo ``imagenet-efficientnet-lite0`` on
``load_photos(size=224)``; fails (never falls back to a random model) when either is
missing. ``--save-references DIR`` keeps the converged maps for later checks.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from captum.attr import IntegratedGradients
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import markdown_table, write_section, zoo_model_and_images

from captum_rank import RankIntegratedGradients

MODEL = "imagenet-efficientnet-lite0"

#: name -> (label, schedule, method, path); ``schedule None`` is Captum's IG. Methods on
#: the same path converge to the same map, so they share one reference.
METHODS: dict[str, tuple[str, str | None, str, str]] = {
    "ig": ("Captum IG (gausslegendre)", None, "gausslegendre", "line"),
    "default": ("RIG default: arc_length, adaptive", "arc_length", "adaptive", "rank-k curve"),
    "arc_length": ("RIG arc_length, gausslegendre", "arc_length", "gausslegendre",
                   "rank-k curve"),
    "spectral": ("RIG spectral (w=0.5), gausslegendre", "spectral", "gausslegendre",
                 "spectral"),
    "spectral_adaptive": ("RIG spectral (w=0.5), adaptive", "spectral", "adaptive",
                          "spectral"),
}
#: The method that computes each path's reference.
REFERENCE_METHOD = {"line": "ig", "rank-k curve": "arc_length", "spectral": "spectral"}

Attribute = Callable[[Tensor, Tensor, int], Tensor]


def runner(model: nn.Module, name: str, batch: int) -> Attribute:
    """``attribute(image, target, n_steps)`` for one method."""
    _, schedule, method, _ = METHODS[name]
    if schedule is None:
        ig = IntegratedGradients(model)
        return lambda x, t, n: ig.attribute(x, target=t, n_steps=n, method=method,
                                            internal_batch_size=batch)
    rig = RankIntegratedGradients(model)
    return lambda x, t, n: rig.attribute(x, target=t, n_steps=n, method=method,
                                         schedule=schedule, internal_batch_size=batch)


def distance(a: Tensor, ref: Tensor) -> float:
    a, ref = a.double().flatten(), ref.double().flatten()
    return float((a - ref).norm() / ref.norm())


def pending(record: dict, model: nn.Module, images: Tensor, start: int,
            stop: int) -> Iterator[tuple[int, Tensor, Tensor]]:
    """``(index, photo, predicted class)`` of the photos the record does not hold yet."""
    for index in range(start, stop):
        if str(index) not in record["photos"]:
            x = images[index:index + 1]
            with torch.no_grad():
                yield index, x, model(x).argmax(1)


def run(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    names = args.methods.split(",")
    budgets = [int(b) for b in args.budgets.split(",")]
    model, images, source = zoo_model_and_images(MODEL, args.stop)
    model, images = model.to(args.device), images.to(args.device)
    if images.shape[0] < args.stop:
        raise SystemExit(f"only {images.shape[0]} photos; --stop {args.stop} asks for more")
    out = Path(args.out)
    record = json.loads(out.read_text()) if out.exists() else {
        "source": source, "device": str(images.device), "budgets": budgets,
        "reference": args.reference,
        "within": args.within, "methods": names, "photos": {}}
    runners = {name: runner(model, name, args.batch) for name in names}
    for index, x, target in pending(record, model, images, args.start, args.stop):
        started = time.time()
        references: dict[str, Tensor] = {}
        reference_error: dict[str, float] = {}
        photo: dict[str, object] = {"target": int(target)}
        for path in dict.fromkeys(METHODS[name][3] for name in names):
            maker = runners.get(REFERENCE_METHOD[path]) or runner(
                model, REFERENCE_METHOD[path], args.batch)
            references[path] = maker(x, target, args.reference).detach()
            half = maker(x, target, args.reference // 2).detach()
            reference_error[path] = distance(half, references[path])
            if args.save_references:
                Path(args.save_references).mkdir(parents=True, exist_ok=True)
                torch.save(references[path].cpu(), Path(args.save_references)
                           / f"{index}-{path.replace(' ', '_')}.pt")
        photo["reference_half_distance"] = reference_error
        for name in names:
            errors = []
            for n in budgets:
                errors.append(distance(runners[name](x, target, n).detach(),
                                       references[METHODS[name][3]]))
                if errors[-1] <= args.within:
                    break
            photo[name] = errors
        record["photos"][str(index)] = photo
        out.write_text(json.dumps(record, indent=1))
        print(f"photo {index}: {time.time() - started:.0f}s "
              + " ".join(f"{n}={photo[n]}" for n in names), flush=True)


#: The adaptive methods ``stop`` runs with ``map_tolerance``: (label, schedule, path).
STOPPING: dict[str, tuple[str, str, str]] = {
    "ig_adaptive": ("IG's line, adaptive (RIG schedule='linear')", "linear", "line"),
    "default": ("RIG default: arc_length, adaptive", "arc_length", "rank-k curve"),
    "spectral_adaptive": ("RIG spectral (w=0.5), adaptive", "spectral", "spectral"),
}


def stop(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    names = args.methods.split(",")
    model, images, source = zoo_model_and_images(MODEL, args.stop_at)
    model, images = model.to(args.device), images.to(args.device)
    out = Path(args.out)
    record = json.loads(out.read_text()) if out.exists() else {
        "source": source, "within": args.within, "cap": args.cap, "methods": names,
        "photos": {}}
    rig = RankIntegratedGradients(model)
    for index, x, target in pending(record, model, images, args.start, args.stop_at):
        files = {name: Path(args.references) / f"{index}-{STOPPING[name][2].replace(' ', '_')}.pt"
                 for name in names}
        if not all(f.exists() for f in files.values()):
            print(f"photo {index}: no saved references yet (run `run` first); skipped")
            continue
        photo = {}
        for name in names:
            _, schedule, _ = STOPPING[name]
            reference = torch.load(files[name]).to(args.device)
            attributions = rig.attribute(x, target=target, n_steps=args.cap,
                                         schedule=schedule, map_tolerance=args.within,
                                         internal_batch_size=args.batch)
            convergence = rig.last_convergence
            if convergence is None or convergence.map_error is None:
                raise RuntimeError("the adaptive rule left no convergence record")
            photo[name] = {"evaluations": int(convergence.evaluations[0]),
                           "estimate": float(convergence.map_error[0]),
                           "true": distance(attributions.detach(), reference)}
        record["photos"][str(index)] = photo
        out.write_text(json.dumps(record, indent=1))
        print(f"photo {index}: {photo}", flush=True)


def stop_table(files: list[str]) -> str:
    records = [json.loads(Path(p).read_text()) for p in files]
    first = records[0]
    photos = {k: v for r in records for k, v in r["photos"].items()}
    rows = []
    for name in first["methods"]:
        runs = [p[name] for p in photos.values()]
        reached = [r for r in runs if r["estimate"] <= first["within"]]
        rows.append([
            STOPPING[name][0], f"{len(reached)}/{len(runs)}",
            f"{statistics.median(r['evaluations'] for r in runs):g}",
            f"{max(r['evaluations'] for r in runs)}",
            f"{statistics.median(r['estimate'] for r in runs):.3f}",
            f"{statistics.median(r['true'] for r in runs):.3f}",
            f"{max(r['true'] for r in runs):.3f}",
            f"{sum(r['true'] <= first['within'] for r in runs)}/{len(runs)}",
        ])
    return (
        f"**`map_tolerance={first['within']}`** (adaptive rule, `n_steps` cap {first['cap']}; "
        f"{len(photos)} photos): evaluations spent until the estimate "
        "`||A_n - A_{n/2}|| / ||A_n||` is within the tolerance, the estimate, and the true "
        "distance to the path's reference above (which carries its own error, see the last "
        "table).\n\n" + markdown_table(
            ["method", "estimate reached", "median evaluations", "max evaluations",
             "median estimate", "median true distance", "max true distance",
             f"true distance <= {first['within']}"], rows))


def evaluations_to(errors: list[float], budgets: list[int], within: float) -> int | None:
    return next((n for n, e in zip(budgets, errors, strict=False) if e <= within), None)


def report(args: argparse.Namespace) -> None:
    records = [json.loads(Path(p).read_text()) for p in args.files]
    first = records[0]
    budgets, within, names = first["budgets"], first["within"], first["methods"]
    photos = {k: v for r in records for k, v in r["photos"].items()}
    header = ["method", "path", f"evaluations to {within} (median)", "reached by "
              f"{budgets[-1]}", *(f"L2 at {n}" for n in budgets)]
    rows = []
    for name in names:
        label, _, _, path = METHODS[name]
        reached = [evaluations_to(p[name], budgets, within) for p in photos.values()]
        # A photo that never reached counts as beyond the ladder: twice the last budget.
        counts = [n if n is not None else 2 * budgets[-1] for n in reached]
        median = statistics.median(counts)
        cells = []
        for i in range(len(budgets)):
            # Ladders stop at the first budget within; later budgets are at least as close
            # for a converging rule, so a stopped photo counts with its last distance.
            values = [p[name][min(i, len(p[name]) - 1)] for p in photos.values()]
            cells.append(f"{statistics.median(values):.3f}")
        rows.append([label, path, f"{median:g}" if median <= budgets[-1]
                     else f"> {budgets[-1]}", f"{sum(n is not None for n in reached)}"
                     f"/{len(reached)}", *cells])
    ref_rows = []
    for path in dict.fromkeys(METHODS[name][3] for name in names):
        values = [p["reference_half_distance"][path] for p in photos.values()]
        ref_rows.append([path, f"{statistics.median(values):.3f}", f"{max(values):.3f}"])
    device = first.get("device", "cpu")
    where = f"Measured on {args.measured_on or device}" + (
        f" ({device})" if args.measured_on else "")
    body = (
        f"{where}; the machine line above is where this table was written. "
        f"Model: zoo `{MODEL}`; data: {len(photos)} photos of {first['source'].split(' of ')[-1]}"
        f" (indices {min(map(int, photos))}-{max(map(int, photos))}); target: predicted "
        f"class; baseline: zeros; reference: each path's map at {first['reference']} "
        "evaluations (IG; arc_length with Gauss-Legendre for the rank-k curve of the default "
        "and arc_length; spectral with Gauss-Legendre). A method's ladder stops at the first "
        f"budget within {within}; a photo that stopped counts with its last distance in "
        "later columns; medians over photos.\n\n"
        + markdown_table(header, rows)
        + "\n\n**The references' own error** (L2 distance between the reference and the same "
        f"path at {first['reference'] // 2} evaluations)\n\n"
        + markdown_table(["path", "median", "max"], ref_rows)
    )
    if args.stop_files:
        body += "\n\n" + stop_table(args.stop_files)
    write_section("map-convergence-imagenet", "Evaluations until the map is converged "
                  f"(ImageNet, rel. L2 <= {within})", body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    go = sub.add_parser("run")
    go.add_argument("--start", type=int, default=0)
    go.add_argument("--stop", type=int, default=20)
    go.add_argument("--out", required=True)
    go.add_argument("--methods", default=",".join(METHODS))
    go.add_argument("--budgets", default="16,32,64,128")
    go.add_argument("--reference", type=int, default=256)
    go.add_argument("--within", type=float, default=0.1)
    go.add_argument("--batch", type=int, default=64, help="internal_batch_size")
    go.add_argument("--threads", type=int, default=1)
    go.add_argument("--save-references", default="")
    go.add_argument("--device", default="cpu")
    halt = sub.add_parser("stop")
    halt.add_argument("--references", required=True)
    halt.add_argument("--out", required=True)
    halt.add_argument("--start", type=int, default=0)
    halt.add_argument("--stop-at", type=int, default=20)
    halt.add_argument("--methods", default=",".join(STOPPING))
    halt.add_argument("--within", type=float, default=0.1)
    halt.add_argument("--cap", type=int, default=512)
    halt.add_argument("--batch", type=int, default=64, help="internal_batch_size")
    halt.add_argument("--threads", type=int, default=1)
    halt.add_argument("--device", default="cpu")
    show = sub.add_parser("report")
    show.add_argument("files", nargs="+")
    show.add_argument("--stop-files", nargs="*", default=[])
    show.add_argument("--measured-on", default="",
                      help="the machine the runs were measured on, for the table's text")
    args = parser.parse_args()
    {"run": run, "stop": stop, "report": report}[args.command](args)


if __name__ == "__main__":
    main()
