"""Tests for captum_rank.demo and ``captum-rank demo``: the audit with fixed arguments."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from captum_rank.checks import UserInputError
from captum_rank.cli import main
from captum_rank.demo import DEMO_FILES, DEMO_MODELS, IMAGENET_MODEL, run_demo


def test_demo_command_fashion_part(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--n-steps", "4", "--per-class", "1",
                 "--ranks", "0,1,2,28", "--photos", "0", "--no-progress"]) == 0
    for name in (*DEMO_FILES, "Fashion-MNIST__natural_vs_robust_accuracy_vs_rank.png"):
        assert (out / name).is_file(), name
    # One figure per explained image (the maps over the image, the scale rule on it).
    assert len(list(out.glob("Fashion-MNIST__natural_vs_robust_explain_0*.png"))) == 4
    blob = json.loads((out / "report.json").read_text())
    assert blob["kind"] == "rank-audit-set" and len(blob["reports"]) == 1
    report = blob["reports"][0]
    accuracy = report["accuracy"]
    assert set(accuracy["models"]) == set(DEMO_MODELS)
    assert accuracy["n_images"] == 200 and accuracy["ranks"] == [0, 1, 2, 28]
    for model in DEMO_MODELS:
        clean = accuracy["clean_accuracy"][model]
        # The end points of the curves are the clean accuracy, exactly.
        assert accuracy["low_rank_accuracy"][model][-1] == clean
        assert accuracy["high_rank_accuracy"][model][0] == clean
    spectrum = report["spectrum"]
    assert spectrum["n_images"] == 10  # one per class
    # RIG's spectra on grey images are exact (forward passes); IG's by quadrature.
    assert spectrum["exact"] == {"rig": True, "ig": False}
    for per_model in spectrum["summary"].values():
        for values in per_model.values():
            assert {"relative_error", "reliable", "rank_50"} <= set(values)
    # Class names, never bare class numbers, in the explained images.
    items = report["explanation"]["items"]["fmnist-natural"]
    assert all(item["target_name"] and item["prediction_name"] for item in items)
    # Rank-band maps of both models: their totals are the exact R over each band.
    for model in DEMO_MODELS:
        for item in report["explanation"]["items"][model]:
            bands = item["bands"]
            assert bands["labels"] == ["1-4", "5-16", "17-28"]
            assert (out / "Fashion-MNIST__natural_vs_robust_bands_"
                    f"{model}_0.png").is_file()
            # Calibrated: each band's sum is the exact R over the band.
            for total, exact in zip(bands["totals"], bands["exact_totals"], strict=True):
                assert abs(total - exact) <= 1e-4 * max(1.0, abs(exact))
    page = (out / "index.html").read_text()
    assert "relative error" in page.lower() and "T-shirt/top" in page
    assert "low-rank and the high-rank evidence" in page
    printed = capsys.readouterr().out
    assert all(model in printed for model in DEMO_MODELS) and "index.html" in printed


def test_demo_imagenet_part_on_photos(tmp_path: Path) -> None:
    try:
        summary = run_demo(tmp_path, models=["fmnist-natural"], n_steps=2,
                           attribution_per_class=1, grid_images=1, ranks=[0, 28], photos=1,
                           imagenet_n_steps=2, accuracy_photos=4, photo_band_steps=1)
    except UserInputError as err:  # the photo packages are not installed
        pytest.skip(str(err))
    titles = [part["title"] for part in summary["parts"]]
    assert titles == ["Fashion-MNIST: natural vs robust",
                      "ImageNet: EfficientNet-Lite0 on real photos"]
    imagenet = summary["parts"][1]["report"]
    assert imagenet["accuracy"]["n_images"] == 4 and imagenet["accuracy"]["r"] == 224
    (item,) = imagenet["explanation"]["items"][IMAGENET_MODEL]
    assert item["prediction_name"] and 0 < item["probability"] <= 1
    # The rank-band maps of the rank-k curve: the default photo bands, each band's total
    # its exact R (calibrated), together the exact change of the output.
    bands = item["bands"]
    assert bands["labels"] == ["1-4", "5-16", "17-64", "65-224"]
    assert bands["totals"] == pytest.approx(bands["exact_totals"], rel=1e-4, abs=1e-4)
    assert bands["evaluations"] == 224
    for values in item["attributions"].values():
        assert isinstance(values["reliable"], bool) and len(values["spectrum"]) == 224
    prefix = "ImageNet__EfficientNet-Lite0_on_real_photos_"
    for name in ("accuracy_vs_rank.png", "explain_spectrum.png",
                 f"rank_path_{IMAGENET_MODEL}.png"):
        assert (tmp_path / f"{prefix}{name}").is_file(), name
    (photo_figure,) = tmp_path.glob(f"{prefix}explain_00_*.png")
    from PIL import Image

    # The photo's maps are drawn at one map pixel per figure pixel or more.
    assert Image.open(photo_figure).size[0] >= 3 * 224


def test_demo_refuses_an_unwritable_folder_before_any_work(tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(UserInputError, match="out_dir"):
        run_demo(a_file)


@pytest.mark.parametrize("steps", ["0", "64,x", "8*"])
def test_demo_command_refuses_bad_photo_band_steps_before_the_folder(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], steps: str) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--photo-band-steps", steps]) != 0
    assert "--photo-band-steps" in capsys.readouterr().err
    assert not out.exists()


def test_demo_refuses_bad_photo_band_steps_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="photo_band_steps"):
        run_demo(tmp_path / "demo", photo_band_steps=[64, 0])
    assert not (tmp_path / "demo").exists()
