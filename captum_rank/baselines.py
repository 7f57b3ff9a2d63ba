r"""Baselines users ask Captum for, and an expectation over several of them.

A path attribution explains ``F(x) - F(x')``: the baseline ``x'`` is half of the question.
Captum leaves building it to the user (captum#1125, captum#933). This module builds the
common ones, as tensors that any Captum method and :class:`~captum_rank.RankIntegratedGradients`
accept as ``baselines=``:

=========================  ====================================================================
function                   baseline
=========================  ====================================================================
:func:`blurred_baseline`   the input under a Gaussian blur (the same kernel as torchvision's
                           ``gaussian_blur``, reflect padding): keeps the coarse image,
                           removes the detail
:func:`mean_baseline`      the mean of a data set (a tensor, or an iterable of batches)
:func:`uniform_baseline`   uniform noise in ``[low, high)`` from a seeded generator
:func:`sample_baselines`   ``K`` baselines drawn from data, Expected Gradients style
=========================  ====================================================================

:class:`BaselineExpectation` averages any attribution method over ``K`` baselines (each
baseline gets its own path; for RIG, its own decomposition of ``x - x'_k``), with the
completeness bookkeeping that makes the average a path attribution again: the returned
``delta`` is ``sum(mean_k A_k) - mean_k (F(x) - F(x'_k))``, the mean of the per-baseline
deltas, so it is quadrature error only when each ``A_k`` is.

Examples:
    >>> import torch
    >>> from captum.attr import IntegratedGradients
    >>> from captum_rank.baselines import BaselineExpectation, blurred_baseline, uniform_baseline
    >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(48, 3), torch.nn.Tanh())
    >>> x = torch.rand(2, 3, 4, 4)
    >>> baselines = [blurred_baseline(x, sigma=1.0), uniform_baseline(x, seed=0), 0.0]
    >>> attributions, delta = BaselineExpectation(IntegratedGradients(model)).attribute(
    ...     x, baselines, target=1, n_steps=64, return_convergence_delta=True)
    >>> attributions.shape, bool(delta.abs().max() < 1e-3)
    (torch.Size([2, 3, 4, 4]), True)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from torch import Tensor

from captum_rank._validation import floating_tensor
from captum_rank.checks import (
    UserInputError,
    UserTypeError,
    boolean,
    non_negative_int,
    positive_int,
    real,
)

__all__ = [
    "BaselineExpectation",
    "blurred_baseline",
    "mean_baseline",
    "sample_baselines",
    "uniform_baseline",
]


def _float_tensor(value: Any, name: str, min_dim: int = 2) -> Tensor:
    value = floating_tensor(value, name, "a baseline")
    if value.dim() < min_dim:
        raise UserInputError(
            f"`{name}` must have at least {min_dim} dimensions, got shape {tuple(value.shape)}."
        )
    return value


def blurred_baseline(
    inputs: Tensor, sigma: float = 5.0, kernel_size: int | None = None
) -> Tensor:
    r"""The input blurred by a Gaussian over its last two dimensions.

    Blurs with ``torchvision.transforms.v2.functional.gaussian_blur`` (a normalised
    Gaussian of standard deviation ``sigma`` sampled at integer offsets, reflect padding),
    each ``(H, W)`` plane on its own.
    Spectral IG's ``blur`` baseline is ``blurred_baseline(x, sigma=5.0, kernel_size=11)``.

    Args:
        inputs (Tensor): ``(N, ..., H, W)`` floating-point images.
        sigma (float, optional): standard deviation in pixels, > 0. Default: 5.
        kernel_size (int, optional): odd kernel width, at most ``2 * min(H, W) - 1``
            (reflect padding needs a border smaller than the image). Default:
            ``2 * ceil(3 * sigma) + 1``, capped at that maximum.

    Returns:
        Tensor: the blurred inputs, same shape and dtype, detached.

    Raises:
        UserTypeError: for a non-tensor or non-float input, or non-number options.
        UserInputError: for NaN or inf in ``inputs``, ``sigma <= 0``, an even or too
            large ``kernel_size``.

    Examples:
        >>> import torch
        >>> x = torch.zeros(1, 1, 5, 5)
        >>> x[..., 2, 2] = 1.0
        >>> blurred = blurred_baseline(x, sigma=1.0, kernel_size=3)
        >>> round(float(blurred[0, 0, 2, 2]), 4), round(float(blurred.sum()), 4)
        (0.2042, 1.0)
    """
    inputs = _float_tensor(inputs, "inputs")
    if not bool(torch.isfinite(inputs).all()):
        # A blur spreads one NaN over its whole neighbourhood (and inf turns into NaN),
        # so the baseline would be silently unusable.
        raise UserInputError(
            "`inputs` contains NaN or inf, which the blur would spread over the image; "
            "clean it first (e.g. `torch.nan_to_num(inputs)`)."
        )
    sigma = real(sigma, "sigma", minimum=0.0, include_minimum=False)
    height, width = inputs.shape[-2:]
    largest = 2 * min(height, width) - 1
    if kernel_size is None:
        size = min(2 * math.ceil(3.0 * sigma) + 1, largest)
    else:
        size = positive_int(kernel_size, "kernel_size")
        if size % 2 == 0 or size > largest:
            raise UserInputError(
                f"`kernel_size` must be odd and at most 2 * min(H, W) - 1 = {largest} for "
                f"{height}x{width} images, got {size}; leave it None to derive it from sigma."
            )
    from torchvision.transforms.v2.functional import gaussian_blur  # slow import: lazily

    flat = inputs.detach().reshape(-1, 1, height, width)
    return gaussian_blur(flat, [size, size], [sigma, sigma]).reshape(inputs.shape)


def mean_baseline(data: Tensor | Iterable[Any]) -> Tensor:
    r"""The mean example of a data set, with a batch dimension of 1.

    Args:
        data (Tensor or Iterable): a tensor ``(M, ...)`` of examples, or an iterable of
            batches (e.g. a ``DataLoader``); a batch may be a tensor or a tuple/list
            whose first element is the tensor of examples (``(images, labels)``).

    Returns:
        Tensor: ``(1, ...)``, the mean over all examples, accumulated in float64 and
        returned in the data's dtype; it broadcasts over any batch of inputs.

    Raises:
        UserTypeError: for data that is neither a tensor nor an iterable of batches.
        UserInputError: for an empty data set or batches of different shapes.

    Examples:
        >>> import torch
        >>> data = torch.stack([torch.zeros(1, 2, 2), torch.ones(1, 2, 2)])
        >>> mean_baseline(data).flatten().tolist()
        [0.5, 0.5, 0.5, 0.5]
        >>> round(mean_baseline([(data, None), (data[:1], None)]).flatten().tolist()[0], 6)
        0.333333
    """
    batches: Iterable[Any] = [data] if isinstance(data, Tensor) else data
    if isinstance(data, str | bytes) or not isinstance(batches, Iterable):
        raise UserTypeError(
            f"`data` must be a tensor of examples or an iterable of batches, got "
            f"{type(data).__name__}."
        )
    total: Tensor | None = None
    count = 0
    dtype = torch.float32
    for index, batch in enumerate(batches):
        tensor = batch[0] if isinstance(batch, tuple | list) and batch else batch
        tensor = _float_tensor(tensor, f"data batch {index}", min_dim=1)
        dtype = tensor.dtype
        summed = tensor.detach().to(torch.float64).sum(0)
        if not bool(torch.isfinite(summed).all()):  # one NaN makes the whole mean NaN
            raise UserInputError(
                f"`data` batch {index} holds NaN or infinite values; the mean baseline "
                "would be NaN. Clean the data first (e.g. drop those examples).")
        if total is None:
            total = summed
        elif total.shape != summed.shape:
            raise UserInputError(
                f"`data` batch {index} holds examples of shape {tuple(summed.shape)}, "
                f"earlier batches {tuple(total.shape)}; all examples must share one shape."
            )
        else:
            total = total + summed
        count += tensor.shape[0]
    if total is None or count == 0:
        raise UserInputError("`data` holds no examples; pass at least one.")
    return (total / count).unsqueeze(0).to(dtype)


def uniform_baseline(
    inputs: Tensor,
    low: float = 0.0,
    high: float = 1.0,
    *,
    seed: int | None = 0,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""Uniform noise in ``[low, high)`` of the inputs' shape, from a seeded generator.

    The noise is drawn on the CPU and moved to the inputs' device, so the same seed
    gives the same baseline on every device.

    Args:
        inputs (Tensor): the inputs whose shape, dtype and device the noise takes.
        low (float, optional): lower bound. Default: 0.
        high (float, optional): upper bound, > ``low``. Default: 1.
        seed (int, optional): seed of a fresh generator; ``None`` draws from torch's
            global generator. Ignored when ``generator`` is given. Default: 0.
        generator (torch.Generator, optional): a CPU generator to draw from (for
            several different baselines from one seed). Default: None.

    Returns:
        Tensor: noise with the inputs' shape, dtype and device.

    Raises:
        UserTypeError: for a non-tensor input or a generator of the wrong type.
        UserInputError: for ``high <= low``.

    Examples:
        >>> import torch
        >>> x = torch.zeros(2, 1, 3, 3)
        >>> torch.equal(uniform_baseline(x, seed=1), uniform_baseline(x, seed=1))
        True
        >>> gen = torch.Generator().manual_seed(0)
        >>> a, b = uniform_baseline(x, generator=gen), uniform_baseline(x, generator=gen)
        >>> torch.equal(a, b)
        False
    """
    inputs = _float_tensor(inputs, "inputs", min_dim=1)
    low = real(low, "low")
    high = real(high, "high")
    if high <= low:
        raise UserInputError(f"`high` must be greater than `low`, got low={low}, high={high}.")
    if generator is None:
        if seed is not None:
            generator = torch.Generator().manual_seed(non_negative_int(seed, "seed"))
    elif not isinstance(generator, torch.Generator):
        raise UserTypeError(
            f"`generator` must be a torch.Generator, got {type(generator).__name__}."
        )
    noise = torch.rand(inputs.shape, generator=generator, dtype=inputs.dtype)
    return (low + (high - low) * noise).to(inputs.device)


def sample_baselines(
    data: Tensor, num_baselines: int, num_examples: int = 1, *, seed: int = 0
) -> list[Tensor]:
    r"""``K`` baselines drawn at random from data, as Expected Gradients uses them.

    Args:
        data (Tensor): ``(M, ...)`` reference examples (e.g. training images).
        num_baselines (int): ``K``, how many baselines.
        num_examples (int, optional): rows of each baseline: 1 (one reference for
            the whole batch, broadcast) or the batch size ``N`` (an independent
            reference for every example). Default: 1.
        seed (int, optional): seed of the draw (with replacement). Default: 0.

    Returns:
        list[Tensor]: ``K`` tensors of shape ``(num_examples, ...)``, ready for
        :class:`BaselineExpectation`.

    Raises:
        UserTypeError: for a non-tensor or bad counts.
        UserInputError: for empty data or counts < 1.

    Examples:
        >>> import torch
        >>> refs = sample_baselines(torch.rand(10, 1, 4, 4), num_baselines=3, num_examples=2)
        >>> len(refs), refs[0].shape
        (3, torch.Size([2, 1, 4, 4]))
    """
    data = _float_tensor(data, "data", min_dim=1)
    if data.shape[0] == 0:
        raise UserInputError("`data` holds no examples; pass at least one.")
    bad = ~torch.isfinite(data.detach()).flatten(1).all(dim=1) if data.dim() > 1 else \
        ~torch.isfinite(data.detach())
    if bool(bad.any()):
        raise UserInputError(
            f"`data` examples {bad.nonzero().flatten()[:5].tolist()} hold NaN or infinite "
            "values; a baseline drawn from them makes NaN attributions. Clean the data "
            "first (e.g. data[torch.isfinite(data).flatten(1).all(1)]).")
    count = positive_int(num_baselines, "num_baselines")
    rows = positive_int(num_examples, "num_examples")
    generator = torch.Generator().manual_seed(non_negative_int(seed, "seed"))
    picks = torch.randint(data.shape[0], (count, rows), generator=generator)
    return [data[row.to(data.device)].detach() for row in picks]


class BaselineExpectation:
    r"""Average an attribution method over several baselines, with a correct delta.

    For baselines ``x'_1 .. x'_K`` it returns ``A = (1/K) sum_k A_k(x; x'_k)``, where
    ``A_k`` is the wrapped method's attribution with baseline ``x'_k`` (for RIG each
    has its own rank path, from the SVD of ``x - x'_k``). If every ``A_k`` is complete,
    ``sum A = F(x) - (1/K) sum_k F(x'_k)``: the expectation explains the output against
    the *average* baseline output, which is what ``delta`` measures::

        delta = sum(A) - (F(x) - mean_k F(x'_k)) = mean_k delta_k

    With baselines drawn from data (:func:`sample_baselines`) this is Expected Gradients
    (Erion et al., 2021) with a fixed quadrature instead of one random point per draw.
    It wraps anything with Captum's ``attribute(inputs, baselines=..., target=...,
    additional_forward_args=..., ...)`` signature: :class:`captum.attr.IntegratedGradients`,
    :class:`~captum_rank.RankIntegratedGradients`, DeepLift, ... ; for ``delta`` the
    method must have Captum's ``compute_convergence_delta`` (every
    ``GradientAttribution`` has).

    Args:
        attribution_method: the method to average (an instance, as for
            :class:`captum.attr.NoiseTunnel`).

    Raises:
        UserTypeError: for an object without an ``attribute`` method.

    Examples:
        >>> import torch
        >>> from captum_rank import RankIntegratedGradients
        >>> from captum_rank.baselines import BaselineExpectation, sample_baselines
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(36, 2))
        >>> x, data = torch.rand(2, 1, 6, 6), torch.rand(20, 1, 6, 6)
        >>> expected = BaselineExpectation(RankIntegratedGradients(model))
        >>> attr, delta = expected.attribute(x, sample_baselines(data, 4, num_examples=2),
        ...                                  target=0, return_convergence_delta=True)
        >>> bool(delta.abs().max() < 1e-5)  # a linear model: exact
        True
        >>> expected.attribute_ranks(x, [0.0, 0.5], target=0).shape
        torch.Size([2, 1, 6])
    """

    def __init__(self, attribution_method: Any) -> None:
        if not callable(getattr(attribution_method, "attribute", None)):
            raise UserTypeError(
                "`attribution_method` must be an attribution object with an `attribute` "
                f"method (e.g. IntegratedGradients(model)), got "
                f"{type(attribution_method).__name__}."
            )
        self.attribution_method = attribution_method

    def attribute(
        self,
        inputs: Tensor | tuple[Tensor, ...],
        baselines: Sequence[Any],
        target: Any = None,
        additional_forward_args: Any = None,
        return_convergence_delta: bool = False,
        **kwargs: Any,
    ) -> Any:
        r"""The wrapped method's ``attribute``, averaged over ``baselines``.

        Args:
            inputs (Tensor or tuple[Tensor, ...]): as for the wrapped method.
            baselines (list): ``K >= 1`` baselines, each anything the wrapped method
                accepts as ``baselines=`` (a number, a tensor, or for tuple inputs a
                tuple). A list, not a tuple: a tuple is *one* baseline of tuple inputs.
            target (optional): as for the wrapped method. Default: None.
            additional_forward_args (optional): as for the wrapped method. Default: None.
            return_convergence_delta (bool, optional): also return the ``(N,)`` delta
                ``sum(A) - (F(x) - mean_k F(x'_k))``. Default: False.
            **kwargs: passed to every call (``n_steps``, ``method``, ``schedule``,
                ``internal_batch_size``, ...).

        Returns:
            The averaged attributions (tensor in, tensor out; tuple in, tuple out), and
            the delta with ``return_convergence_delta``.

        Raises:
            UserTypeError: for baselines that are not a list, or ``delta`` requested from
                a method without ``compute_convergence_delta``.
            UserInputError: for an empty list of baselines.

        Examples:
            >>> import torch
            >>> from captum.attr import IntegratedGradients
            >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 1))
            >>> x = torch.rand(3, 1, 4, 4)
            >>> ig = IntegratedGradients(model)
            >>> both = BaselineExpectation(ig).attribute(x, [0.0, 0.0])
            >>> torch.allclose(both, ig.attribute(x, 0.0))
            True
        """
        return self._average(self.attribution_method.attribute, inputs, baselines, target,
                             additional_forward_args, return_convergence_delta, kwargs)

    def attribute_ranks(
        self,
        inputs: Tensor | tuple[Tensor, ...],
        baselines: Sequence[Any],
        target: Any = None,
        additional_forward_args: Any = None,
        return_convergence_delta: bool = False,
        **kwargs: Any,
    ) -> Any:
        r"""RIG's rank-space attributions, averaged over ``baselines`` by component index.

        Component ``i`` of baseline ``k`` is the ``i``-th largest singular component of
        ``x - x'_k``: the components differ between baselines, and the average says how
        much the ``i``-th strongest component carries on average. The total (and so
        ``delta``) is that of :meth:`attribute`.

        Args:
            inputs (Tensor or tuple[Tensor, ...]): as for :meth:`attribute`.
            baselines (list): as for :meth:`attribute`.
            target (optional): as for :meth:`attribute`.
            additional_forward_args (optional): as for :meth:`attribute`.
            return_convergence_delta (bool, optional): as for :meth:`attribute`.
            **kwargs: as for :meth:`attribute`.

        Returns:
            The averaged rank attributions, ``(N, ..., r)`` per input, and the delta
            with ``return_convergence_delta``.

        Raises:
            UserTypeError: if the wrapped method has no ``attribute_ranks``, and as for
                :meth:`attribute`.
            UserInputError: as for :meth:`attribute`.
        """
        attribute_ranks = getattr(self.attribution_method, "attribute_ranks", None)
        if not callable(attribute_ranks):
            raise UserTypeError(
                f"{type(self.attribution_method).__name__} has no `attribute_ranks`; wrap "
                "a RankIntegratedGradients to average rank attributions."
            )
        return self._average(attribute_ranks, inputs, baselines, target,
                             additional_forward_args, return_convergence_delta, kwargs)

    def _average(
        self,
        run: Callable[..., Any],
        inputs: Tensor | tuple[Tensor, ...],
        baselines: Sequence[Any],
        target: Any,
        additional_forward_args: Any,
        return_convergence_delta: Any,
        kwargs: dict[str, Any],
    ) -> Any:
        if isinstance(baselines, tuple) or not isinstance(baselines, list):
            raise UserTypeError(
                f"`baselines` must be a list of baselines, got {type(baselines).__name__}; "
                "wrap a single baseline as [baseline] (a tuple is one baseline of tuple "
                "inputs)."
            )
        if not baselines:
            raise UserInputError("`baselines` is empty; pass at least one baseline.")
        want_delta = boolean(return_convergence_delta, "return_convergence_delta")
        method = self.attribution_method
        if want_delta and not callable(getattr(method, "compute_convergence_delta", None)):
            raise UserTypeError(
                f"{type(method).__name__} has no `compute_convergence_delta`; call with "
                "return_convergence_delta=False."
            )
        is_tuple = isinstance(inputs, tuple)
        # One call per baseline, each run to completion before the next: nothing of the
        # wrapped method is swapped or shared between them, so nested use is safe.
        sums: list[Tensor] = []
        for baseline in baselines:
            result = run(inputs, baselines=baseline, target=target,
                         additional_forward_args=additional_forward_args, **kwargs)
            parts = [part.detach() for part in (result if is_tuple else (result,))]
            sums = [part.clone() for part in parts] if not sums else [
                acc.add_(part) for acc, part in zip(sums, parts, strict=True)]
        averaged = tuple(acc / len(baselines) for acc in sums)
        output: Tensor | tuple[Tensor, ...] = averaged if is_tuple else averaged[0]
        if not want_delta:
            return output
        # delta_k = sum(A) - (F(x) - F(x'_k)); their mean is sum(A) - mean_k (F(x) - F(x'_k)).
        deltas = [
            method.compute_convergence_delta(
                averaged, baseline, inputs, target=target,
                additional_forward_args=additional_forward_args,
            )
            for baseline in baselines
        ]
        return output, torch.stack(deltas).mean(0)
