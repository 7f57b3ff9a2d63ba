"""Issue 17, point 4 (metrics): every bad argument of a public metric is a clear error.

Each case calls a public function of :mod:`captum_rank.metrics` with one bad argument and
checks the exception type and that the message names the argument. Before, ``target=2.7``
was scored as class 2, ``diffid(..., -1)`` returned 0, an out-of-range target raised
torch's ``IndexError``, ``road(noise=-1)`` ran, ``random_logit`` drew classes past
``num_classes``, and numpy scalars were refused as ``fill`` and ``num_classes``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from captum_rank.checks import UserInputError, UserTypeError
from captum_rank.metrics import (
    cascading_randomization,
    diffid,
    diffid_scores,
    faithfulness_correlation,
    feature_order,
    insertion_deletion,
    quantus_explain,
    random_logit,
    rank_deletion,
    road,
    singular_values,
    sobel_map,
    verdict,
)
from captum_rank.metrics.rivals import blur_ig, gradient_shap, guided_ig, integrated_gradients

CLASSES = 3
X = torch.rand(2, 1, 6, 6, generator=torch.Generator().manual_seed(0))
A = torch.rand(2, 1, 6, 6, generator=torch.Generator().manual_seed(1))


def model(classes: int = CLASSES) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(36, classes)).eval()


M = model()


def _insdel(**kw: Any) -> Any:
    args: dict[str, Any] = dict(target=0, steps=2)
    args.update(kw)
    return insertion_deletion(args.pop("forward_func", M), args.pop("inputs", X), A, **args)


def _diffid(**kw: Any) -> Any:
    args: dict[str, Any] = dict(target=0)
    args.update(kw)
    return diffid(args.pop("forward_func", M), X, A, **args)


def _road(**kw: Any) -> Any:
    args: dict[str, Any] = dict(target=0, percentages=[50])
    args.update(kw)
    return road(M, X, A, **args)


def _fc(**kw: Any) -> Any:
    args: dict[str, Any] = dict(target=0, nr_runs=3, subset_size=4)
    args.update(kw)
    return faithfulness_correlation(args.pop("model", M), X, A, **args)


def _rank(**kw: Any) -> Any:
    args: dict[str, Any] = dict(target=0, counts=[0, 3])
    args.update(kw)
    return rank_deletion(M, X, singular_values(X), **args)


def _logit(**kw: Any) -> Any:
    args: dict[str, Any] = dict(target=0, num_classes=CLASSES)
    args.update(kw)
    return random_logit(M, args.pop("explain", sobel_map), X, **args)


def _cascade(**kw: Any) -> Any:
    args: dict[str, Any] = dict(target=0)
    args.update(kw)
    return cascading_randomization(M, args.pop("explain", sobel_map), args.pop("inputs", X),
                                   **args)


def _wrong_output(x: Tensor) -> Any:
    return (M(x),)


# (case, call, error type, text the message must contain)
CASES: list[tuple[str, Callable[[], Any], type, str]] = [
    # target: type, sign, range, presence, for every metric that takes one
    ("insdel target 2.7", lambda: _insdel(target=2.7), UserTypeError, "`target` has type float"),
    ("insdel target bool", lambda: _insdel(target=True), UserTypeError, "`target`"),
    ("insdel target str", lambda: _insdel(target="cat"), UserTypeError, "`target` has type str"),
    ("insdel target float tensor", lambda: _insdel(target=torch.tensor([0.0, 1.0])),
     UserTypeError, "`target` is a Tensor of dtype torch.float32"),
    ("insdel target tuple", lambda: _insdel(target=(0,)), UserTypeError, "a tuple index"),
    ("insdel target missing", lambda: _insdel(target=None), UserInputError,
     "`target` is required"),
    ("insdel target -1", lambda: _insdel(target=-1), UserInputError, "`target` -1 is negative"),
    ("insdel target 3", lambda: _insdel(target=3), UserInputError,
     "`target` 3 is out of range: forward_func returns 3 outputs"),
    ("insdel target output score", lambda: _insdel(target=3, score="output"), UserInputError,
     "`target` 3 is out of range"),
    ("insdel target length", lambda: _insdel(target=[0, 1, 2]), UserInputError,
     "`target` has 3 entries but `inputs` has 2"),
    ("diffid target -1", lambda: _diffid(target=-1), UserInputError, "`target` -1 is negative"),
    ("diffid target per example", lambda: _diffid(target=[0, -2]), UserInputError,
     "`target` entry -2 (example 1) is negative"),
    ("diffid target 3 (accuracy)", lambda: _diffid(target=3), UserInputError,
     "`target` 3 is out of range"),
    ("diffid target [0, 7]", lambda: _diffid(target=[0, 7]), UserInputError,
     "`target` entry 7 (example 1) is out of range"),
    ("diffid target 2.7", lambda: _diffid(target=2.7), UserTypeError, "`target`"),
    ("road target 5", lambda: _road(target=5), UserInputError, "`target` 5 is out of range"),
    ("road target 2.7", lambda: _road(target=2.7), UserTypeError, "`target`"),
    ("fc target 3", lambda: _fc(target=3), UserInputError,
     "`target` 3 is out of range: model returns 3"),
    ("fc target -1", lambda: _fc(target=-1), UserInputError, "`target` -1 is negative"),
    ("rank target 3", lambda: _rank(target=3), UserInputError, "`target` 3 is out of range"),
    ("rank target 2.7", lambda: _rank(target=2.7), UserTypeError, "`target`"),
    ("cascade target 4", lambda: _cascade(target=4), UserInputError,
     "`target` 4 is out of range: model returns 3"),
    ("cascade target 2.7", lambda: _cascade(target=2.7), UserTypeError, "`target`"),
    ("logit target 3", lambda: _logit(target=[0, 3]), UserInputError,
     "`target` entry 3 (example 1) is out of range"),
    ("logit target not below num_classes", lambda: _logit(target=2, num_classes=2),
     UserInputError, "`target` 2 (example 0) is not below `num_classes` 2"),
    # numbers: fill, noise, seeds, fractions, counts, sizes
    ("insdel fill bool", lambda: _insdel(fill=True), UserTypeError, "`fill`"),
    ("insdel fill nan", lambda: _insdel(fill=float("nan")), UserInputError,
     "`fill` must be finite"),
    ("insdel fill name", lambda: _insdel(fill="grey"), UserInputError, "`fill` must be one of"),
    ("insdel fill tensor", lambda: _insdel(fill=torch.tensor(0.0)), UserTypeError, "`fill`"),
    ("insdel steps float", lambda: _insdel(steps=2.0), UserTypeError, "`steps`"),
    ("insdel generator", lambda: _insdel(generator=0), UserTypeError, "`generator`"),
    ("insdel abs int", lambda: _insdel(abs=1), UserTypeError, "`abs`"),
    ("insdel score", lambda: _insdel(score="logit"), UserInputError, "`score`"),
    ("insdel internal_batch_size", lambda: _insdel(internal_batch_size=0), UserInputError,
     "`internal_batch_size`"),
    ("insdel additional_forward_args rows",
     lambda: _insdel(forward_func=lambda x, w: M(x) * w, additional_forward_args=torch.ones(3, 1)),
     UserInputError, "`additional_forward_args` has 3 rows"),
    ("insdel forward_func not callable", lambda: _insdel(forward_func="model"), UserTypeError,
     "`forward_func` must be callable"),
    ("insdel forward_func returns a tuple", lambda: _insdel(forward_func=_wrong_output),
     UserInputError, "`forward_func` must return a tensor"),
    ("insdel float64 inputs, float32 model", lambda: _insdel(inputs=X.double()), UserTypeError,
     "`inputs` have dtype torch.float64"),
    ("diffid ratios number", lambda: _diffid(ratios=0.5), UserTypeError, "`ratios` must be a list"),
    ("diffid ratios 1", lambda: _diffid(ratios=[0.5, 1.0]), UserInputError, "`ratios`"),
    ("diffid ratios 0", lambda: _diffid(ratios=[0.0]), UserInputError, "`ratios[0]`"),
    ("diffid_scores scores str", lambda: diffid_scores(M, X, A, 0, scores="accuracy"),
     UserTypeError, "`scores` must be a list"),
    ("road noise -1", lambda: _road(noise=-1), UserInputError, "`noise` must be in [0, inf)"),
    ("road noise nan", lambda: _road(noise=float("nan")), UserInputError, "`noise`"),
    ("road seed -1", lambda: _road(seed=-1), UserInputError, "`seed`"),
    ("road seed 2**32", lambda: _road(seed=2**32), UserInputError, "`seed`"),
    ("road percentages number", lambda: _road(percentages=50), UserTypeError, "`percentages`"),
    ("road percentages 0", lambda: _road(percentages=[0]), UserInputError, "`percentages[0]`"),
    ("road percentages 100", lambda: _road(percentages=[20, 100]), UserInputError,
     "`percentages[1]`"),
    ("road percentages empty", lambda: _road(percentages=[]), UserInputError, "`percentages`"),
    ("road order", lambda: _road(order="random"), UserInputError, "`order`"),
    ("fc subset_size too large", lambda: _fc(subset_size=37), UserInputError,
     "`subset_size` must be an integer in [1, 36]"),
    ("fc nr_runs", lambda: _fc(nr_runs=0), UserInputError, "`nr_runs`"),
    ("fc seed", lambda: _fc(seed=-3), UserInputError, "`seed`"),
    ("fc model in training mode", lambda: _fc(model=model().train()), UserInputError,
     "training mode"),
    ("fc model not a module", lambda: _fc(model=lambda x: x), UserTypeError, "`model`"),
    ("fc baseline name", lambda: _fc(perturb_baseline="grey"), UserInputError,
     "`perturb_baseline` 'grey'"),
    ("fc baseline bool", lambda: _fc(perturb_baseline=True), UserTypeError,
     "`perturb_baseline`"),
    ("fc baseline nan", lambda: _fc(perturb_baseline=float("nan")), UserInputError,
     "`perturb_baseline` must be finite"),
    ("rank counts 2.7", lambda: _rank(counts=[0, 2.7]), UserTypeError, "`counts[1]`"),
    ("rank counts too many", lambda: _rank(counts=[0, 99]), UserInputError, "`counts[1]`"),
    ("rank counts number", lambda: _rank(counts=3), UserTypeError, "`counts`"),
    ("rank counts empty", lambda: _rank(counts=[]), UserInputError, "`counts` is empty"),
    ("rank mode", lambda: _rank(mode="both"), UserInputError, "`mode`"),
    ("logit num_classes float", lambda: _logit(num_classes=2.5), UserTypeError,
     "`num_classes`"),
    ("logit num_classes 1", lambda: _logit(num_classes=1), UserInputError, "`num_classes`"),
    ("logit num_classes past the model", lambda: _logit(num_classes=10), UserInputError,
     "`num_classes` 10 is more than the model's 3 outputs"),
    ("logit seed", lambda: _logit(seed=1.5), UserTypeError, "`seed`"),
    ("logit explain", lambda: _logit(explain="saliency"), UserTypeError, "`explain`"),
    ("cascade inputs 3-D", lambda: _cascade(inputs=X[:, 0]), UserInputError, "`inputs`"),
    ("cascade seed", lambda: _cascade(seed="0"), UserTypeError, "`seed`"),
    ("feature_order generator", lambda: feature_order(A, generator=1),  # type: ignore[arg-type]
     UserTypeError,
     "`generator`"),
    ("verdict threshold", lambda: verdict(_logit(), threshold=2), UserInputError, "`threshold`"),
    ("verdict curves", lambda: verdict([0.1]), UserTypeError, "`curves`"),  # type: ignore[arg-type]
    ("sobel_map 3-D", lambda: sobel_map(M, X[:, 0], torch.zeros(2)), UserInputError,
     "`inputs` must be floating images"),
    # the rivals' factories check their numbers when built, not at the first call
    ("integrated_gradients baseline",
     lambda: integrated_gradients(8, baseline="black"),  # type: ignore[arg-type]
     UserTypeError, "`baseline`"),
    ("gradient_shap seed", lambda: gradient_shap(8, seed=-1), UserInputError, "`seed`"),
    ("guided_ig fraction", lambda: guided_ig(8, fraction=2.0), UserInputError, "`fraction`"),
    ("guided_ig max_dist", lambda: guided_ig(8, max_dist=-0.1), UserInputError, "`max_dist`"),
    ("blur_ig max_sigma", lambda: blur_ig(8, max_sigma=0), UserInputError, "`max_sigma`"),
    ("blur_ig grad_step", lambda: blur_ig(8, grad_step=-1), UserInputError, "`grad_step`"),
    # the Quantus adapter: "False" is not False
    ("quantus_explain multiply_by_inputs str",
     lambda: quantus_explain(M, X.numpy(), np.array([0, 1]), multiply_by_inputs="False"),
     UserTypeError, "`multiply_by_inputs`"),
    ("quantus_explain targets float array",
     lambda: quantus_explain(M, X.numpy(), np.array([0.0, 1.7])),
     UserTypeError, "`target` is a ndarray of dtype float64"),
    ("quantus_explain targets -1", lambda: quantus_explain(M, X.numpy(), -1), UserInputError,
     "`target` -1 is negative"),
    ("quantus_explain reduce_axes int",
     lambda: quantus_explain(M, X.numpy(), np.array([0, 1]), reduce_axes=1),
     UserTypeError, "`reduce_axes`"),
]


@pytest.mark.parametrize(("call", "error", "text"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_bad_metric_argument_names_it(call: Callable[[], Any], error: type, text: str) -> None:
    with pytest.raises(error) as info:
        call()
    assert text in str(info.value)
    # Never torch's or numpy's own errors: the user's argument is named.
    assert isinstance(info.value, UserInputError)


def test_numpy_scalars_are_numbers() -> None:
    # fill, num_classes, target, steps and seeds as numpy scalars, as from an array.
    a = _insdel(fill=np.float64(0.5), steps=np.int64(2), target=np.int64(1))
    b = _insdel(fill=0.5, steps=2, target=1)
    assert torch.equal(a.deletion, b.deletion)
    assert _insdel(fill=np.int64(0)).fill == _insdel(fill=np.float32(0.0)).fill == "constant 0"
    assert _logit(num_classes=np.int64(3), seed=np.int64(1)).notes["classes"] == \
        _logit(num_classes=3, seed=1).notes["classes"]
    assert _road(noise=np.float32(0.0), seed=np.int64(1)).curves.shape == (2, 1)
    assert _rank(counts=np.array([0, 2, 6])).counts.tolist() == [0, 2, 6]
    assert _diffid(ratios=np.array([0.25, 0.5])).fractions.tolist() == [0.25, 0.5]
    assert torch.equal(_fc(perturb_baseline=np.float64(0.5)), _fc(perturb_baseline=0.5))


def test_valid_targets_in_every_form_agree() -> None:
    expected = _diffid(target=[1, 1], score="probability").difference()
    for target in (1, np.int64(1), torch.tensor(1), torch.tensor([1, 1]), np.array([1, 1]),
                   [np.int32(1), 1]):
        assert torch.equal(_diffid(target=target, score="probability").difference(), expected)


def test_a_model_in_training_mode_is_warned_about_at_the_users_line() -> None:
    dropout = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(36, CLASSES)).train()
    with pytest.warns(UserWarning, match=r"`forward_func` has dropout.*model\.eval\(\)") as info:
        _insdel(forward_func=dropout)
    # The warning points at this file, not inside the package.
    assert info[0].filename == __file__
    with pytest.warns(UserWarning, match=r"`model` has dropout"):
        cascading_randomization(dropout, sobel_map, X, 0)
    dropout.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _insdel(forward_func=dropout)


def test_checks_run_before_any_model_call() -> None:
    calls = []

    def counted(x: Tensor) -> Tensor:
        calls.append(len(x))
        return M(x)

    for bad in (dict(target=2.7), dict(fill="grey"), dict(steps=0), dict(target=-1)):
        with pytest.raises(UserInputError):
            _insdel(forward_func=counted, **bad)
    assert calls == []


# --- maps and inputs that were once scored silently ------------------------------------


def _small() -> tuple[nn.Module, Tensor, Tensor]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 3)).eval()
    return model, torch.rand(2, 1, 8, 8), torch.tensor([0, 1])


def _nan_at(x: Tensor) -> Tensor:
    y = x.clone()
    y[0, 0, 0, 0] = float("nan")
    return y


_PIXEL_METRICS: dict[str, Callable[..., Any]] = {
    "insertion_deletion": lambda m, x, a, t: insertion_deletion(m, x, a, t, steps=4),
    "diffid": lambda m, x, a, t: diffid(m, x, a, t),
    "road": lambda m, x, a, t: road(m, x, a, t),
}


@pytest.mark.parametrize("metric", sorted(_PIXEL_METRICS))
def test_pixel_metrics_refuse_flat_or_nan_maps_and_nan_inputs(metric: str) -> None:
    model, x, t = _small()
    run = _PIXEL_METRICS[metric]
    with pytest.raises(UserInputError, match="constant"):
        run(model, x, torch.zeros_like(x), t)
    with pytest.raises(UserInputError, match="NaN"):
        run(model, x, _nan_at(torch.rand_like(x)), t)
    with pytest.raises(UserInputError, match="`inputs` contains NaN"):
        run(model, _nan_at(x), torch.rand_like(x), t)


def test_insertion_deletion_refuses_more_steps_than_features() -> None:
    model, x, t = _small()
    with pytest.raises(UserInputError, match="`steps` is 10000000, more than the 64"):
        insertion_deletion(model, x, torch.rand_like(x), t, steps=10**7)


def test_rank_deletion_refuses_zero_scores_and_nan_inputs() -> None:
    model, x, t = _small()
    with pytest.raises(UserInputError, match="all zero"):
        rank_deletion(model, x, torch.zeros(2, 1, 8), target=t)
    with pytest.raises(UserInputError, match="`inputs` contains NaN"):
        rank_deletion(model, _nan_at(x), torch.rand(2, 1, 8), target=t)


@pytest.mark.parametrize("maps", ["nan", "shape"])
def test_sanity_tests_refuse_nan_or_misshaped_maps(maps: str) -> None:
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Flatten(), nn.Linear(128, 3))
    x = torch.rand(2, 1, 8, 8)

    def explain(m: nn.Module, inputs: Tensor, target: Tensor) -> Tensor:
        if maps == "shape":
            return torch.rand(inputs.shape[0], 5)
        return torch.full_like(inputs, float("nan"))

    with pytest.raises(UserInputError, match="`explain` returned maps"):
        cascading_randomization(model, explain, x, 0)
    with pytest.raises(UserInputError, match="`explain` returned maps"):
        random_logit(model, explain, x, 0, num_classes=3)


def test_a_model_that_changes_its_input_in_place_is_refused_and_undone() -> None:
    class Scales(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(64, 3)

        def forward(self, x: Tensor) -> Tensor:
            with torch.no_grad():
                x.data.mul_(0.5)
            return self.fc(x.flatten(1))

    model, x, t = Scales().eval(), torch.rand(2, 1, 8, 8), torch.tensor([0, 1])
    original = x.clone()
    with pytest.raises(UserInputError, match="changed `inputs` in place"):
        rank_deletion(model, x, torch.rand(2, 1, 8), target=t)
    assert torch.equal(x, original)
