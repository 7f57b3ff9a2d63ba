"""RankIntegratedGradients: captum_rank/attr.py."""

from __future__ import annotations

import warnings

import pytest
import torch
from captum.attr import IntegratedGradients, NoiseTunnel
from captum.metrics import infidelity, sensitivity_max
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor, nn

from captum_rank import RankIntegratedGradients, SpectralSchedule, available_schedules, low_rank
from captum_rank import svd as svd_module
from captum_rank.quadrature import SUPPORTED_METHODS
from captum_rank.schedules import SequentialSchedule

SCHEDULES = available_schedules()


@pytest.mark.parametrize("method", SUPPORTED_METHODS)
def test_linear_schedule_is_captum_ig_on_a_cnn(cnn: nn.Module, images: Tensor, method: str) -> None:
    rig, rig_delta = RankIntegratedGradients(cnn).attribute(
        images, target=2, n_steps=20, method=method, schedule="linear",
        return_convergence_delta=True,
    )
    ig, ig_delta = IntegratedGradients(cnn).attribute(
        images, target=2, n_steps=20, method=method, return_convergence_delta=True
    )
    if method == "riemann_trapezoid":
        # Captum's trapezoid weights sum to 1 - 1/n; ours are normalised (see quadrature.py).
        ig = ig * 20 / 19
        ig_delta = IntegratedGradients(cnn).compute_convergence_delta(ig, None, images, target=2)
    assert torch.allclose(rig, ig, atol=1e-6, rtol=1e-5)
    assert torch.allclose(rig_delta, ig_delta, atol=1e-6)


@pytest.mark.parametrize("method", ["gausslegendre", "riemann_middle"])
def test_linear_schedule_is_captum_ig_with_tuple_inputs(
    tuple_model: nn.Module, tuple_inputs: tuple[Tensor, Tensor], method: str
) -> None:
    baselines = (0.1, torch.full((1, 2, 6, 5), 0.2))
    scale = torch.tensor([1.0, 2.0, 0.5, 1.5])
    kwargs = dict(baselines=baselines, target=[0, 1, 2, 0], additional_forward_args=(scale,),
                  n_steps=12, method=method, return_convergence_delta=True)
    rig, rig_delta = RankIntegratedGradients(tuple_model).attribute(
        tuple_inputs, schedule="linear", **kwargs
    )
    ig, ig_delta = IntegratedGradients(tuple_model).attribute(tuple_inputs, **kwargs)
    assert isinstance(rig, tuple) and len(rig) == 2
    for ours, theirs in zip(rig, ig, strict=True):
        assert torch.allclose(ours, theirs, atol=1e-6)
    assert torch.allclose(rig_delta, ig_delta, atol=1e-6)


def test_local_linear_is_captum_local_ig(cnn: nn.Module, images: Tensor) -> None:
    rig = RankIntegratedGradients(cnn, multiply_by_inputs=False)
    ig = IntegratedGradients(cnn, multiply_by_inputs=False)
    assert not rig.multiplies_by_inputs
    ours = rig.attribute(images, target=0, n_steps=10, schedule="linear")
    theirs = ig.attribute(images, target=0, n_steps=10)
    assert torch.allclose(ours, theirs, atol=1e-6)


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_completeness_error_shrinks_with_n_steps(cnn: nn.Module, images: Tensor,
                                                 schedule: str) -> None:
    rig = RankIntegratedGradients(cnn)
    errors = []
    for n_steps in (4, 16, 64):
        _, delta = rig.attribute(images, target=1, n_steps=n_steps, schedule=schedule,
                                 method="riemann_middle", return_convergence_delta=True)
        errors.append(float(delta.abs().max()))
    assert errors[2] < errors[0]
    assert errors[2] < 1e-3


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("n_steps", [1, 2, 3])
def test_increments_telescope_with_far_fewer_steps_than_rank(schedule: str, n_steps: int) -> None:
    # For an affine model the integrand is constant, so any path method that uses the
    # whole path is exactly complete; a derivative form w_s * gamma'(a_s) would skip
    # every component whose window holds no node and miss most of F(x) - F(x').
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(2 * 16 * 16, 4))
    x = torch.rand(3, 2, 16, 16)
    _, delta = RankIntegratedGradients(model).attribute(
        x, baselines=0.3, target=2, n_steps=n_steps, schedule=schedule,
        method="gausslegendre", return_convergence_delta=True,
    )
    assert float(delta.abs().max()) < 1e-5


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("form", ["increments", "averaged"])
def test_rank_attributions_sum_to_pixel_total(cnn: nn.Module, images: Tensor, schedule: str,
                                              form: str) -> None:
    rig = RankIntegratedGradients(cnn)
    pixels, ranks, delta = rig.attribute_with_ranks(
        images, target=3, n_steps=9, schedule=schedule, form=form, return_convergence_delta=True
    )
    assert ranks.shape == (3, 1, 12)
    assert torch.allclose(pixels.sum(dim=(1, 2, 3)), ranks.sum(dim=(1, 2)), atol=1e-5)
    alone = rig.attribute_ranks(images, target=3, n_steps=9, schedule=schedule, form=form)
    assert torch.allclose(alone, ranks, atol=1e-6)
    _, rank_delta = rig.attribute_ranks(images, target=3, n_steps=9, schedule=schedule,
                                        form=form, return_convergence_delta=True)
    assert torch.allclose(rank_delta, delta, atol=1e-5)


class Recorder(nn.Module):
    """Wraps a model and keeps every batch it is called on."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.batches: list[Tensor] = []

    def forward(self, x: Tensor) -> Tensor:
        self.batches.append(x.detach().clone())
        return self.model(x)


def test_sequential_right_riemann_points_are_rank_k_approximations(cnn: nn.Module,
                                                                   images: Tensor) -> None:
    recorder = Recorder(cnn)
    baseline = torch.full_like(images, 0.25)
    r = 12
    RankIntegratedGradients(recorder).attribute(
        images, baselines=baseline, target=0, n_steps=r, method="riemann_right",
        schedule="sequential",
    )
    points = recorder.batches[0].view(r, *images.shape)
    for k in range(1, r + 1):
        expected = baseline + low_rank(images - baseline, k)
        assert torch.allclose(points[k - 1], expected, atol=1e-5)


def test_averaged_form_is_the_papers_mean_gradient(cnn: nn.Module, images: Tensor) -> None:
    r = 12
    attributions = RankIntegratedGradients(cnn).attribute(
        images, target=4, n_steps=r, method="riemann_right", form="averaged",
        schedule="sequential",
    )
    grads = []
    for k in range(1, r + 1):
        point = low_rank(images, k).requires_grad_()
        grads.append(torch.autograd.grad(cnn(point)[:, 4].sum(), point)[0])
    expected = torch.stack(grads).mean(0) * images
    assert torch.allclose(attributions, expected, atol=1e-6)


@pytest.mark.parametrize("schedule", ["sequential", "spectral", "linear"])
def test_batched_equals_unbatched(cnn: nn.Module, images: Tensor, schedule: str) -> None:
    rig = RankIntegratedGradients(cnn)
    targets = [0, 3, 1]
    together = rig.attribute_with_ranks(images, target=targets, n_steps=7, schedule=schedule)
    for i in range(images.shape[0]):
        alone = rig.attribute_with_ranks(images[i : i + 1], target=targets[i], n_steps=7,
                                         schedule=schedule)
        assert torch.allclose(together[0][i], alone[0][0], atol=1e-6)
        assert torch.allclose(together[1][i], alone[1][0], atol=1e-6)


@pytest.mark.parametrize("method", ["gausslegendre", "adaptive"])
@pytest.mark.parametrize("internal_batch_size", [2, 3, 7, 100])
def test_internal_batch_size_changes_only_memory(cnn: nn.Module, images: Tensor,
                                                 internal_batch_size: int, method: str) -> None:
    reference = RankIntegratedGradients(cnn).attribute_with_ranks(images, target=1, n_steps=10,
                                                                  method=method)
    recorder = Recorder(cnn)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        chunked = RankIntegratedGradients(recorder).attribute_with_ranks(
            images, target=1, n_steps=10, internal_batch_size=internal_batch_size,
            method=method,
        )
    assert torch.allclose(chunked[0], reference[0], atol=1e-6)
    assert torch.allclose(chunked[1], reference[1], atol=1e-6)
    largest = max(batch.shape[0] for batch in recorder.batches)
    if method == "adaptive":
        # The adaptive rule evaluates points of any examples together: never more.
        assert largest <= internal_batch_size
    else:
        # Never more than the budget (or one step of the whole batch) through the model.
        assert largest <= max(internal_batch_size - internal_batch_size % 3, 3)


def test_internal_batch_size_below_batch_warns(cnn: nn.Module, images: Tensor) -> None:
    with pytest.warns(UserWarning, match="internal_batch_size"):
        RankIntegratedGradients(cnn).attribute(images, target=0, n_steps=3,
                                               method="gausslegendre", internal_batch_size=1)


def test_results_do_not_depend_on_svd_signs(cnn: nn.Module, images: Tensor,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    rig = RankIntegratedGradients(cnn)
    kwargs = dict(target=2, n_steps=8, schedule="spectral")
    reference = rig.attribute_with_ranks(images, **kwargs)
    original = svd_module.thin_svd

    def flipped(x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        U, S, Vh = original(x)
        signs = torch.where(torch.rand(S.shape, generator=torch.Generator().manual_seed(5)) < 0.5,
                            -1.0, 1.0).to(S.dtype)
        return U * signs.unsqueeze(-2), S, Vh * signs.unsqueeze(-1)

    monkeypatch.setattr(svd_module, "thin_svd", flipped)
    again = rig.attribute_with_ranks(images, **kwargs)
    assert torch.allclose(again[0], reference[0], atol=1e-6)
    assert torch.allclose(again[1], reference[1], atol=1e-6)


def test_additional_forward_args_and_per_example_targets(
    tuple_model: nn.Module, tuple_inputs: tuple[Tensor, Tensor]
) -> None:
    scale = torch.tensor([1.0, -1.0, 2.0, 0.0])
    rig = RankIntegratedGradients(tuple_model)
    attributions, delta = rig.attribute(
        tuple_inputs, target=torch.tensor([0, 1, 2, 1]), additional_forward_args=(scale,),
        n_steps=30, internal_batch_size=8, return_convergence_delta=True,
    )
    assert float(delta.abs().max()) < 1e-3
    # Scale 0 zeroes the output: nothing to attribute for that example.
    assert float(attributions[0][3].abs().max()) == 0.0
    assert float(attributions[1][3].abs().max()) == 0.0


def test_works_under_no_grad_and_with_inputs_that_require_grad(cnn: nn.Module,
                                                               images: Tensor) -> None:
    rig = RankIntegratedGradients(cnn)
    reference = rig.attribute(images, target=0, n_steps=5)
    with torch.no_grad():
        quiet = rig.attribute(images, target=0, n_steps=5)
    tracked = rig.attribute(images.clone().requires_grad_(), target=0, n_steps=5)
    assert torch.allclose(quiet, reference) and torch.allclose(tracked, reference)


def test_float64_inputs_stay_float64(cnn: nn.Module, images: Tensor) -> None:
    model = cnn.double()
    rig = RankIntegratedGradients(model)
    pixels, ranks, delta = rig.attribute_with_ranks(
        images.double(), target=0, n_steps=32, schedule="linear", method="gausslegendre",
        return_convergence_delta=True,
    )
    assert pixels.dtype == ranks.dtype == torch.float64
    # Smooth integrand, straight path, 32 Gauss nodes: only float64 rounding is left.
    assert float(delta.abs().max()) < 1e-10
    assert float((pixels.sum() - ranks.sum()).abs()) < 1e-12


@pytest.mark.parametrize("image", ["zeros", "constant", "rank_one"])
def test_degenerate_images(cnn: nn.Module, image: str) -> None:
    x = {
        "zeros": torch.zeros(2, 1, 12, 12),
        "constant": torch.full((2, 1, 12, 12), 0.7),
        "rank_one": torch.outer(torch.linspace(0, 1, 12), torch.linspace(1, 0, 12)).expand(
            2, 1, 12, 12).clone(),
    }[image]
    rig = RankIntegratedGradients(cnn)
    for schedule in SCHEDULES:
        pixels, ranks, delta = rig.attribute_with_ranks(
            x, target=1, n_steps=16, schedule=schedule, return_convergence_delta=True
        )
        assert torch.isfinite(pixels).all() and torch.isfinite(ranks).all()
        assert float(delta.abs().max()) < 1e-3
        if image != "zeros":
            # One non-zero singular value: everything sits on the first component.
            assert torch.allclose(ranks[..., 1:], torch.zeros_like(ranks[..., 1:]), atol=1e-5)
        else:
            assert float(pixels.abs().max()) == 0.0


def test_noise_tunnel(cnn: nn.Module, images: Tensor) -> None:
    tunnel = NoiseTunnel(RankIntegratedGradients(cnn))
    attributions, delta = tunnel.attribute(
        images, nt_type="smoothgrad", nt_samples=3, stdevs=0.05, target=1, n_steps=8,
        schedule=SpectralSchedule(0.4), return_convergence_delta=True,
    )
    assert attributions.shape == images.shape
    assert torch.isfinite(attributions).all()
    assert delta.shape == (images.shape[0] * 3,)
    assert float(delta.abs().max()) < 0.05


def test_captum_metrics(cnn: nn.Module, images: Tensor) -> None:
    rig = RankIntegratedGradients(cnn)
    attributions = rig.attribute(images, target=0, n_steps=8)

    def perturb(inputs: Tensor) -> tuple[Tensor, Tensor]:
        noise = torch.randn_like(inputs) * 0.01
        return noise, inputs - noise

    score = infidelity(cnn, perturb, images, attributions, target=0, n_perturb_samples=4)
    sensitivity = sensitivity_max(rig.attribute, images, target=0, n_steps=8, n_perturb_samples=3)
    assert score.shape == (3,) and torch.isfinite(score).all()
    assert sensitivity.shape == (3,) and torch.isfinite(sensitivity).all()


def test_custom_schedule(cnn: nn.Module, images: Tensor) -> None:
    from captum_rank.schedules import RankSchedule

    class Reversed(RankSchedule):
        """Weakest component first."""

        def windows(self, singular_values: Tensor) -> tuple[Tensor, Tensor]:
            r = singular_values.shape[-1]
            start = (r - 1 - torch.arange(r, dtype=torch.float64)) / r
            return start.expand(singular_values.shape), torch.full(singular_values.shape, 1 / r,
                                                                   dtype=torch.float64)

    _, delta = RankIntegratedGradients(cnn).attribute(
        images, target=0, n_steps=48, schedule=Reversed(), return_convergence_delta=True
    )
    assert float(delta.abs().max()) < 1e-3


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu(cnn: nn.Module, images: Tensor) -> None:
    cpu = RankIntegratedGradients(cnn).attribute_with_ranks(images, target=0, n_steps=8)
    gpu = RankIntegratedGradients(cnn.cuda()).attribute_with_ranks(images.cuda(), target=0,
                                                                  n_steps=8)
    assert gpu[0].device.type == "cuda"
    assert torch.allclose(cpu[0], gpu[0].cpu(), atol=1e-4)
    assert torch.allclose(cpu[1], gpu[1].cpu(), atol=1e-4)


@settings(max_examples=30, deadline=None)
@given(
    st.integers(1, 3), st.integers(1, 3), st.integers(1, 9), st.integers(1, 9),
    st.integers(1, 12), st.sampled_from(SCHEDULES), st.sampled_from(SUPPORTED_METHODS),
)
def test_affine_models_are_exactly_complete_for_all_shapes(
    n: int, c: int, h: int, w: int, n_steps: int, schedule: str, method: str
) -> None:
    # An affine model has a constant gradient, so the attribution must equal
    # w * (x - x') exactly for every shape, schedule, rule and number of steps, and the
    # rank attributions must carry the same total.
    n_steps = max(n_steps, 2) if method != "gausslegendre" else n_steps
    gen = torch.Generator().manual_seed(n * 1000 + c * 100 + h * 10 + w)
    weight = torch.randn(c, h, w, generator=gen)
    x = torch.rand(n, c, h, w, generator=gen)
    baseline = torch.rand(1, c, h, w, generator=gen)

    def model(inputs: Tensor) -> Tensor:
        return (inputs * weight).flatten(1).sum(1, keepdim=True) + 1.0

    pixels, ranks = RankIntegratedGradients(model).attribute_with_ranks(
        x, baselines=baseline, target=0, n_steps=n_steps, method=method, schedule=schedule
    )
    assert ranks.shape == (n, c, min(h, w))
    assert torch.allclose(pixels, weight * (x - baseline), atol=1e-5)
    assert torch.allclose(ranks.sum(-1), pixels.flatten(2).sum(-1), atol=1e-5)


def test_reparametrisations_of_the_sequential_curve_agree(cnn: nn.Module, images: Tensor) -> None:
    # sequential, numerical_rank, arc_length and energy walk the same curve at different
    # speeds; a path integral does not depend on the speed, so with enough steps they
    # must give the same pixel and rank attributions.
    rig = RankIntegratedGradients(cnn)
    results = {
        schedule: rig.attribute_with_ranks(images, target=2, n_steps=600,
                                           method="riemann_middle", schedule=schedule)
        for schedule in ("sequential", "numerical_rank", "arc_length", "energy")
    }
    reference = results["sequential"]
    scale = float(reference[0].abs().max())
    for pixels, ranks in results.values():
        assert float((pixels - reference[0]).abs().max()) < 0.02 * scale
        assert float((ranks - reference[1]).abs().max()) < 0.02 * float(reference[1].abs().max())


ORACLE_SCHEDULES = [*SCHEDULES, SpectralSchedule(0.3, shape="cosine"),
                    SequentialSchedule(channels="joint")]


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 2), st.integers(1, 3), st.integers(2, 7), st.integers(2, 7),
    st.integers(1, 12), st.sampled_from(ORACLE_SCHEDULES),
    st.sampled_from([*SUPPORTED_METHODS, "adaptive"]), st.booleans(),
    st.sampled_from(["increments", "averaged"]),
)
def test_every_rank_component_is_the_affine_oracle(
    n: int, c: int, h: int, w: int, n_steps: int, schedule: object, method: str,
    multiply: bool, form: str,
) -> None:
    # For F(x) = <W, x> + b the gradient is W everywhere, so component i of x - x' =
    # sum_i s_i u_i v_i^T carries exactly R_i = s_i u_i^T W v_i (u_i^T W v_i when local):
    # checked one component at a time against torch.linalg.svd, so a permuted, shifted
    # or mis-scaled band cannot pass even where the sum would.
    n_steps = n_steps if method == "gausslegendre" else max(n_steps, 2)
    gen = torch.Generator().manual_seed(n * 1000 + c * 100 + h * 10 + w + n_steps)
    weight = torch.randn(c, h, w, generator=gen, dtype=torch.float64)
    x = torch.rand(n, c, h, w, generator=gen, dtype=torch.float64)
    baseline = torch.rand(1, c, h, w, generator=gen, dtype=torch.float64)

    def model(inputs: Tensor) -> Tensor:
        return (inputs * weight).flatten(1).sum(1, keepdim=True) + 1.0

    rig = RankIntegratedGradients(model, multiply_by_inputs=multiply)
    ranks = rig.attribute_ranks(x, baselines=baseline, target=0, n_steps=n_steps,
                                method=method, schedule=schedule, form=form)  # type: ignore[arg-type]
    delta, matrix_weight = x - baseline, weight
    if getattr(schedule, "channels", "per_channel") == "joint":
        delta, matrix_weight = delta.reshape(n, 1, c * h, w), weight.reshape(1, c * h, w)
    U, S, Vh = torch.linalg.svd(delta, full_matrices=False)
    per_unit = ((U.mT @ matrix_weight) * Vh).sum(-1)
    expected = S * per_unit if multiply else per_unit
    assert ranks.shape == expected.shape
    assert torch.allclose(ranks, expected, atol=1e-9, rtol=1e-7)


# --- values that were once taken silently ----------------------------------------------


@pytest.mark.parametrize("bad", [1, "False", None, 0.0])
def test_non_bool_flags_are_refused(bad: object) -> None:
    from captum_rank.checks import UserTypeError

    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    x = torch.rand(2, 1, 4, 4)
    with pytest.raises(UserTypeError, match="`multiply_by_inputs` must be True or False"):
        RankIntegratedGradients(model, multiply_by_inputs=bad)  # type: ignore[arg-type]
    rig = RankIntegratedGradients(model)
    for call in (rig.attribute, rig.attribute_ranks, rig.attribute_with_ranks,
                 rig.exact_ranks):
        with pytest.raises(UserTypeError, match="`return_convergence_delta` must be True"):
            call(x, target=0, return_convergence_delta=bad)  # type: ignore[operator]


def test_convergence_delta_refuses_attributions_of_the_wrong_shape() -> None:
    from captum_rank.checks import UserInputError

    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 6 * 8, 2))
    rig = RankIntegratedGradients(model)
    x = torch.rand(2, 3, 6, 8)
    ranks = rig.attribute_ranks(x, target=1, n_steps=4)
    pixels = rig.attribute(x, target=1, n_steps=4)
    for good in (ranks, pixels):  # both forms are complete: accepted
        rig.compute_convergence_delta(good, 0.0, x, target=1)
    for bad in (torch.zeros(2, 5), torch.zeros(2, 3, 6, 7), (pixels, pixels)):
        with pytest.raises(UserInputError, match="`attributions`"):
            rig.compute_convergence_delta(bad, 0.0, x, target=1)


# --- errors that once came from deep inside torch ---------------------------------------


def test_unclear_errors_now_name_the_problem() -> None:
    from captum_rank.checks import UserInputError

    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 3))
    rig = RankIntegratedGradients(model)
    x = torch.rand(2, 1, 8, 8)
    with pytest.raises(UserInputError, match=r"cannot take `inputs` of shape \(3, 8, 8\)"):
        rig.attribute(torch.rand(2, 3, 8, 8), target=0, n_steps=4)
    with pytest.raises(UserInputError, match=r"model \(Sequential\) cannot take `inputs`"):
        rig.exact_ranks(torch.rand(2, 1, 9, 9), target=0)
    with pytest.raises(UserInputError, match="`n_steps` is 1000000000, above the supported"):
        rig.attribute(x, target=0, n_steps=10**9)
    huge = x.clone()
    huge[0, 0, 0, 0] = 3e38
    with pytest.raises(UserInputError, match="`inputs` holds values up to 3e"):
        rig.attribute(huge, target=0, n_steps=4)

    def scaled(inputs: Tensor, scale: Tensor) -> Tensor:
        return model(inputs) * scale[:, None]

    with pytest.raises(UserInputError, match=r"`additional_forward_args\[0\]` holds NaN"):
        RankIntegratedGradients(scaled).attribute(
            x, target=0, n_steps=4, additional_forward_args=(torch.tensor([1.0, float("nan")]),))

    def rounded(inputs: Tensor) -> Tensor:
        return (model(inputs) * 10).long()

    with pytest.raises(UserInputError, match=r"returned torch\.int64 outputs"):
        RankIntegratedGradients(rounded).attribute(x, target=0, n_steps=4)
