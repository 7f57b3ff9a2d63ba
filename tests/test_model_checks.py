"""captum_rank/_model_checks.py: cheap checks, Captum's gradients, and ``python -O``."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from captum._utils.gradient import compute_gradients
from captum.attr import NoiseTunnel
from captum.metrics import infidelity, sensitivity_max
from helpers import CallCounter
from torch import Tensor, nn

from captum_rank import RankIntegratedGradients
from captum_rank._model_checks import check_target, checked_gradients, select_targets
from captum_rank.checks import UserInputError, UserTypeError


def counting() -> CallCounter:
    """A CNN that counts its forward calls and the rows it sees."""
    torch.manual_seed(0)
    return CallCounter(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Tanh(), nn.Flatten(),
                                     nn.Linear(32, 4)))


X = torch.rand(3, 1, 6, 6, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("internal_batch_size,chunks", [(None, 1), (6, 4), (3, 8)])
def test_checks_add_no_forward_pass(internal_batch_size: int | None, chunks: int) -> None:
    model = counting()
    RankIntegratedGradients(model).attribute(X, target=[0, 1, 2], n_steps=8,
                                             method="gausslegendre",
                                             internal_batch_size=internal_batch_size)
    # One forward per chunk of path points, each point once: nothing else runs the model.
    assert model.calls == chunks and model.rows == 8 * len(X)


def test_delta_adds_only_captums_two_forwards() -> None:
    model = counting()
    RankIntegratedGradients(model).attribute(X, target=1, n_steps=8, method="gausslegendre",
                                             return_convergence_delta=True)
    assert model.calls == 1 + 2


@pytest.mark.parametrize("target", [None, 2, (1,), [0, 3, 1], [(0,), (1,), (2,)]])
def test_same_gradients_as_captum(target: object) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(36, 4), nn.Softplus())
    if target is None:
        model.append(nn.Linear(4, 1))
    x = X.clone().requires_grad_()
    canonical = check_target(target, len(X))
    ours = checked_gradients(model, (x,), canonical)
    theirs = compute_gradients(model, (x,), target)
    assert torch.allclose(ours[0], theirs[0], atol=1e-7)


def test_select_targets_matches_captum_rules() -> None:
    out = torch.arange(24.0).reshape(2, 3, 4)
    assert select_targets(out, (1, 2)).tolist() == [6.0, 18.0]
    pairs: list[tuple[int, ...]] = [(0, 1), (2, 3)]
    assert select_targets(out, pairs).tolist() == [1.0, 23.0]
    assert select_targets(out[:, :, 0], -1).tolist() == [8.0, 20.0]


def test_check_target_canonical_forms() -> None:
    assert check_target(torch.tensor(2), 3) == 2
    assert check_target(torch.tensor([2]), 1) == 2
    assert check_target(np.array([1, 0, 2]), 3) == [1, 0, 2]
    assert check_target([np.int64(1), 2, 0], 3) == [1, 2, 0]
    assert check_target((np.int32(1), 0), 3) == (1, 0)
    with pytest.raises(UserTypeError, match="`target`"):
        check_target(np.array([0.5, 1.0]), 2)
    with pytest.raises(UserTypeError, match=r"`target\[1\]`"):
        check_target([(0,), (1.5,)], 2)
    with pytest.raises(UserTypeError, match="`target`"):
        check_target((), 2)


def test_noise_tunnel_and_metrics_still_work() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Tanh(), nn.Flatten(), nn.Linear(32, 4)).eval()
    rig = RankIntegratedGradients(model)
    tunnel = NoiseTunnel(rig)
    smooth = tunnel.attribute(X, nt_samples=3, nt_type="smoothgrad", stdevs=0.05,
                              target=[0, 1, 2], n_steps=np.int64(4))
    assert smooth.shape == X.shape and torch.isfinite(smooth).all()
    with pytest.raises(UserInputError, match="`target` 9 is out of range"):
        tunnel.attribute(X, nt_samples=2, target=9, n_steps=4)

    def perturb(inputs: Tensor) -> tuple[Tensor, Tensor]:
        noise = 0.01 * torch.randn_like(inputs)
        return noise, inputs - noise

    attributions = rig.attribute(X, target=1, n_steps=4)
    score = infidelity(model, perturb, X, attributions, target=1, n_perturb_samples=2)
    sensitivity = sensitivity_max(rig.attribute, X, target=1, n_steps=4, n_perturb_samples=2)
    assert score.shape == sensitivity.shape == (len(X),)


def test_assert_sensitive_cases_under_python_dash_o() -> None:
    # Captum checks these with `assert`, which `python -O` strips; ours must still raise.
    script = textwrap.dedent(
        """
        import sys, torch
        from torch import nn
        from captum_rank import RankIntegratedGradients
        from captum_rank.checks import UserInputError
        assert False, "asserts are on"  # under -O this line does nothing
        torch.manual_seed(0)
        model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
        cube = lambda x: model(x).repeat(1, 4)[:, :10].reshape(-1, 5, 2)
        x = torch.rand(2, 1, 4, 4)
        cases = [
            (model, dict(target=3)),
            (model, dict(target=[0, 1, 2])),
            (model, dict(target=None)),
            (model, dict(target=[0, 5])),
            (model, dict(target=torch.tensor([0, 1, 2]))),
            (cube, dict(target=1)),
            (cube, dict(target=[1, 1])),
            (lambda x: model(x)[:, 0].sum(), dict(target=None)),
        ]
        for index, (forward, options) in enumerate(cases):
            try:
                RankIntegratedGradients(forward).attribute(x, n_steps=2, method="riemann_middle",
                                                           **options)
            except UserInputError as err:
                named = "`target`" in str(err) or "`forward_func`" in str(err)
                print(index, "ok" if named else "unnamed")
            else:
                print(index, "NO ERROR")
        """
    )
    result = subprocess.run([sys.executable, "-O", "-c", script], capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [w for i in range(8) for w in (str(i), "ok")], result.stdout


# Issue 17, point 5: one implementation of the target, placement and train-mode checks,
# shared by the core (attribute), rank_path and the metrics.


def test_class_targets_are_check_target_narrowed() -> None:
    from captum_rank._model_checks import check_class_target

    assert check_class_target(np.int64(2), 3) == [2, 2, 2]
    assert check_class_target(torch.tensor([0, 1]), 2) == [0, 1]
    assert check_class_target(None, 2, required=False) is None
    # The same refusals as check_target, with the same messages ...
    for bad in (2.7, True, "cat", torch.tensor([0.0, 1.0])):
        with pytest.raises(UserTypeError) as ours:
            check_class_target(bad, 2)
        with pytest.raises(UserTypeError) as core:
            check_target(bad, 2)
        assert str(ours.value).split(";")[0] == str(core.value).split(";")[0]
    # ... and what scoring a class cannot use.
    with pytest.raises(UserTypeError, match="a tuple index"):
        check_class_target((1, 0), 2)
    with pytest.raises(UserInputError, match=r"`target` entry -1 \(example 1\) is negative"):
        check_class_target([0, -1], 2)
    with pytest.raises(UserInputError, match="`target` is required"):
        check_class_target(None, 2)
    with pytest.raises(UserInputError, match="`target` has 3 entries but `image` has 1"):
        check_class_target([0, 1, 2], 1, inputs="image")


def test_range_check_is_the_one_attribute_uses() -> None:
    from captum_rank._model_checks import check_target_in_output

    model = counting()
    with pytest.raises(UserInputError) as attribution:
        RankIntegratedGradients(model).attribute(X, target=[0, 9, 1], n_steps=2)
    with pytest.raises(UserInputError) as shared:
        check_target_in_output([0, 9, 1], (3, 4))
    assert str(attribution.value) == str(shared.value)
    with pytest.raises(UserInputError, match="`target` 4 is out of range: model returns 4"):
        check_target_in_output(4, (1, 4), model="model")


def test_model_placement_follows_the_parameters() -> None:
    from captum_rank._model_checks import model_placement

    model = nn.Linear(2, 2).double()
    x = torch.zeros(1, 2)
    assert model_placement(model, x) == (torch.device("cpu"), torch.float64)
    assert model_placement(model.forward, x) == (torch.device("cpu"), torch.float64)
    assert model_placement(lambda t: t, x) == (x.device, torch.float32)
    on_meta = nn.Linear(2, 2, device="meta")
    assert model_placement(on_meta, x)[0] == torch.device("meta")


@pytest.mark.parametrize("layer", [nn.Dropout(0.1), nn.BatchNorm2d(1)])
def test_train_mode_warning_points_at_the_callers_line(layer: nn.Module) -> None:
    from captum_rank.metrics import diffid
    from captum_rank.rank_path import rank_path

    model = nn.Sequential(layer, nn.Flatten(), nn.Linear(36, 4)).train()
    calls = {
        "forward_func": lambda: RankIntegratedGradients(model).attribute(X, target=0,
                                                                          n_steps=2),
        "model": lambda: rank_path(model, X[0], ranks=[0]),
    }
    for name, call in calls.items():
        with pytest.warns(UserWarning, match=rf"`{name}` has dropout.*model\.eval\(\)") as info:
            call()
        assert [w.filename for w in info] == [__file__]
    with pytest.warns(UserWarning, match=r"before scoring") as info:
        diffid(model, X, torch.rand_like(X), 0)
    assert info[0].filename == __file__


def test_input_guard_fingerprints_large_tensors_instead_of_copying() -> None:
    from captum_rank._model_checks import InputGuard
    from captum_rank.checks import UserInputError

    big = torch.rand(5, (1 << 22) // 5 + 1)
    guard = InputGuard(big, "data")
    assert guard.copy is None  # no second copy of a big data set
    guard.check()  # unchanged: fine
    big[3, 7] += 0.25
    with pytest.raises(UserInputError, match="`data` now holds the changed values"):
        guard.check()
    small = torch.rand(4, 4)
    guard = InputGuard((small, torch.arange(4)), "data")
    small.mul_(2)
    before = small.clone()
    with pytest.raises(UserInputError, match="were restored"):
        guard.check()
    assert torch.equal(small * 2, before)
