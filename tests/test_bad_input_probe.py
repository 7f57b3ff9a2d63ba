"""The bad-input probe (benchmarks/bad_input_probe.py): a fast subset must be all clear."""

from __future__ import annotations

from pathlib import Path

from helpers import load_script

ROOT = Path(__file__).resolve().parents[1]


def test_fast_subset_of_the_probe_is_clear(capsys: object) -> None:
    probe = load_script(ROOT / "benchmarks" / "bad_input_probe.py", "bad_input_probe")
    table = probe.run(fast=True, show={"unclear", "silent", "hang"})
    total = table["all"]
    assert total["cases"] >= 30
    assert total["silent"] == 0 and total["hang"] == 0 and total["unclear"] == 0, table


def test_probe_has_at_least_300_cases_across_every_class() -> None:
    probe = load_script(ROOT / "benchmarks" / "bad_input_probe.py", "bad_input_probe")
    cases = probe.all_cases()
    groups = {case.group for case in cases}
    assert len(cases) >= 300 and groups == {"api", "metrics", "data", "cli"}


def test_the_docs_table_is_what_the_probe_prints(capsys: object) -> None:
    probe = load_script(ROOT / "benchmarks" / "bad_input_probe.py", "bad_input_probe")
    table = probe.run(fast=False, show=set())
    page = (ROOT / "docs" / "reliability.md").read_text()
    shown = page.split("<!-- probe-table -->\n")[1].split("<!-- /probe-table -->")[0]
    rows = {line.split("|")[1].strip(): [int(v) for v in line.split("|")[2:7]]
            for line in shown.strip().splitlines()[2:]}
    assert rows == {group: [row[k] for k in ("cases", "clear", "unclear", "silent", "hang")]
                    for group, row in table.items()}
