"""scripts/structure.py: the package's imports flow one way, and its measurements are right."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from helpers import ROOT, load_script


def _structure() -> ModuleType:
    return load_script(ROOT / "scripts" / "structure.py", "structure")


def test_every_module_has_a_layer_and_no_import_runs_up_or_in_a_circle() -> None:
    structure = _structure()
    graph = structure.imports(ROOT)
    assert {structure.layer_of(m) for m in graph} <= set(structure.LEVEL)
    assert structure.upward(graph) == []
    assert structure.cycles(graph) == []


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / "captum_rank" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_finds_an_upward_import_and_a_cycle_in_a_made_up_package(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "__init__.py": "",
        "checks.py": "from captum_rank.attr import X\n",  # ground -> attribution: up
        "attr.py": "def f():\n    from captum_rank import checks\n",  # lazy, still an edge
        "metrics/__init__.py": "from .sanity import y\n",
        "metrics/sanity.py": "from captum_rank.metrics import z\n",
    })
    structure = _structure()
    graph = structure.imports(root)
    assert graph["captum_rank.checks"] == {"captum_rank.attr"}
    assert graph["captum_rank.attr"] == {"captum_rank.checks"}
    assert graph["captum_rank.metrics"] == {"captum_rank.metrics.sanity"}
    assert structure.upward(graph) == [("captum_rank.checks", "captum_rank.attr")]
    assert structure.cycles(graph) == [
        ["captum_rank.attr", "captum_rank.checks"],
        ["captum_rank.metrics", "captum_rank.metrics.sanity"],
    ]


def test_repeats_counts_shared_runs_and_ignores_comments_and_imports(tmp_path: Path) -> None:
    body = [f"value_{i} = compute({i})" for i in range(8)]
    a = tmp_path / "a.py"
    b = tmp_path / "b.py"
    a.write_text("\n".join(["import os", *body, "tail_a()"]) + "\n")
    # The same eight lines, split by a comment and a blank line, then a different tail.
    b.write_text("\n".join(["x = 1", *body[:4], "# why", "", *body[4:], "tail_b()"]) + "\n")
    rows = _structure().repeats([a, b], tmp_path)
    assert rows == [(8, "a.py:2-9", "b.py:2-11", "code")]
    b.write_text("\n".join(body[:5]) + "\n")  # five lines: below the threshold
    assert _structure().repeats([a, b], tmp_path) == []


def test_repeats_says_whether_a_run_is_a_signature_or_a_docstring(tmp_path: Path) -> None:
    params = [f"    p{i}: int = {i}," for i in range(6)]
    doc = [f"    line {i} of the same example" for i in range(6)]
    source = ["@overload", "def f(", *params, ") -> int: ...", "", "",
              "def g(", *params, ") -> int:", '    """', *doc, '    """', "    return 0", "", "",
              "def h() -> None:", '    """', *doc, '    """']
    path = tmp_path / "m.py"
    path.write_text("\n".join(source) + "\n")
    kinds = {(a, b): kind for _, a, b, kind in _structure().repeats([path], tmp_path)}
    assert kinds == {("m.py:3-8", "m.py:13-18"): "signature",
                     ("m.py:21-26", "m.py:33-38"): "docstring"}


def test_the_architecture_page_lists_the_layers_the_script_prints() -> None:
    structure = _structure()
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    start, end = "<!-- structure:layers -->\n```text\n", "\n```\n<!-- /structure:layers -->"
    assert start in page and end in page, "the page's layer list lost its markers"
    shown = page.split(start, 1)[1].split(end, 1)[0]
    printed = "\n".join(structure.layer_lines(ROOT, structure.imports(ROOT)))
    assert shown == printed, (
        "docs/architecture.md's layer list is out of date: paste the layers that "
        "`python scripts/structure.py` prints between its markers")
