r"""Render a gallery of every plot in :mod:`captum_rank.visualization` to PNG files.

Usage::

    python examples/gallery.py --out gallery/

Models: the zoo's ``fmnist-natural`` and ``fmnist-robust`` when ``captum_rank.zoo`` can
load them; otherwise two small randomly initialised CNNs with fixed seeds (the script
says which it used, and the figures' titles say so too). Images: the bundled real
Fashion-MNIST sample (``captum_rank.data.load_sample``), else foolbox's bundled
Fashion-MNIST test PNGs, else random images. The colour examples use scikit-image's
bundled ``chelsea`` photo when scikit-image is installed.
"""

from __future__ import annotations

import argparse
import os
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

FMNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                  "Sneaker", "Bag", "Ankle boot")


def _random_cnn(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, 10),
    ).eval()


def load_models() -> tuple[dict[str, nn.Module], str]:
    r"""The zoo's two Fashion-MNIST models, or two seeded random CNNs as a fallback."""
    wanted = ("fmnist-natural", "fmnist-robust")
    try:
        from captum_rank import zoo

        names = set(zoo.available())
        if all(name in names for name in wanted):
            return {name: zoo.load(name).eval() for name in wanted}, "captum_rank.zoo"
        reason = f"zoo.available() = {sorted(names)} lacks {wanted}"
    except Exception as err:  # any failure: the gallery must still render
        reason = f"captum_rank.zoo unusable ({type(err).__name__}: {err})"
    print(f"NOTE: {reason}; using two RANDOMLY INITIALISED CNNs (seeds 0 and 1) instead.")
    return {"random-cnn-a": _random_cnn(0), "random-cnn-b": _random_cnn(1)}, "random"


def load_images() -> tuple[torch.Tensor, torch.Tensor, str]:
    r"""Real Fashion-MNIST images ``(N, 1, 28, 28)`` in [0, 1] and labels."""
    try:
        from captum_rank.data import load_sample

        x, y = load_sample()
        return x, y, "captum_rank.data.load_sample (real Fashion-MNIST test images)"
    except Exception as err:
        print(f"NOTE: captum_rank.data.load_sample unusable ({err}); trying foolbox images.")
    try:
        import foolbox
        from PIL import Image

        folder = Path(os.path.dirname(foolbox.__file__)) / "data"
        files = sorted(folder.glob("fashionMNIST_*.png"))
        if files:
            arrays = [np.asarray(Image.open(f).convert("L"), dtype=np.float32) / 255 for f in files]
            labels = [int(f.stem.rsplit("_", 1)[1]) for f in files]
            return (torch.from_numpy(np.stack(arrays))[:, None], torch.tensor(labels),
                    "foolbox's bundled Fashion-MNIST test images")
    except Exception as err:
        print(f"NOTE: foolbox images unusable ({err}).")
    print("NOTE: no real images found; using RANDOM images.")
    torch.manual_seed(0)
    return torch.rand(20, 1, 28, 28), torch.arange(20) % 10, "random images"


def pick_examples(labels: torch.Tensor, n: int) -> list[int]:
    r"""Indices of ``n`` examples from different classes, spread over the classes."""
    classes = sorted({int(c) for c in labels})
    chosen = [classes[round(i * (len(classes) - 1) / max(n - 1, 1))] for i in range(n)]
    return [int((labels == c).nonzero()[0]) for c in chosen]


def low_rank_all(x: torch.Tensor, ks: list[int]) -> list[torch.Tensor]:
    r"""``low_rank(x, k)`` for every ``k`` in ``ks`` from a single SVD (same result)."""
    U, S, Vh = torch.linalg.svd(x, full_matrices=False)
    return [(U[..., :k] * S[..., None, :k]) @ Vh[..., :k, :] for k in ks]


def accuracy_curves(
    models: dict[str, nn.Module], x: torch.Tensor, y: torch.Tensor, ranks: list[int]
) -> dict[str, dict[str, list[float]]]:
    r"""Accuracy on low-rank approximations and high-rank residuals of ``x``."""
    curves: dict[str, dict[str, list[float]]] = {}
    with torch.no_grad():
        approximations = low_rank_all(x, ranks)
        for name, model in models.items():
            low, high = [], []
            for x_k in approximations:
                low.append(float((model(x_k).argmax(1) == y).float().mean()))
                high.append(float((model(x - x_k).argmax(1) == y).float().mean()))
            curves[name] = {"low_rank": low, "high_rank": high}
    return curves


def save(fig: Any, path: Path, written: list[Path]) -> None:
    fig.savefig(path, dpi=110)
    written.append(path)
    print(f"  wrote {path}")


def colour_examples(out: Path, written: list[Path]) -> None:
    r"""Colour photo in HWC uint8 with a CHW tensor map, and its rank path."""
    try:
        from skimage import data as skdata

        photo = skdata.chelsea()[::2, ::2]  # (150, 226, 3) uint8, HWC
        source = "skimage.data.chelsea (downsampled 2x)"
    except Exception:
        rng = np.random.default_rng(0)
        photo = (rng.random((96, 128, 3)) * 255).astype(np.uint8)
        source = "random colour image"
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
    ranks = viz.default_path_ranks(r, 7)
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

    from captum_rank import RankIntegratedGradients

    models, model_source = load_models()
    x_all, y_all, image_source = load_images()
    print(f"models: {model_source} ({', '.join(models)}); images: {image_source}")
    note = "" if model_source == "captum_rank.zoo" else " [RANDOM untrained models]"
    idx = pick_examples(y_all, args.n_images)
    x, y = x_all[idx], y_all[idx]
    names = [FMNIST_CLASSES[int(c)] if int(c) < 10 else str(int(c)) for c in y]

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
    fig.suptitle(f"visualize_image_attr_multiple: RIG of {first}{note}, "
                 f"class {names[0]!r}")
    save(fig, out / "01_captum_methods.png", written)

    # 2. A single Captum-style heat map with colour bar.
    fig, _ = viz.visualize_image_attr(
        rig[first][0], x[0], "blended_heat_map", "all", show_colorbar=True,
        title=f"RIG, {first}{note}\nclass {names[0]!r} (blended, sign=all)",
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
            for meth, maps in (("IG", ig), ("RIG", rig)):
                viz.visualize_image_attr(
                    maps[m][0], x[0], "heat_map", "absolute_value",
                    plt_fig_axis=(fig, axes[row, col]), use_pyplot=False,
                    scale=scale if shared else None,
                    title=f"{m}\n{meth}, {'shared' if shared else 'own'} scale",
                )
                axes[row, col].title.set_fontsize("small")
                col += 1
    fig.suptitle(f"Own scale per map (top) vs one shared_scale (bottom){note}")
    save(fig, out / "03_shared_vs_own_scale.png", written)

    # 4 and 7. Colour image: layouts, uint8 image, rank path from arrays.
    colour_examples(out, written)

    # 5. Rank spectrum of every model (averaged over the images).
    fig, _ = viz.plot_rank_spectrum(
        ranks, normalize="abs", title=f"Rank spectrum of RIG, mean over {len(idx)} images"
        f"{note}", use_pyplot=False)
    save(fig, out / "05_rank_spectrum.png", written)

    # 6. Rank path with the model's score, one per model.
    for m, model in models.items():
        fig, _ = viz.plot_rank_path(
            model, x[0], target=int(y[0]), score="prob", use_pyplot=False,
            fig_size=(12, 4.6),
            title=f"Rank path of a {names[0]!r} image (baseline 0), {m}{note}")
        save(fig, out / f"06_rank_path_{m}.png", written)

    # 8. IG, RIG and spectra for all models and images, one colour scale per method.
    rows: dict[str, dict[str, Any]] = {
        m: {"ig": ig[m], "rig": rig[m], "ranks": ranks[m]} for m in models
    }
    fig, _ = viz.plot_comparison_grid(
        x, rows, image_titles=names, use_pyplot=False,
        title=f"IG and RIG on shared scales per method{note}")
    save(fig, out / "08_comparison_grid.png", written)

    # 9. Accuracy on low-rank approximations and high-rank residuals.
    k_list = [0, 1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 28]
    curves = accuracy_curves(models, x_all, y_all, k_list)
    fig, _ = viz.plot_accuracy_vs_rank(
        k_list, curves, chance=0.1, use_pyplot=False,
        title=f"Accuracy vs rank on {len(y_all)} images{note}")
    save(fig, out / "09_accuracy_vs_rank.png", written)

    print(f"{len(written)} PNG files in {out}/ ({time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

