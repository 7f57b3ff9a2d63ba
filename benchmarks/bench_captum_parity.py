"""RIG on IG's straight line against Captum, side by side: the largest differences.

Where the path is the straight line (``schedule="linear"``, or feature vectors under any
schedule) and ``method`` is left out, RIG must give Captum IG's numbers and Layer RIG
Captum LIG's, to float rounding. For contrast, the last rows ask for RIG's adaptive rule
on the straight line (the default there before issue 21): a different quadrature, so a
quadrature-sized difference.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_captum_parity.py`` (CPU, about 20 s).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from captum.attr import IntegratedGradients, LayerIntegratedGradients, NoiseTunnel
from torch import Tensor

from captum_rank import LayerRankIntegratedGradients, RankIntegratedGradients, zoo
from captum_rank.data import load_sample
from captum_rank.zoo.text import load_text_model


def _row(name: str, ours: Tensor, theirs: Tensor) -> None:
    gap = float((ours - theirs).abs().max())
    scale = float(theirs.abs().max())
    print(f"| {name} | {gap:.2e} | {gap / scale:.2e} | {scale:.3g} |")


def main() -> None:
    torch.manual_seed(0)
    images, labels = load_sample()
    x, y = images[:16], labels[:16]
    cnn = zoo.load("fmnist-robust")
    text = load_text_model()
    tokens = text.tokenize(images[:16])
    flat = x.flatten(1)

    def flat_model(features: Tensor) -> Tensor:
        return cnn(features.reshape(-1, 1, 28, 28))

    print("| comparison (16 Fashion-MNIST test images, n_steps=50) | max abs diff | "
          "max rel diff | max abs value |")
    print("|---|---|---|---|")
    cases: list[tuple[str, Callable[[], Tensor], Callable[[], Tensor]]] = [
        ("RIG(linear) vs IG, CNN on images",
         lambda: RankIntegratedGradients(cnn).attribute(x, target=y, schedule="linear"),
         lambda: IntegratedGradients(cnn).attribute(x, target=y)),
        ("RIG(arc_length) vs IG, the CNN on (N, 784) feature vectors",
         lambda: RankIntegratedGradients(flat_model).attribute(flat, target=y),
         lambda: IntegratedGradients(flat_model).attribute(flat, target=y)),
        ("Layer RIG(linear) vs LIG, text model's embedding (N, 28, D)",
         lambda: LayerRankIntegratedGradients(text, text.embedding).attribute(
             tokens, baselines=0, target=y, schedule="linear"),
         lambda: LayerIntegratedGradients(text, text.embedding).attribute(
             tokens, baselines=0, target=y)),
        ("Layer RIG(linear) vs LIG, CNN's first conv",
         lambda: LayerRankIntegratedGradients(cnn, cnn.features[0]).attribute(
             x, target=y, schedule="linear"),
         lambda: LayerIntegratedGradients(cnn, cnn.features[0]).attribute(x, target=y)),
        ("Layer RIG(arc_length) vs LIG, CNN's (N, F) classifier input",
         lambda: LayerRankIntegratedGradients(cnn, cnn.classifier[1]).attribute(x, target=y),
         lambda: LayerIntegratedGradients(cnn, cnn.classifier[1]).attribute(x, target=y)),
    ]
    for nt_type in ("smoothgrad", "smoothgrad_sq", "vargrad"):
        def ours(nt_type: str = nt_type) -> Tensor:
            torch.manual_seed(1)
            return NoiseTunnel(RankIntegratedGradients(cnn)).attribute(
                x, nt_type=nt_type, nt_samples=4, stdevs=0.1, target=y, schedule="linear")

        def theirs(nt_type: str = nt_type) -> Tensor:
            torch.manual_seed(1)
            return NoiseTunnel(IntegratedGradients(cnn)).attribute(
                x, nt_type=nt_type, nt_samples=4, stdevs=0.1, target=y)

        cases.append((f"NoiseTunnel {nt_type}: RIG(linear) vs IG", ours, theirs))
    cases += [
        ("contrast: RIG(linear, method='adaptive') vs IG",
         lambda: RankIntegratedGradients(cnn).attribute(x, target=y, schedule="linear",
                                                        method="adaptive"),
         lambda: IntegratedGradients(cnn).attribute(x, target=y)),
        ("contrast: Layer RIG(linear, method='adaptive') vs LIG, embedding",
         lambda: LayerRankIntegratedGradients(text, text.embedding).attribute(
             tokens, baselines=0, target=y, schedule="linear", method="adaptive"),
         lambda: LayerIntegratedGradients(text, text.embedding).attribute(
             tokens, baselines=0, target=y)),
    ]
    for name, mine, captum in cases:
        _row(name, mine(), captum())


if __name__ == "__main__":
    main()
