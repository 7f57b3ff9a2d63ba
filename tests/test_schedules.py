"""Rank gates: captum_rank/schedules.py."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor

from captum_rank.schedules import (
    ArcLengthSchedule,
    EnergySchedule,
    LinearSchedule,
    NumericalRankSchedule,
    RankSchedule,
    SequentialSchedule,
    SpectralSchedule,
    available_schedules,
    available_shapes,
    resolve_schedule,
)

ALL = [SequentialSchedule(), NumericalRankSchedule(), ArcLengthSchedule(), EnergySchedule(),
       SpectralSchedule(0.3), SpectralSchedule(1.0), LinearSchedule(),
       SpectralSchedule(0.4, shape="cosine"), SequentialSchedule(shape="sigmoid"),
       SpectralSchedule(0.0), SpectralSchedule(1.0, shape="sigmoid", sigmoid_gain=3.0)]


def spectrum(values: list[float]) -> Tensor:
    return torch.tensor(sorted(values, reverse=True), dtype=torch.float64)


spectra = st.lists(st.floats(0.0, 10.0), min_size=1, max_size=12).map(spectrum)


@settings(max_examples=40, deadline=None)
@given(spectra, st.sampled_from(ALL))
def test_gates_are_monotone_from_zero_to_one(s: Tensor, schedule: RankSchedule) -> None:
    alphas = torch.linspace(0.0, 1.0, 101, dtype=torch.float64)
    phi = schedule.gates(alphas, s)
    assert phi.shape == (101, s.numel())
    assert torch.equal(phi[0], torch.zeros_like(phi[0]))
    assert torch.equal(phi[-1], torch.ones_like(phi[-1]))
    assert bool(((phi >= 0) & (phi <= 1)).all())
    assert bool((phi[1:] >= phi[:-1]).all())


def test_sequential_hits_the_rank_k_masks() -> None:
    r = 6
    s = torch.linspace(5, 1, r)
    alphas = torch.arange(r + 1, dtype=torch.float64) / r
    phi = SequentialSchedule().gates(alphas, s)
    for k in range(r + 1):
        assert torch.equal(phi[k], (torch.arange(r) < k).to(torch.float64))


def test_spectral_with_full_overlap_is_linear() -> None:
    s = torch.tensor([4.0, 2.0, 1.0, 0.0])
    alphas = torch.rand(20, dtype=torch.float64)
    assert torch.allclose(SpectralSchedule(1.0).gates(alphas, s), LinearSchedule().gates(alphas, s))
    assert not torch.allclose(SpectralSchedule(0.5).gates(alphas, s),
                              LinearSchedule().gates(alphas, s))


def test_spectral_orders_by_singular_value() -> None:
    s = torch.tensor([4.0, 2.0, 0.0])
    phi = SpectralSchedule(0.5).gates(torch.tensor([0.25, 0.5, 0.75]), s)
    # The strongest component is half in at a = 0.25; the zero one starts at 0.5.
    assert phi[0].tolist() == [0.5, 0.0, 0.0]
    assert phi[2, 2].item() == pytest.approx(0.5)


def test_numerical_rank_spends_the_path_on_signal() -> None:
    s = torch.tensor([3.0, 1.0, 1e-12, 0.0])
    _start, width = NumericalRankSchedule().windows(s)
    assert width.tolist() == [0.5, 0.5, 0.0, 0.0]
    phi = NumericalRankSchedule().gates(torch.tensor([0.5, 0.99]), s)
    assert phi[0].tolist() == [1.0, 0.0, 0.0, 0.0]
    assert phi[1, 1] == pytest.approx(0.98)


def test_energy_windows_follow_energy_share() -> None:
    start, width = EnergySchedule().windows(torch.tensor([2.0, 1.0, 1.0]))
    assert torch.allclose(width, torch.tensor([4 / 6, 1 / 6, 1 / 6], dtype=torch.float64))
    assert torch.allclose(start, torch.tensor([0.0, 4 / 6, 5 / 6], dtype=torch.float64))


@pytest.mark.parametrize("schedule", ALL, ids=repr)
def test_zero_spectrum_is_well_defined(schedule: RankSchedule) -> None:
    phi = schedule.gates(torch.linspace(0, 1, 11), torch.zeros(2, 5))
    assert torch.isfinite(phi).all()


def test_batched_windows_are_per_matrix() -> None:
    s = torch.tensor([[3.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    start, _ = SpectralSchedule(0.5).windows(s)
    assert start[1].tolist() == [0.0, 0.0, 0.0]
    assert start[0, 2] == pytest.approx(0.5)


def test_resolve_schedule() -> None:
    assert available_schedules() == [
        "sequential", "numerical_rank", "arc_length", "energy", "spectral", "linear"
    ]
    assert isinstance(resolve_schedule("energy"), EnergySchedule)
    custom = SpectralSchedule(0.2)
    assert resolve_schedule(custom) is custom
    with pytest.raises(ValueError, match="Unknown `schedule`"):
        resolve_schedule("rank")
    with pytest.raises(TypeError, match="schedule"):
        resolve_schedule(3)  # type: ignore[arg-type]


@pytest.mark.parametrize("overlap,error", [(-0.1, ValueError), (1.5, ValueError), ("a", TypeError),
                                           (True, TypeError)])
def test_bad_overlap(overlap: object, error: type) -> None:
    with pytest.raises(error, match="overlap"):
        SpectralSchedule(overlap)  # type: ignore[arg-type]


def test_bad_rtol() -> None:
    with pytest.raises(ValueError, match="rtol"):
        NumericalRankSchedule(rtol=2.0)


# --- Gate shapes, overlap 0 and the Spectral IG recipe -----------------------------------

def test_cosine_and_sigmoid_shapes_within_a_window() -> None:
    s = torch.ones(1)
    progress = torch.tensor([0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0], dtype=torch.float64)
    cosine = SpectralSchedule(1.0, shape="cosine").gates(progress, s)[:, 0]
    assert torch.allclose(cosine, (1 - torch.cos(torch.pi * progress)) / 2)
    gain = 12.0
    sigmoid = SpectralSchedule(1.0, shape="sigmoid").gates(progress, s)[:, 0]
    raw = torch.sigmoid(gain * (progress - 0.5))
    expected = (raw - torch.sigmoid(torch.tensor(-gain / 2, dtype=torch.float64))) / (
        torch.sigmoid(torch.tensor(gain / 2, dtype=torch.float64))
        - torch.sigmoid(torch.tensor(-gain / 2, dtype=torch.float64)))
    assert torch.allclose(sigmoid, expected)
    assert sigmoid[3] == pytest.approx(0.5) and sigmoid[0] == 0.0 and sigmoid[-1] == 1.0
    # A shape moves a gate inside its window only: the window ends stay where they were.
    s = torch.tensor([4.0, 2.0, 1.0])
    start, width = SpectralSchedule(0.4).windows(s)
    own = torch.arange(3)
    for shape in ("cosine", "sigmoid"):
        shaped = SpectralSchedule(0.4, shape=shape)
        assert torch.equal(shaped.windows(s)[0], start)
        assert torch.equal(shaped.gates(start, s)[own, own], torch.zeros(3, dtype=torch.float64))
        assert torch.equal(shaped.gates(start + width, s)[own, own],
                           torch.ones(3, dtype=torch.float64))


def test_shapes_only_curve_the_gates_of_a_straight_line() -> None:
    # A shape walks the straight line at another speed: the gates stay equal across
    # components, but are shape(a) rather than IG's a.
    alphas = torch.linspace(0.0, 1.0, 9, dtype=torch.float64)
    s = torch.tensor([4.0, 2.0, 1.0])
    for schedule, is_a in ((SpectralSchedule(1.0, shape="cosine"), False),
                           (LinearSchedule(shape="sigmoid"), False),
                           (LinearSchedule(channels="joint"), True)):
        gates = schedule.gates(alphas, s)
        assert torch.equal(gates, gates[:, :1].expand_as(gates)), schedule
        assert torch.allclose(gates, alphas[:, None].expand_as(gates)) == is_a, schedule


@pytest.mark.parametrize("kwargs,error", [
    ({"shape": "step"}, ValueError), ({"shape": 3}, TypeError),
    ({"sigmoid_gain": 0.0}, ValueError), ({"sigmoid_gain": "x"}, TypeError),
    ({"channels": "rgb"}, ValueError),
])
def test_bad_schedule_options(kwargs: dict[str, object], error: type) -> None:
    name = next(iter(kwargs))
    with pytest.raises(error, match=name):
        SpectralSchedule(0.5, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(error, match=name):
        SequentialSchedule(**kwargs)  # type: ignore[arg-type]


def test_options_show_in_repr() -> None:
    assert repr(SequentialSchedule()) == "SequentialSchedule()"
    assert repr(SequentialSchedule(shape="cosine")) == "SequentialSchedule(shape='cosine')"
    assert repr(SpectralSchedule(0.4, shape="sigmoid", sigmoid_gain=5.0, channels="joint")) == (
        "SpectralSchedule(overlap=0.4, shape='sigmoid', sigmoid_gain=5.0, channels='joint')"
    )
    assert available_shapes() == ["linear", "cosine", "sigmoid"]


def test_overlap_zero_steps_every_component_just_after_its_own_point() -> None:
    s = torch.tensor([4.0, 2.0, 1.0, 0.0])
    # Component i jumps just after a = 1 - s_i / s_1: 0, 0.5, 0.75, and a zero component
    # in the last ulp before 1.
    alphas = torch.tensor([0.0, 1e-6, 0.5, 0.5 + 1e-6, 0.75 + 1e-6, 1 - 1e-6, 1.0],
                          dtype=torch.float64)
    phi = SpectralSchedule(0.0).gates(alphas, s)
    assert phi.tolist() == [[0, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0], [1, 1, 0, 0],
                            [1, 1, 1, 0], [1, 1, 1, 0], [1, 1, 1, 1]]


def _smooth_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.Softplus(),
                               torch.nn.Flatten(), torch.nn.Linear(3 * 6 * 4, 4))


def _delta(model: torch.nn.Module, x: Tensor, baseline: Tensor, attributions: Tensor) -> Tensor:
    with torch.no_grad():
        change = model(x)[:, 1] - model(baseline.expand_as(x))[:, 1]
    return attributions.flatten(1).sum(1) - change


@pytest.mark.parametrize("schedule", [SpectralSchedule(0.4, shape="cosine"),
                                      SpectralSchedule(0.4, shape="sigmoid"),
                                      SequentialSchedule(shape="cosine")], ids=repr)
def test_shaped_gates_are_complete_up_to_quadrature_error(schedule: RankSchedule) -> None:
    from captum_rank import RankIntegratedGradients

    model = _smooth_model().double()
    gen = torch.Generator().manual_seed(3)
    x = torch.rand(2, 2, 8, 6, generator=gen, dtype=torch.float64)
    baseline = torch.zeros(1, 2, 8, 6, dtype=torch.float64)
    rig = RankIntegratedGradients(model)
    errors = []
    for n_steps in (8, 64, 512):
        attributions = rig.attribute(x, baseline, target=1, n_steps=n_steps,
                                     method="riemann_middle", schedule=schedule)
        errors.append(float(_delta(model, x, baseline, attributions).abs().max()))
    # Midpoint rule: error ~ 1/n^2 on a smooth path (a factor 64 per 8x steps).
    assert errors[1] < errors[0] / 10 and errors[2] < errors[1] / 10, errors
    assert errors[2] < 1e-5


def test_overlap_zero_attributes_each_jump_with_its_cells_gradient() -> None:
    # Oracle from torch.linalg.svd: with left Riemann cells [k/M, (k+1)/M], each
    # component's whole jump lands in the cell holding a = 1 - s_i / s_1 (just after it),
    # and is multiplied by the gradient at that cell's left end.
    from captum_rank import RankIntegratedGradients

    model = _smooth_model().double()
    gen = torch.Generator().manual_seed(4)
    x = torch.rand(1, 2, 8, 6, generator=gen, dtype=torch.float64)
    n_steps = 5
    attributions = RankIntegratedGradients(model).attribute(
        x, target=1, n_steps=n_steps, method="riemann_left", schedule=SpectralSchedule(0.0))
    U, S, Vh = torch.linalg.svd(x, full_matrices=False)
    jump_at = 1 - S / S[..., :1]
    cell = torch.clamp(torch.floor(jump_at * n_steps + 1e-12), max=n_steps - 1)
    expected = torch.zeros_like(x)
    point = torch.zeros_like(x)
    for k in range(n_steps):
        grad_point = point.clone().requires_grad_()
        (grad,) = torch.autograd.grad(model(grad_point)[:, 1].sum(), grad_point)
        moving = (cell == k).to(x.dtype)
        jump = (U * (S * moving).unsqueeze(-2)) @ Vh
        expected += grad * jump
        point = point + jump
    assert torch.allclose(point, x)  # the jumps telescope to x - x'
    assert torch.allclose(attributions, expected, atol=1e-10)


@pytest.mark.parametrize("overlap", [0.4, 0.0])
@pytest.mark.parametrize("channels", ["per_channel", "joint"])
def test_spectral_ig_recipe(overlap: float, channels: str) -> None:
    # Spectral IG's reference discretisation, written out independently: M points at
    # a = k / (M - 1) (ends included), gradient of the softmax probability at each,
    # times the increment to the next point; the last gradient is unused. captum-rank
    # reproduces it with riemann_left and n_steps = M - 1.
    from captum_rank import RankIntegratedGradients

    model = _smooth_model().double()
    gen = torch.Generator().manual_seed(5)
    x = torch.rand(2, 2, 8, 6, generator=gen, dtype=torch.float64)
    baseline = torch.rand(2, 2, 8, 6, generator=gen, dtype=torch.float64) * 0.1
    M, w = 9, overlap
    diff = x - baseline
    matrices = diff.reshape(2, 1, 16, 6) if channels == "joint" else diff
    U, S, Vh = torch.linalg.svd(matrices, full_matrices=False)
    start = (1 - w) * (1 - S / S[..., :1])
    points = []
    for k in range(M):
        a = k / (M - 1)
        gate = (a >= start).to(x.dtype) if w == 0 else ((a - start) / w).clamp(0, 1)
        if w == 0 and k == 0:
            gate = torch.zeros_like(gate)  # captum-rank's path starts at x' (see docs)
        points.append(baseline + ((U * (S * gate).unsqueeze(-2)) @ Vh).reshape(x.shape))
    target = torch.tensor([1, 3])

    def prob(inputs: Tensor) -> Tensor:
        return torch.softmax(model(inputs), dim=-1)

    expected = torch.zeros_like(x)
    for k in range(M - 1):
        here = points[k].clone().requires_grad_()
        (grad,) = torch.autograd.grad(prob(here)[torch.arange(2), target].sum(), here)
        expected += grad * (points[k + 1] - points[k])
    ours = RankIntegratedGradients(prob).attribute(
        x, baseline, target=target, n_steps=M - 1, method="riemann_left",
        schedule=SpectralSchedule(w, channels=channels))
    assert torch.allclose(ours, expected, atol=1e-10)


@pytest.mark.parametrize("attr, value", [("shape", "cosin"), ("channels", "jiont"),
                                         ("shape", None), ("sigmoid_gain", -1.0)])
def test_a_schedule_changed_after_construction_is_checked_where_used(
        attr: str, value: object) -> None:
    from captum_rank import RankIntegratedGradients
    from captum_rank.checks import UserInputError
    from captum_rank.schedules import SequentialSchedule

    schedule = SequentialSchedule()
    setattr(schedule, attr, value)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 4 * 4, 2))
    with pytest.raises(UserInputError, match=attr):
        RankIntegratedGradients(model).attribute(torch.rand(2, 3, 4, 4), target=0,
                                                 schedule=schedule, n_steps=4)
