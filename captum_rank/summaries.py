r"""Numbers that plots and reports share: cumulative shares and ranks of a rank spectrum.

A *rank spectrum* is ``R_1 .. R_r``: the part of ``F(x) - F(x')`` carried by each singular
component (``RankIntegratedGradients.attribute_ranks`` summed over channels, or a mean of
it over images). This module turns a spectrum into the numbers that the figures draw and
the audit tables print, so that both say the same thing:

* :func:`cumulative_share`: ``S_k``, the share of the output explained by the first ``k``
  components, with a structured record of which definition was used
  (:class:`CumulativeShare`);
* :func:`rank_for_share`: the smallest ``k`` with ``S_k >= q`` (``k50``, ``k90``);
* :func:`normalized_spectrum`: the spectrum scaled to compare models with different output
  scales;
* :func:`spectrum_summary`: total, mass and ``k50``/``k90`` at once (:class:`SpectrumSummary`).

Nothing here imports matplotlib or torch (tensors are accepted by duck typing).

Examples:
    >>> s = cumulative_share([2.0, 1.0, 1.0])
    >>> s.shares.tolist(), s.basis, s.fell_back
    ([0.0, 0.5, 0.75, 1.0], 'signed', False)
    >>> rank_for_share([2.0, 1.0, 1.0], 0.9)
    3
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from captum_rank.checks import UserInputError, fraction, one_of

__all__ = [
    "NORMALIZATIONS",
    "SHARES",
    "ZERO_TOTAL_RTOL",
    "CumulativeShare",
    "SpectrumSummary",
    "as_spectrum",
    "cumulative_share",
    "normalized_spectrum",
    "rank_for_share",
    "spectrum_summary",
]

#: The definitions of the cumulative share (see :func:`cumulative_share`).
SHARES: tuple[str, ...] = ("signed", "abs")
#: Scalings of a spectrum (see :func:`normalized_spectrum`).
NORMALIZATIONS: tuple[str | None, ...] = (None, "none", "abs", "total")
#: A signed total this small relative to ``sum |R|`` is numerically zero.
ZERO_TOTAL_RTOL = 1e-9
# Tolerance on the share threshold, so that S_r = 1 - 1e-16 still reaches q = 1.
_SHARE_TOL = 1e-12

Share = Literal["signed", "abs"]


def as_spectrum(values: Any, name: str = "spectrum") -> np.ndarray:
    r"""A rank spectrum as a finite, non-empty, 1-D float64 array.

    Args:
        values (array-like or tensor): ``R_1 .. R_r``; any shape is flattened.
        name (str, optional): the argument's name for messages. Default: ``"spectrum"``.

    Returns:
        np.ndarray: ``(r,)`` float64 (a copy).

    Raises:
        UserInputError: if ``values`` is not numeric, is empty, or holds NaN or inf.

    Examples:
        >>> as_spectrum([[1, 2], [3, 4]]).tolist()
        [1.0, 2.0, 3.0, 4.0]
    """
    if hasattr(values, "detach"):  # a torch tensor, without importing torch
        values = values.detach().cpu().double().numpy()
    try:
        arr = np.array(values, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise UserInputError(
            f"`{name}` must be numbers (one per rank component, e.g. a list, array or "
            f"tensor), got {type(values).__name__}."
        ) from None
    if arr.size == 0:
        raise UserInputError(
            f"`{name}` is empty; give one value per rank component (r = min(H, W) values)."
        )
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise UserInputError(
            f"`{name}` holds NaN or inf at index {bad[:5].tolist()}; a rank spectrum must "
            "be finite (check the attribution that produced it)."
        )
    return arr


@dataclass(frozen=True, eq=False)
class CumulativeShare:
    r"""The cumulative share ``S_0 .. S_r`` of a spectrum, and how it was defined.

    Attributes:
        shares (np.ndarray): ``(r + 1,)`` float64, ``S_0 = 0`` first.
        requested (str): the definition asked for, ``"signed"`` or ``"abs"``.
        basis (str or None): the definition used: ``"signed"``
            (``cumsum(R) / sum(R)``), ``"abs"`` (``cumsum(|R|) / sum(|R|)``), or None
            when every ``R_k`` is 0 (then ``shares`` is all zeros: nothing is explained).

    Examples:
        >>> s = cumulative_share([1.0, -1.0])
        >>> s.basis, s.fell_back, s.is_zero
        ('abs', True, False)
        >>> s.to_dict()
        {'shares': [0.0, 0.5, 1.0], 'requested': 'signed', 'basis': 'abs', 'fell_back': True}
    """

    shares: np.ndarray
    requested: str
    basis: str | None

    @property
    def fell_back(self) -> bool:
        r"""True when the signed share was asked for but the total was zero (``abs`` used)."""
        return self.basis is not None and self.basis != self.requested

    @property
    def is_zero(self) -> bool:
        r"""True when every contribution is 0 (no definition applies; shares are zeros)."""
        return self.basis is None

    def to_dict(self) -> dict[str, Any]:
        r"""Plain JSON-able data: the shares as a list, the definition and the fallback flag.

        Returns:
            dict: ``shares``, ``requested``, ``basis``, ``fell_back``.
        """
        return {
            "shares": [float(v) for v in self.shares],
            "requested": self.requested,
            "basis": self.basis,
            "fell_back": self.fell_back,
        }


def cumulative_share(values: Any, share: str = "signed") -> CumulativeShare:
    r"""The share of the output explained by the first ``k`` rank components.

    ``share="signed"``: ``S_k = (R_1 + ... + R_k) / (R_1 + ... + R_r)``, the fraction of
    ``F(x) - F(x')`` recovered by the rank-``k`` part of the path. ``S_0 = 0`` and
    ``S_r = 1``; with contributions of mixed sign ``S_k`` may overshoot 1 or dip below 0,
    which is informative (components that push the output the other way).
    ``share="abs"``: ``S_k = (|R_1| + ... + |R_k|) / (|R_1| + ... + |R_r|)``, monotone in
    ``[0, 1]``. When the signed total is zero (``|sum R| <= 1e-9 * sum |R|``) the signed
    share is undefined: the absolute share is returned and ``fell_back`` is True. When
    every ``R_k`` is 0 the shares are all zeros and ``basis`` is None.

    Args:
        values (array-like or tensor): ``(r,)`` contributions ``R_1 .. R_r``.
        share (str, optional): ``"signed"`` or ``"abs"``. Default: ``"signed"``.

    Returns:
        CumulativeShare: the shares ``S_0 .. S_r`` and the definition used.

    Raises:
        UserInputError: for an unknown ``share``, or an empty or non-finite spectrum.

    Examples:
        >>> cumulative_share([2.0, 1.0, 1.0]).shares
        array([0.  , 0.5 , 0.75, 1.  ])
        >>> cumulative_share([0.0, 0.0]).is_zero
        True
    """
    one_of(share, "share", SHARES)
    arr = as_spectrum(values, "values")
    mass = float(np.abs(arr).sum())
    if mass == 0.0:
        return CumulativeShare(np.zeros(arr.size + 1), share, None)
    total = float(arr.sum())
    if share == "signed" and abs(total) > ZERO_TOTAL_RTOL * mass:
        return CumulativeShare(np.concatenate([[0.0], np.cumsum(arr) / total]), share, "signed")
    return CumulativeShare(
        np.concatenate([[0.0], np.cumsum(np.abs(arr)) / mass]), share, "abs"
    )


def rank_for_share(spectrum: Any, share: float, basis: str = "signed") -> int | None:
    r"""The smallest rank ``k`` whose first ``k`` components explain ``share`` of the output.

    With ``S_k`` from :func:`cumulative_share` (``basis="signed"`` by default, falling back
    to the absolute share when the signed total is zero), the result is the smallest ``k``
    in ``1 .. r`` with ``S_k >= share`` (to ``1e-12``). As ``S_r = 1``, a result always
    exists unless every ``R_k`` is 0; signed contributions can make ``S_k`` overshoot and
    fall back, and this is the *first* crossing.

    Args:
        spectrum (array-like or tensor): ``(r,)`` rank attributions.
        share (float): the fraction to explain, in ``(0, 1]`` (e.g. 0.5 or 0.9).
        basis (str, optional): ``"signed"`` or ``"abs"``. Default: ``"signed"``.

    Returns:
        int or None: the rank ``k`` (a count of components), or None for an all-zero
        spectrum (nothing explains anything).

    Raises:
        UserInputError: if ``share`` is not in ``(0, 1]``, or the spectrum is empty or
            not finite.

    Examples:
        >>> rank_for_share([4.0, 3.0, 2.0, 1.0], 0.5)
        2
        >>> rank_for_share([4.0, 3.0, 2.0, 1.0], 0.9)
        3
        >>> rank_for_share([0.0, 0.0], 0.5) is None
        True
    """
    level = fraction(share, "share")
    result = cumulative_share(spectrum, basis)
    if result.is_zero:
        return None
    reached = np.flatnonzero(result.shares[1:] >= level - _SHARE_TOL)
    return int(reached[0]) + 1 if reached.size else None


def normalized_spectrum(values: Any, normalize: str | None) -> np.ndarray:
    r"""A spectrum scaled for comparison across models with different output scales.

    Args:
        values (array-like or tensor): ``(r,)`` contributions ``R_1 .. R_r``.
        normalize (str or None): None or ``"none"`` (unchanged), ``"abs"`` (divide by
            ``sum |R|``) or ``"total"`` (divide by ``sum R``; by ``sum |R|`` when the total
            is zero, see :func:`cumulative_share`). An all-zero spectrum stays zero.

    Returns:
        np.ndarray: ``(r,)`` float64.

    Raises:
        UserInputError: for an unknown ``normalize``, or an empty or non-finite spectrum.

    Examples:
        >>> normalized_spectrum([3.0, -1.0], "abs").tolist()
        [0.75, -0.25]
        >>> normalized_spectrum([3.0, -1.0], "total").tolist()
        [1.5, -0.5]
    """
    one_of(normalize, "normalize", NORMALIZATIONS)
    arr = as_spectrum(values, "values")
    if normalize in (None, "none"):
        return arr
    mass = float(np.abs(arr).sum())
    if mass == 0.0:
        return np.zeros_like(arr)
    total = float(arr.sum())
    if normalize == "total" and abs(total) > ZERO_TOTAL_RTOL * mass:
        return arr / total
    return arr / mass


@dataclass(frozen=True)
class SpectrumSummary:
    r"""The numbers a report prints for one spectrum.

    Attributes:
        total (float): ``sum R`` (about ``F(x) - F(x')``).
        mass (float): ``sum |R|``.
        ranks (dict): ``{share: k}`` from :func:`rank_for_share` (``None`` for an all-zero
            spectrum), e.g. ``{0.5: 2, 0.9: 3}``.
        basis (str or None): the cumulative-share definition the ranks used (``"signed"``,
            ``"abs"`` when the signed total is zero, None for an all-zero spectrum).

    Examples:
        >>> spectrum_summary([4.0, 3.0, 2.0, 1.0]).rank(0.9)
        3
    """

    total: float
    mass: float
    ranks: dict[float, int | None]
    basis: str | None

    def rank(self, share: float) -> int | None:
        r"""The rank that explains ``share`` of the output.

        Args:
            share (float): one of the shares the summary was computed for.

        Returns:
            int or None: see :func:`rank_for_share`.

        Raises:
            UserInputError: for a share that was not computed.
        """
        if share not in self.ranks:
            raise UserInputError(
                f"`share` {share!r} was not computed; computed shares: {list(self.ranks)} "
                "(pass `shares=` to spectrum_summary)."
            )
        return self.ranks[share]

    def to_dict(self) -> dict[str, Any]:
        r"""Plain JSON-able data (share keys become strings such as ``"0.5"``).

        Returns:
            dict: ``total``, ``mass``, ``ranks``, ``basis``.
        """
        return {
            "total": self.total,
            "mass": self.mass,
            "ranks": {f"{q:g}": k for q, k in self.ranks.items()},
            "basis": self.basis,
        }


def spectrum_summary(
    spectrum: Any, shares: Sequence[float] = (0.5, 0.9), basis: str = "signed"
) -> SpectrumSummary:
    r"""Total, mass, and the ranks that explain each of ``shares`` of the output.

    Args:
        spectrum (array-like or tensor): ``(r,)`` rank attributions.
        shares (sequence of float, optional): fractions in ``(0, 1]``.
            Default: ``(0.5, 0.9)`` (``k50`` and ``k90``).
        basis (str, optional): ``"signed"`` or ``"abs"``, see :func:`cumulative_share`.
            Default: ``"signed"``.

    Returns:
        SpectrumSummary: the numbers.

    Raises:
        UserInputError: bad ``shares``, ``basis`` or spectrum.

    Examples:
        >>> s = spectrum_summary([4.0, 3.0, 2.0, 1.0])
        >>> s.total, s.ranks, s.basis
        (10.0, {0.5: 2, 0.9: 3}, 'signed')
    """
    if isinstance(shares, str | bytes) or not isinstance(shares, Sequence):
        raise UserInputError(
            f"`shares` must be a sequence of fractions such as (0.5, 0.9), got {shares!r}."
        )
    levels = [fraction(q, f"shares[{i}]") for i, q in enumerate(shares)]
    arr = as_spectrum(spectrum)
    cumulative = cumulative_share(arr, basis)
    return SpectrumSummary(
        total=float(arr.sum()),
        mass=float(np.abs(arr).sum()),
        ranks={q: rank_for_share(arr, q, basis) for q in levels},
        basis=cumulative.basis,
    )
