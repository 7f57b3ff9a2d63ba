r"""Layer Rank Integrated Gradients: RIG on a layer's activations, a Captum ``LayerAttribution``.

Captum's :class:`~captum.attr.LayerIntegratedGradients` runs Integrated Gradients on the
activations ``a(x)`` of a layer: it integrates the gradient of the output with respect to
the layer's activations along the straight line from ``a(x')`` to ``a(x)``, by running the
whole model with a forward hook that replaces the layer's output by the path point.
:class:`LayerRankIntegratedGradients` does the same along the *rank path* of the
activation difference: for ``a(x) - a(x') = U diag(s) V^T`` over the activation's last two
dimensions (per example and per leading channel),
``gamma(t) = a(x') + U diag(s * phi(t)) V^T``. For token embeddings ``(N, T, D)`` that is
one ``T x D`` matrix per sentence, so the rank components are the sentence's dominant
embedding directions; for a CNN's feature maps ``(N, C, H, W)`` one ``H x W`` matrix per
channel. Everything else is :class:`~captum_rank.RankIntegratedGradients` on the
activations: the schedules, the two forms, the rank-space attributions of
:meth:`~LayerRankIntegratedGradients.attribute_ranks`, completeness
(``sum A = F(x) - F(x')`` up to quadrature error), and ``schedule="linear"`` is Captum's
LayerIntegratedGradients.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from captum.attr import GradientAttribution, LayerAttribution, LayerIntegratedGradients
from torch import Tensor, nn
from torch.nn.parallel.scatter_gather import scatter

from captum_rank._captum import (
    BaselineType,
    TargetType,
    _format_additional_forward_args,
    _format_outputs,
    _forward_layer_eval,
    _select_targets,
    captum_entry_point,
)
from captum_rank._layer_checks import check_layer_list, diagnose_layers
from captum_rank._model_checks import check_target
from captum_rank._validation import as_tuples, check_baselines, check_same_batch, input_tensors
from captum_rank.adaptive import Convergence
from captum_rank.attr import RankIntegratedGradients
from captum_rank.checks import UserInputError, UserTypeError, boolean
from captum_rank.defaults import DEFAULT_FORM, DEFAULT_N_STEPS
from captum_rank.engine import attribute as run_engine
from captum_rank.options import RigOptions, ScheduleLike

__all__ = ["LayerRankIntegratedGradients"]

_ARGS_DOC = r"""
            inputs (Tensor or tuple[Tensor, ...]): The model's inputs, as in Captum's
                        LayerIntegratedGradients (any dtype the model takes, e.g. token
                        ids). Dimension 0 is the batch. Tuple in, tuple of inputs to the
                        model.
            baselines (scalar, Tensor, tuple[scalar or Tensor, ...], optional):
                        Model inputs ``x'`` whose layer activations start the path
                        (e.g. padding tokens). Default: zeros.
            target (int, tuple, Tensor, or list, optional): Output indices, as in
                        Captum. Default: None.
            additional_forward_args (Any, optional): Extra arguments for
                        ``forward_func`` after the inputs. Default: None.
            n_steps (int, optional): Gradient evaluations along the path. Default: 50.
            method (str, optional): Where the ``n_steps`` evaluations go, as in
                        :meth:`RankIntegratedGradients.attribute`: ``adaptive`` (RIG's
                        adaptive rule) or one of Captum's fixed rules (``gausslegendre``,
                        Captum LIG's default, ``riemann_*``). Default: None, which is
                        ``gausslegendre`` on the straight line (``schedule="linear"``, or
                        rank-one activations) and ``adaptive`` elsewhere. With
                        ``schedule="linear"`` and the same rule (or none), this is
                        Captum's LIG to float rounding.
            internal_batch_size (int, optional): At most this many path points go
                        through the model at once. With a fixed rule, peak memory is
                        bounded by it (the adaptive rule also keeps every node's
                        gradient). Default: None (all steps at once).
            return_convergence_delta (bool, optional): Also return
                        ``sum(attributions) - (F(x) - F(x'))`` per example. Default: False.
            attribute_to_layer_input (bool, optional): Attribute to the layer's input
                        instead of its output; a ``bool`` (or numpy bool), never a
                        string. Default: False.
            grad_kwargs (dict, optional): Extra keyword arguments for
                        ``torch.autograd.grad``. Default: None.
            schedule (str or RankSchedule, optional): How the singular components of
                        ``a(x) - a(x')`` enter, as in
                        :meth:`RankIntegratedGradients.attribute`; ``linear`` is
                        Captum's LayerIntegratedGradients. Default: RIG's default.
            form (str, optional): ``increments`` or ``averaged``, as in
                        :meth:`RankIntegratedGradients.attribute`. Default:
                        ``increments``.
            tolerance (float, optional): With ``method="adaptive"``, stop refining an
                        example once its completeness error is below this fraction of
                        ``|F(x) - F(x')|``, as in :meth:`RankIntegratedGradients.attribute`
                        (``n_steps`` is then the budget). Default: None.
            map_tolerance (float, optional): With ``method="adaptive"``, stop refining an
                        example once its attribution map's estimated relative error is at
                        most this, as in :meth:`RankIntegratedGradients.attribute`.
                        Default: None."""


def _device(module: nn.Module, source: Any) -> torch.device:
    for parameter in module.parameters(recurse=False):
        return parameter.device
    first = source[0] if isinstance(source, tuple) else source
    device: torch.device = first.device
    return device


@contextmanager
def _layers_replaced(
    layers: list[nn.Module],
    points: tuple[Tensor, ...],
    bounds: list[int],
    to_input: bool,
    device_ids: list[int] | None,
) -> Iterator[None]:
    r"""Forward hooks that make each layer return (or take) its slice of ``points``.

    ``bounds[i]:bounds[i + 1]`` are layer ``i``'s tensors in ``points``. For a
    ``DataParallel`` model (``device_ids``), the points are scattered like its inputs and
    each replica's hook takes the part on its own device, as in Captum's LIG.
    """
    parts: dict[torch.device, tuple[Tensor, ...]] = {}
    if device_ids:
        parts = {part[0].device: tuple(part) for part in scatter(points, device_ids)}

    def hook_for(index: int) -> Callable[..., Any]:
        lo, hi = bounds[index], bounds[index + 1]

        def hook(module: nn.Module, hook_inputs: Any, hook_outputs: Any = None) -> Any:
            source = hook_inputs if to_input else hook_outputs
            mine = parts[_device(module, source)] if parts else points
            if isinstance(source, tuple):
                return tuple(mine[lo:hi])
            return mine[lo]

        return hook

    handles = [
        layer.register_forward_pre_hook(hook_for(index)) if to_input
        else layer.register_forward_hook(hook_for(index))
        for index, layer in enumerate(layers)
    ]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


class LayerRankIntegratedGradients(LayerIntegratedGradients):
    r"""Rank Integrated Gradients on a layer's activations (Captum's LIG along the rank path).

    The attributions are to the activations ``a`` of ``layer`` (its output, or its input
    with ``attribute_to_layer_input=True``), with the shape of those activations. The
    path runs from ``a(x')`` to ``a(x)`` through the singular components of the
    difference ``a(x) - a(x')`` over its last two dimensions; see
    :class:`~captum_rank.RankIntegratedGradients` for the schedules and forms, which
    apply unchanged. ``attribute_ranks`` says which of those components carry the
    output: for a text model's embedding layer, which of the sentence's embedding
    directions (rank-one pieces ``s_i u_i v_i^T`` of its ``T x D`` embedding matrix).

    A layer that returns a tuple gives a tuple of attributions. An activation with fewer
    than two matrix dimensions (such as a linear layer's ``(N, F)``) is one ``1 x F``
    matrix of rank one per example and follows the straight line under every schedule:
    Captum's LayerIntegratedGradients, as for RIG's inputs. With ``schedule="linear"``
    (or such activations) and ``method`` left out, the result is Captum LIG's to float
    rounding. Layers that feed one another may be listed together, as in Captum.

    Args:
        forward_func (Callable): The model or any function of the inputs.
        layer (torch.nn.Module or list[torch.nn.Module]): The layer (or independent
                layers, as in Captum) whose activations are attributed to.
        device_ids (list[int], optional): For a ``DataParallel`` ``forward_func``, as in
                Captum. Default: None.
        multiply_by_inputs (bool, optional): Global (``True``, default) or local
                attributions, as in :class:`~captum_rank.RankIntegratedGradients`
                (the local ones are the path-averaged gradient with respect to the
                activations).

    Examples:
        >>> import torch
        >>> from torch import nn
        >>> from captum.attr import LayerIntegratedGradients
        >>> from captum_rank import LayerRankIntegratedGradients
        >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
        <torch._C.Generator object at ...>
        >>> embedding = nn.Embedding(20, 6)
        >>> model = nn.Sequential(embedding, nn.Flatten(), nn.Linear(5 * 6, 3))
        >>> tokens = torch.randint(1, 20, (2, 5))
        >>> lrig = LayerRankIntegratedGradients(model, embedding)
        >>> attributions, delta = lrig.attribute(tokens, baselines=0, target=1,
        ...                                      return_convergence_delta=True)
        >>> attributions.shape  # (N, T, D): one T x D embedding matrix per sentence
        torch.Size([2, 5, 6])
        >>> bool(delta.abs().max() < 1e-4)
        True
        >>> lrig.attribute_ranks(tokens, baselines=0, target=1).shape  # r = min(T, D)
        torch.Size([2, 5])
        >>> lig = LayerIntegratedGradients(model, embedding).attribute(tokens, 0, target=1)
        >>> ours = lrig.attribute(tokens, 0, target=1, method="gausslegendre",
        ...                       schedule="linear")
        >>> torch.allclose(ours, lig, atol=1e-6)
        True
    """

    device_ids: list[int] | None

    def __init__(
        self,
        forward_func: Callable[..., Tensor],
        layer: nn.Module | list[nn.Module],
        device_ids: list[int] | None = None,
        multiply_by_inputs: bool = True,
    ) -> None:
        layers = layer if isinstance(layer, list) else [layer]
        if not layers or not all(isinstance(item, nn.Module) for item in layers):
            raise UserTypeError(
                "`layer` must be a torch.nn.Module of the model (or a non-empty list of "
                f"them), got {type(layer).__name__}."
            )
        check_layer_list(layers)
        self.rig = RankIntegratedGradients(forward_func, multiply_by_inputs)
        # RIG's own gradient function (with its checks); the layer's wraps it.
        self._point_gradients = self.rig.gradient_func
        self._last_convergence: Convergence | None = None
        # Captum's LIG constructor minus its Captum IG and its warning on several layers
        # (listed layers are checked when they run): where Captum keeps that IG, ours is RIG.
        LayerAttribution.__init__(self, forward_func, layer, device_ids=device_ids)
        GradientAttribution.__init__(self, forward_func)
        self.ig = self.rig

    @captum_entry_point
    def attribute(
        self,
        inputs: Tensor | tuple[Tensor, ...],
        baselines: BaselineType = None,
        target: TargetType = None,
        additional_forward_args: Any = None,
        n_steps: int = DEFAULT_N_STEPS,
        method: str | None = None,
        internal_batch_size: int | None = None,
        return_convergence_delta: bool = False,
        attribute_to_layer_input: bool = False,
        grad_kwargs: dict[str, Any] | None = None,
        *,
        schedule: ScheduleLike | None = None,
        form: str = DEFAULT_FORM,
        tolerance: float | None = None,
        map_tolerance: float | None = None,
    ) -> Any:
        r"""Rank Integrated Gradients with respect to the layer's activations.

        Args:{args}

        Returns:
            **attributions** or 2-element tuple of **attributions**, **delta**:
            - **attributions** (*Tensor*, *tuple[Tensor, ...]* or *list*): the shape of
              the layer's activations, in Captum's LayerIntegratedGradients layout (a
              tuple for a layer with several outputs, a list for a list of layers).
            - **delta** (*Tensor*, when ``return_convergence_delta``): ``(N,)``
              ``sum(attributions) - (F(x) - F(x'))``.

        Raises:
            UserInputError: for a layer the forward pass never calls (or that is not
                part of the model), one whose activations are not tensors (a dict, say),
                a listed layer whose activations reach the output only through another
                listed layer, and (as for RIG) bad options; caught by
                ``except AssertionError`` too, as Captum's asserts are.
            UserTypeError: ``attribute_to_layer_input`` that is not a bool.
            TypeError: for inputs or options of the wrong type.
            ValueError: as for :meth:`RankIntegratedGradients.attribute`.

        Examples:
            >>> import torch
            >>> from torch import nn
            >>> from captum_rank import LayerRankIntegratedGradients
            >>> model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(),
            ...                       nn.Linear(2 * 6 * 6, 4))
            >>> x = torch.rand(3, 1, 8, 8)
            >>> lrig = LayerRankIntegratedGradients(model, model[0])
            >>> lrig.attribute(x, target=2).shape  # the conv layer's (N, C, H, W)
            torch.Size([3, 2, 6, 6])
        """
        return self._layer_run(
            inputs, baselines, target, additional_forward_args, return_convergence_delta,
            attribute_to_layer_input, grad_kwargs,
            RigOptions.of_arguments(locals()),
            pixels=True, ranks=False,
        )

    @captum_entry_point
    def attribute_ranks(
        self,
        inputs: Tensor | tuple[Tensor, ...],
        baselines: BaselineType = None,
        target: TargetType = None,
        additional_forward_args: Any = None,
        n_steps: int = DEFAULT_N_STEPS,
        method: str | None = None,
        internal_batch_size: int | None = None,
        return_convergence_delta: bool = False,
        attribute_to_layer_input: bool = False,
        grad_kwargs: dict[str, Any] | None = None,
        *,
        schedule: ScheduleLike | None = None,
        form: str = DEFAULT_FORM,
        tolerance: float | None = None,
        map_tolerance: float | None = None,
    ) -> Any:
        r"""Rank-space attributions of the layer: what each singular component carries.

        For ``a(x) - a(x') = U diag(s) V^T`` (per matrix in the activation's last two
        dimensions), ``R_i = sum_s s_i (phi_i(b_s) - phi_i(b_{s-1})) u_i^T G_s v_i``
        with ``G_s`` the gradient with respect to the activations at the path points;
        ``R.sum() == attribute(...).sum()`` per example.

        Args:{args}

        Returns:
            **rank_attributions** or 2-element tuple of them and **delta**: for each
            activation tensor of shape ``(N, ..., H, W)``, a tensor ``(N, ..., r)``
            with ``r = min(H, W)``, in the layout of :meth:`attribute`.

        Raises:
            UserInputError: as for :meth:`attribute`.
            TypeError: as for :meth:`attribute`.
            ValueError: as for :meth:`attribute`.

        Examples:
            >>> import torch
            >>> from torch import nn
            >>> from captum_rank import LayerRankIntegratedGradients
            >>> model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(),
            ...                       nn.Linear(2 * 6 * 6, 4))
            >>> x = torch.rand(3, 1, 8, 8)
            >>> LayerRankIntegratedGradients(model, model[0]).attribute_ranks(x, target=0).shape
            torch.Size([3, 2, 6])
        """
        return self._layer_run(
            inputs, baselines, target, additional_forward_args, return_convergence_delta,
            attribute_to_layer_input, grad_kwargs,
            RigOptions.of_arguments(locals()),
            pixels=False, ranks=True,
        )

    @captum_entry_point
    def attribute_with_ranks(
        self,
        inputs: Tensor | tuple[Tensor, ...],
        baselines: BaselineType = None,
        target: TargetType = None,
        additional_forward_args: Any = None,
        n_steps: int = DEFAULT_N_STEPS,
        method: str | None = None,
        internal_batch_size: int | None = None,
        return_convergence_delta: bool = False,
        attribute_to_layer_input: bool = False,
        grad_kwargs: dict[str, Any] | None = None,
        *,
        schedule: ScheduleLike | None = None,
        form: str = DEFAULT_FORM,
        tolerance: float | None = None,
        map_tolerance: float | None = None,
    ) -> tuple[Any, ...]:
        r"""Layer attributions and rank-space attributions from one pass along the path.

        Args:{args}

        Returns:
            tuple: ``(attributions, rank_attributions)``, or with ``delta`` last when
            ``return_convergence_delta``; each as in :meth:`attribute` and
            :meth:`attribute_ranks`.

        Raises:
            UserInputError: as for :meth:`attribute`.
            TypeError: as for :meth:`attribute`.
            ValueError: as for :meth:`attribute`.

        Examples:
            >>> import torch
            >>> from torch import nn
            >>> from captum_rank import LayerRankIntegratedGradients
            >>> model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Tanh(), nn.Flatten(),
            ...                       nn.Linear(2 * 6 * 6, 4))
            >>> x = torch.rand(3, 1, 8, 8)
            >>> layer, ranks = LayerRankIntegratedGradients(model, model[1]).attribute_with_ranks(
            ...     x, target=0)
            >>> torch.allclose(layer.sum(), ranks.sum(), atol=1e-5)
            True
        """
        result: tuple[Any, ...] = self._layer_run(
            inputs, baselines, target, additional_forward_args, return_convergence_delta,
            attribute_to_layer_input, grad_kwargs,
            RigOptions.of_arguments(locals()),
            pixels=True, ranks=True,
        )
        return result

    for _method in (attribute, attribute_ranks, attribute_with_ranks):
        if _method.__doc__:
            _method.__doc__ = _method.__doc__.replace("{args}", _ARGS_DOC)
    del _method

    def _layer_run(
        self,
        inputs: Tensor | tuple[Tensor, ...],
        baselines: BaselineType,
        target: TargetType,
        additional_forward_args: Any,
        return_convergence_delta: bool,
        attribute_to_layer_input: bool,
        grad_kwargs: dict[str, Any] | None,
        options: RigOptions,
        *,
        pixels: bool,
        ranks: bool,
    ) -> Any:
        # A string such as "False" is truthy: only a real bool says which side is meant.
        attribute_to_layer_input = boolean(attribute_to_layer_input,
                                           "attribute_to_layer_input")
        return_convergence_delta = boolean(return_convergence_delta, "return_convergence_delta")
        model_inputs, model_baselines = self._model_inputs(inputs, baselines)
        extra_args = _format_additional_forward_args(additional_forward_args)
        if self.device_ids is None:
            self.device_ids = getattr(self.forward_func, "device_ids", None)
        layers = self.layer if isinstance(self.layer, list) else [self.layer]
        per_layer_inputs = self._activations(model_inputs, extra_args, attribute_to_layer_input)
        per_layer_baselines = self._activations(model_baselines, extra_args,
                                                attribute_to_layer_input)
        counts = [len(acts) for acts in per_layer_inputs]
        layer_inputs = tuple(t for acts in per_layer_inputs for t in acts)
        layer_baselines = tuple(t for acts in per_layer_baselines for t in acts)
        bounds = [0]
        for count in counts:
            bounds.append(bounds[-1] + count)
        # The engine with the layer's gradient function: the model runs on its inputs
        # while hooks put the path points in place of the activations. Nothing shared is
        # swapped, so calls may nest or run concurrently.
        all_inputs = model_inputs + extra_args if extra_args is not None else model_inputs
        run = run_engine(
            self.forward_func, layer_inputs, layer_baselines, target, all_inputs, options,
            pixels=pixels, ranks=ranks, multiply_by_inputs=self.rig.multiplies_by_inputs,
            gradient_func=self._gradient_func(layers, bounds, attribute_to_layer_input,
                                              grad_kwargs),
        )
        self._last_convergence = run.convergence
        if run.convergence is not None:
            run.convergence.warn_unreached(stacklevel=4)
        results = [part for part, wanted in ((run.pixels, pixels), (run.ranks, ranks)) if wanted]
        formatted = [self._layout(part, bounds) for part in results]
        if return_convergence_delta:
            # Captum's delta asserts on numpy integer targets: hand it the checked form.
            delta = self.compute_convergence_delta(
                results[0], model_baselines, model_inputs,
                additional_forward_args=extra_args,
                target=check_target(target, int(model_inputs[0].shape[0])),
            )
            formatted.append(delta)
        if pixels and ranks:
            return tuple(formatted)
        return formatted[0] if len(formatted) == 1 else tuple(formatted)

    def _gradient_func(
        self,
        layers: list[nn.Module],
        bounds: list[int],
        to_input: bool,
        grad_kwargs: dict[str, Any] | None,
    ) -> Callable[..., tuple[Tensor, ...]]:
        r"""RIG's gradient function, with the path points put in place of the activations.

        RIG calls it with the path points as ``inputs`` and the model's inputs (then the
        user's extra arguments) as ``additional_forward_args``; the model runs on its
        inputs while the hooks substitute the points for the layer's activations, so the
        gradients are with respect to the activations, as in Captum's LIG.
        """
        device_ids = self.device_ids
        point_gradients = self._point_gradients
        side = "input" if to_input else "output"
        is_list = isinstance(self.layer, list)

        def missing(index: int) -> str:
            owner = next(i for i in range(len(layers)) if bounds[i] <= index < bounds[i + 1])
            where = f"`layer[{owner}]`" if is_list else "`layer`"
            return (
                f"The model's output does not depend on the {side} of {where} "
                f"({type(layers[owner]).__name__}) once the listed layers' activations are "
                "replaced: its activations reach the output only through another listed "
                "layer, whose activations the path replaces (Captum's LayerIntegratedGradients "
                "fails there too). Attribute to the two layers in separate calls, or list "
                "layers whose activations also reach the output on their own (e.g. through "
                "a skip connection)."
            )

        def gradient_func(
            forward_fn: Callable[..., Any],
            inputs: tuple[Tensor, ...],
            target_ind: Any = None,
            additional_forward_args: Any = None,
            **context: Any,
        ) -> tuple[Tensor, ...]:
            count = len(inputs)

            def through_layer(*args: Any) -> Any:
                with _layers_replaced(layers, args[:count], bounds, to_input, device_ids):
                    return forward_fn(*args[count:])

            if not grad_kwargs:
                result: tuple[Tensor, ...] = point_gradients(
                    through_layer, inputs, target_ind, additional_forward_args,
                    missing=missing, **context
                )
                return result
            extra = additional_forward_args
            extra = () if extra is None else extra if isinstance(extra, tuple) else (extra,)
            with torch.enable_grad():
                selected = _select_targets(through_layer(*inputs, *extra), target_ind)
                return tuple(torch.autograd.grad(torch.unbind(selected), inputs, **grad_kwargs))

        return gradient_func

    def _layout(self, flat: tuple[Tensor, ...], bounds: list[int]) -> Any:
        """Captum LIG's layout: per layer a tensor (or a tuple), a list for a list of layers."""
        per_layer = [tuple(flat[bounds[i]:bounds[i + 1]]) for i in range(len(bounds) - 1)]
        return _format_outputs(isinstance(self.layer, list), per_layer)

    def _model_inputs(
        self, inputs: Any, baselines: Any
    ) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...]]:
        formatted, formatted_baselines = as_tuples(inputs, baselines)
        batch = None
        # Not check_inputs: a layer's model inputs may be integers (token ids) of any shape.
        for name, tensor in input_tensors(formatted):
            if tensor.dim() == 0 or tensor.shape[0] == 0:
                raise UserInputError(
                    f"`{name}` has shape {tuple(tensor.shape)}; give a batch of examples "
                    "along dimension 0."
                )
            batch = check_same_batch(tensor, name, batch)
        checked = check_baselines(formatted_baselines, formatted)
        full = tuple(
            torch.broadcast_to(base, tensor.shape).contiguous()
            for base, tensor in zip(checked, formatted, strict=True)
        )
        return tuple(t.detach() for t in formatted), full

    def _activations(
        self, model_inputs: tuple[Tensor, ...], extra_args: Any, to_input: bool
    ) -> list[tuple[Tensor, ...]]:
        try:
            activations = _forward_layer_eval(
                self.forward_func, model_inputs, self.layer, device_ids=self.device_ids,
                additional_forward_args=extra_args, attribute_to_layer_input=to_input,
            )
        except (AssertionError, AttributeError, KeyError, TypeError):
            # Captum asserts on a layer never called (a KeyError in a list) and fails on a
            # dict: say which layer and why; anything else is the model's own error.
            layers = self.layer if isinstance(self.layer, list) else [self.layer]
            diagnose_layers(self.forward_func, layers, isinstance(self.layer, list),
                            model_inputs, extra_args, to_input)
            raise
        if not isinstance(self.layer, list):
            activations = [activations]
        return [tuple(t.detach() for t in acts) for acts in activations]

    def attribute_future(self) -> Callable[[], Any]:
        r"""Not implemented, as for Captum's LayerIntegratedGradients.

        Raises:
            NotImplementedError: always.

        Examples:
            >>> import torch
            >>> from captum_rank import LayerRankIntegratedGradients
            >>> layer = torch.nn.Identity()
            >>> LayerRankIntegratedGradients(layer, layer).attribute_future()  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            NotImplementedError: attribute_future is not implemented for ...
        """
        raise NotImplementedError(
            "attribute_future is not implemented for LayerRankIntegratedGradients"
        )

    def has_convergence_delta(self) -> bool:
        r"""Layer RIG is a path method: its attributions sum to ``F(x) - F(x')``.

        Returns:
            bool: always ``True``.

        Examples:
            >>> import torch
            >>> from captum_rank import LayerRankIntegratedGradients
            >>> layer = torch.nn.Identity()
            >>> LayerRankIntegratedGradients(layer, layer).has_convergence_delta()
            True
        """
        return True

    @property
    def multiplies_by_inputs(self) -> bool:
        r"""Whether attributions are global (``True``) or the local path-averaged gradient."""
        return self.rig.multiplies_by_inputs

    @property
    def last_convergence(self) -> Any:
        r"""How the last ``method="adaptive"`` call converged per example (else ``None``)."""
        return self._last_convergence
