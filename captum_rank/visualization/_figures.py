r"""Figure creation and showing, shared by every visualiser.

``use_pyplot=True`` creates figures through pyplot (so notebooks display them and
``plt.close`` manages them) and calls ``plt.show()`` afterwards, as Captum does, but only
when the backend is interactive: under ``Agg`` (tests, scripts writing files) showing
would only warn. ``use_pyplot=False`` builds a bare :class:`matplotlib.figure.Figure`
that pyplot never sees, so nothing has to be closed.
"""

from __future__ import annotations

from typing import Any

import matplotlib
from matplotlib import pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure

from captum_rank.checks import UserInputError, UserTypeError, boolean, one_of, real

__all__ = ["check_option", "figure_of", "maybe_show", "new_figure", "strip_ticks"]

_NON_INTERACTIVE = {"agg", "cairo", "pdf", "pgf", "ps", "svg", "template"}


def _backend_is_interactive() -> bool:
    backend = str(matplotlib.get_backend()).lower()
    for prefix in ("module://matplotlib.backends.backend_", "backend_"):
        if backend.startswith(prefix):
            backend = backend[len(prefix):]
    return backend not in _NON_INTERACTIVE


def check_fig_size(fig_size: Any) -> tuple[float, float]:
    r"""``(width, height)`` in inches, both positive and finite."""
    if isinstance(fig_size, str | bytes) or not hasattr(fig_size, "__len__") or (
        len(fig_size) != 2
    ):
        raise UserTypeError(
            f"`fig_size` must be (width, height) in inches, e.g. (6, 4), got {fig_size!r}."
        )
    return (real(fig_size[0], "fig_size[0]", minimum=0.0, include_minimum=False),
            real(fig_size[1], "fig_size[1]", minimum=0.0, include_minimum=False))


def new_figure(fig_size: tuple[float, float], use_pyplot: bool, **kwargs: Any) -> Figure:
    r"""A new figure, through pyplot or not (see the module docstring)."""
    size = check_fig_size(fig_size)
    if boolean(use_pyplot, "use_pyplot"):
        return plt.figure(figsize=size, **kwargs)
    return Figure(figsize=size, **kwargs)


def maybe_show(use_pyplot: bool) -> None:
    r"""``plt.show()`` when asked to and the backend can show anything."""
    if boolean(use_pyplot, "use_pyplot") and _backend_is_interactive():
        plt.show()


def figure_of(ax: Axes) -> Figure:
    r"""The top-level figure that holds ``ax`` (also inside a subfigure)."""
    fig = ax.get_figure()
    while isinstance(fig, SubFigure):
        fig = fig.get_figure()
    if not isinstance(fig, Figure):
        raise UserInputError("the given axes belong to no figure.")
    return fig


def check_option(value: Any, name: str, options: tuple[Any, ...]) -> None:
    r"""Raise a :class:`~captum_rank.checks.UserInputError` unless ``value`` is an option."""
    if isinstance(value, str | None):
        one_of(value, name, options)
        return
    # Anything else (an array, say) is simply wrong, and must not meet ``==``.
    listed = ", ".join(repr(option) for option in options)
    raise UserTypeError(f"`{name}` must be one of {listed}, got {type(value).__name__}.")


def strip_ticks(ax: Axes) -> None:
    r"""Remove ticks and tick labels (image panels), as Captum does."""
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(visible=False)
