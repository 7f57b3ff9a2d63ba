"""A float32 input stays float32: what RIG creates along the path, recorded op by op.

Captum users on Apple's MPS (captum#1240) cannot hold float64 tensors on the device. A
:class:`~torch.utils._python_dispatch.TorchDispatchMode` sees the result of every tensor
operation during an attribution on the CPU; the path points, gradients, sums and SVD
factors (anything with the size of an input) must never be float64.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import Tensor, nn
from torch.utils._python_dispatch import TorchDispatchMode

from captum_rank import LayerRankIntegratedGradients, RankIntegratedGradients


class _Float64Results(TorchDispatchMode):
    """Records the shape of every float64 tensor an operation returns."""

    def __init__(self) -> None:
        super().__init__()
        self.shapes: list[tuple[int, ...]] = []

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (),
                           kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        for tensor in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(tensor, Tensor) and tensor.dtype == torch.float64:
                self.shapes.append(tuple(tensor.shape))
        return out


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.Tanh(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))


def _matrix_shaped(shapes: list[tuple[int, ...]],
                   matrices: tuple[tuple[int, int], ...]) -> list[tuple[int, ...]]:
    return [shape for shape in shapes if len(shape) >= 2 and shape[-2:] in matrices]


@pytest.mark.parametrize("options", [
    dict(), dict(schedule="linear"), dict(schedule="sequential", method="riemann_middle"),
    dict(method="adaptive", tolerance=0.5),
])
def test_a_float32_input_makes_no_float64_input_sized_tensor(options: dict[str, Any]) -> None:
    model = _model()
    x = torch.rand(2, 3, 8, 8)
    with _Float64Results() as record:
        pixels, ranks = RankIntegratedGradients(model).attribute_with_ranks(
            x, target=1, n_steps=8, **options)
        LayerRankIntegratedGradients(model, model[0]).attribute(x, target=1, n_steps=8,
                                                                **options)
    assert pixels.dtype == ranks.dtype == torch.float32
    # A float64 tensor ending in an input's H x W (8 x 8) or the layer's (6 x 6) would be
    # path points, gradients or sums; the gates and nodes are (steps, N, C, r).
    assert _matrix_shaped(record.shapes, ((8, 8), (6, 6))) == []


def test_float64_inputs_stay_float64() -> None:
    model = _model().double()
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    pixels, ranks = RankIntegratedGradients(model).attribute_with_ranks(x, target=1, n_steps=4)
    assert pixels.dtype == ranks.dtype == torch.float64


@pytest.mark.xfail(strict=True, reason="the schedules' gates and the quadrature nodes are "
                   "computed in float64 (small tensors, steps x components); see the report "
                   "of issue 21")
def test_a_float32_input_makes_no_float64_tensor_at_all() -> None:
    model = _model()
    with _Float64Results() as record:
        RankIntegratedGradients(model).attribute(torch.rand(2, 3, 8, 8), target=1, n_steps=8)
    assert record.shapes == []
