"""captum-rank against Spectral IG's reference code: agreement, completeness, peak memory.

Spectral IG (Kim et al., KDD 2026) publishes its code at https://github.com/leekwoon/sig
(MIT). It is **not** part of captum-rank and this script never copies it: it runs only
when you have a checkout of it, and exits with a message otherwise::

    git clone https://github.com/leekwoon/sig /tmp/sig
    python benchmarks/bench_sig_parity.py --sig-path /tmp/sig          # writes RESULTS.md
    python benchmarks/bench_sig_parity.py --sig-path /tmp/sig --models zoo --steps 50

(``--sig-path`` is the directory that holds ``cleanig/``; SIG's own requirements are not
needed, only torch and, for its blur baseline, torchvision.)

At matched settings, SIG's ``SpectralIGExplainer(model, baseline_method="zero",
num_steps=M, exp_obj="prob", overlap=w, channel_mode=mode)`` with explicit ``labels`` is
captum-rank's::

    RankIntegratedGradients(lambda x: torch.softmax(model(x), -1)).attribute(
        x, baselines=0.0, target=labels, n_steps=M - 1, method="riemann_left",
        schedule=SpectralSchedule(overlap=w, channels=mode), internal_batch_size=N)

``internal_batch_size=N`` runs one path step of the whole batch per model call, which
is the model batch SIG uses (it loops over the path, one step of the batch at a time).
Each method runs in a fresh child process; its peak memory is the rise of the process's
peak RSS during the call (glibc told to return freed blocks at once, as in
``bench_rig_vs_ig.py``), its time one wall-clock run (the machine may be shared).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import markdown_table, peak_bytes, resident_bytes, write_section

NEEDS_SIG = (
    "bench_sig_parity.py compares captum-rank with Spectral IG's reference code, which is "
    "not part of captum-rank. Get it with\n"
    "    git clone https://github.com/leekwoon/sig /tmp/sig\n"
    "and pass --sig-path /tmp/sig (the directory that holds cleanig/)."
)


def import_sig(sig_path: str | None) -> Any:
    """SIG's ``SpectralIGExplainer``, from ``sig_path`` or from an installed ``cleanig``."""
    if sig_path is not None:
        if not (Path(sig_path) / "cleanig").is_dir():
            raise SystemExit(f"--sig-path {sig_path!r} holds no cleanig/ directory.\n{NEEDS_SIG}")
        sys.path.insert(0, str(Path(sig_path).resolve()))
    try:
        from cleanig.explainer.spectral_ig import SpectralIGExplainer
    except ImportError as err:
        raise SystemExit(f"Cannot import Spectral IG ({err}).\n{NEEDS_SIG}") from None
    return SpectralIGExplainer


def sig_commit(sig_path: str | None) -> str:
    if sig_path is None:
        return "installed cleanig"
    try:
        return subprocess.run(["git", "-C", sig_path, "rev-parse", "--short", "HEAD"],
                              check=True, capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "checkout without git metadata"


# --- the two settings ---------------------------------------------------------------------

def setup(name: str, dtype: torch.dtype, photos: int) -> tuple[nn.Module, Tensor, str]:
    """Model (logits), inputs in [0, 1] and a description of both. Never a silent fallback."""
    if name == "zoo":
        from captum_rank import zoo
        from captum_rank.data import load_sample

        model = zoo.load("fmnist-natural")
        images = load_sample()[0]  # sorted by class: take 32 spread over all ten classes
        inputs = images[torch.linspace(0, images.shape[0] - 1, 32).round().long()]
        what = ("zoo fmnist-natural (trained), 32 Fashion-MNIST test images 1x28x28 from the "
                "bundled sample, evenly spaced over its class-sorted order (all ten classes)")
    elif name == "resnet18":
        import torchvision

        from captum_rank.data import load_photos

        torch.manual_seed(0)
        net = torchvision.models.resnet18(weights=None).eval()
        normalise = torchvision.transforms.Normalize((0.485, 0.456, 0.406),
                                                     (0.229, 0.224, 0.225))
        model = nn.Sequential(normalise, net).eval()
        loaded = load_photos(224, sources=["scikit-image"])
        inputs = loaded.images[:photos]
        what = (f"torchvision ResNet-18 with **seeded random weights** (torch.manual_seed(0); "
                f"no pretrained weights install offline), {photos} real photos 3x224x224 "
                f"({', '.join(loaded.names[:photos])})")
    else:
        raise SystemExit(f"unknown model {name!r}; choose zoo or resnet18")
    return model.to(dtype), inputs.to(dtype), what


def labels_for(model: nn.Module, inputs: Tensor) -> Tensor:
    with torch.no_grad():
        return model(inputs).argmax(1)


# --- one measured run, in a child process -----------------------------------------------------

def child(spec: dict[str, Any]) -> None:
    torch.set_num_threads(spec["threads"])
    dtype = getattr(torch, spec["dtype"])
    model, inputs, _ = setup(spec["model"], dtype, spec["photos"])
    labels = labels_for(model, inputs)
    steps, overlap, channels = spec["steps"], spec["overlap"], spec["channels"]
    if spec["method"] == "sig":
        explainer_cls = import_sig(spec["sig_path"])

        def make(num_steps: int) -> Any:
            return explainer_cls(model, baseline_method="zero", num_steps=num_steps,
                                 device="cpu", exp_obj="prob", overlap=overlap,
                                 channel_mode=channels)

        def run(num_steps: int) -> Tensor:
            return make(num_steps).get_attributions(inputs, labels)
    else:
        from captum_rank import RankIntegratedGradients, SpectralSchedule

        def probability(x: Tensor) -> Tensor:
            return torch.softmax(model(x), dim=-1)

        rig = RankIntegratedGradients(probability)

        def run(num_steps: int) -> Tensor:
            return rig.attribute(inputs, baselines=0.0, target=labels, n_steps=num_steps - 1,
                                 method="riemann_left", internal_batch_size=inputs.shape[0],
                                 schedule=SpectralSchedule(overlap, channels=channels))

    run(3)  # lazy initialisation outside the measurement
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak-RSS watermark
    before = resident_bytes()
    start = time.perf_counter()
    attributions = run(steps)
    seconds = time.perf_counter() - start
    peak = peak_bytes() - before
    torch.save(attributions.detach().cpu(), spec["out"])
    print(json.dumps({"peak": peak, "seconds": seconds}))


def measure(spec: dict[str, Any]) -> tuple[Tensor, float, float]:
    environment = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536", MALLOC_TRIM_THRESHOLD_="0")
    result = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)],
                            capture_output=True, text=True, env=environment)
    if result.returncode != 0:
        raise SystemExit(result.stderr.strip() or result.stdout.strip())
    line = json.loads(result.stdout.strip().splitlines()[-1])
    return torch.load(spec["out"]), line["peak"] / 2**20, line["seconds"]


# --- comparison -----------------------------------------------------------------------------

def pearson(a: Tensor, b: Tensor) -> Tensor:
    a = a.flatten(1).double() - a.flatten(1).double().mean(1, keepdim=True)
    b = b.flatten(1).double() - b.flatten(1).double().mean(1, keepdim=True)
    return (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1))


def completeness(model: nn.Module, inputs: Tensor, labels: Tensor, attributions: Tensor
                 ) -> Tensor:
    with torch.no_grad():
        rows = torch.arange(inputs.shape[0])
        end = torch.softmax(model(inputs), -1)[rows, labels]
        start = torch.softmax(model(torch.zeros_like(inputs)), -1)[rows, labels]
    change = (end - start).double()
    return (attributions.flatten(1).double().sum(1) - change).abs() / change.abs()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sig-path", help="checkout of github.com/leekwoon/sig (holds cleanig/)")
    parser.add_argument("--models", nargs="+", default=["zoo", "resnet18"])
    parser.add_argument("--steps", type=int, default=200, help="SIG's num_steps M (default 200)")
    parser.add_argument("--resnet-steps", type=int, default=64,
                        help="M for ResNet-18 at 224 (CPU time); default 64")
    parser.add_argument("--overlap", type=float, default=0.4, help="w (SIG's config: 0.4)")
    parser.add_argument("--photos", type=int, default=2, help="photos for ResNet-18")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-write", action="store_true", help="print only, keep RESULTS.md")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return
    import_sig(args.sig_path)  # fail early, with the message, when SIG is not there
    torch.set_num_threads(args.threads)

    cases = []
    for name in args.models:
        if name == "zoo":
            cases += [("zoo", "float32", "per_channel", args.steps),
                      ("zoo", "float64", "per_channel", args.steps)]
        else:
            cases += [(name, "float32", "per_channel", args.resnet_steps),
                      (name, "float32", "joint", args.resnet_steps)]
    rows: list[list[object]] = []
    notes: dict[str, str] = {}
    described: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for index, (name, dtype, channels, steps) in enumerate(cases):
            model, inputs, what = setup(name, getattr(torch, dtype), args.photos)
            described[name] = what
            labels = labels_for(model, inputs)
            spec = dict(model=name, dtype=dtype, channels=channels, steps=steps,
                        overlap=args.overlap, photos=args.photos, threads=args.threads,
                        sig_path=args.sig_path)
            results = {}
            for method in ("sig", "rig"):
                out = str(Path(scratch) / f"{index}-{method}.pt")
                results[method] = measure(dict(spec, method=method, out=out))
                print(f"{name} {dtype} {channels} {method}: {results[method][1]:.1f} MiB, "
                      f"{results[method][2]:.1f} s", flush=True)
            (sig, sig_mib, sig_s), (rig, rig_mib, rig_s) = results["sig"], results["rig"]
            r = pearson(sig, rig)
            scale = sig.flatten(1).abs().max(1).values.double()
            diff = ((sig - rig).flatten(1).abs().max(1).values.double() / scale).max()
            c_sig = completeness(model, inputs, labels, sig)
            c_rig = completeness(model, inputs, labels, rig)
            rows.append([
                name, dtype, channels, inputs.shape[0], steps,
                f"{float(r.min()):.7f}", f"{float(diff):.1e}",
                f"{float(c_sig.median()):.2e}", f"{float(c_rig.median()):.2e}",
                f"{sig_mib:.0f}", f"{rig_mib:.0f}", f"{sig_mib / max(rig_mib, 1e-9):.1f}x",
                f"{sig_s:.1f}", f"{rig_s:.1f}",
            ])
            with torch.no_grad():
                at_baseline = model(torch.zeros_like(inputs)).argmax(1)
            notes[f"{name} {dtype}"] = (
                f"{name} {dtype}: with labels=None SIG would explain class "
                f"{sorted(set(at_baseline.tolist()))} (the baseline's top class) for every "
                f"image; {int((at_baseline != labels).sum())} of {labels.numel()} images "
                "predict another class."
            )
    body = markdown_table(
        ["model", "dtype", "channels", "images", "M (SIG num_steps)", "Pearson (min)",
         "max abs diff / max abs attr", "SIG completeness (median)",
         "RIG completeness (median)", "SIG peak MiB", "RIG peak MiB", "SIG / RIG memory",
         "SIG s", "RIG s"],
        rows,
    )
    body += "\n\n" + "\n".join(f"- {what}" for what in described.values())
    body += (
        f"\n\nSIG: leekwoon/sig at {sig_commit(args.sig_path)}, `SpectralIGExplainer(model, "
        f"baseline_method='zero', num_steps=M, exp_obj='prob', overlap={args.overlap}, "
        "channel_mode=channels)` with explicit labels (the class predicted at the input). "
        "captum-rank: `RankIntegratedGradients(softmax o model).attribute(x, 0.0, target="
        "labels, n_steps=M - 1, method='riemann_left', schedule=SpectralSchedule("
        f"{args.overlap}, channels=channels), internal_batch_size=N)`. Pearson: per image "
        "over all pixels, the smallest over images; max abs diff: per image, relative to "
        "SIG's largest |attribution|, the largest over images; completeness: "
        "|sum A - (p(x) - p(0))| / |p(x) - p(0)| of the softmax probability. Memory: rise "
        "of peak RSS during the call, in a fresh process per method; times: one run each "
        f"on {args.threads} thread(s) of a shared machine (other jobs running), so only "
        "their order of magnitude is meaningful.\n\n" + "\n".join(f"- {n}" for n in notes.values())
    )
    if args.no_write:
        print(body)
    else:
        write_section("sig-parity", "captum-rank vs Spectral IG's reference code", body)


if __name__ == "__main__":
    main()
