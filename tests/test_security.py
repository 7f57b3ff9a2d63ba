"""Security of what captum-rank writes: no symlink followed, the umask respected, one
writer per output folder, and the checkpoint key kept private (see also test_audit)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from captum_rank._files import LOCK_NAME, current_umask, lock_dir, write_bytes
from captum_rank.audit import AuditReport, RankAccuracyResult, write_report
from captum_rank.checks import UserInputError
from captum_rank.cli import main


def _report() -> AuditReport:
    acc = RankAccuracyResult(["m"], [0, 2], 2, 4, {"m": 3}, {"m": [1, 3]}, {"m": [3, 0]})
    return AuditReport(acc)


def test_no_output_follows_a_symlink_png_included(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    victims = {}
    for name in ("report.json", "index.html", "accuracy_vs_rank.png"):
        victim = tmp_path / f"victim-{name}"
        victim.write_text("precious")
        os.symlink(victim, out / name)
        victims[name] = victim
    written = write_report(out, _report())
    for name, victim in victims.items():
        assert victim.read_text() == "precious", name
        assert not (out / name).is_symlink() and (out / name).stat().st_size > 0
    assert written["accuracy_png"].read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077])
def test_outputs_respect_the_umask(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        written = write_report(tmp_path / "out", _report())
    finally:
        os.umask(old)
    for path in written.values():
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask, path
    assert current_umask() == old


def _disk_full(monkeypatch: pytest.MonkeyPatch) -> None:
    # fsync is where a full disk reports ENOSPC for buffered data (as on NFS or ext4
    # with delayed allocation); every output goes through it.
    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)


def test_full_disk_leaves_the_previous_file_and_no_temporary(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "report.json"
    target.write_text("previous")
    _disk_full(monkeypatch)
    with pytest.raises(UserInputError, match=r"report\.json'.*no space left on the device"):
        write_bytes(target, b"new")
    assert target.read_text() == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_full_disk_on_checkpoint_is_a_clear_error(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from captum_rank.audit import rank_accuracy

    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3))
    data = (torch.rand(6, 1, 4, 4), torch.arange(6) % 3)
    _disk_full(monkeypatch)
    with pytest.raises(UserInputError, match=r"c\.ckpt'.*no space left"):
        rank_accuracy(model, data, [0, 2], batch_size=3, checkpoint=tmp_path / "c.ckpt",
                      progress=False)
    assert list(tmp_path.iterdir()) == []


def test_full_disk_on_explain_out_leaves_no_partial_figure(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    image = tmp_path / "a.png"
    Image.fromarray(np.arange(28 * 28, dtype=np.uint8).reshape(28, 28)).save(image)
    out = tmp_path / "out"
    _disk_full(monkeypatch)
    rc = main(["explain", "--model", "fmnist-natural", str(image), "--out", str(out),
               "--n-steps", "8", "--schedule", "linear", "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "no space left on the device" in err and "Traceback" not in err
    assert list(out.iterdir()) == []  # the lock is gone with its run


def test_a_second_run_on_the_same_out_is_refused(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    image = tmp_path / "a.png"
    Image.fromarray(np.zeros((28, 28), dtype=np.uint8)).save(image)
    out = tmp_path / "out"
    out.mkdir()
    with lock_dir(out, "--out"):
        assert (out / LOCK_NAME).is_file()
        rc = main(["explain", "--model", "fmnist-natural", str(image), "--out", str(out),
                   "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "is in use by another captum-rank run" in err
    assert f"(process {os.getpid()})" in err and len(err.strip().splitlines()) == 1
    assert list(out.iterdir()) == []  # the lock is gone with its run


def test_empty_out_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    image = tmp_path / "a.png"
    Image.fromarray(np.zeros((28, 28), dtype=np.uint8)).save(image)
    assert main(["explain", "--model", "fmnist-natural", str(image), "--out", ""]) == 2
    assert "`--out` is empty" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]


def test_write_bytes_replaces_atomically_under_the_umask(tmp_path: Path) -> None:
    target = tmp_path / "x.bin"
    target.write_bytes(b"old")
    os.chmod(target, 0o600)
    write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert target.stat().st_mode & 0o777 == 0o666 & ~current_umask()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.bin"]
