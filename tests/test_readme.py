"""The README's promises: its usage example runs as written, its commands are CI's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README, re.S)


def test_usage_example_is_short_and_runs(capsys: pytest.CaptureFixture[str]) -> None:
    blocks = python_blocks()
    assert blocks, "README has no python example"
    example = blocks[0]
    assert len(example.strip().splitlines()) <= 16
    pytest.importorskip("captum_rank.zoo")
    from captum_rank import zoo

    weights = Path(zoo.__file__).parent / "weights"
    if not any(weights.glob("fmnist-robust*")):
        pytest.skip("zoo weights not trained yet")
    exec(compile(example, "README.md", "exec"), {})
    printed = capsys.readouterr().out
    assert "torch.Size([8, 1, 28, 28])" in printed


def test_two_commands_near_the_top_and_ci_runs_the_test_command() -> None:
    top = README[: README.index("## Usage")]
    assert "pip install -e . && captum-rank demo --out demo-out" in top
    test_command = 'pip install -e ".[dev]" && python -m pytest -n 2'
    assert test_command in top
    ci = (ROOT / ".ci" / "run").read_text()
    assert 'pip install --quiet -e ".[dev]"' in ci
    assert ci.rstrip().splitlines()[-1].endswith("python3 -m pytest -n 2")
