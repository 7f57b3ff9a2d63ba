r"""The rank audit: where in an image's singular spectrum models find their evidence.

Two audits over a data set, for one model or several at once (``{name: model}``):

- :func:`rank_accuracy`: accuracy on rank-``k`` approximations ``x_k`` and on high-rank
  residuals ``x - x_k`` (one SVD per image, reused for every rank and model);
- :func:`rank_spectrum`: mean RIG rank attributions per class (target = true label),
  the same for IG decomposed over the singular components, and the ranks that explain
  half and 90% of the output (:func:`rank_for_share`).

Both stream batches and keep only running sums (bounded memory), show a progress bar,
resume from a checkpoint after an interruption with an identical result, and shard over
``torch.distributed`` processes (:mod:`captum_rank.audit.distributed`). Results are
dataclasses with ``to_json``/``from_json`` and ``plot``; :func:`write_report` writes
JSON, PNG figures and an HTML page.

Examples:
    >>> import torch
    >>> from captum_rank.audit import rank_accuracy
    >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 3))
    >>> data = (torch.rand(8, 1, 8, 8), torch.randint(0, 3, (8,)))
    >>> rank_accuracy({"toy": model}, data, ranks=[0, 4, 8], progress=False).ranks
    [0, 4, 8]
"""

from captum_rank.audit.accuracy import RankAccuracyResult, rank_accuracy
from captum_rank.audit.checkpoint import Checkpoint
from captum_rank.audit.distributed import Shard, current_shard, init_from_env
from captum_rank.audit.errors import AuditInputError
from captum_rank.audit.loading import load_data, load_images, load_model
from captum_rank.audit.ranks import check_ranks, default_ranks, parse_ranks, rank_for_share
from captum_rank.audit.report import AuditReport, format_table, summary_rows, write_report
from captum_rank.audit.sources import DataSource
from captum_rank.audit.spectrum import DEFAULT_METHODS, RankSpectrumResult, rank_spectrum

__all__ = [
    "DEFAULT_METHODS",
    "AuditInputError",
    "AuditReport",
    "Checkpoint",
    "DataSource",
    "RankAccuracyResult",
    "RankSpectrumResult",
    "Shard",
    "check_ranks",
    "current_shard",
    "default_ranks",
    "format_table",
    "init_from_env",
    "load_data",
    "load_images",
    "load_model",
    "parse_ranks",
    "rank_accuracy",
    "rank_for_share",
    "rank_spectrum",
    "summary_rows",
    "write_report",
]
