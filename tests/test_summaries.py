"""Tests for captum_rank.summaries: shares and ranks against independent computations."""

from __future__ import annotations

import ast
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from captum_rank import summaries
from captum_rank.checks import UserInputError, UserTypeError
from captum_rank.summaries import (
    cumulative_share,
    normalized_spectrum,
    rank_for_share,
    spectrum_summary,
)

# Exact small integers keep the oracle (rational arithmetic) exact.
spectra = st.lists(st.integers(-20, 20), min_size=1, max_size=12)


def _exact_shares(values: list[int], basis: str) -> list[Fraction]:
    terms = [Fraction(v) if basis == "signed" else Fraction(abs(v)) for v in values]
    total = sum(terms, Fraction(0))
    running, out = Fraction(0), [Fraction(0)]
    for t in terms:
        running += t
        out.append(running / total)
    return out


@settings(max_examples=200, deadline=None)
@given(spectra, st.sampled_from(["signed", "abs"]))
def test_cumulative_share_matches_exact_rational_oracle(values: list[int], share: str) -> None:
    result = cumulative_share(values, share)
    if all(v == 0 for v in values):
        assert result.is_zero and result.basis is None and not result.fell_back
        assert result.shares.tolist() == [0.0] * (len(values) + 1)
        return
    expect_basis = "abs" if share == "abs" or sum(values) == 0 else "signed"
    assert result.basis == expect_basis
    assert result.fell_back == (share == "signed" and sum(values) == 0)
    exact = _exact_shares(values, expect_basis)
    np.testing.assert_allclose(result.shares, [float(f) for f in exact], rtol=1e-12, atol=1e-12)


@settings(max_examples=200, deadline=None)
@given(spectra, st.sampled_from([0.1, 0.5, 0.9, 1.0]))
def test_rank_for_share_is_first_crossing(values: list[int], q: float) -> None:
    k = rank_for_share(values, q)
    if all(v == 0 for v in values):
        assert k is None
        return
    basis = "signed" if sum(values) != 0 else "abs"
    exact = _exact_shares(values, basis)
    crossings = [i for i in range(1, len(values) + 1) if exact[i] >= Fraction(str(q))]
    assert k == crossings[0]  # S_r = 1 >= q, so a crossing always exists


def test_a_share_equal_to_the_level_reaches_it() -> None:
    # S_1 = 2 / 20 = 0.1 exactly as a decimal: the level 0.1 is reached at k = 1.
    assert rank_for_share([2, 18], 0.1) == 1


def test_share_of_one_is_reached_despite_rounding() -> None:
    values = [0.1] * 10  # cumsum(0.1)/1.0 ends at 0.9999999999999999
    assert rank_for_share(values, 1.0) == 10


def test_fell_back_is_a_flag_not_a_display_string() -> None:
    result = cumulative_share([1.0, -1.0])
    assert (result.requested, result.basis, result.fell_back) == ("signed", "abs", True)
    assert result.to_dict()["fell_back"] is True


def test_normalized_spectrum_against_direct_division() -> None:
    rng = np.random.default_rng(0)
    v = rng.normal(size=9)
    np.testing.assert_allclose(normalized_spectrum(v, "abs"), v / np.abs(v).sum())
    np.testing.assert_allclose(normalized_spectrum(v, "total"), v / v.sum())
    np.testing.assert_array_equal(normalized_spectrum(v, None), v)
    # A zero total falls back to the mass, never divides by ~0.
    np.testing.assert_allclose(normalized_spectrum([1.0, -1.0], "total"), [0.5, -0.5])
    assert normalized_spectrum([0.0, 0.0], "abs").tolist() == [0.0, 0.0]


def test_tensors_and_numpy_scalars_accepted() -> None:
    t = torch.tensor([4.0, 3.0, 2.0, 1.0], dtype=torch.float32, requires_grad=True)
    assert rank_for_share(t, np.float64(0.5)) == 2
    s = spectrum_summary(t)
    assert (s.total, s.mass, s.ranks, s.basis) == (10.0, 10.0, {0.5: 2, 0.9: 3}, "signed")
    assert s.to_dict()["ranks"] == {"0.5": 2, "0.9": 3}


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda: cumulative_share([1.0], "absolute"), UserInputError, "`share`"),
        (lambda: cumulative_share([]), UserInputError, "empty"),
        (lambda: cumulative_share([1.0, math.nan]), UserInputError, "index [1]"),
        (lambda: cumulative_share("abc"), UserInputError, "must be numbers"),
        (lambda: rank_for_share([1.0], 0.0), UserInputError, "`share`"),
        (lambda: rank_for_share([1.0], 1.5), UserInputError, "`share`"),
        (lambda: rank_for_share([1.0], True), UserTypeError, "`share`"),
        (lambda: normalized_spectrum([1.0], "max"), UserInputError, "`normalize`"),
        (lambda: spectrum_summary([1.0], shares=0.5), UserInputError, "`shares`"),
        (lambda: spectrum_summary([1.0], shares=(0.5, 2)), UserInputError, "`shares[1]`"),
        (lambda: spectrum_summary([1.0]).rank(0.7), UserInputError, "spectrum_summary"),
    ],
)
def test_bad_input_names_the_argument(call: object, error: type, words: str) -> None:
    with pytest.raises(error, match=None) as info:
        call()  # type: ignore[operator]
    assert words in str(info.value)


def test_module_imports_neither_matplotlib_nor_torch() -> None:
    tree = ast.parse(Path(summaries.__file__).read_text())
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    }
    assert not imported & {"matplotlib", "torch"}
