"""Tests for captum_rank.data.photos: real colour photos from installed packages."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import torch

from captum_rank.checks import UserInputError, UserTypeError
from captum_rank.data import PHOTO_SOURCES, Photos, load_photos
from captum_rank.data import photos as photos_module

HAVE_OPENCV_DOC = photos_module.OPENCV_DATA.is_dir()
NEEDS_OPENCV_DOC = pytest.mark.skipif(
    not HAVE_OPENCV_DOC, reason="needs Debian's opencv-doc: apt-get install -y opencv-doc"
)
WITHOUT_OPENCV = [s for s in PHOTO_SOURCES if s != "opencv-doc"]


@pytest.fixture(scope="module")
def small() -> Photos:
    return load_photos(size=48, sources=WITHOUT_OPENCV)


def test_sources_without_opencv(small: Photos) -> None:
    assert len(small) == 20 + 7 + 2 + 1
    assert small.images.shape == (30, 3, 48, 48) and small.images.dtype == torch.float32
    assert 0.0 <= float(small.images.min()) and float(small.images.max()) <= 1.0
    assert small.labels.dtype == torch.int64 and small.labels.shape == (30,)
    assert len(small.names) == len(set(small.names)) == len(small.sources) == 30
    for name, source in zip(small.names, small.sources, strict=True):
        assert name.startswith(source + ":")
    # Colour photos, not grey ones, and no two alike.
    colour = (small.images[:, 0] - small.images[:, 1]).abs().flatten(1).mean(1)
    assert bool((colour > 0.01).all()), colour
    flat = small.images.flatten(1)
    assert float(torch.cdist(flat, flat).add(torch.eye(30) * 1e9).min()) > 1.0


def test_labels_come_from_foolbox_file_names(small: Photos) -> None:
    labelled = small.labelled()
    assert len(labelled) == 20 and set(labelled.sources) == {"foolbox"}
    assert bool((labelled.labels >= 0).all()) and bool((labelled.labels < 1000).all())
    assert labelled.names[0] == "foolbox:imagenet_00"
    folder = photos_module._package_dir("foolbox") / "data"
    from_files = {
        f"foolbox:imagenet_{m[1]}": int(m[2])
        for m in (re.match(r"imagenet_(\d+)_(\d+)\.", p.name) for p in folder.glob("imagenet_*"))
        if m
    }
    assert dict(zip(labelled.names, labelled.labels.tolist(), strict=True)) == from_files
    assert bool((small.labels[[s != "foolbox" for s in small.sources]] == -1).all())


def test_photos_is_frozen_and_subsets(small: Photos) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        small.names = []  # type: ignore[misc]
    part = small.subset([29, 0])
    assert part.names == [small.names[29], small.names[0]]
    assert torch.equal(part.images[1], small.images[0])
    assert part.labels.tolist() == [small.labels[29].item(), small.labels[0].item()]
    assert small.subset(torch.tensor([3])).names == [small.names[3]]
    with pytest.raises(UserInputError, match="indices"):
        small.subset([30])
    assert len(load_photos(size=16, sources=["matplotlib"]).labelled()) == 0


def test_size_and_order_do_not_depend_on_request() -> None:
    a = load_photos(size=32, sources=["scikit-learn", "matplotlib"])
    b = load_photos(size=32, sources=["matplotlib", "scikit-learn"])
    assert a.names == b.names == ["scikit-learn:china", "scikit-learn:flower",
                                  "matplotlib:grace_hopper"]
    assert torch.equal(a.images, b.images)
    assert load_photos(size=17, sources=["matplotlib"]).images.shape == (1, 3, 17, 17)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"size": 0}, UserInputError, "`size`"),
        ({"size": 64.0}, UserTypeError, "`size`"),
        ({"sources": ["imagenet"]}, UserInputError, r"`sources` 'imagenet'; choose one of"),
        ({"sources": "foolbox"}, UserTypeError, r"sources=\['foolbox'\]"),
        ({"sources": []}, UserInputError, "`sources` is empty"),
    ],
)
def test_bad_arguments(kwargs: dict, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        load_photos(**kwargs)


def test_missing_source_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(photos_module, "OPENCV_DATA", tmp_path / "nowhere")
    with pytest.raises(UserInputError, match=r"opencv-doc.*apt-get install -y opencv-doc"):
        load_photos(size=16)
    real = photos_module._package_dir

    def no_foolbox(package: str) -> Path:
        if package == "foolbox":
            raise ModuleNotFoundError("foolbox")
        return real(package)

    monkeypatch.setattr(photos_module, "_package_dir", no_foolbox)
    with pytest.raises(UserInputError, match=r'foolbox.*pip install "foolbox==3.3.4"'):
        load_photos(size=16, sources=["foolbox", "matplotlib"])


@NEEDS_OPENCV_DOC
def test_all_sources_give_at_least_fifty_photos() -> None:
    photos = load_photos(size=32)
    assert len(photos) >= photos_module.MIN_PHOTOS
    assert len(photos) == 54 and photos.images.shape == (54, 3, 32, 32)
    assert photos.sources.count("opencv-doc") == len(photos_module.OPENCV_PHOTOS) == 24
    assert len(photos.labelled()) == 20 and photos.sources[:20] == ["foolbox"] * 20
    assert 0.0 <= float(photos.images.min()) and float(photos.images.max()) <= 1.0
