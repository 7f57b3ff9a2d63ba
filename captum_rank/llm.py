r"""The exact rank spectrum of a language-model prompt, from forward passes only.

A prompt of ``T`` tokens enters a causal language model as its token-embedding matrix
``E`` (``T x d``, one row per token; ``d = 576`` for SmolLM2-135M). Relative to a baseline
``E'`` (zeros, a padding token's embedding in every row, or any ``T x d`` matrix), the
difference has the thin SVD ``E - E' = U diag(s) V^T`` with at most ``r = min(T, d) = T``
components: the prompt's *rank* is at most its length. Component ``i`` is the rank-one
matrix ``s_i u_i v_i^T``: one direction ``v_i`` of embedding space, present in every token
row with the weight ``s_i u_{ti}``. The rank-``k`` prompt

    ``x_k = E' + low_rank(E - E', k)``,   ``x_0 = E'``,  ``x_r = E``,

keeps the first ``k`` of them (the best rank-``k`` approximation of ``E - E'``). With
``F`` the target's log-probability under teacher forcing (the sum over the target
tokens of ``log p(target_j | prompt, target_<j)``, the target's own embeddings left as
they are), the **exact rank spectrum** is

    ``R_k = F(x_k) - F(x_{k-1})``,   ``sum_k R_k = F(E) - F(E')``,

the part of the target's log-probability that the ``k``-th singular direction of the
prompt carries. It is the value that Layer RIG's rank attributions on the embedding
layer (``LayerRankIntegratedGradients(...).attribute_ranks`` with the sequential
schedule, see :mod:`captum_rank.exact`) converge to, here computed with ``r + 1`` forward
passes and no backward pass: no activation is kept for a gradient, which is what makes
gradient attribution of language models run out of memory (captum#1430).

The points ``x_k`` come from the project's one rank path
(:func:`captum_rank.exact.exact_rank_attributions`, which takes the SVD once); this module
only turns a prompt and a target into the function ``F`` and the result into data
(:class:`PromptSpectrum`). The model is any causal language model that takes
``inputs_embeds=`` and returns logits ``(B, L, vocab)`` (Hugging Face's convention, or a
plain tensor); :mod:`captum_rank.zoo.smollm2` loads a real one offline.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from captum_rank.checks import UserInputError, UserTypeError, optional_positive_int
from captum_rank.exact import exact_rank_attributions
from captum_rank.model_call import ModelCall
from captum_rank.path import PathGeometry
from captum_rank.schedules import SequentialSchedule
from captum_rank.summaries import SpectrumSummary, spectrum_summary

__all__ = ["LLMRankSpectrum", "PromptSpectrum"]


@dataclass(frozen=True, eq=False)
class PromptSpectrum:
    r"""The exact rank spectrum of one prompt for one target.

    Attributes:
        ranks (Tensor): ``(r,)`` float64 ``R_k = F(x_k) - F(x_{k-1})``, ``r = T`` (the
            prompt's length; components with ``s_k = 0`` carry ``R_k = 0``).
        values (Tensor): ``(r + 1,)`` float64 ``F(x_0) .. F(x_r)``: the target's
            log-probability given the rank-``k`` prompt (``x_0`` the baseline, ``x_r``
            the prompt itself).
        singular_values (Tensor): ``(r,)`` float64 ``s_1 >= ... >= s_r`` of ``E - E'``.
        input_tokens (list[str]): the prompt's tokens, decoded one at a time.
        output_tokens (list[str]): the target's tokens, decoded one at a time.

    Examples:
        >>> import torch
        >>> spectrum = PromptSpectrum(torch.tensor([3.0, 1.0], dtype=torch.float64),
        ...                           torch.tensor([-6.0, -3.0, -2.0], dtype=torch.float64),
        ...                           torch.tensor([2.0, 1.0], dtype=torch.float64),
        ...                           ["a", " b"], [" c"])
        >>> spectrum.total, spectrum.rank_for_share(0.5), spectrum.shares.tolist()
        (4.0, 1, [0.0, 0.75, 1.0])
    """

    ranks: Tensor
    values: Tensor
    singular_values: Tensor
    input_tokens: list[str]
    output_tokens: list[str]

    @property
    def total(self) -> float:
        r"""``F(E) - F(E')``: how much more likely the target is given the prompt."""
        return float(self.values[-1] - self.values[0])

    @property
    def delta(self) -> float:
        r"""``sum_k R_k - (F(E) - F(E'))``: float rounding only (the sum telescopes)."""
        return float(self.ranks.sum()) - self.total

    @property
    def shares(self) -> Tensor:
        r"""``(r + 1,)`` ``(F(x_k) - F(E')) / (F(E) - F(E'))``, ``S_0 = 0``, ``S_r = 1``.

        Signed: a share above 1 or below 0 means the first ``k`` directions overshoot or
        push the target the other way. NaN for every ``k`` when the total is zero.
        """
        total = self.total
        if total == 0.0:
            return torch.full_like(self.values, float("nan"))
        return (self.values - self.values[0]) / total

    def rank_for_share(self, share: float) -> int | None:
        r"""The smallest ``k`` whose rank-``k`` prompt recovers ``share`` of the total.

        Args:
            share (float): in ``(0, 1]``, e.g. 0.5 or 0.9.

        Returns:
            int or None: see :func:`captum_rank.summaries.rank_for_share`.
        """
        return self.summary((share,)).rank(share)

    def summary(self, shares: Sequence[float] = (0.5, 0.9)) -> SpectrumSummary:
        r"""Total, ``sum |R|`` and the ``k`` for each share (``k50``, ``k90``).

        Args:
            shares (sequence of float, optional): fractions in ``(0, 1]``.
                Default: ``(0.5, 0.9)``.

        Returns:
            SpectrumSummary: from :func:`captum_rank.summaries.spectrum_summary`.
        """
        return spectrum_summary(self.ranks, shares)

    def to_dict(self) -> dict[str, Any]:
        r"""Plain JSON-able data.

        Returns:
            dict: ``ranks``, ``values``, ``singular_values``, ``input_tokens``,
            ``output_tokens``, ``total``, ``delta``.
        """
        return {
            "ranks": [float(v) for v in self.ranks],
            "values": [float(v) for v in self.values],
            "singular_values": [float(v) for v in self.singular_values],
            "input_tokens": list(self.input_tokens),
            "output_tokens": list(self.output_tokens),
            "total": self.total,
            "delta": self.delta,
        }


def _logits(output: Any) -> Tensor:
    logits = getattr(output, "logits", output)
    if isinstance(logits, tuple | list):
        logits = logits[0]
    if not isinstance(logits, Tensor) or logits.dim() != 3:
        raise UserInputError(
            "`model(inputs_embeds=...)` must return logits of shape (batch, length, vocab) "
            "(a tensor, or an output with a .logits tensor as Hugging Face models return), "
            f"got {type(logits).__name__}"
            + (f" of shape {tuple(logits.shape)}" if isinstance(logits, Tensor) else "")
            + "."
        )
    return logits


def _is_text_token_input(value: Any) -> bool:
    return all(hasattr(value, name) for name in ("to_model_input", "itp_mask", "baselines"))


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


class LLMRankSpectrum:
    r"""The exact rank spectrum of prompts of a causal language model (forward passes only).

    The interface follows Captum's :class:`~captum.attr.LLMGradientAttribution`: built
    from the model and its tokenizer, ``attribute`` takes a prompt and a target text.
    It costs ``T + 1`` forward passes of ``T + m - 1`` tokens for a prompt of ``T`` tokens
    and a target of ``m`` tokens, and no backward pass; everything runs under
    ``torch.no_grad()``.

    Args:
        model (torch.nn.Module): a causal language model that takes ``inputs_embeds``
                (``(B, L, d)``) and returns logits ``(B, L, vocab)`` (as a tensor or as
                ``.logits``).
        tokenizer (optional): a Hugging Face-style tokenizer (``encode`` and ``decode``),
                needed for text prompts and targets. Default: None (token ids only).
        embedding_layer (torch.nn.Module, optional): the token-embedding layer (token ids
                to ``(.., d)`` vectors). Default: ``model.get_input_embeddings()``.

    Examples:
        >>> import torch
        >>> from torch import nn
        >>> class TinyLM(nn.Module):  # a causal model in Hugging Face's calling style
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.embed = nn.Embedding(10, 4)
        ...         self.head = nn.Linear(4, 10)
        ...     def get_input_embeddings(self):
        ...         return self.embed
        ...     def forward(self, inputs_embeds):
        ...         return self.head(torch.tanh(inputs_embeds.cumsum(1)))
        >>> _ = torch.manual_seed(0)
        >>> spectra = LLMRankSpectrum(TinyLM())
        >>> result = spectra.attribute(torch.tensor([1, 2, 3]), target=torch.tensor([4, 5]))
        >>> result.ranks.shape, result.values.shape  # r = T = 3 components, r + 1 points
        (torch.Size([3]), torch.Size([4]))
        >>> abs(result.delta) < 1e-12  # sum_k R_k = F(E) - F(E') to float64 rounding
        True
    """

    def __init__(
        self,
        model: nn.Module,
        tokenizer: Any = None,
        embedding_layer: nn.Module | None = None,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise UserTypeError(
                f"`model` must be a torch.nn.Module (a causal language model), got "
                f"{type(model).__name__}."
            )
        if embedding_layer is None:
            getter = getattr(model, "get_input_embeddings", None)
            embedding_layer = getter() if callable(getter) else None
            if embedding_layer is None:
                raise UserInputError(
                    "`model` has no get_input_embeddings(); pass its token-embedding layer "
                    "as `embedding_layer` (for example model.model.embed_tokens)."
                )
        if not isinstance(embedding_layer, nn.Module):
            raise UserTypeError(
                f"`embedding_layer` must be a torch.nn.Module, got "
                f"{type(embedding_layer).__name__}."
            )
        self.model = model
        self.tokenizer = tokenizer
        self.embedding_layer = embedding_layer

    # ---------------------------------------------------------------- inputs

    def _ids(self, value: Any, name: str, special: bool) -> Tensor:
        if isinstance(value, str):
            if self.tokenizer is None:
                raise UserInputError(
                    f"`{name}` is text but no tokenizer was given; build "
                    "LLMRankSpectrum(model, tokenizer) or pass token ids."
                )
            if special:
                ids = self.tokenizer.encode(value)
            else:
                ids = self.tokenizer.encode(value, add_special_tokens=False)
            value = torch.as_tensor(ids)
        elif name == "inp" and _is_text_token_input(value):
            # Captum's TextTokenInput: to_tensor() is its 0/1 interpretable form; the
            # token ids are its model input.
            if value.itp_mask is not None:
                raise UserInputError(
                    "`inp` is a TextTokenInput with skip_tokens; the rank components "
                    "belong to the whole embedding matrix, so every token takes part. "
                    "Build it without skip_tokens."
                )
            value = value.to_model_input()
        if not isinstance(value, Tensor):
            raise UserTypeError(
                f"`{name}` must be text, a 1-D tensor of token ids or a (1, T) one, got "
                f"{type(value).__name__}."
            )
        if value.dim() == 2 and value.shape[0] == 1:
            value = value[0]
        if value.dim() != 1 or value.is_floating_point() or value.is_complex() \
                or value.dtype == torch.bool:
            raise UserInputError(
                f"`{name}` must hold integer token ids of shape (T,) or (1, T) (one "
                f"prompt at a time), got dtype {value.dtype} and shape {tuple(value.shape)}."
            )
        if value.numel() == 0:
            raise UserInputError(f"`{name}` is empty: it needs at least one token.")
        vocab = getattr(self.embedding_layer, "num_embeddings", None)
        if int(value.min()) < 0 or (vocab is not None and int(value.max()) >= vocab):
            raise UserInputError(
                f"`{name}` has token ids outside the vocabulary [0, {vocab}): "
                f"min {int(value.min())}, max {int(value.max())}."
            )
        return value.long()

    def _baseline(self, baselines: Any, embeds: Tensor) -> Tensor:
        T, d = embeds.shape[-2:]
        device = embeds.device
        if baselines is None:
            return torch.zeros(T, d, dtype=torch.float64, device=device)
        if _is_int(baselines):
            baselines = torch.full((T,), int(baselines), dtype=torch.long)
        if not isinstance(baselines, Tensor):
            raise UserTypeError(
                "`baselines` must be None (zero embeddings), a token id (int), token ids "
                f"(T,) or an embedding (d,) or (T, d) tensor, got {type(baselines).__name__}."
            )
        if not baselines.is_floating_point():
            ids = self._ids(baselines.reshape(-1) if baselines.dim() == 0 else baselines,
                            "baselines", special=False)
            if ids.numel() != T:
                raise UserInputError(
                    f"`baselines` has {ids.numel()} token ids but the prompt has {T} tokens."
                )
            with torch.no_grad():
                return self.embedding_layer(ids.to(device)).to(torch.float64)
        base = baselines.detach().to(device=device, dtype=torch.float64)
        if base.dim() == 3 and base.shape[0] == 1:
            base = base[0]
        if base.shape not in ((d,), (T, d)):
            raise UserInputError(
                f"`baselines` of shape {tuple(baselines.shape)} is not an embedding of the "
                f"prompt: give a ({d},) vector (the same in every row) or a ({T}, {d}) "
                "matrix, or token ids."
            )
        if not bool(torch.isfinite(base).all()):
            raise UserInputError("`baselines` holds NaN or inf.")
        return torch.broadcast_to(base, (T, d))

    def _tokens(self, ids: Tensor) -> list[str]:
        if self.tokenizer is None:
            return [str(int(i)) for i in ids]
        return [self.tokenizer.decode([int(i)]) for i in ids]

    # ---------------------------------------------------------------- the spectrum

    def attribute(
        self,
        inp: Any,
        target: Any,
        baselines: Any = None,
        internal_batch_size: int | None = None,
    ) -> PromptSpectrum:
        r"""The exact rank spectrum of ``inp``'s embedding matrix for ``target``.

        Args:
            inp (str, Tensor or TextTokenInput): the prompt: text (tokenised with the
                        tokenizer, special tokens as the tokenizer adds them), token ids
                        ``(T,)`` or ``(1, T)``, or Captum's ``TextTokenInput`` (without
                        ``skip_tokens``).
            target (str or Tensor): the continuation whose log-probability is ``F``:
                        text (tokenised without special tokens, as Captum's
                        ``LLMGradientAttribution`` does) or token ids ``(m,)``.
            baselines (None, int or Tensor, optional): the start ``E'`` of the rank
                        path: None (zero embeddings; for a ``TextTokenInput``, its own
                        baseline token, as Captum uses it), a token id (its embedding in every
                        row: what Captum's ``LayerIntegratedGradients`` uses for
                        ``baselines=id`` on token ids), token ids ``(T,)``, or an embedding
                        ``(d,)`` or ``(T, d)``. Default: None.
            internal_batch_size (int, optional): at most this many rank-``k`` prompts
                        per forward call. Default: None (all ``T + 1`` at once).

        Returns:
            PromptSpectrum: ``R_k``, ``F(x_k)``, the singular values and the tokens.

        Raises:
            UserInputError: text without a tokenizer, an empty or batched prompt or
                target, token ids outside the vocabulary, a baseline of the wrong shape
                or with NaN, a model that does not return ``(B, L, vocab)`` logits, or a
                non-finite log-probability on a rank-``k`` prompt.
            UserTypeError: arguments of the wrong type.

        Examples:
            >>> import torch
            >>> from torch import nn
            >>> class TinyLM(nn.Module):
            ...     def __init__(self):
            ...         super().__init__()
            ...         self.embed = nn.Embedding(10, 4)
            ...         self.head = nn.Linear(4, 10)
            ...     def get_input_embeddings(self):
            ...         return self.embed
            ...     def forward(self, inputs_embeds):
            ...         return self.head(torch.tanh(inputs_embeds.cumsum(1)))
            >>> _ = torch.manual_seed(0)
            >>> spectra = LLMRankSpectrum(TinyLM())
            >>> ids, target = torch.tensor([1, 2, 3, 3]), torch.tensor([4])
            >>> result = spectra.attribute(ids, target, baselines=0, internal_batch_size=2)
            >>> len(result.ranks), len(result.input_tokens)
            (4, 4)
            >>> float(result.singular_values[-1]) < 1e-6  # token 3 twice: rank 3 of 4
            True
            >>> abs(float(result.ranks[-1])) < 1e-5  # so the last component carries nothing
            True
        """
        batch = optional_positive_int(internal_batch_size, "internal_batch_size")
        if baselines is None and _is_text_token_input(inp):
            baselines = int(inp.baselines)  # its baseline token, as Captum uses it
        prompt = self._ids(inp, "inp", special=True)
        answer = self._ids(target, "target", special=False)
        weight = next(iter(self.embedding_layer.parameters()), None)
        device = weight.device if weight is not None else torch.device("cpu")
        prompt, answer = prompt.to(device), answer.to(device)
        with torch.no_grad():
            embeds = self.embedding_layer(prompt)
            follow = self.embedding_layer(answer[:-1])
        model_dtype = embeds.dtype
        base = self._baseline(baselines, embeds)
        T = int(prompt.numel())
        recorded: list[Tensor] = []

        def evaluate(points: Tensor) -> Tensor:
            # The rank-k prompts in float64 from the path; the model runs in its own dtype.
            rows = int(points.shape[0])
            sequence = torch.cat(
                [points.to(model_dtype), follow.unsqueeze(0).expand(rows, -1, -1)], dim=1)
            with torch.no_grad():
                logits = _logits(self.model(inputs_embeds=sequence))
            # Position T - 1 + j predicts target token j (teacher forcing).
            # Half-precision logits are normalised in float32; float64 ones stay float64.
            tail = logits[:, T - 1:]
            logp = tail.to(torch.promote_types(tail.dtype, torch.float32)).log_softmax(dim=-1)
            picked = logp.gather(-1, answer.expand(rows, -1).unsqueeze(-1)).squeeze(-1)
            value = picked.double().sum(dim=-1)
            recorded.append(value.cpu())
            return value

        E = embeds.to(torch.float64).unsqueeze(0)
        schedule = SequentialSchedule()
        # The log-probability behind the one model-call contract (one prompt: one example).
        model = ModelCall(evaluate, num_examples=1, internal_batch_size=batch)
        ranks, _ = exact_rank_attributions(E, base.unsqueeze(0), schedule, model)
        values = torch.cat(recorded)
        singular = PathGeometry.build(E, base.unsqueeze(0), schedule,
                                      factors=False).singular_values
        return PromptSpectrum(
            ranks=ranks.reshape(-1).cpu(),
            values=values,
            singular_values=singular.reshape(-1).cpu(),
            input_tokens=self._tokens(prompt),
            output_tokens=self._tokens(answer),
        )
