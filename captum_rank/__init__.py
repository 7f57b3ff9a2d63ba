r"""captum-rank: Rank Integrated Gradients for Captum.

The public names live here and nowhere else; everything else is importable from its
own module (``captum_rank.schedules``, ``captum_rank.svd``, ...).
"""

from captum_rank.attr import RankIntegratedGradients
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

__version__ = "0.1.0"

__all__ = [
    "ArcLengthSchedule",
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
