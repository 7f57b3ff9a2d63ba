r"""Sharding an audit over processes with :mod:`torch.distributed`.

Launch any audit under ``torchrun --nproc_per_node N`` (or initialise a process group
yourself): every process takes the global batches ``b`` with ``b % world_size == rank``
(strided at batch granularity, so every batch holds exactly the images it holds in a
single process and gives the same per-batch sums), and the running sums are
all-reduced at the end. Counts are int64 and exact; attribution sums are float64, where
a different summation order changes the result by a few units in the last place
(relative ``1e-15``), far below anything the audit reports.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist

__all__ = ["Shard", "current_shard", "init_from_env"]


@dataclass(frozen=True)
class Shard:
    r"""Which share of the batches this process takes.

    Args:
        rank: this process's index, ``0 <= rank < world_size``.
        world_size: the number of processes.
        distributed: whether the sums must be all-reduced over a process group.

    Examples:
        >>> Shard(1, 3, False).batches(7)
        [1, 4]
    """

    rank: int = 0
    world_size: int = 1
    distributed: bool = False

    def batches(self, n_batches: int) -> list[int]:
        r"""The global batch indices of this shard, in order."""
        return list(range(self.rank, n_batches, self.world_size))

    @property
    def is_main(self) -> bool:
        r"""Whether this is the process that reports (rank 0)."""
        return self.rank == 0

    def all_reduce(self, sums: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        r"""Sum every array over the processes (a no-op without a process group).

        Args:
            sums: running sums (float64 or int64 arrays), the same names and shapes on
                every process.

        Returns:
            The totals, same names, shapes and dtypes.
        """
        if not self.distributed:
            return sums
        out: dict[str, np.ndarray] = {}
        for name in sorted(sums):
            tensor = torch.from_numpy(np.ascontiguousarray(sums[name])).clone()
            if dist.get_backend() == "nccl":
                moved = tensor.cuda()
                dist.all_reduce(moved, op=dist.ReduceOp.SUM)
                tensor = moved.cpu()
            else:
                dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
            out[name] = tensor.numpy()
        return out


def current_shard(distributed: bool | None = None) -> Shard:
    r"""The shard of this process.

    Args:
        distributed: ``None`` (default): shard when a process group is initialised;
            ``False``: run everything in this process even inside a group; ``True``:
            require a process group.

    Returns:
        The :class:`Shard`.

    Raises:
        RuntimeError: ``distributed=True`` without an initialised process group.

    Examples:
        >>> current_shard(False)
        Shard(rank=0, world_size=1, distributed=False)
    """
    initialised = dist.is_available() and dist.is_initialized()
    if distributed is True and not initialised:
        raise RuntimeError(
            "distributed=True needs an initialised torch.distributed process group: launch "
            "with torchrun and call torch.distributed.init_process_group() (or "
            "captum_rank.audit.distributed.init_from_env()) first."
        )
    if distributed is False or not initialised:
        return Shard()
    return Shard(dist.get_rank(), dist.get_world_size(), True)


def init_from_env(backend: str | None = None) -> bool:
    r"""Initialise the default process group when launched by ``torchrun`` (``WORLD_SIZE > 1``).

    Args:
        backend: ``None`` picks ``nccl`` with CUDA, else ``gloo``.

    Returns:
        Whether a process group is (now) initialised.

    Examples:
        >>> import os
        >>> "WORLD_SIZE" in os.environ or not init_from_env()
        True
    """
    if not dist.is_available():
        return False
    if dist.is_initialized():
        return True
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend=backend)
    return True
