"""A float32 input stays float32: what RIG creates along the path, recorded op by op.

Captum users on Apple's MPS (captum#1240) cannot hold float64 tensors on the device. On
the CPU, a :class:`~torch.utils._python_dispatch.TorchDispatchMode` sees the result of
every operation (no path point, gradient, sum or factor is float64, even on the host), and
a :class:`~torch.overrides.TorchFunctionMode` follows the data flow from the input and the
model (nothing computed from them is float64 unless it was moved to the host first).
"""

from __future__ import annotations

import weakref
from typing import Any

import pytest
import torch
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

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


class _OnTheDevice(TorchFunctionMode):
    """Data flow from the input and the model: what would live on their device.

    A tensor computed from a tensor on the device is on the device, unless it was moved to
    the host (``.cpu()``, ``.to("cpu")``); on the CPU those return the tensor itself, so
    here they return a copy, as on a real device. Records every float64 tensor on it.
    """

    def __init__(self, roots: list[Tensor]) -> None:
        super().__init__()
        self.device: dict[int, weakref.ref[Tensor]] = {}
        self.float64: list[tuple[str, tuple[int, ...]]] = []
        for tensor in roots:
            self._mark(tensor)

    def _mark(self, tensor: Tensor) -> None:
        self.device[id(tensor)] = weakref.ref(tensor)

    def _marked(self, tensor: Tensor) -> bool:
        ref = self.device.get(id(tensor))
        return ref is not None and ref() is tensor

    @staticmethod
    def _to_host(func: Any, args: Any, kwargs: dict[str, Any]) -> bool:
        name = getattr(func, "__name__", "")
        if name == "cpu":
            return True
        if name != "to":
            return False
        device = kwargs.get("device")
        for arg in args[1:]:
            if isinstance(arg, (str, torch.device)):
                device = arg
        return device is not None and torch.device(device).type == "cpu"

    def __torch_function__(self, func: Any, types: Any, args: Any = (),
                           kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if self._to_host(func, args, kwargs):
            return out.clone() if out is args[0] else out
        flat, _ = tree_flatten((args, kwargs))
        if any(isinstance(t, Tensor) and self._marked(t) for t in flat):
            for tensor in tree_flatten(out)[0]:
                if isinstance(tensor, Tensor):
                    self._mark(tensor)
                    if tensor.dtype == torch.float64:
                        self.float64.append((getattr(func, "__name__", str(func)),
                                             tuple(tensor.shape)))
        return out


@pytest.mark.parametrize("options", [
    dict(), dict(schedule="linear"), dict(schedule="sequential", method="riemann_middle"),
    dict(map_tolerance=0.1, tolerance=0.01), dict(schedule="energy", form="averaged"),
])
def test_no_float64_tensor_is_made_on_the_inputs_device(options: dict[str, Any]) -> None:
    # Captum's MPS complaint (captum#1240): MPS has no float64. The schedules and the
    # quadrature keep their float64 bookkeeping on the host.
    model = _model()
    x = torch.rand(2, 3, 8, 8)
    with _OnTheDevice([x, *model.parameters()]) as record:
        RankIntegratedGradients(model).attribute_with_ranks(x, target=1, n_steps=8, **options)
        LayerRankIntegratedGradients(model, model[0]).attribute_with_ranks(
            x, target=1, n_steps=8, **options)
        RankIntegratedGradients(model).exact_ranks(x, target=1)
        RankIntegratedGradients(lambda flat: model(flat.reshape(-1, 3, 8, 8))).attribute(
            x.flatten(1), target=1)  # feature vectors
    assert record.float64 == []


def test_the_recorder_sees_a_float64_made_on_the_device() -> None:
    x = torch.rand(2, 3)
    with _OnTheDevice([x]) as record:
        (x * 2).double()
        x.cpu().double()  # on the host: fine
    assert record.float64 == [("double", (2, 3))]
