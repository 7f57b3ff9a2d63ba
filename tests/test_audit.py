"""Tests for captum_rank.audit: accuracy against rank, rank spectra, checkpoints, reports."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from captum_rank import RankIntegratedGradients, high_rank, low_rank
from captum_rank.audit import (
    AuditInputError,
    AuditReport,
    Checkpoint,
    DataSource,
    RankAccuracyResult,
    RankSpectrumResult,
    check_ranks,
    default_ranks,
    format_table,
    parse_ranks,
    rank_accuracy,
    rank_for_share,
    rank_spectrum,
    write_report,
)
from captum_rank.audit import accuracy as accuracy_module
from captum_rank.audit._runner import TEST_KILL_ENV
from captum_rank.audit.spectrum import DEFAULT_METHODS

SIZE = 12
CLASSES = 5


class TinyCNN(nn.Module):
    """A small smooth CNN on 1 x 12 x 12 images with 5 classes."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.fc = nn.Linear(4 * (SIZE - 2) * (SIZE - 2), CLASSES)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(nn.functional.softplus(self.conv(x)).flatten(1))


def make_problem(n: int = 37, seed: int = 0) -> tuple[dict[str, TinyCNN], Tensor, Tensor]:
    """Two seeded random models and random images with labels (also used by subprocesses)."""
    torch.manual_seed(seed)
    models = {"a": TinyCNN().eval(), "b": TinyCNN().eval()}
    images = torch.rand(n, 1, SIZE, SIZE)
    labels = torch.randint(0, CLASSES, (n,))
    return models, images, labels


def _strip(result: Any) -> dict[str, Any]:
    data = result.to_dict()
    data.pop("timings")
    return data


# --- accuracy against rank ------------------------------------------------------------


def test_accuracy_equals_naive_per_rank_loop() -> None:
    models, x, y = make_problem()
    ranks = [0, 1, 2, 5, 11]
    result = rank_accuracy(models, (x, y), ranks, batch_size=10, progress=False)
    assert result.n_images == 37 and result.r == SIZE and result.ranks == ranks
    with torch.no_grad():
        for name, model in models.items():
            naive_low = [int((model(low_rank(x, k)).argmax(1) == y).sum()) for k in ranks]
            naive_high = [int((model(high_rank(x, k)).argmax(1) == y).sum()) for k in ranks]
            assert result.low_rank_correct[name] == naive_low
            assert result.high_rank_correct[name] == naive_high
            assert result.clean_correct[name] == int((model(x).argmax(1) == y).sum())


def test_full_rank_is_clean_and_zero_residual_is_clean() -> None:
    models, x, y = make_problem(n=23, seed=1)
    result = rank_accuracy(models, (x, y), [0, 3, SIZE], batch_size=7, progress=False)
    for name in models:
        clean = result.clean_accuracy()[name]
        assert result.accuracy_at(name, SIZE, "low_rank") == clean
        assert result.accuracy_at(name, 0, "high_rank") == clean
    # The residual of the full rank is the zero image: one class for every image.
    with torch.no_grad():
        zero_class = int(models["a"](torch.zeros(1, 1, SIZE, SIZE)).argmax())
    assert result.high_rank_correct["a"][-1] == int((y == zero_class).sum())


def test_zoo_model_on_real_images_end_points() -> None:
    from captum_rank import zoo
    from captum_rank.data import load_sample

    try:
        model = zoo.load("fmnist-natural")
    except (FileNotFoundError, OSError):
        pytest.skip("zoo weights not installed")
    x, y = load_sample()
    result = rank_accuracy({"natural": model}, (x, y), [0, 28], batch_size=100, progress=False)
    clean = result.clean_accuracy()["natural"]
    assert clean > 0.8
    assert result.low_rank_accuracy()["natural"] == [pytest.approx(0.1, abs=0.1), clean]
    assert result.high_rank_accuracy()["natural"][0] == clean


def test_one_svd_per_batch_serves_every_rank_and_model(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, ...]] = []
    original = accuracy_module.thin_svd

    def counting(t: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        calls.append(tuple(t.shape))
        return original(t)

    monkeypatch.setattr(accuracy_module, "thin_svd", counting)
    models, x, y = make_problem(n=20)
    result = rank_accuracy(models, (x, y), [0, 1, 2, 4, 8, 12], batch_size=10, progress=False)
    assert calls == [(10, 1, SIZE, SIZE)] * 2
    assert result.timings["svd"] > 0
    cost = result.svd_cost()
    assert set(cost) == {"svd_s", "reconstruct_s", "clean_forward_s", "svd_per_forward"}
    assert set(result.timings["clean_forward"]) == {"a", "b"}


def test_dataset_path_streams_batches_and_matches_tensors() -> None:
    models, x, y = make_problem(n=30)
    seen: list[int] = []

    class Lazy(Dataset[tuple[Tensor, int]]):
        """Builds items on demand and logs which it was asked for."""

        def __len__(self) -> int:
            return 30

        def __getitem__(self, i: int) -> tuple[Tensor, int]:
            seen.append(i)
            return x[i], int(y[i])

    batch_sizes: list[int] = []

    class Logged(nn.Module):
        def __init__(self, inner: nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, t: Tensor) -> Tensor:
            batch_sizes.append(t.shape[0])
            return self.inner(t)

    logged = {k: Logged(m) for k, m in models.items()}
    from_dataset = rank_accuracy(logged, Lazy(), [0, 2, 12], batch_size=8, progress=False)
    from_tensors = rank_accuracy(models, (x, y), [0, 2, 12], batch_size=8, progress=False)
    assert from_dataset.low_rank_correct == from_tensors.low_rank_correct
    assert from_dataset.high_rank_correct == from_tensors.high_rank_correct
    # Never more than one batch of images in flight.
    assert max(batch_sizes) == 8
    # Items are read in order, batch by batch (plus item 0 and the ends for the fingerprint).
    body = seen[-30:]
    assert body == list(range(30))


def test_limit_and_input_errors() -> None:
    models, x, y = make_problem(n=12)
    assert rank_accuracy(models, (x, y), [0], limit=5, progress=False).n_images == 5
    with pytest.raises(AuditInputError, match="above min"):
        rank_accuracy(models, (x, y), [0, 13], progress=False)
    with pytest.raises(AuditInputError, match="negative"):
        rank_accuracy(models, (x, y), [-1], progress=False)
    with pytest.raises(AuditInputError, match="labels"):
        rank_accuracy(models, (x, y[:3]), [0], progress=False)
    with pytest.raises(AuditInputError, match="empty"):
        rank_accuracy({}, (x, y), [0], progress=False)
    with pytest.raises(AuditInputError, match="batch_size"):
        rank_accuracy(models, (x, y), [0], batch_size=0, progress=False)


def test_rank_list_parsing() -> None:
    assert parse_ranks(" 4,0, 2,2") == [0, 2, 4]
    assert check_ranks(None, 3) == [0, 1, 2, 3]
    assert default_ranks(28)[-1] == 28 and default_ranks(4) == [0, 1, 2, 3, 4]
    for bad, message in (("1,x", "not an integer"), ("1.5", "not an integer"),
                         ("-2", "negative"), ("", "empty"), ("1,,2", "empty entry")):
        with pytest.raises(AuditInputError, match=message):
            parse_ranks(bad)
    with pytest.raises(AuditInputError, match="not an integer"):
        check_ranks([1.5], 28)


# --- rank for share -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spectrum", "half", "ninety"),
    [
        ([4.0, 3.0, 2.0, 1.0], 2, 3),  # shares 0.4, 0.7, 0.9, 1.0
        ([1.0, 0.0, 0.0, 0.0], 1, 1),
        ([0.0, 0.0, 0.0, 5.0], 4, 4),
        ([1.0, 1.0, 1.0, 1.0], 2, 4),  # 0.5 is reached exactly at k = 2
        ([3.0, -2.0, 1.0], 1, 1),  # signed share overshoots: 1.5, 0.5, 1.0
        ([-1.0, 3.0], 2, 2),  # shares -0.5, 1.0
        ([1.0, -1.0], 1, 2),  # zero total: absolute share 0.5, 1.0
    ],
)
def test_rank_for_share_on_hand_made_spectra(spectrum: list[float], half: int,
                                             ninety: int) -> None:
    assert rank_for_share(spectrum, 0.5) == half
    assert rank_for_share(spectrum, 0.9) == ninety
    assert rank_for_share(spectrum, 1.0) is not None


def test_rank_for_share_edge_cases() -> None:
    assert rank_for_share([0.0, 0.0, 0.0], 0.5) is None
    # Rounding: the last share may be 1 - 1e-16 and must still reach 1.
    assert rank_for_share([0.1] * 10, 1.0) == 10
    for share in (0.0, 1.5, -0.1, True):
        with pytest.raises(ValueError, match="share"):
            rank_for_share([1.0, 2.0], share)
    with pytest.raises(ValueError, match="empty"):
        rank_for_share([], 0.5)
    with pytest.raises(ValueError, match="NaN"):
        rank_for_share([1.0, float("nan")], 0.5)


# --- rank spectra ---------------------------------------------------------------------


def test_spectrum_matches_direct_attribution() -> None:
    models, x, y = make_problem(n=14, seed=3)
    result = rank_spectrum(models, (x, y), n_steps=6, batch_size=5, progress=False)
    assert result.n_images == 14 and sum(result.class_counts) == 14
    assert result.class_counts == np.bincount(y.numpy(), minlength=CLASSES).tolist()
    for name, model in models.items():
        rig = RankIntegratedGradients(model)
        for method, schedule in DEFAULT_METHODS.items():
            ranks, delta = rig.attribute_ranks(x, target=y, n_steps=6, schedule=schedule,
                                               return_convergence_delta=True)
            direct = ranks.double().sum(1)
            np.testing.assert_allclose(result.mean_spectrum(name, method),
                                       direct.mean(0).numpy(), rtol=1e-5, atol=1e-6)
            c = int(y[0])
            np.testing.assert_allclose(result.mean_spectrum(name, method, cls=c),
                                       direct[y == c].mean(0).numpy(), rtol=1e-5, atol=1e-6)
            assert result.mean_abs_delta(name, method) == pytest.approx(
                float(delta.abs().mean()), rel=1e-4, abs=1e-6)
            assert result.rank_explaining(name, 0.5, method) == rank_for_share(
                direct.mean(0).numpy(), 0.5)
    summary = result.summary()
    assert set(summary) == {"a", "b"}
    assert set(summary["a"]["rig"]) == {"rank_50", "rank_90", "mean_abs_delta", "mean_total"}


def test_spectrum_errors() -> None:
    models, x, y = make_problem(n=6)
    with pytest.raises(AuditInputError, match="labels must lie"):
        rank_spectrum(models, (x, y + 10), n_steps=2, progress=False)
    result = rank_spectrum(models["a"], (x, torch.zeros(6, dtype=torch.int64)), n_steps=2,
                           methods={"rig": "sequential"}, progress=False)
    with pytest.raises(ValueError, match="no images"):
        result.mean_spectrum("model", "rig", cls=3)
    with pytest.raises(KeyError, match="unknown method"):
        result.mean_spectrum("model", "ig")


# --- JSON, plots, report --------------------------------------------------------------


def test_json_round_trips(tmp_path: Path) -> None:
    models, x, y = make_problem(n=10)
    acc = rank_accuracy(models, (x, y), [0, 1, 12], progress=False, meta={"data": "toy"})
    spec = rank_spectrum(models, (x, y), n_steps=3, progress=False)
    assert RankAccuracyResult.from_json(acc.to_json()) == acc
    assert RankSpectrumResult.from_json(spec.to_json()) == spec
    acc.to_json(tmp_path / "acc.json")
    assert RankAccuracyResult.from_json(tmp_path / "acc.json") == acc
    data = json.loads(spec.to_json())
    assert data["kind"] == "rank-spectrum" and "summary" in data and "mean_spectra" in data
    report = AuditReport(acc, spec, {"data": "toy"})
    assert AuditReport.from_json(report.to_json()) == report
    with pytest.raises(ValueError, match="not a rank-accuracy"):
        RankAccuracyResult.from_json(spec.to_json())


def test_plots_and_report(tmp_path: Path) -> None:
    models, x, y = make_problem(n=10)
    acc = rank_accuracy(models, (x, y), [0, 1, 12], progress=False)
    spec = rank_spectrum(models, (x, y), n_steps=3, progress=False)
    _, ax = acc.plot(chance=0.2, use_pyplot=False)
    assert len(ax.get_lines()) == 5
    _, axes = spec.plot(method=None, use_pyplot=False)
    assert len(axes[0].get_lines()) >= 4
    _, axes = spec.plot(model="a", use_pyplot=False)
    assert len(axes[0].get_lines()) >= 2
    paths = write_report(tmp_path, AuditReport(acc, spec, {"data": "toy"}))
    for key in ("json", "html", "accuracy_png", "spectrum_png"):
        assert paths[key].is_file()
    page = (tmp_path / "index.html").read_text()
    assert "accuracy_vs_rank.png" in page and "rank_50" in page and "toy" in page
    table = format_table(AuditReport(acc, spec).rows())
    assert table.splitlines()[0].startswith("model") and len(table.splitlines()) == 3


# --- checkpoints and resuming ---------------------------------------------------------


_CHILD = """
import sys, torch
torch.set_num_threads(1)
sys.path.insert(0, {tests!r})
import test_audit
from captum_rank.audit import rank_accuracy
models, x, y = test_audit.make_problem(n=50, seed=5)
rank_accuracy(models, (x, y), [0, 1, 3, 12], batch_size=8, checkpoint={ckpt!r},
              progress=False)
"""


def test_resume_after_kill_equals_uninterrupted(tmp_path: Path) -> None:
    ckpt = tmp_path / "acc.ckpt"
    env = {**os.environ, TEST_KILL_ENV: "3", "OMP_NUM_THREADS": "1"}
    code = _CHILD.format(tests=str(Path(__file__).parent), ckpt=str(ckpt))
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    saved = json.loads(ckpt.read_text())
    assert saved["batches_done"] == 3 and not saved["complete"]
    assert not list(tmp_path.glob("*.tmp"))

    models, x, y = make_problem(n=50, seed=5)
    calls = {"n": 0}

    def hook(module: nn.Module, args: Any, output: Tensor) -> None:
        calls["n"] += 1

    handle = models["a"].register_forward_hook(hook)
    resumed = rank_accuracy(models, (x, y), [0, 1, 3, 12], batch_size=8, checkpoint=ckpt,
                            progress=False)
    handle.remove()
    # 7 batches, 3 done: 4 batches of 1 clean + 2 x 4 rank forward passes each.
    assert calls["n"] == 4 * 9
    fresh = rank_accuracy(models, (x, y), [0, 1, 3, 12], batch_size=8, progress=False)
    assert _strip(resumed) == _strip(fresh)
    assert json.loads(ckpt.read_text())["complete"]


def test_ctrl_c_keeps_completed_batches_and_resume_is_exact(tmp_path: Path) -> None:
    models, x, y = make_problem(n=20, seed=6)
    ckpt = tmp_path / "spec.ckpt"
    fresh = rank_spectrum(models, (x, y), n_steps=4, batch_size=4, progress=False)

    # Interrupt from a hook: a wrapper module would change the fingerprint of the run.
    state = {"left": 9}

    def hook(module: nn.Module, args: Any) -> None:
        state["left"] -= 1
        if state["left"] < 0:
            raise KeyboardInterrupt

    handle = models["b"].register_forward_pre_hook(hook)
    with pytest.raises(KeyboardInterrupt):
        rank_spectrum(models, (x, y), n_steps=4, batch_size=4, checkpoint=ckpt,
                      progress=False)
    handle.remove()
    saved = json.loads(ckpt.read_text())
    assert 0 < saved["batches_done"] < 5 and not saved["complete"]
    resumed = rank_spectrum(models, (x, y), n_steps=4, batch_size=4, checkpoint=ckpt,
                            progress=False)
    assert _strip(resumed) == _strip(fresh)


def test_finished_checkpoint_returns_without_work(tmp_path: Path) -> None:
    models, x, y = make_problem(n=12)
    ckpt = tmp_path / "done.ckpt"
    first = rank_accuracy(models, (x, y), [0, 2], batch_size=5, checkpoint=ckpt,
                          progress=False)

    def boom(module: nn.Module, args: Any) -> None:
        raise AssertionError("the model must not run again")

    handles = [m.register_forward_pre_hook(boom) for m in models.values()]
    again = rank_accuracy(models, (x, y), [0, 2], batch_size=5, checkpoint=ckpt,
                          progress=False)
    for h in handles:
        h.remove()
    assert _strip(again) == _strip(first)


def test_mismatched_checkpoint_is_ignored(tmp_path: Path) -> None:
    models, x, y = make_problem(n=12)
    ckpt = tmp_path / "c.ckpt"
    rank_accuracy(models, (x, y), [0, 2], batch_size=5, checkpoint=ckpt, progress=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        other = rank_accuracy(models, (x, y), [0, 3], batch_size=5, checkpoint=ckpt,
                              progress=False)
    assert any("different arguments" in str(w.message) for w in caught)
    assert other.ranks == [0, 3]
    assert _strip(other) == _strip(rank_accuracy(models, (x, y), [0, 3], batch_size=5,
                                                 progress=False))
    # Retrained weights are a different run too.
    with torch.no_grad():
        models["a"].fc.bias.add_(1.0)
    with pytest.warns(UserWarning, match="different arguments"):
        rank_accuracy(models, (x, y), [0, 3], batch_size=5, checkpoint=ckpt, progress=False)


def test_checkpoint_write_is_atomic_and_exact(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "x.ckpt"
    ckpt = Checkpoint(path, {"kind": "t"})
    values = np.array([0.1, 1 / 3, 1e-300, -2.5e17])
    ckpt.save(2, {"v": values, "n": np.array([3], dtype=np.int64)}, complete=False)
    done, sums, complete = ckpt.load()  # type: ignore[misc]
    assert done == 2 and not complete
    assert sums["v"].tobytes() == values.tobytes() and sums["n"].dtype == np.int64
    assert [p.name for p in path.parent.iterdir()] == ["x.ckpt"]
    path.write_text("{ not json")
    with pytest.warns(UserWarning, match="unreadable"):
        assert ckpt.load() is None


def test_data_source_by_index() -> None:
    x, y = torch.rand(7, 1, 4, 5), torch.arange(7)
    source = DataSource((x, y), batch_size=3)
    assert source.n_batches == 3 and source.rank == 4
    assert torch.equal(source.batch(2)[0], x[6:])
    with pytest.raises(AuditInputError, match="empty"):
        DataSource([], batch_size=2)
