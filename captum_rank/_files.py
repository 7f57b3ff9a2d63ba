r"""The one way captum-rank writes a file, and the lock on an output folder.

:func:`write_bytes` is used for every output (``report.json``, ``index.html``, PNG
figures, checkpoints). It writes a fresh temporary file in the target's folder, flushes
and ``fsync``\ s it, gives it the mode an ordinary ``open(path, "w")`` would (``0o666``
less the umask: :func:`tempfile.mkstemp` alone gives ``0o600``, which a web server
cannot read), then moves it into place with :func:`os.replace`. The move is atomic and
replaces a symlink at the target *itself*: an existing ``report.json -> /etc/passwd``
becomes a plain file, its target is never opened. A process killed or a disk filling
up at any moment leaves the previous file or none, never half of one.

:func:`lock_dir` takes an exclusive :func:`fcntl.flock` on ``DIR/.captum-rank.lock`` so
that two runs writing into the same folder do not silently overwrite each other: the
second one is refused at once with a message naming the folder. The holder removes the
file when it is done (a waiter that opened it meanwhile notices and opens the new one).

Light imports only: the command line checks its outputs with this module before torch
is imported.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from captum_rank.checks import UserInputError

__all__ = ["LOCK_NAME", "current_umask", "lock_dir", "write_bytes", "write_text"]

#: The lock file :func:`lock_dir` creates in an output folder.
LOCK_NAME = ".captum-rank.lock"


def current_umask() -> int:
    r"""The process's umask, read without changing it where the system allows.

    Returns:
        The umask, e.g. ``0o022``.

    Examples:
        >>> 0 <= current_umask() <= 0o777
        True
    """
    try:  # Linux: read it; os.umask would set it for a moment, racing other threads
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _disk_message(path: Path, err: OSError) -> str:
    reason = err.strerror or type(err).__name__
    if err.errno == errno.ENOSPC:
        reason = "no space left on the device"
    elif err.errno == errno.EDQUOT:
        reason = "disk quota exceeded"
    return (f"cannot write {str(path)!r}: {reason}; nothing was left half-written there. "
            "Free space or choose another location, then rerun.")


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    r"""Write ``data`` to ``path`` atomically, never through a symlink, under the umask.

    Args:
        path: the file; its folder is created when missing.
        data: the content.

    Returns:
        The path.

    Raises:
        UserInputError: the disk is full, a quota is exceeded or the folder cannot be
            written (the message names the file; the temporary file is removed).

    Examples:
        >>> import os, tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> victim = folder / "victim.txt"
        >>> _ = victim.write_text("keep")
        >>> os.symlink(victim, folder / "out.png")
        >>> _ = write_bytes(folder / "out.png", b"png")
        >>> victim.read_text(), (folder / "out.png").is_symlink()
        ('keep', False)
        >>> oct((folder / "out.png").stat().st_mode & 0o777) == oct(0o666 & ~current_umask())
        True
    """
    target = Path(path)
    tmp: str | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name[:100]}.", suffix=".tmp",
                                   dir=target.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), 0o666 & ~current_umask())
            os.fsync(f.fileno())
        os.replace(tmp, target)
        tmp = None
    except OSError as err:
        raise UserInputError(_disk_message(target, err)) from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return target


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    r"""Write ``text`` (UTF-8) with :func:`write_bytes`.

    Args:
        path: the file.
        text: the content.

    Returns:
        The path.

    Examples:
        >>> import tempfile, pathlib
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "a" / "x.txt"
        >>> write_text(target, "hi").read_text(), sorted(p.name for p in target.parent.iterdir())
        ('hi', ['x.txt'])
    """
    return write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def lock_dir(directory: str | os.PathLike[str], name: str) -> Iterator[Path]:
    r"""Hold an exclusive lock on an output folder, or refuse at once.

    Args:
        directory: the folder (it must exist).
        name: the argument that named it (``"--out"``), for the message.

    Yields:
        The lock file's path.

    Raises:
        UserInputError: another process holds the lock.

    Examples:
        >>> import tempfile
        >>> folder = tempfile.mkdtemp()
        >>> with lock_dir(folder, "--out"):
        ...     with lock_dir(folder, "--out"):  # doctest: +ELLIPSIS
        ...         pass
        Traceback (most recent call last):
        ...
        captum_rank.checks.UserInputError: `--out` ... is in use by another captum-rank run ...
    """
    path = Path(directory) / LOCK_NAME
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no advisory locks; write unguarded
        yield path
        return
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(3):
        try:
            fd = os.open(path, flags, 0o666)
        except OSError as err:
            raise UserInputError(
                f"`{name}`: cannot create the lock file {str(path)!r} "
                f"({err.strerror or type(err).__name__}); choose another folder.") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            try:
                holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            except OSError:
                holder = ""
            os.close(fd)
            who = f" (process {holder})" if holder else ""
            raise UserInputError(
                f"`{name}` {str(directory)!r} is in use by another captum-rank run{who}; "
                f"wait for it to finish or give another `{name}`.") from None
        # The holder removes the file when it is done: a lock on a file that was removed
        # (or replaced) meanwhile guards nothing, so open the current one again.
        try:
            current = os.stat(path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
        except OSError:
            current = False
        if current:
            break
        os.close(fd)
    else:  # pragma: no cover - three races in a row
        raise UserInputError(f"`{name}` {str(directory)!r}: could not take its lock; retry.")
    try:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield path
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)  # while still locked: no litter left in the output folder
        os.close(fd)  # closing releases the lock
