"""The engine's one model-call contract: every rule's rows go through the model in batches of
at most ``internal_batch_size`` rows, with targets and extra arguments routed by example.

Oracles: a count of the model's calls and rows (``helpers.CallCounter``), and the same
attribution of each example alone."""

from __future__ import annotations

import math

import pytest
import torch
from helpers import CallCounter
from torch import Tensor, nn

from captum_rank import RankIntegratedGradients
from captum_rank.model_call import ModelCall, Rows

N, SIDE, CLASSES = 5, 6, 4


class WithScale(nn.Module):
    """A model with an extra per-example argument, to see it routed."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(SIDE * SIDE, CLASSES), nn.Tanh())

    def forward(self, x: Tensor, scale: Tensor) -> Tensor:
        out: Tensor = self.body(x) * scale.reshape(-1, 1)
        return out


def _problem() -> tuple[CallCounter, Tensor, Tensor, Tensor]:
    torch.manual_seed(1)
    model = CallCounter(WithScale().double().eval())
    x = torch.rand(N, 1, SIDE, SIDE, dtype=torch.float64)
    target = torch.tensor([0, 1, 2, 3, 0])
    scale = torch.linspace(0.5, 2.0, N, dtype=torch.float64)
    return model, x, target, scale


@pytest.mark.parametrize("method", ["gausslegendre", "riemann_middle", "adaptive"])
@pytest.mark.parametrize("internal_batch_size", [None, 7, 12])
def test_no_call_exceeds_the_batch_and_examples_keep_their_target_and_arguments(
    method: str, internal_batch_size: int | None
) -> None:
    model, x, target, scale = _problem()
    rig = RankIntegratedGradients(model)
    n_steps = 8
    together = rig.attribute(x, target=target, additional_forward_args=(scale,),
                             n_steps=n_steps, method=method, schedule="sequential",
                             internal_batch_size=internal_batch_size)
    calls = model.rows_per_call
    assert sum(calls) == N * n_steps  # every example spends its budget, no probe call
    limit = internal_batch_size or N * n_steps
    if method != "adaptive" and internal_batch_size is not None:
        # The fixed rules run whole path steps: every example at each node, at least one.
        limit = max(N, internal_batch_size - internal_batch_size % N)
        assert all(rows % N == 0 for rows in calls)
        assert len(calls) == math.ceil(N * n_steps / limit)
    assert max(calls) <= limit
    for i in range(N):
        alone = rig.attribute(x[i:i + 1], target=int(target[i]),
                              additional_forward_args=(scale[i:i + 1],), n_steps=n_steps,
                              method=method, schedule="sequential")
        torch.testing.assert_close(together[i:i + 1], alone, rtol=1e-9, atol=1e-12)


def test_exact_ranks_run_every_rank_point_once_in_batches() -> None:
    model, x, target, scale = _problem()
    rig = RankIntegratedGradients(model)
    rig.exact_ranks(x, target=target, additional_forward_args=(scale,),
                    internal_batch_size=4)
    assert sum(model.rows_per_call) == N * (SIDE + 1)  # x_0 = x' to x_r = x, once each
    assert max(model.rows_per_call) <= 4


def test_rows_of_whole_steps_follow_captums_expansion() -> None:
    model, _, target, scale = _problem()
    call = ModelCall(model, N, target.tolist(), (scale,))
    by_steps = call.route(Rows.of_steps(N, first_step=0, steps=3))
    by_examples = call.route(Rows.of_examples(torch.arange(N).repeat(3)))
    assert by_steps[0] == by_examples[0] == target.tolist() * 3
    torch.testing.assert_close(by_steps[1][0], by_examples[1][0])


def test_an_internal_batch_below_the_examples_warns_and_runs_one_step_at_a_time() -> None:
    model, x, target, scale = _problem()
    rig = RankIntegratedGradients(model)
    with pytest.warns(UserWarning, match="smaller than the number of examples"):
        rig.attribute(x, target=target, additional_forward_args=(scale,), n_steps=4,
                      method="riemann_left", internal_batch_size=2)
    assert model.rows_per_call == [N] * 4
