r"""Is an attribution faithful? Metrics, sanity checks and rival methods, as a library.

* :mod:`~captum_rank.metrics.perturbation`: insertion/deletion curves with a black,
  blurred or mean fill, and Spectral IG's DiffID protocol;
* :mod:`~captum_rank.metrics.road_imputation`: ROAD (noisy linear imputation, MoRF and LeRF) with
  Quantus' imputation;
* :mod:`~captum_rank.metrics.correlation`: Quantus' faithfulness correlation;
* :mod:`~captum_rank.metrics.rank_faithfulness`: deletion/insertion of *singular
  components* in the order of RIG's rank attributions (or IG's projected, or the
  singular values, or random);
* :mod:`~captum_rank.metrics.sanity`: Adebayo et al.'s cascading randomisation and
  random-logit tests with controls;
* :mod:`~captum_rank.metrics.quantus_adapter`: RIG as a Quantus ``explain_func``
  (:func:`quantus_explain`);
* :mod:`~captum_rank.metrics.rivals`: Captum IG, RIG, GradientShap, Guided IG and Blur IG
  behind one signature.

Every metric takes ``(forward_func or model, inputs, attributions, target, ...)``, runs
on the inputs' device without gradients, and returns per-example results (dataclasses
with ``to_dict()`` for JSON). :func:`available_metrics` lists them by name.

The contract, the same for every metric:

* the model is a :class:`ForwardFunc` and an attribution method an :class:`ExplainFunc`
  (typed protocols: a type checker sees a wrong signature);
* ``target`` is a class index, an int for all examples or one per example (a list, a
  numpy array, a 1-D integer tensor): ``2.7``, ``True``, negative indices and indices
  past the model's outputs are :class:`~captum_rank.checks.UserInputError` naming
  ``target``; numbers (``fill``, ``noise``, ``num_classes``, ...) may be numpy scalars;
* randomness comes from the metric's own ``seed`` or ``generator``: no metric or rival
  reseeds or advances numpy's or torch's global generator (where Quantus or Captum draw
  from a global one, it is seeded for the call and restored). The one exception is the
  noise control :func:`random_map` without its ``generator=``, which draws from torch's
  like ``torch.rand``;
* a model in training mode with dropout or batch norm is warned about (batch norm
  would update its statistics with every perturbed batch).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from captum_rank.metrics._protocols import ExplainFunc, ForwardFunc
from captum_rank.metrics.correlation import faithfulness_correlation
from captum_rank.metrics.perturbation import (
    PerturbationCurves,
    diffid,
    diffid_scores,
    feature_order,
    insertion_deletion,
)
from captum_rank.metrics.quantus_adapter import explain_func, quantus_explain
from captum_rank.metrics.rank_faithfulness import (
    RankCurves,
    rank_components,
    rank_deletion,
    singular_values,
)
from captum_rank.metrics.road_imputation import RoadCurves, road
from captum_rank.metrics.sanity import (
    SanityCurves,
    cascading_randomization,
    map_similarity,
    random_logit,
    random_map,
    sobel_map,
    verdict,
)

__all__ = [
    "METRICS",
    "ExplainFunc",
    "ForwardFunc",
    "PerturbationCurves",
    "RankCurves",
    "RoadCurves",
    "SanityCurves",
    "available_metrics",
    "cascading_randomization",
    "diffid",
    "diffid_scores",
    "explain_func",
    "faithfulness_correlation",
    "feature_order",
    "insertion_deletion",
    "map_similarity",
    "quantus_explain",
    "random_logit",
    "random_map",
    "rank_components",
    "rank_deletion",
    "road",
    "singular_values",
    "sobel_map",
    "verdict",
]

#: The metrics by name: what the docs list and the benchmark harness reports.
METRICS: dict[str, Callable[..., Any]] = {
    "insertion_deletion": insertion_deletion,
    "diffid": diffid,
    "road": road,
    "faithfulness_correlation": faithfulness_correlation,
    "rank_deletion": rank_deletion,
    "cascading_randomization": cascading_randomization,
    "random_logit": random_logit,
}


def available_metrics() -> list[str]:
    r"""Names of the metrics in :data:`METRICS`, sorted.

    Returns:
        The names.

    Examples:
        >>> available_metrics()  # doctest: +NORMALIZE_WHITESPACE
        ['cascading_randomization', 'diffid', 'faithfulness_correlation',
         'insertion_deletion', 'random_logit', 'rank_deletion', 'road']
    """
    return sorted(METRICS)
