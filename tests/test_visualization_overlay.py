"""Tests of captum_rank.visualization.overlay: maps over the photo, sizes, the scale rule.

Headless (Agg). The pixels of every panel are read back from the saved figure and
compared with :func:`render_image_attr` (Captum's rules, checked against Captum in
test_visualization.py), enlarged by whole pixels: one map pixel is a k x k block.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib import pyplot as plt
from PIL import Image

from captum_rank import visualization as viz
from captum_rank.checks import UserInputError, UserTypeError


@pytest.fixture(autouse=True)
def _close() -> None:
    yield
    plt.close("all")


def _texts(fig: matplotlib.figure.Figure) -> str:
    found = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        found += [t.get_text() for t in ax.texts]
        found += [ax.get_title(), ax.get_xlabel()]
    return "\n".join(found)


def _pixels(fig: matplotlib.figure.Figure) -> np.ndarray:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=fig.dpi)
    return np.asarray(Image.open(buffer).convert("RGB"), dtype=np.float64) / 255.0


def _panel(fig: matplotlib.figure.Figure, pixels: np.ndarray, ax: matplotlib.axes.Axes
           ) -> np.ndarray:
    box = ax.get_window_extent()
    height = pixels.shape[0]
    top, left = round(height - box.y1), round(box.x0)
    return pixels[top:top + round(box.height), left:left + round(box.width)]


def _photo(h: int = 28, w: int = 28, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((h, w, 3))


@pytest.mark.parametrize(("h", "w", "dpi", "k"), [(28, 28, 100, 8), (224, 224, 100, 1),
                                                  (50, 70, 72, 4), (300, 200, 100, 1)])
def test_every_map_pixel_is_a_whole_block_of_screen_pixels(h: int, w: int, dpi: int,
                                                            k: int) -> None:
    image = _photo(h, w)
    attr = np.random.default_rng(1).normal(size=(h, w))
    fig, axes = viz.plot_maps_over_image(image, {"IG": attr}, view="signed", share="attribution",
                                         dpi=dpi, use_pyplot=False)
    box = axes[0, 1].get_window_extent()
    assert (round(box.width), round(box.height)) == (k * w, k * h)
    assert round(box.width) >= w and round(box.height) >= h
    assert min(k * h, k * w) >= 1 and max(k * h, k * w) >= 224  # min_panel_px
    shown = _panel(fig, _pixels(fig), axes[0, 1])
    expected = viz.render_image_attr(attr, image, "heat_map", "all", 2, layout="HW",
                                     image_layout="HWC")[:, :, :3]
    expected = np.repeat(np.repeat(expected, k, axis=0), k, axis=1)
    assert shown.shape == expected.shape
    assert np.abs(shown - expected).max() <= 1.5 / 255


@settings(max_examples=12, deadline=None)
@given(h=st.integers(1, 40), w=st.integers(1, 40), min_px=st.integers(1, 300))
def test_panel_is_the_smallest_whole_enlargement_that_reaches_min_panel_px(
        h: int, w: int, min_px: int) -> None:
    fig, axes = viz.plot_maps_over_image(np.zeros((h, w)), {"m": np.ones((h, w))},
                                         share="all", min_panel_px=min_px, use_pyplot=False)
    k = max(1, -(-min_px // max(h, w)))
    for ax in axes[0]:
        box = ax.get_window_extent()
        assert (round(box.width), round(box.height)) == (k * w, k * h)
    plt.close(fig)


def test_blended_view_is_captums_blend_over_the_grey_photo() -> None:
    image = _photo(seed=3)
    attr = np.zeros((28, 28))
    attr[:14] = 1.0
    attr[14:] = -1.0
    fig, axes = viz.plot_maps_over_image(image, {"RIG": attr}, view="blended", share="attribution",
                                         alpha_overlay=0.6, use_pyplot=False)
    shown = _panel(fig, _pixels(fig), axes[0, 1])[::8, ::8]
    grey = image.mean(axis=2, keepdims=True)
    # Top half +1 (green, (0, 0.5, 0)), bottom half -1 (red), each at alpha 0.6 over grey.
    green = 0.4 * grey + 0.6 * np.array([0.0, 128 / 255, 0.0])
    red = 0.4 * grey + 0.6 * np.array([1.0, 0.0, 0.0])
    assert np.abs(shown[:14] - green[:14]).max() <= 2 / 255
    assert np.abs(shown[14:] - red[14:]).max() <= 2 / 255


def test_absolute_view_draws_magnitudes_and_signed_view_keeps_the_sign() -> None:
    attr = np.full((28, 28), -3.0)
    fig, axes = viz.plot_maps_over_image(_photo(), {"m": attr}, view="absolute",
                                         share="attribution", use_pyplot=False)
    absolute = _panel(fig, _pixels(fig), axes[0, 1])
    assert "View: absolute heat map" in _texts(fig)
    fig, axes = viz.plot_maps_over_image(_photo(), {"m": attr}, view="signed",
                                         share="attribution", use_pyplot=False)
    signed = _panel(fig, _pixels(fig), axes[0, 1])
    blues = np.asarray(matplotlib.colormaps["Blues"](1.0)[:3])
    assert np.abs(absolute - blues).max() <= 1.5 / 255  # |-3| at full colour
    assert np.abs(signed - np.array([1.0, 0.0, 0.0])).max() <= 1.5 / 255  # full red
    assert "View: signed heat map" in _texts(fig)


@pytest.mark.parametrize(("share", "rows", "rules"), [
    ("attribution", 1, ["each column its own"]),
    ("all", 1, ["one for all columns"]),
    ("both", 2, ["each column its own", "one for all columns"]),
])
def test_the_scale_rule_and_its_values_are_written_on_the_figure(share: str, rows: int,
                                                                 rules: list[str]) -> None:
    rng = np.random.default_rng(5)
    ig, rig = 4.0 * rng.normal(size=(28, 28)), 0.5 * rng.normal(size=(28, 28))
    fig, axes = viz.plot_maps_over_image(_photo(), {"IG": ig, "RIG": rig}, share=share,
                                         outlier_perc=0, use_pyplot=False)
    assert axes.shape == (rows, 3)
    text = _texts(fig)
    for rule in rules:
        assert f"Colour scale: {rule}" in text
    # outlier_perc=0: full colour at the largest magnitude (an independent oracle).
    if share in ("attribution", "both"):
        assert f"IG {np.abs(ig).max():.2g}, RIG {np.abs(rig).max():.2g}" in text
    if share in ("all", "both"):
        assert f"full colour at {max(np.abs(ig).max(), np.abs(rig).max()):.2g};" in text
    assert "View: signed map over the grey photo" in text
    # One colour bar per map column and row, in attribution units.
    bars = [ax for ax in fig.axes if ax not in set(axes.flat)]
    assert len(bars) == 2 * rows


def test_panel_scales_and_given_scales() -> None:
    a = np.arange(16.0).reshape(4, 4)
    scales = viz.panel_scales({"a": a, "b": [2 * a, 3 * a], "c": None}, share="attribution",
                              outlier_perc=0)
    assert scales == {"a": 15.0, "b": 45.0, "c": 0.0}
    assert viz.panel_scales({"a": a, "b": -2 * a}, view="absolute", share="all",
                            outlier_perc=0) == {"a": 30.0, "b": 30.0}
    fig, _ = viz.plot_maps_over_image(np.zeros((4, 4)), {"a": a}, share="attribution",
                                      scales={"attribution": {"a": 99.0}}, scope="all 3 images",
                                      use_pyplot=False)
    assert "full colour at a 99; the top 2% of |attribution| mass saturates, pooled over " \
           "all 3 images" in _texts(fig).replace("\n", " ")
    with pytest.raises(UserInputError, match="no scale for"):
        viz.plot_maps_over_image(np.zeros((4, 4)), {"a": a}, share="attribution",
                                 scales={"attribution": {"b": 1.0}}, use_pyplot=False)


def test_all_zero_and_missing_maps_draw_and_say_so() -> None:
    image = torch.rand(3, 16, 16)
    fig, axes = viz.plot_maps_over_image(image, {"zero": torch.zeros(3, 16, 16), "gone": None},
                                         use_pyplot=False)
    text = _texts(fig)
    assert "zero 0 (all-zero map)" in text and "all zero" in text and "not drawn" in text
    assert "gone 0" not in text  # a map not drawn sets no scale
    shown = _panel(fig, _pixels(fig), axes[0, 1])[::14, ::14]
    # An all-zero map is white (the middle of red-white-green) at alpha 0.5 over grey.
    grey = image.numpy().mean(axis=0)[:, :, None]
    assert np.abs(shown - (0.5 * grey + 0.5)).max() <= 2 / 255


def test_bad_arguments_name_themselves() -> None:
    image, attr = np.zeros((8, 8)), {"m": np.ones((8, 8))}
    with pytest.raises(UserInputError, match="`view`"):
        viz.plot_maps_over_image(image, attr, view="heat", use_pyplot=False)
    with pytest.raises(UserInputError, match="`share`"):
        viz.plot_maps_over_image(image, attr, share="none", use_pyplot=False)
    with pytest.raises(UserInputError, match="`maps`"):
        viz.plot_maps_over_image(image, {}, use_pyplot=False)
    with pytest.raises(UserInputError, match="maps\\['m'\\]"):
        viz.plot_maps_over_image(image, {"m": np.ones((8, 9))}, use_pyplot=False)
    with pytest.raises(UserInputError, match="min_panel_px"):
        viz.plot_maps_over_image(image, attr, min_panel_px=0, use_pyplot=False)
    with pytest.raises(UserInputError, match="alpha_overlay"):
        viz.plot_maps_over_image(image, attr, alpha_overlay=2, use_pyplot=False)
    with pytest.raises(UserInputError, match="attr"):
        viz.plot_maps_over_image(image, {"m": np.full((8, 8), np.nan)}, use_pyplot=False)
    with pytest.raises(UserTypeError, match="notes"):
        viz.plot_maps_over_image(image, attr, notes=["x"], use_pyplot=False)  # type: ignore[arg-type]


def test_the_docs_list_every_view_and_scale_rule() -> None:
    import re
    from pathlib import Path

    page = (Path(__file__).resolve().parents[1] / "docs" / "report.md").read_text()

    def first_column(header: str) -> list[str]:
        lines = page.splitlines()
        start = next(n for n, line in enumerate(lines) if line.startswith(header))
        rows = []
        for line in lines[start + 2:]:
            if not line.startswith("|"):
                break
            rows.append(re.match(r"^\| `([a-z]+)`", line).group(1))  # type: ignore[union-attr]
        return rows

    assert first_column("| view |") == list(viz.VIEWS)
    assert first_column("| scale |") == list(viz.SHARES)


def test_blended_view_matches_captums_own_blended_heat_map() -> None:
    # Captum draws the grey photo, then the normalised map with alpha on top; composing its
    # two artists gives the pixels our panel must show.
    from captum.attr import visualization as captum_viz

    rng = np.random.default_rng(11)
    image = rng.random((28, 28, 3))
    image[0, 0], image[0, 1] = 0.0, 1.0  # Captum's grey autoscales: span [0, 1] exactly
    attr = rng.normal(size=(28, 28, 3))
    _, ax = captum_viz.visualize_image_attr(attr, image, "blended_heat_map", "all",
                                            alpha_overlay=0.7, outlier_perc=2,
                                            use_pyplot=False)
    grey, heat = ax.images
    alpha = heat.get_alpha()
    expected = ((1 - alpha) * grey.to_rgba(grey.get_array())[:, :, :3]
                + alpha * heat.to_rgba(heat.get_array())[:, :, :3])
    fig, axes = viz.plot_maps_over_image(image, {"m": attr}, view="blended", share="attribution",
                                         alpha_overlay=0.7, use_pyplot=False)
    shown = _panel(fig, _pixels(fig), axes[0, 1])[::8, ::8]
    assert np.abs(shown - expected).max() <= 2 / 255
