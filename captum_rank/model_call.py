r"""The one model-call contract of every RIG rule: rows of path points in, gradients out.

A rule (fixed, adaptive or exact) hands :class:`ModelCall` a batch of path points whose
rows each belong to one example (:class:`Rows`) and gets back the gradients of the
target's output, the target's output per row, or both. Here, and only here, the target
and the extra forward arguments follow their example's rows, and batches are cut to
``internal_batch_size`` (:meth:`ModelCall.batches`). Rows that are whole path steps (every
example once per step, as Captum batches its steps) are routed with Captum's own
expansion, so that code relying on it (``LLMGradientAttribution``'s target tokens) sees
the same values; any other rows by their example index.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from captum_rank._captum import (
    _expand_additional_forward_args,
    _expand_target,
    _format_additional_forward_args,
    _select_targets,
)
from captum_rank._model_checks import (
    check_output,
    checked_gradients,
    select_targets,
    translate_shape_error,
)
from captum_rank.checks import UserInputError

__all__ = ["GradientFunc", "ModelCall", "Rows"]

#: Captum's ``gradient_func`` contract (``compute_gradients``), with our error context.
GradientFunc = Callable[..., tuple[Tensor, ...]]


@dataclass(frozen=True)
class Rows:
    r"""Which example each row of a batch of path points belongs to.

    Attributes:
        count (int): rows in the batch.
        examples (Tensor or None): ``(count,)`` example index per row; ``None`` when the
            rows are whole path steps, node-major (row ``b`` is example ``b % N``).
        first_step (int): with whole steps, the path step of the first rows (named in
            errors).

    Examples:
        >>> import torch
        >>> Rows.of_steps(num_examples=2, first_step=3, steps=4).count
        8
        >>> Rows.of_examples(torch.tensor([0, 0, 1])).count
        3
    """

    count: int
    examples: Tensor | None = None
    first_step: int = 0

    @classmethod
    def of_steps(cls, num_examples: int, first_step: int, steps: int) -> Rows:
        r"""``steps`` whole path steps of all ``num_examples`` examples from ``first_step``."""
        return cls(count=num_examples * steps, first_step=first_step)

    @classmethod
    def of_examples(cls, examples: Tensor) -> Rows:
        r"""One row per entry of ``examples`` (``(B,)`` example indices)."""
        return cls(count=int(examples.numel()), examples=examples)


class ModelCall:
    r"""The model, its target and extra arguments, run on rows of path points.

    Args:
        forward_func (Callable): the model (for Layer RIG, the whole model, whose layer
            the gradient function replaces by the points).
        num_examples (int): ``N``, the examples of the attribution.
        target: the canonical target (:func:`~captum_rank._model_checks.check_target`).
            Default: None.
        additional_forward_args (Any, optional): the user's extra arguments (for Layer RIG,
            the model's inputs first). Default: None.
        gradient_func (Callable, optional): Captum's ``gradient_func`` contract. Default:
            :func:`~captum_rank._model_checks.checked_gradients`.
        internal_batch_size (int, optional): at most this many rows per model call.
            Default: None (no limit).

    Examples:
        >>> import torch
        >>> model = torch.nn.Linear(3, 2)
        >>> call = ModelCall(model, num_examples=2, target=1)
        >>> points = (torch.rand(4, 3),)
        >>> grads, outputs = call.gradients_and_outputs(points, Rows.of_steps(2, 0, 2))
        >>> torch.allclose(grads[0], model.weight[1].expand(4, 3)), outputs.shape
        (True, torch.Size([4]))
    """

    def __init__(
        self,
        forward_func: Callable[..., Any],
        num_examples: int,
        target: Any = None,
        additional_forward_args: Any = None,
        gradient_func: GradientFunc = checked_gradients,
        internal_batch_size: int | None = None,
    ) -> None:
        self.forward_func = forward_func
        self.num_examples = int(num_examples)
        self.target = target
        self.extra_args = _format_additional_forward_args(additional_forward_args)
        self.gradient_func = gradient_func
        self.internal_batch_size = internal_batch_size

    def batches(self, total: int, unit: int = 1) -> Iterator[slice]:
        r"""The one chunking loop: slices of ``total`` rows, each at most
        ``internal_batch_size`` rows and a whole number of ``unit`` rows (at least one).

        Args:
            total (int): rows to cover.
            unit (int, optional): rows that go together (``N`` for whole path steps).
                Default: 1.

        Yields:
            slice: consecutive row ranges.

        Warns:
            UserWarning: when ``internal_batch_size`` is below ``unit`` (one unit runs).

        Examples:
            >>> call = ModelCall(abs, num_examples=2, internal_batch_size=5)
            >>> [(s.start, s.stop) for s in call.batches(8, unit=2)]
            [(0, 4), (4, 8)]
        """
        size = total if self.internal_batch_size is None else self.internal_batch_size
        if size < unit:
            warnings.warn(
                f"`internal_batch_size` ({size}) is smaller than the number of examples "
                f"({unit}); running one path step of the whole batch at a time.",
                stacklevel=5,
            )
        size = max(unit, size - size % unit, 1)
        for first in range(0, total, size):
            yield slice(first, min(total, first + size))

    def route(self, rows: Rows) -> tuple[Any, Any]:
        r"""The target and extra arguments of every row (the one place that routes them).

        Args:
            rows (Rows): which example each row is.

        Returns:
            tuple: ``(target, additional_forward_args)`` for the batch.
        """
        if rows.examples is None:
            steps = rows.count // self.num_examples
            args = (None if self.extra_args is None
                    else _expand_additional_forward_args(self.extra_args, steps))
            return _expand_target(self.target, steps), args
        return (_examples_target(self.target, rows.examples),
                _examples_args(self.extra_args, rows.examples, self.num_examples))

    def gradients(self, points: tuple[Tensor, ...], rows: Rows) -> tuple[Tensor, ...]:
        r"""Gradients of the target's output at ``points`` (one forward, one backward pass).

        Args:
            points (tuple[Tensor, ...]): one tensor per input, ``rows.count`` rows each.
            rows (Rows): which example each row is.

        Returns:
            tuple[Tensor, ...]: one gradient per input, the points' shapes.

        Raises:
            UserInputError: see :func:`~captum_rank._model_checks.checked_gradients`.
        """
        return self._gradients(points, rows, self.forward_func)[0]

    def gradients_and_outputs(
        self, points: tuple[Tensor, ...], rows: Rows
    ) -> tuple[tuple[Tensor, ...], Tensor]:
        r"""Gradients and the target's output per row, from the same passes.

        Args:
            points (tuple[Tensor, ...]): one tensor per input, ``rows.count`` rows each.
            rows (Rows): which example each row is.

        Returns:
            tuple: ``(gradients, outputs)``, ``outputs`` ``(count,)`` the selected
            outputs summed per row.

        Raises:
            UserInputError: as :meth:`gradients`, and for a gradient function that never
                calls the model it is given.
        """
        captured: list[Tensor] = []

        def forward(*inputs: Any) -> Any:
            output = self.forward_func(*inputs)
            captured.append(output)
            return output

        grads, target = self._gradients(points, rows, forward)
        if not captured:
            raise UserInputError(
                "method='adaptive' needs the model's outputs at the path points, and this "
                "gradient function does not call the forward function it is given; use a "
                "fixed method, e.g. method='gausslegendre'."
            )
        selected = _select_targets(captured[-1], target).detach()
        return grads, selected.reshape(rows.count, -1).sum(1)

    def _gradients(
        self, points: tuple[Tensor, ...], rows: Rows, forward: Callable[..., Any]
    ) -> tuple[tuple[Tensor, ...], Any]:
        target, args = self.route(rows)
        # Errors name examples (and path steps, for whole steps), not rows of a batch.
        context: dict[str, Any] = (
            {"num_examples": self.num_examples, "first_step": rows.first_step}
            if rows.examples is None else {"examples": rows.examples}
        )
        grads = self.gradient_func(
            forward_fn=forward,
            inputs=tuple(point.requires_grad_() for point in points),
            target_ind=target,
            additional_forward_args=args,
            **context,
        )
        return tuple(grads), target

    def outputs(self, points: tuple[Tensor, ...], rows: Rows) -> Tensor:
        r"""The target's output per row (``(count,)``), forward only and checked.

        Args:
            points (tuple[Tensor, ...]): one tensor per input, ``rows.count`` rows each.
            rows (Rows): which example each row is.

        Returns:
            Tensor: ``(count,)`` the selected outputs summed per row.

        Raises:
            UserInputError: see :func:`~captum_rank._model_checks.check_output`.
        """
        target, args = self.route(rows)
        try:
            output = self.forward_func(*points, *(args if args is not None else ()))
        except (RuntimeError, IndexError) as err:
            # A model that cannot take these inputs: say which model and which shape.
            translated = translate_shape_error(err, self.forward_func, points,
                                               args if args is not None else ())
            if translated is None:
                raise
            raise translated from None
        output = check_output(output, rows.count, target)
        return select_targets(output, target).reshape(rows.count, -1).sum(1)


def _examples_target(target: Any, examples: Tensor) -> Any:
    """The target of every path point, given the example each point belongs to."""
    if isinstance(target, Tensor) and target.numel() > 1:
        return target.reshape(-1)[examples.to(target.device)]
    if isinstance(target, list):
        return [target[int(i)] for i in examples]
    return target


def _examples_args(
    extra_args: tuple[Any, ...] | None, examples: Tensor, num_examples: int
) -> Any:
    """Additional forward arguments of every path point.

    A tensor with one row per example follows its example's points. Any other tensor of
    one or more dimensions is repeated whole, as Captum's expansion repeats it once per
    path step (``N`` points), so that code relying on Captum's convention (such as
    ``LLMGradientAttribution``'s target tokens) sees the same values.
    """
    if extra_args is None:
        return None
    repeats = -(-len(examples) // num_examples)
    return tuple(
        arg if not isinstance(arg, Tensor) or arg.dim() == 0
        else arg.index_select(0, examples.to(arg.device)) if arg.shape[0] == num_examples
        else torch.cat([arg] * repeats)
        for arg in extra_args
    )
