"""Baselines and the expectation over baselines: captum_rank/baselines.py."""

from __future__ import annotations

import math

import pytest
import torch
from captum.attr import IntegratedGradients
from torch import Tensor, nn

from captum_rank import RankIntegratedGradients, SpectralSchedule
from captum_rank.baselines import (
    BaselineExpectation,
    blurred_baseline,
    mean_baseline,
    sample_baselines,
    uniform_baseline,
)
from captum_rank.checks import UserInputError, UserTypeError


def smooth_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(2, 3, 3), nn.Softplus(), nn.Flatten(),
                         nn.Linear(3 * 6 * 5, 4)).double().eval()


@pytest.fixture
def x() -> Tensor:
    return torch.rand(3, 2, 8, 7, generator=torch.Generator().manual_seed(1),
                      dtype=torch.float64)


# --- blurred_baseline -----------------------------------------------------------------------

@pytest.mark.parametrize("sigma,kernel_size", [(1.0, 3), (5.0, 11), (2.5, None), (0.7, None)])
def test_blur_of_an_impulse_is_the_sampled_gaussian(sigma: float,
                                                    kernel_size: int | None) -> None:
    # Oracle: the kernel by hand, exp(-k^2 / 2 sigma^2) at integer offsets |k| <= half,
    # normalised; the default width is 2 * ceil(3 sigma) + 1. Far from the border the blur
    # of a unit impulse is the outer product of that kernel with itself.
    size = kernel_size or 2 * math.ceil(3 * sigma) + 1
    half = size // 2
    weights = [math.exp(-0.5 * (k / sigma) ** 2) for k in range(-half, half + 1)]
    g = torch.tensor(weights, dtype=torch.float64) / sum(weights)
    expected = torch.zeros(21, 21, dtype=torch.float64)
    expected[10 - half:11 + half, 10 - half:11 + half] = torch.outer(g, g)
    impulse = torch.zeros(2, 1, 21, 21, dtype=torch.float64)
    impulse[:, :, 10, 10] = 1.0
    ours = blurred_baseline(impulse, sigma=sigma, kernel_size=kernel_size)
    assert ours.shape == impulse.shape and ours.dtype == torch.float64
    torch.testing.assert_close(ours[1, 0], expected, rtol=0, atol=1e-12)


def test_default_kernel_is_capped_by_the_image(x: Tensor) -> None:
    # sigma = 5 asks for 31 pixels; an 8 x 7 image allows 2 * 7 - 1 = 13.
    torch.testing.assert_close(blurred_baseline(x, sigma=5.0),
                               blurred_baseline(x, sigma=5.0, kernel_size=13))


def test_blur_keeps_constants_and_smooths(x: Tensor) -> None:
    constant = torch.full((2, 3, 9, 9), 0.3)
    assert torch.allclose(blurred_baseline(constant, sigma=2.0), constant)
    # A blur is an average: it cannot leave the data's range and it lowers the variance.
    blurred = blurred_baseline(x, sigma=1.5)
    assert float(blurred.min()) >= float(x.min()) and float(blurred.max()) <= float(x.max())
    assert float(blurred.var()) < float(x.var())
    five_d = torch.rand(2, 2, 3, 6, 6)
    assert torch.allclose(blurred_baseline(five_d, 1.0)[:, 1],
                          blurred_baseline(five_d[:, 1], 1.0))


@pytest.mark.parametrize("kwargs,error,match", [
    ({"sigma": 0.0}, UserInputError, "sigma"),
    ({"sigma": "a"}, UserTypeError, "sigma"),
    ({"kernel_size": 4}, UserInputError, "kernel_size"),
    ({"kernel_size": 15}, UserInputError, "kernel_size"),
])
def test_blur_rejects_bad_options(x: Tensor, kwargs: dict[str, object], error: type,
                                  match: str) -> None:
    with pytest.raises(error, match=match):
        blurred_baseline(x, **kwargs)  # type: ignore[arg-type]


def test_blur_rejects_bad_inputs() -> None:
    with pytest.raises(UserTypeError, match="floating-point"):
        blurred_baseline(torch.ones(1, 4, 4, dtype=torch.int64))
    with pytest.raises(UserTypeError, match=r"torch\.Tensor"):
        blurred_baseline([[1.0]])  # type: ignore[arg-type]
    with pytest.raises(UserInputError, match="dimensions"):
        blurred_baseline(torch.ones(4))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_blur_of_nan_or_inf_is_refused_naming_the_argument(bad: float) -> None:
    # Before: one NaN pixel made the whole blurred neighbourhood NaN, silently.
    x = torch.zeros(2, 1, 9, 9)
    x[1, 0, 4, 4] = bad
    with pytest.raises(UserInputError, match=r"`inputs` contains NaN or inf.*nan_to_num"):
        blurred_baseline(x, sigma=1.0)


# --- mean, noise, samples ----------------------------------------------------------------------

def test_mean_of_a_tensor_and_of_batches_agree() -> None:
    data = torch.rand(10, 1, 4, 4, generator=torch.Generator().manual_seed(2))
    expected = data.mean(0, keepdim=True)
    assert torch.allclose(mean_baseline(data), expected, atol=1e-7)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(data, torch.zeros(10)), batch_size=3)
    assert torch.allclose(mean_baseline(loader), expected, atol=1e-7)
    assert torch.allclose(mean_baseline([data[:4], data[4:]]), expected, atol=1e-7)


def test_mean_rejects_bad_data() -> None:
    with pytest.raises(UserInputError, match="no examples"):
        mean_baseline([])
    with pytest.raises(UserInputError, match="shape"):
        mean_baseline([torch.rand(2, 3), torch.rand(2, 4)])
    with pytest.raises(UserTypeError, match="data"):
        mean_baseline(3)  # type: ignore[arg-type]
    with pytest.raises(UserTypeError, match="data"):
        mean_baseline("images")  # type: ignore[arg-type]


def test_uniform_noise_is_seeded_and_in_range(x: Tensor) -> None:
    noise = uniform_baseline(x, -1.0, 2.0, seed=3)
    assert noise.shape == x.shape and noise.dtype == x.dtype
    assert float(noise.min()) >= -1.0 and float(noise.max()) < 2.0
    assert torch.equal(noise, uniform_baseline(x, -1.0, 2.0, seed=3))
    assert not torch.equal(noise, uniform_baseline(x, -1.0, 2.0, seed=4))
    generator = torch.Generator().manual_seed(3)
    assert torch.equal(noise, uniform_baseline(x, -1.0, 2.0, generator=generator))
    with pytest.raises(UserInputError, match="high"):
        uniform_baseline(x, 1.0, 1.0)
    with pytest.raises(UserInputError, match="seed"):
        uniform_baseline(x, seed=-1)
    with pytest.raises(UserTypeError, match="generator"):
        uniform_baseline(x, generator=3)  # type: ignore[arg-type]


def test_sample_baselines_draws_rows_of_the_data() -> None:
    data = torch.arange(6, dtype=torch.float32).reshape(6, 1, 1, 1).expand(6, 1, 2, 2)
    drawn = sample_baselines(data, num_baselines=4, num_examples=3, seed=5)
    assert len(drawn) == 4 and all(d.shape == (3, 1, 2, 2) for d in drawn)
    for baseline in drawn:
        for row in baseline:
            assert any(torch.equal(row, example) for example in data)
    again = sample_baselines(data, num_baselines=4, num_examples=3, seed=5)
    assert all(torch.equal(a, b) for a, b in zip(drawn, again, strict=True))
    with pytest.raises(UserInputError, match="num_baselines"):
        sample_baselines(data, 0)


# --- BaselineExpectation -----------------------------------------------------------------------

def outputs(model: nn.Module, inputs: Tensor, target: int) -> Tensor:
    with torch.no_grad():
        return model(inputs)[:, target]


@pytest.mark.parametrize("make", [IntegratedGradients, RankIntegratedGradients], ids=str)
def test_delta_is_against_the_averaged_output_change(make: type, x: Tensor) -> None:
    model = smooth_model()
    baselines: list[object] = [0.0, blurred_baseline(x, sigma=1.0),
                               uniform_baseline(x, seed=0), mean_baseline(x)]
    method = make(model)
    attributions, delta = BaselineExpectation(method).attribute(
        x, baselines, target=2, n_steps=40, return_convergence_delta=True)
    # Independent bookkeeping: F(x) - mean_k F(x'_k), each baseline broadcast to x.
    starts = [torch.as_tensor(b, dtype=x.dtype).expand_as(x) for b in baselines]
    change = outputs(model, x, 2) - torch.stack([outputs(model, s, 2) for s in starts]).mean(0)
    total = attributions.flatten(1).sum(1)
    assert torch.allclose(delta, total - change, atol=1e-12)
    # ... and it is the mean of the per-baseline deltas, which are quadrature error only.
    per_baseline = [method.attribute(x, b, target=2, n_steps=40, return_convergence_delta=True)
                    for b in baselines]
    assert torch.allclose(delta, torch.stack([d for _, d in per_baseline]).mean(0), atol=1e-12)
    assert torch.allclose(attributions, torch.stack([a for a, _ in per_baseline]).mean(0))
    assert float(delta.abs().max()) < 1e-3 * float(change.abs().max())


@pytest.mark.parametrize("make,kwargs", [
    (IntegratedGradients, {}),
    (RankIntegratedGradients, {"schedule": "sequential"}),
    (RankIntegratedGradients, {"schedule": SpectralSchedule(0.4, channels="joint")}),
], ids=["ig", "rig", "rig-spectral-joint"])
def test_a_constant_baseline_list_is_the_single_baseline_result(make: type, kwargs: dict,
                                                                  x: Tensor) -> None:
    method = make(smooth_model())
    baseline = uniform_baseline(x, seed=7)
    single, single_delta = method.attribute(x, baseline, target=1, n_steps=12,
                                            return_convergence_delta=True, **kwargs)
    expected, delta = BaselineExpectation(method).attribute(
        x, [baseline] * 3, target=1, n_steps=12, return_convergence_delta=True, **kwargs)
    assert torch.allclose(expected, single, atol=1e-12)
    assert torch.allclose(delta, single_delta, atol=1e-12)


def test_each_baseline_gets_its_own_rank_path(x: Tensor) -> None:
    # An affine model is exactly complete on every rank path, so the averaged attribution
    # must be w * (x - mean_k x'_k) and delta zero, whatever the baselines' spectra.
    weight = torch.randn(2, 8, 7, generator=torch.Generator().manual_seed(3), dtype=x.dtype)

    def model(inputs: Tensor) -> Tensor:
        return (inputs * weight).flatten(1).sum(1, keepdim=True)

    baselines = sample_baselines(torch.rand(5, 2, 8, 7, dtype=x.dtype), 3, num_examples=3)
    rig = BaselineExpectation(RankIntegratedGradients(model))
    attributions, delta = rig.attribute(x, baselines, target=0, n_steps=3,
                                        return_convergence_delta=True)
    mean_start = torch.stack(baselines).mean(0)
    assert torch.allclose(attributions, weight * (x - mean_start), atol=1e-12)
    assert float(delta.abs().max()) < 1e-10
    ranks, rank_delta = rig.attribute_ranks(x, baselines, target=0, n_steps=3,
                                            return_convergence_delta=True)
    assert ranks.shape == (3, 2, 7)
    assert torch.allclose(ranks.sum(-1), attributions.flatten(2).sum(-1), atol=1e-10)
    assert torch.allclose(rank_delta, delta, atol=1e-10)


def test_tuple_inputs_and_forward_args(tuple_model: nn.Module) -> None:
    torch.manual_seed(4)
    x1, x2 = torch.rand(2, 1, 8, 8), torch.rand(2, 2, 6, 5)
    scale = torch.tensor([1.0, 2.0])
    baselines = [(0.0, 0.0), (blurred_baseline(x1, 1.0), uniform_baseline(x2, seed=1))]
    ig = IntegratedGradients(tuple_model)
    result, delta = BaselineExpectation(ig).attribute(
        (x1, x2), baselines, target=0, additional_forward_args=(scale,), n_steps=30,
        return_convergence_delta=True)
    assert isinstance(result, tuple) and len(result) == 2
    manual = [ig.attribute((x1, x2), b, target=0, additional_forward_args=(scale,), n_steps=30)
              for b in baselines]
    for index in range(2):
        assert torch.allclose(result[index], (manual[0][index] + manual[1][index]) / 2)
    assert delta.shape == (2,)


def test_expectation_rejects_bad_arguments(x: Tensor) -> None:
    model = smooth_model()
    with pytest.raises(UserTypeError, match="attribution_method"):
        BaselineExpectation(model)
    expectation = BaselineExpectation(IntegratedGradients(model))
    with pytest.raises(UserTypeError, match="list"):
        expectation.attribute(x, (0.0, 1.0), target=0)  # type: ignore[arg-type]
    with pytest.raises(UserInputError, match="empty"):
        expectation.attribute(x, [], target=0)
    with pytest.raises(UserTypeError, match="return_convergence_delta"):
        expectation.attribute(x, [0.0], target=0, return_convergence_delta=1)
    with pytest.raises(UserTypeError, match="attribute_ranks"):
        expectation.attribute_ranks(x, [0.0], target=0)

    class NoDelta:
        def attribute(self, inputs: Tensor, baselines: object = None, **kwargs: object) -> Tensor:
            return inputs

    with pytest.raises(UserTypeError, match="compute_convergence_delta"):
        BaselineExpectation(NoDelta()).attribute(x, [0.0], return_convergence_delta=True)


def test_baselines_from_data_with_nan_are_refused() -> None:
    data = torch.rand(5, 1, 4, 4)
    data[3, 0, 1, 1] = float("nan")
    with pytest.raises(UserInputError, match="batch 0 holds NaN"):
        mean_baseline(data)
    with pytest.raises(UserInputError, match=r"examples \[3\] hold NaN"):
        sample_baselines(data, 2)
    with pytest.raises(UserInputError, match="batch 1 holds NaN"):
        mean_baseline([torch.rand(2, 1, 4, 4), data])
