"""The audit sharded over two gloo processes gives the single-process answer."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from captum_rank.audit import (
    RankAccuracyResult,
    RankSpectrumResult,
    Shard,
    current_shard,
    rank_accuracy,
    rank_spectrum,
)

pytestmark = pytest.mark.skipif(
    not dist.is_available() or not dist.is_gloo_available(), reason="needs torch.distributed gloo"
)

RANKS = [0, 1, 2, 5, 12]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _worker(rank: int, world_size: int, port: int, out: str, tests: str) -> None:
    torch.set_num_threads(1)
    sys.path.insert(0, tests)
    import test_audit

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world_size)
    try:
        models, x, y = test_audit.make_problem(n=43, seed=11)
        shard = current_shard()
        assert shard == Shard(rank, world_size, True)
        acc = rank_accuracy(models, (x, y), RANKS, batch_size=6, progress=False,
                            checkpoint=Path(out) / "acc.ckpt")
        spec = rank_spectrum(models, (x, y), n_steps=5, batch_size=6, progress=False)
        if rank == 0:
            acc.to_json(Path(out) / "acc.json")
            spec.to_json(Path(out) / "spec.json")
    finally:
        dist.destroy_process_group()


def test_two_gloo_processes_equal_one(tmp_path: Path) -> None:
    import test_audit

    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path), str(Path(__file__).parent)),
             nprocs=2, join=True)
    models, x, y = test_audit.make_problem(n=43, seed=11)
    acc = rank_accuracy(models, (x, y), RANKS, batch_size=6, progress=False)
    spec = rank_spectrum(models, (x, y), n_steps=5, batch_size=6, progress=False)

    shared_acc = RankAccuracyResult.from_json(tmp_path / "acc.json")
    assert shared_acc.timings["processes"] == 2
    assert shared_acc.n_images == 43
    # Integer counts: exactly equal.
    assert shared_acc.clean_correct == acc.clean_correct
    assert shared_acc.low_rank_correct == acc.low_rank_correct
    assert shared_acc.high_rank_correct == acc.high_rank_correct
    # Each process kept its own checkpoint (8 batches, strided: 4 each).
    for r in range(2):
        saved = json.loads((tmp_path / f"acc.ckpt.rank{r}of2").read_text())
        assert saved["batches_done"] == 4 and saved["complete"]

    shared_spec = RankSpectrumResult.from_json(tmp_path / "spec.json")
    assert shared_spec.class_counts == spec.class_counts
    for method in spec.sums:
        for model in spec.models:
            # float64 sums of identical per-batch values: only the order of the final
            # additions differs, so the results agree to rounding of float64.
            np.testing.assert_allclose(shared_spec.sums[method][model],
                                       spec.sums[method][model], rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(shared_spec.abs_sums[method][model],
                                       spec.abs_sums[method][model], rtol=1e-12, atol=1e-12)
            assert shared_spec.abs_delta_sums[method][model] == pytest.approx(
                spec.abs_delta_sums[method][model], rel=1e-12, abs=1e-12)
    for model in spec.models:
        for method in spec.sums:
            ours, single = shared_spec.summary()[model][method], spec.summary()[model][method]
            assert (ours["rank_50"], ours["rank_90"]) == (single["rank_50"], single["rank_90"])


def test_distributed_flag_without_group_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="process group"):
        current_shard(True)
    assert current_shard(False) == Shard()
    assert Shard(0, 3).batches(7) == [0, 3, 6]
