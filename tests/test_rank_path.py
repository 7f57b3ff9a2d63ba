"""Tests for captum_rank.rank_path: path images against torch.linalg.svd, model calls counted."""

from __future__ import annotations

import json
import math
import warnings
from typing import Any

import numpy as np
import pytest
import torch
from helpers import CallCounter
from torch import Tensor, nn

from captum_rank.checks import UserInputError, UserTypeError
from captum_rank.rank_path import RankPathResult, default_path_ranks, rank_path

C, H, W, K = 2, 6, 9, 4


class Smooth(nn.Module):
    """A small smooth model."""

    def __init__(self, channels: int = C, classes: int = K) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.fc = nn.Linear(channels * H * W, classes)

    def forward(self, x: Tensor) -> Tensor:
        return torch.tanh(self.fc(x.flatten(1))) * 3.0


def counting(channels: int = C) -> CallCounter:
    """The smooth model, counting its calls and rows."""
    return CallCounter(Smooth(channels))


def _oracle(x: Tensor, base: Tensor, k: float) -> Tensor:
    """x' + rank-k part of x - x', per channel, from torch.linalg.svd in float64."""
    U, S, Vh = torch.linalg.svd((x - base).double(), full_matrices=False)
    weights = (k - torch.arange(S.shape[-1], dtype=torch.float64)).clamp(0, 1)
    return base.double() + (U * (S * weights).unsqueeze(-2)) @ Vh


def test_images_are_low_rank_reconstructions_and_outputs_the_model() -> None:
    torch.manual_seed(1)
    model = counting()
    x, base = torch.rand(C, H, W), torch.rand(C, H, W)
    path = rank_path(model, x, ranks=[0, 1, 3, 6], baselines=base, target=1,
                     curve_ranks=[0.0, 2.5, 6.0])
    assert path.r == min(H, W) == 6
    assert path.images.shape == (4, C, H, W)
    for image, k in zip(path.images, path.ranks, strict=True):
        np.testing.assert_allclose(image, _oracle(x, base, k).numpy(), atol=1e-5)
    np.testing.assert_allclose(path.images[0], base.numpy(), atol=1e-6)  # k = 0: baseline
    np.testing.assert_allclose(path.images[-1], x.numpy(), atol=1e-5)  # k = r: input
    with torch.no_grad():
        direct = model(torch.from_numpy(path.images)).double().numpy()
        curve = model(torch.stack([_oracle(x, base, k).float() for k in (0.0, 2.5, 6.0)]))
        own = model(x.unsqueeze(0))[0]
    np.testing.assert_allclose(path.outputs, direct, atol=1e-5)
    np.testing.assert_allclose(path.curve_outputs, curve.double().numpy(), atol=1e-5)
    np.testing.assert_allclose(path.input_outputs, own.double().numpy(), atol=1e-6)
    # A fractional rank is halfway between its neighbours (the kernel's mask).
    half = 0.5 * (_oracle(x, base, 2) + _oracle(x, base, 3))
    np.testing.assert_allclose(_oracle(x, base, 2.5), half, atol=1e-12)
    # Scores: the target's logit, and its softmax probability, of the outputs it holds
    # (compared with `direct` above: float32 sums in another batch differ in the last bit).
    np.testing.assert_allclose(path.scores("logit"), path.outputs[:, 1])
    soft = torch.from_numpy(path.outputs).softmax(dim=1)[:, 1].numpy()
    np.testing.assert_allclose(path.scores("prob"), soft, rtol=1e-12)
    np.testing.assert_allclose(path.curve_scores("logit"), path.curve_outputs[:, 1])


@pytest.mark.parametrize(("batch_size", "calls"), [(64, 1), (3, 3), (1, 8)])
def test_each_point_runs_once_in_batches(batch_size: int, calls: int) -> None:
    model = counting()
    # Kept ranks and curve ranks overlap: 7 distinct ranks, plus the input itself.
    rank_path(model, torch.rand(C, H, W), ranks=[0, 2, 6], curve_ranks=range(7),
              batch_size=batch_size)
    assert model.rows == 8
    assert model.calls == calls == math.ceil(8 / batch_size)
    assert max(model.rows_per_call) <= batch_size


def test_default_target_is_the_prediction_and_defaults() -> None:
    model = counting()
    x = torch.rand(C, H, W)
    path = rank_path(model, x)
    with torch.no_grad():
        assert path.target == int(model(x.unsqueeze(0)).argmax()) == path.predicted
    assert path.meta["target"] == "predicted"
    assert [int(k) for k in path.ranks] == default_path_ranks(6)
    assert path.curve_ranks == [float(k) for k in range(7)]
    assert rank_path(model, x, target=np.int64(3)).meta["target"] == "given"
    assert rank_path(model, x, target=torch.tensor(2)).target == 2


def test_layouts_dtypes_and_scalar_baselines() -> None:
    model = counting(channels=3)
    chw = torch.rand(3, H, W)
    hwc = chw.permute(1, 2, 0).double().numpy()  # float64 numpy meets float32 weights
    a = rank_path(model, chw, ranks=[0, 6], baselines=0.5)
    b = rank_path(model, hwc, ranks=[0, 6], baselines=np.float64(0.5))
    np.testing.assert_allclose(a.outputs, b.outputs, atol=1e-5)
    assert b.images.dtype == np.float32
    np.testing.assert_allclose(a.images[0], 0.5, atol=1e-6)
    grey = rank_path(counting(channels=1), torch.rand(H, W), ranks=[6])
    assert grey.images.shape == (1, 1, H, W)
    batch_of_one = rank_path(counting(channels=1), torch.rand(1, 1, H, W), ranks=[6])
    assert batch_of_one.images.shape == (1, 1, H, W)


def test_json_round_trip() -> None:
    path = rank_path(counting(), torch.rand(C, H, W), ranks=[0, 3])
    data = json.loads(path.to_json())
    assert data["kind"] == "rank-path" and len(data["probabilities"]) == 2
    back = RankPathResult.from_json(path.to_json())
    np.testing.assert_allclose(back.images, path.images)
    np.testing.assert_array_equal(back.outputs, path.outputs)
    assert (back.ranks, back.target, back.r, back.meta) == (
        path.ranks, path.target, path.r, path.meta)
    with pytest.raises(UserInputError, match="rank-path"):
        RankPathResult.from_json('{"kind": "rank-accuracy"}')


class _Bad(nn.Module):
    def __init__(self, out: Any) -> None:
        super().__init__()
        self.out = out

    def forward(self, x: Tensor) -> Any:
        return self.out(x)


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"ranks": [0, 7]}, UserInputError, "`ranks[1]`"),
        ({"ranks": [0.5]}, UserTypeError, "`ranks[0]`"),
        ({"ranks": 3}, UserTypeError, "`ranks`"),
        ({"ranks": []}, UserInputError, "`ranks` is empty"),
        ({"curve_ranks": [-1.0]}, UserInputError, "`curve_ranks[0]`"),
        ({"target": 4}, UserInputError, "`target` 4 is out of range: model returns 4 outputs"),
        ({"target": -1}, UserInputError, "`target` -1 is negative"),
        ({"target": 1.0}, UserTypeError, "`target` has type float"),
        ({"target": torch.tensor([1, 2])}, UserInputError, "`target` has 2 entries but `image`"),
        ({"target": (1,)}, UserTypeError, "`target` is (1,), a tuple index"),
        ({"baselines": torch.zeros(C, H, W + 1)}, UserInputError, "`baselines` has shape"),
        ({"baselines": True}, UserTypeError, "`baselines`"),
        ({"batch_size": 0}, UserInputError, "`batch_size`"),
        ({"layout": "WHC"}, UserInputError, "`layout`"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs: dict[str, Any], error: type,
                                         words: str) -> None:
    with pytest.raises(error) as info:
        rank_path(counting(), torch.rand(C, H, W), **kwargs)
    assert words in str(info.value)


def test_bad_types_fail_before_any_model_call() -> None:
    model = counting()
    for kwargs in ({"target": "cat"}, {"batch_size": 2.0}, {"ranks": [0, 99]}):
        with pytest.raises(UserInputError):
            rank_path(model, torch.rand(C, H, W), **kwargs)
    assert model.calls == 0


@pytest.mark.parametrize(
    ("out", "words"),
    [
        (lambda x: x.sum(), "(N, classes)"),
        (lambda x: x.flatten(1)[:1, :3], "(N, classes)"),
        (lambda x: x.flatten(1).numpy(), "ndarray"),
    ],
)
def test_bad_model_outputs(out: Any, words: str) -> None:
    with pytest.raises(UserInputError) as info:
        rank_path(_Bad(out), torch.rand(C, H, W), ranks=[0, 6], curve_ranks=[0, 3, 6])
    assert words in str(info.value)


def test_non_finite_outputs_say_which_points() -> None:
    torch.manual_seed(2)
    x = torch.rand(C, H, W)

    def nan_at_the_image(xs: Tensor) -> Tensor:
        at_x = ((xs - x).flatten(1).abs().amax(1, keepdim=True) < 1e-4).float()
        return torch.zeros(xs.shape[0], 2) + at_x / (1 - at_x)  # inf at the image

    with pytest.raises(UserInputError) as info:
        rank_path(_Bad(nan_at_the_image), x, ranks=[0, 6], curve_ranks=[0, 3, 6])
    assert "NaN or inf on the path points ['input', 'k=6']" in str(info.value)


def test_bad_images() -> None:
    with pytest.raises(UserTypeError, match="`image`"):
        rank_path(counting(), [[1.0, 2.0]])
    with pytest.raises(UserInputError, match="`image` has shape"):
        rank_path(counting(), torch.rand(2, 2, C, H, W))
    with pytest.raises(UserInputError, match="NaN"):
        rank_path(counting(), torch.full((C, H, W), math.nan))
    with pytest.raises(UserTypeError, match="`model`"):
        rank_path("model", torch.rand(C, H, W))  # type: ignore[arg-type]


def test_training_mode_with_dropout_warns() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(C * H * W, K))
    with pytest.warns(UserWarning, match="model.eval"):
        rank_path(model, torch.rand(C, H, W), ranks=[0])
    model.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rank_path(model, torch.rand(C, H, W), ranks=[0])


def test_default_path_ranks_properties() -> None:
    for r in (1, 2, 7, 8, 28, 224):
        ranks = default_path_ranks(r)
        assert ranks[0] == 0 and ranks[-1] == r and ranks == sorted(set(ranks))
        assert len(ranks) <= 8
    assert default_path_ranks(np.int64(28), max_images=np.int64(3)) == [0, 1, 28]
    with pytest.raises(UserInputError, match="`r`"):
        default_path_ranks(0)
    with pytest.raises(UserInputError, match="`max_images`"):
        default_path_ranks(28, 1)
