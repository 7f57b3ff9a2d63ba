r"""The one JSON writer of the package, and the matching reader.

:func:`write_json` and :func:`write_text` go through :func:`captum_rank._files.write_bytes`,
the one writer of every output: atomic (temporary file, ``fsync``, :func:`os.replace`),
never through a symlink at the target, with the umask's mode. Checkpoints, results and
reports all go through it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from captum_rank._files import write_text

__all__ = ["JsonExport", "dump", "load", "load_kind", "write_json", "write_text"]


def write_json(path: str | os.PathLike[str], obj: Any, indent: int | None = 2) -> Path:
    r"""Write ``obj`` as JSON to ``path`` with :func:`captum_rank._files.write_text`.

    Args:
        path: the file.
        obj: anything :func:`json.dumps` accepts (other objects are written with ``str``).
        indent: indentation, or ``None`` for the compact form.

    Returns:
        The path.

    Examples:
        >>> import tempfile, pathlib
        >>> target = write_json(pathlib.Path(tempfile.mkdtemp()) / "x.json", {"a": 1})
        >>> load(target)
        {'a': 1}
    """
    return write_text(path, json.dumps(obj, indent=indent, default=str) + "\n")


def dump(obj: dict[str, Any], path: str | os.PathLike[str] | None) -> str:
    r"""``obj`` as indented JSON; also written to ``path`` (atomically) when given."""
    text = json.dumps(obj, indent=2, default=str)
    if path is not None:
        write_text(path, text + "\n")
    return text


def load(source: str | os.PathLike[str] | dict[str, Any]) -> dict[str, Any]:
    r"""Parse a JSON text, a JSON file path, or pass a dict through."""
    if isinstance(source, dict):
        return source
    text = os.fspath(source)
    if not text.lstrip().startswith("{"):
        text = Path(text).read_text(encoding="utf-8")
    result: dict[str, Any] = json.loads(text)
    return result


def load_kind(source: str | os.PathLike[str] | dict[str, Any], kind: str,
              description: str) -> dict[str, Any]:
    r""":func:`load`, refusing JSON whose ``kind`` says it is another result.

    Raises:
        ValueError: ``kind`` is present and differs.
    """
    data = load(source)
    if data.get("kind", kind) != kind:
        raise ValueError(f"not a {description} (kind {data.get('kind')!r}).")
    return data


class JsonExport:
    r"""``to_json`` for result classes that define ``to_dict``."""

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def to_json(self, path: str | os.PathLike[str] | None = None) -> str:
        r"""JSON text of :meth:`to_dict`, also written to ``path`` when given."""
        return dump(self.to_dict(), path)
