r"""RIG's named defaults and the one rule for ``n_steps``: the values every entry point reads.

Torch-free, so that the command line reads them without importing torch. The options
object that carries them through a run is :class:`captum_rank.options.RigOptions`.

* :data:`DEFAULT_SCHEDULE`, :data:`DEFAULT_FORM`: the path and the discretisation RIG
  uses when none is given.
* :data:`DEFAULT_N_STEPS` (50, Captum IG's): ``attribute`` and Layer RIG.
  :data:`AUDIT_N_STEPS` (32): the audit, ``explain``, and the CLI and demo on small
  images, where many images times several methods are attributed.
  :data:`PHOTO_N_STEPS` (256): the demo and the CLI's ``explain`` on photos, the budget
  within which the adaptive rule refines a map to :data:`MAP_TOLERANCE`.
* :data:`PHOTO_BAND_STEPS`: the demo's Gauss-Legendre orders per component for the
  photos' rank-band maps (64, then 8 on components 2-16, then 2).
* :data:`MAP_TOLERANCE` (0.1): the map error the explain step refines to and above which
  its report does not draw a map. :data:`RELIABILITY_TOLERANCE` (0.1): the audit's
  relative completeness error above which a rank summary is marked unreliable.

Examples:
    >>> DEFAULT_SCHEDULE, DEFAULT_N_STEPS, AUDIT_N_STEPS, PHOTO_N_STEPS, MAP_TOLERANCE
    ('arc_length', 50, 32, 256, 0.1)
"""

from __future__ import annotations

from typing import Any

from captum_rank.checks import UserInputError, integer

__all__ = [
    "ADAPTIVE",
    "AUDIT_N_STEPS",
    "DEFAULT_FORM",
    "DEFAULT_N_STEPS",
    "DEFAULT_SCHEDULE",
    "MAP_TOLERANCE",
    "PHOTO_BAND_STEPS",
    "PHOTO_N_STEPS",
    "RELIABILITY_TOLERANCE",
    "check_n_steps",
]

#: The name of the adaptive rule (see :mod:`captum_rank.adaptive`) for ``method=``.
ADAPTIVE = "adaptive"

#: The path RIG walks when no ``schedule`` is given: rank order at constant speed.
DEFAULT_SCHEDULE = "arc_length"

#: The discretisation when no ``form`` is given: gradients times path increments.
DEFAULT_FORM = "increments"

#: ``n_steps`` of ``attribute`` and Layer RIG: Captum IG's default, so that RIG is a drop-in.
DEFAULT_N_STEPS = 50

#: ``n_steps`` of the audit, explain, and the CLI and demo on small images: many images
#: times several methods, each example refined only where its output changes.
AUDIT_N_STEPS = 32

#: ``n_steps`` of the demo and the CLI's ``explain`` on photos: the budget within which the
#: adaptive rule refines a photo's map to :data:`MAP_TOLERANCE` (the convergence page).
PHOTO_N_STEPS = 256

#: Gauss-Legendre gradients per component for the photos' rank-band maps in the demo and
#: ``captum-rank demo``: 64 on the first component, 8 on components 2-16, 2 on the rest
#: (600 gradient rows per photo at 224 x 224). The first components hold most of the
#: quadrature's error on photos; on ten labelled photos these calibrated maps came a median
#: 0.10 (at most 0.13) from head-weighted references with 4800 gradients, where 8 on every
#: component (1792) is 0.3-0.4 off (``benchmarks/results/photo-figure-224.json``,
#: ``docs/convergence.md``).
PHOTO_BAND_STEPS: tuple[int, ...] = (64, *(8,) * 15, 2)

#: Estimated relative L2 error ``||A_n - A_{n/2}|| / ||A_n||`` of a pixel map that keeps its
#: structure: the explain step refines maps to it and the report does not draw a map above.
MAP_TOLERANCE = 0.1

#: The audit marks a rank summary unreliable when its relative completeness error
#: ``|delta| / |F(x) - F(x')|`` exceeds this fraction.
RELIABILITY_TOLERANCE = 0.1

# Evaluations each rule needs at the least: the adaptive rule both path ends, Captum's
# Riemann rules two nodes, Gauss-Legendre one.
_MIN_STEPS = {ADAPTIVE: 2, "gausslegendre": 1}


def check_n_steps(n_steps: Any, method: str | None = None, name: str = "n_steps") -> int:
    r"""The one rule for ``n_steps``: an integer, at least what ``method`` needs.

    The adaptive rule needs both path ends (2), Captum's Gauss-Legendre rule 1 and its
    Riemann rules 2. ``method=None`` is RIG's default on a rank path, the adaptive rule,
    so an entry point that checks ``n_steps`` before it sees the inputs fails where RIG
    would, with RIG's message. ``method`` itself is checked by its user.

    Args:
        n_steps (Any): the user's value (Python or numpy integer).
        method (str, optional): the rule, or ``None`` for RIG's default. Default: None.
        name (str, optional): how the user spelt it (``--n-steps`` in the CLI). Default:
            ``"n_steps"``.

    Returns:
        int: ``n_steps`` as a Python ``int``.

    Raises:
        UserTypeError: for a non-integer.
        UserInputError: for too few steps.

    Examples:
        >>> check_n_steps(32)
        32
        >>> check_n_steps(1, "gausslegendre")
        1
        >>> check_n_steps(1)
        Traceback (most recent call last):
        ...
        captum_rank.checks.UserInputError: `n_steps` must be an integer >= 2, got 1.
        >>> check_n_steps(1, "riemann_left")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        captum_rank.checks.UserInputError: `n_steps` must be at least 2 for method ...
    """
    if method is None or method == ADAPTIVE:
        return integer(n_steps, name, minimum=_MIN_STEPS[ADAPTIVE])
    steps = integer(n_steps, name)
    minimum = _MIN_STEPS.get(method, 2) if isinstance(method, str) else 2
    if steps < minimum:
        raise UserInputError(
            f"`{name}` must be at least {minimum} for method {method!r}, got {steps}."
        )
    return steps
