r"""A progress bar that is tqdm when tqdm is installed, and nothing otherwise."""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["Progress"]


class Progress:
    r"""``update(n)`` / ``close()`` over ``tqdm``; silent when disabled or tqdm is missing.

    Args:
        total: the number of units of work.
        initial: units already done (a resumed audit).
        desc: the label.
        disable: show nothing.

    Examples:
        >>> bar = Progress(3, desc="demo", disable=True)
        >>> bar.update(); bar.close()
    """

    def __init__(self, total: int, initial: int = 0, desc: str = "", disable: bool = False):
        self._bar: Any = None
        if disable:
            return
        try:
            from tqdm.auto import tqdm
        except ImportError:  # pragma: no cover - tqdm is optional
            return
        self._bar = tqdm(total=total, initial=initial, desc=desc, unit="batch",
                         file=sys.stderr, dynamic_ncols=True, leave=False)

    def update(self, n: int = 1) -> None:
        r"""Advance by ``n`` units."""
        if self._bar is not None:
            self._bar.update(n)

    def close(self) -> None:
        r"""Remove the bar."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
