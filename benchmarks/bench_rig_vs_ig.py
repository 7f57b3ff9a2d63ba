"""RIG against Captum's IntegratedGradients: wall time and peak memory, in one run.

Same model, inputs, ``n_steps`` and ``internal_batch_size`` for every method. Times are
medians of interleaved repeats; peak memory is measured in a fresh child process per
method (peak RSS above the process's resident size just before the call, via
/proc/self/clear_refs; on CUDA, ``torch.cuda.max_memory_allocated``).

    python benchmarks/bench_rig_vs_ig.py            # small CNN and ResNet-18
    python benchmarks/bench_rig_vs_ig.py --device cuda
    python benchmarks/bench_rig_vs_ig.py --models efficientnet   # ImageNet model, 224x224

``efficientnet`` is the zoo's pretrained ``imagenet-efficientnet-lite0`` on real photos
(foolbox's ImageNet photos through ``captum_rank.data.load_photos``), attributed to their
labels; its results go to their own section of RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    interleaved_medians,
    markdown_table,
    peak_bytes,
    resident_bytes,
    write_section,
)

from captum_rank import RankIntegratedGradients

METHODS = ("ig", "rig_default", "rig_gausslegendre", "rig_spectral", "rig_with_ranks")
DEFAULT_MODELS = ("cnn", "resnet18")


def setup(name: str, device: str) -> tuple[nn.Module, Tensor, dict[str, Any]]:
    """Model, inputs and shared settings; never a silent stand-in for a missing model."""
    from captum_rank import zoo

    torch.manual_seed(0)
    if name == "cnn":
        from captum_rank.data import load_sample

        model = zoo.load("fmnist-natural")
        inputs = load_sample()[0][:64]
        settings: dict[str, Any] = dict(n_steps=50, internal_batch_size=64 * 25, target=0)
    elif name == "efficientnet":
        from captum_rank.data import load_photos

        model = zoo.load("imagenet-efficientnet-lite0")
        photos = load_photos(224, sources=["foolbox"]).labelled().subset([0, 1])
        inputs = photos.images
        settings = dict(n_steps=32, internal_batch_size=16, target=photos.labels.to(device))
    else:
        import torchvision

        model = torchvision.models.resnet18(weights=None).eval()
        inputs = torch.rand(2, 3, 224, 224)
        settings = dict(n_steps=32, internal_batch_size=16, target=0)
    return model.to(device), inputs.to(device), settings


def runner(method: str, model: nn.Module, inputs: Tensor, settings: dict[str, Any]
           ) -> Callable[[], object]:
    from captum.attr import IntegratedGradients

    common = dict(settings)
    if method == "ig":
        ig = IntegratedGradients(model)
        return lambda: ig.attribute(inputs, **common)
    rig = RankIntegratedGradients(model)
    if method == "rig_default":
        return lambda: rig.attribute(inputs, **common)
    if method == "rig_gausslegendre":
        return lambda: rig.attribute(inputs, method="gausslegendre", **common)
    if method == "rig_spectral":
        return lambda: rig.attribute(inputs, schedule="spectral", **common)
    return lambda: rig.attribute_with_ranks(inputs, **common)


def child(model_name: str, method: str, device: str, threads: int) -> None:
    """Measure one method's peak memory in this (fresh) process and print it as JSON."""
    torch.set_num_threads(threads)
    model, inputs, settings = setup(model_name, device)
    run = runner(method, model, inputs, settings)
    small = dict(settings, n_steps=2, internal_batch_size=inputs.shape[0] * 2)
    runner(method, model, inputs, small)()  # lazy init outside the measurement
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        run()
        torch.cuda.synchronize()
        print(json.dumps({"peak": torch.cuda.max_memory_allocated() - before}))
        return
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak-RSS watermark
    before = resident_bytes()
    run()
    print(json.dumps({"peak": peak_bytes() - before}))


def measure_memory(model_name: str, method: str, device: str, threads: int) -> float:
    # glibc keeps freed heap memory resident, so peak RSS would also count how the
    # allocator fragments; serving every allocation above 64 KiB by mmap returns freed
    # tensors to the OS at once, and peak RSS then tracks peak live memory.
    environment = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536", MALLOC_TRIM_THRESHOLD_="0")
    output = subprocess.run(
        [sys.executable, __file__, "--child", model_name, method, "--device", device,
         "--threads", str(threads)],
        check=True, capture_output=True, text=True, env=environment,
    ).stdout.strip().splitlines()[-1]
    return json.loads(output)["peak"] / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS),
                        choices=["cnn", "resnet18", "efficientnet"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--child", nargs=2, metavar=("MODEL", "METHOD"))
    args = parser.parse_args()
    if args.child:
        child(*args.child, args.device, args.threads)
        return
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]
    rows = []
    for model_name in args.models:
        model, inputs, settings = setup(model_name, args.device)
        times = interleaved_medians(
            {m: runner(m, model, inputs, settings) for m in METHODS}, args.repeats
        )
        memory = {m: measure_memory(model_name, m, args.device, args.threads) for m in METHODS}
        shape = "x".join(str(d) for d in inputs.shape)
        for method in METHODS:
            rows.append([
                model_name, shape, settings["n_steps"], settings["internal_batch_size"], method,
                f"{times[method]:.3f}", f"{times[method] / times['ig']:.3f}",
                f"{memory[method]:.1f}", f"{memory[method] / max(memory['ig'], 1e-9):.3f}",
            ])
    body = markdown_table(
        ["model", "inputs", "n_steps", "internal_batch_size", "method", "time (s)",
         "time / IG", "peak memory (MiB)", "memory / IG"],
        rows,
    )
    body += (
        "\n\n`cnn`: the zoo's `fmnist-natural` on bundled test images; `resnet18`: "
        "torchvision's ResNet-18 with **random weights** on random inputs (timing and memory "
        "do not depend on the weights). `rig_default`: `attribute` with the default "
        "schedule and rule (the adaptive rule keeps every node's gradient, so "
        "`internal_batch_size` does not bound its memory); `rig_gausslegendre`: the default "
        "schedule with IG's own rule; `rig_spectral`: the Spectral IG path; "
        "`rig_with_ranks`: pixel and rank attributions in one pass. Peak memory is the "
        "rise of peak RSS (CPU) or of allocated memory (CUDA) during the call."
    )
    if "efficientnet" in args.models:
        body += (
            " `efficientnet`: the zoo's pretrained `imagenet-efficientnet-lite0` on two of "
            "foolbox's ImageNet photos at 224x224 (3 channels of 224 singular components), "
            "each attributed to its label; `ig` is Captum's `IntegratedGradients`, run in "
            "the same process with the same `n_steps`, `internal_batch_size` and targets."
        )
    load_after = os.getloadavg()[0]
    # One busy core beyond the benchmark's own thread means something else was running.
    shared = max(load_before, load_after) > torch.get_num_threads() + 0.5
    body += (
        f"\n\nThreads: {torch.get_num_threads()} (torch.set_num_threads). Load average "
        f"(1 min) {load_before:.1f} at the start and {load_after:.1f} at the end on "
        f"{os.cpu_count()} cores: "
        + ("other jobs shared the machine, so the ratios are the numbers to read, not the "
           "seconds." if shared else "the benchmark ran alone on the machine.")
    )
    models = tuple(args.models)
    key = f"rig-vs-ig-{args.device}"
    title = f"RIG vs Captum IG ({args.device})"
    if models == ("efficientnet",):
        key = f"rig-vs-ig-imagenet-{args.device}"
        title = f"RIG vs Captum IG at 224x224 on the ImageNet model ({args.device})"
    elif models != DEFAULT_MODELS:
        key = f"rig-vs-ig-{'-'.join(models)}-{args.device}"
        title = f"RIG vs Captum IG: {', '.join(models)} ({args.device})"
    write_section(key, title, body)


if __name__ == "__main__":
    main()
