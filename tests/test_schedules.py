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
    resolve_schedule,
)

ALL = [SequentialSchedule(), NumericalRankSchedule(), ArcLengthSchedule(), EnergySchedule(),
       SpectralSchedule(0.3), SpectralSchedule(1.0), LinearSchedule()]


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
    assert SpectralSchedule(1.0).straight_line and not SpectralSchedule(0.5).straight_line


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


@pytest.mark.parametrize("overlap,error", [(0.0, ValueError), (1.5, ValueError), ("a", TypeError),
                                           (True, TypeError)])
def test_bad_overlap(overlap: object, error: type) -> None:
    with pytest.raises(error, match="overlap"):
        SpectralSchedule(overlap)  # type: ignore[arg-type]


def test_bad_rtol() -> None:
    with pytest.raises(ValueError, match="rtol"):
        NumericalRankSchedule(rtol=2.0)
