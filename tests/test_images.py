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


@pytest.mark.parametrize("interpolation", ["bicubic", "bilinear", "nearest"])
@pytest.mark.parametrize(("h", "w", "size", "resize"), [
    (90, 120, (20, 30), None), (121, 67, 31, 40), (50, 50, (16, 9), 20), (33, 200, 7, 7),
])
def test_constant_image_stays_constant_at_every_size(
    h: int, w: int, size: int | tuple[int, int], resize: int | None, interpolation: str
) -> None:
    # Every filter averages with weights summing to one, so a flat grey stays that grey.
    out_hw = (size, size) if isinstance(size, int) else size
    out = to_model_input(np.full((h, w, 3), 77, np.uint8), size, resize=resize,
                         interpolation=interpolation)
    assert out.shape == (3, *out_hw)
    torch.testing.assert_close(out, torch.full_like(out, 77 / 255), rtol=0, atol=0)


def test_crop_without_resize_is_the_central_slice() -> None:
    # The short side already equals `resize`: nothing is resampled, only the middle is kept.
    image = np.random.default_rng(2).integers(0, 256, (30, 50, 3), dtype=np.uint8)
    out = to_model_input(image, (20, 30), resize=30)
    expected = torch.from_numpy(image[5:25, 10:40]).permute(2, 0, 1).float() / 255
    torch.testing.assert_close(out, expected, rtol=0, atol=0)


def test_nearest_integer_upscale_repeats_pixels() -> None:
    image = np.random.default_rng(3).integers(0, 256, (10, 15), dtype=np.uint8)
    out = to_model_input(image, 20, channels=1, interpolation="nearest")  # 20 x 30, then crop
    expected = np.repeat(np.repeat(image, 2, axis=0), 2, axis=1)[:, 5:25]
    torch.testing.assert_close(out[0], torch.from_numpy(expected).float() / 255, rtol=0, atol=0)


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
