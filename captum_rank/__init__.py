r"""captum-rank: Rank Integrated Gradients for Captum.

The public names live here and nowhere else; everything else is importable from its
own module (``captum_rank.schedules``, ``captum_rank.svd``, ...).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names are imported on first use (below), so that `import
    # captum_rank` and `captum-rank --version` do not pay for importing torch.
    from captum_rank.attr import RankIntegratedGradients
    from captum_rank.baselines import BaselineExpectation
    from captum_rank.layer import LayerRankIntegratedGradients
    from captum_rank.rank_space import RankSpace
    from captum_rank.schedules import (
        ArcLengthSchedule,
        EnergySchedule,
        LinearSchedule,
        NumericalRankSchedule,
        RankSchedule,
        SequentialSchedule,
        SpectralSchedule,
        available_schedules,
    )
    from captum_rank.svd import HighRank, LowRank, high_rank, low_rank

#: ``{public name: module}``: add a new public name here and in ``__all__``.
_LAZY = {
    "ArcLengthSchedule": "captum_rank.schedules",
    "BaselineExpectation": "captum_rank.baselines",
    "EnergySchedule": "captum_rank.schedules",
    "HighRank": "captum_rank.svd",
    "LayerRankIntegratedGradients": "captum_rank.layer",
    "LinearSchedule": "captum_rank.schedules",
    "LowRank": "captum_rank.svd",
    "NumericalRankSchedule": "captum_rank.schedules",
    "RankIntegratedGradients": "captum_rank.attr",
    "RankSchedule": "captum_rank.schedules",
    "RankSpace": "captum_rank.rank_space",
    "SequentialSchedule": "captum_rank.schedules",
    "SpectralSchedule": "captum_rank.schedules",
    "available_schedules": "captum_rank.schedules",
    "high_rank": "captum_rank.svd",
    "low_rank": "captum_rank.svd",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'captum_rank' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__version__ = "0.1.0"

__all__ = [
    "ArcLengthSchedule",
    "BaselineExpectation",
    "EnergySchedule",
    "HighRank",
    "LayerRankIntegratedGradients",
    "LinearSchedule",
    "LowRank",
    "NumericalRankSchedule",
    "RankIntegratedGradients",
    "RankSchedule",
    "RankSpace",
    "SequentialSchedule",
    "SpectralSchedule",
    "__version__",
    "available_schedules",
    "high_rank",
    "low_rank",
]
