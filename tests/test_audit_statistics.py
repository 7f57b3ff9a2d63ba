"""Tests for captum_rank.audit.statistics, audit._attributions and audit.settings: the audit's
running sums as accumulators, the one exact-or-quadrature decision, and its settings."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from captum_rank import RankIntegratedGradients
from captum_rank.audit import explain, rank_spectrum
from captum_rank.audit import settings as audit_settings
from captum_rank.audit import spectrum as spectrum_module
from captum_rank.audit._attributions import exact_curve, plan_attributions
from captum_rank.audit.statistics import AttributionSums, SpectrumSums
from captum_rank.checks import UserInputError
from captum_rank.options import RigOptions
from captum_rank.schedules import resolve_schedule

# captum_rank.audit.explain is also the name of the function the package exports.
explain_module = importlib.import_module("captum_rank.audit.explain")


def _batch(seed: int, n: int, channels: int, r: int, classes: int
           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    ranks = torch.randn(n, channels, r, generator=gen, dtype=torch.float64)
    delta = torch.randn(n, generator=gen, dtype=torch.float64) * 0.1
    targets = torch.randint(0, classes, (n,), generator=gen)
    return ranks, delta, targets


def _oracle(ranks: torch.Tensor, delta: torch.Tensor, targets: torch.Tensor,
            classes: int, tolerance: float) -> dict[str, np.ndarray]:
    """The sums written out in numpy, from their definitions."""
    per_image = ranks.numpy().sum(axis=1)
    change = np.abs(per_image.sum(axis=1) - delta.numpy())
    table = np.zeros((classes, per_image.shape[1]))
    for row, c in zip(per_image, targets.numpy(), strict=True):
        table[c] += row
    return {"sum": per_image.sum(axis=0), "abs": np.abs(per_image).sum(axis=0),
            "delta": np.abs(delta.numpy()).sum(), "change": change.sum(),
            "over": (np.abs(delta.numpy()) > tolerance * change).sum(), "class": table}


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 9), split=st.integers(0, 9), channels=st.integers(1, 3),
       r=st.integers(1, 6), classes=st.integers(1, 4), seed=st.integers(0, 10_000))
def test_method_sums_match_their_definitions_however_the_images_are_split(
        n: int, split: int, channels: int, r: int, classes: int, seed: int) -> None:
    ranks, delta, targets = _batch(seed, n, channels, r, classes)
    cut = min(split, n)
    first, second = AttributionSums.zeros(r, classes), AttributionSums.zeros(r, classes)
    first.update(ranks[:cut], delta[:cut], targets[:cut], reliability_tolerance=0.1, seconds=1.0)
    second.update(ranks[cut:], delta[cut:], targets[cut:], reliability_tolerance=0.1, seconds=2.0)
    merged = first.merge(second)
    running = AttributionSums.zeros(r, classes)
    running.update(ranks[:cut], delta[:cut], targets[:cut], reliability_tolerance=0.1, seconds=1.0)
    running.update(ranks[cut:], delta[cut:], targets[cut:], reliability_tolerance=0.1, seconds=2.0)
    assert merged == running  # merge is what update does, bit for bit
    expected = _oracle(ranks, delta, targets, classes, 0.1)
    np.testing.assert_allclose(merged.sum, expected["sum"], atol=1e-12)
    np.testing.assert_allclose(merged.abs, expected["abs"], atol=1e-12)
    assert merged.delta == pytest.approx(expected["delta"], abs=1e-12)
    assert merged.change == pytest.approx(expected["change"], abs=1e-12)
    assert merged.over == expected["over"]
    assert merged.seconds == 3.0
    assert merged.classes is not None
    np.testing.assert_allclose(merged.classes, expected["class"], atol=1e-12)


def test_the_checkpoints_names_are_those_it_always_had_and_read_back_exactly() -> None:
    sums = SpectrumSums.zeros(["rig", "ig"], ["a", "b"], r=3, n_classes=2, per_class=True)
    sums.add_images({"a": torch.tensor([0, 1, 1]), "b": torch.tensor([1, 1, 1])}, 3)
    ranks, delta, targets = _batch(0, 3, 1, 3, 2)
    sums.attributions["ig"]["b"].update(ranks, delta, targets, reliability_tolerance=0.1,
                                        seconds=0.5)
    arrays = sums.to_arrays()
    # The names (and their order) that checkpoints written before the accumulators hold.
    assert list(arrays) == ["count", "a/class_count", "b/class_count"] + [
        f"{attribution}/{m}/{part}" for attribution in ("rig", "ig") for m in ("a", "b")
        for part in ("sum", "abs", "delta", "change", "over", "class", "seconds")]
    assert arrays["count"].dtype == np.int64 and arrays["rig/a/over"].dtype == np.int64
    assert arrays["a/class_count"].tolist() == [1, 2]
    back = SpectrumSums.from_arrays(arrays, ["rig", "ig"], ["a", "b"])
    assert back == sums and back.present_classes() == {"a": {0: 1, 1: 2}, "b": {1: 3}}
    assert "rig/a/class" not in SpectrumSums.zeros(
        ["rig"], ["a"], r=3, n_classes=2, per_class=False).to_arrays()


def test_rank_spectrum_sums_are_the_accumulators_of_rig_s_own_attributions() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(36, 3), nn.Tanh(), nn.Linear(3, 3))
    images, labels = torch.rand(5, 1, 6, 6), torch.tensor([0, 1, 2, 0, 1])
    result = rank_spectrum(model, (images, labels), attributions={"ig": "linear"}, n_steps=8,
                           batch_size=2, progress=False)
    ranks, delta = RankIntegratedGradients(model).attribute_ranks(
        images, target=labels, n_steps=8, method="adaptive", schedule="linear",
        return_convergence_delta=True)
    expected = _oracle(ranks.detach().double(), delta.detach().double(), labels, 3,
                       result.reliability_tolerance)
    np.testing.assert_allclose(result.sums["ig"]["model"], expected["sum"], atol=1e-6)
    np.testing.assert_allclose(result.abs_sums["ig"]["model"], expected["abs"], atol=1e-6)
    assert result.over_reliability_tolerance["ig"]["model"] == expected["over"]
    np.testing.assert_allclose(result.class_sums["ig"]["model"][2], expected["class"][2],
                               atol=1e-6)


def test_one_decision_exact_or_quadrature_with_rig_options() -> None:
    grey, colour = torch.zeros(1, 1, 8, 8), torch.zeros(1, 3, 8, 8)
    chosen = {"rig": None, "seq": "sequential", "ig": "linear"}
    runs = plan_attributions(chosen, grey, exact=True, n_steps=16, method=None,
                             map_tolerance=0.05)
    assert {k: run.exact for k, run in runs.items()} == {"rig": True, "seq": True, "ig": False}
    ig = runs["ig"].quadrature
    expected = RigOptions(n_steps=16, method="adaptive", schedule=resolve_schedule("linear"),
                          map_tolerance=0.05)
    assert isinstance(ig, RigOptions) and ig.schedule.name == expected.schedule.name
    assert all(getattr(ig, f) == getattr(expected, f) for f in (
        "n_steps", "method", "internal_batch_size", "form", "tolerance", "map_tolerance"))
    on_colour = plan_attributions(chosen, colour, exact=True, n_steps=16, method=None)
    assert {k: run.exact for k, run in on_colour.items()} == {
        "rig": False, "seq": True, "ig": False}
    fixed = plan_attributions(chosen, grey, exact=False, n_steps=16, method="riemann_left",
                              map_tolerance=0.05)
    # A fixed rule has no refinement: the map tolerance is not passed to it.
    assert all(run.quadrature.map_tolerance is None and run.quadrature.method == "riemann_left"
               for run in fixed.values())
    with pytest.raises(UserInputError, match="method"):
        plan_attributions(chosen, grey, exact=False, n_steps=16, method="simpson")
    assert exact_curve(8, None).rows(3) == 24 and exact_curve(8, 5).rows(3) == 5


def test_explain_and_the_spectrum_make_the_same_decision() -> None:
    torch.manual_seed(1)
    model = nn.Sequential(nn.Flatten(), nn.Linear(36, 3), nn.Tanh(), nn.Linear(3, 3))
    images = torch.rand(2, 1, 6, 6)
    target = torch.tensor([1, 2])
    ex = explain(model, images, target=target, attributions={"ig": "linear"}, n_steps=8,
                 method="gausslegendre", exact=False)
    spec = rank_spectrum(model, (images, target), attributions={"ig": "linear"}, n_steps=8,
                         method="gausslegendre", exact=False, progress=False)
    assert ex.method == spec.method == "gausslegendre"
    assert ex.attributions == spec.attributions == {"ig": "linear"}
    total = np.sum([item["attributions"]["ig"]["spectrum"] for item in ex.items["model"]], axis=0)
    np.testing.assert_allclose(total, spec.sums["ig"]["model"], atol=1e-6)


def test_settings_live_in_one_module_and_the_old_imports_keep_working() -> None:
    assert spectrum_module.DEFAULT_ATTRIBUTIONS is audit_settings.DEFAULT_ATTRIBUTIONS
    assert spectrum_module.default_method is audit_settings.default_method
    assert spectrum_module.attribution_label is audit_settings.attribution_label
    assert explain_module.PHOTO_ATTRIBUTIONS is audit_settings.PHOTO_ATTRIBUTIONS
    assert explain_module.default_attributions is audit_settings.default_attributions
    # explain takes nothing private from the spectrum module any more.
    assert not hasattr(explain_module, "_schedule_id")
