"""Tests for captum_rank.demo and ``captum-rank demo`` (skipped without the zoo weights)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from captum_rank import zoo
from captum_rank.cli import main
from captum_rank.demo import DEMO_FILES, DEMO_MODELS, format_summary

MODEL_KEYS = {
    "sample_accuracy", "ig_mean_abs_delta", "rig_mean_abs_delta", "rig_rank_50",
    "rig_rank_90", "ig_rank_50", "ig_rank_90", "low_rank_accuracy", "high_rank_accuracy",
}
SUMMARY_KEYS = {
    "models", "n_images_accuracy", "n_images_attribution", "n_steps", "ranks", "timings",
    "files", "seconds", "out_dir", "table_ranks",
}


def _loadable(name: str) -> bool:
    try:
        zoo.load(name)
    except (FileNotFoundError, OSError, ValueError):
        return False
    return True


def test_demo_command_on_both_models(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if not all(_loadable(name) for name in DEMO_MODELS):
        pytest.skip("zoo weights of the demo models not installed")
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--n-steps", "4", "--per-class", "1",
                 "--ranks", "0,1,2,28", "--no-progress"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["models"]) == set(DEMO_MODELS)
    for name in DEMO_FILES:
        assert (out / name).is_file(), name
    for model in DEMO_MODELS:
        assert (out / f"rank_spectrum_{model}_by_class.png").is_file()
        assert MODEL_KEYS <= set(summary["models"][model])
    for model in DEMO_MODELS:
        entry = summary["models"][model]
        # The end points of the curves are the clean accuracy, exactly.
        assert entry["low_rank_accuracy"]["28"] == entry["sample_accuracy"]
        assert entry["high_rank_accuracy"]["0"] == entry["sample_accuracy"]
    assert summary["n_images_accuracy"] == 200 and summary["n_images_attribution"] == 10
    assert summary["ranks"] == [0, 1, 2, 28] and summary["table_ranks"] == [1, 2]
    printed = capsys.readouterr().out
    assert all(model in printed for model in DEMO_MODELS) and "index.html" in printed
    assert format_summary(summary).splitlines()[0] == printed.splitlines()[0]
