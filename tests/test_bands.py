"""Rank-band maps (captum_rank.bands, RankIntegratedGradients.attribute_bands)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import CallCounter, tanh_cnn
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor, nn

from captum_rank import RankIntegratedGradients
from captum_rank.bands import bands_from_ranks, resolve_bands
from captum_rank.checks import UserInputError, UserTypeError
from captum_rank.schedules import ArcLengthSchedule


def _images(n: int, channels: int, size: int = 10) -> Tensor:
    torch.manual_seed(1)
    return torch.rand(n, channels, size, size, dtype=torch.float64)


@pytest.mark.parametrize("channels", [1, 3])
def test_band_totals_are_the_exact_rank_sums_on_a_nonlinear_model(channels: int) -> None:
    model, x = tanh_cnn(channels), _images(3, channels)
    rig = RankIntegratedGradients(model)
    result = rig.attribute_bands(x, target=1, segment_steps=8, bands=(2, 5))
    exact = rig.exact_ranks(x, target=1).reshape(3, -1).to(torch.float64)
    oracle = torch.stack([exact[:, :2].sum(1), exact[:, 2:5].sum(1), exact[:, 5:].sum(1)], 1)
    assert result.labels == ["1-2", "3-5", "6-10"]
    torch.testing.assert_close(result.exact_totals, oracle)
    torch.testing.assert_close(result.totals, oracle, atol=1e-9, rtol=1e-7)
    # Each component's own total too, not only the band sums.
    torch.testing.assert_close(result.segment_totals, exact, atol=1e-9, rtol=1e-7)
    assert float(result.total_error.max()) < 1e-7


@pytest.mark.parametrize("channels", [1, 3])
def test_bands_sum_to_the_converged_sequential_rig_map(channels: int) -> None:
    """Oracle: RIG's own fixed rule on the sequential path, midpoints aligned with segments."""
    model, x = tanh_cnn(channels), _images(2, channels)
    rig = RankIntegratedGradients(model)
    result = rig.attribute_bands(x, target=0, segment_steps=6)
    fine = rig.attribute(x, target=0, schedule="sequential", method="riemann_middle",
                         n_steps=10 * 64)
    assert result.maps.shape == (len(result.bands), *x.shape)
    torch.testing.assert_close(result.pixels, fine, atol=2e-5 * float(fine.abs().max()),
                               rtol=0)


@settings(max_examples=15, deadline=None)
@given(edges=st.sets(st.integers(1, 9), max_size=4))
def test_every_banding_partitions_the_same_map(edges: set[int]) -> None:
    model, x = tanh_cnn(1), _images(1, 1)
    rig = RankIntegratedGradients(model)
    whole = rig.attribute_bands(x, target=2, segment_steps=2, bands=(5,))
    split = rig.attribute_bands(x, target=2, segment_steps=2, bands=sorted(edges))
    torch.testing.assert_close(split.pixels, whole.pixels)
    torch.testing.assert_close(split.totals.sum(1), whole.totals.sum(1))
    assert len(split.bands) == len(edges) + 1


def test_affine_model_closed_form() -> None:
    """F(x) = <W, x> + b: band B's map is W * sum_{i in B} s_i u_i v_i^T, exactly."""
    torch.manual_seed(2)
    weight = torch.randn(1, 3, 6, 8, dtype=torch.float64)
    linear = nn.Linear(3 * 6 * 8, 1).double()
    with torch.no_grad():
        linear.weight.copy_(weight.reshape(1, -1))
    model = nn.Sequential(nn.Flatten(), linear)
    x = torch.rand(2, 3, 6, 8, dtype=torch.float64)
    base = torch.rand(1, 3, 6, 8, dtype=torch.float64)
    result = RankIntegratedGradients(model).attribute_bands(
        x, baselines=base, target=0, segment_steps=1, bands=(1, 4))
    u, s, vh = torch.linalg.svd(x - base, full_matrices=False)
    for band, (first, last) in zip(result.maps, result.bands, strict=True):
        part = (u[..., first - 1:last] * s[..., None, first - 1:last]) @ vh[..., first - 1:last, :]
        torch.testing.assert_close(band, weight * part)
    torch.testing.assert_close(result.pixels, weight * (x - base))
    torch.testing.assert_close(result.totals, result.exact_totals)


def test_calibration_makes_every_component_exact_and_vanishes_when_converged() -> None:
    model, x = tanh_cnn(3), _images(2, 3)
    rig = RankIntegratedGradients(model)
    rough = rig.attribute_bands(x, target=1, segment_steps=1, calibrate=True)
    assert rough.calibrated
    exact = rough.exact_ranks
    per_component = rig.attribute_bands(x, target=1, segment_steps=1, calibrate=True,
                                        bands=tuple(range(1, 10)))
    torch.testing.assert_close(per_component.totals, exact, atol=1e-12, rtol=0)
    torch.testing.assert_close(rough.totals, rough.exact_totals, atol=1e-12, rtol=0)
    fine = rig.attribute_bands(x, target=1, segment_steps=8)
    fine_calibrated = rig.attribute_bands(x, target=1, segment_steps=8, calibrate=True)
    torch.testing.assert_close(fine_calibrated.maps, fine.maps, atol=1e-9, rtol=0)


def test_joint_schedule_on_colour() -> None:
    model, x = tanh_cnn(3), _images(1, 3)
    result = RankIntegratedGradients(model).attribute_bands(
        x, target=0, schedule=ArcLengthSchedule(channels="joint"), segment_steps=6)
    assert result.exact_ranks.shape == (1, 10)
    torch.testing.assert_close(result.totals, result.exact_totals, atol=1e-8, rtol=1e-6)


def test_cost_is_r_segments_times_steps_plus_the_exact_pass() -> None:
    counter = CallCounter(tanh_cnn(1))
    x = _images(2, 1)
    rig = RankIntegratedGradients(counter)
    result = rig.attribute_bands(x, target=0, segment_steps=3)
    assert result.evaluations.tolist() == [30, 30]
    assert result.forward_rows == 11
    # The exact pass (2 x 11 rows, in calls of one segment's rows), then one call per
    # segment (10) of 2 examples x 3 nodes; nothing else.
    assert counter.rows_per_call[-10:] == [6] * 10
    assert counter.rows == 2 * 11 + 60
    assert max(counter.rows_per_call) == 6


def test_bands_from_the_exact_spectrum() -> None:
    model, x = tanh_cnn(1), _images(2, 1)
    rig = RankIntegratedGradients(model)
    edges = bands_from_ranks(rig.exact_ranks(x, target=0), fractions=(0.5, 0.9))
    result = rig.attribute_bands(x, target=0, bands=edges, segment_steps=2)
    assert result.bands[0][0] == 1 and result.bands[-1][1] == 10
    assert result.to_dict()["labels"] == result.labels


@pytest.mark.parametrize("bands", [(3, 3), (0, 4), (4, 2), (10,), (2, 99)])
def test_bad_bands_name_the_argument(bands: tuple[int, ...]) -> None:
    with pytest.raises(UserInputError, match="`bands`"):
        resolve_bands(bands, 10)


def test_bad_arguments() -> None:
    model, x = tanh_cnn(3), _images(1, 3)
    rig = RankIntegratedGradients(model)
    with pytest.raises(UserTypeError, match="`bands`"):
        rig.attribute_bands(x, target=0, bands="low")
    with pytest.raises(UserInputError, match="segment_steps"):
        rig.attribute_bands(x, target=0, segment_steps=0)
    with pytest.raises(UserInputError, match="`schedule`"):
        rig.attribute_bands(x, target=0, schedule="arc_length")
    with pytest.raises(UserInputError, match="multiply_by_inputs"):
        RankIntegratedGradients(model, multiply_by_inputs=False).attribute_bands(x, target=0)
    with pytest.raises(UserInputError, match="fractions"):
        bands_from_ranks(torch.ones(1, 4), fractions=(1.5,))


def test_band_figure_draws_every_band_and_the_sum() -> None:
    import matplotlib

    matplotlib.use("Agg")
    from captum_rank import visualization as viz

    model, x = tanh_cnn(3), _images(2, 3)
    result = RankIntegratedGradients(model).attribute_bands(x, target=0, segment_steps=2)
    _fig, axes = viz.plot_rank_bands(result, x[1], example=1, use_pyplot=False)
    assert [ax.get_title() for ax in axes] == [
        "components 1-4", "components 5-10", "all"]
    panels, notes = viz.band_panels(result, example=1)
    np_sum = sum(v for k, v in panels.items() if k != "all")
    assert abs(np_sum - panels["all"]).max() < 1e-9
    assert "exact R" in notes[0]
    with pytest.raises(UserInputError, match="`example`"):
        viz.band_panels(result, example=2)


@pytest.mark.parametrize("size", [28, 224])
def test_band_panels_show_every_map_pixel(size: int) -> None:
    """Each panel is at least as many screen pixels (at 100 dpi) as its map has pixels."""
    import matplotlib

    matplotlib.use("Agg")
    from captum_rank import visualization as viz

    rng = np.random.default_rng(0)
    maps = {"1-4": rng.random((3, size, size)), "5-8": rng.random((3, size, size))}
    fig, axes = viz.plot_rank_bands(maps, method="heat_map", use_pyplot=False)
    fig.set_dpi(100)
    fig.canvas.draw()
    for ax in axes:
        box = ax.get_window_extent()
        assert min(box.width, box.height) >= size


def test_explain_records_bands_and_the_report_draws_them(tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from captum_rank.audit.explain import ExplainResult, explain
    from captum_rank.audit.report import AuditReport, write_report

    model = tanh_cnn(1).float()
    images = _images(3, 1).float()
    result = explain({"m": model}, images, n_steps=8, bands=(3,), band_steps=2)
    item = result.items["m"][1]["bands"]
    assert item["labels"] == ["1-3", "4-10"]
    assert item["evaluations"] == 20 and item["forward_rows"] == 11
    assert result.band_maps["m"].shape == (2, 3, 1, 10, 10)
    # Calibrated to the exact sums; the quadrature's own error is kept (two
    # Gauss-Legendre gradients per segment in float32: within 1%).
    for total, exact in zip(item["totals"], item["exact_totals"], strict=True):
        assert abs(total - exact) < 1e-5
    assert max(item["total_error"]) < 1e-2
    assert ExplainResult.from_json(result.to_json()).items == result.items
    written = write_report(tmp_path, AuditReport(None, explanation=result))
    assert any("bands" in key for key in written)
    assert "low-rank and the high-rank evidence" in (tmp_path / "index.html").read_text()
    with pytest.raises(UserTypeError, match="`bands`"):
        explain({"m": model}, images, n_steps=8, bands="low")  # type: ignore[arg-type]


def test_several_segments_per_call_give_the_same_bands() -> None:
    counter = CallCounter(tanh_cnn(3))
    x = _images(2, 3)
    rig = RankIntegratedGradients(counter)
    one = rig.attribute_bands(x, target=1, segment_steps=2)
    calls = counter.calls
    many = rig.attribute_bands(x, target=1, segment_steps=2, internal_batch_size=16)
    torch.testing.assert_close(many.maps, one.maps)
    # 10 segments of 4 rows: 4 per call of 16 rows (3 calls) instead of 10, after the
    # exact pass's 22 rows in calls of 16 (2) instead of 4 (6).
    assert counter.rows_per_call[-3:] == [16, 16, 8]
    assert (calls, counter.calls - calls) == (16, 5)


def test_a_segment_larger_than_internal_batch_size_is_split() -> None:
    """A segment's rows (examples x order) above ``internal_batch_size`` go in several calls
    (64 gradients of 4 photos in one Lite0 backward pass ran a 24 GiB machine out of
    memory); the maps are those of one call per segment."""
    counter = CallCounter(tanh_cnn(1))
    x = _images(3, 1)
    rig = RankIntegratedGradients(counter)
    whole = rig.attribute_bands(x, target=1, segment_steps=(8, 2))
    calls = counter.calls
    split = rig.attribute_bands(x, target=1, segment_steps=(8, 2), internal_batch_size=5)
    torch.testing.assert_close(split.maps, whole.maps)
    assert max(counter.rows_per_call[calls:]) <= 5
    # Gradient rows are not repeated: 3 examples x (8 + 2 x 9) plus 3 x 11 forward rows.
    assert sum(counter.rows_per_call[calls:]) == 3 * (8 + 2 * 9) + 3 * 11


def test_orders_per_component_refine_only_their_segments() -> None:
    """Oracle: with one band per component, a component's band map depends only on its own
    order: the same as with that order everywhere, whatever the other components get."""
    model, x = tanh_cnn(1), _images(2, 1)
    rig = RankIntegratedGradients(model)
    mixed = rig.attribute_bands(x, target=1, segment_steps=(8, 2, 2, 5),
                                bands=tuple(range(1, 10)))
    eight = rig.attribute_bands(x, target=1, segment_steps=8, bands=tuple(range(1, 10)))
    two = rig.attribute_bands(x, target=1, segment_steps=2, bands=tuple(range(1, 10)))
    five = rig.attribute_bands(x, target=1, segment_steps=5, bands=tuple(range(1, 10)))
    torch.testing.assert_close(mixed.maps[0], eight.maps[0], rtol=0, atol=1e-13)
    torch.testing.assert_close(mixed.maps[1:3], two.maps[1:3], rtol=0, atol=1e-13)
    torch.testing.assert_close(mixed.maps[3:], five.maps[3:], rtol=0, atol=1e-13)
    assert mixed.segment_steps == (8, 2, 2, 5, 5, 5, 5, 5, 5, 5)
    assert mixed.to_dict()["segment_steps"] == [8, 2, 2, 5, 5, 5, 5, 5, 5, 5]
    # One order everywhere, as a one-element sequence, is the int.
    uniform = rig.attribute_bands(x, target=1, segment_steps=(2,), bands=tuple(range(1, 10)))
    torch.testing.assert_close(uniform.maps, two.maps, rtol=0, atol=0)


@pytest.mark.parametrize("batch", [None, 7, 1000])
def test_orders_per_component_cost_their_sum_in_gradient_rows(batch: int | None) -> None:
    model, x = tanh_cnn(1), _images(3, 1)
    steps = (6, 3, 3, 1)
    counter = CallCounter(model)
    result = RankIntegratedGradients(counter).attribute_bands(
        x, target=0, segment_steps=steps, internal_batch_size=batch)
    orders = steps + (1,) * 6
    assert result.evaluations.tolist() == [sum(orders)] * 3
    # Gradient rows plus the exact pass's r + 1 forward rows per example.
    assert counter.rows == 3 * sum(orders) + 3 * 11


def test_an_affine_model_is_exact_with_any_orders() -> None:
    weights = torch.randn(1, 1, 10, 10, dtype=torch.float64)
    model = nn.Sequential(nn.Flatten(), nn.Linear(100, 1).double())
    with torch.no_grad():
        model[1].weight.copy_(weights.reshape(1, -1))
        model[1].bias.zero_()
    x = _images(2, 1)
    result = RankIntegratedGradients(model).attribute_bands(
        x, target=0, segment_steps=(3, 1, 2))
    torch.testing.assert_close(result.pixels, weights * x, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("steps", "error", "named"), [
    ((), UserInputError, "empty"),
    ((4, 0), UserInputError, "segment_steps. must be an integer >= 1"),
    ((2.5,), UserTypeError, "segment_steps"), ("8", UserTypeError, "segment_steps"),
    (tuple([2] * 11), UserInputError, "11 orders for 10 components"),
])
def test_bad_orders_are_refused_naming_the_argument(
        steps: object, error: type[Exception], named: str) -> None:
    model, x = tanh_cnn(1), _images(1, 1)
    with pytest.raises(error, match=named):
        RankIntegratedGradients(model).attribute_bands(x, target=0, segment_steps=steps)  # type: ignore[arg-type]
