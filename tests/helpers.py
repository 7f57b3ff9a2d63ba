"""Test helpers shared by several test modules (imported as ``helpers``)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from torch import nn

#: The repository's root (scripts outside the package live under it).
ROOT = Path(__file__).resolve().parents[1]


def load_script(path: Path, name: str) -> ModuleType:
    """A script that is not part of the package (benchmarks, .ci, examples), as a module."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tanh_cnn(channels: int, size: int = 10, classes: int = 3) -> nn.Module:
    """A small smooth float64 CNN on ``(N, channels, size, size)``, the same at every call."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(channels, 4, 3), nn.Tanh(), nn.Flatten(),
        nn.Linear(4 * (size - 2) ** 2, 6), nn.Tanh(), nn.Linear(6, classes),
    ).double().eval()


class CallCounter(nn.Module):
    """Wraps a model and records the rows of every forward call: the model-call oracle."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.rows_per_call: list[int] = []

    @property
    def calls(self) -> int:
        """Forward calls so far."""
        return len(self.rows_per_call)

    @property
    def rows(self) -> int:
        """Examples (rows) seen so far, over all calls."""
        return sum(self.rows_per_call)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        # The first argument, positional or by keyword (a language model's inputs_embeds=).
        first = args[0] if args else next(iter(kwargs.values()))
        self.rows_per_call.append(int(first.shape[0]))
        return self.model(*args, **kwargs)
