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
def test_matches_torchvision_resize_and_center_crop(
    h: int, w: int, size: int | tuple[int, int], resize: int | None, interpolation: str
) -> None:
    transforms = pytest.importorskip("torchvision.transforms")
    image = np.random.default_rng(h * w).integers(0, 256, (h, w, 3), dtype=np.uint8)
    out_hw = (size, size) if isinstance(size, int) else size
    reference = transforms.Compose([
        transforms.Resize(max(out_hw) if resize is None else resize,
                          interpolation=transforms.InterpolationMode(interpolation)),
        transforms.CenterCrop(out_hw),
        transforms.ToTensor(),
    ])
    from PIL import Image

    expected = reference(Image.fromarray(image))
    torch.testing.assert_close(to_model_input(image, size, resize=resize,
                                              interpolation=interpolation), expected,
                               rtol=0, atol=0)


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
