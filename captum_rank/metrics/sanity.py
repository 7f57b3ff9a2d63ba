r"""Sanity checks for saliency maps, after Adebayo et al. (NeurIPS 2018).

A map that explains the *model* must change when the model's parameters are destroyed
and when the explained class is changed. Two tests, each returning similarity curves:

* :func:`cascading_randomization`: re-initialise the model's parameterised layers one by
  one from the output towards the input (cascading), explain again after each, and
  compare with the map of the trained model;
* :func:`random_logit`: explain a random *other* class and compare with the map of the
  target class.

Similarities (:func:`map_similarity`): the Spearman rank correlation of the absolute maps
(summed over channels; ``scipy.stats.spearmanr``), and SSIM of the absolute maps (each
scaled to ``[0, 1]``; ``skimage.metrics.structural_similarity``). High similarity after
randomisation means the map does not depend on what the model learned: the check
*fails*. Controls, so a reader sees both outcomes: :func:`sobel_map` (an edge detector of
the input, which ignores the model and fails by construction) and :func:`random_map`
(noise, which "passes" by construction: passing is necessary, not sufficient).
:func:`verdict` turns a curve into pass/fail with a stated threshold.

Explanation functions have the signature ``explain(model, inputs, target) -> maps``
(:class:`~captum_rank.metrics.ExplainFunc`), so any method (Captum's, RIG with any
schedule, a control) plugs in.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from captum_rank._model_checks import InputGuard
from captum_rank.checks import UserInputError, UserTypeError, fraction, integer
from captum_rank.metrics._protocols import ExplainFunc
from captum_rank.metrics._scoring import (
    as_target,
    batched_outputs,
    check_forward,
    check_target_range,
)

__all__ = [
    "SanityCurves",
    "cascading_randomization",
    "map_similarity",
    "random_logit",
    "random_map",
    "sobel_map",
    "verdict",
]

@dataclass
class SanityCurves:
    r"""Similarity of maps to the reference map, per stage and example.

    Attributes:
        stages: names of the stages (for cascading randomisation, the layer randomised
            last, from the output down; for the random-logit test, ``["random logit"]``).
        spearman: ``(S, N)`` Spearman rank correlation of ``|map|`` with the reference.
        ssim: ``(S, N)`` SSIM of ``|map|`` with the reference.
    """

    stages: list[str]
    spearman: Tensor
    ssim: Tensor
    notes: dict[str, Any] = field(default_factory=dict)

    def mean(self) -> dict[str, list[float]]:
        r"""Mean over examples of each similarity, per stage."""
        return {"spearman": self.spearman.double().mean(1).tolist(),
                "ssim": self.ssim.double().mean(1).tolist()}

    def to_dict(self) -> dict[str, Any]:
        r"""A JSON-ready dict."""
        return {"stages": list(self.stages), "spearman": self.spearman.tolist(),
                "ssim": self.ssim.tolist(), "notes": dict(self.notes)}


def _spearman(a: Tensor, b: Tensor) -> Tensor:
    """Spearman's rho of each row of ``a`` with the same row of ``b`` (``(N, P)``), by scipy.

    A constant map has no ranking, where scipy returns NaN (with a warning): it is
    identical to another constant map (1) and unrelated to anything else (0). Never NaN.
    """
    from scipy.stats import spearmanr

    out = []
    for ai, bi in zip(a.double().cpu().numpy(), b.double().cpu().numpy(), strict=True):
        if np.allclose(ai, bi, rtol=1e-6, atol=1e-12):
            out.append(1.0)
        elif np.ptp(ai) == 0 or np.ptp(bi) == 0:
            out.append(0.0)
        else:
            out.append(float(spearmanr(ai, bi).statistic))
    return torch.tensor(out, dtype=torch.float64)


def _ssim(a: Tensor, b: Tensor, shape: tuple[int, int]) -> Tensor:
    from skimage.metrics import structural_similarity

    out = []
    for ai, bi in zip(a.double().cpu().numpy(), b.double().cpu().numpy(), strict=True):
        scaled = []
        for m in (ai, bi):
            top = m.max()
            scaled.append((m / top if top > 0 else m).reshape(shape))
        if np.allclose(scaled[0], scaled[1]):
            out.append(1.0)
            continue
        win = min(7, shape[0], shape[1])
        win = win if win % 2 == 1 else win - 1
        out.append(float(structural_similarity(scaled[0], scaled[1], data_range=1.0,
                                               win_size=max(win, 3))))
    return torch.tensor(out, dtype=torch.float64)


def map_similarity(maps: Tensor, reference: Tensor) -> tuple[Tensor, Tensor]:
    r"""Spearman rank correlation and SSIM of ``|maps|`` with ``|reference|``, per example.

    Maps are summed over the channel dimension (dim 1) when they have one, then the
    absolute value is taken. Identical maps score 1 on both, including constant ones; a
    constant map against a varying one has Spearman 0. Never NaN.

    Args:
        maps: ``(N, C, H, W)`` or ``(N, H, W)``, at least 3 by 3.
        reference: same shape.

    Returns:
        ``(spearman, ssim)``, each ``(N,)`` float64.

    Raises:
        UserInputError: shapes differ, or maps smaller than 3 by 3.

    Examples:
        >>> import torch
        >>> a = torch.rand(2, 1, 8, 8)
        >>> s, q = map_similarity(a, a)
        >>> s.tolist(), q.tolist()
        ([1.0, 1.0], [1.0, 1.0])
        >>> float(map_similarity(a, torch.ones_like(a))[0][0])
        0.0
    """
    if not isinstance(maps, Tensor) or not isinstance(reference, Tensor):
        raise UserTypeError("`maps` and `reference` must be torch tensors.")
    if maps.shape != reference.shape:
        raise UserInputError(
            f"`maps` {tuple(maps.shape)} and `reference` {tuple(reference.shape)} must have "
            "the same shape.")
    if maps.dim() == 4:
        maps, reference = maps.sum(1), reference.sum(1)
    if maps.dim() != 3 or min(maps.shape[-2:]) < 3:
        raise UserInputError(
            f"maps must be (N, C, H, W) or (N, H, W) with H, W >= 3, got {tuple(maps.shape)}.")
    h, w = maps.shape[-2:]
    a = maps.detach().abs().reshape(maps.shape[0], -1)
    b = reference.detach().abs().reshape(reference.shape[0], -1)
    return _spearman(a, b), _ssim(a, b, (h, w))


def random_map(
    model: nn.Module, inputs: Tensor, target: Tensor, *, generator: torch.Generator | None = None
) -> Tensor:
    r"""Control: uniform noise of the inputs' shape (ignores model and target).

    New noise at every call (that is the control: a map unrelated to the model). Without
    ``generator`` it draws from torch's global generator, as ``torch.rand`` does (seed it
    with ``torch.manual_seed``); pass one, e.g. with ``functools.partial(random_map,
    generator=torch.Generator().manual_seed(0))``, to leave the global state alone.

    Args:
        model: unused.
        inputs: ``(N, ...)``.
        target: unused.
        generator: the generator to draw from. Default: torch's global one.

    Returns:
        Uniform noise in ``[0, 1)`` of the inputs' shape, dtype and device.

    Examples:
        >>> import torch
        >>> random_map(None, torch.zeros(2, 1, 4, 4), None).shape  # type: ignore[arg-type]
        torch.Size([2, 1, 4, 4])
        >>> g = torch.Generator().manual_seed(0)
        >>> noise = random_map(None, torch.zeros(1, 3), None, generator=g)  # type: ignore[arg-type]
        >>> noise.tolist() == torch.rand(1, 3, generator=torch.Generator().manual_seed(0)).tolist()
        True
    """
    if generator is None:
        return torch.rand_like(inputs)
    if not isinstance(generator, torch.Generator):
        raise UserTypeError(
            f"`generator` must be a torch.Generator or None, got {type(generator).__name__}.")
    # Drawn on the CPU so one CPU generator serves inputs on any device.
    return torch.rand(inputs.shape, generator=generator, dtype=inputs.dtype).to(inputs.device)


def sobel_map(model: nn.Module, inputs: Tensor, target: Tensor) -> Tensor:
    r"""Control: the Sobel edge magnitude of the input, per channel (ignores the model).

    Args:
        model: unused.
        inputs: ``(N, C, H, W)``.
        target: unused.

    Returns:
        ``(N, C, H, W)`` edge magnitude (replicate padding).

    Examples:
        >>> import torch
        >>> x = torch.zeros(1, 1, 5, 5)
        >>> x[..., 2:] = 1.0
        >>> sobel_map(None, x, None)[0, 0, 2]  # type: ignore[arg-type]
        tensor([0., 4., 4., 0., 0.])
    """
    if not isinstance(inputs, Tensor) or inputs.dim() != 4 or not inputs.is_floating_point():
        got = (f"shape {tuple(inputs.shape)}, {inputs.dtype}" if isinstance(inputs, Tensor)
               else type(inputs).__name__)
        raise UserInputError(f"`inputs` must be floating images (N, C, H, W), got {got}.")
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]],
                      dtype=inputs.dtype, device=inputs.device)
    n, c, h, w = inputs.shape
    flat = F.pad(inputs.detach().reshape(n * c, 1, h, w), (1, 1, 1, 1), mode="replicate")
    gx = F.conv2d(flat, kx.reshape(1, 1, 3, 3))
    gy = F.conv2d(flat, kx.t().reshape(1, 1, 3, 3))
    return torch.sqrt(gx**2 + gy**2).reshape(n, c, h, w)


def _parameterised_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    layers = [(name, m) for name, m in model.named_modules()
              if any(True for _ in m.parameters(recurse=False))]
    return list(reversed(layers))


def _reinitialise(module: nn.Module, generator: torch.Generator) -> None:
    # Every parameter under the module: a stage may name a whole block.
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.dim() >= 2:
                fan_in = p[0].numel()
                bound = 1.0 / fan_in**0.5
                p.copy_((torch.rand(p.shape, generator=generator) * 2 - 1).mul_(bound * 3**0.5)
                        .to(p.device, p.dtype))
            elif name.rsplit(".", 1)[-1] == "weight":  # normalisation scales
                p.copy_(torch.ones_like(p) + 0.1 * torch.randn(p.shape, generator=generator)
                        .to(p.device, p.dtype))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=generator).to(p.device, p.dtype))


def _stage_name(stage: list[str]) -> str:
    return stage[0] if len(stage) == 1 else f"{stage[0]} .. {stage[-1]}"


def _check_sanity_call(
    model: Any, explain: Any, inputs: Any, target: Any
) -> tuple[Tensor, Tensor, int]:
    """The checked inputs and ``(N,)`` target of a sanity test, and the model's class count.

    One forward pass of the model on the inputs finds how many classes it has, so a target
    out of range is reported here and not as an ``IndexError`` inside ``explain``.
    """
    if not isinstance(model, nn.Module):
        raise UserTypeError(f"`model` must be a torch.nn.Module, got {type(model).__name__}.")
    if not isinstance(explain, ExplainFunc):
        raise UserTypeError(
            "`explain` must be a function explain(model, inputs, target) -> maps (see "
            f"captum_rank.metrics.rivals), got {type(explain).__name__}.")
    if not isinstance(inputs, Tensor) or inputs.dim() != 4 or inputs.shape[0] == 0:
        got = tuple(inputs.shape) if isinstance(inputs, Tensor) else type(inputs).__name__
        raise UserInputError(f"`inputs` must be a non-empty batch (N, C, H, W), got {got}.")
    x = inputs.detach()
    check_forward(model, x, name="model")
    t = as_target(target, x.shape[0], x.device)
    outputs = batched_outputs(model, x)
    check_target_range(t, outputs, model="model")
    return x, t, int(outputs.shape[1])


def _checked_maps(maps: Any, x: Tensor, when: str) -> Tensor:
    """``explain``'s maps, refused when they are not maps of ``x`` or not finite."""
    n, _, h, w = x.shape
    if not isinstance(maps, Tensor):
        raise UserTypeError(f"`explain` returned {type(maps).__name__} for {when}; it must "
                            "return a tensor of maps.")
    if tuple(maps.shape) not in (tuple(x.shape), (n, h, w)):
        raise UserInputError(
            f"`explain` returned maps of shape {tuple(maps.shape)} for {when}; they must "
            f"have the inputs' shape {tuple(x.shape)} or ({n}, {h}, {w}).")
    if not bool(torch.isfinite(maps).all()):
        raise UserInputError(
            f"`explain` returned maps with NaN or inf for {when}; a similarity with them "
            "means nothing. Fix the explanation method (or the model's outputs).")
    return maps.detach()


def cascading_randomization(
    model: nn.Module,
    explain: ExplainFunc,
    inputs: Tensor,
    target: Any,
    *,
    layers: Sequence[str | Sequence[str]] | None = None,
    seed: int = 0,
) -> SanityCurves:
    r"""Cascading model-parameter randomisation (Adebayo et al., 2018).

    Protocol: explain the trained model (the reference); then, on a copy, re-initialise
    the parameters of each layer in turn from the output towards the input (cumulative:
    after stage ``k`` the top ``k`` layers are random), explain the same inputs and
    target again, and compare each map with the reference (:func:`map_similarity`).
    Weights become ``U(-sqrt(3/fan_in), sqrt(3/fan_in))``, normalisation scales
    ``1 + 0.1 N(0, 1)``, biases ``0.1 N(0, 1)``, drawn from a generator seeded with
    ``seed``. The model itself is not changed. A method *passes* when similarity falls
    towards 0 as layers are randomised (see :func:`verdict`).

    Args:
        model: the trained model (``nn.Module``; copied with ``copy.deepcopy``).
        explain: ``(model, inputs, target) -> maps``.
        inputs: ``(N, C, H, W)``.
        target: class index, one for all or one per example (kept fixed).
        layers: the stages, in the order given: each a name (``model.named_modules()``)
            of a module with parameters (all its parameters, nested ones included, are
            re-initialised: a name may be a whole block), or a list of such names
            randomised together as one stage (for deep models, where one explanation per
            layer costs too much). Default: every module with its own parameters, one per
            stage, from the last to the first.
        seed: seed of the re-initialisation.

    Returns:
        :class:`SanityCurves` with one stage per randomised layer.

    Raises:
        UserTypeError: ``model`` is not an ``nn.Module``, ``explain`` is not callable, a
            ``target`` that is not integral.
        UserInputError: an unknown layer name, a model without parameters, a missing,
            negative or out-of-range ``target``.

    Examples:
        >>> import torch
        >>> from torch import nn
        >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
        <torch._C.Generator object at ...>
        >>> model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(),
        ...                       nn.Linear(4 * 8 * 8, 3))
        >>> x = torch.rand(2, 1, 8, 8)
        >>> curves = cascading_randomization(model, sobel_map, x, target=0)
        >>> curves.stages
        ['3', '0']
        >>> curves.spearman.tolist()  # the edge detector ignores the model: it fails
        [[1.0, 1.0], [1.0, 1.0]]
    """
    guard = InputGuard(inputs, "inputs")
    x, t, _ = _check_sanity_call(model, explain, inputs, target)
    seed = integer(seed, "seed")
    reference = _checked_maps(explain(model, x, t), x, "the trained model")
    clone = copy.deepcopy(model)
    available = {name: m for name, m in clone.named_modules()
                 if any(True for _ in m.parameters())}
    if not available:
        raise UserInputError("`model` has no parameters to randomise.")
    stages: list[list[str]] = (
        [[name] for name, _ in _parameterised_layers(clone)] if layers is None
        else [[stage] if isinstance(stage, str) else list(stage) for stage in layers])
    if any(not stage for stage in stages):
        raise UserInputError("`layers` has an empty group: give each stage a name or a "
                             "non-empty list of names.")
    unknown = [name for stage in stages for name in stage if name not in available]
    if unknown:
        raise UserInputError(
            f"`layers` {unknown} are not modules with parameters of the model; choose from "
            f"{list(available)} (a name, or a list of names per stage).")
    generator = torch.Generator().manual_seed(seed)
    spearman, ssim = [], []
    for stage in stages:
        for name in stage:
            _reinitialise(available[name], generator)
        maps = _checked_maps(explain(clone, x, t), x, f"stage {_stage_name(stage)}")
        s, q = map_similarity(maps, reference)
        spearman.append(s)
        ssim.append(q)
    names = [_stage_name(stage) for stage in stages]
    guard.check()
    return SanityCurves(names, torch.stack(spearman), torch.stack(ssim),
                        {"test": "cascading randomisation", "seed": seed})


def random_logit(
    model: nn.Module,
    explain: ExplainFunc,
    inputs: Tensor,
    target: Any,
    *,
    num_classes: int,
    seed: int = 0,
) -> SanityCurves:
    r"""Random-logit test: explain a random other class and compare with the target's map.

    Protocol: for each example draw a class uniformly among the ``num_classes - 1``
    classes other than its target (generator seeded with ``seed``), explain it, and
    compare with the target's map (:func:`map_similarity`). A class-sensitive method
    gives a lower similarity.

    Args:
        model: the model.
        explain: ``(model, inputs, target) -> maps``.
        inputs: ``(N, C, H, W)``.
        target: class index, one for all or one per example.
        num_classes: number of classes (at least 2).
        seed: seed of the draw.

    Returns:
        :class:`SanityCurves` with one stage, ``"random logit"``; ``notes["classes"]``
        holds the drawn classes.

    Raises:
        UserTypeError: ``num_classes`` or ``target`` not integral, ``explain`` not
            callable, ``model`` not a module.
        UserInputError: ``num_classes < 2``, a negative ``target``, or one not below
            ``num_classes`` or the model's number of outputs.

    Examples:
        >>> import torch
        >>> from torch import nn
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(36, 4))
        >>> curves = random_logit(model, sobel_map, torch.rand(3, 1, 6, 6), 0, num_classes=4)
        >>> curves.spearman.shape
        torch.Size([1, 3])
    """
    guard = InputGuard(inputs, "inputs")
    num_classes = integer(num_classes, "num_classes", minimum=2)
    seed = integer(seed, "seed")
    x, t, outputs = _check_sanity_call(model, explain, inputs, target)
    if num_classes > outputs:
        raise UserInputError(
            f"`num_classes` {num_classes} is more than the model's {outputs} outputs; the "
            "other class would not exist: pass the number of classes the model scores.")
    if int(t.max()) >= num_classes:
        row = int(t.argmax())
        raise UserInputError(
            f"`target` {int(t[row])} (example {row}) is not below `num_classes` "
            f"{num_classes}; the other class is drawn from [0, num_classes): pass the "
            "model's number of classes.")
    generator = torch.Generator().manual_seed(seed)
    shift = torch.randint(1, num_classes, (x.shape[0],), generator=generator).to(t.device)
    other = (t + shift) % num_classes
    reference = _checked_maps(explain(model, x, t), x, "the target")
    maps = _checked_maps(explain(model, x, other), x, "the other class")
    s, q = map_similarity(maps, reference)
    guard.check()
    return SanityCurves(["random logit"], s[None], q[None],
                        {"test": "random logit", "seed": seed, "classes": other.tolist()})


def verdict(curves: SanityCurves, threshold: float = 0.5, *, metric: str = "spearman") -> bool:
    r"""Whether a method passes: the mean similarity at the last stage is below ``threshold``.

    The threshold is a convention, not a law (Adebayo et al. read the curves by eye):
    0.5 separates the gradient-based maps of a trained CNN (near 0 once the top layers
    are random) from model-independent maps (near 1). Report the curves, not only this.

    Args:
        curves: from :func:`cascading_randomization` or :func:`random_logit`.
        threshold: in ``(0, 1]``. Default: 0.5.
        metric: ``"spearman"`` (default) or ``"ssim"``.

    Returns:
        True if the method passes.

    Raises:
        UserTypeError: ``curves`` is not a :class:`SanityCurves`.
        UserInputError: unknown ``metric``, ``threshold`` outside ``(0, 1]``.

    Examples:
        >>> import torch
        >>> c = SanityCurves(["a"], torch.tensor([[0.1, 0.2]]), torch.tensor([[0.9, 0.9]]))
        >>> verdict(c), verdict(c, metric="ssim")
        (True, False)
    """
    if not isinstance(curves, SanityCurves):
        raise UserTypeError(
            "`curves` must be the SanityCurves of cascading_randomization or random_logit, "
            f"got {type(curves).__name__}.")
    threshold = fraction(threshold, "threshold")
    if metric not in ("spearman", "ssim"):
        raise UserInputError(f"`metric` must be 'spearman' or 'ssim', got {metric!r}.")
    values = curves.spearman if metric == "spearman" else curves.ssim
    return bool(values[-1].double().mean() < threshold)
