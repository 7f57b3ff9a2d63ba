"""Insertion/deletion and DiffID against known answers and an independent implementation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from captum_rank.checks import UserInputError
from captum_rank.metrics import diffid, diffid_scores, feature_order, insertion_deletion


def linear_model(weights: torch.Tensor) -> nn.Module:
    model = nn.Sequential(nn.Flatten(), nn.Linear(weights.numel(), 1, bias=False)).double()
    with torch.no_grad():
        model[1].weight.copy_(weights.reshape(1, -1))
    return model


def test_linear_model_exact_deletion_and_insertion_curves() -> None:
    rng = np.random.default_rng(0)
    w = rng.normal(size=(1, 1, 4, 4))
    x = rng.random((1, 1, 4, 4))
    model = linear_model(torch.tensor(w))
    contributions = (w * x).reshape(-1)
    curves = insertion_deletion(model, torch.tensor(x), torch.tensor(w * x), target=0,
                                steps=16, score="output")
    # Oracle: sort the exact contributions, descending; deletion removes them in order.
    ordered = np.sort(contributions)[::-1]
    total = contributions.sum()
    expected_del = total - np.concatenate([[0.0], np.cumsum(ordered)])
    expected_ins = np.concatenate([[0.0], np.cumsum(ordered)])
    np.testing.assert_allclose(curves.deletion[0].numpy(), expected_del, atol=1e-12)
    np.testing.assert_allclose(curves.insertion[0].numpy(), expected_ins, atol=1e-12)


def test_true_weights_beat_every_other_order() -> None:
    rng = np.random.default_rng(1)
    w = torch.tensor(rng.normal(size=(1, 1, 5, 5)))
    x = torch.ones(1, 1, 5, 5, dtype=torch.float64)
    model = linear_model(w)
    best = insertion_deletion(model, x, w, target=0, steps=25, score="output")
    for seed in range(20):
        other = torch.tensor(np.random.default_rng(seed).normal(size=(1, 1, 5, 5)))
        curves = insertion_deletion(model, x, other, target=0, steps=25, score="output")
        assert float(best.deletion_auc()[0]) <= float(curves.deletion_auc()[0]) + 1e-12
        assert float(best.insertion_auc()[0]) >= float(curves.insertion_auc()[0]) - 1e-12


def test_random_map_sits_at_its_expected_value() -> None:
    # For a linear score and a uniformly random order, E[deletion(k)] is linear in k,
    # so the expected area is (F(x) + F(fill)) / 2 exactly.
    rng = np.random.default_rng(2)
    w = torch.tensor(rng.normal(size=(1, 1, 6, 6)))
    x = torch.tensor(rng.random((64, 1, 6, 6)))
    model = linear_model(w)
    maps = torch.rand(64, 1, 6, 6, dtype=torch.float64,
                      generator=torch.Generator().manual_seed(0))
    curves = insertion_deletion(model, x, maps, target=0, steps=36, score="output")
    expected = model(x)[:, 0].detach() / 2  # F(black) = 0 without bias
    diff = (curves.deletion_auc() - expected).numpy()
    se = diff.std(ddof=1) / np.sqrt(len(diff))
    assert abs(diff.mean()) < 4 * se + 1e-12


def test_fills_mean_and_blur_and_constant() -> None:
    model = linear_model(torch.ones(1, 1, 2, 2))
    x = torch.tensor([[[[1.0, 2.0], [3.0, 6.0]]]], dtype=torch.float64)
    attr = x.clone()
    mean = insertion_deletion(model, x, attr, 0, fill="mean", steps=4, score="output")
    # Deleting the largest (6): the other three average 2, so the sum is 1+2+3+2 = 8.
    assert float(mean.deletion[0, 1]) == pytest.approx(8.0)
    # Everything deleted: the image's mean everywhere.
    assert float(mean.deletion[0, -1]) == pytest.approx(12.0)
    const = insertion_deletion(model, x, attr, 0, fill=0.5, steps=4, score="output")
    assert float(const.insertion[0, 0]) == pytest.approx(2.0)
    blur = insertion_deletion(model, x, attr, 0, fill="blur", steps=4, score="output")
    assert torch.isfinite(blur.deletion).all()


def independent_diffid(model: nn.Module, x: np.ndarray, a: np.ndarray, y: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Spectral IG's protocol written out per image with numpy (the test oracle)."""
    ins_all, del_all = [], []
    for xi, ai, yi in zip(x, a, y, strict=True):
        flat, score = xi.reshape(-1), np.abs(ai).reshape(-1)
        ins, dele = [], []
        for ratio in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
            k = int(flat.size * ratio)
            for idx, store in ((np.argsort(score, kind="stable")[:k], ins),
                               (np.argsort(-score, kind="stable")[:k], dele)):
                keep = np.ones(flat.size, dtype=bool)
                keep[idx] = False
                pert = flat.copy()
                pert[~keep] = flat[keep].mean()
                with torch.no_grad():
                    out = model(torch.tensor(pert.reshape(xi.shape))[None])
                store.append(float(out.argmax(1)[0] == yi))
        ins_all.append(ins)
        del_all.append(dele)
    return np.array(ins_all), np.array(del_all)


def test_diffid_matches_the_protocol_written_out() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(),
                          nn.Linear(4 * 6 * 6, 5)).double()
    x = torch.rand(6, 3, 8, 8, dtype=torch.float64)
    a = torch.randn(6, 3, 8, 8, dtype=torch.float64)
    y = model(x).argmax(1)
    result = diffid(model, x, a, y)
    ins, dele = independent_diffid(model, x.numpy(), a.numpy(), y.numpy())
    # Curves are indexed by the fraction kept (insertion), ascending: reverse the ratios.
    np.testing.assert_array_equal(result.insertion.numpy(), ins[:, ::-1])
    np.testing.assert_array_equal(result.deletion.numpy(), dele)
    np.testing.assert_allclose(result.difference().numpy(), (ins - dele).mean(1))


def test_diffid_scores_share_passes_and_agree_with_diffid() -> None:
    torch.manual_seed(1)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 3)).double()
    x = torch.rand(3, 3, 2, 2, dtype=torch.float64)
    a = torch.randn_like(x)
    both = diffid_scores(model, x, a, 1, scores=("accuracy", "probability", "retention"))
    for score in ("accuracy", "probability", "retention"):
        single = diffid(model, x, a, 1, score=score)
        torch.testing.assert_close(both[score].insertion, single.insertion)
        torch.testing.assert_close(both[score].deletion, single.deletion)
    assert ((both["retention"].deletion >= 0) & (both["retention"].deletion <= 1)).all()


def test_feature_order_random_tie_break_is_seeded() -> None:
    a = torch.zeros(1, 10)
    first = feature_order(a, generator=torch.Generator().manual_seed(3))
    again = feature_order(a, generator=torch.Generator().manual_seed(3))
    assert torch.equal(first, again)
    assert sorted(first[0].tolist()) == list(range(10))
    assert first[0].tolist() != list(range(10))


def test_batched_and_device_agnostic_results_agree() -> None:
    torch.manual_seed(2)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 4))
    x, a = torch.rand(5, 1, 4, 4), torch.randn(5, 1, 4, 4)
    whole = insertion_deletion(model, x, a, torch.arange(5) % 4)
    parts = insertion_deletion(model, x, a, torch.arange(5) % 4, internal_batch_size=2)
    torch.testing.assert_close(whole.insertion, parts.insertion)
    assert whole.to_dict()["fill"] == "black"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"fill": "grey"}, "`fill`"), ({"score": "loss"}, "`score`"), ({"steps": 0}, "`steps`"),
     ({"target": None}, "`target`")],
)
def test_errors_name_the_argument(kwargs: dict, message: str) -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    x = torch.rand(1, 1, 2, 2)
    options = {"target": 0, **kwargs}
    with pytest.raises(UserInputError, match=message):
        insertion_deletion(model, x, x, **options)


def test_shape_mismatch_and_nan_are_refused() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    x = torch.rand(1, 1, 2, 2)
    with pytest.raises(UserInputError, match="shape"):
        diffid(model, x, torch.rand(1, 4), 0)
    with pytest.raises(UserInputError, match="NaN"):
        diffid(model, x, torch.full_like(x, float("nan")), 0)
    with pytest.raises(UserInputError, match="ratios"):
        diffid(model, x, x, 0, ratios=[0.5, 1.0])
