"""Inputs without two matrix dimensions: captum_rank/path.py and captum_rank/_validation.py.

An ``(N, L)`` (or ``(N,)``) tensor is one ``1 x L`` matrix of rank one per example, alone
or in a tuple next to matrix inputs: it follows the straight line under every schedule, so
its attribution is Integrated Gradients' (Captum's numbers when ``method`` is not given).
"""

from __future__ import annotations

import pytest
import torch
from captum.attr import IntegratedGradients
from torch import Tensor, nn

from captum_rank import LayerRankIntegratedGradients, RankIntegratedGradients
from captum_rank.schedules import available_schedules


class ImageAndVector(nn.Module):
    """F(img, vec) = f(img) + g(vec): additive, so each input's attribution is its own."""

    def __init__(self) -> None:
        super().__init__()
        self.image = nn.Linear(64, 3)
        self.vector = nn.Linear(5, 3)

    def forward(self, img: Tensor, vec: Tensor) -> Tensor:
        return torch.tanh(self.image(img.flatten(1))) + nn.functional.softplus(self.vector(vec))


@pytest.fixture
def model() -> ImageAndVector:
    torch.manual_seed(10)
    return ImageAndVector().eval()


@pytest.fixture
def inputs() -> tuple[Tensor, Tensor]:
    torch.manual_seed(11)
    return torch.rand(4, 1, 8, 8), torch.randn(4, 5)


@pytest.mark.parametrize("schedule", available_schedules())
def test_a_vector_next_to_an_image_is_integrated_gradients(
    model: ImageAndVector, inputs: tuple[Tensor, Tensor], schedule: str
) -> None:
    rig = RankIntegratedGradients(model)
    (image_attr, vector_attr), (image_ranks, vector_ranks), delta = rig.attribute_with_ranks(
        inputs, baselines=(0.0, 0.5), target=1, n_steps=24, method="gausslegendre",
        schedule=schedule, return_convergence_delta=True,
    )
    # The model is additive, so the vector's attribution is IG of g alone, with IG's nodes.
    ig = IntegratedGradients(model).attribute(inputs, baselines=(0.0, 0.5), target=1, n_steps=24)
    assert vector_attr.shape == (4, 5)
    assert torch.allclose(vector_attr, ig[1], atol=1e-6)
    # One component per example (the whole difference), carrying the vector's total.
    assert vector_ranks.shape == (4, 1) and image_ranks.shape == (4, 1, 8)
    assert torch.allclose(vector_ranks[:, 0], vector_attr.sum(1), atol=1e-6)
    assert float(delta.abs().max()) < 1e-3
    # The image keeps its rank path: only the linear schedule reproduces IG there.
    if schedule != "linear":
        assert not torch.allclose(image_attr, ig[0], atol=1e-4)


def test_a_per_example_scalar_input_is_accepted_in_a_tuple() -> None:
    torch.manual_seed(12)
    conv = nn.Conv2d(1, 2, 3)

    def forward(img: Tensor, temperature: Tensor) -> Tensor:
        return torch.tanh(conv(img)).mean((1, 2, 3)) * temperature

    img, temperature = torch.rand(3, 1, 6, 6), torch.rand(3) + 0.5
    attr, delta = RankIntegratedGradients(forward).attribute(
        (img, temperature), baselines=(0.0, 1.0), n_steps=32, method="gausslegendre",
        return_convergence_delta=True,
    )
    assert attr[1].shape == (3,)
    assert float(delta.abs().max()) < 1e-3


@pytest.mark.parametrize("shape", [(6, 20), (6,)])
@pytest.mark.parametrize("schedule", ["arc_length", "sequential", "spectral", "linear"])
def test_a_lone_vector_input_is_a_rank_one_matrix_on_igs_line(shape: tuple[int, ...],
                                                              schedule: str) -> None:
    # (N, F) and (N,) are one 1 x F matrix of rank one per example: the rank path is the
    # straight line under every schedule, so RIG is Captum's IG with its own rule.
    def model(x: Tensor) -> Tensor:
        return torch.sin(x.reshape(x.shape[0], -1)).sum(1)

    torch.manual_seed(0)
    x = torch.rand(*shape)
    rig = RankIntegratedGradients(model)
    pixels, ranks, delta = rig.attribute_with_ranks(x, schedule=schedule,
                                                    return_convergence_delta=True)
    ig = IntegratedGradients(model).attribute(x)
    assert pixels.shape == x.shape
    assert torch.allclose(pixels, ig, atol=1e-6)
    assert ranks.shape == (shape[0], 1)
    assert torch.allclose(ranks[:, 0], pixels.reshape(shape[0], -1).sum(1), atol=1e-5)
    assert float(delta.abs().max()) < 1e-4
    # the adaptive rule is still there when asked for, and converges to the same line
    adaptive = rig.attribute(x, schedule=schedule, method="adaptive", n_steps=32)
    assert torch.allclose(adaptive, ig, atol=1e-4)


def test_a_tuple_of_vectors_only_is_igs_line_with_exact_ranks() -> None:
    def model(a: Tensor, b: Tensor) -> Tensor:
        return torch.tanh(a).sum(1) * torch.cos(b).sum(1)

    torch.manual_seed(1)
    a, b = torch.rand(3, 4), torch.rand(3, 2)
    ranks = RankIntegratedGradients(model).attribute_ranks((a, b))
    assert [tuple(r.shape) for r in ranks] == [(3, 1), (3, 1)]
    ig = IntegratedGradients(model).attribute((a, b))
    for rank, attribution in zip(ranks, ig, strict=True):
        assert torch.allclose(rank[:, 0], attribution.sum(1), atol=1e-5)
    exact = RankIntegratedGradients(lambda t: torch.tanh(t).sum(1)).exact_ranks(
        a, schedule="arc_length")
    assert exact.shape == (3, 1)
    assert torch.allclose(exact[:, 0], torch.tanh(a).sum(1), atol=1e-6)


def test_a_layer_with_a_matrix_and_a_vector_output() -> None:
    class TwoOutputs(nn.Module):
        def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
            return x * 2.0, x.flatten(1)[:, :4]

    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.split = TwoOutputs()

        def forward(self, x: Tensor) -> Tensor:
            matrix, vector = self.split(x)
            return torch.tanh(matrix).sum((1, 2, 3)) + vector.pow(2).sum(1)

    torch.manual_seed(13)
    model, x = Model(), torch.rand(2, 1, 5, 5)
    lrig = LayerRankIntegratedGradients(model, model.split)
    (matrix_attr, vector_attr), delta = lrig.attribute(
        x, n_steps=32, method="gausslegendre", return_convergence_delta=True
    )
    assert matrix_attr.shape == (2, 1, 5, 5) and vector_attr.shape == (2, 4)
    # The vector part v follows the straight line from 0: for F = |v|^2 that is IG's
    # exact answer v^2 (the integrand is linear, so Gauss-Legendre is exact).
    vector = x.flatten(1)[:, :4]
    assert torch.allclose(vector_attr, vector.pow(2), atol=1e-5)
    with torch.no_grad():
        total = model(x) - model(torch.zeros_like(x))
    assert float((delta / total).abs().max()) < 1e-3


def test_mixed_inputs_with_the_default_method(model: ImageAndVector,
                                              inputs: tuple[Tensor, Tensor]) -> None:
    # Whatever rule is the default (fixed or adaptive), a vector next to an image works.
    (image_ranks, vector_ranks), delta = RankIntegratedGradients(model).attribute_ranks(
        inputs, target=0, n_steps=32, return_convergence_delta=True
    )
    assert image_ranks.shape == (4, 1, 8) and vector_ranks.shape == (4, 1)
    with torch.no_grad():
        change = model(*inputs)[:, 0] - model(*(torch.zeros_like(t) for t in inputs))[:, 0]
    assert float((delta / change).abs().max()) < 1e-2
