"""Shared small models and data for the test suite."""

from __future__ import annotations

import os
import tempfile

import pytest
import torch
from torch import Tensor, nn

# Two threads on a two-core machine that is also running other work thrash badly; the
# suite is many tiny ops, so one thread is both faster and steadier.
torch.set_num_threads(int(os.environ.get("CAPTUM_RANK_TEST_THREADS", "1")))

# Checkpoints are authenticated with a per-user key under $XDG_CONFIG_HOME: the suite
# (and the processes it starts, which inherit this) uses a key of its own, not the user's.
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="captum-rank-test-config-")


class SmallCNN(nn.Module):
    """A smooth CNN (softplus), so quadrature error falls quickly with n_steps."""

    def __init__(self, channels: int = 1, classes: int = 5, size: int = 12) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, 4, 3)
        self.fc = nn.Linear(4 * (size - 2) * (size - 2), classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(nn.functional.softplus(self.conv(x)).flatten(1))


class TupleModel(nn.Module):
    """Two image inputs of different shapes and an optional extra argument."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(1 * 8 * 8, 3)
        self.b = nn.Linear(2 * 6 * 5, 3)

    def forward(self, x1: Tensor, x2: Tensor, scale: Tensor | float = 1.0) -> Tensor:
        out = torch.tanh(self.a(x1.flatten(1))) + torch.tanh(self.b(x2.flatten(1)))
        if isinstance(scale, Tensor):
            scale = scale.view(-1, 1)
        return out * scale


@pytest.fixture
def cnn() -> SmallCNN:
    torch.manual_seed(0)
    return SmallCNN().eval()


@pytest.fixture
def tuple_model() -> TupleModel:
    torch.manual_seed(1)
    return TupleModel().eval()


@pytest.fixture
def images() -> Tensor:
    torch.manual_seed(2)
    return torch.rand(3, 1, 12, 12)


@pytest.fixture
def tuple_inputs() -> tuple[Tensor, Tensor]:
    torch.manual_seed(3)
    return torch.rand(4, 1, 8, 8), torch.rand(4, 2, 6, 5)
