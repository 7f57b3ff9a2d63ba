"""A tiny smoke run of the faithfulness harness (benchmarks/faithfulness.py) and its report."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from helpers import ROOT, load_script


@pytest.fixture(scope="module")
def harness():  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(ROOT / "benchmarks"))
    return load_script(ROOT / "benchmarks" / "faithfulness.py", "faithfulness_bench")


def test_smoke_run_and_report(harness, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "faith.json"
    code = harness.main([
        "run", "--data", "sample", "--models", "fmnist-natural", "--n", "3", "--batch", "3",
        "--n-steps", "2", "--perturb-steps", "2", "--road-percentages", "50",
        "--fc-runs", "3", "--fc-subset", "8", "--rank-counts", "1", "4",
        "--methods", "IG (Captum)", "RIG default", "random (control)",
        "--json", str(out),
    ])
    assert code == 0
    result = json.loads(out.read_text())
    record = result["models"]["fmnist-natural"]
    assert record["done"] == 3
    ig = record["methods"]["IG (Captum)"]
    assert ig["evaluations"] == 3 * 2  # counted: n_steps rows per image
    assert record["methods"]["random (control)"]["evaluations"] == 0
    assert len(ig["scores"]["diffid_acc"]) == 3
    assert set(record["rank"]) == {"IG (Captum)", "RIG default", "singular values",
                                   "random order"}
    md = tmp_path / "faith.md"
    assert harness.main(["report", str(out), "--out", str(md),
                         "--figure", str(tmp_path / "f.png")]) == 0
    text = md.read_text()
    assert "Paired differences against Captum IG" in text
    assert "Where the metrics disagree" in text
    assert (tmp_path / "f.png").stat().st_size > 0
