r"""Rank lists, and the "rank that explains a share of the output".

Definitions used everywhere in the audit:

* ``r = min(H, W)``: the number of singular components of an ``H x W`` image.
* A *rank list* is a strictly increasing list of integers in ``[0, r]``.
* :func:`rank_for_share` (from :mod:`captum_rank.summaries`, the numerics that reports
  and plots share): for a rank spectrum ``R_1 .. R_r``, the smallest ``k`` in ``1 .. r``
  with ``(R_1 + ... + R_k) / (R_1 + ... + R_r) >= q``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from captum_rank.audit.errors import AuditInputError
from captum_rank.checks import UserInputError, integer
from captum_rank.summaries import rank_for_share

__all__ = ["check_ranks", "default_ranks", "parse_ranks", "rank_for_share"]


def parse_ranks(text: str) -> list[int]:
    r"""Parse a comma-separated rank list such as ``"0,1,2,4,8"``.

    Whitespace is ignored; duplicates are removed and the list is sorted. The upper
    bound ``r`` is checked later by :func:`check_ranks`, once the data's size is known.

    Args:
        text (str): the list, e.g. ``"0, 1, 2, 4, 8"``.

    Returns:
        list[int]: the sorted, de-duplicated ranks.

    Raises:
        AuditInputError: for an empty list, a non-integer or a negative entry.

    Examples:
        >>> parse_ranks("8, 0,2,2")
        [0, 2, 8]
    """
    items = [part.strip() for part in str(text).split(",")]
    if not any(items):
        raise AuditInputError("the rank list `ranks` is empty; give e.g. 0,1,2,4,8,16,28.")
    ranks: list[int] = []
    for item in items:
        if not item:
            raise AuditInputError(
                f"the rank list {text!r} has an empty entry; remove the extra comma."
            )
        try:
            value = int(item)
        except ValueError:
            raise AuditInputError(
                f"rank {item!r} in {text!r} is not an integer; ranks are whole numbers of "
                "singular components, e.g. 0,1,2,4,8."
            ) from None
        if value < 0:
            raise AuditInputError(f"rank {value} in {text!r} is negative; ranks start at 0.")
        ranks.append(value)
    return sorted(set(ranks))


def check_ranks(ranks: Iterable[Any] | None, r: int) -> list[int]:
    r"""Validate a rank list against ``r = min(H, W)``; ``None`` means every rank.

    Args:
        ranks (iterable of int or None): integers (Python or numpy) in ``[0, r]``, any
            order, duplicates removed; ``None`` for ``0, 1, ..., r``.
        r (int): the number of singular components, ``min(H, W)`` of the images.

    Returns:
        list[int]: the sorted, de-duplicated ranks.

    Raises:
        AuditInputError: for an empty list, non-integers, negatives or ranks above ``r``.

    Examples:
        >>> check_ranks([4, 0, 28], 28)
        [0, 4, 28]
        >>> check_ranks(None, 3)
        [0, 1, 2, 3]
    """
    if ranks is None:
        return list(range(r + 1))
    if isinstance(ranks, str | bytes):
        return check_ranks(parse_ranks(str(ranks)), r)
    values: list[int] = []
    for value in ranks:
        try:
            number = integer(value, "ranks")
        except UserInputError:
            raise AuditInputError(
                f"rank {value!r} in `ranks` is not an integer; ranks are whole numbers of "
                "singular components."
            ) from None
        if number < 0:
            raise AuditInputError(f"rank {number} is negative; ranks lie in [0, {r}].")
        if number > r:
            raise AuditInputError(
                f"rank {number} is above min(H, W) = {r} of the images; ranks lie in [0, {r}]."
            )
        values.append(number)
    if not values:
        raise AuditInputError("the rank list `ranks` is empty; give at least one rank.")
    return sorted(set(values))


def default_ranks(r: int) -> list[int]:
    r"""A rank list that is dense where accuracy changes fast (low ranks), sparse after.

    Args:
        r (int): ``min(H, W)``.

    Returns:
        list[int]: for ``r <= 32``: ``0 .. min(r, 8)``, every second rank to 16, every
        fourth after, and ``r``; for larger images (224 x 224 photos): ``0, 1, 2, 3``
        and the powers of two below ``r``, and ``r``, so the number of ranks grows like
        ``log r``.

    Examples:
        >>> default_ranks(28)
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28]
        >>> default_ranks(224)
        [0, 1, 2, 3, 4, 8, 16, 32, 64, 128, 224]
    """
    r = integer(r, "r", minimum=0)
    if r > 32:
        ranks = {0, 1, 2, 3, r}
        ranks.update(2**i for i in range(2, r.bit_length()) if 2**i < r)
        return sorted(ranks)
    values = set(range(min(r, 8) + 1))
    values.update(range(10, min(r, 16) + 1, 2))
    values.update(range(20, r + 1, 4))
    values.add(r)
    return sorted(values)
