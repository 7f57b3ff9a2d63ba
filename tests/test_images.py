"""Tests for captum_rank.data.images.to_model_input (zoo.preprocess is tested in test_zoo)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from captum_rank.checks import UserInputError
from captum_rank.data import to_model_input


def test_rectangular_size_and_resize() -> None:
    image = np.random.default_rng(0).integers(0, 256, (90, 120, 3), dtype=np.uint8)
    assert to_model_input(image, (20, 30)).shape == (3, 20, 30)
    assert to_model_input(image, 16, resize=64, channels=1).shape == (1, 16, 16)


def test_same_size_uint8_round_trips_exactly() -> None:
    image = np.random.default_rng(1).integers(0, 256, (24, 24, 3), dtype=np.uint8)
    for interpolation in ("bicubic", "bilinear", "nearest"):
        out = to_model_input(image, 24, interpolation=interpolation)
        torch.testing.assert_close(out, torch.from_numpy(image).permute(2, 0, 1).float() / 255)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"size": (4, 4, 4)}, "`size`"),
        ({"size": 0}, "`size`"),
        ({"size": 32, "resize": 16}, "`resize`"),
        ({"size": 8, "channels": 2}, "`channels`"),
        ({"size": 8, "interpolation": "lanczos"}, "`interpolation`"),
    ],
)
def test_bad_options(kwargs: dict, match: str) -> None:
    with pytest.raises(UserInputError, match=match):
        to_model_input(np.zeros((8, 8), np.uint8), **kwargs)


def test_the_argument_name_is_used() -> None:
    with pytest.raises(UserInputError, match="`photo 3`"):
        to_model_input(np.zeros((8, 8, 5), np.uint8), 8, name="photo 3")
