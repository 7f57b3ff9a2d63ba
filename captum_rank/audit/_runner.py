r"""The streaming loop shared by every audit: batches in, running sums out.

An audit is a function ``step(images, labels) -> {name: partial sums}`` (numpy float64
or int64 arrays of fixed shapes). The runner feeds it this shard's batches in order,
adds the partial sums into running sums (so memory never grows with the data set),
saves a checkpoint after each batch (or every ``checkpoint_interval`` seconds, and on
an interruption), and all-reduces the sums over the processes at the end.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from torch import Tensor

from captum_rank.audit._progress import Progress
from captum_rank.audit.checkpoint import Checkpoint
from captum_rank.audit.distributed import Shard
from captum_rank.audit.sources import DataSource
from captum_rank.checks import output_file

__all__ = ["run_stream"]

Step = Callable[[Tensor, Tensor], Mapping[str, np.ndarray]]


def _broken_invariant(saved: Mapping[str, np.ndarray], init: Mapping[str, np.ndarray],
                      images: int) -> str:
    r"""What a checkpoint's sums claim that they cannot, or ``""``.

    Counts (integer sums) are counts of images: between 0 and the images of the completed
    batches, and the image count (``n``/``count``) exactly that; floats are finite; sums
    of absolute values, deltas and times are not negative.
    """
    if images < 0:
        return "more batches done than this shard has"
    if set(saved) != set(init):
        return "different sums"
    for name, value in saved.items():
        if value.shape != init[name].shape:
            return f"{name!r} has shape {value.shape}, not {init[name].shape}"
        if np.issubdtype(init[name].dtype, np.integer):
            if not np.all(np.equal(np.mod(value, 1), 0)):
                return f"{name!r} holds fractions of an image"
            if name in ("n", "count") and value.size and int(value.flat[0]) != images:
                return f"{name!r} says {int(value.flat[0])} images, the batches hold {images}"
            if value.size and (value.min() < 0 or value.max() > images):
                return f"{name!r} holds counts outside [0, {images}]"
        else:
            if not np.all(np.isfinite(value)):
                return f"{name!r} is not finite"
            tail = name.rsplit("/", 1)[-1]
            if tail in ("abs", "delta", "change", "seconds") or tail.endswith("_s"):
                if value.size and value.min() < 0:
                    return f"{name!r} is negative"
    return ""


def run_stream(
    source: DataSource,
    step: Step,
    init: Mapping[str, np.ndarray],
    fingerprint: Mapping[str, Any],
    shard: Shard,
    checkpoint: str | os.PathLike[str] | None = None,
    checkpoint_interval: float = 0.0,
    progress: bool = True,
    desc: str = "audit",
    record: dict[str, Any] | None = None,
) -> dict[str, np.ndarray]:
    r"""Run ``step`` over this shard's batches and return the (all-reduced) sums.

    Args:
        source: the batches.
        step: computes one batch's partial sums; the names and shapes of ``init``.
        init: zero sums (their dtypes are kept).
        fingerprint: JSON-able description of the run for the checkpoint.
        shard: this process's share.
        checkpoint: path of the checkpoint file, or ``None``. With several processes
            each writes ``<path>.rank<r>of<w>``.
        checkpoint_interval: seconds between checkpoint writes (0: after every batch).
        progress: show a progress bar (rank 0 only).
        desc: the bar's label.
        record: a result's ``meta``; a resumed run adds ``"resumed from"`` to it.

    Returns:
        The sums over all of the data set (over all processes).
    """
    sums = {name: np.array(value, copy=True) for name, value in init.items()}
    my_batches = shard.batches(source.n_batches)
    done = 0
    ckpt: Checkpoint | None = None
    if checkpoint is not None:
        path = os.fspath(checkpoint)
        if shard.world_size > 1:
            path = f"{path}.rank{shard.rank}of{shard.world_size}"
        # Before the first batch: a checkpoint that cannot be written (a read-only or
        # pseudo file system such as /proc, even as root) fails now, not after a batch.
        output_file(path, "checkpoint")
        ckpt = Checkpoint(path, {**fingerprint, "rank": shard.rank,
                                 "world_size": shard.world_size})
        loaded = ckpt.load()
        if loaded is not None:
            done, saved, _ = loaded
            held = sum(min(source.batch_size, source.n_items - b * source.batch_size)
                       for b in my_batches[:done]) if 0 <= done <= len(my_batches) else -1
            broken = _broken_invariant(saved, sums, held)
            if broken:
                warnings.warn(f"checkpoint {path} claims sums that break their own "
                              f"invariants ({broken}); ignoring it and starting over.",
                              stacklevel=3)
                done = 0
            else:
                sums = {k: saved[k].astype(sums[k].dtype) for k in sums}
                note = f"{path} ({done} of {len(my_batches)} batches, {held} images)"
                print(f"captum-rank: {desc}: resumed from {note}", file=sys.stderr)
                if record is not None:
                    record["resumed from"] = note
    bar = Progress(len(my_batches), initial=done, desc=desc,
                   disable=not progress or not shard.is_main)
    last_save = time.monotonic()
    saved_at = done
    try:
        for position in range(done, len(my_batches)):
            images, labels = source.batch(my_batches[position])
            partial = step(images, labels)
            # New arrays, bound in one assignment: an interruption leaves the sums and
            # the batch count consistent (both before or both after this batch).
            state = (position + 1, {k: sums[k] + partial[k] for k in sums})
            done, sums = state
            bar.update()
            if ckpt is not None and (
                checkpoint_interval <= 0
                or time.monotonic() - last_save >= checkpoint_interval
            ):
                ckpt.save(done, sums, complete=done == len(my_batches))
                saved_at, last_save = done, time.monotonic()
    except BaseException:
        # Ctrl-C or an error: keep what the completed batches computed.
        if ckpt is not None and done > saved_at:
            ckpt.save(done, sums, complete=False)
        raise
    finally:
        bar.close()
    if ckpt is not None and saved_at < done:
        ckpt.save(done, sums, complete=True)
    elif ckpt is not None and done == 0 and not my_batches:
        ckpt.save(0, sums, complete=True)
    return shard.all_reduce(sums)
