"""One tensor's rank path: captum_rank/path.py."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from captum_rank.path import PathPlan, PathWalk, _active_bands
from captum_rank.quadrature import path_partition
from captum_rank.schedules import (
    RankSchedule,
    SequentialSchedule,
    SpectralSchedule,
    resolve_schedule,
)
from captum_rank.svd import low_rank

BOTH = PathPlan(pixels=True, ranks=True)


def make_path(x: Tensor, baseline: Tensor, schedule: str = "sequential", n_steps: int = 7,
              method: str = "riemann_middle", plan: PathPlan = BOTH) -> PathWalk:
    return PathWalk(inputs=x, baseline=baseline, schedule=resolve_schedule(schedule),
                    partition=path_partition(method, n_steps), plan=plan)


@pytest.mark.parametrize("schedule", ["sequential", "arc_length", "spectral", "energy"])
def test_points_are_the_schedule_gates_applied_to_the_svd(schedule: str) -> None:
    torch.manual_seed(0)
    x, baseline = torch.rand(2, 3, 9, 6), torch.full((1, 3, 9, 6), 0.2)
    path = make_path(x, baseline, schedule)
    U, S, Vh = torch.linalg.svd(x - baseline, full_matrices=False)
    gates = resolve_schedule(schedule).gates(path.partition.nodes, S).float()
    for step in range(len(path.partition)):
        expected = baseline + (U * (S * gates[step]).unsqueeze(-2)) @ Vh
        assert torch.allclose(path.point(step), expected, atol=1e-5)


def test_running_sum_ends_at_the_input() -> None:
    torch.manual_seed(1)
    x = torch.rand(3, 1, 10, 10)
    path = make_path(x, torch.zeros(()), n_steps=4)
    for step in range(4):
        path.point(step)
    assert path._running is not None
    assert torch.allclose(path._running, x, atol=1e-5)


def test_sequential_points_at_right_nodes_are_low_rank_approximations() -> None:
    x = torch.rand(2, 1, 5, 5)
    path = make_path(x, torch.zeros(()), n_steps=5, method="riemann_right")
    for k in range(1, 6):
        assert torch.allclose(path.point(k - 1), low_rank(x, k), atol=1e-5)


def test_accumulate_with_a_constant_gradient_gives_gradient_times_delta() -> None:
    torch.manual_seed(2)
    x, baseline = torch.rand(2, 2, 6, 8), torch.rand(2, 2, 6, 8)
    grad = torch.randn(2, 2, 6, 8)
    path = make_path(x, baseline, "spectral", n_steps=3)
    local = make_path(x, baseline, "spectral", n_steps=3,
                      plan=PathPlan(pixels=True, ranks=True, multiply_by_inputs=False))
    for walk in (path, local):
        for step in range(3):
            walk.point(step)
            walk.accumulate(step, grad)
    assert torch.allclose(path.pixels(), grad * (x - baseline), atol=1e-5)
    # Component i's total is s_i u_i^T G v_i (global), u_i^T G v_i (local).
    projection = path.geometry.project(grad)
    assert torch.allclose(path.ranks(), path.singular_values * projection, atol=1e-5)
    assert torch.allclose(local.ranks(), local.geometry.project(grad), atol=1e-5)
    assert torch.allclose(local.pixels(), grad, atol=1e-6)


def test_active_bands_are_hulls_of_moving_components() -> None:
    moving = torch.zeros(3, 2, 6, dtype=torch.bool)
    moving[0, 0, 1] = True
    moving[0, 1, 3] = True
    moving[2, 1, 5] = True
    assert _active_bands(moving) == [(1, 4), (0, 0), (5, 6)]


def test_sequential_steps_touch_only_a_few_components() -> None:
    x = torch.rand(1, 1, 28, 28)
    path = PathWalk(inputs=x, baseline=torch.zeros(()), schedule=SequentialSchedule(),
                    partition=path_partition("riemann_middle", 56),
                    plan=PathPlan(pixels=True, ranks=False))
    widths = [hi - lo for lo, hi in path.bands]
    assert max(widths) <= 2 and sum(widths) <= 28 + 56


def test_straight_line_needs_no_decomposition() -> None:
    x = torch.rand(2, 1, 4, 4)
    path = PathWalk(inputs=x, baseline=torch.zeros(()), schedule=SpectralSchedule(1.0),
                    partition=path_partition("gausslegendre", 3),
                    plan=PathPlan(pixels=True, ranks=False))
    assert path.straight and path.geometry.factors is None
    path.point(0)
    assert torch.allclose(path.point(1), x * path.partition.nodes[1].float())


class EqualWindows(RankSchedule):
    """Every component in the same window [0.2, 0.7]: a straight line, at another speed."""

    def windows(self, singular_values: Tensor) -> tuple[Tensor, Tensor]:
        start = torch.full(singular_values.shape, 0.2, dtype=torch.float64)
        return start, torch.full_like(start, 0.5)


def test_straightness_is_derived_from_the_gates_not_declared() -> None:
    # Equal windows are detected as a straight line from the gates...
    x = torch.rand(2, 1, 5, 4)
    schedule = EqualWindows()
    path = make_path(x, torch.zeros(()), n_steps=4, plan=PathPlan(pixels=True, ranks=False))
    straight = PathWalk(inputs=x, baseline=torch.zeros(()), schedule=schedule,
                        partition=path_partition("riemann_middle", 4),
                        plan=PathPlan(pixels=True, ranks=False))
    assert straight.straight and straight.geometry.factors is None and not path.straight
    gates = schedule.gates(straight.partition.nodes, torch.ones(4))[:, 0]
    for step in range(4):
        assert torch.allclose(straight.point(step), x * gates[step].float())
    # ... and unequal windows are not.
    curved = PathWalk(inputs=x, baseline=torch.zeros(()), schedule=SequentialSchedule(),
                      partition=path_partition("riemann_middle", 4),
                      plan=PathPlan(pixels=True, ranks=False))
    assert not curved.straight


def test_points_must_be_walked_in_order_once_each() -> None:
    x = torch.rand(1, 1, 4, 4)
    path = make_path(x, torch.zeros(()), n_steps=3)
    with pytest.raises(RuntimeError, match=r"PathWalk\.point\(1\) called out of order"):
        path.point(1)
    path.point(0)
    with pytest.raises(RuntimeError, match="out of order"):
        path.point(0)  # a repeat would add the step's increment twice
    with pytest.raises(RuntimeError, match="out of order"):
        path.accumulate(1, torch.zeros_like(x))  # no point built for it yet
    path.accumulate(0, torch.zeros_like(x))
    with pytest.raises(RuntimeError, match="out of order"):
        path.accumulate(0, torch.zeros_like(x))
    with pytest.raises(RuntimeError, match=r"PathWalk\.pixels\(\) before the walk is over"):
        path.pixels()


def test_results_follow_the_plan() -> None:
    x = torch.rand(1, 1, 4, 4)
    path = make_path(x, torch.zeros(()), n_steps=2, plan=PathPlan(pixels=True, ranks=False))
    for step in range(2):
        path.point(step)
        path.accumulate(step, torch.ones_like(x))
    assert path.rank_sum is None and path.grad_mean is None
    assert torch.allclose(path.pixels(), x, atol=1e-6)
    with pytest.raises(RuntimeError, match="no rank attributions"):
        path.ranks()


# --- Joint colour mode: one SVD of the (C*H) x W stack ------------------------------------

def test_joint_points_use_one_svd_of_the_stacked_channels() -> None:
    torch.manual_seed(3)
    x, baseline = torch.rand(2, 3, 5, 4), torch.full((1, 3, 5, 4), 0.1)
    schedule = SpectralSchedule(0.5, channels="joint")
    path = PathWalk(inputs=x, baseline=baseline, schedule=schedule,
                    partition=path_partition("riemann_middle", 4), plan=BOTH)
    stack = (x - baseline).reshape(2, 1, 15, 4)
    U, S, Vh = torch.linalg.svd(stack, full_matrices=False)
    assert torch.allclose(path.singular_values, S, atol=1e-5)
    gates = schedule.gates(path.partition.nodes, S).float()
    for step in range(4):
        expected = baseline + ((U * (S * gates[step]).unsqueeze(-2)) @ Vh).reshape(x.shape)
        point = path.point(step)
        assert point.shape == x.shape
        assert torch.allclose(point, expected, atol=1e-5)


@pytest.mark.parametrize("schedule", ["sequential", "spectral", "linear"])
@pytest.mark.parametrize("baseline", [0.0, "tensor"])
def test_joint_mode_is_rig_on_the_reshaped_stack(schedule: str, baseline: object) -> None:
    # RIG in joint mode on x (N, C, H, W) must equal per-matrix RIG on x reshaped to
    # (N, 1, C*H, W) through a model that reshapes back.
    from captum_rank import RankIntegratedGradients

    torch.manual_seed(4)
    n, c, h, w = 2, 3, 7, 5
    model = torch.nn.Sequential(torch.nn.Conv2d(c, 2, 3), torch.nn.Softplus(),
                                torch.nn.Flatten(), torch.nn.Linear(2 * 5 * 3, 4)).double()
    x = torch.rand(n, c, h, w, dtype=torch.float64)
    base = torch.rand(1, c, h, w, dtype=torch.float64) if baseline == "tensor" else 0.0
    stacked_base = base.reshape(1, 1, c * h, w) if isinstance(base, Tensor) else base

    def stacked_model(z: Tensor) -> Tensor:
        return model(z.reshape(-1, c, h, w))

    cls = type(resolve_schedule(schedule))
    joint = cls(channels="joint")
    kwargs = {"target": 1, "n_steps": 6, "method": "gausslegendre"}
    pixels, ranks, delta = RankIntegratedGradients(model).attribute_with_ranks(
        x, base, schedule=joint, return_convergence_delta=True, **kwargs)
    ref_pixels, ref_ranks, ref_delta = RankIntegratedGradients(stacked_model).attribute_with_ranks(
        x.reshape(n, 1, c * h, w), stacked_base, schedule=cls(), return_convergence_delta=True,
        **kwargs)
    assert pixels.shape == x.shape and ranks.shape == (n, 1, w)
    assert torch.allclose(pixels, ref_pixels.reshape(x.shape), atol=1e-10)
    assert torch.allclose(ranks, ref_ranks, atol=1e-10)
    assert torch.allclose(delta, ref_delta, atol=1e-10)


def test_joint_mode_leaves_single_matrix_inputs_alone() -> None:
    from captum_rank import RankIntegratedGradients

    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(30, 2), torch.nn.Tanh())
    x = torch.rand(2, 6, 5)
    rig = RankIntegratedGradients(model)
    joint = rig.attribute(x, target=0, n_steps=5, schedule=SequentialSchedule(channels="joint"))
    single = rig.attribute(x, target=0, n_steps=5, schedule=SequentialSchedule())
    assert torch.equal(joint, single)
