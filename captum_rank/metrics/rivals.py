r"""Attribution methods to compare, all as ``explain(model, inputs, target) -> maps``.

One signature for every method (:class:`~captum_rank.metrics.ExplainFunc`), so a
metric, a sanity check or the benchmark harness treats them alike. Each factory fixes the
path budget (``n_steps`` gradient evaluations per input, for all of them) and the baseline
(black unless said otherwise):

* :func:`integrated_gradients`: Captum's ``IntegratedGradients``;
* :func:`rank_integrated_gradients`: RIG with any schedule and form (the library's default
  schedule when ``schedule`` is None);
* :func:`gradient_shap`: Captum's ``GradientShap`` (the closest Captum has to Expected
  Gradients) with the same baseline and ``n_samples = n_steps`` (so, with one baseline and
  ``stdevs=0``, IG with random points on the straight line);
* :func:`guided_ig` and :func:`blur_ig`: Guided IG (Kapishnikov et al., 2021) and Blur IG
  (Xu et al., 2020) from PyPI's framework-agnostic ``saliency`` package, called through
  its ``call_model_function`` with torch gradients (``x_steps = steps = n_steps``). Blur
  IG has no baseline: its path starts at the input blurred with ``max_sigma``;
* controls, :func:`~captum_rank.metrics.sanity.random_map` and
  :func:`~captum_rank.metrics.sanity.sobel_map`.

The functions explain ``model``'s output at ``target`` as it is: to explain the softmax
probability (Spectral IG's protocol), pass ``nn.Sequential(model, nn.Softmax(1))``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from captum.attr import GradientShap, IntegratedGradients
from torch import Tensor, nn

from captum_rank.attr import RankIntegratedGradients
from captum_rank.checks import fraction as _fraction
from captum_rank.checks import positive_int, real
from captum_rank.metrics._protocols import ExplainFunc
from captum_rank.metrics._scoring import check_seed, numpy_global_seed

__all__ = [
    "blur_ig",
    "gradient_shap",
    "guided_ig",
    "integrated_gradients",
    "rank_integrated_gradients",
]

def integrated_gradients(n_steps: int = 32, baseline: float = 0.0) -> ExplainFunc:
    r"""Captum's Integrated Gradients (Gauss-Legendre, ``n_steps``), constant baseline.

    Args:
        n_steps: gradient evaluations per input. Default: 32.
        baseline: the baseline's value everywhere. Default: 0 (black).

    Returns:
        ``explain(model, inputs, target) -> maps``.

    Examples:
        >>> import torch
        >>> from torch import nn
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
        >>> integrated_gradients(8)(model, torch.rand(3, 1, 4, 4), torch.tensor([0, 1, 0])).shape
        torch.Size([3, 1, 4, 4])
    """
    n_steps = positive_int(n_steps, "n_steps")
    baseline = real(baseline, "baseline")

    def explain(model: nn.Module, inputs: Tensor, target: Tensor) -> Tensor:
        return IntegratedGradients(model).attribute(
            inputs, baselines=baseline, target=target, n_steps=n_steps).detach()

    return explain


def rank_integrated_gradients(
    n_steps: int = 32, baseline: float = 0.0, schedule: Any = None, form: str = "increments"
) -> ExplainFunc:
    r"""RIG's pixel attributions with a schedule (None: the library's default) and form.

    Args:
        n_steps: gradient evaluations per input. Default: 32.
        baseline: the baseline's value everywhere. Default: 0.
        schedule: a schedule name or object; None uses ``attribute``'s default.
        form: ``"increments"`` (default) or ``"averaged"`` (the paper's form).

    Returns:
        ``explain(model, inputs, target) -> maps``.

    Examples:
        >>> import torch
        >>> from torch import nn
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
        >>> explain = rank_integrated_gradients(8, schedule="arc_length")
        >>> explain(model, torch.rand(3, 1, 4, 4), torch.tensor([0, 1, 0])).shape
        torch.Size([3, 1, 4, 4])
    """
    n_steps = positive_int(n_steps, "n_steps")
    baseline = real(baseline, "baseline")
    options: dict[str, Any] = {"form": form}
    if schedule is not None:
        options["schedule"] = schedule

    def explain(model: nn.Module, inputs: Tensor, target: Tensor) -> Tensor:
        return RankIntegratedGradients(model).attribute(
            inputs, baselines=baseline, target=target, n_steps=n_steps, **options).detach()

    return explain


def gradient_shap(n_steps: int = 32, baseline: float = 0.0, seed: int = 0) -> ExplainFunc:
    r"""Captum's GradientShap with one baseline, ``n_samples = n_steps``, ``stdevs = 0``.

    Args:
        n_steps: gradient evaluations (samples) per input. Default: 32.
        baseline: the baseline's value everywhere. Default: 0.
        seed: the seed of the points on the path, the same at every call. Captum draws
            them from torch's and numpy's global generators: both are seeded for the call
            and given back to the caller unchanged afterwards.

    Returns:
        ``explain(model, inputs, target) -> maps``.

    Examples:
        >>> import torch
        >>> from torch import nn
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
        >>> gradient_shap(8)(model, torch.rand(3, 1, 4, 4), torch.tensor([0, 1, 0])).shape
        torch.Size([3, 1, 4, 4])
    """
    n_steps = positive_int(n_steps, "n_steps")
    baseline = real(baseline, "baseline")
    seed = check_seed(seed)

    def explain(model: nn.Module, inputs: Tensor, target: Tensor) -> Tensor:
        devices = [inputs.device] if inputs.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), numpy_global_seed(seed):
            torch.manual_seed(seed)
            base = torch.full_like(inputs[:1], baseline)
            return GradientShap(model).attribute(
                inputs, baselines=base, target=target, n_samples=n_steps, stdevs=0.0).detach()

    return explain


def _call_model_function(model: nn.Module, device: torch.device, dtype: torch.dtype
                         ) -> Callable[..., dict[str, np.ndarray]]:
    import saliency.core as saliency

    def call(x_batch: np.ndarray, call_model_args: Any = None,
             expected_keys: Any = None) -> dict[str, np.ndarray]:
        x = torch.as_tensor(np.asarray(x_batch)).to(device, dtype).permute(0, 3, 1, 2)
        x.requires_grad_(True)
        target = int(call_model_args["target"])
        out = model(x)[:, target].sum()
        (grad,) = torch.autograd.grad(out, x)
        return {saliency.base.INPUT_OUTPUT_GRADIENTS:
                grad.permute(0, 2, 3, 1).detach().cpu().numpy().astype(np.float64)}

    return call


def _saliency_maps(
    model: nn.Module,
    inputs: Tensor,
    target: Tensor,
    get_mask: Callable[[np.ndarray, Callable[..., Any], dict[str, int]], Any],
) -> Tensor:
    """Run a ``saliency`` method's ``GetMask`` one image at a time (HWC float64 in, CHW out)."""
    call = _call_model_function(model, inputs.device, inputs.dtype)
    t = torch.as_tensor(target).reshape(-1).expand(inputs.shape[0])
    maps = []
    for i in range(inputs.shape[0]):
        x = inputs[i].detach().permute(1, 2, 0).cpu().numpy().astype(np.float64)
        mask = get_mask(x, call, {"target": int(t[i])})
        maps.append(torch.as_tensor(np.asarray(mask)).permute(2, 0, 1))
    return torch.stack(maps).to(inputs.device, inputs.dtype)


class _NumpyWithOldQuantile:
    """numpy, except that ``quantile`` also takes the ``interpolation=`` keyword.

    saliency 0.2.1's Guided IG calls ``np.quantile(..., interpolation='lower')``, a keyword
    numpy 2 removed (it is ``method=`` since numpy 1.22). :func:`guided_ig` swaps this
    proxy in for ``saliency.core.guided_ig.np`` during its call only.
    """

    def __getattr__(self, name: str) -> Any:
        return getattr(np, name)

    @staticmethod
    def quantile(a: Any, q: Any, *args: Any, interpolation: str | None = None,
                 **kwargs: Any) -> Any:
        if interpolation is not None:
            kwargs["method"] = interpolation
        return np.quantile(a, q, *args, **kwargs)


def guided_ig(n_steps: int = 32, baseline: float = 0.0, fraction: float = 0.25,
              max_dist: float = 0.02) -> ExplainFunc:
    r"""Guided IG from PyPI's ``saliency`` (its defaults for ``fraction`` and ``max_dist``).

    Args:
        n_steps: ``x_steps``, one gradient each. Default: 32.
        baseline: the baseline's value everywhere. Default: 0.
        fraction: features moved per step (saliency's default 0.25).
        max_dist: how far the path may leave the straight line (saliency's default 0.02).

    Returns:
        ``explain(model, inputs, target) -> maps`` (one image at a time, CHW in and out).

    Examples:
        >>> import torch
        >>> from torch import nn
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
        >>> guided_ig(4)(model, torch.rand(2, 1, 4, 4), torch.tensor([0, 1])).shape
        torch.Size([2, 1, 4, 4])
    """
    import saliency.core as saliency

    n_steps = positive_int(n_steps, "n_steps")
    baseline = real(baseline, "baseline")
    fraction = _fraction(fraction, "fraction")
    max_dist = real(max_dist, "max_dist", minimum=0)

    def explain(model: nn.Module, inputs: Tensor, target: Tensor) -> Tensor:
        method = saliency.GuidedIG()
        module: Any = importlib.import_module("saliency.core.guided_ig")
        original = module.np
        module.np = _NumpyWithOldQuantile()
        try:
            return _saliency_maps(
                model, inputs, target,
                lambda x, call, kwargs: method.GetMask(
                    x, call, kwargs, x_baseline=np.full_like(x, baseline), x_steps=n_steps,
                    fraction=fraction, max_dist=max_dist),
            )
        finally:
            module.np = original

    return explain


def blur_ig(n_steps: int = 32, max_sigma: float = 50.0, grad_step: float = 0.01) -> ExplainFunc:
    r"""Blur IG from PyPI's ``saliency`` (its defaults for ``max_sigma`` and ``grad_step``).

    Args:
        n_steps: ``steps``, one gradient each. Default: 32.
        max_sigma: the blur at the start of the path. Default: 50.
        grad_step: the finite-difference step in sigma. Default: 0.01.

    Returns:
        ``explain(model, inputs, target) -> maps`` (one image at a time).

    Examples:
        >>> import torch
        >>> from torch import nn
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
        >>> blur_ig(4)(model, torch.rand(2, 1, 4, 4), torch.tensor([0, 1])).shape
        torch.Size([2, 1, 4, 4])
    """
    import saliency.core as saliency

    n_steps = positive_int(n_steps, "n_steps")
    max_sigma = real(max_sigma, "max_sigma", minimum=0, include_minimum=False)
    grad_step = real(grad_step, "grad_step", minimum=0, include_minimum=False)

    def explain(model: nn.Module, inputs: Tensor, target: Tensor) -> Tensor:
        method = saliency.BlurIG()
        return _saliency_maps(
            model, inputs, target,
            lambda x, call, kwargs: method.GetMask(
                x, call, kwargs, max_sigma=max_sigma, steps=n_steps, grad_step=grad_step,
                batch_size=n_steps),
        )

    return explain
