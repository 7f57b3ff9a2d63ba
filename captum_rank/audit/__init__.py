r"""The rank audit: where in an image's singular spectrum models find their evidence.

For one model or several at once (``{name: model}``), over any data whose images the
models take (checked once, up front):

- :func:`rank_accuracy`: accuracy on rank-``k`` approximations ``x_k`` and on high-rank
  residuals ``x - x_k`` (one SVD per image, reused for every rank and model);
- :func:`rank_spectrum`: mean rank attributions of each attribution (RIG with the library's
  default schedule, IG decomposed over the singular components), the ranks that explain
  half and 90% of the output, and the relative completeness error that says whether
  those summaries can be trusted;
- :func:`explain`: a few images in detail (maps, spectra, the rank path);
- :func:`audit`: accuracy and spectra in one call, as an :class:`AuditReport`, which
  :func:`write_report` writes as JSON, PNG figures and an HTML page.

The audits stream batches and keep only running sums (bounded memory), show a progress
bar, resume from a checkpoint after an interruption with an identical result, and shard
over ``torch.distributed`` processes (:mod:`captum_rank.audit.distributed`). Results are
dataclasses with ``to_json``/``from_json``; figures are drawn only by the report writer.
:mod:`captum_rank.audit.loading` resolves models, data and image files named by strings.

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
from captum_rank.audit.explain import ExplainResult, explain
from captum_rank.audit.explain_figures import explained_image_alt, plot_explained_image
from captum_rank.audit.loading import load_data, load_images, load_model
from captum_rank.audit.pipeline import audit
from captum_rank.audit.ranks import check_ranks, default_ranks, parse_ranks, rank_for_share
from captum_rank.audit.report import AuditReport, format_table, summary_rows, write_report
from captum_rank.audit.sources import DataSource
from captum_rank.audit.spectrum import (
    DEFAULT_ATTRIBUTIONS,
    RELIABILITY_TOLERANCE,
    RankSpectrumResult,
    rank_spectrum,
)

__all__ = [
    "DEFAULT_ATTRIBUTIONS",
    "RELIABILITY_TOLERANCE",
    "AuditInputError",
    "AuditReport",
    "Checkpoint",
    "DataSource",
    "ExplainResult",
    "RankAccuracyResult",
    "RankSpectrumResult",
    "Shard",
    "audit",
    "check_ranks",
    "current_shard",
    "default_ranks",
    "explain",
    "explained_image_alt",
    "format_table",
    "init_from_env",
    "load_data",
    "load_images",
    "load_model",
    "parse_ranks",
    "plot_explained_image",
    "rank_accuracy",
    "rank_for_share",
    "rank_spectrum",
    "summary_rows",
    "write_report",
]
