"""Test helpers shared by several test modules (imported as ``helpers``)."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn


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

    def forward(self, x: Tensor, *args: Any) -> Tensor:
        self.rows_per_call.append(int(x.shape[0]))
        out: Tensor = self.model(x, *args)
        return out
