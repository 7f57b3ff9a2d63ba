"""Exact rank attributions R_i = F(x_i) - F(x_{i-1}) (RankIntegratedGradients.exact_ranks)."""

from __future__ import annotations

import math

import pytest
import torch
from helpers import CallCounter, tanh_cnn
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor

from captum_rank import RankIntegratedGradients
from captum_rank.checks import UserInputError
from captum_rank.schedules import (
    ArcLengthSchedule,
    EnergySchedule,
    NumericalRankSchedule,
    SequentialSchedule,
)


def _affine_spectrum(weight: Tensor, x: Tensor) -> Tensor:
    """For F(x) = <W, x>: component i moves F by s_i u_i^T W v_i, summed over channels."""
    u, s, vh = torch.linalg.svd(x, full_matrices=False)
    per_matrix = s * ((u.mT @ weight) * vh).sum(-1)
    return per_matrix.sum(dim=tuple(range(1, x.dim() - 2)), keepdim=True)


@pytest.mark.parametrize("channels", [1, 3])
def test_exact_is_the_limit_of_sequential_rig_on_a_nonlinear_model(channels: int) -> None:
    # Known answer: F(x_i) - F(x_{i-1}) is the path integral over component i's window,
    # so RIG (sequential) must converge to it. The windows (width 1/r) do not line up
    # with Gauss-Legendre cells, so a kink of the integrand sits inside a cell at every
    # window end and the error falls like h^1.5..h^2 (measured on this model: 1e-3 of
    # max|R| at 32 steps, 1e-4 at 128, 7e-6 at 512). 1e-4 at 512 steps leaves a 10x margin
    # over the measured error and is 10x below the 32-step error, far below the O(|R|)
    # error of a wrong identity (e.g. components shifted by one).
    model = tanh_cnn(channels)
    x = torch.rand(3, channels, 10, 10, dtype=torch.float64)
    rig = RankIntegratedGradients(model)
    exact = rig.exact_ranks(x, target=1)
    assert exact.shape == (3, 1, 10)

    def error(n_steps: int) -> float:
        fine = rig.attribute_ranks(x, target=1, n_steps=n_steps, method="gausslegendre",
                                   schedule="sequential").sum(1, keepdim=True)
        return float((fine - exact).abs().max() / exact.abs().max())

    coarse, fine = error(64), error(512)
    assert fine < 1e-4
    assert fine < coarse / 10  # converging to the exact value, not to something near it


def test_exact_on_joint_colour_is_the_limit_of_arc_length_joint() -> None:
    model = tanh_cnn(3)
    x = torch.rand(2, 3, 10, 10, dtype=torch.float64)
    rig = RankIntegratedGradients(model)
    joint = ArcLengthSchedule(channels="joint")
    exact = rig.exact_ranks(x, target=0, schedule=joint)
    fine = rig.attribute_ranks(x, target=0, n_steps=512, method="gausslegendre",
                               schedule=joint)
    assert exact.shape == fine.shape == (2, 1, 10)
    assert float((fine - exact).abs().max() / exact.abs().max()) < 1e-4


def test_completeness_to_float_precision() -> None:
    model = tanh_cnn(3)
    x = torch.rand(4, 3, 10, 10, dtype=torch.float64)
    base = torch.rand(1, 3, 10, 10, dtype=torch.float64)
    rig = RankIntegratedGradients(model)
    ranks, delta = rig.exact_ranks(x, base, target=2, return_convergence_delta=True)
    with torch.no_grad():
        change = model(x)[:, 2] - model(base)[:, 2]
    assert torch.allclose(ranks.sum(dim=(1, 2)), change, rtol=0, atol=1e-13)
    assert float(delta.abs().max()) < 1e-13
    # float32: the same identity, to float32 rounding of the outputs.
    model32 = tanh_cnn(1).float()
    x32 = torch.rand(3, 1, 10, 10)
    ranks32 = RankIntegratedGradients(model32).exact_ranks(x32, target=0)
    with torch.no_grad():
        change32 = model32(x32)[:, 0] - model32(torch.zeros_like(x32))[:, 0]
    assert ranks32.dtype == torch.float32
    assert torch.allclose(ranks32.sum(dim=(1, 2)), change32, rtol=0, atol=1e-5)


def test_curve_schedules_agree_on_one_matrix() -> None:
    # The same points x_k, so exactly the same values, whatever the speed or gate shape.
    model = tanh_cnn(1)
    x = torch.rand(2, 1, 10, 10, dtype=torch.float64)
    rig = RankIntegratedGradients(model)
    reference = rig.exact_ranks(x, target=1)
    for schedule in ("arc_length", "energy", "numerical_rank", ArcLengthSchedule(shape="cosine"),
                     SequentialSchedule(channels="joint")):
        assert torch.equal(rig.exact_ranks(x, target=1, schedule=schedule), reference)


@pytest.mark.parametrize(("batch", "internal_batch_size"), [(3, None), (3, 7), (2, 1), (4, 50)])
def test_model_calls_and_rows(batch: int, internal_batch_size: int | None) -> None:
    counting = CallCounter(tanh_cnn(3))
    x = torch.rand(batch, 3, 10, 10, dtype=torch.float64)
    RankIntegratedGradients(counting).exact_ranks(x, target=0,
                                                  internal_batch_size=internal_batch_size)
    rows = batch * (10 + 1)  # r + 1 points per example, x' and x included
    assert sum(counting.rows_per_call) == rows
    chunk = rows if internal_batch_size is None else internal_batch_size
    assert counting.calls == math.ceil(rows / chunk)
    assert max(counting.rows_per_call) == min(chunk, rows)


@settings(max_examples=30, deadline=None)
@given(
    channels=st.integers(1, 3),
    height=st.integers(1, 6),
    width=st.integers(1, 6),
    batch=st.integers(1, 3),
    internal_batch_size=st.one_of(st.none(), st.integers(1, 20)),
    seed=st.integers(0, 2**16),
)
def test_shapes_batches_and_affine_known_answer(channels: int, height: int, width: int,
                                                batch: int, internal_batch_size: int | None,
                                                seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    weight = torch.randn(1, channels, height, width, dtype=torch.float64, generator=generator)
    x = torch.randn(batch, channels, height, width, dtype=torch.float64, generator=generator)

    def affine(inputs: Tensor) -> Tensor:
        return (inputs * weight).sum(dim=(1, 2, 3))

    ranks, delta = RankIntegratedGradients(affine).exact_ranks(
        x, internal_batch_size=internal_batch_size, return_convergence_delta=True)
    r = min(height, width)
    assert ranks.shape == (batch, 1, r)
    assert torch.allclose(ranks, _affine_spectrum(weight, x), atol=1e-10)
    assert float(delta.abs().max()) < 1e-10
    # Chunking changes nothing but the number of calls.
    whole = RankIntegratedGradients(affine).exact_ranks(x)
    assert torch.allclose(ranks, whole, rtol=0, atol=1e-12)


def test_per_example_targets_and_additional_forward_args() -> None:
    model = tanh_cnn(1)

    def scaled(x: Tensor, scale: Tensor, shift: float) -> Tensor:
        return model(x) * scale[:, None] + shift

    x = torch.rand(3, 1, 10, 10, dtype=torch.float64)
    scale = torch.tensor([1.0, 2.0, -1.0], dtype=torch.float64)
    target = torch.tensor([0, 2, 1])
    rig = RankIntegratedGradients(scaled)
    together = rig.exact_ranks(x, target=target, additional_forward_args=(scale, 0.5),
                               internal_batch_size=5)
    for i in range(3):
        alone = rig.exact_ranks(x[i:i + 1], target=int(target[i]),
                                additional_forward_args=(scale[i:i + 1], 0.5))
        assert torch.allclose(together[i:i + 1], alone, rtol=0, atol=1e-12)


def test_tuple_of_one_in_tuple_out_and_under_no_grad() -> None:
    model = tanh_cnn(1)
    x = torch.rand(2, 1, 10, 10, dtype=torch.float64)
    rig = RankIntegratedGradients(model)
    with torch.no_grad():
        out = rig.exact_ranks((x,), target=0)
    assert isinstance(out, tuple) and len(out) == 1
    assert torch.equal(out[0], rig.exact_ranks(x, target=0))


@pytest.mark.parametrize("schedule", ["arc_length", "energy", "numerical_rank",
                                      EnergySchedule(shape="cosine"), NumericalRankSchedule()])
def test_per_channel_timing_on_colour_is_refused(schedule: object) -> None:
    rig = RankIntegratedGradients(tanh_cnn(3))
    with pytest.raises(UserInputError, match=r"`schedule`.*channels='joint'"):
        rig.exact_ranks(torch.rand(1, 3, 10, 10, dtype=torch.float64), target=0,
                        schedule=schedule)


@pytest.mark.parametrize("schedule", ["spectral", "linear"])
def test_schedules_off_the_rank_curve_are_refused(schedule: str) -> None:
    rig = RankIntegratedGradients(tanh_cnn(1))
    with pytest.raises(UserInputError, match=r"`schedule` .* one at a time"):
        rig.exact_ranks(torch.rand(1, 1, 10, 10, dtype=torch.float64), schedule=schedule)


def test_bad_calls_name_the_argument() -> None:
    model = tanh_cnn(1)
    x = torch.rand(1, 1, 10, 10, dtype=torch.float64)
    with pytest.raises(UserInputError, match="`inputs` is a tuple of 2"):
        RankIntegratedGradients(lambda a, b: model(a) + model(b)).exact_ranks((x, x), target=0)
    with pytest.raises(UserInputError, match="multiply_by_inputs"):
        RankIntegratedGradients(model, multiply_by_inputs=False).exact_ranks(x, target=0)
    with pytest.raises(UserInputError, match="internal_batch_size"):
        RankIntegratedGradients(model).exact_ranks(x, target=0, internal_batch_size=0)
    with pytest.raises(UserInputError, match="`target`"):
        RankIntegratedGradients(model).exact_ranks(x, target=7)
    with pytest.raises(UserInputError, match="NaN or inf on the rank points"):
        RankIntegratedGradients(lambda t: model(t).log()).exact_ranks(x, target=0)


# --- the audit's rank spectra -------------------------------------------------------------


def test_audit_spectra_are_exact_where_the_path_allows_and_say_so() -> None:
    import json

    from captum_rank.audit import rank_spectrum
    from captum_rank.audit.spectrum import RankSpectrumResult

    torch.manual_seed(1)
    grey = tanh_cnn(1).float()
    x = torch.rand(5, 1, 10, 10)
    y = torch.tensor([0, 1, 2, 0, 1])
    spec = rank_spectrum(grey, (x, y), n_steps=4, batch_size=3, progress=False)
    # Grey: RIG's default curve (arc_length) has the exact form; IG's straight line has not.
    assert spec.exact == {"rig": True, "ig": False}
    expected = RankIntegratedGradients(grey).exact_ranks(x, target=y).double().sum(1).mean(0)
    assert torch.allclose(torch.from_numpy(spec.mean_spectrum("model", "rig")), expected,
                          atol=1e-7)
    assert spec.relative_error("model", "rig") < 1e-6 and spec.reliable("model", "rig")
    data = json.loads(spec.to_json())
    assert data["exact"] == {"rig": True, "ig": False}
    assert data["summary"]["model"]["rig"]["exact"] is True
    assert RankSpectrumResult.from_json(spec.to_json()) == spec
    quadrature = rank_spectrum(grey, (x, y), n_steps=4, progress=False, exact=False)
    assert quadrature.exact == {"rig": False, "ig": False}

    # Colour with per-channel SVDs: the default (arc_length) is a different path there and
    # keeps the quadrature; sequential is exact, summed over the channels.
    colour = tanh_cnn(3).float()
    xc = torch.rand(4, 3, 10, 10)
    yc = torch.tensor([0, 1, 2, 0])
    spec = rank_spectrum(colour, (xc, yc), n_steps=4, progress=False,
                         attributions={"rig": None, "seq": "sequential"})
    assert spec.exact == {"rig": False, "seq": True}
    expected = RankIntegratedGradients(colour).exact_ranks(xc, target=yc).double().sum(1)
    assert torch.allclose(torch.from_numpy(spec.mean_spectrum("model", "seq")),
                          expected.mean(0), atol=1e-7)


# --- rank-space faithfulness ---------------------------------------------------------------


def test_rank_deletion_takes_exact_scores_shared_by_the_channels() -> None:
    from captum_rank.metrics import rank_deletion

    model = tanh_cnn(3)
    x = torch.rand(2, 3, 10, 10, dtype=torch.float64)
    exact = RankIntegratedGradients(model).exact_ranks(x, target=1)  # (N, 1, r)
    shared = rank_deletion(model, x, exact, target=1, score="output", steps=10)
    expanded = rank_deletion(model, x, exact.expand(2, 3, 10), target=1, score="output",
                             steps=10)
    assert torch.equal(shared.curves, expanded.curves) and shared.total == 30
    # Inserting the components of every channel in rank order (a decreasing score) walks
    # the sequential path: after 3k components the input is x_k, so the insertion curve's
    # steps are the exact attributions themselves.
    in_rank_order = -torch.arange(10, dtype=torch.float64).expand(2, 1, 10)
    curve = rank_deletion(model, x, in_rank_order, target=1, score="output", mode="insertion",
                          counts=[3 * k for k in range(11)])
    assert torch.allclose(curve.curves.diff(dim=1), exact[:, 0], atol=1e-12)
    with pytest.raises(UserInputError, match="rank_scores"):
        rank_deletion(model, x, exact.expand(2, 2, 10), target=1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu() -> None:
    model = tanh_cnn(3)
    x = torch.rand(4, 3, 10, 10, dtype=torch.float64)
    target = torch.tensor([0, 1, 2, 0])
    cpu = RankIntegratedGradients(model).exact_ranks(x, target=target, internal_batch_size=7)
    gpu = RankIntegratedGradients(model.cuda()).exact_ranks(
        x.cuda(), target=target.cuda(), internal_batch_size=7)
    assert gpu.device.type == "cuda"
    assert torch.allclose(gpu.cpu(), cpu, rtol=0, atol=1e-12)


def test_audit_exact_spectra_pass_no_more_rows_than_the_quadrature_would() -> None:
    from captum_rank.audit import rank_spectrum

    counting = CallCounter(tanh_cnn(1).float())
    x = torch.rand(6, 1, 10, 10)
    rank_spectrum(counting, (x, torch.zeros(6, dtype=torch.int64)), n_steps=4, batch_size=3,
                  attributions={"rig": "sequential"}, progress=False)
    # 3 images x 11 points per batch, in chunks of n_steps x 3 = 12 rows (the model checks
    # before the audit pass a few rows of their own).
    assert max(counting.rows_per_call) <= 12
    assert sum(r for r in counting.rows_per_call if r in (12, 9)) == 6 * 11
