"""Tests for captum_rank.data: IDX parsing, the loaders, the bundled sample, iter_batches."""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset, TensorDataset

from captum_rank.checks import UserInputError, UserTypeError
from captum_rank.data import (
    CLASSES,
    DEFAULT_ROOT,
    FashionMNIST,
    iter_batches,
    load_fashion_mnist,
    load_sample,
    read_idx,
)

HAVE_DEBIAN_DATA = os.path.isdir(DEFAULT_ROOT) and any(Path(DEFAULT_ROOT).glob("t10k-*"))


def _idx_bytes(arr: np.ndarray, type_code: int = 0x08) -> bytes:
    header = struct.pack(">HBB", 0, type_code, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(">u1" if type_code == 0x08 else arr.dtype).tobytes()


def _write(path: Path, data: bytes, compress: bool) -> Path:
    if compress:
        path = path.with_name(path.name + ".gz")
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)
    return path


def _fake_split(root: Path, prefix: str, n: int, compress: bool) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    _write(root / f"{prefix}-images-idx3-ubyte", _idx_bytes(images), compress)
    _write(root / f"{prefix}-labels-idx1-ubyte", _idx_bytes(labels), compress)
    return images, labels


@pytest.mark.parametrize("compress", [True, False])
def test_load_fashion_mnist_from_tiny_idx(tmp_path: Path, compress: bool) -> None:
    images, labels = _fake_split(tmp_path, "t10k", 7, compress)
    x, y = load_fashion_mnist("test", root=tmp_path)
    assert x.shape == (7, 1, 28, 28) and x.dtype == torch.float32
    assert y.shape == (7,) and y.dtype == torch.int64
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    torch.testing.assert_close(x[:, 0], torch.from_numpy(images).float() / 255.0)
    assert y.tolist() == labels.tolist()
    ds = FashionMNIST("test", root=tmp_path)
    assert len(ds) == 7
    img, lab = ds[3]
    assert img.shape == (1, 28, 28) and int(lab) == 3


def test_read_idx_other_dtype_and_gzip_sniffing(tmp_path: Path) -> None:
    arr = np.arange(6, dtype=">i4").reshape(2, 3)
    # A gzip stream under a name without .gz is still recognised by its magic bytes.
    path = tmp_path / "ints-idx2"
    path.write_bytes(gzip.compress(_idx_bytes(arr, type_code=0x0C)))
    out = read_idx(path)
    assert out.shape == (2, 3) and out.dtype == np.int32
    assert out.tolist() == [[0, 1, 2], [3, 4, 5]]


def test_corrupt_magic_raises(tmp_path: Path) -> None:
    data = bytearray(_idx_bytes(np.zeros((2, 28, 28), np.uint8)))
    data[0:4] = b"\x12\x34\x08\x03"
    _write(tmp_path / "t10k-images-idx3-ubyte", bytes(data), compress=True)
    _write(tmp_path / "t10k-labels-idx1-ubyte", _idx_bytes(np.zeros(2, np.uint8)), True)
    with pytest.raises(ValueError, match="magic"):
        load_fashion_mnist("test", root=tmp_path)


def test_unknown_type_code_and_truncation(tmp_path: Path) -> None:
    bad_type = tmp_path / "a"
    bad_type.write_bytes(struct.pack(">HBBI", 0, 0x42, 1, 1) + b"\x00")
    with pytest.raises(ValueError, match="magic"):
        read_idx(bad_type)
    truncated = tmp_path / "b"
    truncated.write_bytes(_idx_bytes(np.zeros((3, 4), np.uint8))[:-2])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        read_idx(truncated)
    short = tmp_path / "c"
    short.write_bytes(b"\x00\x00")
    with pytest.raises(ValueError, match="too short"):
        read_idx(short)
    bad_gzip = tmp_path / "d.gz"
    bad_gzip.write_bytes(b"\x1f\x8bnot really gzip")
    with pytest.raises(ValueError, match="gzip"):
        read_idx(bad_gzip)


def test_mismatched_label_count(tmp_path: Path) -> None:
    _write(tmp_path / "t10k-images-idx3-ubyte", _idx_bytes(np.zeros((3, 28, 28), np.uint8)), True)
    _write(tmp_path / "t10k-labels-idx1-ubyte", _idx_bytes(np.zeros(2, np.uint8)), True)
    with pytest.raises(ValueError, match="labels"):
        load_fashion_mnist("test", root=tmp_path)


def test_missing_root_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="apt-get install -y dataset-fashion-mnist") as e:
        load_fashion_mnist("test", root=tmp_path / "nowhere")
    assert "root=" in str(e.value) and "download=True" in str(e.value)
    # An existing folder with only one split is also reported, naming what is missing.
    _fake_split(tmp_path, "t10k", 2, compress=True)
    with pytest.raises(FileNotFoundError, match="train-images"):
        load_fashion_mnist("train", root=tmp_path)


def test_unknown_split() -> None:
    with pytest.raises(ValueError, match=r"split.*'test'.*'train'|split.*'train'"):
        load_fashion_mnist("validation", root="/nonexistent")


def test_classes() -> None:
    assert len(CLASSES) == 10 and CLASSES[0] == "T-shirt/top" and CLASSES[9] == "Ankle boot"


def test_load_sample() -> None:
    x, y = load_sample()
    assert x.shape == (200, 1, 28, 28) and x.dtype == torch.float32
    assert y.shape == (200,) and y.dtype == torch.int64
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    assert torch.bincount(y, minlength=10).tolist() == [20] * 10
    # Real images, not blanks: every image has ink.
    assert bool((x.flatten(1).amax(1) > 0.5).all())
    x2, y2, idx = load_sample(return_indices=True)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    assert idx.dtype == torch.int64 and len(set(idx.tolist())) == 200
    assert int(idx.min()) >= 0 and int(idx.max()) < 10_000


@pytest.mark.skipif(not HAVE_DEBIAN_DATA, reason=f"Fashion-MNIST not installed in {DEFAULT_ROOT}")
def test_real_test_split_and_sample_match() -> None:
    x, y = load_fashion_mnist("test")
    assert x.shape == (10_000, 1, 28, 28) and y.shape == (10_000,)
    assert torch.bincount(y).tolist() == [1000] * 10
    xs, ys, idx = load_sample(return_indices=True)
    assert torch.equal(x[idx], xs) and torch.equal(y[idx], ys)
    # The sample is the first 20 of each class, in test order.
    for c in range(10):
        first = torch.nonzero(y == c).flatten()[:20]
        assert torch.equal(idx[ys == c], first)


def test_iter_batches_tensor_dataset() -> None:
    x = torch.rand(10, 1, 28, 28)
    y = torch.arange(10) % 10
    batches = list(iter_batches(TensorDataset(x, y), batch_size=4))
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    torch.testing.assert_close(torch.cat([b[0] for b in batches]), x)
    assert torch.cat([b[1] for b in batches]).tolist() == y.tolist()
    limited = list(iter_batches(TensorDataset(x, y), batch_size=4, limit=5))
    assert [len(b[1]) for b in limited] == [4, 1]
    assert list(iter_batches(TensorDataset(x, y), batch_size=4, limit=0)) == []


class _ListDataset(Dataset[tuple[object, object]]):
    def __init__(self, items: list[tuple[object, object]]) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[object, object]:
        return self.items[i]


def test_iter_batches_pil_and_numpy() -> None:
    image_mod = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(1)
    arrays = [rng.integers(0, 256, (28, 28), dtype=np.uint8) for _ in range(3)]
    items: list[tuple[object, object]] = [
        (image_mod.fromarray(arrays[0]), 0),
        (arrays[1], np.int64(1)),
        (arrays[2].astype(np.float32) / 255.0, torch.tensor(2)),
    ]
    ((xb, yb),) = list(iter_batches(_ListDataset(items), batch_size=8))
    assert xb.shape == (3, 1, 28, 28) and xb.dtype == torch.float32
    assert yb.tolist() == [0, 1, 2] and yb.dtype == torch.int64
    for i in range(3):
        torch.testing.assert_close(xb[i, 0], torch.from_numpy(arrays[i]).float() / 255.0)
    # HWC colour arrays become CHW.
    rgb = rng.integers(0, 256, (5, 6, 3), dtype=np.uint8)
    ((xc, _),) = list(iter_batches([(rgb, 0)], batch_size=1))
    assert xc.shape == (1, 3, 5, 6)
    # Real Fashion-MNIST sample images through the generic path give the same tensors.
    xs, ys = load_sample()
    ((xg, yg),) = list(iter_batches(TensorDataset(xs, ys), batch_size=200))
    assert torch.equal(xg, xs) and torch.equal(yg, ys)


@pytest.mark.parametrize(
    ("items", "error", "match"),
    [
        # The package's own errors (ValueError/TypeError subclasses): the CLI prints
        # them as one line.
        ([torch.rand(1, 4, 4)], UserInputError, r"\(image, label\) pair"),
        ([(torch.rand(1, 4, 4), 0, "extra")], UserInputError, "length 3"),
        ([("not an image", 0)], UserTypeError, "torch.Tensor, numpy array or PIL"),
        ([(torch.rand(1, 4, 4), "cat")], UserTypeError, "integer class index"),
        ([(torch.rand(1, 4, 4), torch.tensor([0, 1]))], UserInputError, "single class index"),
        ([(torch.rand(2, 1, 4, 4), 0)], UserInputError, "HW or CHW"),
        ([(torch.rand(1, 4, 4), 0), (torch.rand(1, 5, 5), 1)], UserInputError, "differs"),
    ],
)
def test_iter_batches_bad_items(items: list[object], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        list(iter_batches(items, batch_size=4))


def test_iter_batches_bad_arguments() -> None:
    ds = TensorDataset(torch.rand(2, 1, 4, 4), torch.arange(2))
    with pytest.raises(UserInputError, match="batch_size"):
        list(iter_batches(ds, batch_size=0))
    with pytest.raises(UserInputError, match="limit"):
        list(iter_batches(ds, batch_size=1, limit=-1))
    with pytest.raises(UserTypeError, match="__len__"):
        list(iter_batches(iter([]), batch_size=1))  # type: ignore[arg-type]


# One pixel decoder: a data set item reads exactly as data.image_to_tensor reads it.

_PIXELS = [
    np.array([[0, 51], [255, 128]], np.uint8),
    np.array([[0, 13107], [65535, 32768]], np.uint16),
    np.array([[0.0, 0.2], [1.0, 0.123456]], np.float32),
    np.array([[0.0, 0.2], [1.0, 0.123456789]], np.float64),
    np.array([[True, False], [False, True]]),
]
_SCALED = [a.astype(np.float64) / full for a, full in
           zip(_PIXELS, (255, 65535, 1, 1, 1), strict=True)]


@pytest.mark.parametrize("index", range(len(_PIXELS)))
@pytest.mark.parametrize("as_tensor", [False, True])
def test_data_set_pixels_go_through_the_one_decoder(index: int, as_tensor: bool) -> None:
    from captum_rank.data import image_to_tensor

    pixels = _PIXELS[index]
    image = torch.from_numpy(pixels) if as_tensor and pixels.dtype != np.uint16 else pixels
    expected = torch.from_numpy(_SCALED[index]).float()[None]
    ((batch, _),) = list(iter_batches([(image, 0)], batch_size=1))
    assert batch.dtype == torch.float32
    # uint16 65535 is 1.0 on both paths (it was 65535.0 through iter_batches); floats in
    # [0, 1] keep their precision (no rounding to 8 bits).
    torch.testing.assert_close(batch[0], expected, rtol=0, atol=1e-7)
    torch.testing.assert_close(image_to_tensor(image), expected, rtol=0, atol=1e-7)


@pytest.mark.parametrize(
    ("pixels", "error", "match"),
    [
        (np.array([[0.0, 1.5]], np.float32), UserInputError, r"outside \[0, 1\]"),
        (np.array([[-0.1, 0.5]], np.float64), UserInputError, r"outside \[0, 1\]"),
        (np.array([[np.nan, 0.5]], np.float32), UserInputError, "NaN"),
        (np.array([[0, 300]], np.int32), UserTypeError, "uint8 pixels"),
        (torch.tensor([[0, 255]], dtype=torch.int64), UserTypeError, "uint8 pixels"),
    ],
)
def test_data_set_pixels_out_of_range_are_refused_naming_the_item(
        pixels: object, error: type[Exception], match: str) -> None:
    from captum_rank.data import image_to_tensor

    # UserInputError/UserTypeError: the CLI prints them as one line.
    with pytest.raises(error, match=match) as raised:
        list(iter_batches([(torch.zeros(1, 2), 0), (pixels, 1)], batch_size=2))
    assert "`dataset item 1`" in str(raised.value)
    with pytest.raises(error, match=match):
        image_to_tensor(pixels, "image")


def test_load_sample_refuses_a_non_bool_return_indices() -> None:
    from captum_rank.checks import UserTypeError
    from captum_rank.data import load_sample

    with pytest.raises(UserTypeError, match="`return_indices` must be True or False"):
        load_sample(return_indices=1)  # type: ignore[call-overload]
