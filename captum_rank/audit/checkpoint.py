r"""Checkpoints of an audit's running sums: atomic writes, fingerprinted arguments.

A checkpoint is a small JSON file that holds the running sums of the batches completed so
far, the number of those batches, and a fingerprint (SHA-256) of everything that
determines the result: the kind of audit, the models' weights, the data, the ranks, the
batch size, the shard. It is written to a temporary file in the same folder and moved
into place with :func:`os.replace`, which is atomic on POSIX and Windows, so a process
killed at any moment leaves either the previous checkpoint or the new one, never half of
one. The file carries a SHA-256 checksum of its own contents: a checkpoint edited by hand
(or damaged on disk) is detected, reported and ignored. Floats are stored with Python's
shortest round-trip ``repr``, so reloaded sums are
bit-for-bit the saved ones and a resumed audit adds the remaining batches in the same
order as an uninterrupted one: the result is identical, not merely close.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from captum_rank.audit._jsonio import write_json

__all__ = ["Checkpoint", "digest_json", "digest_model", "digest_tensor"]

_FORMAT = "captum-rank-audit-checkpoint"
_VERSION = 2


def digest_json(obj: Any) -> str:
    r"""SHA-256 of the canonical JSON form of ``obj`` (sorted keys, no spaces).

    Args:
        obj: anything :func:`json.dumps` accepts.

    Returns:
        The hex digest.

    Examples:
        >>> digest_json({"b": 1, "a": [1, 2]}) == digest_json({"a": [1, 2], "b": 1})
        True
    """
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def digest_tensor(tensor: Tensor, hasher: Any = None) -> str:
    r"""SHA-256 of a tensor's dtype, shape and bytes.

    Args:
        tensor: any tensor (moved to the CPU to hash).
        hasher: an existing ``hashlib`` object to update instead of a new one.

    Returns:
        The hex digest (of ``hasher`` when given).

    Examples:
        >>> import torch
        >>> digest_tensor(torch.zeros(2)) == digest_tensor(torch.zeros(2))
        True
    """
    h = hasher if hasher is not None else hashlib.sha256()
    t = tensor.detach().cpu().contiguous()
    h.update(f"{t.dtype}{tuple(t.shape)}".encode())
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    h.update(t.numpy().tobytes())
    return str(h.hexdigest())


def digest_model(model: Any) -> str:
    r"""A fingerprint of a model: its class and, for an ``nn.Module``, its whole state.

    Plain functions are identified by their qualified name only (their behaviour cannot
    be hashed); modules by their class and every parameter and buffer, so retrained
    weights never resume an old checkpoint.

    Args:
        model: an ``nn.Module`` or any callable.

    Returns:
        The hex digest.

    Examples:
        >>> import torch
        >>> a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
        >>> digest_model(a) == digest_model(a), digest_model(a) == digest_model(b)
        (True, False)
    """
    h = hashlib.sha256()
    kind = type(model)
    h.update(f"{kind.__module__}.{kind.__qualname__}".encode())
    if isinstance(model, torch.nn.Module):
        for name, value in sorted(model.state_dict().items()):
            h.update(name.encode())
            digest_tensor(value, h)
        for name, buf in sorted(model.named_buffers()):
            h.update(name.encode())
            digest_tensor(buf, h)
    else:
        h.update(str(getattr(model, "__qualname__", repr(model))).encode())
    return h.hexdigest()


#: The command-line options behind a fingerprint's keys, named in the mismatch warning.
_OPTIONS = {
    "n_steps": "--n-steps", "batch_size": "--batch-size",
    "internal_batch_size": "--internal-batch-size", "ranks": "--ranks",
    "tolerance": "--tolerance", "models": "--model/--weights",
    "data": "--data/--split/--limit/--seed", "world_size": "the number of processes",
}

#: Fingerprint keys stored as digests: what a difference means.
_DIGESTED = {"models": "the models' weights or classes", "data": "the images or labels"}


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _checksum(blob: Mapping[str, Any]) -> str:
    # Everything but the checksum itself, in canonical form.
    return digest_json({k: v for k, v in blob.items() if k != "checksum"})


def _encode(array: np.ndarray) -> dict[str, Any]:
    return {"dtype": str(array.dtype), "shape": list(array.shape), "data": array.ravel().tolist()}


def _decode(obj: Mapping[str, Any]) -> np.ndarray:
    return np.asarray(obj["data"], dtype=np.dtype(obj["dtype"])).reshape(obj["shape"])


class Checkpoint:
    r"""One checkpoint file for one audit (one shard of it, when distributed).

    Args:
        path: the file. Its folder is created when needed.
        fingerprint: the JSON-able description of the run; its digest is stored, and a
            file whose digest differs is ignored (with a warning) and later overwritten.

    Examples:
        >>> import os, tempfile
        >>> import numpy as np
        >>> path = os.path.join(tempfile.mkdtemp(), "audit.ckpt.json")
        >>> ckpt = Checkpoint(path, {"kind": "demo", "batch_size": 2})
        >>> ckpt.save(3, {"correct": np.array([5, 6])}, complete=False)
        >>> batches, sums, complete = ckpt.load()
        >>> batches, sums["correct"].tolist(), complete
        (3, [5, 6], False)
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     other = Checkpoint(path, {"kind": "demo", "batch_size": 4}).load()
        >>> other is None, "different arguments" in str(caught[0].message)
        (True, True)
        >>> print(str(caught[0].message).split(": ", 1)[1].split(";")[0])
        batch_size (--batch-size): 2 in the checkpoint, 4 now
    """

    def __init__(self, path: str | os.PathLike[str], fingerprint: Mapping[str, Any]) -> None:
        self.path = Path(path)
        self.fingerprint = dict(fingerprint)
        self.digest = digest_json(self.fingerprint)

    def load(self) -> tuple[int, dict[str, np.ndarray], bool] | None:
        r"""Read the checkpoint if it exists and matches this run.

        Returns:
            ``(batches_done, sums, complete)``, or ``None`` when there is no file, the file
            is unreadable, or it belongs to a different run (a warning says which).
        """
        if not self.path.is_file():
            return None
        try:
            with open(self.path, encoding="utf-8") as f:
                blob = json.load(f)
            if blob.get("format") != _FORMAT or blob.get("version") != _VERSION:
                raise ValueError("not an audit checkpoint of this version")
            if blob.get("checksum") != _checksum(blob):
                warnings.warn(
                    f"checkpoint {self.path} fails its checksum: it was edited or damaged "
                    "after it was written; ignoring it and starting over. It will be "
                    "overwritten.",
                    stacklevel=3,
                )
                return None
            if blob["fingerprint"] != self.digest:
                warnings.warn(
                    f"checkpoint {self.path} belongs to a run with different arguments: "
                    f"{self._differences(blob.get('arguments'))}; ignoring it and starting "
                    "over (it will be overwritten). To resume it instead, rerun with the "
                    "checkpoint's values; to keep it, give this run another checkpoint file.",
                    stacklevel=3,
                )
                return None
            sums = {name: _decode(value) for name, value in blob["sums"].items()}
            return int(blob["batches_done"]), sums, bool(blob["complete"])
        except (OSError, ValueError, KeyError, TypeError) as err:
            warnings.warn(
                f"checkpoint {self.path} is unreadable ({err}); ignoring it and starting over.",
                stacklevel=3,
            )
            return None

    def _differences(self, saved: Any) -> str:
        r"""Which of this run's arguments differ from the checkpoint's, as a phrase."""
        if not isinstance(saved, Mapping):
            return "unknown (the file does not list its arguments)"
        parts = []
        for key in sorted(set(saved) | set(self.fingerprint)):
            old, new = saved.get(key), self.fingerprint.get(key)
            if digest_json(old) == digest_json(new):
                continue
            label = f"{key} ({_OPTIONS[key]})" if key in _OPTIONS else key
            if key in _DIGESTED:  # hashes mean nothing to a reader; say what they are
                parts.append(f"{label}: {_DIGESTED[key]} differ")
            else:
                parts.append(f"{label}: {_short(old)} in the checkpoint, {_short(new)} now")
        return "; ".join(parts) if parts else "none listed (a different format)"

    def save(self, batches_done: int, sums: Mapping[str, np.ndarray], complete: bool) -> None:
        r"""Write the checkpoint atomically (temporary file, then :func:`os.replace`).

        Args:
            batches_done: how many of this shard's batches the sums hold.
            sums: the running sums, numpy arrays.
            complete: whether the shard is finished.
        """
        blob = {
            "format": _FORMAT,
            "version": _VERSION,
            "fingerprint": self.digest,
            "arguments": self.fingerprint,
            "batches_done": int(batches_done),
            "complete": bool(complete),
            "sums": {name: _encode(np.asarray(value)) for name, value in sums.items()},
        }
        blob["checksum"] = _checksum(blob)
        write_json(self.path, blob, indent=None)
