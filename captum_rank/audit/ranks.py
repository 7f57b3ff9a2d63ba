r"""Rank lists and the "rank that explains a share of the output".

Definitions used everywhere in the audit:

* ``r = min(H, W)``: the number of singular components of an ``H x W`` image.
* A *rank list* is a strictly increasing list of integers in ``[0, r]``.
* :func:`rank_for_share`: for a rank spectrum ``R_1 .. R_r`` (the mean rank attribution
  of RIG or of IG's rank decomposition), the smallest ``k`` in ``1 .. r`` with
  ``(R_1 + ... + R_k) / (R_1 + ... + R_r) >= q``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from captum_rank.audit.errors import AuditInputError
from captum_rank.visualization import cumulative_share

__all__ = ["check_ranks", "default_ranks", "parse_ranks", "rank_for_share"]

# Tolerance on the share threshold, so that S_r = 1 - 1e-16 still reaches q = 1.
_SHARE_TOL = 1e-12


def parse_ranks(text: str) -> list[int]:
    r"""Parse a comma-separated rank list such as ``"0,1,2,4,8"``.

    Whitespace is ignored; duplicates are removed and the list is sorted. The upper
    bound ``r`` is checked later by :func:`check_ranks`, once the data's size is known.

    Args:
        text: the list, e.g. ``"0, 1, 2, 4, 8"``.

    Returns:
        The sorted, de-duplicated ranks.

    Raises:
        AuditInputError: for an empty list, a non-integer or a negative entry.

    Examples:
        >>> parse_ranks("8, 0,2,2")
        [0, 2, 8]
    """
    items = [part.strip() for part in str(text).split(",")]
    if not any(items):
        raise AuditInputError("the rank list is empty; give e.g. --ranks 0,1,2,4,8,16,28.")
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
                "singular components, e.g. --ranks 0,1,2,4,8."
            ) from None
        if value < 0:
            raise AuditInputError(f"rank {value} in {text!r} is negative; ranks start at 0.")
        ranks.append(value)
    return sorted(set(ranks))


def check_ranks(ranks: Iterable[Any] | None, r: int) -> list[int]:
    r"""Validate a rank list against ``r = min(H, W)``; ``None`` means every rank.

    Args:
        ranks: integers in ``[0, r]`` (any order; duplicates removed), or ``None`` for
            ``0, 1, ..., r``.
        r: the number of singular components, ``min(H, W)`` of the images.

    Returns:
        The sorted, de-duplicated ranks.

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
    values: list[int] = []
    for value in ranks:
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise AuditInputError(
                    f"rank {value!r} is not an integer; ranks are whole numbers of singular "
                    "components."
                )
        value = int(value)
        if value < 0:
            raise AuditInputError(f"rank {value} is negative; ranks lie in [0, {r}].")
        if value > r:
            raise AuditInputError(
                f"rank {value} is above min(H, W) = {r} of the images; ranks lie in [0, {r}]."
            )
        values.append(value)
    if not values:
        raise AuditInputError("the rank list is empty; give at least one rank.")
    return sorted(set(values))


def default_ranks(r: int) -> list[int]:
    r"""A rank list that is dense where accuracy changes fast (low ranks), sparse after.

    Args:
        r: ``min(H, W)``.

    Returns:
        ``0 .. min(r, 8)``, then every second rank to 16, every fourth after, and ``r``.

    Examples:
        >>> default_ranks(28)
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28]
    """
    ranks = set(range(min(r, 8) + 1))
    ranks.update(range(10, min(r, 16) + 1, 2))
    ranks.update(range(20, r + 1, 4))
    ranks.add(r)
    return sorted(ranks)


def rank_for_share(spectrum: Sequence[float] | np.ndarray, share: float) -> int | None:
    r"""The smallest rank ``k`` whose first ``k`` components explain ``share`` of the output.

    With ``R = spectrum`` (``R_i``: the attribution of singular component ``i``, e.g. the
    mean over a data set), ``S_k = (R_1 + ... + R_k) / (R_1 + ... + R_r)`` is the signed
    cumulative share of :func:`captum_rank.visualization.cumulative_share`, and the
    result is the smallest ``k`` in ``1 .. r`` with ``S_k >= share`` (to ``1e-12``). As
    ``S_r = 1``, a result always exists for ``share <= 1``. Signed contributions can make
    ``S_k`` overshoot and fall back; this is the *first* crossing.

    Zero totals are guarded as in ``cumulative_share``: when ``|sum R| <= 1e-9 sum |R|``
    the signed share is undefined and the absolute share
    ``(|R_1| + ... + |R_k|) / sum |R|`` is used instead; when every ``R_i`` is 0 the
    result is ``None`` (nothing explains anything).

    Args:
        spectrum: ``(r,)`` rank attributions.
        share: the fraction to explain, in ``(0, 1]`` (e.g. 0.5 or 0.9).

    Returns:
        The rank ``k`` (1-based count of components), or ``None`` for an all-zero spectrum.

    Raises:
        ValueError: if ``share`` is not in ``(0, 1]`` or the spectrum is empty or not finite.

    Examples:
        >>> rank_for_share([4.0, 3.0, 2.0, 1.0], 0.5)
        2
        >>> rank_for_share([4.0, 3.0, 2.0, 1.0], 0.9)
        3
        >>> rank_for_share([0.0, 0.0], 0.5) is None
        True
    """
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0.0 < share <= 1.0:
        raise ValueError(f"`share` must be a number in (0, 1], got {share!r}.")
    values = np.asarray(spectrum, dtype=np.float64).ravel()
    if values.size == 0:
        raise ValueError("`spectrum` is empty; it needs one value per rank component.")
    if not np.isfinite(values).all():
        raise ValueError("`spectrum` contains NaN or inf.")
    shares, kind = cumulative_share(values, "signed")
    if kind == "zero":
        return None
    reached = np.nonzero(shares[1:] >= share - _SHARE_TOL)[0]
    return int(reached[0]) + 1 if reached.size else None
