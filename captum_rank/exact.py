r"""Exact rank attributions: the converged rank spectrum from ``r + 1`` forward passes.

On the rank-``k`` curve, where the singular components of ``x - x'`` enter one at a time
in rank order, the path passes through the points

    ``x_k = x' + low_rank(x - x', k)``,   ``x_0 = x'``,  ``x_r = x``,

and between ``x_{i-1}`` and ``x_i`` only component ``i`` moves. The rank attribution of
component ``i`` is the path integral over that segment alone, so by the fundamental
theorem of calculus it is exactly

    ``R_i = F(x_i) - F(x_{i-1})``

whatever the model: the value that ``attribute_ranks`` converges to as ``n_steps``
grows, with no gradient and no quadrature error, and ``sum_i R_i = F(x) - F(x')`` up to
float rounding. It costs ``r + 1`` forward passes per example.

Which paths have this form (:func:`check_exact`):

* ``sequential`` on any input. Its windows depend on the component index only, so with
  one SVD per channel (``channels="per_channel"``) component ``i`` of *every* channel
  enters in the same window: ``x_k`` keeps the first ``k`` components of each channel,
  and ``R_i`` is the attribution of component ``i`` **summed over the channels** (one
  value per component index; the split between channels needs gradients).
* ``sequential``, ``arc_length``, ``energy`` and ``numerical_rank`` on one matrix per
  example (a grey image, or ``channels="joint"``: one SVD of the ``(C*H) x W`` stack):
  they walk the same curve at different speeds, so their converged rank attributions are
  the same ``R_i``.
* Not ``arc_length``, ``energy`` or ``numerical_rank`` on several matrices per example
  (colour with per-channel SVDs): each channel's windows follow its own spectrum, so the
  channels' components interleave, no point of that path is ``x_k``, and it is a
  different path whose rank attributions need the quadrature. Not ``spectral`` (its
  windows overlap) or ``linear`` (IG's straight line).

The module has no model code: :meth:`captum_rank.RankIntegratedGradients.exact_ranks`
hands :func:`exact_rank_attributions` a :class:`~captum_rank.model_call.ModelCall`, which
runs the model on path points of any examples, in batches, and returns the target's
outputs.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from captum_rank import svd as _svd
from captum_rank.checks import UserInputError
from captum_rank.model_call import ModelCall, Rows
from captum_rank.path import PathGeometry, matrix_form
from captum_rank.schedules import (
    ArcLengthSchedule,
    EnergySchedule,
    NumericalRankSchedule,
    RankSchedule,
    SequentialSchedule,
)

__all__ = ["CURVE_SCHEDULES", "check_exact", "exact_rank_attributions"]

#: Schedules that walk the rank-``k`` curve, components one at a time in rank order (on
#: one matrix per example). Only ``sequential`` also shares its windows across channels.
CURVE_SCHEDULES: tuple[type[RankSchedule], ...] = (
    SequentialSchedule, ArcLengthSchedule, EnergySchedule, NumericalRankSchedule,
)


def check_exact(schedule: RankSchedule, inputs: Tensor) -> tuple[int, ...]:
    r"""Refuse a schedule whose converged rank attributions are not ``F(x_i) - F(x_{i-1})``.

    Args:
        schedule (RankSchedule): the schedule whose converged attributions are wanted.
        inputs (Tensor): ``(N, ..., H, W)`` inputs (their shape decides how many matrices
            an example has).

    Returns:
        tuple of int: the matrix shape the path factors (see
        :func:`captum_rank.path.matrix_form`).

    Raises:
        UserInputError: naming ``schedule`` for a schedule that is not a rank-``k``
            curve schedule, or one that times several matrices per example by their own
            spectra. Feature vectors ``(N, F)`` (rank one) pass under every schedule.

    Examples:
        >>> import torch
        >>> from captum_rank.schedules import ArcLengthSchedule, SequentialSchedule
        >>> check_exact(SequentialSchedule(), torch.zeros(2, 3, 8, 8))
        (2, 3, 8, 8)
        >>> check_exact(ArcLengthSchedule(channels="joint"), torch.zeros(2, 3, 8, 8))
        (2, 1, -1, 8)
        >>> check_exact(ArcLengthSchedule(), torch.zeros(2, 3, 8, 8))
        Traceback (most recent call last):
        ...
        captum_rank.checks.UserInputError: `schedule` arc_length times each of the 3 ...
    """
    if inputs.dim() < 3:
        # One 1 x F matrix of rank one per example: every schedule walks its straight line,
        # and its one exact rank attribution is F(x) - F(x').
        return matrix_form(inputs, schedule)[1]
    name = getattr(schedule, "name", type(schedule).__name__)
    if type(schedule) not in CURVE_SCHEDULES:
        raise UserInputError(
            f"`schedule` {name} does not let the singular components enter one at a time in "
            "rank order, so its converged rank attributions are not F(x_i) - F(x_{i-1}) "
            "and need the quadrature (attribute_ranks). Exact rank attributions apply to "
            "schedule='sequential' (any input) and to 'arc_length', 'energy' and "
            "'numerical_rank' on one matrix per example (grey, or channels='joint')."
        )
    _, matrix_shape = matrix_form(inputs, schedule)
    matrices = math.prod(matrix_shape[1:-2])
    if matrices > 1 and type(schedule) is not SequentialSchedule:
        raise UserInputError(
            f"`schedule` {name} times each of the {matrices} matrices of an example "
            f"(the channels of inputs of shape {tuple(inputs.shape)}) by its own spectrum, "
            "so the channels' components interleave: a different path from the rank-k "
            "curve, with no exact form. Use schedule='sequential' (component i of every "
            "channel enters together; one value per component index) or "
            f"{type(schedule).__name__}(channels='joint') (one SVD of the (C*H) x W stack)."
        )
    return matrix_shape


def _rank_points(geometry: PathGeometry, example: int, first: int, last: int) -> Tensor:
    r"""``x_k`` for ``first <= k <= last`` of one example, ``(K, ...)`` in the input's form.

    :func:`~captum_rank.svd.rank_points` on the geometry's decomposition: a running sum
    of rank-one terms (``O(K H W)`` per chunk), ``x_0`` and ``x_r`` the baseline and the
    input themselves, so that ``sum R = F(x) - F(x')`` holds to rounding.
    """
    U, S, Vh = (factor[example] for factor in geometry.svd())
    x = geometry.inputs[example].reshape(geometry.matrix_shape[1:])
    points = _svd.rank_points(x, range(first, last + 1), geometry.baseline[example],
                              factors=(U, S, Vh))
    return points.reshape(last - first + 1, *geometry.inputs.shape[1:])


def exact_rank_attributions(
    inputs: Tensor,
    baseline: Tensor,
    schedule: RankSchedule,
    model: ModelCall,
) -> tuple[Tensor, Tensor]:
    r"""``R_i = F(x_i) - F(x_{i-1})`` for every example and component, in batches.

    All ``N (r + 1)`` path points (example by example, ``k = 0 .. r``) go through
    the model in chunks of at most its ``internal_batch_size`` rows; only one chunk's
    points exist at a time.

    Args:
        inputs (Tensor): ``(N, ..., H, W)`` validated inputs ``x``.
        baseline (Tensor): ``x'``, broadcastable to ``inputs``.
        schedule (RankSchedule): checked by :func:`check_exact`.
        model (ModelCall): the model's target output on path points of given examples.

    Returns:
        tuple: ``(ranks, delta)``. ``ranks``: ``(N, 1, ..., 1, r)`` in the input's dtype
        (the shape of ``attribute_ranks``' result with the channel dimensions summed);
        ``delta``: ``(N,)`` float64 ``sum_i R_i - (F(x) - F(x'))``, float rounding only.

    Raises:
        UserInputError: see :func:`check_exact`.

    Examples:
        >>> import torch
        >>> from captum_rank.schedules import SequentialSchedule
        >>> weights = torch.arange(16.0).reshape(1, 1, 4, 4)
        >>> model = ModelCall(lambda points: (points * weights).sum((1, 2, 3)), num_examples=1)
        >>> x = torch.eye(4).reshape(1, 1, 4, 4)  # four components with s_i = 1
        >>> ranks, delta = exact_rank_attributions(x, torch.zeros(()), SequentialSchedule(),
        ...                                        model)
        >>> ranks.shape, round(float(ranks.sum()), 4), float(delta.abs().max()) < 1e-5
        (torch.Size([1, 1, 4]), 30.0, True)
    """
    check_exact(schedule, inputs)
    geometry = PathGeometry.build(inputs, baseline, schedule)
    n = int(inputs.shape[0])
    r = int(geometry.singular_values.shape[-1])
    rows = n * (r + 1)
    values = torch.empty(rows, dtype=torch.float64)
    for chunk in model.batches(rows):
        begin, end = chunk.start, chunk.stop
        parts, owners = [], []
        for example in range(begin // (r + 1), (end - 1) // (r + 1) + 1):
            first = max(begin, example * (r + 1)) - example * (r + 1)
            last = min(end, (example + 1) * (r + 1)) - 1 - example * (r + 1)
            parts.append(_rank_points(geometry, example, first, last))
            owners.append(torch.full((last - first + 1,), example, dtype=torch.long))
        examples = torch.cat(owners).to(inputs.device)
        outputs = model.outputs((torch.cat(parts),), Rows.of_examples(examples))
        values[begin:end] = outputs.detach().to(
            device="cpu", dtype=torch.float64).reshape(end - begin)
    table = values.reshape(n, r + 1)
    bad = ~torch.isfinite(table)
    if bool(bad.any()):
        shown = ", ".join(f"example {int(e)} at k={int(k)}" for e, k in bad.nonzero()[:10])
        raise UserInputError(
            f"`forward_func` returned NaN or inf on the rank points ({shown}); the exact "
            "rank attributions are undefined there. Check the model on the rank-k "
            "approximations and the baseline."
        )
    ranks = table.diff(dim=1)
    delta = ranks.sum(dim=1) - (table[:, -1] - table[:, 0])
    keep = (n, *([1] * (inputs.dim() - 3)), r)
    return ranks.reshape(keep).to(device=inputs.device, dtype=inputs.dtype), delta
