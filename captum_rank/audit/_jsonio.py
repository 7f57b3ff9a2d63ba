r"""Reading and writing the audit results' JSON files."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["JsonExport", "dump", "load", "load_kind"]


def dump(obj: dict[str, Any], path: str | os.PathLike[str] | None) -> str:
    r"""``obj`` as indented JSON; also written to ``path`` (atomically) when given."""
    text = json.dumps(obj, indent=2, sort_keys=False, allow_nan=True)
    if path is not None:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(text + "\n", encoding="utf-8")
        os.replace(tmp, target)
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
