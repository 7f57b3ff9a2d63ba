r"""The figure of one explained image: its maps over the photo, with the scale rule written.

:func:`plot_explained_image` draws one image of an :class:`~captum_rank.audit.explain.ExplainResult`
with every model's and attribution's map of it
(:func:`captum_rank.visualization.plot_maps_over_image`): over the grey photo
(``view="blended"``, Captum's ``blended_heat_map``), as a signed heat map
(``"signed"``) or as ``|attribution|`` (``"absolute"``), each map pixel at least one
screen pixel, each panel noted with the map's estimated error and evaluations, and the
colour-scale rule written under the panels (``share``: each column its own scale, one
shared scale, or both rows). A map that did not converge is not drawn. The report
(:func:`~captum_rank.audit.report.write_report`) writes one such figure per image;
:func:`explained_image_alt` is the text that says what the figure shows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from captum_rank.audit.explain import ExplainResult
from captum_rank.audit.settings import attribution_label
from captum_rank.checks import UserInputError, integer, one_of

__all__ = ["explained_image_alt", "plot_explained_image"]

_VIEW_ALT = {
    "blended": "drawn over the grey photo (green: for the target, red: against)",
    "signed": "as signed heat maps (green: for the target, red: against)",
    "absolute": "as heat maps of |attribution|",
}
_SHARE_ALT = {
    "attribution": "each map on its own colour scale",
    "all": "all maps on one shared colour scale",
    "both": "first row each map on its own colour scale, second row one shared scale",
}


def _columns(result: ExplainResult) -> dict[tuple[str, str], str]:
    several = len(result.models) > 1
    return {(m, attribution): (f"{m}\n" if several else "")
            + attribution_label(attribution, result.attributions[attribution])
            for m in result.models for attribution in result.attributions}


def _check(result: ExplainResult, image: int) -> int:
    if not isinstance(result, ExplainResult):
        raise UserInputError(f"`result` must be an ExplainResult (from explain), got "
                             f"{type(result).__name__}.")
    if result.images is None or not result.maps:
        raise UserInputError("`result` holds no images or maps (one read back from JSON "
                             "keeps only the numbers); draw it from explain's own result.")
    return integer(image, "image", minimum=0, maximum=len(result.image_names) - 1)


def plot_explained_image(
    result: ExplainResult,
    image: int = 0,
    view: str = "blended",
    share: str = "both",
    outlier_perc: float = 2,
    alpha_overlay: float = 0.5,
    use_pyplot: bool = True,
) -> tuple[Figure, np.ndarray]:
    r"""One explained image with every model's and attribution's map of it, over the photo.

    Args:
        result (ExplainResult): what :func:`~captum_rank.audit.explain.explain` returned
            (with its arrays).
        image (int, optional): which image. Default: 0.
        view (str, optional): ``"blended"``, ``"signed"`` or ``"absolute"``
            (:data:`captum_rank.visualization.VIEWS`). Default: ``"blended"``.
        share (str, optional): ``"attribution"`` (each column its own colour scale), ``"all"``
            (one scale) or ``"both"`` (two rows). Default: ``"both"``.
        outlier_perc (float, optional): percentage of attribution mass that saturates.
            Default: 2.
        alpha_overlay (float, optional): heat-map alpha of the blended view. Default: 0.5.
        use_pyplot (bool, optional): as in the visualisers. Default: True.

    Returns:
        ``(figure, axes)`` of :func:`~captum_rank.visualization.plot_maps_over_image`.

    Raises:
        UserInputError: a result without arrays, an image out of range, unknown options.

    Examples:
        >>> import torch
        >>> from captum_rank.audit import explain
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(48, 3))
        >>> result = explain(model, torch.rand(1, 3, 4, 4), n_steps=4)
        >>> fig, axes = plot_explained_image(result, 0, view="signed", use_pyplot=False)
        >>> axes.shape
        (2, 3)
    """
    from captum_rank.visualization import VIEWS, plot_maps_over_image

    index = _check(result, image)
    one_of(view, "view", tuple(VIEWS))
    maps: dict[str, Any] = {}
    notes: dict[str, str] = {}
    for (model, attribution), label in _columns(result).items():
        values = result.items[model][index]["attributions"][attribution]
        converged = values.get("map_converged", True)
        maps[label] = result.maps[model][attribution][index] if converged else None
        if "map_error" in values:
            notes[label] = (f"map err {float(values['map_error']):.2g}, "
                            f"{values['evaluations']} evals"
                            + ("" if converged else ": not converged"))
    images = result.images
    assert images is not None  # _check refused a result without arrays
    item = result.items[result.models[0]][index]
    cls = item["prediction_name"] or f"class {item['prediction']}"
    target = item["target_name"] or f"class {item['target']}"
    title = (f"{result.image_names[index]}: predicted {cls} (p = {item['probability']:.2f}); "
             f"maps of the target {target}")
    return plot_maps_over_image(
        images[index], maps, view=view, share=share, outlier_perc=outlier_perc,
        alpha_overlay=alpha_overlay, image_title=result.image_names[index], notes=notes,
        title=title, layout="CHW", image_layout="CHW", use_pyplot=use_pyplot)


def explained_image_alt(result: ExplainResult, image: int = 0, view: str = "blended",
                        share: str = "both") -> str:
    r"""What :func:`plot_explained_image` shows, in words (the report's alt text).

    Examples:
        >>> import torch
        >>> from captum_rank.audit import explain
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3))
        >>> result = explain(model, torch.rand(1, 1, 4, 4), n_steps=4, names=["cat"])
        >>> explained_image_alt(result, 0, view="absolute").startswith("Image cat (model: ")
        True
    """
    from captum_rank.visualization import SHARES, VIEWS

    index = _check(result, image)
    one_of(view, "view", tuple(VIEWS))
    one_of(share, "share", SHARES)
    parts = []
    for m in result.models:
        item = result.items[m][index]
        cls = item["prediction_name"] or f"class {item['prediction']}"
        parts.append(f"{m}: predicted {cls} {item['probability']:.2f}")
    labels = ", ".join(label.replace("\n", " ") for label in _columns(result).values())
    skipped = [f"{m} {attribution_label(attribution, result.attributions[attribution])}"
               for m in result.models for attribution in result.attributions
               if not result.items[m][index]["attributions"][attribution].get("map_converged",
                                                                               True)]
    missing = f"; not drawn (not converged): {', '.join(skipped)}" if skipped else ""
    return (f"Image {result.image_names[index]} ({'; '.join(parts)}) beside its "
            f"attribution maps ({labels}) {_VIEW_ALT[view]}, {_SHARE_ALT[share]}{missing}.")
