"""Bad input to RankIntegratedGradients: captum_rank/_validation.py and its callers."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from captum_rank import RankIntegratedGradients
from captum_rank._validation import check_baselines, check_inputs, check_internal_batch_size
from captum_rank.checks import UserInputError, UserTypeError

GOOD = torch.rand(2, 1, 12, 12)
NAN = GOOD.clone()
NAN[0, 0, 3, 3] = float("nan")
INF = GOOD.clone()
INF[1, 0, 0, 0] = float("inf")

CASES: list[tuple[str, dict[str, Any], type, str]] = [
    ("int dtype", dict(inputs=torch.ones(2, 1, 4, 4, dtype=torch.int64)), UserTypeError, "float"),
    ("nan input", dict(inputs=NAN), UserInputError, "NaN or inf"),
    ("inf input", dict(inputs=INF), UserInputError, "NaN or inf"),
    ("empty batch", dict(inputs=torch.rand(0, 1, 12, 12)), UserInputError, "empty batch"),
    ("not a tensor", dict(inputs=[[1.0]]), UserTypeError, "inputs"),
    ("baseline shape", dict(baselines=torch.zeros(2, 1, 11, 12)), UserInputError, "baselines"),
    ("baseline batch", dict(baselines=torch.zeros(3, 1, 12, 12)), UserInputError, "baselines"),
    ("baseline count", dict(baselines=(0.0, 0.0)), UserInputError, "baselines"),
    ("baseline nan", dict(baselines=float("nan")), UserInputError, "baselines"),
    ("baseline type", dict(baselines="zero"), UserTypeError, "baselines"),
    ("n_steps zero", dict(n_steps=0), UserInputError, "n_steps"),
    ("n_steps float", dict(n_steps=2.0), UserTypeError, "n_steps"),
    ("riemann one step", dict(n_steps=1, method="riemann_left"), UserInputError, "n_steps"),
    ("unknown method", dict(method="simpson"), UserInputError, "method"),
    ("unknown schedule", dict(schedule="diagonal"), UserInputError, "schedule"),
    ("unknown form", dict(form="mean"), UserInputError, "form"),
    ("internal batch zero", dict(internal_batch_size=0), UserInputError, "internal_batch_size"),
    ("internal batch float", dict(internal_batch_size=2.5), UserTypeError, "internal_batch_size"),
]


@pytest.fixture
def rig() -> RankIntegratedGradients:
    torch.manual_seed(0)
    return RankIntegratedGradients(nn.Sequential(nn.Flatten(), nn.Linear(144, 3)))


@pytest.mark.parametrize("name,overrides,error,match", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("entry", ["attribute", "attribute_ranks", "attribute_with_ranks"])
def test_bad_input_raises(rig: RankIntegratedGradients, name: str, overrides: dict[str, Any],
                          error: type, match: str, entry: str) -> None:
    arguments: dict[str, Any] = dict(inputs=GOOD, target=0, n_steps=4)
    arguments.update(overrides)
    with pytest.raises(error, match=match) as caught:
        getattr(rig, entry)(**arguments)
    # Captum asserts on bad input, so code written against it catches AssertionError.
    assert isinstance(caught.value, AssertionError)


def test_mismatched_tuple_batches(rig: RankIntegratedGradients) -> None:
    with pytest.raises(UserInputError, match="batch dimension"):
        rig.attribute((torch.rand(2, 1, 4, 4), torch.rand(3, 1, 4, 4)), target=0)


def test_forward_func_must_be_callable() -> None:
    with pytest.raises(UserTypeError, match="forward_func"):
        RankIntegratedGradients(3)  # type: ignore[arg-type]


def test_baselines_broadcast_like_captum(rig: RankIntegratedGradients) -> None:
    one = rig.attribute(GOOD, baselines=torch.full((1, 1, 12, 12), 0.5), target=0, n_steps=4)
    many = rig.attribute(GOOD, baselines=torch.full((2, 1, 12, 12), 0.5), target=0, n_steps=4)
    scalar = rig.attribute(GOOD, baselines=0.5, target=0, n_steps=4)
    assert torch.allclose(one, many) and torch.allclose(one, scalar)


def test_nothing_silently_returns_nan(rig: RankIntegratedGradients) -> None:
    # An input far outside [0, 1] is legal and must still give finite numbers.
    big: Tensor = torch.rand(2, 1, 12, 12) * 1e6
    assert torch.isfinite(rig.attribute(big, target=1, n_steps=4)).all()


def test_numpy_numbers_are_canonicalised() -> None:
    assert check_internal_batch_size(np.int64(4)) == 4
    baseline = check_baselines((np.float32(0.5),), (GOOD,))[0]
    assert baseline.dtype == GOOD.dtype and float(baseline) == 0.5
    with pytest.raises(UserTypeError, match="internal_batch_size"):
        check_internal_batch_size(np.float64(4.0))


@pytest.mark.parametrize("bad", [torch.empty(2, 1, 12, 12, device="meta"),
                                 (torch.empty(1, 1, 12, 12, device="meta"),)])
def test_meta_tensors_are_refused_before_touching_values(bad: Any) -> None:
    inputs = bad if isinstance(bad, Tensor) else GOOD
    with pytest.raises(UserInputError, match="meta device"):
        checked = check_inputs((inputs,))
        check_baselines(bad if isinstance(bad, tuple) else (0.0,), checked)
