"""Tests for the captum-rank command line: every subcommand on tiny inputs, and errors."""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from captum_rank.cli import main

TINY_MODEL = '''
import torch
from torch import nn


class TinyNet(nn.Module):
    """A random 28 x 28 grey classifier with 10 classes."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 5, stride=3)
        self.fc = nn.Linear(2 * 8 * 8, 10)

    def forward(self, x):
        return self.fc(torch.tanh(self.conv(x)).flatten(1))


def build():
    return TinyNet()
'''


@pytest.fixture
def tiny(tmp_path: Path) -> tuple[str, str]:
    """A user model file and a state_dict for it."""
    source = tmp_path / "tiny_model.py"
    source.write_text(TINY_MODEL)
    namespace: dict[str, object] = {}
    exec(compile(TINY_MODEL, str(source), "exec"), namespace)
    torch.manual_seed(0)
    model = namespace["TinyNet"]()  # type: ignore[operator]
    weights = tmp_path / "tiny.pt"
    torch.save(model.state_dict(), weights)
    return f"{source}:TinyNet", str(weights)


def _png(path: Path, size: tuple[int, int] = (40, 32), mode: str = "RGB") -> Path:
    rng = np.random.default_rng(0)
    array = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(array).convert(mode).save(path)
    return path


def _idx_folder(folder: Path, n: int = 12) -> Path:
    folder.mkdir()
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    for split in ("t10k", "train"):
        with gzip.open(folder / f"{split}-images-idx3-ubyte.gz", "wb") as f:
            f.write(bytes([0, 0, 8, 3]) + np.array([n, 28, 28], ">u4").tobytes()
                    + images.tobytes())
        with gzip.open(folder / f"{split}-labels-idx1-ubyte.gz", "wb") as f:
            f.write(bytes([0, 0, 8, 1]) + np.array([n], ">u4").tobytes() + labels.tobytes())
    return folder


def test_audit_user_model_on_sample(tiny: tuple[str, str], tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    spec, weights = tiny
    out = tmp_path / "out"
    code = main(["audit", "--model", spec, "--weights", weights, "--data", "sample",
                 "--limit", "20", "--spectrum-limit", "10", "--n-steps", "4",
                 "--ranks", "0,1,4,28", "--out", str(out), "--no-progress", "--threads", "1"])
    assert code == 0
    for name in ("report.json", "index.html", "accuracy_vs_rank.png", "rank_spectrum.png"):
        assert (out / name).is_file(), name
    report = json.loads((out / "report.json").read_text())
    assert report["accuracy"]["ranks"] == [0, 1, 4, 28]
    assert report["accuracy"]["n_images"] == 20 and report["spectrum"]["n_images"] == 10
    assert report["meta"]["command"].startswith("captum-rank audit --model")
    printed = capsys.readouterr().out
    assert printed.splitlines()[0].startswith("model") and "TinyNet" in printed


def test_audit_module_attr_form_idx_folder_and_checkpoint(
    tiny: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, weights = tiny
    monkeypatch.syspath_prepend(str(tmp_path))
    data = _idx_folder(tmp_path / "fmnist")
    out = tmp_path / "out"
    ckpt = tmp_path / "run.ckpt"
    args = ["audit", "--model", "tiny_model:build", "--weights", weights, "--data", str(data),
            "--spectrum-limit", "4", "--n-steps", "2", "--batch-size", "5",
            "--checkpoint", str(ckpt), "--out", str(out), "--no-progress"]
    assert main(args) == 0
    assert ckpt.is_file() and Path(f"{ckpt}.spectrum").is_file()
    first = json.loads((out / "report.json").read_text())
    assert first["accuracy"]["n_images"] == 12
    assert first["accuracy"]["ranks"][-1] == 28
    assert main(args) == 0  # resumes from the finished checkpoints
    again = json.loads((out / "report.json").read_text())
    assert again["accuracy"]["low_rank_correct"] == first["accuracy"]["low_rank_correct"]


def test_audit_zoo_model(tmp_path: Path) -> None:
    from captum_rank import zoo

    try:
        zoo.load("fmnist-natural")
    except (FileNotFoundError, OSError):
        pytest.skip("zoo weights not installed")
    out = tmp_path / "zoo"
    assert main(["audit", "--model", "fmnist-natural", "--data", "sample", "--limit", "30",
                 "--spectrum-limit", "0", "--ranks", "0,2,28", "--out", str(out),
                 "--no-progress"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["spectrum"] is None
    assert report["accuracy"]["clean_accuracy"]["fmnist-natural"] > 0.7


def test_explain_writes_maps_and_spectra(tiny: tuple[str, str], tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    spec, weights = tiny
    png = _png(tmp_path / "a.png")
    jpg = tmp_path / "b.jpg"
    Image.open(png).save(jpg)
    out = tmp_path / "explain"
    assert main(["explain", "--model", spec, "--weights", weights, str(png), str(jpg),
                 "--target", "3", "--n-steps", "4", "--schedule", "arc_length",
                 "--view", "absolute", "--scale", "all", "--out", str(out)]) == 0
    for name in ("explain_00_a_png.png", "explain_01_b_jpg.png", "explain_spectrum.png",
                 "rank_path_TinyNet.png", "report.json", "index.html"):
        assert (out / name).is_file(), name
    # --view and --scale reach the figures, whose alt text says what they show.
    page = (out / "index.html").read_text()
    assert page.count("as heat maps of |attribution|, all maps on one shared colour") == 2
    result = json.loads((out / "report.json").read_text())["explanation"]
    assert result["attributions"] == {"rig": "arc_length", "ig": "linear"}
    (entries,) = result["items"].values()
    assert [e["target"] for e in entries] == [3, 3]
    assert len(entries[0]["attributions"]["rig"]["spectrum"]) == 28
    assert all("relative_error" in e["attributions"]["ig"] for e in entries)
    assert all(0 <= e["attributions"]["rig"]["map_error"]
               and e["attributions"]["rig"]["evaluations"] <= 4 for e in entries)
    captured = capsys.readouterr()
    assert "k50=" in captured.out and "rel.err=" in captured.out
    assert "map.err=" in captured.out and "evals)" in captured.out
    # A random colour picture given to a grey 28 x 28 model: a warning says so.
    assert "warning:" in captured.err and "colour" in captured.err


def _explain_png(tiny: tuple[str, str], tmp_path: Path, *flags: str
                 ) -> tuple[dict[str, Any], Path]:
    """``explain`` of one picture with the tiny model and target 3: the report's
    explanation and the output folder."""
    spec, weights = tiny
    png = _png(tmp_path / "a.png")
    out = tmp_path / "explained"
    assert main(["explain", "--model", spec, "--weights", weights, str(png), "--target", "3",
                 *flags, "--out", str(out)]) == 0
    return json.loads((out / "report.json").read_text())["explanation"], out


def _explain_refused(tiny: tuple[str, str], tmp_path: Path,
                     capsys: pytest.CaptureFixture[str], *flags: str) -> str:
    """``explain`` with bad ``flags``: exit status 2 before any output; its error text."""
    spec, weights = tiny
    png = _png(tmp_path / "a.png")
    out = tmp_path / "refused"
    assert main(["explain", "--model", spec, "--weights", weights, str(png), *flags,
                 "--out", str(out)]) == 2
    assert not out.exists()
    return capsys.readouterr().err


def test_explain_draws_rank_band_maps(tiny: tuple[str, str], tmp_path: Path) -> None:
    result, out = _explain_png(tiny, tmp_path, "--n-steps", "4", "--schedule", "sequential",
                               "--bands", "4,16", "--band-steps", "2")
    (entries,) = result["items"].values()
    bands = entries[0]["bands"]
    assert bands["bands"] == [[1, 4], [5, 16], [17, 28]]
    # Calibrated band totals are the exact R summed over each band.
    assert bands["totals"] == pytest.approx(bands["exact_totals"], abs=1e-4)
    assert "low-rank and the high-rank evidence" in (out / "index.html").read_text()


def test_explain_takes_rig_options(tiny: tuple[str, str], tmp_path: Path) -> None:
    result, out = _explain_png(tiny, tmp_path, "--n-steps", "8", "--rig-option",
                               "form=averaged", "--rig-option", "tolerance=0.5")
    assert result["rig_options"] == {"form": "averaged", "tolerance": 0.5}
    assert "Further RIG options for every map: form=&#x27;averaged&#x27;, tolerance=0.5." in (
        out / "index.html").read_text()


@pytest.mark.parametrize(("value", "named"), [
    ("tolerance", "NAME=VALUE"), ("=1", "NAME=VALUE"), ("tolerence=0.1", "tolerence"),
    ("n_steps=8", "n_steps"), ("tolerance=-1", "tolerance")])
def test_explain_refuses_bad_rig_options_before_writing(
        value: str, named: str, tiny: tuple[str, str], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    err = _explain_refused(tiny, tmp_path, capsys, "--rig-option", value)
    assert named in err and "Traceback" not in err


def test_explain_takes_band_orders_per_component(tiny: tuple[str, str], tmp_path: Path) -> None:
    result, out = _explain_png(tiny, tmp_path, "--n-steps", "4", "--schedule", "sequential",
                               "--bands", "4", "--band-steps", "4,2*3,1")
    (entries,) = result["items"].values()
    bands = entries[0]["bands"]
    assert bands["segment_steps"] == [4, 2, 2, 2] + [1] * 24
    assert bands["evaluations"] == 4 + 6 + 24
    assert "4 (component 1), 2 (2-4), 1 (5-28)" in (out / "index.html").read_text()


def test_the_demo_help_shows_the_photo_band_default_it_runs_with(
        capsys: pytest.CaptureFixture[str]) -> None:
    from captum_rank.cli import _parse_band_steps
    from captum_rank.defaults import PHOTO_BAND_STEPS

    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    shown = re.search(r"'none' leaves them out \(default: ([^)]+)\)",
                      " ".join(capsys.readouterr().out.split()))
    assert shown is not None
    assert _parse_band_steps(shown.group(1)) == PHOTO_BAND_STEPS


@pytest.mark.parametrize("value", ["0", "x", "4*0", "8*", "", "2,,3"])
def test_explain_refuses_bad_band_orders_before_any_work(
        value: str, tiny: tuple[str, str], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    err = _explain_refused(tiny, tmp_path, capsys, "--bands", "default", "--band-steps", value)
    assert "--band-steps" in err


@pytest.mark.parametrize("value", ["x", "16,4", "0,8", "4,4", ""])
def test_explain_refuses_bad_band_edges_before_any_work(
        value: str, tiny: tuple[str, str], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    assert "--bands" in _explain_refused(tiny, tmp_path, capsys, "--bands", value)


def test_view_names_in_the_help_are_the_registry() -> None:
    # The help is literal (no matplotlib import for --help); it must list VIEWS and SHARES.
    from captum_rank.cli import _add_view_args
    from captum_rank.visualization import SHARES, VIEWS

    parser = argparse.ArgumentParser()
    _add_view_args(parser)
    helps = {a.dest: a.help or "" for a in parser._actions}
    assert all(view in helps["view"] for view in VIEWS)
    assert all(share in helps["scale"] for share in SHARES)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["demo", "--map-tolerance", "-1"], "--map-tolerance"),
        (["demo", "--photo-n-steps", "0"], "--photo-n-steps"),
        (["audit", "--model", "no-such-model", "--data", "sample"], "fmnist-natural"),
        (["audit", "--model", "fmnist-natural", "--data", "/no/such/folder"],
         "apt-get install -y dataset-fashion-mnist"),
        (["audit", "--model", "fmnist-natural", "--data", "sample", "--ranks", "0,two"],
         "not an integer"),
        (["audit", "--model", "fmnist-natural", "--data", "sample", "--ranks", "0,-3"],
         "negative"),
        (["audit", "--model", "fmnist-natural", "--data", "sample", "--ranks", "0,29"],
         "above min(H, W) = 28"),
        (["audit", "--model", "fmnist-natural", "--data", "sample", "--ranks", "1.5"],
         "not an integer"),
        (["audit", "--model", "fmnist-natural", "--data", "sample", "--limit", "0"],
         "--limit"),
        (["audit", "--model", "fmnist-natural", "--data", "sample", "--threads", "0"],
         "--threads"),
        # An existing file: IMAGE paths are checked before the options that need torch.
        (["explain", "--model", "fmnist-natural", "--schedule", "zigzag", __file__],
         "--schedule"),
        (["audit", "--model", "fmnist-natural", "--input-shape", "2x28", "--data", "sample"],
         "--input-shape"),
        (["audit", "--model", "missing.py:Net", "--data", "sample"], "does not exist"),
        (["audit", "--model", "fmnist-natural", "--weights", "/no/file.pt", "--data",
          "sample"], "does not exist"),
        (["audit", "--model", "fmnist-natural", "--model", "fmnist-natural", "--weights",
          "x.pt"], "one per model"),
        (["explain", "--model", "fmnist-natural", "/no/such/image.png"], "does not exist"),
        (["audit", "--model", "fmnist-natural", "--data", "sample", "--n-steps", "1"],
         "`--n-steps` must be an integer >= 2, got 1"),
        (["explain", "--model", "fmnist-natural", "--n-steps", "0", __file__], "`--n-steps`"),
        (["audit"], "required"),
        (["demo", "--threads", "0"], "--threads"),
        (["demo", "--ranks", "0,30"], "above min(H, W) = 28"),
        (["frobnicate"], "invalid choice"),
        (["explain", "--model", "fmnist-natural", "--view", "heat", __file__],
         "Unknown `--view` 'heat'; choose one of 'blended', 'signed', 'absolute'"),
        (["explain", "--model", "fmnist-natural", "--scale", "own", __file__], "`--scale`"),
        (["explain", "--model", "fmnist-natural", "--scale", "method", __file__],
         "Unknown `--scale` 'method'; choose one of 'attribution', 'all', 'both'"),
        (["demo", "--view", "overlay"], "`--view`"),
    ],
)
def test_errors_are_one_line_with_status_2(argv: list[str], message: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("captum-rank: error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_bad_weights_and_unreadable_image(tiny: tuple[str, str], tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    spec, _ = tiny
    wrong = tmp_path / "wrong.pt"
    torch.save({"other.weight": torch.zeros(2)}, wrong)
    assert main(["audit", "--model", spec, "--weights", str(wrong), "--data", "sample"]) == 2
    assert "do not fit TinyNet" in capsys.readouterr().err
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(os.urandom(3000))
    assert main(["audit", "--model", spec, "--weights", str(garbage), "--data", "sample"]) == 2
    err = capsys.readouterr().err
    assert "not a PyTorch weights file" in err and "state_dict" in err
    whole = tmp_path / "whole.pt"
    torch.save(torch.nn.Linear(2, 2), whole)
    assert main(["audit", "--model", spec, "--weights", str(whole), "--data", "sample"]) == 2
    assert "torch.save(model.state_dict(), path)" in capsys.readouterr().err
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    assert main(["explain", "--model", spec, str(text)]) == 2
    assert "cannot read image" in capsys.readouterr().err
    png = _png(tmp_path / "ok.png")
    assert main(["explain", "--model", spec, str(png), "--target", "10"]) == 2
    assert "`target` must be an integer in [0, 9], got 10" in capsys.readouterr().err


def test_subprocess_exit_codes_and_messages(tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = [sys.executable, "-m", "captum_rank.cli"]
    bad = subprocess.run([*run, "audit", "--model", "nope", "--data", "sample"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode == 2
    assert bad.stderr.startswith("captum-rank: error: unknown model 'nope'")
    assert "fmnist-natural" in bad.stderr and "fmnist-robust" in bad.stderr
    assert bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr


def test_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["audit", "--help"])
    assert exited.value.code == 0 and "--checkpoint" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.startswith("captum-rank ")
    assert main([]) == 2


def test_help_and_version_do_not_import_torch() -> None:
    code = ("import sys\nfrom captum_rank.cli import main\n"
            "for argv in (['--version'], ['--help'], ['audit', '--help']):\n"
            "    try:\n        main(argv)\n    except SystemExit as e:\n"
            "        assert e.code == 0, e.code\n"
            "print('TORCH', 'torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "captum-rank 0.1.0" in out.stdout and "--checkpoint" in out.stdout
    assert out.stdout.strip().endswith("TORCH False")


@pytest.mark.parametrize("flag", ["--out", "--checkpoint"])
def test_unusable_output_paths_fail_before_any_work(flag: str, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    import captum_rank.audit.loading as loading

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("no model may be loaded before the output paths are checked")

    monkeypatch.setattr(loading, "load_model", never)
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    base = ["audit", "--model", "fmnist-natural", "--data", "sample"]
    # /proc itself and files directly in it: os.access says yes to root, creating fails.
    if flag == "--out":
        bad = [str(a_file), str(a_file / "sub"), "/proc/captum-rank-cannot-write-here",
               "/proc"]
    else:
        bad = [str(tmp_path), str(a_file / "run.ckpt"), "/proc/captum-rank-no/run.ckpt",
               "/proc/x.ckpt"]
    for path in bad:
        extra = [flag, path] if flag == "--out" else ["--out", str(tmp_path / "o"), flag, path]
        assert main([*base, *extra]) == 2, path
        err = capsys.readouterr().err
        assert err.startswith("captum-rank: error: ") and flag in err, err
    for command in (["demo"], ["explain", "--model", "fmnist-natural", str(a_file)]):
        if flag == "--out":
            assert main([*command, "--out", str(a_file)]) == 2
            assert "--out" in capsys.readouterr().err


SIBLING = '''
from torch import nn


def trunk():
    return nn.Sequential(nn.Conv2d(1, 2, 5, stride=3), nn.Tanh(), nn.Flatten())
'''

USES_SIBLING = '''
from torch import nn

from sibling_blocks import trunk


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = trunk()
        self.fc = nn.Linear(2 * 8 * 8, 10)

    def forward(self, x):
        return self.fc(self.trunk(x))


class FiveWay(Net):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2 * 8 * 8, 5)


def broken():
    raise RuntimeError("weights server unreachable")
'''


@pytest.fixture
def sibling(tmp_path: Path) -> Path:
    folder = tmp_path / "user_code"
    folder.mkdir()
    (folder / "sibling_blocks.py").write_text(SIBLING)
    (folder / "net_file.py").write_text(USES_SIBLING)
    return folder / "net_file.py"


def test_model_file_that_imports_a_sibling_module(sibling: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["audit", "--model", f"{sibling}:Net", "--data", "sample", "--limit", "10",
                 "--spectrum-limit", "0", "--ranks", "0,28", "--out", str(out),
                 "--no-progress"]) == 0
    assert json.loads((out / "report.json").read_text())["accuracy"]["n_images"] == 10


def test_factory_that_raises_width_mismatch_and_model_data_mismatch(
    sibling: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "--model", f"{sibling}:broken", "--data", "sample"]) == 2
    err = capsys.readouterr().err
    assert "raised RuntimeError: weights server unreachable" in err and err.count("\n") == 1
    assert main(["audit", "--model", f"{sibling}:FiveWay", "--data", "sample",
                 "--spectrum-limit", "0"]) == 2
    err = capsys.readouterr().err
    assert "returns 5 class scores per image but the data has 10 classes" in err
    # A 3 x 224 x 224 model on 1 x 28 x 28 data: one clear message, before any work.
    assert main(["audit", "--model", "imagenet-efficientnet-lite0", "--data", "sample"]) == 2
    err = capsys.readouterr().err
    assert "cannot take the data's images of shape (1, 28, 28)" in err
    assert "Traceback" not in err and err.count("\n") == 1


def test_limit_is_a_stratified_subset_and_says_so(tiny: tuple[str, str],
                                                  tmp_path: Path) -> None:
    spec, weights = tiny
    out = tmp_path / "out"
    assert main(["audit", "--model", spec, "--weights", weights, "--data", "sample",
                 "--limit", "20", "--spectrum-limit", "10", "--n-steps", "2",
                 "--ranks", "0,28", "--out", str(out), "--no-progress"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert "stratified random subset (seed 0) of 20 of 200" in report["meta"]["data"]
    spectrum = report["spectrum"]
    # 10 spectrum images from 20 stratified ones over 10 classes: every class once.
    assert sorted(int(c) for c in spectrum["class_counts"]["TinyNet"]) == list(range(10))


COLOUR_MODEL = '''
import torch
from torch import nn


class Colour224(nn.Module):
    """A random stand-in for a 3 x 224 x 224 classifier with 4 classes."""

    input_shape = (3, 224, 224)

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 2, 8, stride=8)
        self.fc = nn.Linear(2 * 28 * 28, 4)

    def forward(self, x):
        return self.fc(torch.tanh(self.conv(x)).flatten(1))
'''


def test_audit_and_explain_a_3x224_model_on_an_image_folder(tmp_path: Path) -> None:
    source = tmp_path / "colour_model.py"
    source.write_text(COLOUR_MODEL)
    folder = tmp_path / "pictures"
    for i, name in enumerate(("apple", "bird", "car", "dog")):
        (folder / name).mkdir(parents=True)
        _png(folder / name / f"{i}.png", size=(320, 240))
    out = tmp_path / "out"
    assert main(["audit", "--model", f"{source}:Colour224", "--data", str(folder),
                 "--ranks", "0,16,224", "--spectrum-limit", "2", "--n-steps", "2",
                 "--batch-size", "2", "--internal-batch-size", "2", "--out", str(out),
                 "--no-progress"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["accuracy"]["n_images"] == 4 and report["accuracy"]["r"] == 224
    assert report["class_names"] == ["apple", "bird", "car", "dog"]
    flat = tmp_path / "flat"
    flat.mkdir()
    _png(flat / "one.png", size=(300, 300))
    _png(flat / "two.png", size=(200, 300))
    assert main(["audit", "--model", f"{source}:Colour224", "--data", str(flat),
                 "--ranks", "0,224", "--spectrum-limit", "0", "--out", str(out),
                 "--no-progress"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["accuracy"]["n_unlabelled"] == 2
    assert report["accuracy"]["clean_accuracy"]["Colour224"] == 1.0
    explained = tmp_path / "explained"
    assert main(["explain", "--model", f"{source}:Colour224", str(flat / "one.png"),
                 "--n-steps", "2", "--internal-batch-size", "2", "--out",
                 str(explained)]) == 0
    result = json.loads((explained / "report.json").read_text())["explanation"]
    assert len(result["items"]["Colour224"][0]["attributions"]["rig"]["spectrum"]) == 224


def test_audit_photos_as_a_named_source(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    from captum_rank.checks import UserInputError
    from captum_rank.data import load_photos
    from captum_rank.data import photos as photos_module

    # `--data photos` reads every source of load_photos, Debian's opencv-doc included;
    # its files are checked directly, since decoding all 24 just to test costs seconds.
    absent = [name for name in photos_module.OPENCV_PHOTOS
              if not (photos_module.OPENCV_DATA / name).is_file()]
    if absent:
        pytest.skip(f"needs Debian's opencv-doc (apt-get install -y opencv-doc): "
                    f"{len(absent)} photos missing from {photos_module.OPENCV_DATA}")
    try:
        load_photos(size=32, sources=["foolbox"])
    except UserInputError as err:
        pytest.skip(f"photos not installed: {err}")
    out = tmp_path / "out"
    assert main(["audit", "--model", "imagenet-efficientnet-lite0", "--data", "photos",
                 "--limit", "3", "--ranks", "0,224", "--spectrum-limit", "0",
                 "--out", str(out), "--no-progress"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["accuracy"]["n_images"] == 3 and report["accuracy"]["r"] == 224
    assert "real photos" in report["meta"]["data"]
    # The photos' labels are ImageNet classes: a 10-class model is refused up front.
    assert main(["audit", "--model", "fmnist-natural", "--data", "photos", "--limit", "3",
                 "--out", str(out)]) == 2
    assert "the data has 1000 classes" in capsys.readouterr().err


def test_missing_input_paths_are_reported_before_torch_is_imported(tmp_path: Path) -> None:
    # Each run is a fresh interpreter: a missing --data, IMAGE, model or weights file is
    # found by looking at the path, not after importing torch and loading the models.
    cases = [
        (["audit", "--model", "fmnist-natural", "--data", str(tmp_path / "nope")], "--data"),
        (["explain", "--model", "fmnist-natural", str(tmp_path / "nope.png")], "IMAGE"),
        (["explain", "--model", "fmnist-natural", str(tmp_path)], "is a folder"),
        (["audit", "--model", f"{tmp_path}/missing.py:Net", "--data", "sample"],
         "model file"),
        (["audit", "--model", "fmnist-natrual", "--data", "sample"],
         "unknown model 'fmnist-natrual': not a zoo model (fmnist-natural"),
        (["explain", "--model", "fmnist-natural", "--weights", str(tmp_path / "w.pt"),
          __file__], "--weights file"),
    ]
    code = ("import sys\nfrom captum_rank.cli import main\n"
            f"for argv in {[argv for argv, _ in cases]!r}:\n"
            "    assert main(argv) == 2, argv\n"
            "print('TORCH', 'torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("TORCH False"), out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == len(cases)
    for line, (_, words) in zip(lines, cases, strict=True):
        assert line.startswith("captum-rank: error: ") and words in line, line
    assert not (tmp_path / "audit-out").exists()  # nothing was created either


def test_names_checked_early_are_the_loaders() -> None:
    from captum_rank import cli, zoo
    from captum_rank.audit.loading import DATA_CHOICES

    assert cli._DATA_NAMES == DATA_CHOICES
    assert list(cli._ZOO_NAMES) == zoo.available()


def _folder_with_a_bad_image(root: Path) -> tuple[Path, Path]:
    for label in ("0", "1"):
        (root / label).mkdir(parents=True)
        _png(root / label / "good.png", size=(28, 28), mode="L")
    bad = root / "1" / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    return root, bad


def test_one_unreadable_image_and_skip_bad_images(tiny: tuple[str, str], tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    spec, weights = tiny
    folder, bad = _folder_with_a_bad_image(tmp_path / "data")
    base = ["audit", "--model", spec, "--weights", weights, "--data", str(folder),
            "--input-shape", "1x28x28", "--ranks", "0,28", "--spectrum-limit", "0",
            "--no-progress"]
    out = tmp_path / "out"
    assert main([*base, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "--skip-bad-images" in err and "Traceback" not in err
    assert main([*base, "--out", str(out), "--skip-bad-images"]) == 0
    err = capsys.readouterr().err
    assert f"warning: skipped {str(bad)!r}" in err and "cannot read image" in err
    report = json.loads((out / "report.json").read_text())
    skipped = report["meta"]["skipped images"]
    assert [item["file"] for item in skipped] == [str(bad)]
    assert "--skip-bad-images" not in skipped[0]["error"]
    assert report["accuracy"]["n_images"] == 2
    # A flat folder (unlabelled) skips the same way.
    flat = tmp_path / "flat"
    flat.mkdir()
    _png(flat / "a.png", size=(28, 28))
    (flat / "b.jpg").write_text("not a jpeg")
    assert main(["audit", "--model", spec, "--weights", weights, "--data", str(flat),
                 "--input-shape", "1x28x28", "--ranks", "0,28", "--spectrum-limit", "0",
                 "--no-progress", "--out", str(out), "--skip-bad-images"]) == 0
    assert "b.jpg" in capsys.readouterr().err


def test_explain_a_float_image_out_of_range_names_the_file(
        tiny: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec, weights = tiny
    depth = tmp_path / "depth.tif"
    Image.fromarray(np.full((30, 30), 7.5, np.float32)).save(depth)
    assert main(["explain", "--model", spec, "--weights", weights, str(depth),
                 "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert str(depth) in err and "mode 'F'" in err and "convert it" in err
    assert err.count("\n") == 1


def test_a_changed_n_steps_with_a_checkpoint_names_only_that_option(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["audit", "--model", "fmnist-natural", "--data", "sample", "--limit", "4",
            "--spectrum-limit", "2", "--ranks", "0,28", "--out", str(tmp_path / "o"),
            "--checkpoint", str(tmp_path / "a.ckpt"), "--no-progress"]
    assert main([*base, "--n-steps", "4"]) == 0
    capsys.readouterr()
    assert main([*base, "--n-steps", "6"]) == 0
    err = capsys.readouterr().err
    # One line in the command's voice, naming the flag that changed and nothing else.
    assert ("captum-rank: warning: checkpoint " in err
            and "n_steps (--n-steps): 4 in the checkpoint, 6 now;" in err), err
    # The accuracy part (n_steps plays no part in it) resumes, and says so on its own line.
    assert "captum-rank: accuracy vs rank: resumed from" in err
    warning = "".join(line for line in err.splitlines() if "resumed from" not in line)
    assert "batch" not in warning and "--ranks" not in warning and "Warning:" not in warning
    assert "rerun with the checkpoint's values" in err


# --- faults that once ended in tracebacks ----------------------------------------------


def _bomb(path: Path) -> Path:
    """A valid PNG header claiming 100000 x 100000 pixels (a decompression bomb)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b""))
    return path


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("captum-rank: error: ") and "Traceback" not in err, err
    assert len(err.splitlines()) == 1, err
    return err


def test_decompression_bomb_as_image_is_a_clear_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["explain", "--model", "fmnist-natural", str(_bomb(tmp_path / "b.png")),
               "--out", str(tmp_path / "o")])
    assert rc == 2 and "decompression bomb" in _one_line_error(capsys)


@pytest.mark.parametrize("special", ["fifo", "/dev/zero"])
def test_fifo_or_device_as_image_is_not_a_regular_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], special: str) -> None:
    path = special
    if special == "fifo":
        path = str(tmp_path / "fifo")
        os.mkfifo(path)
    rc = main(["explain", "--model", "fmnist-natural", path, "--out", str(tmp_path / "o")])
    assert rc == 2 and "is not a regular file" in _one_line_error(capsys)


def test_sys_exit_in_a_model_file_is_reported(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "m.py").write_text("import sys\nsys.exit(3)\n")
    image = tmp_path / "a.png"
    Image.fromarray(np.zeros((28, 28), dtype=np.uint8)).save(image)
    rc = main(["explain", "--model", f"{tmp_path / 'm.py'}:Net", str(image),
               "--out", str(tmp_path / "o")])
    assert rc == 2 and "called sys.exit(3)" in _one_line_error(capsys)


def test_names_too_long_are_clear_errors(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    image = tmp_path / "a.png"
    Image.fromarray(np.zeros((28, 28), dtype=np.uint8)).save(image)
    rc = main(["explain", "--model", "fmnist-natural", str(image),
               "--out", str(tmp_path / ("d" * 300))])
    assert rc == 2 and "`--out`" in (err := _one_line_error(capsys)) and "too long" in err
    rc = main(["audit", "--model", "fmnist-natural", "--data", "sample",
               "--checkpoint", str(tmp_path / ("c" * 300)), "--out", str(tmp_path / "o")])
    assert rc == 2 and "`--checkpoint`" in _one_line_error(capsys)
    # A 250-character model class name: its figures get capped names.
    name = "A" * 250
    (tmp_path / "long.py").write_text(
        f"import torch\nclass {name}(torch.nn.Sequential):\n    def __init__(self):\n"
        "        super().__init__(torch.nn.Flatten(), torch.nn.Linear(784, 10))\n")
    rc = main(["explain", "--model", f"{tmp_path / 'long.py'}:{name}", str(image),
               "--out", str(tmp_path / "o"), "--n-steps", "4", "--schedule", "linear",
               "--map-tolerance", "10", "--no-progress"])
    capsys.readouterr()
    assert rc == 0 and max(len(p.name) for p in (tmp_path / "o").iterdir()) < 100


# --- what a new user reads ---------------------------------------------------------------


def test_explain_help_says_what_photos_get_and_the_constants_match(
        capsys: pytest.CaptureFixture[str]) -> None:
    import inspect

    from captum_rank import cli
    from captum_rank.attr import RankIntegratedGradients
    from captum_rank.audit.explain import PHOTO_ATTRIBUTIONS, PHOTO_SIZE

    schedule = inspect.signature(RankIntegratedGradients.attribute).parameters["schedule"]
    assert (cli._PHOTO_SCHEDULE, cli._PHOTO_SIZE, cli._LIBRARY_SCHEDULE) == (
        PHOTO_ATTRIBUTIONS["rig"], PHOTO_SIZE, schedule.default)
    with pytest.raises(SystemExit):
        main(["explain", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "'spectral' for photos" in text and "'arc_length' otherwise" in text


def test_readme_explain_examples_use_the_schedule_that_converges_on_photos() -> None:
    from captum_rank.audit.explain import PHOTO_ATTRIBUTIONS

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    lines = [line for line in readme.splitlines() if line.startswith("captum-rank explain")]
    assert lines
    for line in lines:
        if "imagenet" in line and "--schedule" in line:
            schedule = line.split("--schedule")[1].split()[0]
            assert schedule == PHOTO_ATTRIBUTIONS["rig"], line
