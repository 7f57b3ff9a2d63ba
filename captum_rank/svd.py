r"""The differentiable SVD reconstruction kernel: ``low_rank``, ``high_rank``, ``LowRank``.

``low_rank(x, k)`` keeps the first ``k`` singular components of every matrix in the last
two dimensions of ``x``. Its backward is derived by hand (see :class:`_LowRankFunction`)
instead of going through ``torch.linalg.svd``'s autograd, for two measured reasons:

* **Stability.** torch's SVD backward divides by ``s_i**2 - s_j**2`` for *every* pair of
  singular values, so it returns NaN or inf as soon as two coincide, even when the
  truncation throws both away. Real images hit this all the time (black borders, flat
  regions, digits with many exact zero singular values, an all-zero image). For a
  truncation, pairs on the same side of the cut cancel analytically; only pairs across
  the cut need ``1 / (s_i - s_j)``, which is bounded by the spectral gap at the cut.
* **Speed.** The backward reuses the forward's factors: no second decomposition and no
  ``r x r`` inverse-gap matrix for the whole spectrum.

The mathematics is written out in ``docs/`` and in :func:`_low_rank_backward`.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import Tensor, nn
from torch.autograd.function import FunctionCtx

from captum_rank._validation import floating_tensor
from captum_rank.checks import UserInputError, UserTypeError

BackwardMode = Literal["svd", "identity"]
RankLike = int | float | Tensor

_BACKWARD_MODES = ("svd", "identity")


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    r"""The dtype the SVD runs in for an input of ``dtype``.

    LAPACK and cuSOLVER have no half-precision SVD, and a 16-bit SVD would be too
    inaccurate to be useful anyway, so half and bfloat16 are promoted to float32.

    Args:
        dtype (torch.dtype): dtype of the input tensor.

    Returns:
        torch.dtype: ``float64`` for ``float64``, otherwise ``float32``.

    Examples:
        >>> import torch
        >>> compute_dtype(torch.bfloat16)
        torch.float32
    """
    return torch.float64 if dtype == torch.float64 else torch.float32


def thin_svd(x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    r"""Thin SVD over the last two dimensions, ``x = U @ diag(S) @ Vh``.

    A single seam for the decomposition, so that tests can substitute sign-flipped
    factors and check that nothing downstream depends on the SVD's sign ambiguity.

    Args:
        x (Tensor): ``(..., H, W)`` floating tensor (float32 or float64).

    Returns:
        tuple[Tensor, Tensor, Tensor]: ``U`` ``(..., H, r)``, ``S`` ``(..., r)`` in
        descending order, ``Vh`` ``(..., r, W)``, with ``r = min(H, W)``.

    Examples:
        >>> import torch
        >>> U, S, Vh = thin_svd(torch.randn(2, 5, 3))
        >>> tuple(U.shape), tuple(S.shape), tuple(Vh.shape)
        ((2, 5, 3), (2, 3), (2, 3, 3))
    """
    return torch.linalg.svd(x, full_matrices=False)


def reconstruct(U: Tensor, S: Tensor, Vh: Tensor) -> Tensor:
    r"""``U @ diag(S) @ Vh`` without forming ``diag(S)``.

    Args:
        U (Tensor): ``(..., H, r)`` left singular vectors.
        S (Tensor): ``(..., r)`` weights, one per component.
        Vh (Tensor): ``(..., r, W)`` right singular vectors (transposed).

    Returns:
        Tensor: ``(..., H, W)``.

    Examples:
        >>> import torch
        >>> x = torch.randn(4, 6)
        >>> torch.allclose(reconstruct(*thin_svd(x)), x, atol=1e-5)
        True
    """
    return (U * S.unsqueeze(-2)) @ Vh


def rank_points(inputs: Tensor, ranks: Sequence[float] | Tensor,
                baselines: Tensor | float = 0.0,
                factors: tuple[Tensor, Tensor, Tensor] | None = None) -> Tensor:
    r"""The rank-``k`` points ``x_k = x' + low_rank(x - x', k)`` for every ``k`` in ``ranks``.

    The one definition of the rank path's points, used by the exact rank attributions,
    :func:`~captum_rank.rank_path.rank_path`, the audit and the metrics. One SVD of
    ``x - x'`` serves every rank (pass ``factors`` to reuse it across calls). The lowest
    rank is one truncated reconstruction; every higher one is the previous point plus
    the components ``s_i u_i v_i^T`` between the two (a running sum), so ``K`` points
    cost about as much as one full reconstruction plus ``K`` additions, and memory for
    ``O(K)`` matrices. A fractional rank adds that fraction of the next component, as
    :func:`low_rank` does. ``x_0`` is ``x'`` and ``x_r`` is ``x`` itself,
    not its reconstruction (which misses ``x`` by the SVD's rounding), so that path
    differences such as ``F(x_r) - F(x_0)`` telescope to ``F(x) - F(x')`` exactly.

    Args:
        inputs (Tensor): ``(..., H, W)`` floating end point ``x``.
        ranks (sequence of float or Tensor): ``K`` ranks in ``[0, min(H, W)]``, in any
            order (repeats allowed).
        baselines (Tensor or float, optional): ``x'``, broadcastable to ``inputs``.
            Default: 0.
        factors (tuple of Tensor, optional): ``thin_svd(x - x')`` taken in
            :func:`compute_dtype`, when the caller already has it. Default: None (taken
            here).

    Returns:
        Tensor: ``(K, ..., H, W)`` points in ``inputs``' dtype, one per rank, in the
        order of ``ranks``.

    Raises:
        UserTypeError: if ``inputs`` is not a floating tensor or ``ranks`` not numbers.
        UserInputError: if ``inputs`` is not a batch of matrices, a rank is outside
            ``[0, min(H, W)]``, or ``factors`` do not match ``inputs``.

    Examples:
        >>> import torch
        >>> x = torch.diag(torch.tensor([3.0, 2.0, 1.0]))
        >>> points = rank_points(x, [0, 1, 2.5, 3])
        >>> points.shape, [float(p.trace()) for p in points]
        (torch.Size([4, 3, 3]), [0.0, 3.0, 5.5, 6.0])
    """
    x = _check_matrix_input(inputs, "inputs")
    r = min(x.shape[-2], x.shape[-1])
    ks = _check_ranks(ranks, r)
    work = compute_dtype(x.dtype)
    base = baselines.to(device=x.device, dtype=work) if isinstance(baselines, Tensor) else (
        float(baselines))
    if factors is None:
        factors = thin_svd(x.to(work) - base)
    U, S, Vh = factors
    if S.shape[-1] != r or U.shape[-2] != x.shape[-2] or Vh.shape[-1] != x.shape[-1]:
        raise UserInputError(
            f"`factors` have shapes {tuple(U.shape)}, {tuple(S.shape)}, {tuple(Vh.shape)}, "
            f"which are not the thin SVD of a difference of shape {tuple(x.shape)}; pass "
            "`thin_svd(inputs - baselines)`, or None."
        )
    full = ks == r
    if bool(full.all()):
        return x.unsqueeze(0).expand(len(ks), *x.shape).clone()
    # Only the ranks below r are built: x_r is x.
    lo, hi = int(ks[~full].floor().min()), int(ks[~full].ceil().max())
    distinct = sorted({float(k) for k in ks[~full]})
    if hi - lo <= 2 * len(distinct):
        diffs = _consecutive_sums(U, S, Vh, ks, lo, hi)
    else:
        diffs = _band_sums(U, S, Vh, ks, distinct)
    out = (base + diffs).to(x.dtype)
    if bool(full.any()):
        out[full.to(out.device)] = x
    return out


def _consecutive_sums(U: Tensor, S: Tensor, Vh: Tensor, ks: Tensor, lo: int, hi: int
                      ) -> Tensor:
    """``x_k - x'`` for ranks close together: every rank-one term of ``lo .. hi`` at once.

    One truncated reconstruction, then a cumulative sum of the terms: vectorised, for
    ranks about as many as the components between them (the exact rank attributions).
    """
    start = reconstruct(U[..., :lo], S[..., :lo], Vh[..., :lo, :])
    if hi == lo:
        return start.unsqueeze(0).expand(len(ks), *start.shape)
    whole = ks.floor().to(torch.long)
    terms = torch.einsum("...hk,...kw->k...hw",
                         U[..., lo:hi] * S[..., None, lo:hi], Vh[..., lo:hi, :])
    sums = torch.cat([start.unsqueeze(0), start.unsqueeze(0) + terms.cumsum(0)])
    diffs = sums[(whole - lo).clamp(0, hi - lo).to(sums.device)]
    part = (ks - whole).to(device=sums.device, dtype=S.dtype)
    if bool((part > 0).any()):
        # A fractional rank k < hi, so its next component index floor(k) - lo < hi - lo.
        tail = terms[(whole - lo).clamp(0, hi - lo - 1).to(sums.device)]
        diffs = diffs + part.reshape(-1, *[1] * (tail.dim() - 1)) * tail
    return diffs


def _band_sums(U: Tensor, S: Tensor, Vh: Tensor, ks: Tensor, distinct: list[float]
               ) -> Tensor:
    """``x_k - x'`` for ranks far apart: one reconstruction per band between two ranks.

    The distinct ranks in increasing order, each the previous point plus the components
    whose weight changes between the two (``m_i(k) = clamp(k - i, 0, 1)``): ``O(r H W)``
    work and memory for ``K`` points only, however sparse the ranks.
    """
    r = S.shape[-1]
    index = torch.arange(r, dtype=torch.float64)
    previous = torch.zeros(r, dtype=torch.float64)
    point: Tensor | None = None
    points: dict[float, Tensor] = {}
    for k in distinct:
        mask = (k - index).clamp(0.0, 1.0)
        moving = (mask != previous).nonzero().flatten()
        a, b = (int(moving[0]), int(moving[-1]) + 1) if moving.numel() else (0, 0)
        weights = (mask if point is None else mask - previous)[a:b].to(S)
        band = reconstruct(U[..., a:b], S[..., a:b] * weights, Vh[..., a:b, :])
        point = band if point is None else point + band
        points[k], previous = point, mask
    empty = reconstruct(U[..., :0], S[..., :0], Vh[..., :0, :])  # for x_r, replaced after
    return torch.stack([points.get(float(k), empty) for k in ks])


def _check_ranks(ranks: Any, r: int) -> Tensor:
    if isinstance(ranks, Tensor):
        if ranks.dim() > 1 or ranks.dtype == torch.bool or ranks.is_complex():
            raise UserTypeError(
                f"`ranks` must be a 1-D tensor of real ranks, got a {ranks.dtype} tensor of "
                f"shape {tuple(ranks.shape)}."
            )
        values = ranks.detach().to(device="cpu", dtype=torch.float64).reshape(-1)
    else:
        if isinstance(ranks, str | bytes) or not isinstance(ranks, Sequence | range):
            raise UserTypeError(
                f"`ranks` must be a list of ranks in [0, {r}], got {type(ranks).__name__}.")
        if any(isinstance(k, bool) or not isinstance(k, numbers.Real) for k in ranks):
            raise UserTypeError(f"`ranks` must hold numbers in [0, {r}], got {list(ranks)!r}.")
        values = torch.tensor([float(k) for k in ranks], dtype=torch.float64)
    if values.numel() == 0:
        raise UserInputError(f"`ranks` is empty; give at least one rank in [0, {r}].")
    if not bool(torch.isfinite(values).all()) or float(values.min()) < 0 or float(
            values.max()) > r:
        raise UserInputError(
            f"`ranks` must lie in [0, {r}] (min(H, W) of the input), got "
            f"{values.tolist()}."
        )
    return values


def _check_matrix_input(x: Any, name: str) -> Tensor:
    x = floating_tensor(x, name, "the SVD")
    if x.dim() < 2:
        raise UserInputError(
            f"`{name}` has shape {tuple(x.shape)}; it needs at least two dimensions, the "
            "last two being the matrix (H, W). Add the missing dimension with `unsqueeze`."
        )
    if x.shape[-1] == 0 or x.shape[-2] == 0:
        raise UserInputError(
            f"`{name}` has an empty matrix dimension: shape {tuple(x.shape)}; the last two "
            "dimensions must be at least 1."
        )
    return x


def _non_finite_error(name: str) -> UserInputError:
    return UserInputError(
        f"`{name}` contains NaN or inf; the SVD of such a matrix is undefined. "
        f"Clean the input first (e.g. `torch.nan_to_num({name})`)."
    )


def _checked_svd(x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """:func:`thin_svd`, raising the documented error for NaN/inf input.

    NaN or inf in a matrix makes LAPACK fail or puts NaN/inf into its singular values,
    so checking the ``r`` singular values replaces a pass over all ``H W`` entries.
    """
    try:
        U, S, Vh = thin_svd(x)
    except torch.linalg.LinAlgError:
        if not bool(torch.isfinite(x).all()):
            raise _non_finite_error("x") from None
        raise
    if not bool(torch.isfinite(S).all()):
        raise _non_finite_error("x")
    return U, S, Vh


def rank_mask(rank: RankLike, batch_shape: torch.Size, r: int, device: torch.device,
              dtype: torch.dtype) -> Tensor:
    r"""The per-component weights ``m`` of a (possibly fractional) rank.

    ``m_i = clamp(rank - i, 0, 1)`` for ``i = 0 .. r-1``: an integer rank ``k`` keeps the
    first ``k`` components whole; ``k = 2.5`` keeps two and half of the third.

    Args:
        rank (int, float or Tensor): the rank (Python or numpy number). A tensor holds
            one rank per matrix: shape ``batch_shape``, or a 0-d tensor for all matrices.
            It must have one dimension per leading dimension of the input; a dimension
            of size 1 is shared (``(N, 1)``: one rank per example for all channels).
            Trailing alignment (numpy's broadcasting) is refused, since a ``(3,)`` rank
            on a ``(3, 3, H, W)`` input would silently apply per channel.
        batch_shape (torch.Size): leading dimensions of the input.
        r (int): number of singular components, ``min(H, W)``.
        device (torch.device): device of the mask.
        dtype (torch.dtype): dtype of the mask.

    Returns:
        Tensor: ``(*batch_shape, r)`` weights in ``[0, 1]``, non-increasing in ``i``.

    Raises:
        UserTypeError: if ``rank`` is not a number or a real tensor.
        UserInputError: if a rank is outside ``[0, r]``, not finite, or its shape does
            not match ``batch_shape``.

    Examples:
        >>> import torch
        >>> rank_mask(2.5, torch.Size([]), 4, torch.device("cpu"), torch.float32)
        tensor([1.0000, 1.0000, 0.5000, 0.0000])
    """
    index = torch.arange(r, device=device, dtype=dtype)
    if isinstance(rank, bool) or not isinstance(rank, numbers.Real | Tensor):
        raise UserTypeError(
            f"`rank` must be an int, a float or a tensor of ranks, got {type(rank).__name__}."
        )
    if isinstance(rank, Tensor):
        if rank.dtype == torch.bool or rank.is_complex():
            raise UserTypeError(
                f"`rank` tensor has dtype {rank.dtype}; use integer or float ranks."
            )
        if rank.dim() > 0 and (
            rank.dim() != len(batch_shape)
            or any(have not in (1, want) for have, want in zip(rank.shape, batch_shape,
                                                                strict=True))
        ):
            raise UserInputError(
                f"`rank` has shape {tuple(rank.shape)}, which does not match the input's "
                f"leading dimensions {tuple(batch_shape)} (x.shape[:-2]): give one rank per "
                f"matrix, shape {tuple(batch_shape)}, keeping every dimension and using 1 "
                "where a rank is shared (e.g. (N, 1) for one rank per example); ranks are "
                "not broadcast from the right."
            )
        values = rank.to(device=device, dtype=dtype)
        if not bool(torch.isfinite(values).all()):
            raise UserInputError(
                "`rank` contains NaN or inf; give finite ranks in [0, min(H, W)]."
            )
        low, high = float(values.min()) if values.numel() else 0.0, (
            float(values.max()) if values.numel() else 0.0
        )
        try:
            values = torch.broadcast_to(values, batch_shape)
        except RuntimeError:
            raise UserInputError(
                f"`rank` has shape {tuple(rank.shape)}, which does not broadcast to the "
                f"input's leading dimensions {tuple(batch_shape)}: give one rank per matrix."
            ) from None
    else:
        low = high = float(rank)
        if low != low or low in (float("inf"), float("-inf")):
            raise UserInputError("`rank` must be finite; give a rank in [0, min(H, W)].")
        values = torch.full(batch_shape, float(rank), device=device, dtype=dtype)
    if low < 0 or high > r:
        raise UserInputError(
            f"`rank` must lie in [0, {r}] (min(H, W) of the input), got "
            f"{low if low < 0 else high}. Clamp it, or check which dimensions hold the matrix."
        )
    return (values.unsqueeze(-1) - index).clamp(0.0, 1.0)


def _pairwise_gains(
    s_rows: Tensor, m_rows: Tensor, s_cols: Tensor, m_cols: Tensor, tol: Tensor
) -> tuple[Tensor, Tensor]:
    r"""The gain matrices of the truncation's derivative, for rows x cols component pairs.

    For ``f_i = m_i s_i``, the symmetric part of ``U^T dX V`` is scaled by
    ``K_ij = (f_i - f_j) / (s_i - s_j)`` and the skew part by
    ``J_ij = (f_i + f_j) / (s_i + s_j)``. Both equal ``m`` wherever ``m_i = m_j``, so
    the singular ratios are only formed across the cut. Where a ratio has no limit
    (equal singular values on different sides of the cut, or two zero singular values)
    the pair gets the mean mask ``(m_i + m_j) / 2``: the exact derivative of the
    reconstruction that shares the tied block evenly, which is the one basis-free
    choice and keeps every gain within ``[0, max(m)]``.
    """
    s_i, s_j = s_rows.unsqueeze(-1), s_cols.unsqueeze(-2)
    m_i, m_j = m_rows.unsqueeze(-1), m_cols.unsqueeze(-2)
    f_i, f_j = m_i * s_i, m_j * s_j
    same_side = m_i == m_j
    mean_mask = 0.5 * (m_i + m_j)

    diff = s_i - s_j
    tied = diff.abs() <= tol
    safe_diff = torch.where(tied, torch.ones_like(diff), diff)
    gain_sym = torch.where(same_side, m_i, torch.where(tied, mean_mask, (f_i - f_j) / safe_diff))

    total = s_i + s_j
    both_zero = total <= tol
    safe_total = torch.where(both_zero, torch.ones_like(total), total)
    gain_skew = torch.where(
        same_side, m_i, torch.where(both_zero, mean_mask, (f_i + f_j) / safe_total)
    )
    return gain_sym, gain_skew


def kept_components(mask: Tensor) -> int:
    """Number of leading components that any matrix of the batch keeps (mask > 0)."""
    if mask.numel() == 0:
        return 0
    kept = (mask > 0).reshape(-1, mask.shape[-1]).any(dim=0)
    nonzero = kept.nonzero()
    return int(nonzero[-1]) + 1 if nonzero.numel() else 0


def _low_rank_backward(grad: Tensor, U: Tensor, S: Tensor, Vh: Tensor, mask: Tensor,
                       k: int | None = None, binary: bool = False) -> Tensor:
    r"""Adjoint of ``dX -> d(U diag(m s) V^T)`` applied to ``grad``.

    ``Y = U diag(m s) V^T`` is the gradient of ``phi(X) = 1/2 sum_i m_i s_i^2`` (a
    weighted Ky Fan norm for non-increasing ``m``), so its derivative is a Hessian and
    self-adjoint: the backward is the forward derivative applied to ``grad``. With
    ``A = U^T grad V``::

        dX = U (K o sym(A) + J o skew(A)) V^T          (inside the factors' span)
           + (I - U U^T) grad V diag(m) V^T              (tall matrices only)
           + U diag(m) U^T grad (I - V V^T)              (wide matrices only)

    The complement terms come from ``dU = (I - UU^T) dX V S^-1`` times ``diag(m s)``:
    the ``S^-1`` cancels, so they are finite even for zero singular values.

    Only the first ``k`` components have ``m > 0``; the gains vanish on the block of
    pairs that are both dropped, so only the first ``k`` rows and columns of ``A`` are
    needed. For ``k <= r / 2`` the blocked form below costs ``O(H W k)`` instead of
    ``O(H W r)``; above that the dense form is cheaper.
    """
    rows, cols = grad.shape[-2], grad.shape[-1]
    r = S.shape[-1]
    if k is None:
        k = kept_components(mask)
    eps = torch.finfo(S.dtype).eps
    tol = eps * max(rows, cols) * S.amax(dim=-1, keepdim=True).unsqueeze(-1)
    if k == 0:
        return torch.zeros_like(grad)
    if 2 * k > r:
        return _dense_backward(grad, U, S, Vh, mask, tol)
    if binary:
        return _truncation_backward(grad, U, S, Vh, k, tol)
    U1, Vh1, m1 = U[..., :k], Vh[..., :k, :], mask[..., :k]
    grad_V1 = grad @ Vh1.mT  # (H, k)
    a_cols = U.mT @ grad_V1  # A[:, :k], (r, k)
    grad_T_U1 = U1.mT @ grad  # (k, W)
    a_rows = grad_T_U1 @ Vh.mT  # A[:k, :], (k, r)
    gain_sym, gain_skew = _pairwise_gains(S[..., :k], m1, S, mask, tol)  # (k, r)
    transposed = a_cols.mT  # A^T[:k, :]
    top = gain_sym * 0.5 * (a_rows + transposed) + gain_skew * 0.5 * (a_rows - transposed)
    # Rows i >= k, columns j < k: the gains are symmetric, so they are top's transposed.
    lower = a_cols[..., k:, :]
    upper_T = a_rows[..., :, k:].mT
    bottom = (gain_sym[..., :, k:].mT * 0.5 * (lower + upper_T)
              + gain_skew[..., :, k:].mT * 0.5 * (lower - upper_T))
    grad_x = U1 @ (top @ Vh) + (U[..., k:] @ bottom) @ Vh1
    if rows > cols:
        grad_x = grad_x + ((grad_V1 - U @ a_cols) * m1.unsqueeze(-2)) @ Vh1
    elif cols > rows:
        grad_x = grad_x + (U1 * m1.unsqueeze(-2)) @ (grad_T_U1 - a_rows @ Vh)
    return grad_x


def _truncation_backward(grad: Tensor, U: Tensor, S: Tensor, Vh: Tensor, k: int,
                         tol: Tensor) -> Tensor:
    """:func:`_low_rank_backward` for an integer rank ``k`` (mask 1 then 0), the common case.

    The gains are 1 on the kept block and 0 on the dropped one, so only the ``k x (r-k)``
    cross block has to be formed: ``K = s_i / (s_i - s_j)``, ``J = s_i / (s_i + s_j)`` for
    ``i < k <= j`` (a tie, or two zeros, gets 1/2 as in :func:`_pairwise_gains`), and by
    symmetry the lower block is ``K o P - J o Q`` where the upper one is ``K o P + J o Q``.
    Fewer, larger operations than the general path, which matters for small matrices.
    """
    rows, cols = grad.shape[-2], grad.shape[-1]
    U1, U2, Vh1, Vh2 = U[..., :k], U[..., k:], Vh[..., :k, :], Vh[..., k:, :]
    grad_V1 = grad @ Vh1.mT  # (H, k)
    grad_T_U1 = U1.mT @ grad  # (k, W)
    a_11 = U1.mT @ grad_V1  # (k, k)
    a_12 = grad_T_U1 @ Vh2.mT  # (k, r-k)
    a_21_T = (U2.mT @ grad_V1).mT  # (k, r-k)
    s_kept, s_dropped = S[..., :k].unsqueeze(-1), S[..., k:].unsqueeze(-2)
    diff, total = s_kept - s_dropped, s_kept + s_dropped
    half = torch.full_like(diff, 0.5)
    gain_sym = torch.where(diff <= tol, half, s_kept / torch.where(diff <= tol, 1.0, diff))
    gain_skew = torch.where(total <= tol, half, s_kept / torch.where(total <= tol, 1.0, total))
    sym, skew = gain_sym * (0.5 * (a_12 + a_21_T)), gain_skew * (0.5 * (a_12 - a_21_T))
    grad_x = U1 @ (a_11 @ Vh1 + (sym + skew) @ Vh2) + (U2 @ (sym - skew).mT) @ Vh1
    if rows > cols:
        grad_x = grad_x + (grad_V1 - U1 @ a_11 - U2 @ a_21_T.mT) @ Vh1
    elif cols > rows:
        grad_x = grad_x + U1 @ (grad_T_U1 - a_11 @ Vh1 - a_12 @ Vh2)
    return grad_x


def _dense_backward(grad: Tensor, U: Tensor, S: Tensor, Vh: Tensor, mask: Tensor,
                    tol: Tensor) -> Tensor:
    """The same adjoint as :func:`_low_rank_backward`, with the whole ``r x r`` system."""
    rows, cols = grad.shape[-2], grad.shape[-1]
    grad_V = grad @ Vh.mT
    inner = U.mT @ grad_V  # A = U^T G V, (..., r, r)
    gain_sym, gain_skew = _pairwise_gains(S, mask, S, mask, tol)
    sym = 0.5 * (inner + inner.mT)
    skew = 0.5 * (inner - inner.mT)
    grad_x = U @ (gain_sym * sym + gain_skew * skew) @ Vh
    if rows > cols:
        grad_x = grad_x + ((grad_V - U @ inner) * mask.unsqueeze(-2)) @ Vh
    elif cols > rows:
        grad_x = grad_x + (U * mask.unsqueeze(-2)) @ (U.mT @ grad - inner @ Vh)
    return grad_x


class _LowRankFunction(torch.autograd.Function):
    r"""``x -> U diag(m s) V^T`` with the hand-derived backward of :func:`_low_rank_backward`."""

    @staticmethod
    def forward(ctx: FunctionCtx, x: Tensor, mask: Tensor, backward: str, k: int,
                binary: bool) -> Tensor:
        U, S, Vh = _checked_svd(x)
        ctx.backward_mode = backward  # type: ignore[attr-defined]
        ctx.kept = k  # type: ignore[attr-defined]
        ctx.binary = binary  # type: ignore[attr-defined]
        if backward == "svd":
            ctx.save_for_backward(U, S, Vh, mask)
        if binary:
            return reconstruct(U[..., :k], S[..., :k], Vh[..., :k, :])
        return reconstruct(U[..., :k], (S * mask)[..., :k], Vh[..., :k, :])

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, None, None, None, None]:
        if ctx.backward_mode == "identity":
            return grad, None, None, None, None
        U, S, Vh, mask = ctx.saved_tensors
        grad_x = _low_rank_backward(grad, U, S, Vh, mask, ctx.kept, ctx.binary)
        return grad_x, None, None, None, None


def _check_backward(backward: str) -> None:
    if backward not in _BACKWARD_MODES:
        raise UserInputError(
            f"`backward` must be one of {_BACKWARD_MODES}, got {backward!r}: 'svd' is the "
            "exact derivative, 'identity' the straight-through (BPDA) estimate."
        )


def low_rank(x: Tensor, rank: RankLike, backward: BackwardMode = "svd") -> Tensor:
    r"""Rank-``rank`` SVD reconstruction of every matrix in the last two dimensions.

    By Eckart-Young this is the best approximation of that rank in Frobenius and
    spectral norm. The backward is finite everywhere (see the module docstring):
    where the truncation has no derivative (a zero gap at the cut) it returns the
    derivative of the evenly shared tie instead of NaN.

    Args:
        x (Tensor): ``(..., H, W)`` floating tensor; leading dimensions are a batch of
            matrices. float32 and float64 are computed as such; float16 and bfloat16
            are computed in float32 and returned in their own dtype.
        rank (int, float or Tensor): components to keep, in ``[0, min(H, W)]``. A float
            keeps a fraction of the last component (``2.5``: two whole and half of the
            third); a tensor gives one rank per matrix, shape ``x.shape[:-2]`` (size-1
            dimensions are shared, e.g. ``(N, 1)``: one rank per example; see
            :func:`rank_mask`).
        backward (str, optional): ``"svd"`` (default), the exact derivative of the
            truncation; ``"identity"``, the straight-through estimate (BPDA) that passes
            the incoming gradient unchanged, the usual convention for attacks through
            non-differentiable preprocessing.

    Returns:
        Tensor: same shape, dtype and device as ``x``.

    Raises:
        UserTypeError: if ``x`` is not a floating tensor or ``rank`` has the wrong type.
        UserInputError: if ``x`` is on the meta device (no values), has fewer than two
            dimensions, NaN/inf entries, or ``rank`` is out of range or does not
            broadcast; or ``backward`` is unknown.

    Examples:
        >>> import torch
        >>> from captum_rank import low_rank
        >>> x = torch.randn(8, 3, 32, 32, requires_grad=True)
        >>> y = low_rank(x, 4)
        >>> int(torch.linalg.matrix_rank(y[0, 0].detach()))
        4
        >>> y.sum().backward()
        >>> bool(torch.isfinite(x.grad).all())
        True
    """
    _check_backward(backward)
    _check_matrix_input(x, "x")  # NaN/inf: the SVD's singular values tell (_checked_svd)
    if x.device.type == "meta":
        # A meta tensor has a shape but no values: the SVD would fail deep inside (on a
        # .item() call) with a message that does not say which argument or why.
        raise UserInputError(
            f"`x` is on the meta device (shape {tuple(x.shape)}, no values), so it has no "
            "singular values to truncate; build it on a real device, e.g. "
            "`torch.zeros(shape, device='cpu')`, or materialise a meta model with "
            "`model.to_empty(device='cpu')` and load its weights first."
        )
    work_dtype = compute_dtype(x.dtype)
    r = min(x.shape[-2], x.shape[-1])
    mask = rank_mask(rank, x.shape[:-2], r, x.device, work_dtype)
    # A scalar integer rank is known on the host: no device sync to find how many
    # components are kept, and the 0/1 mask takes the truncation fast path.
    if isinstance(rank, numbers.Integral) and not isinstance(rank, bool):
        kept, binary = int(rank), True
    else:
        kept, binary = kept_components(mask), False
    y = _LowRankFunction.apply(x.to(work_dtype), mask, backward, kept, binary)
    return y.to(x.dtype)


def high_rank(x: Tensor, rank: RankLike, backward: BackwardMode = "svd") -> Tensor:
    r"""The high-rank residual ``x - low_rank(x, rank)``.

    This is the part of an image that the paper finds naturally trained models exploit
    and robust models ignore.

    Args:
        x (Tensor): ``(..., H, W)`` floating tensor, as for :func:`low_rank`.
        rank (int, float or Tensor): components removed, as for :func:`low_rank`.
        backward (str, optional): ``"svd"`` (exact) or ``"identity"``: the
            straight-through estimate of the *whole* residual map, i.e. the incoming
            gradient passes unchanged (not ``I - I = 0``).

    Returns:
        Tensor: same shape, dtype and device as ``x``.

    Raises:
        UserTypeError: as for :func:`low_rank`.
        UserInputError: as for :func:`low_rank`.

    Examples:
        >>> import torch
        >>> from captum_rank import high_rank, low_rank
        >>> x = torch.randn(2, 16, 16)
        >>> torch.allclose(high_rank(x, 3) + low_rank(x, 3), x, atol=1e-5)
        True
    """
    _check_backward(backward)
    if backward == "identity":
        # low_rank validates x; its identity mode saves nothing for a backward that the
        # detach drops anyway, so the residual's gradient is exactly the incoming one.
        return x - low_rank(x, rank, backward="identity").detach()
    return x - low_rank(x, rank, backward)


class _RankModule(nn.Module):
    """Shared state of :class:`LowRank` and :class:`HighRank`."""

    def __init__(self, rank: RankLike, backward: BackwardMode = "svd") -> None:
        super().__init__()
        _check_backward(backward)
        self.rank = rank
        self.backward_mode: BackwardMode = backward

    def extra_repr(self) -> str:
        return f"rank={self.rank}, backward={self.backward_mode!r}"


class LowRank(_RankModule):
    r"""``nn.Module`` form of :func:`low_rank`, to put in front of a model.

    ``nn.Sequential(LowRank(8), model)`` is a rank-limited model that Captum's
    attribution methods and attacks (``captum.robust.PGD``, ``FGSM``) differentiate
    through with finite gradients.

    Args:
        rank (int, float or Tensor): components to keep, as for :func:`low_rank`.
        backward (str, optional): ``"svd"`` (default) or ``"identity"``.

    Examples:
        >>> import torch
        >>> from torch import nn
        >>> from captum_rank import LowRank
        >>> model = nn.Sequential(LowRank(5), nn.Flatten(), nn.Linear(28 * 28, 10))
        >>> model(torch.rand(4, 1, 28, 28)).shape
        torch.Size([4, 10])
    """

    def forward(self, x: Tensor) -> Tensor:
        return low_rank(x, self.rank, self.backward_mode)


class HighRank(_RankModule):
    r"""``nn.Module`` form of :func:`high_rank`: a model that sees only the residual.

    Args:
        rank (int, float or Tensor): components removed, as for :func:`high_rank`.
        backward (str, optional): ``"svd"`` (default) or ``"identity"``.

    Examples:
        >>> import torch
        >>> from captum_rank.svd import HighRank
        >>> HighRank(3)(torch.randn(2, 1, 8, 8)).shape
        torch.Size([2, 1, 8, 8])
    """

    def forward(self, x: Tensor) -> Tensor:
        return high_rank(x, self.rank, self.backward_mode)
