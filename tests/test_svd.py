"""The reconstruction kernel: captum_rank/svd.py."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor, nn

from captum_rank import HighRank, LowRank, high_rank, low_rank
from captum_rank.checks import UserInputError, UserTypeError
from captum_rank.svd import rank_mask, rank_points


def torch_reference(x: Tensor, k: int) -> Tensor:
    """Truncation through torch.linalg.svd's own autograd."""
    U, S, Vh = torch.linalg.svd(x, full_matrices=False)
    return (U[..., :k] * S[..., None, :k]) @ Vh[..., :k, :]


def with_spectrum(rows: int, cols: int, singular_values: Tensor, seed: int = 0) -> Tensor:
    """A float64 matrix with exactly the given singular values."""
    gen = torch.Generator().manual_seed(seed)
    r = min(rows, cols)
    q1, _ = torch.linalg.qr(torch.randn(rows, r, generator=gen, dtype=torch.float64))
    q2, _ = torch.linalg.qr(torch.randn(cols, r, generator=gen, dtype=torch.float64))
    return (q1 * singular_values.to(torch.float64)) @ q2.T


def degenerate_set() -> list[Tensor]:
    """Inputs on which torch's SVD backward is known to give NaN/inf."""
    digit = torch.zeros(28, 28)
    digit[6:22, 12:16] = 1.0
    digit[6:9, 9:19] = 0.8
    bordered = torch.zeros(28, 28)
    bordered[4:24, 4:24] = torch.rand(20, 20, generator=torch.Generator().manual_seed(0))
    flat = torch.full((28, 28), 0.5)
    flat[10:18, 10:18] = 0.9
    return [
        torch.zeros(28, 28),
        torch.ones(28, 28),
        torch.outer(torch.rand(28), torch.rand(28)),
        torch.eye(28),
        digit,
        bordered,
        flat,
    ]


shapes = st.tuples(
    st.lists(st.integers(1, 3), max_size=2), st.integers(1, 9), st.integers(1, 9)
)


@settings(max_examples=30, deadline=None)
@given(shapes)
def test_full_rank_reconstruction_returns_input(shape: tuple[list[int], int, int]) -> None:
    batch, rows, cols = shape
    x = torch.randn(*batch, rows, cols, dtype=torch.float64)
    assert torch.allclose(low_rank(x, min(rows, cols)), x, atol=1e-10)
    assert torch.allclose(high_rank(x, min(rows, cols)), torch.zeros_like(x), atol=1e-10)


@settings(max_examples=20, deadline=None)
@given(shapes)
def test_error_decreases_with_rank_eckart_young(shape: tuple[list[int], int, int]) -> None:
    batch, rows, cols = shape
    x = torch.randn(*batch, rows, cols, dtype=torch.float64)
    s = torch.linalg.svdvals(x)
    previous = None
    for k in range(min(rows, cols) + 1):
        error = torch.linalg.matrix_norm(x - low_rank(x, k))
        expected = s[..., k:].pow(2).sum(-1).sqrt()
        assert torch.allclose(error, expected, atol=1e-9)
        if previous is not None:
            assert bool((error <= previous + 1e-12).all())
        previous = error


@pytest.mark.parametrize("rows,cols", [(6, 6), (7, 4), (4, 7)])
@pytest.mark.parametrize("rank", [0, 1, 2, 3.5, 4, 0.5, 1.5])
def test_gradcheck_on_separated_spectra(rows: int, cols: int, rank: float) -> None:
    r = min(rows, cols)
    x = torch.stack([
        with_spectrum(rows, cols, torch.linspace(3.0, 0.5, r), seed=seed) for seed in range(2)
    ]).requires_grad_()
    assert torch.autograd.gradcheck(lambda t: low_rank(t, rank), (x,))
    assert torch.autograd.gradcheck(lambda t: high_rank(t, rank), (x,))


@pytest.mark.parametrize("ranks", [[1.0, 2.5, 4.0], [1.0, 2.0, 0.5]])
def test_gradcheck_per_matrix_ranks(ranks: list[float]) -> None:
    # The second set keeps at most 2 of 5 components: the blocked O(HWk) backward.
    x = torch.stack([with_spectrum(5, 6, torch.linspace(2.0, 0.2, 5), seed=s) for s in range(3)])
    per_matrix = torch.tensor(ranks)
    assert torch.autograd.gradcheck(lambda t: low_rank(t, per_matrix), (x.requires_grad_(),))


@pytest.mark.parametrize("shape", [(5, 9, 9), (2, 3, 12, 7), (4, 6, 11)])
def test_agrees_with_torch_autograd_where_finite(shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    x = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
    weights = torch.randn(shape, dtype=torch.float64)
    for k in (1, 3, min(shape[-2:])):
        ours = torch.autograd.grad((low_rank(x, k) * weights).sum(), x)[0]
        theirs = torch.autograd.grad((torch_reference(x, k) * weights).sum(), x)[0]
        assert torch.isfinite(theirs).all()
        assert torch.allclose(ours, theirs, atol=1e-9)


@pytest.mark.parametrize("index", range(len(degenerate_set())))
@pytest.mark.parametrize("rank", [1, 3, 10])
def test_finite_gradients_on_degenerate_inputs(index: int, rank: int) -> None:
    x = degenerate_set()[index].clone().requires_grad_()
    weights = torch.randn(28, 28, generator=torch.Generator().manual_seed(index))
    grad = torch.autograd.grad((low_rank(x, rank) * weights).sum(), x)[0]
    assert torch.isfinite(grad).all()
    # The documented tie convention keeps every pairwise gain within [0, 1], so the
    # gradient is never larger than a full projection of the upstream gradient could be
    # by more than the matrix size allows.
    assert grad.abs().max() < 1e3 * weights.abs().max()


def test_torch_autograd_fails_on_the_degenerate_set() -> None:
    """The motivation for the custom backward, kept honest: torch really does fail here."""
    failures = 0
    for x in degenerate_set():
        x = x.clone().requires_grad_()
        grad = torch.autograd.grad((torch_reference(x, 3) * torch.randn(28, 28)).sum(), x)[0]
        failures += int(not torch.isfinite(grad).all())
    assert failures >= 3


def test_tie_gets_the_mean_mask() -> None:
    # For the identity every singular value ties; rank 1 splits the tied block evenly,
    # so the gradient of <G, low_rank(I, 1)> in the symmetric direction is G/2 off the
    # kept component, as documented.
    n = 4
    x = torch.eye(n, dtype=torch.float64, requires_grad=True)
    G = torch.ones(n, n, dtype=torch.float64)
    grad = torch.autograd.grad((low_rank(x, 1) * G).sum(), x)[0]
    assert torch.isfinite(grad).all()
    assert float(grad.abs().max()) <= 1.0 + 1e-12


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_dtypes_round_trip(dtype: torch.dtype) -> None:
    x = torch.rand(2, 3, 8, 8).to(dtype).requires_grad_()
    y = low_rank(x, 3)
    assert y.dtype == dtype
    y.float().sum().backward()
    assert x.grad is not None and x.grad.dtype == dtype
    reference = low_rank(x.detach().float(), 3)
    tolerance = 1e-5 if dtype in (torch.float32, torch.float64) else 5e-2
    assert torch.allclose(y.float(), reference, atol=tolerance)


def test_per_matrix_ranks_equal_separate_calls() -> None:
    x = torch.randn(3, 2, 7, 5)
    ranks = torch.tensor([[1, 2], [0, 5], [3, 4]])
    together = low_rank(x, ranks)
    for i in range(3):
        for j in range(2):
            assert torch.allclose(together[i, j], low_rank(x[i, j], int(ranks[i, j])), atol=1e-5)


def test_fractional_rank_interpolates() -> None:
    x = torch.randn(4, 9, 6, dtype=torch.float64)
    middle = 0.5 * (low_rank(x, 2) + low_rank(x, 3))
    assert torch.allclose(low_rank(x, 2.5), middle, atol=1e-10)
    assert torch.equal(rank_mask(1.25, torch.Size([]), 3, torch.device("cpu"), torch.float64),
                       torch.tensor([1.0, 0.25, 0.0], dtype=torch.float64))


def test_identity_backward_is_straight_through() -> None:
    x = torch.randn(2, 6, 6, requires_grad=True)
    upstream = torch.randn(2, 6, 6)
    grad = torch.autograd.grad((low_rank(x, 2, backward="identity") * upstream).sum(), x)[0]
    assert torch.equal(grad, upstream)
    grad = torch.autograd.grad((high_rank(x, 2, backward="identity") * upstream).sum(), x)[0]
    assert torch.equal(grad, upstream)
    assert torch.allclose(high_rank(x, 2, backward="identity"), high_rank(x, 2))


@pytest.mark.parametrize(
    "x,rank,backward,error,match",
    [
        (torch.randn(5), 1, "svd", ValueError, "two dimensions"),
        (torch.ones(3, 3, dtype=torch.int64), 1, "svd", TypeError, "float"),
        (torch.tensor([[float("nan"), 1.0], [0.0, 1.0]]), 1, "svd", ValueError, "NaN"),
        (torch.randn(4, 4), 5, "svd", ValueError, "rank"),
        (torch.randn(4, 4), -1, "svd", ValueError, "rank"),
        (torch.randn(4, 4), float("nan"), "svd", ValueError, "rank"),
        (torch.randn(4, 4), "2", "svd", TypeError, "rank"),
        (torch.randn(4, 4), True, "svd", TypeError, "rank"),
        (torch.randn(3, 4, 4), torch.tensor([1, 2]), "svd", ValueError, "broadcast"),
        (torch.randn(4, 4), 2, "exact", ValueError, "backward"),
        (torch.zeros(2, 0, 4), 0, "svd", ValueError, "empty"),
    ],
)
def test_bad_input_raises(x: Tensor, rank: object, backward: str, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        low_rank(x, rank, backward)  # type: ignore[arg-type]


def test_modules_wrap_the_functions() -> None:
    x = torch.randn(2, 1, 10, 10)
    assert torch.allclose(LowRank(3)(x), low_rank(x, 3))
    assert torch.allclose(HighRank(3)(x), high_rank(x, 3))
    assert "rank=3" in repr(LowRank(3))
    with pytest.raises(ValueError, match="backward"):
        LowRank(3, backward="nope")  # type: ignore[arg-type]


def bordered_images(n: int = 4) -> Tensor:
    """Images with black borders and flat regions, where torch's SVD backward breaks."""
    gen = torch.Generator().manual_seed(0)
    images = torch.zeros(n, 1, 12, 12)
    images[:, :, 3:9, 3:9] = torch.rand(n, 1, 6, 6, generator=gen)
    images[:, :, 5:7, :] = 0.5
    return images


def test_low_rank_model_with_captum_ig(cnn: nn.Module) -> None:
    from captum.attr import IntegratedGradients

    model = nn.Sequential(LowRank(2), cnn)
    attributions, delta = IntegratedGradients(model).attribute(
        bordered_images(), target=1, n_steps=16, return_convergence_delta=True
    )
    assert torch.isfinite(attributions).all()
    assert torch.isfinite(delta).all()


def test_low_rank_model_with_captum_pgd(cnn: nn.Module) -> None:
    from captum.robust import PGD

    model = nn.Sequential(LowRank(3), cnn)
    images = bordered_images()
    labels = torch.tensor([0, 1, 2, 3])
    adversarial = PGD(model, lower_bound=0.0, upper_bound=1.0).perturb(
        images, radius=0.1, step_size=0.02, step_num=5, target=labels
    )
    assert torch.isfinite(adversarial).all()
    assert float((adversarial - images).abs().max()) <= 0.1 + 1e-6
    assert not torch.equal(adversarial, images)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu() -> None:
    x = torch.randn(4, 3, 16, 16, dtype=torch.float64, requires_grad=True)
    weights = torch.randn_like(x)
    cpu = torch.autograd.grad((low_rank(x, 5) * weights).sum(), x)[0]
    xc = x.detach().cuda().requires_grad_()
    gpu = torch.autograd.grad((low_rank(xc, 5) * weights.cuda()).sum(), xc)[0]
    assert torch.allclose(cpu, gpu.cpu(), atol=1e-8)


def test_low_rank_on_a_meta_tensor_is_refused_naming_the_argument() -> None:
    # Before: a RuntimeError from deep inside (.item() on a meta tensor).
    from captum_rank.checks import UserInputError

    x = torch.empty(2, 4, 5, device="meta")
    for call in (lambda: low_rank(x, 2), lambda: high_rank(x, 1),
                 lambda: LowRank(1)(x)):
        with pytest.raises(UserInputError, match=r"`x` is on the meta device .*to_empty"):
            call()


# rank_points: the one x_k = x' + low_rank(x - x', k) of the package.

def svd_oracle_points(x: Tensor, base: Tensor, ranks: list[float]) -> Tensor:
    """x' + U diag(m s) V^T straight from torch.linalg.svd, m_i = clamp(k - i, 0, 1)."""
    U, S, Vh = torch.linalg.svd(x - base, full_matrices=False)
    index = torch.arange(S.shape[-1], dtype=S.dtype)
    masks = [(k - index).clamp(0.0, 1.0) for k in ranks]
    return torch.stack([base + (U * (S * m).unsqueeze(-2)) @ Vh for m in masks])


@st.composite
def shapes_and_ranks(draw: st.DrawFn) -> tuple[list[int], int, int, list[float]]:
    batch, rows, cols = draw(shapes)
    r = min(rows, cols)
    whole = st.integers(0, r).map(float)
    part = st.floats(0.0, float(r), allow_nan=False)
    ranks = draw(st.lists(st.one_of(whole, part), min_size=1, max_size=6))
    return batch, rows, cols, ranks


@settings(max_examples=40, deadline=None)
@given(shapes_and_ranks(), st.integers(0, 2**16))
def test_rank_points_match_torch_svd(case: tuple[list[int], int, int, list[float]],
                                     seed: int) -> None:
    batch, rows, cols, ranks = case
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(*batch, rows, cols, dtype=torch.float64, generator=gen)
    base = torch.randn(rows, cols, dtype=torch.float64, generator=gen)
    points = rank_points(x, ranks, base)
    assert points.shape == (len(ranks), *x.shape) and points.dtype == x.dtype
    torch.testing.assert_close(points, svd_oracle_points(x, base.expand_as(x), ranks),
                               atol=1e-10, rtol=0)
    for k, point in zip(ranks, points, strict=True):
        # The ends are the baseline and the input themselves, not reconstructions.
        if k == 0:
            assert torch.equal(point, base.expand_as(x))
        if k == min(rows, cols):
            assert torch.equal(point, x)
        # The same point as the kernel's low_rank (its own, separate SVD).
        torch.testing.assert_close(point, base + low_rank(x - base, k), atol=1e-10, rtol=0)


@settings(max_examples=30, deadline=None)
@given(shapes_and_ranks(), st.integers(0, 2**16))
def test_rank_points_do_not_depend_on_the_svd_signs(
        case: tuple[list[int], int, int, list[float]], seed: int) -> None:
    batch, rows, cols, ranks = case
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(*batch, rows, cols, dtype=torch.float64, generator=gen)
    U, S, Vh = torch.linalg.svd(x, full_matrices=False)
    signs = torch.randint(0, 2, S.shape, generator=gen).to(S.dtype) * 2 - 1
    flipped = (U * signs.unsqueeze(-2), S, Vh * signs.unsqueeze(-1))
    torch.testing.assert_close(rank_points(x, ranks, factors=flipped),
                               rank_points(x, ranks, factors=(U, S, Vh)), atol=1e-10, rtol=0)


@pytest.mark.parametrize("ranks", [
    [0, 2.5, 17, 33, 40],       # far apart: one reconstruction per band
    [40, 7, 7.25, 0, 39.5],     # far apart, unsorted, repeated, fractional
    [10, 11, 12, 13, 12.5],     # close together: one cumulative sum of the terms
])
def test_rank_points_far_apart_and_close_together(ranks: list[float]) -> None:
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(2, 40, 50, dtype=torch.float64, generator=gen)
    base = torch.rand((), dtype=torch.float64, generator=gen)
    torch.testing.assert_close(rank_points(x, ranks, base),
                               svd_oracle_points(x, base.expand_as(x), ranks),
                               atol=1e-10, rtol=0)


def test_rank_points_keep_the_input_dtype_and_compute_in_float32() -> None:
    x = torch.rand(2, 3, 8, 8).to(torch.bfloat16)
    points = rank_points(x, [0, 3, 8], 0.5)
    assert points.dtype == torch.bfloat16
    assert torch.equal(points[-1], x)
    assert torch.equal(points[0], torch.full_like(x, 0.5))


@pytest.mark.parametrize(
    "ranks,error,match",
    [
        ([5], UserInputError, r"`ranks` must lie in \[0, 4\]"),
        ([-1], UserInputError, r"`ranks` must lie in \[0, 4\]"),
        ([float("nan")], UserInputError, r"`ranks` must lie"),
        ([], UserInputError, r"`ranks` is empty"),
        ("12", UserTypeError, r"`ranks` must be a list"),
        ([True], UserTypeError, r"`ranks` must hold numbers"),
        (torch.ones(2, 2), UserTypeError, r"`ranks` must be a 1-D tensor"),
    ],
)
def test_rank_points_refuse_bad_ranks(ranks: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        rank_points(torch.rand(4, 6), ranks)  # type: ignore[arg-type]


def test_rank_points_refuse_factors_of_another_shape() -> None:
    x = torch.rand(4, 6)
    with pytest.raises(UserInputError, match=r"`factors` have shapes"):
        rank_points(x, [1], factors=torch.linalg.svd(x.T, full_matrices=False))
    with pytest.raises(UserTypeError, match=r"`inputs` must be a torch.Tensor"):
        rank_points([[1.0]], [0])  # type: ignore[arg-type]
