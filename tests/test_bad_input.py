"""Issue 11, "Bad input", API bullet: every case ends in a clear exception, a warning, or works.

Each case runs through the public API (``RankIntegratedGradients``, ``low_rank``, the
schedules) and asserts the exception type and that the message names the argument (and
usually the fix). ``tests/test_model_checks.py`` runs the assert-sensitive cases again
under ``python -O``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from captum.attr import IntegratedGradients
from torch import Tensor, nn

from captum_rank import RankIntegratedGradients, low_rank
from captum_rank.checks import UserInputError, UserTypeError
from captum_rank.schedules import NumericalRankSchedule, RankSchedule, SequentialSchedule

N = 2
X = torch.rand(N, 1, 6, 6, generator=torch.Generator().manual_seed(0))


def linear_model(classes: int = 3) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(36, classes)).eval()


class Returns(nn.Module):
    """A model whose output is ``make(logits)``: every kind of wrong output."""

    def __init__(self, make: Callable[[Tensor], Any]) -> None:
        super().__init__()
        self.inner = linear_model()
        self.make = make

    def forward(self, x: Tensor) -> Any:
        return self.make(self.inner(x))


def rig_of(model: Callable[..., Any]) -> RankIntegratedGradients:
    return RankIntegratedGradients(model)


def attribute(model: Callable[..., Any], **overrides: Any) -> Any:
    arguments: dict[str, Any] = dict(inputs=X, target=0, n_steps=4, method="gausslegendre")
    arguments.update(overrides)
    return rig_of(model).attribute(**arguments)


# (case, model, overrides, error type, text the message must contain)
TARGET_CASES: list[tuple[str, Any, dict[str, Any], type, str]] = [
    ("target out of range (int)", linear_model(), dict(target=3), UserInputError, "`target` 3"),
    ("target out of range (negative)", linear_model(), dict(target=-4), UserInputError,
     "`target`"),
    ("target out of range (per example)", linear_model(), dict(target=[0, 7]), UserInputError,
     "`target` entry 7 (example 1)"),
    ("target out of range (tensor)", linear_model(), dict(target=torch.tensor([5, 0])),
     UserInputError, "`target` entry 5 (example 0)"),
    ("target wrong length (list)", linear_model(), dict(target=[0, 1, 2]), UserInputError,
     "`target` has 3 entries"),
    ("target wrong length (tensor)", linear_model(), dict(target=torch.tensor([0, 1, 2])),
     UserInputError, "`target` has 3 entries"),
    ("target wrong shape (tensor)", linear_model(), dict(target=torch.zeros(2, 1).long()),
     UserInputError, "`target` has shape (2, 1)"),
    ("target wrong type (float)", linear_model(), dict(target=1.0), UserTypeError,
     "`target` has type float"),
    ("target wrong type (str)", linear_model(), dict(target="cat"), UserTypeError,
     "`target` has type str"),
    ("target wrong type (bool)", linear_model(), dict(target=True), UserTypeError, "`target`"),
    ("target wrong type (float tensor)", linear_model(), dict(target=torch.tensor([0.0, 1.0])),
     UserTypeError, "`target` is a Tensor of dtype torch.float32"),
    ("target wrong type (mixed list)", linear_model(), dict(target=[0, (1,)]), UserTypeError,
     "`target` is a list of int, tuple"),
    ("target tuple too long", linear_model(), dict(target=(0, 1)), UserInputError,
     "`target` (0, 1) has 2 indices"),
    ("target for a one-output model", Returns(lambda y: y[:, 0]), dict(target=0),
     UserInputError, "pass target=None"),
    ("target None, multi-output model", linear_model(), dict(target=None), UserInputError,
     "`target` is None but forward_func returns 3 values per example"),
]

OUTPUT_CASES: list[tuple[str, Any, dict[str, Any], type, str]] = [
    ("output wrong batch size", Returns(lambda y: y[:1]), {}, UserInputError,
     "`forward_func` returned 1 rows"),
    ("output doubled batch", Returns(lambda y: torch.cat([y, y])), {}, UserInputError,
     "`forward_func` returned 16 rows"),
    ("output scalar", Returns(lambda y: y[:, 0].sum()), dict(target=None), UserInputError,
     "`forward_func` returned a scalar"),
    ("output tuple", Returns(lambda y: (y, y)), {}, UserTypeError,
     "`forward_func` returned a tuple"),
    ("output numpy", Returns(lambda y: y.detach().numpy()), {}, UserTypeError,
     "`forward_func` returned a ndarray"),
    ("output (N, 10, 2), int target", Returns(lambda y: y.repeat(1, 7)[:, :20].reshape(-1, 10, 2)),
     dict(target=3), UserInputError, "`target` selects (2,) values per example"),
    ("output (N, 10, 2), no target", Returns(lambda y: y.repeat(1, 7)[:, :20].reshape(-1, 10, 2)),
     dict(target=None), UserInputError, "`target` is None but forward_func returns 20"),
    ("output (N, 10, 2), list target", Returns(lambda y: y.repeat(1, 7)[:, :20].reshape(-1, 10, 2)),
     dict(target=[1, 2]), UserInputError, "`target` gives one class per example"),
    ("output (N, 10, 2), tuple out of range",
     Returns(lambda y: y.repeat(1, 7)[:, :20].reshape(-1, 10, 2)), dict(target=(3, 2)),
     UserInputError, "`target` (3, 2) is out of range (position 1)"),
    ("output NaN", Returns(lambda y: torch.where(torch.arange(len(y))[:, None] % N == 1,
                                                 y * float("nan"), y)),
     {}, UserInputError, "`forward_func` returned NaN or inf for example(s) [1]"),
    ("output inf", Returns(lambda y: y / (y[:, :1] - y[:, :1])), {}, UserInputError,
     "`forward_func` returned NaN or inf for example(s) [0, 1]"),
    ("no gradient path (detached)", Returns(lambda y: y.detach()), {}, UserInputError,
     "does not depend differentiably"),
    ("integer outputs (argmax)", Returns(lambda y: y.argmax(1)), dict(target=None),
     UserInputError, "returned torch.int64 outputs; attributions need floating-point"),
]


@pytest.mark.parametrize("case,model,overrides,error,text", TARGET_CASES + OUTPUT_CASES,
                         ids=[c[0] for c in TARGET_CASES + OUTPUT_CASES])
def test_target_and_output_cases(case: str, model: Any, overrides: dict[str, Any],
                                 error: type, text: str) -> None:
    with pytest.raises(error) as caught:
        attribute(model, **overrides)
    assert text in str(caught.value), str(caught.value)


def test_nan_output_names_the_path_steps() -> None:
    # NaN only near the end point (a > 0.6 of the way): the message names the later steps.
    def model(x: Tensor) -> Tensor:
        score = x.flatten(1).sum(1, keepdim=True)
        return torch.where(score > 0.6 * X.flatten(1).sum(1).max(), score * float("nan"), score)

    with pytest.raises(UserInputError, match=r"at path step\(s\) \[") as caught:
        attribute(model, target=None, n_steps=8, schedule="linear")
    assert "[0]" not in str(caught.value).split("step(s)")[1]


def test_nan_gradient_with_finite_output() -> None:
    def model(x: Tensor) -> Tensor:  # sqrt at 0: finite output, infinite gradient
        return torch.sqrt(x.flatten(1)[:, :1] * 0.0 + x.flatten(1)[:, :1].clamp(max=0.0))

    with pytest.raises(UserInputError, match=r"gradient of `forward_func`.*NaN or inf"):
        attribute(model, target=None)


def test_unused_input_of_a_tuple() -> None:
    def model(a: Tensor, b: Tensor) -> Tensor:
        return a.flatten(1).sum(1)

    with pytest.raises(UserInputError, match=r"does not depend on `inputs\[1\]`"):
        rig_of(model).attribute((X, X.clone()), n_steps=2)


def test_additional_forward_args_of_another_batch_are_passed_as_captum_passes_them() -> None:
    # Captum repeats every tensor of additional_forward_args once per path step, whatever
    # its first dimension; Captum code relies on it (LLMGradientAttribution's target
    # tokens), so RIG does the same on both rules instead of refusing.
    tokens = torch.arange(5.0)

    def model(x: Tensor, scale: Tensor, k: Any) -> Tensor:
        return (x.flatten(1).sum(1) * scale[: len(tokens)].sum()) * k

    args = (tokens, 2.0)
    ig = IntegratedGradients(model).attribute(X, additional_forward_args=args)
    for method in ("gausslegendre", "adaptive"):
        ours = attribute(model, target=None, additional_forward_args=args, method=method)
        assert torch.allclose(ours, ig, atol=1e-4)
    # One row per example, 0-d tensors and non-tensors are fine.
    good = attribute(lambda x, s, k: (x.flatten(1) * s).sum(1) * k, target=None,
                     additional_forward_args=(torch.ones(N, 36), torch.tensor(2.0)))
    assert torch.isfinite(good).all()


def test_inference_mode_is_refused_and_no_grad_works() -> None:
    model = linear_model()
    with torch.inference_mode(), pytest.raises(UserInputError, match="inference_mode"):
        attribute(model)
    with torch.no_grad():
        under_no_grad = attribute(model)
    assert torch.allclose(under_no_grad, attribute(model))


def test_inputs_created_in_inference_mode_work() -> None:
    with torch.inference_mode():
        frozen = X.clone()
    assert torch.allclose(attribute(linear_model(), inputs=frozen), attribute(linear_model()))


@pytest.mark.parametrize("where", ["inputs", "baselines"])
def test_meta_device(where: str) -> None:
    meta = torch.empty(N, 1, 6, 6, device="meta")
    overrides = {"inputs": meta} if where == "inputs" else {"baselines": meta}
    with pytest.raises(UserInputError, match=f"`{where}` is on the meta device"):
        attribute(linear_model(), **overrides)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16])
@pytest.mark.parametrize("kind", ["conv", "linear"])
def test_input_dtype_differs_from_the_model(dtype: torch.dtype, kind: str) -> None:
    torch.manual_seed(0)
    model = (nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(32, 3)) if kind == "conv"
             else linear_model())
    with pytest.raises(UserTypeError) as caught:
        attribute(model, inputs=X.to(dtype))
    message = str(caught.value)
    assert f"`inputs` have dtype {dtype}" in message and "torch.float32" in message
    assert "bias type" not in message and "mat1" not in message


def test_dtype_mismatch_behind_a_lambda_is_still_named() -> None:
    model = linear_model()
    with pytest.raises(UserTypeError, match=r"`inputs` have dtype torch.float64"):
        attribute(lambda x: model(x), inputs=X.double())


def test_a_model_that_casts_its_inputs_is_fine() -> None:
    model = linear_model()
    out = attribute(lambda x: model(x.float()), inputs=X.double())
    assert out.dtype == torch.float64 and torch.isfinite(out).all()


@pytest.mark.parametrize("layer", [nn.Dropout(0.1), nn.BatchNorm1d(36)])
def test_train_mode_warns(layer: nn.Module) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), layer, nn.Linear(36, 3)).train()
    with pytest.warns(UserWarning, match=r"training mode \(1\).*model.eval\(\)"):
        attribute(model)
    model.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        attribute(model)


class _BadWindows(RankSchedule):
    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def windows(self, singular_values: Tensor) -> tuple[Tensor, Tensor]:
        start, width = SequentialSchedule().windows(singular_values)
        if self.kind == "shape":
            return start[..., 0, :], width[..., 0, :]
        if self.kind == "negative":
            return start, width - 0.5
        if self.kind == "nan":
            return start * float("nan"), width
        if self.kind == "past one":
            return start + 0.5, width
        return start.tolist(), width  # type: ignore[return-value]


@pytest.mark.parametrize("kind,error,text", [
    ("shape", UserInputError, "returned start of shape (2, 6)"),
    ("negative", UserInputError, "negative widths"),
    ("nan", UserInputError, "NaN or inf"),
    ("past one", UserInputError, "windows ending after 1"),
    ("list", UserTypeError, "returned list and Tensor"),
])
def test_custom_schedule_with_bad_windows(kind: str, error: type, text: str) -> None:
    with pytest.raises(error) as caught:
        attribute(linear_model(), schedule=_BadWindows(kind))
    assert "`schedule` _BadWindows.windows" in str(caught.value) and text in str(caught.value)


def test_per_matrix_ranks_must_match_the_leading_dimensions() -> None:
    x = torch.randn(3, 3, 5, 5)
    with pytest.raises(UserInputError, match=r"`rank` has shape \(3,\).*\(3, 3\)"):
        low_rank(x, torch.tensor([1, 2, 3]))
    # The explicit forms: one rank per matrix, per example (N, 1), per channel (1, C).
    per_example = low_rank(x, torch.tensor([[1], [2], [3]]))
    for n in range(3):
        assert torch.allclose(per_example[n], low_rank(x[n], n + 1), atol=1e-5)
    per_channel = low_rank(x, torch.tensor([[1, 2, 3]]))
    for c in range(3):
        assert torch.allclose(per_channel[:, c], low_rank(x[:, c], c + 1), atol=1e-5)


@pytest.mark.parametrize("rtol,error", [("x", UserTypeError), (1.5, UserInputError),
                                        (float("nan"), UserInputError)])
def test_numerical_rank_rtol(rtol: Any, error: type) -> None:
    with pytest.raises(error, match="`rtol`"):
        NumericalRankSchedule(rtol=rtol)


def test_gauss_legendre_n_steps_too_large() -> None:
    with pytest.raises(UserInputError, match=r"`n_steps`=5000.*riemann_middle"):
        attribute(linear_model(), n_steps=5000)


def test_gauss_legendre_many_steps_warn_with_the_cost() -> None:
    # Warns before the (1.5 s) node generation; stop there by failing on the warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UserWarning, match=r"`n_steps`=1100.*O\(n_steps\^3\)"):
            attribute(linear_model(), n_steps=1100)


def test_numpy_integers_are_accepted_like_captum() -> None:
    model = linear_model()
    reference = attribute(model, n_steps=8, internal_batch_size=4)
    ig = IntegratedGradients(model).attribute(X, target=0, n_steps=np.int64(8))
    assert ig.shape == X.shape  # Captum accepts numpy n_steps: so does RIG
    same = rig_of(model).attribute(X, target=np.int64(0), n_steps=np.int64(8),
                                   internal_batch_size=np.int32(4), baselines=np.float32(0.0))
    assert torch.allclose(same, reference)
    _, delta = rig_of(model).attribute(X, target=torch.tensor([0, 0]), n_steps=np.int16(8),
                                       return_convergence_delta=True)
    assert delta.shape == (N,)
    assert torch.allclose(low_rank(X, np.int64(2)), low_rank(X, 2))


def test_infinite_model_at_the_baseline_warns_on_the_delta() -> None:
    # log(sum x) is -inf at the zero baseline, which Gauss-Legendre never evaluates: the
    # attribution is finite, the delta is not, and the warning says which examples.
    def model(x: Tensor) -> Tensor:
        return torch.log(x.flatten(1).sum(1))

    with pytest.warns(UserWarning, match=r"delta is NaN or inf for example\(s\) \[0, 1\]"):
        attributions, delta = attribute(model, target=None, return_convergence_delta=True)
    assert torch.isfinite(attributions).all() and not torch.isfinite(delta).any()


def test_adaptive_rule_names_examples_too() -> None:
    # The adaptive rule evaluates the baseline itself: log(sum x) is -inf there.
    def model(x: Tensor) -> Tensor:
        return torch.log(x.flatten(1).sum(1))

    with pytest.raises(UserInputError, match=r"NaN or inf for example\(s\) \[0, 1\]"):
        attribute(model, target=None, method="adaptive")
