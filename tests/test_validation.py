"""Bad input to RankIntegratedGradients: captum_rank/_validation.py and its callers."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import Tensor, nn

from captum_rank import RankIntegratedGradients

GOOD = torch.rand(2, 1, 12, 12)
NAN = GOOD.clone()
NAN[0, 0, 3, 3] = float("nan")
INF = GOOD.clone()
INF[1, 0, 0, 0] = float("inf")

CASES: list[tuple[str, dict[str, Any], type, str]] = [
    ("1d input", dict(inputs=torch.rand(2, 12)), ValueError, "two matrix dimensions"),
    ("no batch", dict(inputs=torch.rand(12, 12)), ValueError, "batch dimension"),
    ("int dtype", dict(inputs=torch.ones(2, 1, 4, 4, dtype=torch.int64)), TypeError, "float"),
    ("nan input", dict(inputs=NAN), ValueError, "NaN or inf"),
    ("inf input", dict(inputs=INF), ValueError, "NaN or inf"),
    ("empty batch", dict(inputs=torch.rand(0, 1, 12, 12)), ValueError, "empty batch"),
    ("not a tensor", dict(inputs=[[1.0]]), TypeError, "inputs"),
    ("baseline shape", dict(baselines=torch.zeros(2, 1, 11, 12)), ValueError, "baselines"),
    ("baseline batch", dict(baselines=torch.zeros(3, 1, 12, 12)), ValueError, "baselines"),
    ("baseline count", dict(baselines=(0.0, 0.0)), ValueError, "baselines"),
    ("baseline nan", dict(baselines=float("nan")), ValueError, "baselines"),
    ("baseline type", dict(baselines="zero"), TypeError, "baselines"),
    ("n_steps zero", dict(n_steps=0), ValueError, "n_steps"),
    ("n_steps float", dict(n_steps=2.0), TypeError, "n_steps"),
    ("riemann one step", dict(n_steps=1, method="riemann_left"), ValueError, "n_steps"),
    ("unknown method", dict(method="simpson"), ValueError, "method"),
    ("unknown schedule", dict(schedule="diagonal"), ValueError, "schedule"),
    ("unknown form", dict(form="mean"), ValueError, "form"),
    ("internal batch zero", dict(internal_batch_size=0), ValueError, "internal_batch_size"),
    ("internal batch float", dict(internal_batch_size=2.5), TypeError, "internal_batch_size"),
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
    with pytest.raises(error, match=match):
        getattr(rig, entry)(**arguments)


def test_mismatched_tuple_batches(rig: RankIntegratedGradients) -> None:
    with pytest.raises(ValueError, match="batch dimension"):
        rig.attribute((torch.rand(2, 1, 4, 4), torch.rand(3, 1, 4, 4)), target=0)


def test_forward_func_must_be_callable() -> None:
    with pytest.raises(TypeError, match="forward_func"):
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
