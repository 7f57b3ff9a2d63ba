"""The reconstruction kernel against torch.linalg.svd with autograd.

Forward + backward of a rank-k truncation, ``low_rank(x, k)`` against
``U[..., :k] diag(S[:k]) Vh[:k]`` differentiated by torch's own SVD backward, on the
same inputs in the same run; then the share of non-finite gradient entries of each on a
set of degenerate but ordinary images (zeros, constants, rank one, black borders, flat
regions, digits, and 200 real Fashion-MNIST images from the bundled sample).

    python benchmarks/bench_kernel.py [--device cuda]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch import Tensor

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import interleaved_medians, markdown_table, write_section

from captum_rank import low_rank


def torch_truncation(x: Tensor, k: int) -> Tensor:
    U, S, Vh = torch.linalg.svd(x, full_matrices=False)
    return (U[..., :k] * S[..., None, :k]) @ Vh[..., :k, :]


def forward_backward(function, x: Tensor, k: int, upstream: Tensor) -> Tensor:  # type: ignore[no-untyped-def]
    leaf = x.detach().requires_grad_()
    (function(leaf, k) * upstream).sum().backward()
    assert leaf.grad is not None
    return leaf.grad


def degenerate_images(size: int = 28) -> Tensor:
    gen = torch.Generator().manual_seed(0)
    images = []
    images.append(torch.zeros(size, size))
    images.append(torch.full((size, size), 0.5))
    images.append(torch.outer(torch.rand(size, generator=gen), torch.rand(size, generator=gen)))
    bordered = torch.zeros(size, size)
    bordered[4:-4, 4:-4] = torch.rand(size - 8, size - 8, generator=gen)
    images.append(bordered)
    flat = torch.full((size, size), 0.3)
    flat[8:20, 8:20] = 0.8
    images.append(flat)
    digit = torch.zeros(size, size)
    digit[5:23, 12:16] = 1.0
    digit[5:8, 8:20] = 1.0
    images.append(digit)
    batch = torch.stack(images).unsqueeze(1)
    from captum_rank.data import load_sample  # package data: fails loudly if missing

    real = load_sample()[0][:200]
    return torch.cat([batch, real])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = args.device
    cases = [
        ("64x1x28x28", (64, 1, 28, 28), 5, torch.float32),
        ("64x1x28x28", (64, 1, 28, 28), 5, torch.float64),
        ("16x3x64x64", (16, 3, 64, 64), 10, torch.float32),
        ("4x3x224x224", (4, 3, 224, 224), 20, torch.float32),
        ("32x1x40x20", (32, 1, 40, 20), 4, torch.float32),
    ]
    rows = []
    for label, shape, k, dtype in cases:
        x = torch.rand(shape, dtype=dtype, device=device)
        upstream = torch.randn(shape, dtype=dtype, device=device)
        times = interleaved_medians(
            {
                "ours": lambda x=x, k=k, g=upstream: forward_backward(low_rank, x, k, g),
                "torch": lambda x=x, k=k, g=upstream: forward_backward(torch_truncation, x, k, g),
            },
            args.repeats,
        )
        agreement = float((forward_backward(low_rank, x, k, upstream)
                           - forward_backward(torch_truncation, x, k, upstream)).abs().max())
        rows.append([label, str(dtype).replace("torch.", ""), k, f"{times['ours'] * 1e3:.2f}",
                     f"{times['torch'] * 1e3:.2f}", f"{times['ours'] / times['torch']:.3f}",
                     f"{agreement:.1e}"])
    body = "### Forward + backward time\n\n" + markdown_table(
        ["input", "dtype", "rank", "low_rank (ms)", "torch SVD autograd (ms)", "ours / torch",
         "max |grad difference|"],
        rows,
    )

    images = degenerate_images().to(device)
    upstream = torch.randn(images.shape, generator=torch.Generator().manual_seed(1)).to(device)
    rows = []
    for k in (1, 3, 5, 10):
        ours = forward_backward(low_rank, images, k, upstream)
        theirs = forward_backward(torch_truncation, images, k, upstream)
        bad_ours = (~torch.isfinite(ours)).flatten(1).any(1)
        bad_theirs = (~torch.isfinite(theirs)).flatten(1).any(1)
        rows.append([
            k, images.shape[0],
            f"{int(bad_ours.sum())} ({float((~torch.isfinite(ours)).float().mean()):.1%})",
            f"{int(bad_theirs.sum())} ({float((~torch.isfinite(theirs)).float().mean()):.1%})",
        ])
    body += (
        f"\n\n### Non-finite gradients on {images.shape[0]} degenerate or real images "
        "(6 synthetic: zero, constant, rank one, black border, flat regions, digit; the rest "
        "real Fashion-MNIST test images when the bundled sample is installed)\n\n"
    )
    body += markdown_table(
        ["rank", "images", "low_rank: images with NaN/inf (share of entries)",
         "torch SVD autograd: images with NaN/inf (share of entries)"],
        rows,
    )
    write_section(f"kernel-{device}", f"SVD kernel vs torch.linalg.svd autograd ({device})", body)


if __name__ == "__main__":
    main()
