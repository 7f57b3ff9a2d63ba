r"""Tests of captum_rank.visualization: headless (Agg), small arrays, figures closed."""

from __future__ import annotations

import ast
import doctest
import importlib
import inspect
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from matplotlib import pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from captum_rank import visualization as viz
from captum_rank.checks import UserInputError, UserTypeError
from captum_rank.summaries import cumulative_share

FAST = settings(max_examples=25, deadline=None)
SIGNS = ("positive", "negative", "absolute_value", "all")
H, W = 8, 10


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


def _image_array(ax: Axes) -> np.ndarray:
    return np.asarray(ax.images[-1].get_array())


def _ydata(ax: Axes, index: int) -> np.ndarray:
    return np.asarray(ax.get_lines()[index].get_ydata(), dtype=float)


def _xdata(ax: Axes, index: int) -> np.ndarray:
    return np.asarray(ax.get_lines()[index].get_xdata(), dtype=float)


# --------------------------------------------------------------------------------------
# Layouts and types
# --------------------------------------------------------------------------------------

LAYOUT_CASES = {
    "torch CHW grey, grad": lambda a: torch.tensor(a[None], requires_grad=True),
    "torch CHW rgb": lambda a: torch.tensor(np.stack([a, a, a])),
    "torch NCHW batch of 1": lambda a: torch.tensor(a[None, None]),
    "torch float64 HW": lambda a: torch.tensor(a, dtype=torch.float64),
    "torch bfloat16 CHW": lambda a: torch.tensor(a[None]).to(torch.bfloat16),
    "numpy HW": lambda a: a,
    "numpy HWC grey": lambda a: a[:, :, None],
    "numpy HWC rgb": lambda a: np.stack([a, a, a], axis=2),
    "numpy CHW rgb": lambda a: np.stack([a, a, a]),
    "list HW": lambda a: a.tolist(),
}


@pytest.mark.parametrize("case", list(LAYOUT_CASES))
def test_every_layout_and_type_draws_the_same_map(case: str) -> None:
    rng = np.random.default_rng(0)
    base = rng.standard_normal((H, W)).astype(np.float32)
    attr = LAYOUT_CASES[case](base)
    image = rng.random((H, W))
    fig, ax = viz.visualize_image_attr(attr, image, "blended_heat_map", "all",
                                       use_pyplot=False)
    assert isinstance(fig, Figure) and isinstance(ax, Axes)
    assert _image_array(ax).shape[:2] == (H, W)
    # Channel sums differ by a constant factor (1 or 3): the normalised map does not.
    expected = viz.normalize_attr(base.astype(np.float64), "all")
    got = viz.attr_to_map(attr)
    np.testing.assert_allclose(viz.normalize_attr(got, "all"), expected, atol=2e-2)


def test_image_in_any_layout_and_range_renders_the_same() -> None:
    rng = np.random.default_rng(1)
    rgb = rng.random((H, W, 3))
    attr = rng.standard_normal((H, W))
    reference = viz.render_image_attr(attr, rgb, "original_image")
    for image in (
        torch.tensor(rgb.transpose(2, 0, 1)),  # CHW tensor
        rgb.transpose(2, 0, 1)[None],  # NCHW numpy
        np.round(rgb * 255).astype(np.uint8),  # HWC uint8
        rgb * 255.0,  # float 0-255
    ):
        got = viz.render_image_attr(attr, image, "original_image")
        np.testing.assert_allclose(got, reference, atol=0.51 / 255)  # uint8 rounding
    assert reference.shape == (H, W, 4)


def test_grey_image_is_drawn_grey_and_standardised_image_is_rescaled() -> None:
    grey = np.linspace(-2.0, 3.0, H * W).reshape(H, W)  # standardised, negative values
    rgba = viz.render_image_attr(np.ones((H, W)), grey, "original_image")
    assert np.allclose(rgba[..., 0], rgba[..., 1]) and np.allclose(rgba[..., 1], rgba[..., 2])
    assert rgba[..., :3].min() == pytest.approx(0.0) and rgba[..., :3].max() == pytest.approx(1)


def test_explicit_layout_overrides_and_ambiguity_is_resolved() -> None:
    ambiguous = np.random.default_rng(2).standard_normal((3, 4, 3))
    assert viz.render_image_attr(ambiguous).shape[:2] == (3, 4)  # numpy: HWC
    assert viz.render_image_attr(ambiguous, layout="CHW").shape[:2] == (4, 3)
    assert viz.render_image_attr(torch.tensor(ambiguous)).shape[:2] == (4, 3)  # torch: CHW
    # Neither end is channel-like: the image's size decides, else an error names layout.
    two_channel = np.random.default_rng(3).standard_normal((2, H, W))
    assert viz.render_image_attr(two_channel, np.zeros((H, W)), "blended_heat_map",
                                 "all").shape == (H, W, 4)
    with pytest.raises(ValueError, match="layout"):
        viz.render_image_attr(two_channel)
    with pytest.raises(ValueError, match="layout"):
        viz.render_image_attr(np.zeros((H, W)), layout="CHWX")
    with pytest.raises(ValueError, match="image_layout"):
        viz.render_image_attr(np.zeros((H, W)), np.zeros((H, W)), "original_image",
                              image_layout="HW?")


def test_tensor_on_cuda_if_present() -> None:
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    attr = torch.randn(1, 3, H, W, device="cuda", requires_grad=True)
    assert viz.render_image_attr(attr, torch.rand(3, H, W, device="cuda"),
                                 "blended_heat_map").shape == (H, W, 4)


# --------------------------------------------------------------------------------------
# Methods, signs, errors
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", viz.METHODS)
@pytest.mark.parametrize("sign", SIGNS)
def test_every_method_and_sign(method: str, sign: str) -> None:
    rng = np.random.default_rng(4)
    attr, image = rng.standard_normal((3, H, W)), rng.random((3, H, W))
    if sign == "all" and method in ("masked_image", "alpha_scaling"):
        with pytest.raises(ValueError, match="sign"):
            viz.visualize_image_attr(attr, image, method, sign, use_pyplot=False)
        return
    fig, ax = viz.visualize_image_attr(attr, image, method, sign, show_colorbar=True,
                                       title="t", use_pyplot=False)
    assert ax.get_title() == "t"
    assert len(fig.axes) == 2  # the axis and its (possibly hidden) colour-bar axis
    rgba = viz.visualize_image_attr(attr, image, method, sign, return_array=True)
    assert rgba.shape == (H, W, 4) and 0.0 <= rgba.min() and rgba.max() <= 1.0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"method": "heatmap"}, ValueError, "method"),
        ({"sign": "both"}, ValueError, "sign"),
        ({"method": "blended_heat_map", "original_image": None}, ValueError, "original_image"),
        ({"attr": np.zeros(5)}, ValueError, "attr"),
        ({"attr": np.zeros((1, 1, 1, H, W))}, ValueError, "attr"),
        ({"attr": np.zeros((2, 3, H, W))}, ValueError, "batch"),
        ({"attr": np.full((H, W), np.nan)}, ValueError, "NaN"),
        ({"attr": "not an array"}, TypeError, "attr"),
        ({"attr": None}, TypeError, "attr"),
        ({"original_image": np.zeros((H + 1, W)), "method": "blended_heat_map"}, ValueError,
         "spatial size"),
        ({"original_image": np.full((H, W), np.inf), "method": "original_image"}, ValueError,
         "original_image"),
        ({"outlier_perc": 150}, ValueError, "outlier_perc"),
        ({"scale": -1.0}, ValueError, "scale"),
        ({"alpha_overlay": 2.0, "method": "blended_heat_map"}, ValueError, "alpha_overlay"),
        ({"cmap": "no-such-map"}, ValueError, "cmap"),
        ({"outlier_perc": True}, UserTypeError, "`outlier_perc`"),
        ({"scale": "1"}, UserTypeError, "`scale`"),
        ({"alpha_overlay": np.nan, "method": "blended_heat_map"}, UserInputError,
         "`alpha_overlay`"),
        ({"method": np.array(["heat_map"])}, UserTypeError, "`method`"),
    ],
)
def test_bad_input_raises_named_error(kwargs: dict, error: type, match: str) -> None:
    args: dict[str, Any] = {"attr": np.ones((H, W)), "original_image": np.ones((H, W))}
    args.update(kwargs)
    with pytest.raises(error, match=match) as info:
        viz.visualize_image_attr(use_pyplot=False, **args)
    # Every user error is the package's one user-error type (the CLI maps it to exit 2).
    assert isinstance(info.value, UserInputError)


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"use_pyplot": "no"}, UserTypeError, "`use_pyplot` must be True or False"),
        ({"fig_size": 6}, UserTypeError, "`fig_size` must be (width, height)"),
        ({"fig_size": (6, 0)}, UserInputError, "`fig_size[1]`"),
        ({"fig_size": (6, np.inf)}, UserInputError, "`fig_size[1]`"),
    ],
)
def test_figure_arguments_are_checked(kwargs: dict[str, Any], error: type, words: str) -> None:
    with pytest.raises(error) as info:
        viz.plot_rank_spectrum(np.ones(3), **kwargs)
    assert words in str(info.value)
    viz.plot_rank_spectrum(np.ones(3), fig_size=np.array([4, 3]), use_pyplot=np.bool_(False))


def test_numpy_numbers_are_accepted_where_python_numbers_are() -> None:
    attr, image = np.arange(H * W, dtype=float).reshape(H, W), np.ones((H, W))
    ours = viz.render_image_attr(attr, sign="all", outlier_perc=np.int64(2), scale=None)
    plain = viz.render_image_attr(attr, sign="all", outlier_perc=2, scale=None)
    np.testing.assert_array_equal(ours, plain)
    viz.visualize_image_attr(attr, image, method="blended_heat_map",
                             alpha_overlay=np.float32(0.5), use_pyplot=False)


def test_drop_in_signature_matches_captum() -> None:
    from captum.attr import visualization as captum_viz

    for name in ("visualize_image_attr", "visualize_image_attr_multiple"):
        theirs = list(inspect.signature(getattr(captum_viz, name)).parameters.values())
        ours = list(inspect.signature(getattr(viz, name)).parameters.values())
        for a, b in zip(theirs, ours, strict=False):
            assert (a.name, a.default, a.kind) == (b.name, b.default, b.kind)


@pytest.mark.parametrize("sign", SIGNS)
def test_normalisation_agrees_with_captum(sign: str) -> None:
    from captum.attr import visualization as captum_viz

    attr = np.random.default_rng(5).standard_normal((H, W, 3))
    _, ax = captum_viz.visualize_image_attr(attr, None, "heat_map", sign, use_pyplot=False,
                                            outlier_perc=5)
    expected = np.asarray(ax.images[0].get_array())
    ours = viz.normalize_attr(attr.sum(axis=2), sign, outlier_perc=5)
    np.testing.assert_allclose(ours, expected, atol=1e-12)


def test_given_axis_is_used_and_pyplot_is_untouched_without_use_pyplot() -> None:
    fig = Figure()
    ax = fig.subplots()
    got_fig, got_ax = viz.visualize_image_attr(np.ones((H, W)), plt_fig_axis=(fig, ax),
                                               use_pyplot=False)
    assert got_fig is fig and got_ax is ax
    viz.visualize_image_attr(np.ones((H, W)), use_pyplot=False)
    assert plt.get_fignums() == []
    with pytest.raises(ValueError, match="plt_fig_axis"):
        viz.visualize_image_attr(np.ones((H, W)), plt_fig_axis=(fig, ax), return_array=True)


def test_use_pyplot_does_not_show_on_agg(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail() -> None:
        raise AssertionError("plt.show() called on a non-interactive backend")

    monkeypatch.setattr(plt, "show", fail)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig, _ = viz.visualize_image_attr(np.ones((H, W)))
        viz.plot_rank_spectrum(np.ones(5))
        viz.plot_accuracy_vs_rank([0, 1], {"m": {"low_rank": [0.1, 0.9]}})
    assert fig.number in plt.get_fignums()


def test_multiple_returns_captum_shapes() -> None:
    attr, image = torch.randn(3, H, W), torch.rand(3, H, W)
    _fig, axes = viz.visualize_image_attr_multiple(
        attr, image, ["original_image", "heat_map", "masked_image"],
        ["all", "all", "positive"], titles=["a", "b", "c"], use_pyplot=False)
    assert isinstance(axes, list) and len(axes) == 3
    assert [a.get_title() for a in axes] == ["a", "b", "c"]
    _, single = viz.visualize_image_attr_multiple(attr, image, ["heat_map"], ["all"],
                                                  use_pyplot=False)
    assert isinstance(single, Axes)
    arrays_out = viz.visualize_image_attr_multiple(attr, image, ["heat_map", "alpha_scaling"],
                                                   ["all", "positive"], return_array=True)
    assert [a.shape for a in arrays_out] == [(H, W, 4)] * 2
    with pytest.raises(ValueError, match="same length"):
        viz.visualize_image_attr_multiple(attr, image, ["heat_map"], ["all", "all"],
                                          use_pyplot=False)
    with pytest.raises(ValueError, match="titles"):
        viz.visualize_image_attr_multiple(attr, image, ["heat_map"], ["all"], titles=[],
                                          use_pyplot=False)
    with pytest.raises(ValueError, match="method"):
        viz.visualize_image_attr_multiple(attr, image, ["nope"], ["all"], use_pyplot=False)


# --------------------------------------------------------------------------------------
# Normalisation and shared scales
# --------------------------------------------------------------------------------------

def test_normalisation_maps_as_documented() -> None:
    a = np.array([-2.0, -1.0, 0.0, 1.0, 4.0])
    np.testing.assert_allclose(viz.normalize_attr(a, "all", 0), [-0.5, -0.25, 0, 0.25, 1])
    np.testing.assert_allclose(viz.normalize_attr(a, "positive", 0), [0, 0, 0, 0.25, 1])
    np.testing.assert_allclose(viz.normalize_attr(a, "negative", 0), [1, 0.5, 0, 0, 0])
    np.testing.assert_allclose(viz.normalize_attr(a, "absolute_value", 0),
                               [0.5, 0.25, 0, 0.25, 1])
    # outlier_perc: the top values carrying that share of the mass saturate at 1.
    b = np.array([1.0] * 98 + [100.0, 100.0])
    # The two 100s carry 67% of the mass: with 60% they saturate and set the scale...
    assert viz.normalize_attr(b, "positive", outlier_perc=60)[0] == pytest.approx(0.01)
    # ... with 70% some ones must saturate too, and the scale drops to 1.
    np.testing.assert_array_equal(viz.normalize_attr(b, "positive", outlier_perc=70), 1.0)
    # A given scale replaces the computed one; zero scale and zero maps give zeros.
    np.testing.assert_allclose(viz.normalize_attr(a, "all", scale=8.0), a / 8.0)
    np.testing.assert_array_equal(viz.normalize_attr(a, "all", scale=0.0), np.zeros(5))
    np.testing.assert_array_equal(viz.normalize_attr(-np.abs(a), "positive"), np.zeros(5))
    assert viz.sign_range("all") == (-1.0, 1.0) and viz.sign_range("negative") == (0.0, 1.0)


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, width=64)
shapes = st.tuples(st.integers(1, 6), st.integers(1, 6))


@FAST
@given(values=arrays(np.float64, shapes, elements=finite), sign=st.sampled_from(SIGNS),
       perc=st.floats(0, 100))
def test_normalised_values_always_in_range(values: np.ndarray, sign: str, perc: float) -> None:
    out = viz.normalize_attr(values, sign, perc)
    low, high = viz.sign_range(sign)
    assert out.shape == values.shape
    assert np.all(out >= low) and np.all(out <= high)
    assert np.all(out[values == 0] == 0)
    if sign == "all":
        assert np.all(out * values >= 0)  # signs are kept
    if sign == "positive":
        assert np.all(out[values < 0] == 0)


@FAST
@given(shape=shapes, channels=st.sampled_from([1, 3]), fill=st.sampled_from([0.0, 1.5, -2.0]),
       method=st.sampled_from(viz.METHODS), sign=st.sampled_from(SIGNS[:3]))
def test_zero_and_constant_maps_never_crash(shape: tuple[int, int], channels: int, fill: float,
                                            method: str, sign: str) -> None:
    attr = torch.full((channels, *shape), fill)
    image = torch.rand(channels, *shape)
    rgba = viz.render_image_attr(attr, image, method, sign)
    assert rgba.shape == (*shape, 4) and np.all(np.isfinite(rgba))
    assert 0.0 <= rgba.min() and rgba.max() <= 1.0


def test_all_zero_map_is_empty_not_a_crash() -> None:
    _fig, _ax = viz.visualize_image_attr(np.zeros((3, H, W)), np.zeros((3, H, W)),
                                       "blended_heat_map", "all", use_pyplot=False)
    rgba = viz.render_image_attr(np.zeros((H, W)), sign="all")
    np.testing.assert_allclose(rgba, np.broadcast_to(viz.default_cmap("all")(0.5), (H, W, 4)))
    assert viz.shared_scale([np.zeros((H, W))] * 2) == 0.0


def test_shared_scale_makes_maps_comparable() -> None:
    rng = np.random.default_rng(6)
    a = rng.random((1, H, W))
    s = viz.shared_scale([a, 2 * a], sign="positive", outlier_perc=0)
    assert s == pytest.approx(2 * a.max())
    # Rendered through a linear grey colour map, the 2x map has 2x the grey level.
    grey_a = viz.render_image_attr(a, sign="positive", cmap="gray", scale=s)[..., 0]
    grey_2a = viz.render_image_attr(2 * a, sign="positive", cmap="gray", scale=s)[..., 0]
    np.testing.assert_allclose(grey_2a, 2 * grey_a, atol=2.5 / 255)
    # Without the shared scale both saturate at their own maximum: no longer comparable.
    own_a = viz.render_image_attr(a, sign="positive", cmap="gray", outlier_perc=0)[..., 0]
    own_2a = viz.render_image_attr(2 * a, sign="positive", cmap="gray", outlier_perc=0)[..., 0]
    np.testing.assert_allclose(own_a, own_2a)
    # Batches, lists and dicts are pooled alike.
    batch = np.stack([a, 2 * a])
    assert viz.shared_scale(batch, "positive", 0) == pytest.approx(s)
    assert viz.shared_scale({"m1": [a], "m2": torch.tensor(batch)}, "positive", 0) == (
        pytest.approx(s))
    with pytest.raises(ValueError, match="NaN"):
        viz.shared_scale([np.full((H, W), np.nan)])
    with pytest.raises(ValueError, match="sign"):
        viz.shared_scale([a], sign="pos")


# --------------------------------------------------------------------------------------
# Rank spectrum
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("rank_attrs", "n_lines"),
    [
        (torch.randn(4, 3, 7, requires_grad=True), 1),
        (np.random.default_rng(7).standard_normal((3, 7)), 1),
        (np.arange(7.0), 1),
        ([0.5, 0.3, 0.2], 1),
        ({"natural": torch.randn(2, 1, 7), "robust": np.ones((2, 1, 7))}, 2),
        ([np.ones(7), np.ones(5), np.ones(9)], 3),
    ],
)
def test_rank_spectrum_inputs(rank_attrs: object, n_lines: int) -> None:
    _fig, axes = viz.plot_rank_spectrum(rank_attrs, use_pyplot=False)
    assert len(axes) == 2 and all(isinstance(a, Axes) for a in axes)
    assert len(axes[1].get_lines()) == n_lines + 2  # plus the reference lines at 0 and 1
    _, one = viz.plot_rank_spectrum(rank_attrs, cumulative=False, use_pyplot=False)
    assert len(one) == 1


def test_rank_spectrum_values_channels_and_share() -> None:
    r_attr = np.zeros((2, 3, 4))
    r_attr[:, 0] = [3.0, 1.0, 0.0, 0.0]
    r_attr[:, 1] = [1.0, -1.0, 0.0, 0.0]
    _, axes = viz.plot_rank_spectrum(r_attr, use_pyplot=False)
    summed = _ydata(axes[0], 0)
    np.testing.assert_allclose(summed, [4.0, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(_ydata(axes[1], 0), [0, 1, 1, 1, 1])
    _, axes = viz.plot_rank_spectrum(r_attr, channel_reduce=None, normalize="abs",
                                     use_pyplot=False)
    assert len(axes[0].get_lines()) == 3 + 1  # one per channel, plus the zero line
    np.testing.assert_allclose(_ydata(axes[0], 0), [0.75, 0.25, 0, 0])


@FAST
@given(values=arrays(np.float64, st.integers(1, 12),
                     elements=st.floats(-1e3, 1e3, allow_nan=False)),
       share=st.sampled_from(["signed", "abs"]))
def test_cumulative_share_is_finite_and_ends_right(values: np.ndarray, share: str) -> None:
    result = cumulative_share(values, share)
    shares = result.shares
    assert shares.shape == (values.size + 1,) and shares[0] == 0.0
    assert np.all(np.isfinite(shares))
    if result.is_zero:
        assert np.all(shares == 0.0)
    else:
        assert shares[-1] == pytest.approx(1.0)
    if result.basis == "abs":
        assert np.all(np.diff(shares) >= -1e-12) and shares.max() <= 1.0 + 1e-12
    # The plotted cumulative curve is exactly these numbers.
    if not result.is_zero:
        _, axes = viz.plot_rank_spectrum(values, share=share, use_pyplot=False)
        np.testing.assert_allclose(_ydata(axes[1], 0), shares)
        plt.close("all")


def test_rank_spectrum_zero_input_and_errors() -> None:
    fig, axes = viz.plot_rank_spectrum(np.zeros((2, 1, 5)), normalize="total",
                                       use_pyplot=False)
    assert np.all(np.isfinite(_ydata(axes[1], 0)))
    with pytest.raises(ValueError, match="rank_attrs"):
        viz.plot_rank_spectrum(np.zeros((1, 1, 1, 5)), use_pyplot=False)
    with pytest.raises(ValueError, match="NaN"):
        viz.plot_rank_spectrum(np.array([1.0, np.nan]), use_pyplot=False)
    with pytest.raises(ValueError, match="labels"):
        viz.plot_rank_spectrum({"a": np.ones(3)}, labels=["a", "b"], use_pyplot=False)
    with pytest.raises(ValueError, match="channel_reduce"):
        viz.plot_rank_spectrum(np.ones(3), channel_reduce="max", use_pyplot=False)
    with pytest.raises(ValueError, match="normalize"):
        viz.plot_rank_spectrum(np.ones(3), normalize="l2", use_pyplot=False)
    fig = Figure()
    ax = fig.subplots()
    with pytest.raises(ValueError, match="ax"):
        viz.plot_rank_spectrum(np.ones(3), ax=ax)
    got_fig, got_axes = viz.plot_rank_spectrum(np.ones(3), ax=ax, cumulative=False)
    assert got_fig is fig and got_axes == [ax]


# --------------------------------------------------------------------------------------
# Figures inside figures
# --------------------------------------------------------------------------------------

def test_multi_panel_plots_draw_into_subfigures() -> None:
    fig = Figure(figsize=(12, 8), layout="constrained")
    top, bottom = np.asarray(fig.subfigures(2, 1)).ravel()
    got, axes = viz.plot_rank_path_arrays(np.zeros((2, H, W)), [0, 1], [0, H], fig=top)
    assert got is top and len(axes) == 3
    got, grid = viz.plot_comparison_grid(np.zeros((1, H, W)), {"m": {"ig": np.ones((1, H, W))}},
                                         fig=bottom)
    assert got is bottom and grid.shape == (1, 2)
    fig.canvas.draw()  # the whole composite renders


# --------------------------------------------------------------------------------------
# Comparison grid and accuracy curves
# --------------------------------------------------------------------------------------

def test_comparison_grid_panels_and_shared_scale() -> None:
    rng = np.random.default_rng(11)
    n = 2
    images = torch.rand(n, 1, H, W)
    ig = rng.random((n, 1, H, W))
    rows = {
        "natural": {"ig": ig, "rig": torch.tensor(ig), "ranks": rng.standard_normal((n, 1, H))},
        "robust": {"ig": 2 * ig, "rig": torch.tensor(ig), "ranks": np.zeros((n, 1, H))},
    }
    _fig, axes = viz.plot_comparison_grid(images, rows, sign="positive", outlier_perc=0,
                                         cmap="gray", use_pyplot=False)
    assert axes.shape == (n, 1 + 2 * 2 + 1)
    natural_ig = _image_array(axes[0, 1])[..., 0]
    robust_ig = _image_array(axes[0, 3])[..., 0]
    # One scale per attribution across models: the robust IG (2x) renders twice as bright.
    np.testing.assert_allclose(robust_ig, 2 * natural_ig, atol=2.5 / 255)
    assert robust_ig.max() == pytest.approx(1.0, abs=1e-2)
    # Each panel on its own scale: both saturate alike.
    _, own = viz.plot_comparison_grid(images, rows, sign="positive", outlier_perc=0,
                                      cmap="gray", share="none", use_pyplot=False)
    np.testing.assert_allclose(_image_array(own[0, 3]), _image_array(own[0, 1]))
    # HWC arrays, lists of single images and no spectra.
    hwc_rows = {"m": {"saliency": [a.transpose(1, 2, 0) for a in ig]}}
    _, axes = viz.plot_comparison_grid(images.numpy().transpose(0, 2, 3, 1), hwc_rows,
                                       method="blended_heat_map", image_titles=["a", "b"],
                                       use_pyplot=False)
    assert axes.shape == (n, 2) and axes[1, 0].get_ylabel() == "b"


def test_comparison_grid_errors() -> None:
    images = np.zeros((2, H, W))
    good = {"ig": np.zeros((2, H, W))}
    with pytest.raises(ValueError, match="rig"):
        viz.plot_comparison_grid(images, {"a": good, "b": {"rig": np.zeros((2, H, W))}},
                                 attributions=["ig", "rig"], use_pyplot=False)
    with pytest.raises(ValueError, match="2 images"):
        viz.plot_comparison_grid(images, {"a": {"ig": np.zeros((3, H, W))}}, use_pyplot=False)
    with pytest.raises(ValueError, match="ranks"):
        viz.plot_comparison_grid(images, {"a": {**good, "ranks": np.zeros((1, 1, H))}},
                                 use_pyplot=False)
    with pytest.raises(ValueError, match="share"):
        viz.plot_comparison_grid(images, {"a": good}, share="rows", use_pyplot=False)
    with pytest.raises(ValueError, match="rows"):
        viz.plot_comparison_grid(images, {}, use_pyplot=False)
    with pytest.raises(ValueError, match="method"):
        viz.plot_comparison_grid(images, {"a": good}, method="masked_image", use_pyplot=False)


def test_accuracy_vs_rank() -> None:
    ks = np.array([0, 1, 2, 4])
    curves = {
        "natural": {"low_rank": torch.tensor([0.1, 0.5, 0.8, 0.9]), "high_rank": [0.9, 0.5,
                                                                                   0.3, 0.1]},
        "robust": {"low_rank": [0.1, 0.6, 0.7, 0.8], "ranks": [0, 2, 4, 8]},
    }
    _fig, ax = viz.plot_accuracy_vs_rank(ks, curves, chance=0.1, use_pyplot=False)
    assert isinstance(ax, Axes) and len(ax.get_lines()) == 4
    np.testing.assert_array_equal(_xdata(ax, 2), [0, 2, 4, 8])
    assert ax.get_ylim()[1] == pytest.approx(1.02)
    fig2 = Figure()
    ax2 = fig2.subplots()
    got_fig, got_ax = viz.plot_accuracy_vs_rank(ks, {"m": {"low_rank": [10, 50, 80, 90]}},
                                                ax=ax2)
    assert got_fig is fig2 and got_ax is ax2 and ax2.get_ylim()[1] == pytest.approx(102)
    with pytest.raises(ValueError, match="unknown key"):
        viz.plot_accuracy_vs_rank(ks, {"m": {"lowrank": [1, 2, 3, 4]}}, use_pyplot=False)
    with pytest.raises(ValueError, match="4 ranks"):
        viz.plot_accuracy_vs_rank(ks, {"m": {"low_rank": [1, 2]}}, use_pyplot=False)
    with pytest.raises(ValueError, match="NaN"):
        viz.plot_accuracy_vs_rank(ks, {"m": {"high_rank": [1, 2, np.nan, 4]}},
                                  use_pyplot=False)
    with pytest.raises(ValueError, match="curves"):
        viz.plot_accuracy_vs_rank(ks, {}, use_pyplot=False)


# --------------------------------------------------------------------------------------
# Audit results, whatever their method names
# --------------------------------------------------------------------------------------

class _SpectrumResult:
    """A stand-in with the attributes plot_spectrum_result reads (the audit's names)."""

    models: ClassVar = ["m"]
    attributions: ClassVar = {"walk": "arc_length", "straight": "linear", "x": "spectral"}
    num_classes, n_images = 3, 2
    class_counts: ClassVar = {"m": {0: 1, 1: 1, 2: 0}}
    _sums = np.array([[3.0, 1.0, 0.0], [1.0, 2.0, 1.0], [0.0, 0.0, 0.0]])

    def mean_spectrum(self, model: str, attribution: str, cls: int | None = None) -> np.ndarray:
        scale = 1.0 + list(self.attributions).index(attribution)
        if cls is None:
            return scale * self._sums.sum(axis=0) / self.n_images
        return scale * self._sums[cls] / self.class_counts["m"][cls]


def _spectrum_result() -> Any:
    return _SpectrumResult()


def test_spectrum_result_is_driven_by_its_own_methods() -> None:
    result = _spectrum_result()
    _, axes = viz.plot_spectrum_result(result, use_pyplot=False)
    labels = [line.get_label() for line in axes[1].get_lines()][:3]
    assert labels == ["m (walk)", "m (straight)", "m (x)"]
    np.testing.assert_allclose(_ydata(axes[1], 0),
                               cumulative_share(result.mean_spectrum("m", "walk")).shares)
    _, axes = viz.plot_spectrum_result(result, attributions="straight", model="m",
                                       class_names=["T-shirt", "Trouser", "Pullover"],
                                       use_pyplot=False)
    legend = [t.get_text() for t in axes[-1].get_legend().get_texts()]
    assert legend == ["T-shirt", "Trouser"]  # the class without images is left out
    with pytest.raises(UserInputError, match="holds \\['walk', 'straight', 'x'\\]"):
        viz.plot_spectrum_result(result, attributions=["rig"], use_pyplot=False)
    with pytest.raises(UserInputError, match="`model`"):
        viz.plot_spectrum_result(result, model="natural", use_pyplot=False)
    with pytest.raises(UserInputError, match="`class_names` has 1 names"):
        viz.plot_spectrum_result(result, model="m", class_names=["a"], use_pyplot=False)


def test_spectrum_result_from_the_audit_with_any_method_names() -> None:
    from captum_rank.audit import rank_spectrum

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(36, 3))
    data = (torch.rand(6, 1, 6, 6), torch.tensor([0, 1, 2, 0, 1, 2]))
    result = rank_spectrum(model, data, attributions={"curve": "arc_length", "line": "linear"},
                           n_steps=4, progress=False)
    _, axes = viz.plot_spectrum_result(result, model="model", class_names=["a", "b", "c"],
                                       use_pyplot=False)
    legend = [t.get_text() for t in axes[-1].get_legend().get_texts()]
    assert legend == [f"{c} ({m})" for m in ("curve", "line") for c in "abc"]


def test_accuracy_result_plot() -> None:
    from captum_rank.audit.accuracy import RankAccuracyResult

    result = RankAccuracyResult(["a", "b"], [0, 2], 2, 4, {"a": 3, "b": 4},
                                {"a": [1, 3], "b": [0, 4]}, {"a": [3, 0], "b": [4, 1]})
    _, ax = viz.plot_accuracy_result(result, chance=np.float64(0.25), use_pyplot=False)
    assert len(ax.get_lines()) == 5
    np.testing.assert_allclose(_ydata(ax, 0), [0.25, 0.75])
    _, ax = viz.plot_accuracy_result(result, models="b", use_pyplot=False)
    assert len(ax.get_lines()) == 2
    with pytest.raises(UserInputError, match="`models`"):
        viz.plot_accuracy_result(result, models=["c"], use_pyplot=False)
    with pytest.raises(UserInputError, match="`chance`"):
        viz.plot_accuracy_result(result, chance=-1, use_pyplot=False)


# --------------------------------------------------------------------------------------
# Package hygiene: examples run, no import of the attribution layer
# --------------------------------------------------------------------------------------

MODULES = [
    "normalize", "image", "bands", "spectrum", "rank_path", "compare", "results", "overlay",
    "_arrays", "_figures", "_labels",
]


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples_run(module: str) -> None:
    mod = importlib.import_module(f"captum_rank.visualization.{module}")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_public_functions_have_examples() -> None:
    for name in viz.__all__:
        obj = getattr(viz, name)
        if inspect.isfunction(obj):
            assert obj.__doc__ and "Examples:" in obj.__doc__, name


def test_visualization_does_not_import_attr() -> None:
    package = Path(viz.__file__).parent
    for path in package.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                module = node.module or ""
                names = {alias.name for alias in node.names}
                assert not module.startswith("captum_rank.attr"), path
                # Results are data: plots read them and import neither the audit nor
                # anything that runs a model for them.
                assert not module.startswith("captum_rank.audit"), path
                assert not (module == "captum_rank" and names & {"attr",
                                                                  "RankIntegratedGradients"})
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("captum_rank.attr") for a in node.names), path
