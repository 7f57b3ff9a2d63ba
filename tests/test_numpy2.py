"""numpy 1.24 to 2.x: numpy values wherever Captum takes Python numbers.

numpy 2 changed the scalar repr (``np.int64(3)``, not ``3``) and the promotion rules
(NEP 50); the checks turn numpy scalars into Python numbers, so messages and results do
not depend on the numpy major.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from captum.attr import IntegratedGradients
from torch import nn

from captum_rank import RankIntegratedGradients
from captum_rank.checks import UserInputError


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 3), nn.Tanh())


def test_numpy_scalars_and_arrays_are_python_numbers() -> None:
    model = _model()
    x = torch.rand(3, 1, 4, 4)
    expected = IntegratedGradients(model).attribute(x, baselines=0.5, target=[2, 0, 1],
                                                    n_steps=8, internal_batch_size=6)
    ours = RankIntegratedGradients(model).attribute(
        x, baselines=np.float32(0.5), target=np.array([2, 0, 1]), n_steps=np.int64(8),
        internal_batch_size=np.int32(6), schedule="linear")
    assert ours.dtype == torch.float32
    assert torch.allclose(ours, expected, atol=1e-6)


def test_messages_show_numbers_not_numpy_reprs() -> None:
    x = torch.rand(3, 1, 4, 4)
    with pytest.raises(UserInputError) as caught:
        RankIntegratedGradients(_model()).attribute(x, target=np.int64(7))
    assert "np.int64" not in str(caught.value) and "7" in str(caught.value)
    with pytest.raises(UserInputError) as caught:
        RankIntegratedGradients(_model()).attribute(x, target=0, n_steps=np.int64(0))
    assert "np.int64" not in str(caught.value)


def test_the_numpy_in_use_is_one_the_package_declares() -> None:
    major = int(np.__version__.split(".")[0])
    assert major in (1, 2)
