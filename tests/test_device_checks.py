"""``benchmarks/device_checks.sh`` runs only on a lent GPU, minutes at a time: every
benchmark command in it must use flags its script knows, or the device time is lost."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "device_checks.sh"


def _commands() -> list[tuple[str, str | None, list[str]]]:
    """``(script, subcommand, flags)`` of every ``python3 benchmarks/*.py`` command."""
    text = SCRIPT.read_text().replace("\\\n", " ")
    found = []
    for match in re.finditer(r"python3 (benchmarks/\w+\.py)([^|\n]*)", text):
        words = match.group(2).split()
        sub = words[0] if words and not words[0].startswith("-") else None
        found.append((match.group(1), sub, [w for w in words if w.startswith("--")]))
    return found


def test_the_script_has_benchmark_commands() -> None:
    assert len(_commands()) >= 6


@pytest.mark.parametrize(("script", "sub", "flags"), _commands(),
                         ids=lambda v: v if isinstance(v, str) else None)
def test_every_flag_is_one_the_script_knows(script: str, sub: str | None,
                                            flags: list[str]) -> None:
    command = [sys.executable, script, *([sub] if sub else []), "--help"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    known = set(re.findall(r"--[\w-]+", done.stdout))
    assert [f for f in flags if f not in known] == []
