"""Tests for captum_rank.data.images, the one input layer (zoo.preprocess: test_zoo)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

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


# --- high bit depth: scaled by the mode's range, never clipped to 8 bits ------------------

def _pil(array: np.ndarray) -> Image.Image:
    return Image.fromarray(array)


@pytest.mark.parametrize("mode", ["I;16", "I;16B"])
def test_16_bit_pil_modes_are_scaled_by_65535(mode: str) -> None:
    values = np.array([[0, 16384], [32768, 65535]], dtype=np.uint16)
    image = Image.frombytes(mode, (2, 2), values.astype(">u2" if mode.endswith("B")
                                                        else "<u2").tobytes())
    assert image.mode == mode
    out = to_model_input(image, 2, channels=1, interpolation="nearest")
    torch.testing.assert_close(out[0].double(), torch.from_numpy(values / 65535.0),
                               rtol=0, atol=1e-7)
    # Before, PIL's convert("L") clipped: every pixel above 255 became white.
    grey = to_model_input(_pil(np.full((30, 20), 20000, np.uint16)), 8)
    assert grey.shape == (3, 8, 8)
    torch.testing.assert_close(grey, torch.full_like(grey, 20000 / 65535), rtol=0, atol=1e-6)


def test_32_bit_mode_i_by_16_bits_when_it_fits_else_by_the_32_bit_range() -> None:
    as_png = _pil(np.full((6, 6), 30000, np.int32))  # how older Pillow reads 16-bit PNGs
    assert as_png.mode == "I"
    out = to_model_input(as_png, 6, channels=1)
    torch.testing.assert_close(out, torch.full_like(out, 30000 / 65535), rtol=0, atol=1e-6)
    wide = to_model_input(_pil(np.full((6, 6), 2**30, np.int32)), 6, channels=1)
    torch.testing.assert_close(wide, torch.full_like(wide, 2**30 / (2**31 - 1)), rtol=0,
                               atol=1e-6)
    with pytest.raises(UserInputError, match=r"`scan 7` is a signed integer .*'I'.*negative"):
        to_model_input(_pil(np.full((6, 6), -5, np.int32)), 6, name="scan 7")


def test_float_mode_f_is_kept_in_unit_range_and_refused_outside() -> None:
    values = np.linspace(0.0, 1.0, 36, dtype=np.float32).reshape(6, 6)
    image = _pil(values)
    assert image.mode == "F"
    out = to_model_input(image, 6, channels=1, interpolation="nearest")
    torch.testing.assert_close(out[0], torch.from_numpy(values), rtol=0, atol=0)
    # Full precision: not rounded to 256 levels, and not black (the old convert("L")).
    assert float(out[0, 0, 1]) == pytest.approx(1 / 35, abs=1e-7)
    with pytest.raises(UserInputError,
                       match=r"`depth\.tif` is a float \(PIL mode 'F'\) image with values in "
                             r"\[0, 300\], outside \[0, 1\].*convert it"):
        to_model_input(_pil(values * 300), 6, name="depth.tif")
    with pytest.raises(UserInputError, match="NaN"):
        to_model_input(_pil(np.full((4, 4), np.nan, np.float32)), 4)


def test_uint16_arrays_and_tensors_resample_at_full_precision() -> None:
    array = np.random.default_rng(4).integers(0, 65536, (50, 70), dtype=np.uint16)
    out = to_model_input(array, (20, 28), interpolation="bilinear")
    assert out.shape == (3, 20, 28) and out.dtype == torch.float32
    assert 0.0 <= float(out.min()) and float(out.max()) <= 1.0
    # More than 256 distinct levels survive: nothing went through 8 bits.
    assert torch.unique(out[0]).numel() > 256
    same = to_model_input(_pil(array), (20, 28), interpolation="bilinear")
    torch.testing.assert_close(out, same, rtol=0, atol=0)


def test_image_to_tensor_is_the_same_decoder_without_resizing() -> None:
    from captum_rank.data import image_to_tensor

    assert image_to_tensor(_pil(np.full((3, 5), 65535, np.uint16))).tolist() == [[[1.0] * 5] * 3]
    rgb = np.random.default_rng(5).integers(0, 256, (3, 5, 3), dtype=np.uint8)
    torch.testing.assert_close(image_to_tensor(_pil(rgb)),
                               torch.from_numpy(rgb).permute(2, 0, 1).float() / 255)
    with pytest.raises(UserInputError, match="`item 3`"):
        image_to_tensor(_pil(np.full((2, 2), 7.0, np.float32)), "item 3")


def test_data_set_items_as_16_bit_pil_images_are_scaled() -> None:
    from captum_rank.data import iter_batches

    items = [(_pil(np.full((4, 4), 65535 // 4, np.uint16)), 1)]
    images, _ = next(iter(iter_batches(items, batch_size=1)))
    torch.testing.assert_close(images, torch.full((1, 1, 4, 4), (65535 // 4) / 65535),
                               rtol=0, atol=1e-6)


def test_without_resize_the_smallest_cover_is_cropped_on_one_side_only() -> None:
    # A 40 x 60 image into 20 x 30 is an exact halving: nothing is cropped away.
    image = np.zeros((40, 60), np.uint8)
    image[:, :2] = 255  # a white left edge survives only if the width is not cropped
    out = to_model_input(image, (20, 30), channels=1, interpolation="bilinear")
    assert out.shape == (1, 20, 30) and float(out[0, :, 0].min()) > 0.5


def test_decompression_bomb_is_refused_before_decoding(tmp_path: object,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b""))
    # A caller that lifted PIL's own limit still gets a clear error, not a decode of 10^10
    # pixels.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    bomb = Image.open(io.BytesIO(data))
    with pytest.raises(UserInputError, match=r"100000 x 100000 pixels.*decompression bomb"):
        to_model_input(bomb, 28)
