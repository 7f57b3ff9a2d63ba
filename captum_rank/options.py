r"""RIG's options in one object, built once by the Captum face and read by the engine.

:class:`RigOptions` holds what decides a RIG run besides the model, the inputs and the
target: the path (``schedule``), the rule that places the evaluations (``method``), their
budget (``n_steps``), the two stopping tolerances, the form and the batching. The Captum
face (:meth:`~captum_rank.RankIntegratedGradients.attribute` and its siblings) and Layer
RIG build one from their keyword arguments; the engine reads it. Its defaults, and those
of the audit, explain, the CLI and the demo, are named once in :mod:`captum_rank.defaults`.
A new option is a field here, its check in :meth:`RigOptions.__post_init__`, the keyword
of the faces that build it, and the integrator that uses it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from torch import Tensor

from captum_rank._validation import check_form, check_internal_batch_size
from captum_rank.checks import UserInputError, UserTypeError, one_of, real
from captum_rank.defaults import (
    ADAPTIVE,
    DEFAULT_FORM,
    DEFAULT_N_STEPS,
    DEFAULT_SCHEDULE,
    check_n_steps,
)
from captum_rank.path import is_straight_line
from captum_rank.quadrature import SUPPORTED_METHODS
from captum_rank.schedules import RankSchedule, resolve_schedule

__all__ = ["METHODS", "RigOptions", "ScheduleLike", "default_method"]

ScheduleLike = str | RankSchedule

#: Every rule ``method=`` accepts: the adaptive one and Captum's fixed ones.
METHODS: tuple[str, ...] = (ADAPTIVE, *SUPPORTED_METHODS)


def default_method(
    inputs: tuple[Tensor, ...],
    schedule: RankSchedule,
    tolerance: float | None = None,
    map_tolerance: float | None = None,
) -> str:
    r"""The rule ``method=None`` stands for: Captum's on the straight line, else adaptive.

    On IG's straight line (``schedule="linear"``, or any schedule on rank-one inputs such as
    feature vectors) Captum IG's own rule, ``gausslegendre``, so that RIG there gives
    Captum's numbers; on a rank path the adaptive rule. A ``tolerance`` or
    ``map_tolerance`` asks for the adaptive rule everywhere.

    Args:
        inputs (tuple[Tensor, ...]): the checked inputs.
        schedule (RankSchedule): the resolved schedule.
        tolerance (float, optional): the user's ``tolerance``.
        map_tolerance (float, optional): the user's ``map_tolerance``.

    Returns:
        str: ``"gausslegendre"`` or ``"adaptive"``.

    Examples:
        >>> import torch
        >>> from captum_rank.schedules import resolve_schedule
        >>> default_method((torch.rand(2, 5),), resolve_schedule("arc_length"))
        'gausslegendre'
        >>> default_method((torch.rand(2, 1, 4, 4),), resolve_schedule("arc_length"))
        'adaptive'
    """
    if tolerance is None and map_tolerance is None and is_straight_line(inputs, schedule):
        return "gausslegendre"
    return ADAPTIVE


@dataclass(frozen=True)
class RigOptions:
    r"""How RIG integrates: every option of ``attribute`` but the model's own arguments.

    Built (and checked, once) by the Captum face from its keyword arguments; an invalid
    combination cannot be constructed. ``method=None`` is decided per call by
    :meth:`for_inputs` (:func:`default_method`), since it depends on the inputs' shape.

    Attributes:
        n_steps (int): evaluations per example (the budget of the adaptive rule).
            Default: :data:`DEFAULT_N_STEPS`.
        method (str or None): ``"adaptive"``, one of Captum's fixed rules, or ``None``
            (:func:`default_method`). Default: None.
        internal_batch_size (int or None): at most this many path points per model call.
        schedule (RankSchedule): the path; a name or ``None`` is resolved on
            construction. Default: :data:`DEFAULT_SCHEDULE`.
        form (str): ``"increments"`` or ``"averaged"``. Default: :data:`DEFAULT_FORM`.
        tolerance (float or None): the adaptive rule's completeness tolerance.
        map_tolerance (float or None): the adaptive rule's map tolerance.

    Raises:
        UserInputError: for an unknown method, schedule or form, too few steps, a
            negative tolerance, or a tolerance with a fixed rule.
        UserTypeError: for a value of the wrong type.

    Examples:
        >>> options = RigOptions(n_steps=16, tolerance=0.05)
        >>> options.method, options.schedule.name, options.n_steps
        ('adaptive', 'arc_length', 16)
        >>> RigOptions(method="riemann_left", tolerance=0.1)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        captum_rank.checks.UserInputError: `tolerance` needs method='adaptive', ...
    """

    n_steps: int = DEFAULT_N_STEPS
    method: str | None = None
    internal_batch_size: int | None = None
    schedule: RankSchedule = DEFAULT_SCHEDULE  # type: ignore[assignment]
    form: str = DEFAULT_FORM
    tolerance: float | None = None
    map_tolerance: float | None = None

    def __post_init__(self) -> None:
        # Frozen: the checked (coerced) values are set once, here, and never again.
        set_ = object.__setattr__
        set_(self, "schedule", resolve_schedule(
            DEFAULT_SCHEDULE if self.schedule is None else self.schedule))
        method = self.method
        if method is None and (self.tolerance is not None or self.map_tolerance is not None):
            method = ADAPTIVE
        if method is not None:
            method = one_of(method, "method", METHODS)
            if method != ADAPTIVE:
                for name in ("tolerance", "map_tolerance"):
                    if getattr(self, name) is not None:
                        raise UserInputError(
                            f"`{name}` needs method={ADAPTIVE!r}, whose refinements reuse "
                            f"the gradients already computed; got method={method!r}. Drop "
                            f"`{name}` or pass method={ADAPTIVE!r}."
                        )
            set_(self, "n_steps", check_n_steps(self.n_steps, method))
            set_(self, "method", method)
        for name in ("tolerance", "map_tolerance"):
            value = getattr(self, name)
            if value is not None:
                set_(self, name, real(value, name, minimum=0.0))
        set_(self, "internal_batch_size", check_internal_batch_size(self.internal_batch_size))
        check_form(self.form)

    @classmethod
    def ensure(cls, value: RigOptions | Mapping[str, Any] | None = None,
               **overrides: Any) -> RigOptions:
        r"""Coerce ``value`` to checked options, or raise: the one door into the engine.

        Args:
            value (RigOptions, dict or None): options, a ``{field: value}`` dict, or
                ``None`` for the defaults. Default: None.
            **overrides: fields to replace (checked like the others).

        Returns:
            RigOptions: checked options.

        Raises:
            UserTypeError: for anything else, or an unknown field.

        Examples:
            >>> RigOptions.ensure({"n_steps": 8}, schedule="sequential").schedule.name
            'sequential'
        """
        if value is None:
            value = {}
        if isinstance(value, RigOptions):
            return replace(value, **overrides) if overrides else value
        if not isinstance(value, Mapping):
            raise UserTypeError(
                f"RIG's options must be a RigOptions or a dict, got {type(value).__name__}."
            )
        known = {f.name for f in fields(cls)}
        given = {**value, **overrides}
        unknown = sorted(set(given) - known)
        if unknown:
            raise UserTypeError(
                f"Unknown RIG option(s) {unknown}; the options are {sorted(known)}."
            )
        return cls(**given)

    @classmethod
    def of_arguments(cls, arguments: Mapping[str, Any]) -> RigOptions:
        r"""The options among a face's arguments (its ``locals()``), checked.

        Every face of RIG names its option keywords as the fields here, so a new option is
        a field and a keyword, not a line in every body that builds the options.

        Args:
            arguments (Mapping[str, Any]): the face's arguments by name; names that are not
                fields (``inputs``, ``target``, ...) are left out.

        Returns:
            RigOptions: checked options.

        Examples:
            >>> RigOptions.of_arguments({"inputs": None, "n_steps": 8}).n_steps
            8
        """
        names = {f.name for f in fields(cls)}
        return cls(**{name: value for name, value in arguments.items() if name in names})

    def for_inputs(self, inputs: tuple[Tensor, ...]) -> RigOptions:
        r"""These options with ``method`` decided for ``inputs`` (see :func:`default_method`).

        Args:
            inputs (tuple[Tensor, ...]): the checked inputs (or a layer's activations).

        Returns:
            RigOptions: options whose ``method`` is not ``None``.

        Examples:
            >>> import torch
            >>> RigOptions().for_inputs((torch.rand(2, 5),)).method
            'gausslegendre'
        """
        if self.method is not None:
            return self
        return replace(self, method=default_method(
            inputs, self.schedule, self.tolerance, self.map_tolerance))

    @property
    def adaptive(self) -> bool:
        r"""Whether the adaptive rule places the evaluations (after :meth:`for_inputs`)."""
        return self.method == ADAPTIVE
