"""Tests of captum_rank.visualization.rank_path: plots of rank paths and their scores.

Headless (Agg). The curves are read back from the axes and compared with the
:class:`~captum_rank.rank_path.RankPathResult` they were drawn from.
"""

from __future__ import annotations

from collections.abc import Iterator

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from matplotlib import pyplot as plt
from matplotlib.axes import Axes

from captum_rank import visualization as viz
from captum_rank.checks import UserInputError, UserTypeError
from captum_rank.rank_path import RankPathResult, rank_path

H, W = 8, 10


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


def _ydata(ax: Axes, index: int) -> np.ndarray:
    return np.asarray(ax.get_lines()[index].get_ydata(), dtype=float)


def _xdata(ax: Axes, index: int) -> np.ndarray:
    return np.asarray(ax.get_lines()[index].get_xdata(), dtype=float)


@pytest.mark.parametrize(
    "images",
    [
        np.random.default_rng(8).random((4, 1, H, W)),
        torch.rand(4, 3, H, W),
        np.random.default_rng(9).random((4, H, W, 3)) * 255,
        np.random.default_rng(10).random((4, H, W)),
        [torch.rand(H, W), np.zeros((H, W)), np.ones((H, W, 1)), torch.zeros(1, H, W)],
    ],
)
def test_rank_path_arrays_layouts(images: object) -> None:
    _fig, axes = viz.plot_rank_path_arrays(images, [0.1, 0.2, 0.3, 0.4], [0, 1, 2, 8],
                                          use_pyplot=False)
    assert len(axes) == 5
    assert axes[1].get_title().startswith("k = 1")
    assert "0.2" in axes[1].get_title()


def test_rank_path_arrays_curve_and_errors() -> None:
    images = np.zeros((3, H, W))  # constant images: no crash
    _, axes = viz.plot_rank_path_arrays(images, [0, 0, 0], [0, 4, 8], curve_ranks=range(9),
                                        curve_scores=np.zeros(9), use_pyplot=False)
    assert len(_xdata(axes[-1], 0)) == 9
    with pytest.raises(ValueError, match="same length"):
        viz.plot_rank_path_arrays(images, [0, 1], [0, 4, 8], use_pyplot=False)
    with pytest.raises(ValueError, match="curve_scores"):
        viz.plot_rank_path_arrays(images, [0, 0, 0], [0, 4, 8], curve_ranks=[0, 1],
                                  use_pyplot=False)
    with pytest.raises(ValueError, match="images"):
        viz.plot_rank_path_arrays(np.zeros((3, 2, 2, 2, 2)), [0, 0, 0], [0, 1, 2],
                                  use_pyplot=False)
    with pytest.raises(ValueError, match="value_range"):
        viz.plot_rank_path_arrays(images, [0, 0, 0], [0, 4, 8], value_range=(1, 0),
                                  use_pyplot=False)


def test_default_path_ranks() -> None:
    for r in (1, 2, 7, 8, 28, 224):
        ranks = viz.default_path_ranks(r)
        assert ranks[0] == 0 and ranks[-1] == r and ranks == sorted(set(ranks))
        assert len(ranks) <= 8
    with pytest.raises(ValueError, match="r"):
        viz.default_path_ranks(0)


def _linear_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(H * W, 5))


def _path() -> RankPathResult:
    return rank_path(_linear_model(), torch.rand(1, H, W), target=2, ranks=[0, 3, 8])


def test_rank_path_plot_draws_the_result() -> None:
    path = _path()
    _, axes = viz.plot_rank_path(path, score="logit", use_pyplot=False)
    assert len(axes) == 4
    np.testing.assert_allclose(_ydata(axes[-1], 1), path.scores("logit"))  # the markers
    np.testing.assert_allclose(_xdata(axes[-1], 1), path.ranks)
    np.testing.assert_array_equal(_xdata(axes[-1], 0), np.arange(H + 1))  # the curve
    np.testing.assert_allclose(_ydata(axes[-1], 0), path.curve_scores("logit"))
    fig, axes = viz.plot_rank_path(path, class_names=list("abcde"), use_pyplot=False)
    probs = _ydata(axes[-1], 0)
    assert np.all((probs >= 0) & (probs <= 1))
    assert fig.get_suptitle() == "rank path, target c"
    assert axes[-1].get_ylabel() == "softmax probability of c"


def test_rank_path_plot_runs_no_model() -> None:
    path = _path()
    # Nothing in the result can run a model; plotting it twice gives the same figure data.
    _, a = viz.plot_rank_path(path, use_pyplot=False)
    _, b = viz.plot_rank_path(RankPathResult.from_json(path.to_json()), use_pyplot=False)
    np.testing.assert_allclose(_ydata(a[-1], 0), _ydata(b[-1], 0))


def test_rank_path_plot_errors() -> None:
    path = _path()
    with pytest.raises(UserInputError, match="`score`"):
        viz.plot_rank_path(path, score="margin", use_pyplot=False)
    with pytest.raises(UserInputError, match="`class_names` has 2 names"):
        viz.plot_rank_path(path, class_names=["a", "b"], use_pyplot=False)
    with pytest.raises(UserTypeError, match="`class_names`"):
        viz.plot_rank_path(path, class_names="abcde", use_pyplot=False)
    with pytest.raises(UserTypeError, match="RankPathResult"):
        viz.plot_rank_path(np.zeros((3, H, W)), use_pyplot=False)


def test_rank_path_plot_names_rank_path_when_given_a_model() -> None:
    # The old first argument was a model; plots run none, so the error names the fix.
    model = _linear_model()
    for call in (lambda: viz.plot_rank_path(model, use_pyplot=False),
                 lambda: viz.plot_rank_path(model, score="margin", use_pyplot=False)):
        with pytest.raises(UserTypeError, match=r"captum_rank\.rank_path\.rank_path\(model, image"):
            call()
