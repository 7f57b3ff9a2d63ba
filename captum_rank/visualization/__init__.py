r"""Captum-style and rank-specific visualisation for Rank Integrated Gradients.

Drop-in for Captum's visualisers (``from captum.attr import visualization as viz`` ->
``from captum_rank import visualization as viz``):

- :func:`visualize_image_attr`, :func:`visualize_image_attr_multiple`: Captum's arguments,
  methods (``heat_map``, ``blended_heat_map``, ``original_image``, ``masked_image``,
  ``alpha_scaling``), signs (``positive``, ``negative``, ``absolute_value``, ``all``) and
  return values, plus torch tensors, CHW/HWC/HW layouts, grey images, all-zero maps,
  shared colour scales (``scale=``, :func:`shared_scale`) and ``return_array=True``.
- :func:`normalize_attr`: the value mapping, public and documented (``"all"`` to
  ``[-1, 1]``, other signs to ``[0, 1]``).

Rank-specific plots:

- :func:`plot_rank_bands`: rank-band maps (``attribute_bands``), one panel per band.
- :func:`plot_rank_spectrum`: contribution per rank component and cumulative share.
- :func:`plot_rank_path`: the images along the RIG path with the model's score, from a
  :class:`~captum_rank.rank_path.RankPathResult` (computed by
  :func:`captum_rank.rank_path.rank_path`); :func:`plot_rank_path_arrays` for your own
  arrays.
- :func:`plot_comparison_grid`: image, IG, RIG and spectrum for several models and images
  on shared colour scales.
- :func:`plot_maps_over_image`: one image and several maps of it (IG and RIG, models,
  rank bands), drawn over the photo (``view="blended"``) or as signed or absolute heat
  maps, at one map pixel per screen pixel or more, with the colour-scale rule (each
  column its own scale, one shared scale, or both rows) written on the figure;
  :func:`panel_scales` and :func:`scale_rule` give the scales and the sentence.
- :func:`plot_accuracy_vs_rank`: accuracy on low-rank approximations and high-rank
  residuals.
- :func:`plot_spectrum_result`, :func:`plot_accuracy_result`: the audit's results, for
  whatever methods and models they hold, under their own names (and ``class_names``).

Layouts of image-like arguments (``layout=None``): a leading batch dimension of 1 is
dropped; 2-D is ``(H, W)``; for 3-D, an end of size 1, 3 or 4 is the channel dimension when
the other end is not (``(3, 32, 32)`` is CHW, ``(32, 32, 3)`` HWC); ties are settled by the
other argument's spatial size, then by type (tensors CHW, numpy arrays HWC); otherwise pass
``layout="CHW"``/``"HWC"``.

Plots take results and arrays and never run a model; the numbers they share with the
audit's tables (cumulative shares, ``k50``/``k90``) come from :mod:`captum_rank.summaries`.
Figures that show classes take ``class_names``. Bad arguments raise
:class:`captum_rank.checks.UserInputError` naming the argument and the fix.
"""

from .bands import band_panels, plot_rank_bands
from .compare import plot_accuracy_vs_rank, plot_comparison_grid
from .image import (
    METHODS,
    default_cmap,
    render_image_attr,
    visualize_image_attr,
    visualize_image_attr_multiple,
)
from .normalize import SIGNS, attr_to_map, normalize_attr, shared_scale, sign_range
from .overlay import SHARES, VIEWS, panel_scales, plot_maps_over_image, scale_rule
from .rank_path import default_path_ranks, plot_rank_path, plot_rank_path_arrays
from .results import plot_accuracy_result, plot_spectrum_result
from .spectrum import plot_rank_spectrum, rank_spectra

__all__ = [
    "METHODS",
    "SHARES",
    "SIGNS",
    "VIEWS",
    "attr_to_map",
    "band_panels",
    "default_cmap",
    "default_path_ranks",
    "normalize_attr",
    "panel_scales",
    "plot_accuracy_result",
    "plot_accuracy_vs_rank",
    "plot_comparison_grid",
    "plot_maps_over_image",
    "plot_rank_bands",
    "plot_rank_path",
    "plot_rank_path_arrays",
    "plot_rank_spectrum",
    "plot_spectrum_result",
    "rank_spectra",
    "render_image_attr",
    "scale_rule",
    "shared_scale",
    "sign_range",
    "visualize_image_attr",
    "visualize_image_attr_multiple",
]
