r"""Rank-space attributions as a Captum attribution method of their own (for NoiseTunnel).

Captum's :class:`~captum.attr.NoiseTunnel` smooths whatever its attribution method's
``attribute`` returns: it adds Gaussian noise to the inputs, calls ``attribute`` on every
noisy copy and averages (``smoothgrad``), averages the squares (``smoothgrad_sq``) or takes
the variance (``vargrad``) over the copies. ``NoiseTunnel(rig)`` therefore smooths RIG's
pixel attributions. :class:`RankSpace` wraps a rank method so that its ``attribute`` *is*
``attribute_ranks``; ``NoiseTunnel(RankSpace(rig))`` then smooths the rank spectrum
``R`` (one value per singular component of each noisy ``x - x'``, so component ``i`` is
always the ``i``-th largest of its own copy). The same works for
:class:`~captum_rank.LayerRankIntegratedGradients`.
"""

from __future__ import annotations

from typing import Any

from captum.attr import GradientAttribution

from captum_rank._captum import captum_entry_point
from captum_rank.checks import UserTypeError

__all__ = ["RankSpace"]


class RankSpace(GradientAttribution):
    r"""A rank method seen through its rank attributions: ``attribute`` is ``attribute_ranks``.

    Args:
        method: a :class:`~captum_rank.RankIntegratedGradients` or
            :class:`~captum_rank.LayerRankIntegratedGradients` (anything with
            ``attribute_ranks`` and ``forward_func``).

    Raises:
        UserTypeError: if ``method`` has no ``attribute_ranks``.

    Examples:
        >>> import torch
        >>> from torch import nn
        >>> from captum.attr import NoiseTunnel
        >>> from captum_rank import RankIntegratedGradients, RankSpace
        >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
        <torch._C.Generator object at ...>
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(64, 3), nn.Softplus())
        >>> x = torch.rand(2, 1, 8, 8)
        >>> tunnel = NoiseTunnel(RankSpace(RankIntegratedGradients(model)))
        >>> smoothed = tunnel.attribute(x, nt_type="smoothgrad", nt_samples=4, stdevs=0.1,
        ...                             target=0, n_steps=8)
        >>> smoothed.shape  # (N, C, r): the rank spectrum, averaged over the noisy copies
        torch.Size([2, 1, 8])
    """

    def __init__(self, method: Any) -> None:
        if not callable(getattr(method, "attribute_ranks", None)):
            raise UserTypeError(
                "`method` must be a rank attribution method with `attribute_ranks` "
                "(RankIntegratedGradients or LayerRankIntegratedGradients), got "
                f"{type(method).__name__}."
            )
        GradientAttribution.__init__(self, method.forward_func)
        self.method = method

    @captum_entry_point
    def attribute(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        r"""The wrapped method's :meth:`attribute_ranks`, with the same arguments and returns.

        Args:
            inputs: as for the wrapped method.
            *args: the wrapped method's further positional arguments.
            **kwargs: its keyword arguments (``target``, ``n_steps``, ``schedule``, ...).

        Returns:
            The rank-space attributions (and ``delta`` with
            ``return_convergence_delta=True``), as ``attribute_ranks`` returns them.

        Examples:
            >>> import torch
            >>> from torch import nn
            >>> from captum_rank import RankIntegratedGradients, RankSpace
            >>> model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
            >>> rig = RankIntegratedGradients(model)
            >>> x = torch.rand(1, 1, 4, 4)
            >>> torch.equal(RankSpace(rig).attribute(x, target=1),
            ...             rig.attribute_ranks(x, target=1))
            True
        """
        ranks = self.method.attribute_ranks
        run = getattr(ranks, "__wrapped__", None)
        if run is None:
            return ranks(inputs, *args, **kwargs)
        return run(self.method, inputs, *args, **kwargs)

    def has_convergence_delta(self) -> bool:
        r"""Rank attributions sum to ``F(x) - F(x')`` like the method's own.

        Returns:
            bool: what the wrapped method says.
        """
        return bool(self.method.has_convergence_delta())

    @property
    def multiplies_by_inputs(self) -> bool:
        r"""The wrapped method's global/local setting."""
        return bool(self.method.multiplies_by_inputs)
