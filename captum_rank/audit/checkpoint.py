r"""Checkpoints of an audit's running sums: atomic, authenticated, bound to their run.

A checkpoint is a small JSON file that holds the running sums of the batches completed so
far, the number of those batches, and a fingerprint (SHA-256) of everything that
determines the result: the kind of audit, the models' weights, the data, the ranks, the
batch size, the shard. It is written like every output
(:func:`captum_rank._files.write_bytes`: temporary file, then :func:`os.replace`), so a
process killed at any moment leaves either the previous checkpoint or the new one.

What a checkpoint may claim. A resumed audit trusts a checkpoint's sums only when

- its HMAC-SHA256 verifies under a per-user secret key that is *not* in the checkpoint:
  ``$XDG_CONFIG_HOME/captum-rank/checkpoint.key`` (default ``~/.config/...``), 32 random
  bytes created on first use with mode ``0600`` in a ``0700`` folder. An unkeyed checksum
  only catches accidents: whoever edits the file can recompute it. A key next to the
  checkpoint (or the output) would be readable by whoever can edit the checkpoint in a
  shared folder; the user's config folder is not. The MAC covers the whole file, the
  fingerprint of the run's options, models and data included, so a checkpoint cannot be
  moved to another run either. A checkpoint written by another user or on a machine with
  another key is not trusted: it is ignored with a warning and the audit starts over.
- its fingerprint equals this run's (same options, models and data), and
- its sums keep their own invariants (checked by the runner): image counts equal the
  images of the completed batches, every count lies between 0 and that number, every
  float is finite and sums of absolute values are not negative.

A checkpoint that fails any of these is ignored with a warning naming the reason, and
overwritten. A resumed audit says so on standard error and records
``"resumed from"`` (the file and the batches it held) in the result's ``meta``, which the
report shows. Floats are stored with Python's shortest round-trip ``repr``, so reloaded
sums are bit-for-bit the saved ones and a resumed audit adds the remaining batches in the
same order as an uninterrupted one: the result is identical, not merely close.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from captum_rank.audit._jsonio import write_json

__all__ = ["Checkpoint", "digest_json", "digest_model", "digest_tensor", "key_path"]

_FORMAT = "captum-rank-audit-checkpoint"
_VERSION = 3


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
    "reliability_tolerance": "--reliability-tolerance", "models": "--model/--weights",
    "data": "--data/--split/--limit/--seed", "world_size": "the number of processes",
}

#: Fingerprint keys stored as digests: what a difference means.
_DIGESTED = {"models": "the models' weights or classes", "data": "the images or labels"}


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def key_path() -> Path:
    r"""Where the per-user checkpoint key lives (see the module's docstring).

    Returns:
        ``$XDG_CONFIG_HOME/captum-rank/checkpoint.key``, by default under ``~/.config``.

    Examples:
        >>> key_path().name
        'checkpoint.key'
    """
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "captum-rank" / "checkpoint.key"


def _key() -> tuple[bytes | None, str]:
    r"""The per-user key (created on first use), or ``None`` and why it is unusable."""
    path = key_path()
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                         | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(secrets.token_hex(32) + "\n")
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, encoding="ascii") as f:
            info = os.fstat(f.fileno())
            text = f.read().strip()
    except (OSError, UnicodeDecodeError) as err:
        return None, f"the key file {str(path)!r} cannot be used ({err})"
    if hasattr(os, "getuid") and (info.st_uid != os.getuid() or info.st_mode & 0o022):
        return None, (f"the key file {str(path)!r} is not yours alone (owner or group/other "
                      "write permission); fix it with chmod 600 or remove it")
    if len(text) < 32:
        return None, f"the key file {str(path)!r} is too short; remove it to make a new one"
    return text.encode("ascii"), ""


def _mac(blob: Mapping[str, Any], key: bytes) -> str:
    # Everything but the MAC itself, in canonical form.
    text = json.dumps({k: v for k, v in blob.items() if k != "hmac"}, sort_keys=True,
                      separators=(",", ":"), default=str)
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


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
            key, why = _key()
            if key is None:
                warnings.warn(f"checkpoint {self.path} cannot be verified: {why}; ignoring "
                              "it and starting over.", stacklevel=3)
                return None
            mac = blob.get("hmac")
            if not isinstance(mac, str) or not hmac.compare_digest(mac, _mac(blob, key)):
                warnings.warn(
                    f"checkpoint {self.path} fails its authentication (HMAC under "
                    f"{key_path()}): it was edited or damaged after it was written, or "
                    "written by another user or machine; ignoring it and starting over. "
                    "It will be overwritten.",
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
        key, why = _key()
        if key is None:
            warnings.warn(f"checkpoint {self.path} is written without authentication "
                          f"({why}): it cannot be resumed.", stacklevel=3)
        else:
            blob["hmac"] = _mac(blob, key)
        write_json(self.path, blob, indent=None)
