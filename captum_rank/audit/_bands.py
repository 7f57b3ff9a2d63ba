r"""Rank-band maps for :func:`captum_rank.audit.explain.explain` (kept apart so that the
explanation's own code stays about maps and spectra)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from torch import Tensor

from captum_rank.attr import RankIntegratedGradients
from captum_rank.checks import UserTypeError

__all__ = ["band_items", "check_bands"]


def check_bands(bands: Any) -> tuple[bool, tuple[int, ...] | None]:
    r"""``(wanted, edges)``: edges ``None`` are the default bands.

    Examples:
        >>> check_bands(False), check_bands(True), check_bands([8, 32])
        ((False, None), (True, None), (True, (8, 32)))
    """
    if isinstance(bands, bool):
        return bands, None
    if isinstance(bands, str) or not isinstance(bands, Sequence):
        raise UserTypeError(
            f"`bands` must be True, False or band edges such as (8, 32), got "
            f"{type(bands).__name__}.")
    return True, tuple(bands)


def band_items(explainer: RankIntegratedGradients, x: Tensor, baseline: float,
               targets: Tensor, edges: tuple[int, ...] | None, steps: int | tuple[int, ...],
               internal_batch_size: int | None, items: list[dict[str, Any]]) -> np.ndarray:
    r"""Add each image's band summary to its item; return the ``(B, N, ...)`` band maps.

    The maps are calibrated (each component's total is its exact ``R_i``), so that a
    band's sum is the exact ``R`` over the band; ``total_error`` keeps the quadrature's
    own error of each band before calibration.
    """
    result = explainer.attribute_bands(x, baselines=baseline, target=targets,
                                       segment_steps=steps,
                                       internal_batch_size=internal_batch_size, bands=edges,
                                       calibrate=True)
    summary = result.to_dict()
    for i, item in enumerate(items):
        item["bands"] = {
            "labels": summary["labels"], "bands": summary["bands"],
            "totals": summary["totals"][i], "exact_totals": summary["exact_totals"][i],
            "estimated_totals": summary["estimated_totals"][i],
            "total_error": summary["total_error"][i], "shares": summary["shares"][i],
            "evaluations": summary["evaluations"][i], "forward_rows": summary["forward_rows"],
            "segment_steps": summary["segment_steps"],
        }
    return result.maps.detach().cpu().numpy()
