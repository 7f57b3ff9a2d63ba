"""The gallery script never substitutes random models or images for the zoo's."""

from __future__ import annotations

from types import ModuleType

import pytest
from helpers import ROOT, load_script

from captum_rank import data, zoo

GALLERY = ROOT / "examples" / "gallery.py"


def _gallery() -> ModuleType:
    return load_script(GALLERY, "gallery")


def test_zoo_failure_stops_the_gallery(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(name: str) -> None:
        raise OSError(f"weights of {name} missing")

    monkeypatch.setattr(zoo, "load", broken)
    with pytest.raises(SystemExit, match="No random models are substituted") as info:
        _gallery().load_models()
    assert "weights of fmnist-natural missing" in str(info.value)


def test_missing_images_stop_the_gallery(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> None:
        raise FileNotFoundError("sample.npz")

    monkeypatch.setattr(data, "load_sample", broken)
    with pytest.raises(SystemExit, match="No random images are substituted"):
        _gallery().load_images()


def test_the_gallery_loads_the_trained_models() -> None:
    models = _gallery().load_models()
    assert list(models) == ["fmnist-natural", "fmnist-robust"]
    assert not any(m.training for m in models.values())
