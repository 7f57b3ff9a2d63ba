"""The Quantus adapter inside Quantus metrics; ROAD and faithfulness correlation via Quantus."""

from __future__ import annotations

import numpy as np
import pytest
import quantus
import torch
from torch import nn

from captum_rank import RankIntegratedGradients, SpectralSchedule
from captum_rank.checks import UserInputError, UserTypeError
from captum_rank.metrics import explain_func, faithfulness_correlation, quantus_explain, road


@pytest.fixture
def model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.Flatten(),
                         nn.Linear(3 * 8 * 8, 4)).eval()


def test_quantus_explain_is_rig(model: nn.Module) -> None:
    x = np.random.default_rng(0).random((3, 1, 8, 8), dtype=np.float32)
    y = np.array([0, 1, 2])
    out = quantus_explain(model, x, y, schedule="spectral", n_steps=8)
    expected = RankIntegratedGradients(model).attribute(
        torch.tensor(x), target=torch.tensor(y), schedule="spectral", n_steps=8)
    np.testing.assert_allclose(out, expected.numpy(), rtol=1e-5, atol=1e-6)
    assert out.dtype == np.float32
    assert quantus_explain(model, x, 1, n_steps=4, reduce_axes=(1,)).shape == (3, 1, 8, 8)


@pytest.mark.parametrize("schedule", [None, "arc_length", SpectralSchedule(overlap=0.4)])
def test_adapter_runs_inside_quantus_metrics(model: nn.Module, schedule: object) -> None:
    x = np.random.default_rng(1).random((4, 1, 8, 8), dtype=np.float32)
    y = np.array([0, 1, 2, 3])
    options = {"n_steps": 4} if schedule is None else {"n_steps": 4, "schedule": schedule}
    fc = quantus.FaithfulnessCorrelation(nr_runs=5, subset_size=8, disable_warnings=True,
                                         return_aggregate=False)
    scores = fc(model=model, x_batch=x, y_batch=y, explain_func=explain_func(**options),
                device="cpu", channel_first=True)
    assert len(scores) == 4 and np.all(np.isfinite(scores))
    pf = quantus.PixelFlipping(features_in_step=16, disable_warnings=True,
                               return_aggregate=False)
    curves = pf(model=model, x_batch=x, y_batch=y, explain_func=quantus_explain,
                explain_func_kwargs=options, device="cpu", channel_first=True)
    assert len(curves) == 4


def test_adapter_refuses_unknown_keywords_and_non_torch_models(model: nn.Module) -> None:
    x = np.zeros((1, 1, 8, 8), dtype=np.float32)
    with pytest.raises(UserInputError, match="unknown keyword"):
        quantus_explain(model, x, 0, abs=True)
    with pytest.raises(UserTypeError, match="model"):
        quantus_explain(lambda t: t, x, 0)  # type: ignore[arg-type]


def test_road_equals_quantus_road_on_one_channel(model: nn.Module) -> None:
    rng = np.random.default_rng(2)
    x = rng.random((5, 1, 8, 8), dtype=np.float32)
    a = rng.normal(size=(5, 1, 8, 8)).astype(np.float32)
    y = model(torch.tensor(x)).argmax(1).numpy()
    percentages = [10, 40, 70]
    ours = road(model, torch.tensor(x), torch.tensor(a), torch.tensor(y),
                percentages=percentages, seed=3)
    metric = quantus.ROAD(percentages=percentages, return_aggregate=False,
                          disable_warnings=True, display_progressbar=False)
    np.random.seed(3)  # noqa: NPY002 - quantus draws from the global RNG
    theirs = metric(model=model, x_batch=x, y_batch=y, a_batch=a, device="cpu",
                    channel_first=True, batch_size=5)
    np.testing.assert_allclose(ours.curves.double().mean(0).numpy(),
                               [theirs[p] for p in percentages])


def test_road_colour_images_and_lerf(model: nn.Module) -> None:
    colour = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 4)).eval()
    x = torch.rand(3, 3, 8, 8)
    y = colour(x).argmax(1)
    morf = road(colour, x, torch.rand_like(x), y, percentages=[20, 60])
    lerf = road(colour, x, torch.rand_like(x), y, percentages=[20, 60], order="lerf")
    assert morf.curves.shape == lerf.curves.shape == (3, 2)
    with pytest.raises(UserInputError, match="percentages"):
        road(colour, x, x, y, percentages=[0])


def test_faithfulness_correlation_of_the_exact_map_beats_random() -> None:
    torch.manual_seed(0)
    linear = nn.Sequential(nn.Flatten(), nn.Linear(64, 2)).eval()
    x = torch.rand(6, 1, 8, 8)
    exact = linear[1].weight[0].detach().reshape(1, 1, 8, 8) * x
    good = faithfulness_correlation(linear, x, exact, 0, nr_runs=30, subset_size=8)
    noise = faithfulness_correlation(linear, x, torch.randn_like(x), 0, nr_runs=30,
                                     subset_size=8)
    assert float(good.mean()) > float(noise.mean())
    assert float(good.mean()) > 0.5


def test_quantus_explain_warns_about_images_in_0_255() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3)).eval()
    x = np.random.default_rng(0).integers(0, 256, (2, 1, 4, 4)).astype(np.float32)
    with pytest.warns(UserWarning, match="8-bit pixels"):
        quantus_explain(model, x, np.array([0, 1]), n_steps=4)
