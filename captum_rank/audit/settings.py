r"""The audit's settings: its default attributions, their names, and the defaults it reads.

What :func:`~captum_rank.audit.spectrum.rank_spectrum`, :func:`~captum_rank.audit.explain`
and the report agree on before any image is attributed: which attributions run by default
(:data:`DEFAULT_ATTRIBUTIONS`, :data:`PHOTO_ATTRIBUTIONS` on natural photos), how an
attribution's schedule is named (:func:`schedule_id`) and labelled
(:func:`attribution_label`), and the library's defaults they fall back to
(:func:`default_schedule`, :func:`default_method`, :data:`RELIABILITY_TOLERANCE`,
:data:`MAP_TOLERANCE`, named once in :mod:`captum_rank.defaults`). How an attribution is
then run, exactly or with the quadrature, is decided in
:mod:`captum_rank.audit._attributions`.

Examples:
    >>> DEFAULT_ATTRIBUTIONS, PHOTO_ATTRIBUTIONS
    ({'rig': None, 'ig': 'linear'}, {'rig': 'spectral', 'ig': 'linear'})
"""

from __future__ import annotations

from torch import Tensor

from captum_rank.defaults import (
    ADAPTIVE,
    DEFAULT_SCHEDULE,
    MAP_TOLERANCE,
    RELIABILITY_TOLERANCE,
)
from captum_rank.schedules import RankSchedule

__all__ = [
    "DEFAULT_ATTRIBUTIONS",
    "MAP_TOLERANCE",
    "PER_CLASS_LIMIT",
    "PHOTO_ATTRIBUTIONS",
    "PHOTO_SIZE",
    "RELIABILITY_TOLERANCE",
    "AttributionSpec",
    "attribution_label",
    "default_attributions",
    "default_method",
    "default_schedule",
    "schedule_id",
]

#: An attribution's schedule as the user gives it: a name, an instance, or ``None`` for the
#: library's default.
AttributionSpec = str | RankSchedule | None

#: The default attributions: RIG with the library's default schedule (``None``), and IG
#: decomposed over the singular components (``"linear"``).
DEFAULT_ATTRIBUTIONS: dict[str, str | None] = {"rig": None, "ig": "linear"}

#: The attributions :func:`~captum_rank.audit.explain` uses on natural photos: RIG on Spectral
#: IG's path and IG. Measured on 20 ImageNet photos (EfficientNet-Lite0;
#: ``bench_map_convergence.py``, the convergence page): with ``map_tolerance=0.1`` RIG's
#: default path needs about 470 evaluations per photo, the spectral path about 94 (IG
#: about 42), and the spectral path's DiffID is the higher one (the faithfulness page).
#: Its rank attributions still say which components carry the output (the strongest
#: enter first).
PHOTO_ATTRIBUTIONS: dict[str, AttributionSpec] = {"rig": "spectral", "ig": "linear"}

#: Colour images at least this many pixels a side count as natural photos.
PHOTO_SIZE = 64

#: Per-class sums are kept by default for data with at most this many classes.
PER_CLASS_LIMIT = 20


def default_schedule() -> str:
    r"""The schedule RIG uses when none is given (:data:`captum_rank.defaults.DEFAULT_SCHEDULE`).

    Returns:
        str: its name.

    Examples:
        >>> from captum_rank.schedules import available_schedules
        >>> default_schedule() in available_schedules()
        True
    """
    return DEFAULT_SCHEDULE


def default_method() -> str:
    r"""The quadrature rule (RIG's ``method``) the audit integrates with when none is given.

    RIG's own default (``method=None``) is this rule on rank paths and Captum's
    ``gausslegendre`` on the straight line; the audit passes the rule explicitly, so that
    IG (``"linear"``) and RIG are integrated alike and the report names one rule.

    Returns:
        str: its name.

    Examples:
        >>> isinstance(default_method(), str)
        True
    """
    return ADAPTIVE


def default_attributions(images: Tensor) -> dict[str, AttributionSpec]:
    r"""The attributions :func:`~captum_rank.audit.explain` uses when none are given, from the
    images' shape.

    Natural photos (3 channels, at least :data:`PHOTO_SIZE` pixels a side) get
    :data:`PHOTO_ATTRIBUTIONS`; anything else the library's default RIG and IG
    (:data:`DEFAULT_ATTRIBUTIONS`).

    Args:
        images (Tensor): ``(N, C, H, W)`` model inputs.

    Returns:
        dict: ``{name: schedule}`` (``None``: the library's default).

    Examples:
        >>> import torch
        >>> default_attributions(torch.zeros(1, 3, 224, 224))
        {'rig': 'spectral', 'ig': 'linear'}
        >>> default_attributions(torch.zeros(1, 1, 28, 28))
        {'rig': None, 'ig': 'linear'}
    """
    photo = images.dim() == 4 and images.shape[1] == 3 and min(images.shape[-2:]) >= PHOTO_SIZE
    return dict(PHOTO_ATTRIBUTIONS if photo else DEFAULT_ATTRIBUTIONS)


def schedule_id(schedule: AttributionSpec) -> str:
    r"""How results record an attribution's schedule: its name, or an instance's class and options.

    Args:
        schedule (str, RankSchedule or None): the attribution's schedule (``None``: the
            library's default).

    Returns:
        str: the id.

    Examples:
        >>> from captum_rank.schedules import SpectralSchedule
        >>> schedule_id(None), schedule_id("linear")
        ('arc_length', 'linear')
        >>> schedule_id(SpectralSchedule(overlap=0.3))  # doctest: +ELLIPSIS
        "SpectralSchedule([('channels', 'per_channel'), ('overlap', 0.3), ...])"
    """
    if schedule is None:
        return default_schedule()
    if isinstance(schedule, str):
        return schedule
    return f"{type(schedule).__qualname__}({sorted(vars(schedule).items())})"


def attribution_label(name: str, schedule: str) -> str:
    r"""How reports name an attribution: ``"IG"`` for the linear schedule, else ``"RIG (name)"``.

    Args:
        name (str): the attribution's key.
        schedule (str): its schedule id.

    Returns:
        str: the label.

    Examples:
        >>> attribution_label("ig", "linear"), attribution_label("rig", "sequential")
        ('IG', 'RIG (sequential)')
    """
    if schedule == "linear":
        return "IG" if name.lower() in ("ig", "linear") else f"{name} (IG)"
    return f"RIG ({schedule})" if name.lower() == "rig" else f"{name} ({schedule})"
