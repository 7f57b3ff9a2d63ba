r"""Which way the audit runs each attribution, and with which options: decided once, here.

An attribution of the audit (``{name: schedule}``) is run either exactly, by ``r + 1`` forward
passes (:meth:`~captum_rank.RankIntegratedGradients.exact_ranks`, where its schedule
walks the rank-``k`` curve on these images and exact spectra are asked for), or with the
quadrature, whose options (schedule, rule, ``n_steps``, ``map_tolerance``, batching) are
one checked :class:`~captum_rank.options.RigOptions`. :func:`plan_attributions` makes that
decision for :func:`~captum_rank.audit.spectrum.rank_spectrum` and
:func:`~captum_rank.audit.explain` alike, and :class:`AttributionRun` carries it out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from torch import Tensor

from captum_rank.attr import RankIntegratedGradients
from captum_rank.audit.errors import AuditInputError
from captum_rank.audit.settings import (
    AttributionSpec,
    default_method,
    default_schedule,
    schedule_id,
)
from captum_rank.checks import UserInputError, UserTypeError
from captum_rank.defaults import ADAPTIVE
from captum_rank.exact import check_exact
from captum_rank.options import RigOptions
from captum_rank.schedules import resolve_schedule

__all__ = ["AttributionRun", "admits_exact", "attribution_map", "exact_curve", "exact_rows",
           "integration_method", "plan_attributions"]


def exact_rows(internal_batch_size: int | None, n_steps: int, n_images: int) -> int:
    r"""Path points per forward pass of an exact spectrum in the audit and explain.

    ``r + 1`` points per image can be many more than ``n_steps`` (225 on photos), so
    without a limit it passes at most the rows the quadrature would.

    Args:
        internal_batch_size (int or None): the user's limit, if any.
        n_steps (int): the quadrature's steps.
        n_images (int): images in the batch.

    Returns:
        int: rows per pass.

    Examples:
        >>> exact_rows(None, 32, 4), exact_rows(10, 32, 4)
        (128, 10)
    """
    return internal_batch_size or max(1, n_steps) * n_images


def attribution_map(attributions: Mapping[str, AttributionSpec] | None,
                    default: Mapping[str, AttributionSpec]) -> dict[str, AttributionSpec]:
    r"""The user's ``attributions``, or ``default``; refused when empty.

    Examples:
        >>> attribution_map(None, {"ig": "linear"})
        {'ig': 'linear'}
    """
    chosen = dict(attributions) if attributions is not None else dict(default)
    if not chosen:
        raise AuditInputError("`attributions` is empty; give e.g. {'rig': None, 'ig': 'linear'}.")
    return chosen


def integration_method(method: str | None) -> str:
    r"""The rule the audit integrates with: the user's ``method``, or :func:`default_method`.

    Examples:
        >>> integration_method(None), integration_method("gausslegendre")
        ('adaptive', 'gausslegendre')
    """
    return method if method is not None else default_method()


def admits_exact(spec: AttributionSpec, images: Tensor) -> bool:
    """Whether the attribution's converged spectrum on images like these is F(x_i) - F(x_{i-1})."""
    schedule = resolve_schedule(spec if spec is not None else default_schedule())
    try:
        check_exact(schedule, images)
    except UserInputError:
        return False
    return True


@dataclass(frozen=True)
class AttributionRun:
    r"""One attribution of the audit, decided: exact by forward passes, or the quadrature.

    Attributes:
        name: the attribution's key.
        spec: the schedule as given (``None``: the library's default).
        schedule: its id, as results record it.
        exact: run by :meth:`~captum_rank.RankIntegratedGradients.exact_ranks`.
        options: the quadrature's checked options (None for an exact attribution, which
            needs none of them).
        n_steps: the quadrature's steps (bounds an exact attribution's rows per pass).
        internal_batch_size: the user's limit on rows per pass, if any.

    Examples:
        >>> import torch
        >>> runs = plan_attributions({"rig": None, "ig": "linear"}, torch.zeros(1, 1, 4, 4),
        ...                          exact=True, n_steps=8, method=None)
        >>> runs["rig"].exact, runs["ig"].exact, runs["ig"].options.method
        (True, False, 'adaptive')
    """

    name: str
    spec: AttributionSpec
    schedule: str
    exact: bool
    options: RigOptions | None
    n_steps: int
    internal_batch_size: int | None

    def rows(self, n_images: int) -> int:
        r"""Path points per forward pass of the exact spectrum of ``n_images`` images."""
        return exact_rows(self.internal_batch_size, self.n_steps, n_images)

    @property
    def quadrature(self) -> RigOptions:
        r"""The quadrature's options (an attribution run exactly has none)."""
        if self.options is None:
            raise RuntimeError(f"attribution {self.name!r} is exact; it has no quadrature.")
        return self.options

    def keywords(self, **overrides: Any) -> dict[str, Any]:
        r"""The quadrature's keyword arguments for RIG's faces (``overrides`` replace some)."""
        options = self.quadrature
        given = {f.name: getattr(options, f.name) for f in fields(options)}
        return {**given, **overrides}

    def ranks(self, explainer: RankIntegratedGradients, x: Tensor, baseline: float,
              target: Tensor) -> tuple[Tensor, Tensor]:
        r"""``(N, C, r)`` rank attributions of ``x`` and their ``(N,)`` completeness errors."""
        if self.exact:
            # The attribution's own schedule when given; exact_ranks' default otherwise, which on
            # the images an exact attribution admits walks the same curve.
            kwargs: dict[str, Any] = {} if self.spec is None else {"schedule": self.spec}
            ranks, delta = explainer.exact_ranks(
                x, baselines=baseline, target=target, internal_batch_size=self.rows(
                    int(x.shape[0])), return_convergence_delta=True, **kwargs)
            return ranks, delta
        ranks, delta = explainer.attribute_ranks(
            x, baselines=baseline, target=target, return_convergence_delta=True,
            **self.keywords())
        return ranks, delta


#: The options the audit sets itself, from its own arguments: a ``rig_options`` entry
#: may not give them a second time.
AUDIT_SET_OPTIONS: tuple[str, ...] = (
    "n_steps", "method", "internal_batch_size", "schedule", "map_tolerance")


def check_rig_options(rig_options: Mapping[str, Any] | None) -> dict[str, Any]:
    r"""RIG options for every map beyond those the audit sets itself, checked.

    Any field of :class:`~captum_rank.options.RigOptions` the audit does not set from its
    own arguments (:data:`AUDIT_SET_OPTIONS`), e.g. ``{"tolerance": 0.05}``: a new RIG
    option reaches ``explain`` and ``captum-rank explain --rig-option`` with no change here.

    Examples:
        >>> check_rig_options({"tolerance": 0.05})
        {'tolerance': 0.05}
        >>> check_rig_options({"n_steps": 8})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        captum_rank.checks.UserInputError: `rig_options` sets 'n_steps', ...
    """
    if rig_options is None:
        return {}
    if not isinstance(rig_options, Mapping):
        raise UserTypeError(
            f"`rig_options` must be a dict of RIG options, e.g. {{'tolerance': 0.05}}; "
            f"got {type(rig_options).__name__}.")
    for name in rig_options:
        if name in AUDIT_SET_OPTIONS:
            raise UserInputError(
                f"`rig_options` sets {name!r}, which the audit sets from its own argument "
                f"`{name}` (or, for 'schedule', from `attributions`); give it there.")
    # Checked now (unknown names, bad values), before any model runs.
    RigOptions.ensure(dict(rig_options))
    return dict(rig_options)


def plan_attributions(attributions: Mapping[str, AttributionSpec], images: Tensor, *,
                      exact: bool, n_steps: int, method: str | None,
                      internal_batch_size: int | None = None,
                      map_tolerance: float | None = None,
                      rig_options: Mapping[str, Any] | None = None
                      ) -> dict[str, AttributionRun]:
    r"""Decide, once per attribution, exact or quadrature and with which options.

    Args:
        attributions (Mapping[str, AttributionSpec]): ``{name: schedule}``
            (:func:`attribution_map`).
        images (Tensor): images like those to be attributed (their shape decides which
            schedules have an exact form).
        exact (bool): run exactly where the schedule admits it.
        n_steps (int): the quadrature's steps.
        method (str or None): the quadrature rule, RIG's ``method`` (None:
            :func:`~captum_rank.audit.settings.default_method`).
        internal_batch_size (int, optional): path points per forward pass.
        map_tolerance (float, optional): the map error the adaptive rule refines to
            (ignored by a fixed rule, which has no refinement).
        rig_options (dict, optional): further RIG options for every quadrature
            (:func:`check_rig_options`).

    Returns:
        dict: ``{name: AttributionRun}`` in the order of ``attributions``.

    Raises:
        UserInputError: an unknown schedule or rule, too few steps.
    """
    rule = integration_method(method)
    extra = check_rig_options(rig_options)
    runs: dict[str, AttributionRun] = {}
    for name, spec in attributions.items():
        is_exact = exact and admits_exact(spec, images)
        options = None if is_exact else RigOptions.ensure(
            extra, n_steps=n_steps, method=rule, internal_batch_size=internal_batch_size,
            schedule=spec if spec is not None else default_schedule(),
            map_tolerance=map_tolerance if rule == ADAPTIVE else None)
        runs[name] = AttributionRun(name, spec, schedule_id(spec), is_exact, options, n_steps,
                                    internal_batch_size)
    return runs


def exact_curve(n_steps: int, internal_batch_size: int | None) -> AttributionRun:
    r"""The rank-``k`` curve's exact spectrum (``sequential``), whatever path the maps walk.

    Examples:
        >>> curve = exact_curve(32, None)
        >>> curve.exact, curve.schedule, curve.rows(4)
        (True, 'sequential', 128)
    """
    return AttributionRun("exact", "sequential", "sequential", True, None, n_steps,
                          internal_batch_size)
