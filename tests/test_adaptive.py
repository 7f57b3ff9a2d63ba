"""The adaptive rule and tolerance=: captum_rank/adaptive.py (through RankIntegratedGradients)."""

from __future__ import annotations

import warnings

import pytest
import torch
from helpers import CallCounter
from torch import Tensor, nn

from captum_rank import RankIntegratedGradients
from captum_rank.adaptive import Convergence, initial_nodes
from captum_rank.checks import UserInputError


class Scaled(nn.Module):
    """A smooth CNN whose output is scaled per example by an additional argument."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(1, 3, 3)
        self.fc = nn.Linear(3 * 6 * 6, 4)

    def forward(self, x: Tensor, scale: Tensor | None = None) -> Tensor:
        out: Tensor = self.fc(nn.functional.softplus(self.conv(x)).flatten(1))
        return out if scale is None else out * scale[:, None]


@pytest.fixture
def inputs() -> Tensor:
    torch.manual_seed(5)
    return torch.rand(4, 1, 8, 8, dtype=torch.float64)


def test_each_example_spends_exactly_n_steps_and_nothing_more(inputs: Tensor) -> None:
    model = CallCounter(Scaled().double())
    rig = RankIntegratedGradients(model)
    rig.attribute(inputs, target=1, n_steps=13)
    convergence = rig.last_convergence
    assert convergence is not None
    assert convergence.evaluations.tolist() == [13] * 4
    # No extra forward pass: the outputs at the path ends come with the gradients.
    assert model.rows == 13 * 4


def test_tolerance_stops_converged_examples_early(inputs: Tensor) -> None:
    model = CallCounter(Scaled().double())
    rig = RankIntegratedGradients(model)
    # The first example is its own baseline plus a tiny step: complete at once.
    x = inputs.clone()
    baseline = inputs.clone()
    baseline[0] = x[0] - 1e-6
    baseline[1:] = 0.0
    rig.attribute(x, baselines=baseline, target=1, n_steps=200, tolerance=1e-6)
    convergence = rig.last_convergence
    assert convergence is not None
    evaluations = convergence.evaluations
    assert int(evaluations[0]) == initial_nodes(200, 1e-6) == 3
    assert bool(convergence.reached.all())
    assert model.rows == int(evaluations.sum())
    assert int(evaluations.max()) < 200
    assert bool((convergence.relative_error <= 1e-6).all())


def test_a_warning_names_the_examples_that_miss_the_tolerance(inputs: Tensor) -> None:
    rig = RankIntegratedGradients(Scaled().double())
    with pytest.warns(UserWarning, match=r"4 of 4 examples did not reach tolerance=1e-12.*"
                                         r"examples 0, 1, 2, 3"):
        rig.attribute(inputs, target=0, n_steps=5, tolerance=1e-12)
    convergence = rig.last_convergence
    assert convergence is not None
    assert convergence.failed == [0, 1, 2, 3]
    assert convergence.evaluations.tolist() == [5] * 4


def test_no_warning_when_every_example_converges(inputs: Tensor) -> None:
    rig = RankIntegratedGradients(Scaled().double())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rig.attribute(inputs, target=0, n_steps=400, tolerance=1e-2)


def test_delta_is_captums_convergence_delta(inputs: Tensor) -> None:
    rig = RankIntegratedGradients(Scaled().double())
    _, delta = rig.attribute(inputs, target=2, n_steps=9, return_convergence_delta=True)
    convergence = rig.last_convergence
    assert convergence is not None
    assert torch.allclose(convergence.delta, delta, atol=1e-10)
    outputs = Scaled().double()(inputs)[:, 2] - Scaled().double()(torch.zeros_like(inputs))[:, 2]
    assert torch.allclose(convergence.output_change, outputs.detach(), atol=1e-10)


def test_refinement_lowers_the_completeness_error(inputs: Tensor) -> None:
    rig = RankIntegratedGradients(Scaled().double())
    errors = []
    for n_steps in (4, 16, 64):
        rig.attribute(inputs, target=3, n_steps=n_steps)
        convergence = rig.last_convergence
        assert convergence is not None
        errors.append(float(convergence.relative_error.max()))
    assert errors[2] < errors[1] < errors[0]


def test_per_example_targets_and_arguments_follow_their_examples(inputs: Tensor) -> None:
    # Converged examples drop out of later rounds: every remaining point must still get
    # its own example's target and additional arguments.
    model = Scaled().double()
    rig = RankIntegratedGradients(model)
    target = [0, 3, 1, 2]
    scale = torch.tensor([1.0, 2.0, 0.5, 3.0], dtype=torch.float64)
    batch = rig.attribute(inputs, target=target, additional_forward_args=(scale,),
                          n_steps=40, tolerance=1e-3)
    batch_evaluations = rig.last_convergence.evaluations  # type: ignore[union-attr]
    for i in range(4):
        single = rig.attribute(inputs[i:i + 1], target=target[i],
                               additional_forward_args=(scale[i:i + 1],), n_steps=40,
                               tolerance=1e-3)
        assert torch.allclose(batch[i:i + 1], single, atol=1e-12)
        assert rig.last_convergence.evaluations.tolist() == [  # type: ignore[union-attr]
            int(batch_evaluations[i])
        ]


def test_internal_batch_size_caps_the_points_per_call(inputs: Tensor) -> None:
    model = CallCounter(Scaled().double())
    rig = RankIntegratedGradients(model)
    whole = rig.attribute(inputs, target=1, n_steps=12)
    model.rows_per_call.clear()
    chunked = rig.attribute(inputs, target=1, n_steps=12, internal_batch_size=5)
    assert max(model.rows_per_call) <= 5
    assert torch.allclose(whole, chunked, atol=1e-12)


def test_tolerance_needs_the_adaptive_rule(inputs: Tensor) -> None:
    rig = RankIntegratedGradients(Scaled().double())
    with pytest.raises(UserInputError, match="`tolerance` needs method='adaptive'"):
        rig.attribute(inputs, target=0, method="gausslegendre", tolerance=0.01)
    with pytest.raises(UserInputError, match="tolerance"):
        rig.attribute(inputs, target=0, tolerance=-1.0)
    with pytest.raises(UserInputError, match="n_steps"):
        rig.attribute(inputs, target=0, n_steps=1)


def test_fixed_rules_leave_no_convergence_record(inputs: Tensor) -> None:
    rig = RankIntegratedGradients(Scaled().double())
    rig.attribute(inputs, target=0, n_steps=4)
    assert rig.last_convergence is not None
    rig.attribute(inputs, target=0, n_steps=4, method="riemann_middle")
    assert rig.last_convergence is None


def test_linear_schedule_adaptive_is_ig_on_its_own_nodes(inputs: Tensor) -> None:
    # On the straight line the adaptive rule is IG with trapezoid weights on its nodes:
    # with both ends and no refinement (n_steps=2) that is (G(x') + G(x)) / 2 * (x - x').
    model = Scaled().double()
    rig = RankIntegratedGradients(model)
    attribution = rig.attribute(inputs, target=1, n_steps=2, schedule="linear",
                                method="adaptive")  # asked for: not the default there
    ends = []
    for point in (torch.zeros_like(inputs), inputs):
        point = point.clone().requires_grad_()
        model(point)[:, 1].sum().backward()
        assert point.grad is not None
        ends.append(point.grad)
    assert torch.allclose(attribution, 0.5 * (ends[0] + ends[1]) * inputs, atol=1e-12)


def test_convergence_record_is_json_ready() -> None:
    record = Convergence(torch.tensor([3, 7]), torch.tensor([0.0, 0.5]),
                         torch.tensor([0.0, 2.0]), tolerance=0.1, budget=7)
    data = record.to_dict()
    assert data["evaluations"] == [3, 7] and data["reached"] == [True, False]
    assert data["relative_error"] == [0.0, 0.25] and data["budget"] == 7


class Affine(nn.Module):
    """``F(x) = <w, x> + b``: its gradient is constant, so every rule's map is exact."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(3)
        self.fc = nn.Linear(64, 2)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.fc(x.flatten(1))
        return out


def test_every_adaptive_run_records_a_map_error(inputs: Tensor) -> None:
    rig = RankIntegratedGradients(Scaled().double())
    rig.attribute(inputs, target=0, n_steps=16)
    convergence = rig.last_convergence
    assert convergence is not None and convergence.map_error is not None
    assert convergence.map_error.shape == (4,)
    assert bool(torch.isfinite(convergence.map_error).all())
    assert bool((convergence.map_error > 0).all())
    assert convergence.to_dict()["map_error"] == [float(v) for v in convergence.map_error]


def test_an_affine_models_map_is_exact_so_map_tolerance_stops_at_once(inputs: Tensor) -> None:
    model = CallCounter(Affine().double())
    rig = RankIntegratedGradients(model)
    attributions = rig.attribute(inputs, target=1, n_steps=200, map_tolerance=1e-9)
    convergence = rig.last_convergence
    assert convergence is not None and convergence.map_error is not None
    # The constant gradient makes A_n == A_{n/2} exactly: 9 starting nodes and no more.
    assert convergence.evaluations.tolist() == [initial_nodes(200, None, 1e-9)] * 4 == [9] * 4
    assert model.rows == 9 * 4
    assert float(convergence.map_error.max()) < 1e-9
    assert convergence.failed == []
    # Oracle: the affine model's exact attribution w * (x - x').
    weight = model.model.fc.weight[1].reshape(1, 1, 8, 8)
    assert torch.allclose(attributions, weight * inputs, atol=1e-12)


def rough_model() -> nn.Module:
    """A ReLU CNN: a rough integrand along the path, as real classifiers have."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3), nn.ReLU(),
                         nn.Flatten(), nn.Linear(8 * 12 * 12, 3)).double()


def test_map_tolerance_bounds_the_true_map_error() -> None:
    """The estimate is checked against the map of a fine fixed rule, not against itself."""
    torch.manual_seed(5)
    x = torch.rand(4, 1, 16, 16, dtype=torch.float64)
    rig = RankIntegratedGradients(rough_model())
    reference = rig.attribute(x, target=2, n_steps=1000, method="gausslegendre")

    def true_error(attributions: Tensor) -> Tensor:
        gap = (attributions - reference).flatten(1).norm(dim=1)
        return gap / reference.flatten(1).norm(dim=1)

    spent = []
    for tol in (0.1, 0.03):
        refined = rig.attribute(x, target=2, n_steps=4096, map_tolerance=tol)
        convergence = rig.last_convergence
        assert convergence is not None and convergence.map_error is not None
        assert convergence.failed == []
        assert bool((convergence.map_error <= tol).all())
        assert bool((true_error(refined) <= tol).all()), (tol, true_error(refined))
        spent.append(int(convergence.evaluations.max()))
    assert spent[0] < spent[1] < 4096  # a tighter tolerance costs more, and stops
    # A coarse map is far off (about 0.2-0.35 here) and its estimate says so.
    coarse = rig.attribute(x, target=2, n_steps=6)
    assert rig.last_convergence is not None and rig.last_convergence.map_error is not None
    assert bool((true_error(coarse) > 0.15).all())
    assert bool((rig.last_convergence.map_error >= 0.8 * true_error(coarse)).all())


def test_map_tolerance_misses_are_warned_and_listed(inputs: Tensor) -> None:
    rig = RankIntegratedGradients(Scaled().double())
    with pytest.warns(UserWarning, match=r"did not reach map_tolerance=1e-12"):
        rig.attribute(inputs, target=0, n_steps=12, map_tolerance=1e-12)
    convergence = rig.last_convergence
    assert convergence is not None
    assert convergence.failed == [0, 1, 2, 3]
    assert convergence.reached.tolist() == [False] * 4


def test_map_tolerance_needs_the_adaptive_rule_and_a_number(inputs: Tensor) -> None:
    rig = RankIntegratedGradients(Scaled().double())
    with pytest.raises(UserInputError, match="`map_tolerance` needs method='adaptive'"):
        rig.attribute(inputs, target=0, method="gausslegendre", map_tolerance=0.1)
    with pytest.raises(ValueError, match="map_tolerance"):
        rig.attribute(inputs, target=0, map_tolerance=-0.1)
    with pytest.raises(TypeError, match="map_tolerance"):
        rig.attribute(inputs, target=0, map_tolerance="0.1")  # type: ignore[arg-type]
