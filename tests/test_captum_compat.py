"""RIG as a drop-in for Captum: where the path is IG's straight line, Captum's numbers.

Oracles: Captum's IntegratedGradients, LayerIntegratedGradients, NoiseTunnel, infidelity,
sensitivity_max and LLMGradientAttribution, run side by side on the same models. The
straight line is ``schedule="linear"`` on any input, or any schedule on feature vectors
(rank one); ``method`` is left out, which there means Captum's own rule.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from captum.attr import (
    IntegratedGradients,
    LayerIntegratedGradients,
    LLMGradientAttribution,
    NoiseTunnel,
    TextTokenInput,
)
from captum.metrics import infidelity, sensitivity_max
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor, nn

from captum_rank import LayerRankIntegratedGradients, RankIntegratedGradients
from captum_rank.checks import UserInputError

ATOL = 1e-6
RTOL = 1e-5


def close(ours: Any, theirs: Any) -> None:
    """Tensors, or tuples/lists of them, equal to float rounding."""
    if isinstance(theirs, (tuple, list)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs)
        for mine, their in zip(ours, theirs, strict=True):
            close(mine, their)
        return
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    assert torch.allclose(ours, theirs, atol=ATOL, rtol=RTOL), float((ours - theirs).abs().max())


class Features(nn.Module):
    """(N, F) -> (N, 3): a tabular model."""

    def __init__(self, features: int = 6) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(features, 8), nn.Tanh(), nn.Linear(8, 3))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class Sequence(nn.Module):
    """(N, T, D) -> (N, 3): a sequence of feature vectors."""

    def __init__(self) -> None:
        super().__init__()
        self.mix = nn.Linear(4, 5)
        self.out = nn.Linear(5, 3)

    def forward(self, x: Tensor) -> Tensor:
        return self.out(torch.tanh(self.mix(x)).mean(1))


class Image(nn.Module):
    """(N, C, H, W) -> (N, 3, 2): a CNN whose output needs a tuple target."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3)
        self.act = nn.Softplus()
        self.fc = nn.Linear(3 * 4 * 4, 6)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.act(self.conv(x)).flatten(1)).reshape(-1, 3, 2)


class ImageAndFeatures(nn.Module):
    """A tuple input, (image, features), plus an extra scale argument."""

    def __init__(self) -> None:
        super().__init__()
        self.image = Image()
        self.features = Features(5)

    def forward(self, img: Tensor, feats: Tensor, scale: Tensor | float = 1.0) -> Tensor:
        return (self.image(img)[:, :, 0] + self.features(feats)) * scale


class Text(nn.Module):
    """Token ids (N, T) -> (N, 3): an embedding feeding a conv and, on its own, a skip."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(30, 6)
        self.conv = nn.Conv1d(6, 4, 3, padding=1)
        self.fc = nn.Linear(4, 3)
        self.skip = nn.Linear(6, 3)

    def forward(self, tokens: Tensor) -> Tensor:
        embedded = self.embedding(tokens)
        hidden = torch.tanh(self.conv(embedded.transpose(1, 2)))
        return self.fc(hidden.mean(2)) + self.skip(torch.tanh(embedded).mean(1))


class Vector(nn.Module):
    """(N,) -> (N, 3): one feature per example."""

    def __init__(self) -> None:
        super().__init__()
        self.net = Features(1)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x[:, None])


def _model(kind: str) -> tuple[nn.Module, Tensor]:
    torch.manual_seed(0)
    if kind == "features":
        return Features(), torch.rand(4, 6)
    if kind == "vector":
        return Vector(), torch.rand(4)
    if kind == "sequence":
        return Sequence(), torch.rand(4, 5, 4)
    return Image(), torch.rand(4, 2, 6, 6)


TARGETS: dict[str, Callable[[str], Any]] = {
    "int": lambda kind: (1, 0) if kind == "image" else 1,
    "0-d tensor": lambda kind: (1, 1) if kind == "image" else torch.tensor(0),
    "per-example tensor": lambda kind: None if kind == "image" else torch.tensor([0, 1, 2, 1]),
    "per-example list": lambda kind: ([(0, 1), (2, 0), (1, 1), (0, 0)] if kind == "image"
                                      else [2, 0, 1, 1]),
}


@pytest.mark.parametrize("kind", ["features", "vector", "sequence", "image"])
@pytest.mark.parametrize("target_form", list(TARGETS))
def test_rig_on_the_straight_line_is_captum_ig_for_every_target_form(
        kind: str, target_form: str) -> None:
    model, x = _model(kind)
    target = TARGETS[target_form](kind)
    if target is None:
        pytest.skip("a per-example tensor cannot index a 2-d output per example")
    theirs = IntegratedGradients(model).attribute(x, target=target)
    schedule = "arc_length" if kind in ("features", "vector") else "linear"
    close(RankIntegratedGradients(model).attribute(x, target=target, schedule=schedule),
          theirs)


BASELINES: dict[str, Callable[[Tensor], Any]] = {
    "none": lambda x: None,
    "int": lambda x: 1,
    "float": lambda x: 0.25,
    "same shape": lambda x: torch.rand_like(x),
    "first dimension 1": lambda x: torch.rand(1, *x.shape[1:]),
}


@pytest.mark.parametrize("kind", ["features", "sequence", "image"])
@pytest.mark.parametrize("baseline_form", list(BASELINES))
def test_every_baseline_form_with_delta_and_batching(kind: str, baseline_form: str) -> None:
    model, x = _model(kind)
    baselines = BASELINES[baseline_form](x)
    target = (0, 1) if kind == "image" else 0
    arguments: dict[str, Any] = dict(baselines=baselines, target=target, n_steps=20,
                                     internal_batch_size=9, return_convergence_delta=True)
    theirs, their_delta = IntegratedGradients(model).attribute(x, **arguments)
    ours, delta = RankIntegratedGradients(model).attribute(x, schedule="linear", **arguments)
    close(ours, theirs)
    close(delta, their_delta)
    local = IntegratedGradients(model, multiply_by_inputs=False).attribute(
        x, baselines=baselines, target=target)
    close(RankIntegratedGradients(model, multiply_by_inputs=False).attribute(
        x, baselines=baselines, target=target, schedule="linear"), local)


@pytest.mark.parametrize("method", ["gausslegendre", "riemann_left", "riemann_right",
                                    "riemann_middle", "riemann_trapezoid"])
def test_tuples_additional_forward_args_and_every_fixed_rule(method: str) -> None:
    torch.manual_seed(0)
    model = ImageAndFeatures()
    inputs = (torch.rand(3, 2, 6, 6), torch.rand(3, 5))
    baselines = (0.1, torch.rand(1, 5))
    scale = torch.rand(3, 1)
    arguments: dict[str, Any] = dict(baselines=baselines, target=[0, 2, 1], n_steps=7,
                                     method=method, additional_forward_args=(scale,),
                                     internal_batch_size=4)
    theirs = IntegratedGradients(model).attribute(inputs, **arguments)
    if method == "riemann_trapezoid":
        # Captum's trapezoid weights sum to (n - 1) / n; ours are normalised to sum to 1
        # (docs/convergence.md), on the same nodes.
        theirs = tuple(t * 7 / 6 for t in theirs)
    close(RankIntegratedGradients(model).attribute(inputs, schedule="linear", **arguments),
          theirs)


@settings(max_examples=8, deadline=None)
@given(batch=st.integers(1, 4), features=st.integers(1, 7), n_steps=st.integers(1, 40),
       schedule=st.sampled_from(["arc_length", "sequential", "energy", "spectral", "linear"]))
def test_feature_vectors_are_ig_under_every_schedule(batch: int, features: int, n_steps: int,
                                                     schedule: str) -> None:
    torch.manual_seed(features)
    model = Features(features)
    x = torch.randn(batch, features)
    theirs = IntegratedGradients(model).attribute(x, target=1, n_steps=n_steps)
    rig = RankIntegratedGradients(model)
    pixels, ranks = rig.attribute_with_ranks(x, target=1, n_steps=n_steps, schedule=schedule)
    close(pixels, theirs)
    assert ranks.shape == (batch, 1)
    close(ranks[:, 0], pixels.sum(1))


@pytest.mark.parametrize("nt_type", ["smoothgrad", "smoothgrad_sq", "vargrad"])
@pytest.mark.parametrize("kind", ["features", "image"])
def test_noise_tunnel_types(nt_type: str, kind: str) -> None:
    model, x = _model(kind)
    target = (1, 0) if kind == "image" else 1
    arguments: dict[str, Any] = dict(nt_type=nt_type, nt_samples=3, stdevs=0.1, target=target,
                                     n_steps=10)
    torch.manual_seed(7)
    theirs = NoiseTunnel(IntegratedGradients(model)).attribute(x, **arguments)
    torch.manual_seed(7)
    ours = NoiseTunnel(RankIntegratedGradients(model)).attribute(x, schedule="linear",
                                                                 **arguments)
    close(ours, theirs)


def test_infidelity_and_sensitivity_max() -> None:
    model, x = _model("features")

    def perturb(inputs: Tensor) -> tuple[Tensor, Tensor]:
        noise = 0.05 * torch.randn_like(inputs)
        return noise, inputs - noise

    ig, rig = IntegratedGradients(model), RankIntegratedGradients(model)
    theirs, ours = ig.attribute(x, target=2), rig.attribute(x, target=2)
    close(ours, theirs)
    scores = []
    for attributions in (theirs, ours):
        torch.manual_seed(3)
        scores.append(infidelity(model, perturb, x, attributions, target=2, n_perturb_samples=4))
    close(scores[1], scores[0])
    sensitivities = []
    for method in (ig.attribute, rig.attribute):
        torch.manual_seed(5)
        sensitivities.append(sensitivity_max(method, x, target=2, n_perturb_samples=3,
                                             n_steps=8))
    close(sensitivities[1], sensitivities[0])


def _text() -> tuple[Text, Tensor]:
    torch.manual_seed(0)
    return Text(), torch.randint(1, 30, (3, 7))


@pytest.mark.parametrize("to_input", [False, True])
def test_layer_rig_on_the_straight_line_is_captum_lig(to_input: bool) -> None:
    model, tokens = _text()
    # [embedding, conv]: the embedding feeds the conv and reaches the output on its own.
    layers = ((model.conv, model.fc, [model.conv, model.skip]) if to_input  # ids go in
              else (model.embedding, model.conv, [model.embedding, model.conv]))
    for layer in layers:
        arguments: dict[str, Any] = dict(baselines=0, target=[0, 2, 1], n_steps=12,
                                         internal_batch_size=7, return_convergence_delta=True,
                                         attribute_to_layer_input=to_input)
        theirs, their_delta = LayerIntegratedGradients(model, layer).attribute(tokens,
                                                                               **arguments)
        ours, delta = LayerRankIntegratedGradients(model, layer).attribute(
            tokens, schedule="linear", **arguments)
        close(ours, theirs)
        close(delta, their_delta)


def test_layer_rig_on_images_and_noise_tunnel() -> None:
    model, x = _model("image")
    theirs = LayerIntegratedGradients(model, model.conv).attribute(x, target=(2, 1))
    ours = LayerRankIntegratedGradients(model, model.conv).attribute(x, target=(2, 1),
                                                                     schedule="linear")
    close(ours, theirs)
    torch.manual_seed(1)
    their_nt = NoiseTunnel(LayerIntegratedGradients(model, model.conv)).attribute(
        x, nt_type="smoothgrad", nt_samples=2, target=(2, 1), n_steps=6)
    torch.manual_seed(1)
    our_nt = NoiseTunnel(LayerRankIntegratedGradients(model, model.conv)).attribute(
        x, nt_type="smoothgrad", nt_samples=2, target=(2, 1), n_steps=6, schedule="linear")
    close(our_nt, their_nt)


def test_captum_type_checks_see_ig_and_lig_and_errors_are_assertion_errors() -> None:
    model, x = _model("image")
    rig = RankIntegratedGradients(model)
    assert isinstance(rig, IntegratedGradients)
    assert isinstance(LayerRankIntegratedGradients(model, model.conv), LayerIntegratedGradients)
    with pytest.raises(NotImplementedError):
        rig.attribute_future()
    with pytest.raises(NotImplementedError):
        LayerRankIntegratedGradients(model, model.conv).attribute_future()
    # Captum asserts on a bad target or baseline shape; code catching that catches ours.
    for bad in (dict(target=[(0, 1), (1, 1)]), dict(baselines=torch.zeros(2, 2, 6, 6)),
                dict(baselines=(0.0, 1.0))):
        arguments: dict[str, Any] = dict(target=(0, 0))
        arguments.update(bad)
        with pytest.raises(AssertionError):
            IntegratedGradients(model).attribute(x, **arguments)
        with pytest.raises(AssertionError) as caught:
            rig.attribute(x, schedule="linear", **arguments)
        assert isinstance(caught.value, UserInputError)


class _Failing(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.fc = nn.Linear(2 * 4 * 4, 2)

    def forward(self, x: Tensor) -> Tensor:
        out = self.fc(torch.tanh(self.conv(x)).flatten(1))
        if x.shape[0] > 2:  # on the path's batches, after the hooks are in place
            return out * float("nan")
        return out


def _hooks(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


@pytest.mark.parametrize("method", [None, "adaptive", "gausslegendre"])
def test_no_hook_is_left_after_an_error(method: str | None) -> None:
    torch.manual_seed(0)
    x = torch.rand(2, 1, 6, 6)
    model = _Failing()
    with pytest.raises(UserInputError, match="NaN or inf"):
        LayerRankIntegratedGradients(model, model.conv).attribute(x, target=0, method=method,
                                                                  n_steps=6)
    assert _hooks(model) == 0
    with pytest.raises(AssertionError):
        LayerRankIntegratedGradients(model, [model.conv, model.fc]).attribute(x, target=7)
    assert _hooks(model) == 0
    with pytest.raises(UserInputError):
        LayerRankIntegratedGradients(model, nn.Conv2d(1, 2, 3)).attribute(x, target=0)
    assert _hooks(model) == 0


class _Words:
    """A word-level tokenizer with the interface LLMGradientAttribution uses."""

    def __init__(self, words: list[str]) -> None:
        self.words = words

    def encode(self, text: str, return_tensors: str | None = None,
               add_special_tokens: bool = True) -> Any:
        ids = [self.words.index(word) for word in text.split()]
        return torch.tensor([ids]) if return_tensors == "pt" else ids

    def decode(self, ids: Any) -> str:
        ids = ids.tolist() if isinstance(ids, Tensor) else ids
        ids = [ids] if isinstance(ids, int) else ids
        return " ".join(self.words[int(i)] for i in ids)

    def __call__(self, text: str, return_offsets_mapping: bool = False,
                 add_special_tokens: bool = True) -> dict[str, Any]:
        ids, offsets, start = [], [], 0
        for word in text.split():
            start = text.index(word, start)
            ids.append(self.words.index(word))
            offsets.append((start, start + len(word)))
            start += len(word)
        return {"input_ids": ids, "offset_mapping": offsets}

    def convert_ids_to_tokens(self, ids: list[int]) -> list[str]:
        return [self.words[i] for i in ids]

    def convert_tokens_to_ids(self, tokens: list[str]) -> list[int]:
        return [self.words.index(token) for token in tokens]


class _TinyLM(nn.Module):
    """A causal LM with Hugging Face's calling convention: ids in, ``.logits`` out."""

    def __init__(self, vocabulary: int) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(vocabulary, 8)
        self.mix = nn.Linear(8, 8)
        self.head = nn.Linear(8, vocabulary)

    def forward(self, input_ids: Tensor) -> SimpleNamespace:
        hidden = torch.tanh(self.mix(self.embed_tokens(input_ids)))
        causal = hidden.cumsum(1) / torch.arange(1, hidden.shape[1] + 1)[:, None]
        return SimpleNamespace(logits=self.head(causal))


def test_llm_gradient_attribution_takes_layer_rig() -> None:
    words = "<unk> the capital of france is paris . a city".split()
    tokenizer = _Words(words)
    torch.manual_seed(0)
    model = _TinyLM(len(words))
    prompt = TextTokenInput("the capital of france is", tokenizer)
    target = torch.tensor([6, 7])  # "paris ."
    lig = LLMGradientAttribution(LayerIntegratedGradients(model, model.embed_tokens), tokenizer)
    theirs = lig.attribute(prompt, target=target, n_steps=16)
    ours_attr = LLMGradientAttribution(
        LayerRankIntegratedGradients(model, model.embed_tokens), tokenizer)
    linear = ours_attr.attribute(prompt, target=target, n_steps=16, schedule="linear")
    close(linear.token_attr, theirs.token_attr)
    close(linear.seq_attr, theirs.seq_attr)
    assert linear.output_tokens == theirs.output_tokens
    # The adaptive rule sees the same target tokens for every generated position.
    adaptive = ours_attr.attribute(prompt, target=target, n_steps=48, schedule="linear",
                                   method="adaptive")
    assert torch.allclose(adaptive.token_attr, theirs.token_attr, atol=1e-3)
    # The rank path of the prompt's embedding matrix: same shapes, its own numbers.
    rank = ours_attr.attribute(prompt, target=target, n_steps=24)
    assert rank.token_attr.shape == theirs.token_attr.shape == (2, 5)
    assert torch.isfinite(rank.token_attr).all()
