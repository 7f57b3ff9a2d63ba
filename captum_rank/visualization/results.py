r"""Plots of audit results: driven by the result's own models, attributions and classes.

:func:`plot_spectrum_result` draws a rank-spectrum result (``captum_rank.audit``'s
``rank_spectrum``) for whatever attributions it holds, under their own names;
:func:`plot_accuracy_result` draws an accuracy-against-rank result. Both take the result
(anything with the attributes below; nothing here imports the audit) and run nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from captum_rank.checks import UserInputError, UserTypeError

from ._labels import check_class_names
from .compare import plot_accuracy_vs_rank
from .spectrum import plot_rank_spectrum

__all__ = ["AccuracyResultLike", "SpectrumResultLike", "plot_accuracy_result",
           "plot_spectrum_result"]


class SpectrumResultLike(Protocol):
    r"""What :func:`plot_spectrum_result` reads from a rank-spectrum result."""

    @property
    def models(self) -> Sequence[str]: ...

    @property
    def attributions(self) -> Mapping[str, Any]: ...

    @property
    def num_classes(self) -> int: ...

    @property
    def class_counts(self) -> Any: ...

    @property
    def n_images(self) -> int: ...

    def mean_spectrum(self, model: str, attribution: str, cls: int | None = None) -> Any:
        ...


class AccuracyResultLike(Protocol):
    r"""What :func:`plot_accuracy_result` reads from an accuracy-against-rank result."""

    @property
    def models(self) -> Sequence[str]: ...

    @property
    def ranks(self) -> Sequence[int]: ...

    @property
    def n_images(self) -> int: ...

    def low_rank_accuracy(self) -> Mapping[str, Sequence[float]]: ...

    def high_rank_accuracy(self) -> Mapping[str, Sequence[float]]: ...


def _classes_with_images(result: SpectrumResultLike, model: str) -> list[int]:
    r"""Classes of ``model`` that have images: ``class_counts`` is per model or shared."""
    counts = result.class_counts
    if isinstance(counts, Mapping):
        per = counts.get(model, {})
        return sorted(int(c) for c, n in per.items() if n)
    return [c for c, n in enumerate(counts) if n]


def _chosen(values: Sequence[str] | str | None, name: str, known: Sequence[str]) -> list[str]:
    if values is None:
        return list(known)
    wanted = [values] if isinstance(values, str) else list(values)
    if not wanted:
        raise UserInputError(f"`{name}` is empty; choose from {list(known)} (or pass None).")
    unknown = [v for v in wanted if v not in known]
    if unknown:
        raise UserInputError(
            f"`{name}` {unknown} not in the result; it holds {list(known)}."
        )
    return wanted


def plot_spectrum_result(
    result: SpectrumResultLike,
    attributions: Sequence[str] | str | None = None,
    model: str | None = None,
    class_names: Sequence[str] | None = None,
    normalize: str | None = "abs",
    share: str = "signed",
    ax: Axes | Sequence[Axes] | None = None,
    title: str | None = None,
    use_pyplot: bool = True,
) -> tuple[Figure, list[Axes]]:
    r"""Mean rank spectra of a rank-spectrum result, with the cumulative share.

    One curve per model (``model=None``, over all images) or per class of one model, and
    per attribution when several are shown, labelled with the result's own names.

    Args:
        result: a rank-spectrum result (models, attributions, mean spectra per class).
        attributions (str or list of str, optional): the attributions to show.
            Default: every one the result holds, in its order.
        model (str, optional): show one curve per class of this model instead of one per
            model. Default: None.
        class_names (list of str, optional): one name per class (legend labels with
            ``model``). Default: ``class 0``, ``class 1``, ...
        normalize (str, optional): scaling of the spectrum panel, as in
            :func:`~captum_rank.visualization.plot_rank_spectrum`. Default: ``"abs"``
            (shapes compare across models with different output scales).
        share (str, optional): ``"signed"`` or ``"abs"`` cumulative share.
            Default: ``"signed"``.
        ax (list of Axes, optional): two axes (spectrum, cumulative share). Default: a
            new figure.
        title (str, optional): figure title. Default: attributions and number of images.
        use_pyplot (bool, optional): as in the other visualisers. Default: True.

    Returns:
        ``(figure, axes)`` as :func:`~captum_rank.visualization.plot_rank_spectrum`.

    Raises:
        UserInputError: unknown attributions or model, ``class_names`` too short, a result
            without images.

    Examples:
        >>> import numpy as np
        >>> class Result:  # any object with these attributes works
        ...     models, attributions, num_classes, class_counts, n_images = (
        ...         ["a"], {"path": "arc_length", "line": "linear"}, 2, [1, 1], 2)
        ...     def mean_spectrum(self, model, attribution, cls=None):
        ...         return np.array([3.0, 1.0]) if attribution == "path" else np.array([2.0, 2.0])
        >>> fig, axes = plot_spectrum_result(Result(), use_pyplot=False)
        >>> [line.get_label() for line in axes[1].get_lines()][:2]
        ['a (path)', 'a (line)']
    """
    shown = _chosen(attributions, "attributions", list(result.attributions))
    models = list(result.models)
    if result.n_images == 0:
        raise UserInputError("the result holds no images; run the audit on some data first.")
    curves: dict[str, np.ndarray] = {}
    several = len(shown) > 1
    if model is None:
        for attribution in shown:
            for m in models:
                curves[f"{m} ({attribution})" if several else m] = np.asarray(
                    result.mean_spectrum(m, attribution))
    else:
        if not isinstance(model, str):
            raise UserTypeError(
                f"`model` must be a model name (str), got {type(model).__name__}."
            )
        _chosen(model, "model", models)
        names = check_class_names(class_names, result.num_classes) or [
            f"class {c}" for c in range(result.num_classes)]
        present = _classes_with_images(result, model)
        if not present:
            raise UserInputError(
                f"the result holds no per-class spectra for model {model!r}; run the audit "
                "with per-class sums kept, or pass model=None."
            )
        for attribution in shown:
            for c in present:
                label = f"{names[c]} ({attribution})" if several else names[c]
                curves[label] = np.asarray(result.mean_spectrum(model, attribution, c))
    if title is None:
        title = f"{', '.join(shown)} rank spectrum, {result.n_images} images" + (
            f", {model} by class" if model is not None else "")
    return plot_rank_spectrum(curves, normalize=normalize, share=share, ax=ax, title=title,
                              use_pyplot=use_pyplot)


def plot_accuracy_result(
    result: AccuracyResultLike,
    models: Sequence[str] | str | None = None,
    chance: float | None = None,
    ax: Axes | None = None,
    title: str | None = None,
    use_pyplot: bool = True,
) -> tuple[Figure, Axes]:
    r"""Accuracy against rank (low-rank approximations and high-rank residuals) of a result.

    Args:
        result: an accuracy-against-rank result (models, ranks, accuracies).
        models (str or list of str, optional): the models to show. Default: all.
        chance (float, optional): draw the chance level (e.g. 0.1 for ten classes).
        ax (Axes, optional): where to draw. Default: a new figure.
        title (str, optional): axis title. Default: the number of images.
        use_pyplot (bool, optional): as in the other visualisers. Default: True.

    Returns:
        ``(figure, axis)`` as :func:`~captum_rank.visualization.plot_accuracy_vs_rank`.

    Raises:
        UserInputError: unknown models, or bad ``chance``.

    Examples:
        >>> class Result:
        ...     models, ranks, n_images = ["m"], [0, 2], 4
        ...     def low_rank_accuracy(self):
        ...         return {"m": [0.25, 0.75]}
        ...     def high_rank_accuracy(self):
        ...         return {"m": [0.75, 0.0]}
        >>> fig, ax = plot_accuracy_result(Result(), chance=0.5, use_pyplot=False)
        >>> len(ax.get_lines())
        3
    """
    shown = _chosen(models, "models", list(result.models))
    low, high = result.low_rank_accuracy(), result.high_rank_accuracy()
    curves = {m: {"low_rank": list(low[m]), "high_rank": list(high[m])} for m in shown}
    return plot_accuracy_vs_rank(
        list(result.ranks), curves, chance=chance, ax=ax,
        title=title if title is not None else f"accuracy against rank ({result.n_images} images)",
        use_pyplot=use_pyplot,
    )
