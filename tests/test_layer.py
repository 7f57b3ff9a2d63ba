"""LayerRankIntegratedGradients and RankSpace: captum_rank/layer.py, captum_rank/rank_space.py."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from captum.attr import LayerIntegratedGradients, NoiseTunnel
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor, nn

from captum_rank import LayerRankIntegratedGradients, RankIntegratedGradients, RankSpace
from captum_rank.checks import UserInputError, UserTypeError
from captum_rank.quadrature import SUPPORTED_METHODS
from captum_rank.schedules import available_schedules

SCHEDULES = available_schedules()


class TextModel(nn.Module):
    """Token ids -> embedding (N, T, D) -> conv over time -> max -> logits, plus a scale."""

    def __init__(self, vocab: int = 30, dim: int = 6, classes: int = 4) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab, dim)
        self.conv = nn.Conv1d(dim, 8, 3, padding=1)
        self.fc = nn.Linear(8, classes)

    def forward(self, tokens: Tensor, scale: Tensor | float = 1.0) -> Tensor:
        hidden = nn.functional.softplus(self.conv(self.embedding(tokens).transpose(1, 2)))
        out = self.fc(hidden.mean(-1))
        if isinstance(scale, Tensor):
            scale = scale.view(-1, 1)
        return out * scale


class Recorder(nn.Module):
    """Wraps a model and records the batch size of every call."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.sizes: list[int] = []

    def forward(self, *args: Tensor) -> Tensor:
        self.sizes.append(args[0].shape[0])
        return self.model(*args)


@pytest.fixture
def text_model() -> TextModel:
    torch.manual_seed(4)
    return TextModel().eval()


@pytest.fixture
def tokens() -> Tensor:
    torch.manual_seed(5)
    return torch.randint(1, 30, (3, 7))


@pytest.mark.parametrize("method", ["gausslegendre", "riemann_middle"])
def test_linear_is_captum_lig_on_an_embedding(text_model: TextModel, tokens: Tensor,
                                              method: str) -> None:
    scale = torch.tensor([1.0, 2.0, 0.5])
    kwargs = dict(baselines=0, target=[0, 3, 1], additional_forward_args=(scale,), n_steps=12,
                  method=method, return_convergence_delta=True)
    ours, our_delta = LayerRankIntegratedGradients(text_model, text_model.embedding).attribute(
        tokens, schedule="linear", **kwargs
    )
    theirs, their_delta = LayerIntegratedGradients(text_model, text_model.embedding).attribute(
        tokens, **kwargs
    )
    assert ours.shape == (3, 7, 6)
    assert torch.allclose(ours, theirs, atol=1e-6)
    assert torch.allclose(our_delta, their_delta, atol=1e-6)


@pytest.mark.parametrize("to_input", [False, True])
def test_linear_is_captum_lig_on_a_cnn_layer(cnn: nn.Module, images: Tensor,
                                             to_input: bool) -> None:
    layer = cnn.conv  # its input is the image, its output the feature maps
    ours = LayerRankIntegratedGradients(cnn, layer).attribute(
        images, target=2, n_steps=16, method="gausslegendre", schedule="linear",
        attribute_to_layer_input=to_input,
    )
    theirs = LayerIntegratedGradients(cnn, layer).attribute(
        images, target=2, n_steps=16, attribute_to_layer_input=to_input
    )
    assert ours.shape == ((3, 1, 12, 12) if to_input else (3, 4, 10, 10))
    assert torch.allclose(ours, theirs, atol=1e-6)


def test_local_linear_is_captum_local_lig(text_model: TextModel, tokens: Tensor) -> None:
    ours = LayerRankIntegratedGradients(text_model, text_model.embedding,
                                        multiply_by_inputs=False)
    theirs = LayerIntegratedGradients(text_model, text_model.embedding, multiply_by_inputs=False)
    assert not ours.multiplies_by_inputs
    assert torch.allclose(ours.attribute(tokens, 0, 1, n_steps=8, method="gausslegendre",
                                         schedule="linear"),
                          theirs.attribute(tokens, 0, 1, n_steps=8), atol=1e-6)


def test_a_list_of_layers_matches_captum(cnn: nn.Module, images: Tensor) -> None:
    # Layers must be independent (Captum's rule): the conv's input and the conv's output
    # are not, so use two parallel branches.
    class TwoBranch(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.left = nn.Conv2d(1, 2, 3)
            self.right = nn.Conv2d(1, 2, 5)

        def forward(self, x: Tensor) -> Tensor:
            return torch.tanh(self.left(x)).sum((1, 2, 3)) + self.right(x).pow(2).mean((1, 2, 3))

    torch.manual_seed(6)
    model = TwoBranch()
    ours = LayerRankIntegratedGradients(model, [model.left, model.right]).attribute(
        images, n_steps=10, method="gausslegendre", schedule="linear"
    )
    with pytest.warns(UserWarning, match="Multiple layers"):
        theirs = LayerIntegratedGradients(model, [model.left, model.right]).attribute(
            images, n_steps=10
        )
    assert isinstance(ours, list) and len(ours) == 2
    for mine, captum in zip(ours, theirs, strict=True):
        assert torch.allclose(mine, captum, atol=1e-6)


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_completeness_on_the_embedding(text_model: TextModel, tokens: Tensor,
                                       schedule: str) -> None:
    lrig = LayerRankIntegratedGradients(text_model, text_model.embedding)
    layer, ranks, delta = lrig.attribute_with_ranks(
        tokens, baselines=0, target=2, n_steps=48, schedule=schedule,
        return_convergence_delta=True,
    )
    with torch.no_grad():
        total = text_model(tokens)[:, 2] - text_model(torch.zeros_like(tokens))[:, 2]
    assert float(delta.abs().max()) < 2e-3 * float(total.abs().max())
    assert torch.allclose(layer.sum((1, 2)), ranks.sum(1), atol=1e-5)
    assert ranks.shape == (3, 6)
    assert torch.allclose(delta, layer.sum((1, 2)) - total, atol=1e-5)


def test_convergence_delta_takes_numpy_and_tensor_targets(text_model: TextModel,
                                                          tokens: Tensor) -> None:
    # Captum's own delta asserts on numpy integers; Layer RIG hands it the checked target.
    import numpy as np

    lrig = LayerRankIntegratedGradients(text_model, text_model.embedding)
    deltas = [lrig.attribute(tokens, baselines=0, target=target, n_steps=8,
                             return_convergence_delta=True)[1]
              for target in (2, np.int64(2), torch.tensor(2), np.array([2, 2, 2]))]
    for delta in deltas[1:]:
        assert torch.equal(delta, deltas[0])


@pytest.mark.parametrize("schedule", ["sequential", "spectral"])
def test_internal_batch_size_gives_the_same_answer_in_bounded_batches(
    cnn: nn.Module, images: Tensor, schedule: str
) -> None:
    recorder = Recorder(cnn)
    lrig = LayerRankIntegratedGradients(recorder, cnn.conv)
    whole = lrig.attribute_with_ranks(images, target=1, n_steps=10, method="gausslegendre",
                                      schedule=schedule)
    recorder.sizes.clear()
    chunked = lrig.attribute_with_ranks(images, target=1, n_steps=10, method="gausslegendre",
                                        schedule=schedule, internal_batch_size=7)
    for full, parts in zip(whole, chunked, strict=True):
        assert torch.allclose(full, parts, atol=1e-6)
    # Two forwards for the activations of x and x', then path chunks of 2 steps x 3 images.
    assert max(recorder.sizes) <= 7
    assert sum(recorder.sizes) == 2 * 3 + 10 * 3


class AffineReadout(nn.Module):
    """x (N, 4, 5) -> layer a = x A^T + c (N, 4, 6) -> F = <W, a> + b: affine in a."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(5, 6)
        self.weight = nn.Parameter(torch.randn(4, 6))

    def forward(self, x: Tensor) -> Tensor:
        return (self.layer(x) * self.weight).sum((1, 2)) + 0.5


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize(("method", "n_steps"),
                         [("gausslegendre", 1), ("gausslegendre", 5), ("adaptive", 5)])
def test_rank_attributions_match_the_affine_oracle(schedule: str, method: str,
                                                   n_steps: int) -> None:
    # F is affine in the layer's activations, so the gradient is W everywhere and every
    # path gives R_i = s_i u_i^T W v_i for a(x) - a(x') = U diag(s) V^T, exactly.
    torch.manual_seed(7)
    model = AffineReadout().double()
    x, x0 = torch.randn(3, 4, 5, dtype=torch.float64), torch.randn(1, 4, 5, dtype=torch.float64)
    with torch.no_grad():
        diff = model.layer(x) - model.layer(x0)
    U, S, Vh = torch.linalg.svd(diff, full_matrices=False)
    oracle = S * torch.einsum("nhi,hw,niw->ni", U, model.weight.detach(), Vh)
    lrig = LayerRankIntegratedGradients(model, model.layer)
    ranks = lrig.attribute_ranks(x, baselines=x0, n_steps=n_steps, method=method,
                                 schedule=schedule)
    assert torch.allclose(ranks, oracle, atol=1e-9)
    layer = lrig.attribute(x, baselines=x0, n_steps=n_steps, method=method, schedule=schedule)
    assert torch.allclose(layer, model.weight.detach() * diff, atol=1e-9)


@pytest.mark.parametrize("schedule", ["arc_length", "sequential", "linear"])
def test_a_vector_layer_output_is_its_straight_line_lig(cnn: nn.Module, images: Tensor,
                                                        schedule: str) -> None:
    # An (N, F) layer output is one 1 x F matrix of rank one per example: every schedule
    # walks the straight line there, which is Captum's LIG with its own rule.
    lrig = LayerRankIntegratedGradients(cnn, cnn.fc)
    ours, ranks = lrig.attribute_with_ranks(images, target=0, schedule=schedule)
    lig = LayerIntegratedGradients(cnn, cnn.fc).attribute(images, target=0)
    assert torch.allclose(ours, lig, atol=1e-6, rtol=1e-5)
    assert ranks.shape == (images.shape[0], 1)
    assert torch.allclose(ranks[:, 0], ours.sum(1), atol=1e-5)
    to_input = lrig.attribute(images, target=0, attribute_to_layer_input=True)
    lig_input = LayerIntegratedGradients(cnn, cnn.fc).attribute(
        images, target=0, attribute_to_layer_input=True)
    assert torch.allclose(to_input, lig_input, atol=1e-6, rtol=1e-5)


def test_a_layer_with_only_vector_outputs_follows_the_straight_line() -> None:
    class Split(nn.Module):
        def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
            return x[:, :3], x[:, 3:]

    split = Split()
    model = nn.Sequential(nn.Flatten(), split)

    def forward(x: Tensor) -> Tensor:
        left, right = model(x)
        return left.sum(1) * right.sum(1)

    x = torch.rand(2, 1, 4, 4)
    ours = LayerRankIntegratedGradients(forward, split).attribute(x)
    lig = LayerIntegratedGradients(forward, split).attribute(x)
    assert [tuple(t.shape) for t in ours] == [(2, 3), (2, 13)]
    for mine, theirs in zip(ours, lig, strict=True):
        assert torch.allclose(mine, theirs, atol=1e-6)


def test_bad_arguments_are_refused(cnn: nn.Module, images: Tensor) -> None:
    with pytest.raises(UserTypeError, match="`layer`"):
        LayerRankIntegratedGradients(cnn, "conv")  # type: ignore[arg-type]
    lrig = LayerRankIntegratedGradients(cnn, cnn.conv)
    with pytest.raises(UserInputError, match="share the batch"):
        lrig.attribute((images, images[:2]), target=0)
    with pytest.raises(TypeError, match="inputs"):
        lrig.attribute([images], target=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="schedule"):
        lrig.attribute(images, target=0, schedule="nope")
    with pytest.raises(UserTypeError, match="attribute_ranks"):
        RankSpace(LayerIntegratedGradients(cnn, cnn.conv))


def test_noise_tunnel_over_rank_attributions(cnn: nn.Module, images: Tensor) -> None:
    rig = RankIntegratedGradients(cnn)
    tunnel = NoiseTunnel(RankSpace(rig))
    # No noise: the smoothed spectrum is the spectrum, and the variance is zero.
    plain = rig.attribute_ranks(images, target=1, n_steps=8)
    same = tunnel.attribute(images, nt_samples=3, stdevs=0.0, target=1, n_steps=8)
    assert torch.allclose(same, plain, atol=1e-6)
    var = tunnel.attribute(images, nt_type="vargrad", nt_samples=3, stdevs=0.0, target=1,
                           n_steps=8)
    assert float(var.abs().max()) < 1e-8
    # With noise: the smoothed spectrum's total is the smoothed pixel attribution's total
    # (same noise draws from the same seed; rank and pixel totals agree per copy).
    torch.manual_seed(8)
    ranks, rank_delta = tunnel.attribute(images, nt_samples=4, stdevs=0.05, target=1,
                                         n_steps=8, return_convergence_delta=True)
    torch.manual_seed(8)
    pixels = NoiseTunnel(rig).attribute(images, nt_samples=4, stdevs=0.05, target=1, n_steps=8)
    assert ranks.shape == (3, 1, 12)
    assert rank_delta.shape == (12,)
    assert torch.allclose(ranks.sum((1, 2)), pixels.sum((1, 2, 3)), atol=1e-5)
    assert not torch.allclose(ranks, plain, atol=1e-4)


def test_noise_tunnel_over_layer_attributions_matches_captum_lig(cnn: nn.Module,
                                                                 images: Tensor) -> None:
    kwargs = dict(nt_type="smoothgrad_sq", nt_samples=3, stdevs=0.1, target=1, n_steps=8)
    torch.manual_seed(9)
    ours = NoiseTunnel(LayerRankIntegratedGradients(cnn, cnn.conv)).attribute(
        images, schedule="linear", method="gausslegendre", **kwargs
    )
    torch.manual_seed(9)
    theirs = NoiseTunnel(LayerIntegratedGradients(cnn, cnn.conv)).attribute(images, **kwargs)
    assert ours.shape == (3, 4, 10, 10)
    assert torch.allclose(ours, theirs, atol=1e-6)


def test_noise_tunnel_over_layer_rank_attributions(cnn: nn.Module, images: Tensor) -> None:
    lrig = LayerRankIntegratedGradients(cnn, cnn.conv)
    tunnel = NoiseTunnel(RankSpace(lrig))
    plain = lrig.attribute_ranks(images, target=0, n_steps=6)
    same = tunnel.attribute(images, nt_samples=2, stdevs=0.0, target=0, n_steps=6)
    assert same.shape == (3, 4, 10)
    assert torch.allclose(same, plain, atol=1e-6)
    smoothed = tunnel.attribute(images, nt_type="smoothgrad_sq", nt_samples=2, stdevs=0.1,
                                target=0, n_steps=6)
    assert smoothed.shape == (3, 4, 10) and bool((smoothed >= 0).all())


def test_works_under_no_grad(text_model: TextModel, tokens: Tensor) -> None:
    lrig = LayerRankIntegratedGradients(text_model, text_model.embedding)
    with torch.no_grad():
        ranks = lrig.attribute_ranks(tokens, 0, 0, n_steps=6)
    assert torch.allclose(ranks, lrig.attribute_ranks(tokens, 0, 0, n_steps=6))


@pytest.mark.parametrize("method", SUPPORTED_METHODS)
def test_every_method_runs(text_model: TextModel, tokens: Tensor, method: str) -> None:
    out = LayerRankIntegratedGradients(text_model, text_model.embedding).attribute(
        tokens, 0, 0, n_steps=4, method=method
    )
    assert out.shape == (3, 7, 6) and bool(torch.isfinite(out).all())


def test_grad_kwargs_reach_autograd(text_model: TextModel, tokens: Tensor) -> None:
    kwargs = dict(baselines=0, target=1, n_steps=6, method="gausslegendre",
                  grad_kwargs={"allow_unused": True})
    ours = LayerRankIntegratedGradients(text_model, text_model.embedding).attribute(
        tokens, schedule="linear", **kwargs
    )
    theirs = LayerIntegratedGradients(text_model, text_model.embedding).attribute(tokens, **kwargs)
    assert torch.allclose(ours, theirs, atol=1e-6)
    with pytest.raises(TypeError):
        LayerRankIntegratedGradients(text_model, text_model.embedding).attribute(
            tokens, 0, 1, n_steps=2, grad_kwargs={"no_such_option": 1}
        )


def test_model_errors_are_reported_through_rigs_checks(tokens: Tensor) -> None:
    embedding = nn.Embedding(30, 4)
    model = nn.Sequential(embedding, nn.Flatten(), nn.Linear(7 * 4, 2))
    with pytest.raises(UserInputError, match="target"):
        LayerRankIntegratedGradients(model, embedding).attribute(tokens, 0, target=5, n_steps=2)


@settings(max_examples=20, deadline=None)
@given(
    n=st.integers(1, 3), t=st.integers(1, 6), d=st.integers(1, 6), n_steps=st.integers(2, 6),
    schedule=st.sampled_from(SCHEDULES), method=st.sampled_from(["gausslegendre", "adaptive"]),
)
def test_affine_oracle_holds_for_all_shapes(n: int, t: int, d: int, n_steps: int,
                                            schedule: str, method: str) -> None:
    torch.manual_seed(n * 100 + t * 10 + d)
    embedding = nn.Embedding(9, d).double()
    weight = torch.randn(t, d, dtype=torch.float64)

    def forward(tokens: Tensor) -> Tensor:
        return (embedding(tokens) * weight).sum((1, 2))

    tokens, padding = torch.randint(1, 9, (n, t)), torch.zeros(n, t, dtype=torch.long)
    with torch.no_grad():
        diff = embedding(tokens) - embedding(padding)
    U, S, Vh = torch.linalg.svd(diff, full_matrices=False)
    oracle = S * torch.einsum("nhi,hw,niw->ni", U, weight, Vh)
    ranks, delta = LayerRankIntegratedGradients(forward, embedding).attribute_ranks(
        tokens, padding, n_steps=n_steps, method=method, schedule=schedule,
        return_convergence_delta=True,
    )
    assert ranks.shape == (n, min(t, d))
    assert torch.allclose(ranks, oracle, atol=1e-9)
    assert float(delta.abs().max()) < 1e-9


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu(text_model: TextModel, tokens: Tensor) -> None:
    cpu = LayerRankIntegratedGradients(text_model, text_model.embedding).attribute_with_ranks(
        tokens, 0, 1, n_steps=8
    )
    gpu_model = text_model.cuda()
    gpu = LayerRankIntegratedGradients(gpu_model, gpu_model.embedding).attribute_with_ranks(
        tokens.cuda(), 0, 1, n_steps=8
    )
    for ours, theirs in zip(cpu, gpu, strict=True):
        assert torch.allclose(ours, theirs.cpu(), atol=1e-5)


def test_the_adaptive_rule_reaches_the_tolerance_through_the_layer(
    text_model: TextModel, tokens: Tensor
) -> None:
    lrig = LayerRankIntegratedGradients(text_model, text_model.embedding)
    _, delta = lrig.attribute(tokens, 0, 2, n_steps=96, method="adaptive", tolerance=1e-3,
                              return_convergence_delta=True)
    convergence = lrig.last_convergence
    assert convergence is not None
    with torch.no_grad():
        change = text_model(tokens)[:, 2] - text_model(torch.zeros_like(tokens))[:, 2]
    # The rule's own F(x) - F(x') comes from the layer path's end points: the model's.
    assert torch.allclose(convergence.output_change.float(), change, atol=1e-5)
    assert float((delta / change).abs().max()) <= 1e-3 + 1e-6
    lrig.attribute(tokens, 0, 2, n_steps=8, method="gausslegendre")
    assert lrig.last_convergence is None


def test_calls_share_nothing_mutable_and_take_map_tolerance() -> None:
    """Each call runs its own RIG: the wrapped RIG's gradient function is never swapped."""
    from captum_rank._model_checks import checked_gradients

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Softplus(), nn.Flatten(),
                          nn.Linear(2 * 6 * 6, 4)).double()
    x = torch.rand(3, 1, 8, 8, dtype=torch.float64)
    lrig = LayerRankIntegratedGradients(model, model[0])
    first = lrig.attribute(x, target=3, n_steps=300, map_tolerance=0.05)
    assert lrig.rig.gradient_func is checked_gradients
    convergence = lrig.last_convergence
    assert convergence is not None and convergence.map_tolerance == 0.05
    assert bool((convergence.map_error <= 0.05).all())
    assert int(convergence.evaluations.max()) < 300
    # Inside another call's forward pass, a second call gives what it gives alone.
    alone = lrig.attribute(x, target=2, n_steps=8, method="gausslegendre")
    inner: list[Tensor] = []

    class Nested(nn.Module):
        def forward(self, inputs: Tensor) -> Tensor:
            if not inner:
                inner.append(lrig.attribute(x, target=2, n_steps=8, method="gausslegendre"))
            out: Tensor = model(inputs)
            return out

    outer = LayerRankIntegratedGradients(Nested(), model[0])
    outer.attribute(x, target=1, n_steps=6, method="gausslegendre")
    assert torch.allclose(inner[0], alone)
    assert first.shape == (3, 2, 6, 6)


# --- issue 17: bad layers named up front, not Captum asserts ------------------------------

class _DictBlock(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        return {"features": self.conv(x)}


class _Branches(nn.Module):
    """Two independent branches, a module never called, and a dict-returning block."""

    def __init__(self) -> None:
        super().__init__()
        self.left = nn.Conv2d(1, 2, 3)
        self.right = nn.Conv2d(1, 2, 3)
        self.spare = nn.Conv2d(1, 2, 3)
        self.block = _DictBlock()
        self.fc = nn.Linear(3 * 2 * 6 * 6, 4)

    def forward(self, x: Tensor) -> Tensor:
        parts = [torch.tanh(self.left(x)), torch.tanh(self.right(x)),
                 self.block(x)["features"]]
        return self.fc(torch.cat(parts, dim=1).flatten(1))


@pytest.mark.parametrize(
    ("layer", "match"),
    [
        (lambda m: nn.Conv2d(1, 2, 3), r"`layer` \(Conv2d\) is not a submodule of "
                                        r"`forward_func` \(_Branches\).*model's own module"),
        (lambda m: m.spare, r"`layer` \(spare: Conv2d\) is never called"),
        (lambda m: m.block, r"`layer` \(block: _DictBlock\) has a dict as its output.*tensor"),
        (lambda m: [m.left, m.spare], r"`layer\[1\]` \(spare: Conv2d\) is never called"),
        (lambda m: [m.left, m.left], r"same module twice \(layer\[0\] and layer\[1\]\)"),
    ],
)
def test_bad_layers_are_named_with_the_fix(layer: Any, match: str) -> None:
    torch.manual_seed(0)
    model = _Branches()
    x = torch.rand(2, 1, 8, 8)
    with pytest.raises(UserInputError, match=match):
        LayerRankIntegratedGradients(model, layer(model)).attribute(x, target=0, n_steps=4)


class _Residual(nn.Module):
    """``first`` feeds ``second``, and also reaches the output on its own (a skip)."""

    def __init__(self) -> None:
        super().__init__()
        self.first = nn.Conv2d(1, 2, 3, padding=1)
        self.second = nn.Conv2d(2, 2, 3, padding=1)
        self.fc = nn.Linear(2 * 8 * 8, 3)

    def forward(self, x: Tensor) -> Tensor:
        hidden = torch.tanh(self.first(x))
        return self.fc((hidden + torch.tanh(self.second(hidden))).flatten(1))


@pytest.mark.parametrize("to_input", [False, True])
def test_dependent_layers_run_as_in_captum_and_a_layer_without_its_own_path_is_named(
        to_input: bool) -> None:
    torch.manual_seed(0)
    x = torch.rand(2, 1, 8, 8)
    # One layer feeds the other but also reaches the output through a skip: Captum's LIG
    # attributes to both, and so does Layer RIG (the same numbers on the straight line).
    residual = _Residual()
    layers = [residual.first, residual.second]
    ours = LayerRankIntegratedGradients(residual, layers).attribute(
        x, target=1, schedule="linear", attribute_to_layer_input=to_input)
    lig = LayerIntegratedGradients(residual, layers).attribute(
        x, target=1, attribute_to_layer_input=to_input)
    assert isinstance(ours, list) and len(ours) == 2
    for mine, theirs in zip(ours, lig, strict=True):
        assert torch.allclose(mine, theirs, atol=1e-6)
    assert isinstance(LayerRankIntegratedGradients(residual, layers).attribute(
        x, target=1, n_steps=6, attribute_to_layer_input=to_input), list)
    # A chain: the first layer's activations reach the output only through the second's,
    # which the path replaces, so the first has no gradient; the error names it.
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Tanh(), nn.Conv2d(2, 2, 3), nn.Flatten(),
                          nn.Linear(2 * 4 * 4, 3))
    side = "input" if to_input else "output"
    with pytest.raises(UserInputError,
                       match=rf"does not depend on the {side} of `layer\[0\]` \(Conv2d\)"
                             r".*separate calls"):
        LayerRankIntegratedGradients(model, [model[0], model[2]]).attribute(
            x, target=0, n_steps=4, attribute_to_layer_input=to_input)
    with pytest.raises(AssertionError):  # what Captum code catches
        LayerRankIntegratedGradients(model, [model[0], model[2]]).attribute(
            x, target=0, n_steps=4, method="riemann_left", attribute_to_layer_input=to_input)
    branches = _Branches()
    both = LayerRankIntegratedGradients(branches, [branches.left, branches.right]).attribute(
        x, target=1, n_steps=4, method="gausslegendre", attribute_to_layer_input=to_input)
    assert isinstance(both, list) and len(both) == 2


def test_attribute_to_layer_input_must_be_a_real_bool() -> None:
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2 * 6 * 6, 3))
    lrig = LayerRankIntegratedGradients(model, model[0])
    x = torch.rand(2, 1, 8, 8)
    for bad in ("False", 0, None):
        with pytest.raises(UserTypeError, match="`attribute_to_layer_input` must be True or "
                                                "False"):
            lrig.attribute(x, target=0, n_steps=4, attribute_to_layer_input=bad)
    # numpy's bool is a bool: the conv's input (N, 1, 8, 8), not its output.
    out = lrig.attribute(x, target=0, n_steps=4, attribute_to_layer_input=np.bool_(True))
    assert out.shape == (2, 1, 8, 8)
    assert lrig.attribute_ranks(x, target=0, n_steps=4,
                                attribute_to_layer_input=np.False_).shape == (2, 2, 6)


def test_layer_refuses_a_non_bool_return_convergence_delta() -> None:
    from captum_rank import LayerRankIntegratedGradients
    from captum_rank.checks import UserTypeError

    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.Flatten(),
                                torch.nn.Linear(2 * 4 * 4, 2))
    layer = LayerRankIntegratedGradients(model, model[0])
    with pytest.raises(UserTypeError, match="`return_convergence_delta` must be True"):
        layer.attribute(torch.rand(2, 1, 6, 6), target=0, return_convergence_delta="yes")
