r"""Render a gallery of every plot in :mod:`captum_rank.visualization` to PNG files.

Usage::

    python examples/gallery.py --out gallery/

Models: the zoo's trained ``fmnist-natural`` and ``fmnist-robust``; images: the bundled
real Fashion-MNIST sample (``captum_rank.data.load_sample``). Both are package data; if
either cannot be loaded the script stops with exit status 1 and says why (it never falls
back to random models or images). The colour examples use scikit-image's bundled
``chelsea`` photo (scikit-image is a dependency of the ``dev`` extra).

Every figure is drawn from computed results or arrays: the rank path comes from
:func:`captum_rank.rank_path.rank_path`, spectra and accuracies from the audit's
``rank_spectrum`` and ``rank_accuracy``; class names from the zoo.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never open windows

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

try:
    import captum_rank  # noqa: F401
except ImportError:  # run from a source checkout without installing: use the checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from captum_rank import visualization as viz
from captum_rank.rank_path import default_path_ranks, rank_path

MODELS = ("fmnist-natural", "fmnist-robust")


def load_models() -> dict[str, nn.Module]:
    r"""The zoo's two trained Fashion-MNIST models; stops the script if they cannot load."""
    from captum_rank import zoo

    try:
        return {name: zoo.load(name).eval() for name in MODELS}
    except Exception as err:
        raise SystemExit(
            f"gallery: cannot load the zoo models {MODELS} ({type(err).__name__}: {err}); "
            "reinstall captum-rank (pip install -e .). No random models are substituted."
        ) from err


def load_images() -> tuple[torch.Tensor, torch.Tensor]:
    r"""The bundled real Fashion-MNIST sample ``(N, 1, 28, 28)`` in [0, 1] and labels."""
    from captum_rank.data import load_sample

    try:
        return load_sample()
    except Exception as err:
        raise SystemExit(
            f"gallery: cannot load the bundled Fashion-MNIST sample ({type(err).__name__}: "
            f"{err}); reinstall captum-rank. No random images are substituted."
        ) from err


def pick_examples(labels: torch.Tensor, n: int) -> list[int]:
    r"""Indices of ``n`` examples from different classes, spread over the classes."""
    classes = sorted({int(c) for c in labels})
    chosen = [classes[round(i * (len(classes) - 1) / max(n - 1, 1))] for i in range(n)]
    return [int((labels == c).nonzero()[0]) for c in chosen]


def low_rank_all(x: torch.Tensor, ks: list[int]) -> list[torch.Tensor]:
    r"""``low_rank(x, k)`` for every ``k`` in ``ks`` from a single SVD (same result)."""
    U, S, Vh = torch.linalg.svd(x, full_matrices=False)
    return [(U[..., :k] * S[..., None, :k]) @ Vh[..., :k, :] for k in ks]


def save(fig: Any, path: Path, written: list[Path]) -> None:
    fig.savefig(path, dpi=110)
    written.append(path)
    print(f"  wrote {path}")


def colour_examples(out: Path, written: list[Path]) -> None:
    r"""Colour photo in HWC uint8 with a CHW tensor map, and its rank path."""
    from skimage import data as skdata

    photo = skdata.chelsea()[::2, ::2]  # (150, 226, 3) uint8, HWC
    source = "skimage.data.chelsea (downsampled 2x)"
    grey = torch.from_numpy(photo.astype(np.float32).mean(axis=2) / 255)
    # A stand-in "attribution" with structure and both signs: horizontal image gradient,
    # as a CHW torch tensor that requires grad (the layouts differ on purpose).
    stand_in = torch.zeros(3, *grey.shape)
    stand_in[:, :, 1:] = grey[:, 1:] - grey[:, :-1]
    stand_in.requires_grad_(True)
    fig, _ = viz.visualize_image_attr_multiple(
        stand_in, photo, ["original_image", "heat_map", "blended_heat_map", "masked_image",
                          "alpha_scaling"],
        ["all", "all", "all", "absolute_value", "absolute_value"],
        titles=["photo (HWC uint8)", "heat map, all", "blended, all", "masked, |attr|",
                "alpha scaling, |attr|"],
        fig_size=(16, 3.6), use_pyplot=False, show_colorbar=True,
    )
    fig.suptitle(f"Colour image: {source}; stand-in map = horizontal image gradient "
                 "(CHW tensor with grad)")
    save(fig, out / "04_color_image_methods.png", written)

    x = torch.from_numpy(photo.astype(np.float32) / 255).permute(2, 0, 1)  # CHW
    r = min(x.shape[-2:])
    ranks = default_path_ranks(r, 7)
    curve_ranks = list(range(0, r + 1, max(1, r // 60)))
    if curve_ranks[-1] != r:
        curve_ranks.append(r)
    # Energy of the rank-k approximation: sum of the k largest s_i^2 (Eckart-Young).
    s2 = torch.linalg.svdvals(x) ** 2  # (3, r), per channel
    cumulative = torch.cat([torch.zeros(3, 1), s2.cumsum(1)], 1).sum(0) / s2.sum()

    def captured(k: int) -> float:
        return float(cumulative[k])

    images = torch.stack(low_rank_all(x, ranks))
    fig, _ = viz.plot_rank_path_arrays(
        images, [captured(k) for k in ranks], ranks, curve_ranks=curve_ranks,
        curve_scores=[captured(k) for k in curve_ranks],
        score_label="energy captured $\\|x_k\\|^2/\\|x\\|^2$", fig_size=(14, 4.8),
        title=f"Rank path of a colour photo (baseline 0), from arrays: {source}",
        use_pyplot=False,
    )
    save(fig, out / "07_rank_path_arrays_color.png", written)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("gallery"), help="output folder")
    parser.add_argument("--n-images", type=int, default=3, help="images in the grid")
    parser.add_argument("--n-steps", type=int, default=32, help="IG/RIG integration steps")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    torch.set_num_threads(min(2, torch.get_num_threads()))
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    from captum.attr import IntegratedGradients

    from captum_rank import RankIntegratedGradients, zoo
    from captum_rank.audit import rank_accuracy, rank_spectrum

    models = load_models()
    x_all, y_all = load_images()
    classes = zoo.class_names(MODELS[0])
    print(f"models: zoo {', '.join(models)}; images: {len(y_all)} bundled real Fashion-MNIST "
          "test images")
    idx = pick_examples(y_all, args.n_images)
    x, y = x_all[idx], y_all[idx]
    names = [classes[int(c)] for c in y]

    ig: dict[str, torch.Tensor] = {}
    rig: dict[str, torch.Tensor] = {}
    ranks: dict[str, torch.Tensor] = {}
    for name, model in models.items():
        ig[name] = IntegratedGradients(model).attribute(x, target=y, n_steps=args.n_steps)
        pixel, rank_attr = RankIntegratedGradients(model).attribute_with_ranks(
            x, target=y, n_steps=args.n_steps)
        rig[name], ranks[name] = pixel, rank_attr
    first = next(iter(models))

    # 1. Captum's five methods on one RIG map (tensor inputs, CHW, grey image).
    fig, _ = viz.visualize_image_attr_multiple(
        rig[first][0], x[0], ["original_image", "heat_map", "blended_heat_map",
                              "masked_image", "alpha_scaling"],
        ["all", "all", "all", "positive", "absolute_value"],
        titles=["image", "heat map (all)", "blended (all)", "masked (positive)",
                "alpha scaling (|attr|)"],
        fig_size=(15, 3.8), use_pyplot=False, show_colorbar=True,
    )
    fig.suptitle(f"visualize_image_attr_multiple: RIG of {first}, "
                 f"class {names[0]!r}")
    save(fig, out / "01_captum_methods.png", written)

    # 2. A single Captum-style heat map with colour bar.
    fig, _ = viz.visualize_image_attr(
        rig[first][0], x[0], "blended_heat_map", "all", show_colorbar=True,
        title=f"RIG, {first}\nclass {names[0]!r} (blended, sign=all)",
        fig_size=(4.5, 5), use_pyplot=False,
    )
    save(fig, out / "02_visualize_image_attr.png", written)

    # 3. Own scales versus one shared scale: only the shared one compares magnitudes.
    fig = Figure(figsize=(9, 5.2), layout="constrained")
    axes = fig.subplots(2, len(models) * 2)
    scale = viz.shared_scale([ig[m][0] for m in models] + [rig[m][0] for m in models],
                             sign="absolute_value")
    for row, shared in enumerate((False, True)):
        col = 0
        for m in models:
            for attribution, maps in (("IG", ig), ("RIG", rig)):
                viz.visualize_image_attr(
                    maps[m][0], x[0], "heat_map", "absolute_value",
                    plt_fig_axis=(fig, axes[row, col]), use_pyplot=False,
                    scale=scale if shared else None,
                    title=f"{m}\n{attribution}, {'shared' if shared else 'own'} scale",
                )
                axes[row, col].title.set_fontsize("small")
                col += 1
    fig.suptitle("Own scale per map (top) vs one shared_scale (bottom)")
    save(fig, out / "03_shared_vs_own_scale.png", written)

    # 4 and 7. Colour image: layouts, uint8 image, rank path from arrays.
    colour_examples(out, written)

    # 5. Rank spectrum of every model (averaged over the images).
    fig, _ = viz.plot_rank_spectrum(
        ranks, normalize="abs", title=f"Rank spectrum of RIG, mean over {len(idx)} images"
        f"", use_pyplot=False)
    save(fig, out / "05_rank_spectrum.png", written)

    # 6. Rank path with the model's score, one per model: computed, then plotted.
    for m, model in models.items():
        path = rank_path(model, x[0], target=int(y[0]))
        fig, _ = viz.plot_rank_path(
            path, score="prob", class_names=classes, use_pyplot=False, fig_size=(12, 4.6),
            title=f"Rank path of a {names[0]!r} image (baseline 0), {m}")
        save(fig, out / f"06_rank_path_{m}.png", written)

    # 8. IG, RIG and spectra for all models and images, one colour scale per attribution.
    rows: dict[str, dict[str, Any]] = {
        m: {"ig": ig[m], "rig": rig[m], "ranks": ranks[m]} for m in models
    }
    fig, _ = viz.plot_comparison_grid(
        x, rows, image_titles=names, use_pyplot=False,
        title="IG and RIG on shared scales per method")
    save(fig, out / "08_comparison_grid.png", written)

    # 9. Accuracy on low-rank approximations and high-rank residuals (the audit's result).
    k_list = [0, 1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 28]
    accuracy = rank_accuracy(models, (x_all, y_all), k_list, progress=False)
    fig, _ = viz.plot_accuracy_result(
        accuracy, chance=1 / len(classes), use_pyplot=False,
        title=f"Accuracy vs rank on {accuracy.n_images} images")
    save(fig, out / "09_accuracy_vs_rank.png", written)

    # 10. Rank spectra by class (the audit's result, its own method names, class names).
    spectra = rank_spectrum(models, (x_all, y_all), n_steps=args.n_steps, progress=False)
    fig, _ = viz.plot_spectrum_result(
        spectra, attributions=next(iter(spectra.attributions)), model=MODELS[1],
        class_names=classes, use_pyplot=False)
    save(fig, out / f"10_rank_spectrum_by_class_{MODELS[1]}.png", written)

    print(f"{len(written)} PNG files in {out}/ ({time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

