"""Photos side by side: IG, Spectral IG's path, the rank path's reference and its rank bands.

Issue 22, item 5: is the rank path's (near-)converged map a meaningful picture? For every
photo that has a head-weighted rank-path reference (``bench_segment_errors.py --reference
--save-maps DIR``, which also splits it by the default rank bands 1-4, 5-16, 17-64,
65-224), this computes on EfficientNet-Lite0 at 224 x 224, target the prediction,
baseline zeros:

* Captum IG (Gauss-Legendre, ``--ig-steps``) and RIG on Spectral IG's path
  (``schedule="spectral"``, Gauss-Legendre, ``--spectral-steps``);
* DiffID (Spectral IG's protocol, :func:`captum_rank.metrics.diffid_scores`: the binary
  ``accuracy`` score and the target's ``probability``) of each of them, of the rank-path
  reference and of each of its bands;
* how far IG and the spectral map are from the rank-path reference, and how far the
  demo's band rule (:data:`captum_rank.defaults.PHOTO_BAND_STEPS`, calibrated, as the demo
  draws it) is from the reference, in total and per band (relative L2 distances);

then draws one figure, a row per photo: the photo, IG, spectral, the rank path and its
four bands, all on one colour scale (they are all in units of the output), each titled
with its DiffID. Each photo's maps are cached in ``DIR/figure-XX.pt`` so that a run
interrupted (or started before every reference exists) resumes where it stopped.

    python benchmarks/bench_segment_errors.py --reference --photos 20 --threads 1 \\
        --save-maps refs
    python benchmarks/bench_photo_figure.py --maps refs --threads 1

Writes ``benchmarks/results/photo-figure-224.json`` (with the command) and
``docs/figures/photo_rank_bands.png``. ``--table`` prints the markdown tables of the docs
from that JSON and the references' ``rank-reference-head-224.json``, without a model.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path
from statistics import median
from typing import Any

import torch
from torch import Tensor

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import command

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).with_name("results") / "photo-figure-224.json"
FIGURE = ROOT / "docs" / "figures" / "photo_rank_bands.png"


def distance(a: Tensor, reference: Tensor) -> float:
    """``||a - reference|| / ||reference||`` in float64."""
    reference = reference.double()
    return float((a.double() - reference).norm() / reference.norm())


def photo_maps(model: Any, x: Tensor, target: int, reference: dict[str, Any],
               args: argparse.Namespace) -> dict[str, Any]:
    """IG, the spectral map and the demo's band rule for one photo, and every DiffID."""
    from captum.attr import IntegratedGradients

    from captum_rank import RankIntegratedGradients
    from captum_rank.defaults import PHOTO_BAND_STEPS
    from captum_rank.metrics import diffid_scores

    rig = RankIntegratedGradients(model)
    ig = IntegratedGradients(model).attribute(
        x, target=target, n_steps=args.ig_steps, internal_batch_size=args.batch)
    spectral = rig.attribute(x, target=target, schedule="spectral", method="gausslegendre",
                             n_steps=args.spectral_steps, internal_batch_size=args.batch)
    demo = rig.attribute_bands(x, target=target, segment_steps=PHOTO_BAND_STEPS,
                               internal_batch_size=args.batch, calibrate=True)
    rank_map = reference["map"][None].to(x.device)
    bands = reference["bands"][:, None].to(x.device)
    maps = {"ig": ig.detach(), "spectral": spectral.detach(), "rank_path": rank_map}
    maps.update({f"band {label}": bands[b] for b, label in enumerate(demo.labels)})
    scores = {}
    for name, value in maps.items():
        found = diffid_scores(model, x, value, torch.tensor([target]),
                              internal_batch_size=args.batch)
        scores[name] = {score: float(curves.difference()[0]) for score, curves in found.items()}
    return {
        "maps": {name: value[0].float().cpu() for name, value in maps.items()},
        "diffid": scores,
        "to_rank_path": {"ig": distance(ig, rank_map), "spectral": distance(spectral, rank_map)},
        "demo_rule": {
            "segment_steps": list(PHOTO_BAND_STEPS),
            "gradient_rows": int(demo.evaluations[0]),
            "forward_rows": demo.forward_rows,
            "to_reference": distance(demo.pixels, rank_map),
            "bands_to_reference": {label: distance(demo.maps[b], bands[b])
                                   for b, label in enumerate(demo.labels)},
            "band_shares": demo.shares[0].tolist(),
            "band_totals": demo.totals[0].tolist(),
        },
        "labels": demo.labels,
    }


def draw(images: Tensor, rows: list[dict[str, Any]], names: list[str]) -> None:
    """One row per photo: the photo, IG, spectral, the rank path and its bands."""
    import matplotlib

    matplotlib.use("Agg")
    from captum_rank.visualization import plot_comparison_grid

    keys = list(rows[0]["maps"])
    titles = {"ig": "IG", "spectral": "Spectral IG path", "rank_path": "rank path"}
    stacked = {key: torch.stack([row["maps"][key] for row in rows]) for key in keys}
    # Each column on its own scale, shared down the photos: IG's map is several times
    # larger than the rank path's (it sums to the same total over other pixels), so on
    # one scale for all the bands would vanish. About 3 inches a panel at 100 dpi keeps
    # every map pixel at least one screen pixel.
    fig, axes = plot_comparison_grid(
        images, {"EfficientNet-Lite0": stacked}, attributions=keys, share="attribution",
        attribution_titles={k: titles.get(k, k) for k in keys}, image_titles=names,
        title="EfficientNet-Lite0 at 224 x 224: IG, Spectral IG's path, the rank path "
              "(head-weighted reference) and its rank bands; each column on its own colour "
              "scale (shared down the photos); DiffID (accuracy) in each title",
        use_pyplot=False, fig_size=(3.0 * (len(keys) + 1), 3.1 * len(rows) + 1.2))
    for i, row in enumerate(rows):
        for j, key in enumerate(keys):
            axis = axes[i, j + 1]
            axis.set_title(f"{titles.get(key, key)}\nDiffID {row['diffid'][key]['accuracy']:+.2f}",
                           fontsize=8)
    FIGURE.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    # Noisy maps at full size compress badly (about 1 MB a photo); a 256-colour palette
    # keeps every pixel and a third of the bytes.
    from PIL import Image

    buffer.seek(0)
    Image.open(buffer).convert("RGB").quantize(256).save(FIGURE, optimize=True)


def table() -> None:
    """The docs' tables: how converged each reference is and how far other maps are from
    it, then DiffID; one row per photo and a median row."""
    figure = json.loads(RESULTS.read_text())
    # A reference run split over sessions (--first K) writes one file per part.
    references = {p["photo"]: p for part in sorted(RESULTS.parent.glob(
        "rank-reference-head-224*.json")) for p in json.loads(part.read_text())["photos"]}
    rows = [(p, references[p["photo"]]) for p in figure["photos"] if p["photo"] in references]
    columns = ["first 256->512", "2-16 32->64", "whole GL 512", "whole adaptive 512",
               f"IG {figure['ig_steps']}", f"spectral {figure['spectral_steps']}",
               "demo bands (600 rows)"]
    print("| photo | target | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 2) + "|")
    found: list[list[float]] = []
    for photo, ref in rows:
        values = [ref["first_segment"]["256->512"], ref["segments_2_to_head"]["32->64"],
                  ref["to_reference"]["whole_gausslegendre_512"],
                  ref["to_reference"]["whole_adaptive_512"], photo["to_rank_path"]["ig"],
                  photo["to_rank_path"]["spectral"], photo["demo_rule"]["to_reference"]]
        found.append(values)
        print(f"| {photo['photo']} | {photo['target']} | "
              + " | ".join(f"{v:.3f}" for v in values) + " |")
    print(f"| median of {len(found)} | | "
          + " | ".join(f"{median(list(c)):.3f}" for c in zip(*found, strict=True)) + " |")
    print()
    maps = list(rows[0][0]["diffid"])
    print("| DiffID (accuracy / probability), median of " + str(len(rows)) + " | "
          + " | ".join(maps) + " |")
    print("|---" * (len(maps) + 1) + "|")
    for score in ("accuracy", "probability"):
        print(f"| {score} | " + " | ".join(
            f"{median([p['diffid'][m][score] for p, _ in rows]):+.3f}" for m in maps) + " |")
    bands = rows[0][0]["labels"]
    print()
    print("| demo band rule, median of " + str(len(rows)) + " | " + " | ".join(bands) + " |")
    print("|---" * (len(bands) + 1) + "|")
    print("| distance of the band map to the reference's | " + " | ".join(
        f"{median([p['demo_rule']['bands_to_reference'][b] for p, _ in rows]):.3f}"
        for b in bands) + " |")
    print("| share of the map's L1 mass | " + " | ".join(
        f"{median([p['demo_rule']['band_shares'][i] for p, _ in rows]):.3f}"
        for i in range(len(bands))) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", action="store_true",
                        help="print the docs' tables from the JSON files and stop")
    parser.add_argument("--maps", type=Path, default=None, metavar="DIR",
                        help="folder of bench_segment_errors.py --reference --save-maps")
    parser.add_argument("--ig-steps", type=int, default=256)
    parser.add_argument("--spectral-steps", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    if args.table:
        table()
        return
    if args.maps is None:
        parser.error("--maps DIR is required (or --table)")
    references = sorted(args.maps.glob("reference-*.pt"))
    if not references:
        raise SystemExit(f"no reference-*.pt in {args.maps}: run bench_segment_errors.py "
                         "--reference --save-maps there first")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    from captum_rank import zoo
    from captum_rank.data import load_photos

    model = zoo.load("imagenet-efficientnet-lite0").eval().to(args.device)
    photos = load_photos(size=224).labelled()
    started = time.time()
    rows, images, names = [], [], []
    for path in references:
        reference = torch.load(path, map_location="cpu")
        n, target = int(reference["photo"]), int(reference["target"])
        x = photos.images[n:n + 1].to(args.device)
        with torch.no_grad():
            if int(model(x).argmax(1)) != target:
                raise SystemExit(f"{path}: photo {n}'s prediction is not the reference's "
                                 f"target {target}; the photos or the model changed")
        cached = args.maps / f"figure-{n:02d}.pt"
        if cached.exists():
            row = torch.load(cached, map_location="cpu")
        else:
            row = photo_maps(model, x, target, reference, args)
            torch.save(row, cached)
            print(f"{time.time() - started:6.0f}s photo {n}: "
                  f"{json.dumps({k: row[k] for k in ('diffid', 'to_rank_path', 'demo_rule')})}",
                  flush=True)
        row["photo"], row["target"] = n, target
        rows.append(row)
        images.append(x[0].cpu())
        names.append(f"{photos.names[n]}")
    RESULTS.write_text(json.dumps({
        "command": command(), "seed": 0, "threads": args.threads, "ig_steps": args.ig_steps,
        "spectral_steps": args.spectral_steps,
        "photos": [{k: v for k, v in row.items() if k != "maps"} for row in rows]}, indent=1))
    draw(torch.stack(images), rows, names)
    print(f"wrote {RESULTS} and {FIGURE} ({len(rows)} photos)")


if __name__ == "__main__":
    main()
