"""Tests for captum_rank.audit: accuracy against rank, rank spectra, checkpoints, reports."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
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
    ExplainResult,
    RankAccuracyResult,
    RankSpectrumResult,
    audit,
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
from captum_rank.audit.checkpoint import key_path
from captum_rank.audit.spectrum import DEFAULT_ATTRIBUTIONS
from captum_rank.checks import UserInputError, UserTypeError

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
    data["meta"].pop("resumed from", None)  # a resumed result says so; its numbers are equal
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
    with pytest.raises(UserInputError, match="batch_size"):
        rank_accuracy(models, (x, y), [0], batch_size=0, progress=False)
    with pytest.raises(UserInputError, match="limit"):
        rank_accuracy(models, (x, y), [0], limit=0, progress=False)
    assert rank_accuracy(models, (x, y), [0], limit=np.int64(3), progress=False).n_images == 3
    assert issubclass(AuditInputError, UserInputError)


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
    chosen = {"rig": "sequential", "ig": "linear"}
    # exact=False: the quadrature path (the exact one is tested in test_exact_ranks.py).
    result = rank_spectrum(models, (x, y), n_steps=6, batch_size=5, progress=False,
                           attributions=chosen, method="gausslegendre", exact=False)
    assert result.n_images == 14 and sum(result.class_counts["a"].values()) == 14
    counts = np.bincount(y.numpy(), minlength=CLASSES).tolist()
    assert result.class_counts["a"] == {c: n for c, n in enumerate(counts) if n}
    for name, model in models.items():
        rig = RankIntegratedGradients(model)
        for attribution, schedule in chosen.items():
            ranks, delta = rig.attribute_ranks(x, target=y, n_steps=6, schedule=schedule,
                                               method="gausslegendre",
                                               return_convergence_delta=True)
            direct = ranks.double().sum(1)
            np.testing.assert_allclose(result.mean_spectrum(name, attribution),
                                       direct.mean(0).numpy(), rtol=1e-5, atol=1e-6)
            c = int(y[0])
            np.testing.assert_allclose(result.mean_spectrum(name, attribution, cls=c),
                                       direct[y == c].mean(0).numpy(), rtol=1e-5, atol=1e-6)
            assert result.mean_abs_delta(name, attribution) == pytest.approx(
                float(delta.abs().mean()), rel=1e-4, abs=1e-6)
            assert result.rank_explaining(name, 0.5, attribution) == rank_for_share(
                direct.mean(0).numpy(), 0.5)
            change = (direct.sum(1) - delta.double()).abs()
            # IG's error here is float32 rounding (about 6e-7 relative), which moves with
            # the batch split (5 per call against 14): compare at that floor, not below it.
            assert result.relative_error(name, attribution) == pytest.approx(
                float(delta.abs().sum() / change.sum()), rel=1e-4, abs=2e-6)
    summary = result.summary()
    assert set(summary) == {"a", "b"}
    assert set(summary["a"]["rig"]) == {
        "schedule", "exact", "rank_50", "rank_90", "mean_abs_delta", "relative_error",
        "over_reliability_tolerance", "reliable", "mean_total"}


def test_spectrum_errors() -> None:
    models, x, y = make_problem(n=6)
    with pytest.raises(AuditInputError, match="labels must lie"):
        rank_spectrum(models, (x, y + 10), n_steps=2, progress=False)
    with pytest.raises(UserInputError, match="n_steps"):
        rank_spectrum(models, (x, y), n_steps=0, progress=False)
    result = rank_spectrum(models["a"], (x, torch.zeros(6, dtype=torch.int64)), n_steps=2,
                           attributions={"rig": "sequential"}, progress=False)
    with pytest.raises(ValueError, match="no images"):
        result.mean_spectrum("model", "rig", cls=3)
    with pytest.raises(KeyError, match="unknown attribution"):
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


def test_report_writes_figures_html_and_json(tmp_path: Path) -> None:
    models, x, y = make_problem(n=10)
    acc = rank_accuracy(models, (x, y), [0, 1, 12], progress=False)
    spec = rank_spectrum(models, (x, y), n_steps=3, progress=False)
    names = [f"kind{c}" for c in range(CLASSES)]
    paths = write_report(tmp_path, AuditReport(acc, spec, {"data": "toy"}, class_names=names))
    for key in ("json", "html", "accuracy_png", "spectrum_png", "spectrum_by_class_png:a"):
        assert paths[key].is_file(), key
    page = (tmp_path / "index.html").read_text()
    assert "accuracy_vs_rank.png" in page and "k50" in page and "toy" in page
    assert "relative error" in page
    table = format_table(AuditReport(acc, spec).rows())
    assert table.splitlines()[0].startswith("model") and len(table.splitlines()) == 3
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))


# --- checkpoints and resuming ---------------------------------------------------------


_CHILD = """
import sys, time, torch
torch.set_num_threads(1)
sys.path.insert(0, {tests!r})
import test_audit
from captum_rank.audit import rank_accuracy
models, x, y = test_audit.make_problem(n=50, seed=5)
for model in models.values():  # slow enough for the parent to kill it mid-run
    model.register_forward_pre_hook(lambda module, args: time.sleep(0.05))
rank_accuracy(models, (x, y), [0, 1, 3, 12], batch_size=8, checkpoint={ckpt!r},
              progress=False)
"""


def test_resume_after_kill_from_outside_equals_uninterrupted(tmp_path: Path) -> None:
    # The library has no test hook: the test kills the process (SIGKILL, as a crash or an
    # out-of-memory kill would) from outside, with the checkpoint cadence users get.
    ckpt = tmp_path / "acc.ckpt"
    code = _CHILD.format(tests=str(Path(__file__).parent), ckpt=str(ckpt))
    proc = subprocess.Popen([sys.executable, "-c", code],
                            env={**os.environ, "OMP_NUM_THREADS": "1"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 900  # generous: importing torch on a busy machine
    done = 0
    while time.monotonic() < deadline and proc.poll() is None:
        if ckpt.is_file():
            try:
                done = json.loads(ckpt.read_text())["batches_done"]
            except (ValueError, KeyError):  # pragma: no cover - replace is atomic
                done = -1
            if done >= 2:
                proc.send_signal(signal.SIGKILL)
                break
        time.sleep(0.01)
    if proc.poll() is None:  # pragma: no cover - only when the deadline passed
        proc.kill()
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read() if proc.stderr else ""
    saved = json.loads(ckpt.read_text())
    done = saved["batches_done"]
    assert 2 <= done < 7 and not saved["complete"]
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))

    models, x, y = make_problem(n=50, seed=5)
    calls = {"n": 0}

    def hook(module: nn.Module, args: Any, output: Tensor) -> None:
        calls["n"] += 1

    handle = models["a"].register_forward_hook(hook)
    resumed = rank_accuracy(models, (x, y), [0, 1, 3, 12], batch_size=8, checkpoint=ckpt,
                            progress=False)
    handle.remove()
    # 7 batches; per batch 1 clean + 2 x 4 rank forward passes less the two end points that
    # equal the clean images (x_12 = x, x - x_0 = x), plus the up-front check of the model.
    assert calls["n"] == (7 - done) * 7 + 1
    fresh = rank_accuracy(models, (x, y), [0, 1, 3, 12], batch_size=8, progress=False)
    assert _strip(resumed) == _strip(fresh)
    assert json.loads(ckpt.read_text())["complete"]


def test_runner_reads_no_environment() -> None:
    import inspect

    from captum_rank.audit import _runner

    source = inspect.getsource(_runner)
    assert "environ" not in source and "kill" not in source


def test_ctrl_c_keeps_completed_batches_and_resume_is_exact(tmp_path: Path) -> None:
    models, x, y = make_problem(n=20, seed=6)
    ckpt = tmp_path / "spec.ckpt"
    fresh = rank_spectrum(models, (x, y), n_steps=4, batch_size=4, progress=False)

    # Interrupt from a hook: a wrapper module would change the fingerprint of the run.
    state = {"left": 3}

    def hook(module: nn.Module, args: Any) -> None:
        # Ctrl-C a little after the first batch's checkpoint is on disk.
        if ckpt.exists():
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

    calls = {"n": 0}

    def count(module: nn.Module, args: Any) -> None:
        calls["n"] += 1

    handles = [m.register_forward_pre_hook(count) for m in models.values()]
    again = rank_accuracy(models, (x, y), [0, 2], batch_size=5, checkpoint=ckpt,
                          progress=False)
    for h in handles:
        h.remove()
    assert calls["n"] == 2  # the up-front check of each model, nothing else
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


def _forge(ckpt: Path, edit: Any, key: bytes | None = None) -> None:
    """Edit a checkpoint and re-seal it: with an unkeyed SHA-256 (what anyone can compute)
    or, given ``key``, with a valid HMAC (a writer that has the key but a bug)."""
    blob = json.loads(ckpt.read_text())
    edit(blob)
    body = json.dumps({k: v for k, v in blob.items() if k != "hmac"}, sort_keys=True,
                      separators=(",", ":"))
    blob["hmac"] = (hmac.new(key, body.encode(), hashlib.sha256).hexdigest() if key
                    else hashlib.sha256(body.encode()).hexdigest())
    ckpt.write_text(json.dumps(blob))


def _claim_perfect_accuracy(blob: dict[str, Any]) -> None:
    n = blob["sums"]["n"]["data"][0]
    for name in ("clean", "low", "high"):
        blob["sums"][name]["data"] = [n] * len(blob["sums"][name]["data"])


def test_edited_checkpoint_with_a_recomputed_hash_cannot_change_the_result(
        tmp_path: Path) -> None:
    models, x, y = make_problem(n=12)
    ckpt = tmp_path / "c.ckpt"
    fresh = rank_accuracy(models, (x, y), [0, 2], batch_size=5, checkpoint=ckpt,
                          progress=False)
    _forge(ckpt, _claim_perfect_accuracy)
    with pytest.warns(UserWarning, match="fails its authentication"):
        again = rank_accuracy(models, (x, y), [0, 2], batch_size=5, checkpoint=ckpt,
                              progress=False)
    assert _strip(again) == _strip(fresh) and "resumed from" not in again.meta


def test_checkpoint_moved_to_another_run_is_not_trusted(tmp_path: Path) -> None:
    models, x, y = make_problem(n=12)
    ckpt = tmp_path / "c.ckpt"
    rank_accuracy(models, (x, y), [0, 2], batch_size=5, checkpoint=ckpt, progress=False)
    # Another data set's fingerprint pasted in: the MAC covers it.
    _forge(ckpt, lambda blob: blob.update(fingerprint="0" * 64))
    with pytest.warns(UserWarning, match="fails its authentication"):
        rank_accuracy(models, (x, y), [0, 2], batch_size=5, checkpoint=ckpt, progress=False)


def test_checkpoint_sums_that_break_their_invariants_are_refused(tmp_path: Path) -> None:
    models, x, y = make_problem(n=12)
    ckpt = tmp_path / "c.ckpt"
    fresh = rank_accuracy(models, (x, y), [0, 2], batch_size=5, checkpoint=ckpt,
                          progress=False)
    key = key_path().read_text().strip().encode()
    edits = [
        lambda b: b["sums"]["n"].update(data=[99]),  # more images than the batches hold
        lambda b: b["sums"]["clean"]["data"].__setitem__(0, 13),  # more correct than images
        lambda b: b["sums"]["low"]["data"].__setitem__(0, -1),
        lambda b: b["sums"]["svd_s"].update(data=[float("nan")]),
        lambda b: b.update(batches_done=7),
    ]
    for edit in edits:
        rank_accuracy(models, (x, y), [0, 2], batch_size=5, checkpoint=ckpt, progress=False)
        _forge(ckpt, edit, key)
        with pytest.warns(UserWarning, match="invariants"):
            again = rank_accuracy(models, (x, y), [0, 2], batch_size=5, checkpoint=ckpt,
                                  progress=False)
        assert _strip(again) == _strip(fresh)


def test_resumed_audit_says_so_and_the_report_records_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    models, x, y = make_problem(n=12)
    ckpt = tmp_path / "c.ckpt"
    first = audit(models, (x, y), ranks=[0, 2], spectrum_images=0, batch_size=5,
                  checkpoint=ckpt, progress=False)
    assert "resumed from" not in first.meta
    capsys.readouterr()
    again = audit(models, (x, y), ranks=[0, 2], spectrum_images=0, batch_size=5,
                  checkpoint=ckpt, progress=False)
    assert f"resumed from {ckpt} (3 of 3 batches, 12 images)" in capsys.readouterr().err
    assert again.meta["resumed from"].startswith(str(ckpt))
    written = write_report(tmp_path / "out", again)
    assert "resumed from" in written["html"].read_text()
    assert "resumed from" in json.loads(written["json"].read_text())["meta"]


def test_checkpoint_key_lives_outside_the_checkpoint_and_is_private(tmp_path: Path) -> None:
    models, x, y = make_problem(n=6)
    ckpt = tmp_path / "c.ckpt"
    rank_accuracy(models, (x, y), [0, 2], batch_size=5, checkpoint=ckpt, progress=False)
    key = key_path()
    assert key.is_file() and key.parent != ckpt.parent
    assert key.stat().st_mode & 0o777 == 0o600 and key.parent.stat().st_mode & 0o077 == 0
    assert key.read_text().strip() not in ckpt.read_text()


# --- models against data, checked up front -------------------------------------------


def test_model_that_does_not_take_the_data_fails_before_any_work() -> None:
    models, _, _ = make_problem(n=4)
    colour = torch.rand(6, 3, 20, 20)
    calls = {"n": 0}

    def count(module: nn.Module, args: Any) -> None:
        calls["n"] += 1

    models["a"].register_forward_pre_hook(count)
    with pytest.raises(UserInputError, match=r"cannot take the data's images of shape \(3, 20"):
        rank_accuracy(models, (colour, torch.zeros(6, dtype=torch.int64)), [0], progress=False)
    assert calls["n"] == 1
    with pytest.raises(UserInputError, match="cannot take"):
        rank_spectrum(models, (colour, torch.zeros(6, dtype=torch.int64)), progress=False)


@pytest.mark.parametrize(
    ("output", "message"),
    [
        (lambda x: x.sum(), "must return"),
        (lambda x: (x.flatten(1)[:, :3], None), "must return"),
        (lambda x: x.flatten(1)[:1, :3], "must return"),
        (lambda x: x.flatten(1)[:, :6].reshape(-1, 3, 2), "must return"),
        (lambda x: x.flatten(1)[:, :3] * float("nan"), "NaN"),
    ],
)
def test_model_outputs_of_the_wrong_form_are_refused(output: Any, message: str) -> None:
    x, y = torch.rand(4, 1, 6, 6), torch.zeros(4, dtype=torch.int64)
    with pytest.raises(UserInputError, match=message):
        rank_accuracy(output, (x, y), [0], progress=False)


def test_output_width_must_match_the_data_classes() -> None:
    models, x, y = make_problem(n=6)
    with pytest.raises(UserInputError, match="returns 5 class scores per image but the data "
                                             "has 10 classes"):
        rank_accuracy(models, (x, y), [0], progress=False, num_classes=10)
    assert rank_accuracy(models, (x, y), [0], progress=False, num_classes=5).n_images == 6


def test_unlabelled_images_are_judged_against_the_models_own_prediction() -> None:
    models, x, _ = make_problem(n=9)
    unlabelled = torch.full((9,), -1, dtype=torch.int64)
    result = rank_accuracy(models, (x, unlabelled), [0, 3, SIZE], progress=False)
    assert result.n_unlabelled == 9
    for name, model in models.items():
        assert result.clean_accuracy()[name] == 1.0
        with torch.no_grad():
            own = model(x).argmax(1)
            expected = int((model(low_rank(x, 3)).argmax(1) == own).sum())
        assert result.low_rank_correct[name][1] == expected
    spec = rank_spectrum(models, (x, unlabelled), n_steps=3, progress=False)
    with torch.no_grad():
        own_a = models["a"](x).argmax(1)
    assert spec.class_counts["a"] == {int(c): int((own_a == c).sum())
                                      for c in own_a.unique()}


# --- reliability: completeness error relative to the output change ----------------------


def test_reliability_flag_in_summary_json_and_html(tmp_path: Path) -> None:
    models, x, y = make_problem(n=8)
    # A tolerance no quadrature reaches on a nonlinear model marks every summary unreliable;
    # a generous one marks them reliable.
    # (exact=False: RIG's exact spectra have no quadrature error to flag.)
    strict = rank_spectrum(models, (x, y), n_steps=2, progress=False, reliability_tolerance=1e-12,
                           exact=False)
    loose = rank_spectrum(models, (x, y), n_steps=2, progress=False, reliability_tolerance=1e6,
                          exact=False)
    for model in models:
        for attribution in strict.attributions:
            assert strict.relative_error(model, attribution) > 1e-12
            assert not strict.reliable(model, attribution)
            assert loose.reliable(model, attribution)
            assert strict.over_reliability_tolerance[attribution][model] == 8
    data = json.loads(strict.to_json())
    assert data["summary"]["a"]["rig"]["reliable"] is False
    rows = AuditReport(None, strict).rows()
    assert str(rows[0]["rig k50"]).endswith("*")
    write_report(tmp_path, AuditReport(None, strict))
    assert ">NO<" in (tmp_path / "index.html").read_text()
    # An affine model is integrated exactly by IG: reliable at any tolerance.
    affine = nn.Sequential(nn.Flatten(), nn.Linear(SIZE * SIZE, CLASSES))
    exact = rank_spectrum(affine, (x, y), n_steps=2, progress=False, reliability_tolerance=1e-4,
                          attributions={"ig": "linear"})
    assert exact.reliable("model", "ig")


def test_attributions_are_named_by_the_caller_not_hard_coded(tmp_path: Path) -> None:
    models, x, y = make_problem(n=6)
    chosen = {"slow": "sequential", "plain": "linear", "fast": "arc_length"}
    spec = rank_spectrum(models, (x, y), n_steps=3, attributions=chosen, progress=False)
    assert list(spec.attributions) == list(chosen)
    row = AuditReport(None, spec).rows()[0]
    assert {"slow k50", "plain k90", "fast rel.err"} <= set(row)
    write_report(tmp_path, AuditReport(None, spec))
    page = (tmp_path / "index.html").read_text()
    assert "slow (sequential)" in page and "plain (IG)" in page


def test_default_rig_method_uses_the_library_default_schedule() -> None:
    import inspect

    from captum_rank.audit.spectrum import default_method, default_schedule

    parameters = inspect.signature(RankIntegratedGradients.attribute_ranks).parameters
    models, x, y = make_problem(n=4)
    spec = rank_spectrum(models, (x, y), n_steps=2, progress=False)
    assert spec.attributions["rig"] == default_schedule() == str(parameters["schedule"].default)
    # RIG's default rule on rank paths; the audit passes it to every attribution explicitly.
    assert parameters["method"].default is None
    assert spec.method == default_method() == "adaptive"
    assert DEFAULT_ATTRIBUTIONS["rig"] is None


def test_results_are_data_without_plotting_imports() -> None:
    # Captum itself imports matplotlib; what matters is that the result modules do not
    # plot: no matplotlib or captum_rank.visualization import anywhere in them.
    import ast
    import inspect

    from captum_rank.audit import accuracy, explain, pipeline, spectrum

    for module in (accuracy, spectrum, explain, pipeline):
        tree = ast.parse(inspect.getsource(module))
        imported = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                    for alias in node.names]
        imported += [node.module or "" for node in ast.walk(tree)
                     if isinstance(node, ast.ImportFrom)]
        assert not [m for m in imported if m.startswith(("matplotlib",
                                                          "captum_rank.visualization"))]
        for name in ("RankAccuracyResult", "RankSpectrumResult", "ExplainResult"):
            assert not hasattr(getattr(module, name, None), "plot")


def test_one_atomic_json_writer(tmp_path: Path) -> None:
    from captum_rank.audit import _jsonio

    target = tmp_path / "x.json"
    _jsonio.write_json(target, {"a": [1, 2]})
    assert json.loads(target.read_text()) == {"a": [1, 2]}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]

    class Boom:
        def __str__(self) -> str:
            raise RuntimeError("cannot serialise")

    with pytest.raises(RuntimeError):
        _jsonio.write_json(target, {"a": Boom()})
    assert json.loads(target.read_text()) == {"a": [1, 2]}  # the old file is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]


# --- loading: data, subsets, image folders ------------------------------------------------


def test_limit_takes_a_stratified_seeded_subset() -> None:
    from captum_rank.audit.loading import load_data, subset_indices

    labels = torch.arange(10).repeat_interleave(20)  # class-sorted, like the sample
    index, how = subset_indices(labels, 20, seed=0)
    assert torch.bincount(labels[index]).tolist() == [2] * 10
    assert "stratified" in how and "seed 0" in how
    again, _ = subset_indices(labels, 20, seed=0)
    other, _ = subset_indices(labels, 20, seed=1)
    assert torch.equal(index, again) and not torch.equal(index, other)
    loaded = load_data("sample", limit=20)
    assert torch.bincount(loaded.labels).tolist() == [2] * 10
    assert "stratified random subset (seed 0) of 20 of 200" in loaded.description


def _write_images(folder: Path, n: int, size: tuple[int, int] = (48, 40)) -> list[Path]:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(str(folder)))
    paths = []
    for i in range(n):
        path = folder / f"img{i}.png"
        Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


class Colour224(nn.Module):
    """A tiny random-weight stand-in for a 3 x 224 x 224 ImageNet-sized classifier."""

    input_shape = (3, 224, 224)

    def __init__(self, classes: int = 4) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 8, stride=8)
        self.fc = nn.Linear(2 * 28 * 28, classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(torch.tanh(self.conv(x)).flatten(1))


def test_image_folder_with_class_subfolders_and_flat(tmp_path: Path) -> None:
    from torchvision.datasets import ImageFolder

    from captum_rank.audit.loading import ImageFiles, load_data

    for name in ("cat", "dog"):
        _write_images(tmp_path / "classes" / name, 3)
    (tmp_path / "classes" / ".thumbnails").mkdir()  # hidden: not a class
    loaded = load_data(str(tmp_path / "classes"), shape=(3, 224, 224))
    assert isinstance(loaded.data, ImageFolder) and len(loaded.data) == 6
    assert loaded.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert loaded.class_names == ["cat", "dog"] and loaded.num_classes == 2
    image, label = loaded.data[4]
    assert tuple(image.shape) == (3, 224, 224) and label == 1
    # Folders named after the model's own classes map to those classes.
    named = load_data(str(tmp_path / "classes"), shape=(3, 224, 224),
                      model_classes=["bird", "dog", "cat"])
    assert named.labels.tolist() == [2, 2, 2, 1, 1, 1] and named.num_classes is None
    _write_images(tmp_path / "flat", 4)
    flat = load_data(str(tmp_path / "flat"), shape=(1, 28, 28))
    assert flat.labels.tolist() == [-1] * 4 and tuple(flat.data[0][0].shape) == (1, 28, 28)
    assert isinstance(flat.data, ImageFiles)
    assert "own predictions" in flat.description
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserInputError, match="holds no images"):
        load_data(str(tmp_path / "empty"))


def test_symlink_loops_in_a_data_folder_count_each_image_once(tmp_path: Path) -> None:
    from captum_rank.audit.loading import load_data

    for name in ("cat", "dog"):
        _write_images(tmp_path / "classes" / name, 2)
    os.symlink("..", tmp_path / "classes" / "cat" / "loop")  # cat/loop/cat/loop/...
    os.symlink(tmp_path / "classes" / "dog" / "img0.png", tmp_path / "classes" / "cat" / "x.png")
    with pytest.warns(UserWarning, match="reached twice through symbolic links"):
        loaded = load_data(str(tmp_path / "classes"), shape=(3, 8, 8))
    assert len(loaded.data) == 4 and loaded.labels.tolist().count(1) == 1
    _write_images(tmp_path / "flat", 2)
    os.symlink(tmp_path / "flat" / "img0.png", tmp_path / "flat" / "copy.png")
    with pytest.warns(UserWarning, match="symbolic links to images already listed"):
        assert len(load_data(str(tmp_path / "flat"), shape=(1, 8, 8)).data) == 2


def test_audit_on_a_3x224_model_and_image_folder_streams(tmp_path: Path) -> None:
    from captum_rank.audit import audit
    from captum_rank.audit.loading import load_data

    for name in ("a", "b", "c", "d"):
        _write_images(tmp_path / name, 2, size=(300, 260))
    loaded = load_data(str(tmp_path), shape=(3, 224, 224))
    torch.manual_seed(0)
    model = Colour224().eval()
    sizes: list[int] = []
    model.register_forward_pre_hook(lambda module, args: sizes.append(args[0].shape[0]))
    report = audit({"c224": model}, loaded.data, labels=loaded.labels, ranks=[0, 8, 224],
                   spectrum_images=4, n_steps=2, batch_size=3, spectrum_batch_size=2,
                   internal_batch_size=2, num_classes=loaded.num_classes, progress=False)
    assert report.accuracy is not None and report.spectrum is not None
    assert report.accuracy.n_images == 8 and report.accuracy.r == 224
    assert report.spectrum.n_images == 4 and report.spectrum.r == 224
    assert max(sizes) <= 3  # never more than one batch of images in memory
    with pytest.raises(UserInputError, match="returns 4 class scores per image but the data "
                                             "has 3 classes"):
        audit({"c224": model}, (torch.rand(3, 3, 224, 224), torch.arange(3)), num_classes=3,
              progress=False)


def test_model_file_importing_a_sibling_garbage_weights_and_factories(tmp_path: Path) -> None:
    from captum_rank.audit.loading import load_model

    (tmp_path / "blocks.py").write_text(
        "from torch import nn\n\ndef head():\n    return nn.Linear(4, 2)\n")
    (tmp_path / "net.py").write_text(
        "from torch import nn\nfrom blocks import head\n\n"
        "class Net(nn.Sequential):\n    def __init__(self):\n"
        "        super().__init__(nn.Flatten(), head())\n\n"
        "def broken():\n    raise RuntimeError('no GPU here')\n\n"
        "def needs(width):\n    return Net()\n")
    name, model = load_model(f"{tmp_path / 'net.py'}:Net")
    assert name == "Net" and not model.training
    with pytest.raises(UserInputError, match="raised RuntimeError: no GPU here"):
        load_model(f"{tmp_path / 'net.py'}:broken")
    with pytest.raises(UserInputError, match="without arguments"):
        load_model(f"{tmp_path / 'net.py'}:needs")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(os.urandom(2000))
    with pytest.raises(UserInputError, match=r"not a PyTorch weights file.*state_dict"):
        load_model(f"{tmp_path / 'net.py'}:Net", garbage)
    whole = tmp_path / "whole.pt"
    torch.save(nn.Linear(4, 2), whole)
    with pytest.raises(UserInputError,
                       match=r"whole pickled object.*torch.save\(model.state_dict\(\), path\)"):
        load_model(f"{tmp_path / 'net.py'}:Net", whole)
    good = tmp_path / "good.pt"
    torch.save(model.state_dict(), good)
    assert load_model(f"{tmp_path / 'net.py'}:Net", good)[0] == "Net"


# --- explain --------------------------------------------------------------------------------


def test_explain_on_a_3x224_stand_in(tmp_path: Path) -> None:
    from captum_rank.audit import explain

    torch.manual_seed(1)
    model = Colour224().eval()
    x = torch.rand(2, 3, 224, 224)
    result = explain({"c224": model}, x, n_steps=2, internal_batch_size=2,
                     class_names=["w", "x", "y", "z"], names=["p", "q"])
    item = result.items["c224"][0]
    with torch.no_grad():
        probs = model(x).softmax(1)
    assert item["prediction"] == int(probs[0].argmax())
    assert item["prediction_name"] == "wxyz"[item["prediction"]]
    assert item["probability"] == pytest.approx(float(probs[0].max()), rel=1e-5)
    assert len(item["attributions"]["rig"]["spectrum"]) == 224
    assert result.maps["c224"]["ig"].shape == (2, 3, 224, 224)
    walk = result.path["c224"]
    assert walk["ranks"][0] == 0 and walk["ranks"][-1] == 224
    assert walk["probabilities"][-1] == pytest.approx(float(probs[0, walk["target"]]),
                                                      rel=1e-4)
    write_report(tmp_path, AuditReport(None, None, explanation=result))
    for name in ("explain_00_p.png", "explain_01_q.png", "explain_spectrum.png",
                 "rank_path_c224.png"):
        assert (tmp_path / name).is_file(), name
    with pytest.raises(UserInputError, match="target"):
        explain(model, x, target=7, n_steps=2)


def test_explain_walks_the_rank_path_of_rank_path_s_default_ranks() -> None:
    # One default for every rank path shown, and the points are x' + low_rank(x - x', k).
    from captum_rank.audit import explain
    from captum_rank.audit.explain import default_path_ranks as audit_default
    from captum_rank.rank_path import default_path_ranks

    assert audit_default is default_path_ranks
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 3)).double().eval()
    x = torch.rand(2, 1, 28, 28, dtype=torch.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # maps unconverged at 2 steps: not what is tested
        result = explain(model, x, n_steps=2, baseline=0.25, path_image=1,
                         attributions={"ig": "linear"})
    walk = result.path["model"]
    assert walk["ranks"] == default_path_ranks(28) == [0, 1, 2, 3, 5, 9, 16, 28]
    with torch.no_grad():
        oracle = [float(model(0.25 + low_rank(x[1:] - 0.25, k)).softmax(1)[0, walk["target"]])
                  for k in walk["ranks"]]
    assert walk["probabilities"] == pytest.approx(oracle, rel=1e-9, abs=1e-12)


def test_explain_refines_maps_to_map_tolerance_and_reports_their_error(tmp_path: Path) -> None:
    from captum_rank.audit import explain

    models, x, _ = make_problem(n=3, seed=4)
    model = models["a"]
    result = explain(model, x, n_steps=400, map_tolerance=0.05)
    rig = RankIntegratedGradients(model)
    for i, item in enumerate(result.items["model"]):
        for attribution, vals in item["attributions"].items():
            assert vals["map_converged"] and vals["map_error"] <= 0.05
            assert 9 <= vals["evaluations"] < 400
            # The estimate is a bound in practice: the map is within it of a fine map.
            schedule = {"rig": "arc_length", "ig": "linear"}[attribution]
            fine = rig.attribute(x[i:i + 1], target=item["target"], n_steps=800,
                                 method="riemann_trapezoid", schedule=schedule)
            shown = torch.as_tensor(result.maps["model"][attribution][i:i + 1])
            assert float((shown - fine).norm() / fine.norm()) <= 0.05
    assert result.unconverged_maps() == []
    again = ExplainResult.from_json(result.to_json())
    assert again.map_tolerance == 0.05 and again.items == result.items


def test_explain_passes_rig_options_to_every_map_and_records_them() -> None:
    from captum_rank.audit import explain

    models, x, _ = make_problem(n=2, seed=5)
    model = models["a"]
    keywords: dict[str, Any] = dict(n_steps=16, map_tolerance=0.0,
                                    attributions={"rig": "sequential"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 16 steps: maps unconverged, not what is tested
        plain = explain(model, x, **keywords)
        averaged = explain(model, x, rig_options={"form": "averaged"}, **keywords)
    rig = RankIntegratedGradients(model)
    targets = [item["target"] for item in averaged.items["model"]]
    # The oracle: RIG itself with the same options, and the option changes the map.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        oracle = rig.attribute(x, target=targets, n_steps=16, schedule="sequential",
                               method="adaptive", map_tolerance=0.0, form="averaged")
    shown = torch.as_tensor(averaged.maps["model"]["rig"])
    assert torch.allclose(shown, oracle, rtol=1e-5, atol=1e-7)
    assert not torch.allclose(torch.as_tensor(plain.maps["model"]["rig"]), shown)
    assert averaged.rig_options == {"form": "averaged"} and plain.rig_options == {}
    assert ExplainResult.from_json(averaged.to_json()).rig_options == {"form": "averaged"}


def test_every_rig_option_passes_through_explain() -> None:
    # A new RigOptions field reaches explain (and --rig-option) with no edit there.
    from dataclasses import fields

    from captum_rank.audit._attributions import AUDIT_SET_OPTIONS, check_rig_options
    from captum_rank.options import RigOptions

    defaults = RigOptions()
    free = [f.name for f in fields(RigOptions) if f.name not in AUDIT_SET_OPTIONS]
    assert free, "every option is set by the audit itself"
    for name in free:
        value = getattr(defaults, name)
        assert check_rig_options({name: value}) == {name: value}
    assert set(AUDIT_SET_OPTIONS) <= {f.name for f in fields(RigOptions)}


@pytest.mark.parametrize(("options", "error", "named"), [
    ({"n_steps": 8}, UserInputError, "`n_steps`"),
    ({"schedule": "linear"}, UserInputError, "`attributions`"),
    ({"tolerence": 0.1}, UserTypeError, "tolerence"),
    ({"tolerance": -1.0}, UserInputError, "tolerance"),
    ([("tolerance", 0.1)], UserTypeError, "`rig_options`"),
])
def test_explain_refuses_bad_rig_options_before_any_model_runs(
        options: Any, error: type[Exception], named: str) -> None:
    from captum_rank.audit import explain

    calls = []
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    model.register_forward_hook(lambda *_: calls.append(1))
    with pytest.raises(error, match=named):
        explain(model, torch.rand(1, 1, 4, 4), n_steps=4, rig_options=options)
    assert calls == []


def test_explain_records_the_exact_rank_spectrum(tmp_path: Path) -> None:
    from captum_rank.audit import explain

    models, x, _ = make_problem(n=3, seed=5)
    model = models["b"]
    result = explain(model, x, n_steps=16, internal_batch_size=7)
    rig = RankIntegratedGradients(model)
    spectra = result.exact_spectra()["model"]
    assert spectra.shape == (3, SIZE)
    for i, item in enumerate(result.items["model"]):
        # Oracle: the model's outputs on the rank-k approximations, differenced.
        ks = [low_rank(x[i], k) for k in range(SIZE + 1)]
        with torch.no_grad():
            outputs = model(torch.stack(ks))[:, item["target"]].double()
        np.testing.assert_allclose(spectra[i], outputs.diff().numpy(), rtol=1e-4, atol=1e-5)
        direct = rig.exact_ranks(x[i:i + 1], target=item["target"])
        np.testing.assert_allclose(item["exact"]["spectrum"], direct.flatten().numpy(),
                                   rtol=1e-5, atol=1e-6)
        assert item["exact"]["rank_90"] == rank_for_share(spectra[i], 0.9)
    write_report(tmp_path, AuditReport(None, None, explanation=result))
    assert "exact k50" in (tmp_path / "index.html").read_text()
    assert explain(model, x, n_steps=4, exact=False).exact_spectra() == {}
    with pytest.raises(TypeError, match="exact"):
        explain(model, x, n_steps=4, exact="yes")  # type: ignore[arg-type]


def test_explain_marks_and_does_not_draw_unconverged_maps(tmp_path: Path) -> None:
    from captum_rank.audit import explain

    models, x, _ = make_problem(n=2, seed=4)
    with pytest.warns(UserWarning, match=r"map\(s\) did not converge to map_tolerance=1e-06"):
        result = explain(models["a"], x, n_steps=6, map_tolerance=1e-6)
    missed = result.unconverged_maps()
    assert len(missed) == 4 and all(err > 1e-6 for *_, err in missed)
    assert all(not v["map_converged"] and v["evaluations"] == 6
               for item in result.items["model"] for v in item["attributions"].values())
    write_report(tmp_path, AuditReport(None, None, explanation=result))
    page = (tmp_path / "index.html").read_text()
    assert "map err" in page and "not drawn" in page
    # A fixed rule's map error comes from a second run at half the evaluations.
    fixed = explain(models["a"], x, n_steps=64, method="gausslegendre")
    for item in fixed.items["model"]:
        for vals in item["attributions"].values():
            assert vals["evaluations"] == 96 and 0 < vals["map_error"] < 0.1


def test_explain_the_real_imagenet_model_on_a_photo() -> None:
    from captum_rank import zoo
    from captum_rank.audit import explain
    from captum_rank.data import load_photos

    try:
        model = zoo.load("imagenet-efficientnet-lite0")
        photos = load_photos(size=224, sources=["foolbox"])
    except (UserInputError, ImportError, OSError) as err:
        pytest.skip(f"the ImageNet model or photos are not installed: {err}")
    index = 0
    result = explain(model, photos.images[index:index + 1], n_steps=2, internal_batch_size=2,
                     class_names=zoo.class_names("imagenet-efficientnet-lite0"),
                     path_ranks=[0, 224])
    item = result.items["model"][0]
    assert item["prediction_name"] == zoo.class_names("imagenet-efficientnet-lite0")[
        item["prediction"]]
    assert 0 < item["probability"] <= 1
    for values in item["attributions"].values():
        assert np.isfinite(values["relative_error"]) and len(values["spectrum"]) == 224


def test_domain_note_for_a_colour_photo_on_a_grey_model() -> None:
    from captum_rank.audit.loading import image_domain_note

    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (400, 500, 3), dtype=np.uint8)
    note = image_domain_note(photo, (1, 28, 28), "fmnist-natural")
    assert note is not None and "colour" in note and "fmnist-natural" in note
    grey = np.repeat(rng.integers(0, 256, (28, 28, 1), dtype=np.uint8), 3, axis=2)
    assert image_domain_note(grey, (1, 28, 28), "fmnist-natural") is None
    assert image_domain_note(photo, (3, 224, 224), "imagenet") is None


def test_library_errors_name_arguments_not_command_line_flags() -> None:
    import inspect
    import re

    from captum_rank.audit import _models, accuracy, explain, loading, pipeline, ranks, spectrum

    for module in (_models, accuracy, explain, loading, pipeline, ranks, spectrum):
        assert not re.search(r"[\"'f]\S*--[a-z]", inspect.getsource(module)), module.__name__


# --- issue 17: a changed setting is named, the one input layer, skipped images ------------

def test_changed_n_steps_is_named_in_the_checkpoint_warning(tmp_path: Path) -> None:
    models, x, y = make_problem(n=6)
    ckpt = tmp_path / "s.ckpt"
    chosen = {"ig": "linear"}
    rank_spectrum(models, (x, y), n_steps=2, batch_size=3, attributions=chosen,
                  method="gausslegendre", checkpoint=ckpt, progress=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rank_spectrum(models, (x, y), n_steps=3, batch_size=3, attributions=chosen,
                      method="gausslegendre", checkpoint=ckpt, progress=False)
    text = " ".join(str(w.message) for w in caught if "checkpoint" in str(w.message))
    assert "different arguments: n_steps (--n-steps): 2 in the checkpoint, 3 now;" in text
    # Only what changed is named, and the way forward is said.
    assert "batch" not in text and "ranks" not in text and "models" not in text
    assert "To resume it instead, rerun with the checkpoint's values" in text


def test_changed_ranks_and_weights_are_named_without_digests(tmp_path: Path) -> None:
    models, x, y = make_problem(n=6)
    ckpt = tmp_path / "a.ckpt"
    rank_accuracy(models, (x, y), [0, 2], batch_size=3, checkpoint=ckpt, progress=False)
    with torch.no_grad():
        models["a"].fc.bias.add_(1.0)
    with pytest.warns(UserWarning) as caught:
        rank_accuracy(models, (x, y), [0, 3], batch_size=3, checkpoint=ckpt, progress=False)
    text = str(caught[0].message)
    assert "ranks (--ranks): [0, 2] in the checkpoint, [0, 3] now" in text
    assert "models (--model/--weights): the models' weights or classes differ" in text
    assert "batch_size" not in text


def test_fit_image_is_gone_and_fit_to_is_the_input_layer() -> None:
    import captum_rank.audit.loading as loading
    from captum_rank.data import to_model_input

    assert not hasattr(loading, "fit_image") and "fit_image" not in loading.__all__
    photo = np.random.default_rng(0).integers(0, 256, (45, 61, 3), dtype=np.uint8)
    torch.testing.assert_close(loading.fit_to((1, 20, 24))(photo),
                               to_model_input(photo, (20, 24), channels=1), rtol=0, atol=0)
    with pytest.raises(UserInputError, match="`shape`"):
        loading.fit_to((2, 8, 8))


def test_16_bit_and_float_image_files_through_load_images(tmp_path: Path) -> None:
    from PIL import Image

    from captum_rank.audit.loading import load_images

    scan = tmp_path / "scan16.png"
    Image.fromarray(np.full((40, 30), 16384, np.uint16)).save(scan)  # a 16-bit PNG
    depth = tmp_path / "depth.tif"
    Image.fromarray(np.full((40, 30), 0.75, np.float32)).save(depth)  # mode "F"
    batch, _ = load_images([scan, depth], (1, 28, 28))
    torch.testing.assert_close(batch[0], torch.full((1, 28, 28), 16384 / 65535), rtol=0,
                               atol=1e-6)
    torch.testing.assert_close(batch[1], torch.full((1, 28, 28), 0.75), rtol=0, atol=1e-6)
    far = tmp_path / "far.tif"
    Image.fromarray(np.full((8, 8), -3.0, np.float32)).save(far)
    with pytest.raises(UserInputError, match=r"image '.*far\.tif': `image` is a float"):
        load_images([scan, far], (1, 28, 28))


@pytest.mark.parametrize("classes", [True, False])
def test_load_data_skip_bad_images(tmp_path: Path, classes: bool) -> None:
    from PIL import Image

    from captum_rank.audit.loading import load_data

    folders = [tmp_path / "cat", tmp_path / "dog"] if classes else [tmp_path]
    for folder in folders:
        folder.mkdir(exist_ok=True)
        for i in range(2):
            Image.fromarray(np.zeros((9, 9, 3), np.uint8)).save(folder / f"{i}.png")
    bad = folders[-1] / "9.png"
    bad.write_text("no")
    strict = load_data(str(tmp_path), shape=(3, 8, 8))
    with pytest.raises(UserInputError, match=r"9\.png.*skip_bad_images=True.*--skip-bad"):
        [strict.data[i] for i in range(len(strict.labels))]
    loaded = load_data(str(tmp_path), shape=(3, 8, 8), skip_bad_images=True)
    assert [s["file"] for s in loaded.skipped] == [str(bad)]
    assert len(loaded.data) == len(loaded.labels) == 2 * len(folders)
    assert "1 unreadable files skipped" in loaded.description
    assert all(loaded.data[i][0].shape == (3, 8, 8) for i in range(len(loaded.labels)))
    with pytest.raises(UserInputError, match="skip_bad_images"):
        load_data(str(tmp_path), skip_bad_images="yes")  # type: ignore[arg-type]


def test_unwritable_checkpoint_fails_before_the_first_batch() -> None:
    models, x, y = make_problem(n=6)
    calls = {"n": 0}

    def count(module: nn.Module, args: Any) -> None:
        calls["n"] += 1

    handles = [m.register_forward_pre_hook(count) for m in models.values()]
    try:
        with pytest.raises(UserInputError, match=r"`checkpoint`: cannot create files in '/proc'"):
            rank_accuracy(models, (x, y), [0, 2], batch_size=3, checkpoint="/proc/x.ckpt",
                          progress=False)
    finally:
        for h in handles:
            h.remove()
    assert calls["n"] <= len(models)  # at most the up-front check of each model


# --- images read from files: bombs, special files, EXIF, one path --------------------


def test_read_image_and_load_images_refuse_bombs_and_special_files(tmp_path: Path) -> None:
    import struct
    import zlib

    from captum_rank.audit.loading import load_images, read_image

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(b"\x89PNG\r\n\x1a\n"
                     + chunk(b"IHDR", struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b""))
    for call in (lambda: read_image(bomb), lambda: load_images([bomb])):
        with pytest.raises(UserInputError, match="decompression bomb"):
            call()
    os.mkfifo(tmp_path / "fifo")
    for special in (tmp_path / "fifo", "/dev/zero"):
        with pytest.raises(UserInputError, match="not a regular file"):
            read_image(special)


def test_load_images_applies_exif_rotation_and_takes_one_path(tmp_path: Path) -> None:
    from PIL import Image

    from captum_rank.audit.loading import load_images

    # Stored 40 wide x 20 high, left half white; EXIF orientation 6: shown rotated 90
    # degrees clockwise, so upright it is 20 wide x 40 high with the top half white.
    pixels = np.zeros((20, 40), dtype=np.uint8)
    pixels[:, :20] = 255
    image = Image.fromarray(pixels)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "photo.jpg"
    image.save(path, exif=exif.tobytes(), quality=100)
    batch, _ = load_images(str(path), shape=(1, 40, 20))
    assert tuple(batch.shape) == (1, 1, 40, 20)
    upright = batch[0, 0]
    assert float(upright[:18].mean()) > 0.9 and float(upright[22:].mean()) < 0.1


def test_audit_warns_about_images_in_0_255_and_refuses_in_place_models() -> None:
    models, x, y = make_problem(n=6)
    with pytest.warns(UserWarning, match="8-bit pixels"):
        rank_accuracy(models, ((x * 255).round(), y), [0, 2], progress=False)

    class Scales(nn.Module):
        def forward(self, images: Tensor) -> Tensor:
            images.data.mul_(0.5)
            return images.flatten(1)[:, :3]

    original = x.clone()
    with pytest.raises(UserInputError, match="changed `data` in place"):
        rank_accuracy(Scales(), (x, y), [0, 2], progress=False)
    assert torch.equal(x, original)


def test_load_images_reads_a_folder_as_a_clear_error(tmp_path: Path) -> None:
    from captum_rank.audit.loading import load_images

    with pytest.raises(UserInputError, match="is a folder, not an image file"):
        load_images([tmp_path])
