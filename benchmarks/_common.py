"""Shared plumbing for the benchmark scripts: machine facts, timing, RESULTS.md sections."""

from __future__ import annotations

import os
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

RESULTS = Path(__file__).with_name("RESULTS.md")


def zoo_model_and_images(model_name: str, count: int) -> tuple[torch.nn.Module, torch.Tensor, str]:
    """The zoo model, ``count`` real images for it and a description; raises if either is
    missing (never falls back to a random model): the ImageNet model gets the first photos
    of ``load_photos(size=224)``, the Fashion-MNIST models the bundled test sample."""
    from captum_rank import zoo

    model = zoo.load(model_name)
    if model_name.startswith("imagenet"):
        from captum_rank.data import load_photos

        # The first 20 are foolbox's labelled ImageNet photos: a machine without the other
        # sources (Debian's opencv-doc) can run up to 20.
        sources = ["foolbox"] if count <= 20 else None
        images = load_photos(size=224, sources=sources).images[:count]
        source = f"{images.shape[0]} photos of `captum_rank.data.load_photos(size=224)`"
    else:
        from captum_rank.data import load_sample

        images = load_sample()[0][:count]
        source = f"{images.shape[0]} bundled Fashion-MNIST test images (`load_sample()`)"
    return model, images, source


def status_bytes(field: str) -> int:
    """A memory figure of this process from /proc/self/status (``VmRSS``: resident now,
    ``VmHWM``: peak resident), in bytes; 0 where /proc has none."""
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return 0
    for line in lines:
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    return 0


def resident_bytes() -> int:
    """Resident memory of this process now, in bytes."""
    return status_bytes("VmRSS")


def peak_bytes() -> int:
    """Peak resident memory of this process so far, in bytes."""
    return status_bytes("VmHWM")


def machine() -> str:
    """One line that says what the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""
    return (
        f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads){gpu}, Python {platform.python_version()}"
    )


def command() -> str:
    return "python " + " ".join([sys.argv[0], *sys.argv[1:]])


def synchronize() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def interleaved_medians(
    functions: dict[str, Callable[[], object]], repeats: int
) -> dict[str, float]:
    """Median wall time of each function, run in rotating alternation so drift hits all alike."""
    for function in functions.values():  # warm-up: allocator, kernels, lazy init
        function()
    synchronize()
    samples: dict[str, list[float]] = {name: [] for name in functions}
    names = list(functions)
    for round_index in range(repeats):
        # Rotate the order every round: whichever runs first after another method pays
        # for page faults and allocator growth, and that must not always be the same one.
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            function = functions[name]
            start = time.perf_counter()
            function()
            synchronize()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in samples.items()}


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def write_section(key: str, title: str, body: str) -> None:
    """Replace (or append) this script's section of RESULTS.md, leaving the others."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\n" + (
        "Every section is written by the script it names; rerun the command to refresh it. "
        "Times are medians of interleaved runs and are reported as ratios: the machines "
        "are shared, so absolute seconds move between runs.\n"
    )
    section = (
        f"<!-- begin {key} -->\n## {title}\n\n"
        f"Command: `{command()}`  \nMachine: {machine()}  \n"
        f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n\n{body}\n<!-- end {key} -->"
    )
    pattern = re.compile(rf"<!-- begin {key} -->.*?<!-- end {key} -->", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    RESULTS.write_text(text)
    print(section)
